//! The Conea Shopify app: installing it in a shop by OAuth (`/v1/integrations/shopify/install`
//! [integrations:manage] or with a signed install link made by
//! `POST /v1/integrations/shopify/install-links`, then Shopify's redirect to
//! `/v1/integrations/shopify/callback`, no API key: the single-use `state` names the
//! organization), and the webhook subscriptions
//! Conea keeps at a shop (`/v1/integrations/shopify/shops/{id}/webhooks`).

use super::shopify::ShopResponse;
use crate::http::auth::Auth;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::query::ApiQuery;
use crate::http::security::never_framed;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use conea_core::principal::Principal;
use conea_shopify::integration::Registration;
use conea_shopify::Subscription;
use serde::{Deserialize, Serialize};

/// Whether the client asked for JSON (an API client) rather than a page or a redirect.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let mut r = (
        status,
        format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    never_framed(r)
}

/// The error answer for a browser: the error body's words (code, message, request id) as a
/// small page, with the same status and headers as the JSON error.
fn error_page(e: ApiError) -> Response {
    let body = e.body().error;
    let response = e.into_response();
    let (parts, _) = response.into_parts();
    let text = format!(
        "<p>{}</p><p>Code: <code>{}</code>{}</p>",
        escape_html(&body.message),
        body.code.as_str(),
        body.request_id
            .map(|id| format!(" · request id <code>{}</code>", escape_html(&id)))
            .unwrap_or_default()
    );
    let mut r = page(parts.status, "Shopify install refused", &text);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            r.headers_mut().insert(name.clone(), value.clone());
        }
    }
    *r.extensions_mut() = parts.extensions;
    r
}

use super::schemas::ShopDomain;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstallQuery {
    /// The shop to install the Conea app in: `name.myshopify.com`.
    #[param(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.myshopify\\.com$")]
    pub shop: String,
    /// A signed install link's token (from `POST /v1/integrations/shopify/install-links`):
    /// with it no credential is needed (any sent is ignored) and the shop is installed for
    /// the link's organization.
    pub link: Option<String>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstallResponse {
    /// Shopify's consent page; open it in the merchant's browser. Its `state` works once,
    /// within 10 minutes.
    pub authorize_url: String,
}

/// Starts installing the Conea Shopify app in a shop for your organization
/// [integrations:manage], or, with `link` (a signed install link) and no credential, for the
/// link's organization: answers 302 to Shopify's consent page (with
/// `Accept: application/json`, 200 `{authorize_url}`). The `state` in it works once, for
/// 10 minutes, and only for this shop. A refused link answers the error in a page (or the
/// error body with `Accept: application/json`) and stores nothing.
#[utoipa::path(get, path = "/integrations/shopify/install", tag = "shopify", params(InstallQuery),
    security((), ("bearer" = []), ("api_key" = [])), responses(
    (status = 302, description = "To Shopify's consent page", headers(("Location" = String))),
    (status = 200, body = InstallResponse, description = "With `Accept: application/json`"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming `shop`"),
    (status = 401, description = "`missing_credentials` (no `link`), `invalid_install_link` (altered, malformed or unknown link)", content((ErrorBody = "application/json"), (String = "text/html"))),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 409, description = "`install_link_used`: the link was opened before", content((ErrorBody = "application/json"), (String = "text/html"))),
    (status = 422, description = "`install_link_expired`, `install_shop_mismatch` (the link is for another shop)", content((ErrorBody = "application/json"), (String = "text/html"))),
    (status = 503, body = ErrorBody, description = "`shopify_app_not_configured`")))]
