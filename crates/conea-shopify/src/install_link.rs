//! Signed install links: a URL a member with `integrations:manage` hands to a merchant, who
//! opens it in a browser without any Conea credential to start installing the Conea app in
//! one shop for the member's organization.
//!
//! A token is `v1.<base64url(claims JSON)>.<base64url(HMAC-SHA256)>`; the MAC covers
//! `conea.shopify-install-link.v1.` + the claims part, under a key derived from the server's
//! `CONEA_SECRET_KEY` ([`LinkKey::derive`]), so links work on every replica and survive
//! restarts. Claims: organization, shop domain, expiry (epoch ms), a 128-bit random nonce.
//! Single use is the service's job (the nonce is recorded when the link is created and
//! taken once when it is opened).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "v1";
const DOMAIN: &[u8] = b"conea.shopify-install-link.v1.";

/// What a valid link says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The organization the shop is connected to (`org_…`).
    pub org: String,
    /// The shop's permanent domain, lowercased.
    pub shop: String,
    /// Epoch ms after which the link is refused.
    pub exp: i64,
    /// Random, base64url; recorded to make the link single-use.
    pub nonce: String,
}

/// Why a token is refused before its claims are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRejection {
    Malformed,
    Tampered,
}

impl std::fmt::Display for LinkRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LinkRejection::Malformed => "the link is malformed",
            LinkRejection::Tampered => {
                "its signature does not match: altered, or signed by another server"
            }
        })
    }
}

/// The key install links are signed with. `Debug` hides it.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(***)")
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length.
    HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}

impl LinkKey {
    /// The links' key, derived from the server's secret key (`CONEA_SECRET_KEY`) for this use
    /// only: HMAC-SHA256(secret key, `conea.shopify-install-links.v1`).
    pub fn derive(secret_key: &str) -> Self {
        let mut m = mac(secret_key.as_bytes());
        m.update(b"conea.shopify-install-links.v1");
        LinkKey(m.finalize().into_bytes().into())
    }

    fn sign(&self, claims_part: &str) -> Vec<u8> {
        let mut m = mac(&self.0);
        m.update(DOMAIN);
        m.update(claims_part.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    /// A token for `org` and `shop`, expiring at `exp`, with a fresh random nonce.
    pub fn issue(&self, org: &str, shop: &str, exp: i64) -> (String, LinkClaims) {
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let claims = LinkClaims {
            org: org.to_owned(),
            shop: shop.to_owned(),
            exp,
            nonce: URL_SAFE_NO_PAD.encode(nonce),
        };
        (self.issue_claims(&claims), claims)
    }

    /// A token for exactly these claims.
    pub fn issue_claims(&self, claims: &LinkClaims) -> String {
        // A struct of strings and an integer always serializes.
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let part = URL_SAFE_NO_PAD.encode(json);
        let sig = URL_SAFE_NO_PAD.encode(self.sign(&part));
        format!("{PREFIX}.{part}.{sig}")
    }

    /// The claims of a token this key signed (constant-time comparison). Expiry, shop and
    /// single use are checked by the caller.
    pub fn verify(&self, token: &str) -> Result<LinkClaims, LinkRejection> {
        let mut parts = token.trim().split('.');
        let (Some(PREFIX), Some(part), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkRejection::Malformed);
        };
        let given = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| LinkRejection::Malformed)?;
        let expected = self.sign(part);
        if given.len() != expected.len() || !bool::from(given.ct_eq(&expected)) {
            return Err(LinkRejection::Tampered);
        }
        let json = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| LinkRejection::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| LinkRejection::Malformed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_verifies_under_its_key_only_and_any_altered_byte_is_refused() {
        let key = LinkKey::derive("a-server-secret-key-of-32-characters!!");
        let (token, claims) = key.issue("org_1", "a.myshopify.com", 1_000);
        assert_eq!(key.verify(&token).unwrap(), claims);
        let other = LinkKey::derive("another-server-secret-key-of-32-chars!");
        assert_eq!(other.verify(&token), Err(LinkRejection::Tampered));
        // Claims swapped for another shop's, signature kept.
        let forged = LinkClaims {
            shop: "b.myshopify.com".into(),
            ..claims.clone()
        };
        let forged_part = other.issue_claims(&forged);
        let spliced = format!(
            "v1.{}.{}",
            forged_part.split('.').nth(1).unwrap(),
            token.split('.').nth(2).unwrap()
        );
        assert_eq!(key.verify(&spliced), Err(LinkRejection::Tampered));
        assert_eq!(key.verify("v1.x"), Err(LinkRejection::Malformed));
        assert_eq!(key.verify(""), Err(LinkRejection::Malformed));
        assert_eq!(
            key.verify(&format!("{token}.extra")),
            Err(LinkRejection::Malformed)
        );
    }

    #[test]
    fn each_issued_link_has_its_own_nonce() {
        let key = LinkKey::derive("a-server-secret-key-of-32-characters!!");
        let (a, ca) = key.issue("org_1", "a.myshopify.com", 1_000);
        let (b, cb) = key.issue("org_1", "a.myshopify.com", 1_000);
        assert_ne!(a, b);
        assert_ne!(ca.nonce, cb.nonce);
    }
}
