//! Shopify's OAuth authorization-code grant, as an app installs itself in a shop:
//!
//! 1. The merchant is sent to [`authorize_url`]:
//!    `https://{shop}/admin/oauth/authorize?client_id=…&scope=…&redirect_uri=…&state=…&grant_options[]=`
//!    (an empty `grant_options[]` asks for an offline token, which does not expire with a
//!    staff member's session).
//! 2. Shopify redirects back to `redirect_uri` with `code`, `shop`, `state`, `timestamp`,
//!    `host` and `hmac`: the hex HMAC-SHA256, under the app's client secret, of the other
//!    parameters (decoded) sorted by name and joined as `name=value&…` ([`verify_query`]).
//! 3. The app exchanges the code at the shop: `POST https://{shop}/admin/oauth/access_token`
//!    with `{client_id, client_secret, code}`, answered `{access_token, scope}`
//!    ([`exchange_code`]). A code works once.

use crate::error::{message_from_body, ErrorKind, ShopifyApiError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The consent page a merchant is sent to. `base` is `https://{shop}` (or a test's fake).
pub fn authorize_url(
    base: &str,
    client_id: &str,
    scopes: &[String],
    redirect_uri: &str,
    state: &str,
) -> String {
    let mut url = format!("{base}/admin/oauth/authorize?");
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id)
        .append_pair("scope", &scopes.join(","))
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("grant_options[]", "");
    url.push_str(&q.finish());
    url
}

/// The message Shopify signs: every parameter but `hmac` (and the legacy `signature`),
/// sorted by name, `name=value` joined with `&`, with `%` and `&` escaped in names and
/// values and `=` in names.
pub fn signed_message(params: &[(String, String)]) -> String {
    let escape = |s: &str, name: bool| {
        let s = s.replace('%', "%25").replace('&', "%26");
        if name {
            s.replace('=', "%3D")
        } else {
            s
        }
    };
    let mut pairs: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "hmac" && k != "signature")
        .map(|(k, v)| format!("{}={}", escape(k, true), escape(v, false)))
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// The hex `hmac` of a query's parameters under `secret` (what Shopify sends; tests and the
/// fake sign with it).
pub fn sign_query(params: &[(String, String)], secret: &str) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(signed_message(params).as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the query's `hmac` parameter signs its other parameters under `secret`
/// (constant-time; a missing or repeated `hmac`, or an empty secret, never verifies).
pub fn verify_query(params: &[(String, String)], secret: &str) -> bool {
    let mut given = params.iter().filter(|(k, _)| k == "hmac");
    let (Some((_, hmac)), None) = (given.next(), given.next()) else {
        return false;
    };
    if secret.is_empty() {
        return false;
    }
    let expected = sign_query(params, secret);
    let hmac = hmac.trim().to_ascii_lowercase();
    expected.len() == hmac.len() && bool::from(expected.as_bytes().ct_eq(hmac.as_bytes()))
}

/// What the code exchange answers.
#[derive(Clone, serde::Deserialize)]
pub struct OfflineToken {
    pub access_token: String,
    /// The scopes granted, comma separated.
    #[serde(default)]
    pub scope: String,
}

impl std::fmt::Debug for OfflineToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineToken")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Exchanges an authorization code for the shop's offline token at
/// `{base}/admin/oauth/access_token`. A refused code is [`ErrorKind::Rejected`] (Shopify
/// answers 400 for a used or unknown code), or [`ErrorKind::Unauthorized`] for 401/403;
/// Shopify unreachable is [`ErrorKind::Transport`] or [`ErrorKind::Server`].
pub async fn exchange_code(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    client_secret: &str,
    code: &str,
) -> Result<OfflineToken, ShopifyApiError> {
    let url = format!("{base}/admin/oauth/access_token");
    let answer = http
        .post(&url)
        .header("accept", "application/json")
        .json(&serde_json::json!({
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
        }))
        .send()
        .await
        .map_err(|e| ShopifyApiError::new(ErrorKind::Transport, e.to_string()))?;
    let status = answer.status();
    let request_id = answer
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = answer
        .bytes()
        .await
        .map_err(|e| ShopifyApiError::new(ErrorKind::Transport, e.to_string()))?;
    if !status.is_success() {
        let kind = ShopifyApiError::kind_of_status(status.as_u16());
        return Err(ShopifyApiError::new(kind, message_from_body(&body))
            .with_status(status.as_u16())
            .with_request_id(request_id));
    }
    serde_json::from_slice::<OfflineToken>(&body).map_err(|e| {
        ShopifyApiError::new(
            ErrorKind::Malformed,
            format!("the access token answer is not {{access_token, scope}}: {e}"),
        )
        .with_status(status.as_u16())
        .with_request_id(request_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    }

    /// The example of Shopify's OAuth documentation (secret `hush`).
    #[test]
    fn shopifys_documented_example_verifies() {
        let q = "code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173";
        assert!(verify_query(&params(q), "hush"));
        assert!(!verify_query(&params(q), "hush2"));
        let altered = q.replace("some-shop", "other-shop");
        assert!(!verify_query(&params(&altered), "hush"));
    }

    #[test]
    fn a_missing_or_repeated_hmac_never_verifies() {
        let mut p = params("code=a&shop=s.myshopify.com&state=x&timestamp=1");
        assert!(!verify_query(&p, "k"));
        let h = sign_query(&p, "k");
        p.push(("hmac".into(), h.clone()));
        assert!(verify_query(&p, "k"));
        p.push(("hmac".into(), h));
        assert!(!verify_query(&p, "k"));
    }

    #[test]
    fn parameters_are_sorted_and_escaped() {
        let p = vec![
            ("timestamp".to_owned(), "1".to_owned()),
            ("a=b".to_owned(), "x&y%".to_owned()),
            ("hmac".to_owned(), "ignored".to_owned()),
        ];
        assert_eq!(signed_message(&p), "a%3Db=x%26y%25&timestamp=1");
    }

    #[test]
    fn the_authorize_url_asks_for_an_offline_token() {
        let u = authorize_url(
            "https://x.myshopify.com",
            "id1",
            &["read_orders".into(), "read_products".into()],
            "https://conea.example/v1/integrations/shopify/callback",
            "st",
        );
        assert_eq!(
            u,
            "https://x.myshopify.com/admin/oauth/authorize?client_id=id1&scope=read_orders%2Cread_products&redirect_uri=https%3A%2F%2Fconea.example%2Fv1%2Fintegrations%2Fshopify%2Fcallback&state=st&grant_options%5B%5D="
        );
    }
}