pub async fn install(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    query: Result<ApiQuery<InstallQuery>, ApiError>,
) -> Response {
    let json = wants_json(&headers);
    let q = match query {
        Ok(ApiQuery(q)) => q,
        Err(e) => return e.into_response(),
    };
    let service = &state.platform().shopify;
    let (authorize_url, from_link) = match (&q.link, principal) {
        (Some(link), _) => (service.open_install_link(&q.shop, link).await, true),
        (None, Some(Extension(p))) => (service.begin_install(&p, &q.shop).await, false),
        (None, None) => (
            Err(conea_core::CoreError::Internal(
                "route is missing the auth layer".into(),
            )),
            false,
        ),
    };
    let authorize_url = match authorize_url {
        Ok(u) => u,
        // A merchant's browser opened the link: the refusal as a page.
        Err(e) if from_link && !json => return error_page(ApiError(e)),
        Err(e) => return ApiError(e).into_response(),
    };
    if json {
        return ApiJson(InstallResponse { authorize_url }).into_response();
    }
    let location = match HeaderValue::from_str(&authorize_url) {
        Ok(l) => l,
        Err(e) => return ApiError(conea_core::CoreError::internal(e)).into_response(),
    };
    let mut r = StatusCode::FOUND.into_response();
    r.headers_mut().insert(header::LOCATION, location);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct InstallLinkRequest {
    /// The shop the link installs in: `name.myshopify.com`.
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.myshopify\\.com$")]
    pub shop: String,
    /// Seconds the link stays valid: 60 to 604800 (7 days); default 86400 (24 hours).
    #[schema(minimum = 60, maximum = 604800)]
    pub expires_in: Option<i64>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstallLinkResponse {
    /// `CONEA_PUBLIC_URL/v1/integrations/shopify/install?shop=…&link=…`: send it to the
    /// merchant. Opening it (no credential) goes to Shopify's consent page; it works once.
    pub url: String,
    /// `name.myshopify.com`, lowercased.
    pub shop: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Makes a signed install link for a shop [integrations:manage]: whoever opens it, without
/// a Conea credential (a merchant's browser), starts installing the Conea app in that shop
/// for your organization. Signed with a key derived from `CONEA_SECRET_KEY`; it carries
/// the organization, the shop and the expiry, and works once.
#[utoipa::path(post, path = "/integrations/shopify/install-links", tag = "shopify",
    request_body = InstallLinkRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = InstallLinkResponse),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming `shop` or `expires_in`"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 503, body = ErrorBody, description = "`shopify_app_not_configured`")))]
pub async fn create_install_link(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<InstallLinkRequest>,
) -> ApiResult<(StatusCode, ApiJson<InstallLinkResponse>)> {
    let expires_in_ms = body.expires_in.map(|s| s.saturating_mul(1000));
    let link = state
        .platform()
        .shopify
        .create_install_link(&p, &body.shop, expires_in_ms)
        .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(InstallLinkResponse {
            url: link.url,
            shop: link.shop,
            expires_at: conea_core::clock::rfc3339(link.expires_at),
        }),
    ))
}

/// Shopify's redirect after a merchant approved the install (no API key: the `state` names
/// the organization that started it). The query's `hmac` (under `SHOPIFY_API_SECRET`), the
/// shop's domain, and the `state` (issued here, unused, at most 10 minutes old, for this
/// shop) are checked; the `code` is exchanged for the shop's offline token, which is stored
/// encrypted; the shop is connected, Conea's webhooks are registered and the first sync
/// starts. Answers a small page (JSON with `Accept: application/json`); a refusal stores
/// nothing and answers the error in a page (or the error body).
#[utoipa::path(get, path = "/integrations/shopify/callback", tag = "shopify",
    params(("code" = String, Query), ("shop" = inline(ShopDomain), Query), ("state" = String, Query),
        ("timestamp" = String, Query), ("hmac" = String, Query, description = "hex HMAC-SHA256 of the other parameters")),
    responses(
    (status = 200, description = "Connected: a page for a browser, else JSON", content((ShopResponse = "application/json"), (String = "text/html"))),
    (status = 400, description = "`invalid_parameter`: `shop`, `state` or `code` missing", content((ErrorBody = "application/json"), (String = "text/html"))),
    (status = 401, description = "`invalid_install_signature`", content((ErrorBody = "application/json"), (String = "text/html"))),
    (status = 409, description = "`install_state_used`", content((ErrorBody = "application/json"), (String = "text/html"))),
    (status = 422, description = "`install_state_unknown`, `install_state_expired`, `install_shop_mismatch`, `install_code_refused`", content((ErrorBody = "application/json"), (String = "text/html"))),
    (status = 502, description = "`shopify_unavailable`", content((ErrorBody = "application/json"), (String = "text/html"))),
    (status = 503, description = "`shopify_app_not_configured`", content((ErrorBody = "application/json"), (String = "text/html")))))]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<ApiQuery<Vec<(String, String)>>, ApiError>,
) -> Response {
    let json = wants_json(&headers);
    let result = match query {
        Ok(ApiQuery(params)) => state
            .platform()
            .shopify
            .complete_install(&params)
            .await
            .map_err(ApiError),
        Err(e) => Err(e),
    };
    match (result, json) {
        (Ok(shop), true) => {
            ApiJson(ShopResponse::of(shop, &state.platform().shopify)).into_response()
        }
        (Ok(shop), false) => page(
            StatusCode::OK,
            "Shopify shop connected",
            &format!(
                "<p><b>{}</b> is connected to Conea (<code>{}</code>). Its first sync has started; you can close this page, or follow it on <a href=\"/console/shopify\">the console's Shopify page</a>.</p>",
                escape_html(&shop.domain),
                shop.shop_id
            ),
        ),
        (Err(e), true) => e.into_response(),
        (Err(e), false) => error_page(e),
    }
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionResponse {
    /// `gid://shopify/WebhookSubscription/…`
    pub id: String,
    /// `orders/create`, …
    pub topic: String,
    pub callback_url: Option<String>,
}

impl From<Subscription> for SubscriptionResponse {
    fn from(s: Subscription) -> Self {
        SubscriptionResponse {
            id: s.id,
            topic: s.topic,
            callback_url: s.callback_url,
        }
    }
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhooksResponse {
    /// Where Conea's subscriptions deliver: `CONEA_PUBLIC_URL` + `/v1/webhooks/shopify`.
    pub address: String,
    /// Conea's subscriptions.
    pub subscriptions: Vec<SubscriptionResponse>,
    /// Topics Conea handles with no subscription to `address`.
    pub missing: Vec<String>,
    /// Topics this request subscribed again (repair only).
    pub created: Vec<String>,
    /// The app's subscriptions to other addresses: left alone.
    pub foreign: Vec<SubscriptionResponse>,
}

impl From<Registration> for WebhooksResponse {
    fn from(r: Registration) -> Self {
        WebhooksResponse {
            address: r.address,
            subscriptions: r.subscriptions.into_iter().map(Into::into).collect(),
            missing: r.missing,
            created: r.created,
            foreign: r.foreign.into_iter().map(Into::into).collect(),
        }
    }
}

/// The shop's webhook subscriptions at Shopify, as Conea sees them [integrations:manage].
#[utoipa::path(get, path = "/integrations/shopify/shops/{id}/webhooks", tag = "shopify", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WebhooksResponse),
    (status = 404, body = ErrorBody, description = "`not_found`"),
    (status = 409, body = ErrorBody, description = "`shop_not_active` (also when Shopify refuses the token: the shop becomes `unauthorized`)"),
    (status = 502, body = ErrorBody, description = "`shopify_unavailable`"),
    (status = 503, body = ErrorBody, description = "`public_url_not_configured`")))]
pub async fn webhooks(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<WebhooksResponse>> {
    let r = state.platform().shopify.webhooks(&p, &id, false).await?;
    Ok(ApiJson(r.into()))
}

/// Subscribes again every topic Conea handles that has no subscription to this server
/// [integrations:manage]; subscriptions to other addresses are left alone. Each sync does
/// the same.
#[utoipa::path(post, path = "/integrations/shopify/shops/{id}/webhooks/repair", tag = "shopify", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WebhooksResponse),
    (status = 404, body = ErrorBody, description = "`not_found`"),
    (status = 409, body = ErrorBody, description = "`shop_not_active`"),
    (status = 502, body = ErrorBody, description = "`shopify_unavailable`"),
    (status = 503, body = ErrorBody, description = "`public_url_not_configured`")))]
pub async fn repair_webhooks(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<WebhooksResponse>> {
    let r = state.platform().shopify.webhooks(&p, &id, true).await?;
    Ok(ApiJson(r.into()))
}
