//! Shopify: connecting shops (`/v1/integrations/shopify/shops`, [integrations:manage]),
//! starting a sync (202 with the job), and the webhook receiver `POST /v1/webhooks/shopify`
//! (no API key: the HMAC of the raw body authenticates it; 200 only after the delivery and
//! its job are committed).

use super::jobs::{accepted, Accepted};
use crate::http::auth::Auth;
use crate::http::client_addr::ClientAddr;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::json::{ApiBytes, ApiJson};
use crate::http::rate_limit;
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use conea_core::clock::rfc3339;
use conea_core::CoreError;
use conea_shopdata::RecordKind;
use conea_shopify::integration::store::ShopifyShop;
use conea_shopify::integration::{
    interval, ConnectRequest, Delivered, ShopUpdate, ShopifyService, WebhookOutcome,
};
use conea_shopify::WebhookHeaders;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ConnectShopRequest {
    /// `name.myshopify.com`
    #[schema(schema_with = super::schemas::shop_domain)]
    pub shop_domain: String,
    /// The Admin API access token (`shpat_…`). Encrypted at rest, never returned.
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 1024
    )]
    pub access_token: String,
    /// The app's API secret (client secret): webhooks are verified with it. Encrypted.
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 1024
    )]
    pub api_secret: String,
    /// The secret before a rotation, accepted for webhooks until removed. Encrypted.
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 1024
    )]
    pub previous_api_secret: Option<String>,
    /// `YYYY-MM`; default `SHOPIFY_API_VERSION`.
    #[schema(pattern = "^(unstable|[0-9]{4}-(0[1-9]|1[0-2]))$")]
    pub api_version: Option<String>,
    /// The shop's own interval between scheduled syncs: a whole number and a unit (`s`, `m`,
    /// `h`, `d`) of at least 1 minute, such as `15m`. Default: `SHOPIFY_SYNC_INTERVAL` (a
    /// shop connected again keeps the interval it had).
    #[schema(pattern = "^([1-9][0-9]{0,5}[mhd]|([6-9][0-9]|[1-9][0-9]{2,5})s)$")]
    pub sync_interval: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateShopRequest {
    /// The Admin API version the shop's calls use from now on (`YYYY-MM` or `unstable`):
    /// move a shop whose version Shopify flagged as deprecated.
    #[schema(pattern = "^(unstable|[0-9]{4}-(0[1-9]|1[0-2]))$")]
    pub api_version: Option<String>,
    /// The shop's own interval between scheduled syncs (at least 1 minute, such as `15m`),
    /// or `default` for `SHOPIFY_SYNC_INTERVAL`. It applies from the shop's last sync.
    #[schema(pattern = "^(default|[1-9][0-9]{0,5}[mhd]|([6-9][0-9]|[1-9][0-9]{2,5})s)$")]
    pub sync_interval: Option<String>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShopResponse {
    /// `shop_…`
    pub id: String,
    pub shop_domain: String,
    pub api_version: String,
    /// `active`, `unauthorized`, `uninstalled` or `disconnected`.
    pub status: String,
    pub status_message: Option<String>,
    pub last_sync_at: Option<String>,
    /// Deliveries stored (within the job retention; duplicates not counted).
    pub webhooks_received: i64,
    /// Deliveries refused for a bad signature.
    pub webhooks_rejected: i64,
    pub last_webhook_at: Option<String>,
    pub created_at: String,
    /// Shopify's latest deprecation warning (`X-Shopify-API-Deprecated-Reason`) for the API
    /// version the shop uses now; null when there is none. Fix: move the shop to a supported
    /// version (`PATCH` with `api_version`).
    pub api_deprecation: Option<ApiDeprecation>,
    /// The interval between the shop's scheduled syncs (`15m`); null when it has none
    /// (its own unset and `SHOPIFY_SYNC_INTERVAL=off`).
    pub sync_interval: Option<String>,
    /// `shop` (set on the connection) or `server` (`SHOPIFY_SYNC_INTERVAL`).
    #[schema(schema_with = sync_interval_source)]
    pub sync_interval_source: String,
    /// The last reconciliation (Shopify's ids against Conea's, every resource); null before
    /// the first.
    pub reconciliation: Option<ReconciliationResponse>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconciliationResponse {
    pub at: String,
    /// Ids Shopify listed.
    pub checked: i64,
    /// Objects Shopify no longer has: deleted here.
    pub removed: i64,
    /// Objects Conea lacked: fetched from Shopify.
    pub fetched: i64,
}

fn sync_interval_source() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["shop", "server"])
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiDeprecation {
    /// The header's value: a URL of Shopify's notice, or the deprecated fields used.
    pub reason: String,
    /// The path Shopify flagged (`/admin/api/2025-01/orders.json`).
    pub endpoint: String,
    pub api_version: String,
    /// When it was last seen.
    pub seen_at: String,
}

impl ShopResponse {
    /// The shop as the API shows it, with the sync interval in force (`service` knows the
    /// server's).
    pub fn of(s: ShopifyShop, service: &ShopifyService) -> Self {
        let interval = service.sync_interval_ms(&s);
        ShopResponse {
            sync_interval: interval.map(interval::format),
            sync_interval_source: if s.sync_interval_ms.is_some() {
                "shop"
            } else {
                "server"
            }
            .to_owned(),
            id: s.shop_id.to_string(),
            shop_domain: s.domain,
            api_version: s.api_version,
            status: s.status.as_str().to_owned(),
            status_message: s.status_message,
            last_sync_at: s.last_sync_at.map(rfc3339),
            webhooks_received: s.webhooks_received,
            webhooks_rejected: s.webhooks_rejected,
            last_webhook_at: s.last_webhook_at.map(rfc3339),
            created_at: rfc3339(s.created_at),
            reconciliation: s.reconciliation.map(|r| ReconciliationResponse {
                at: rfc3339(r.at),
                checked: r.checked,
                removed: r.removed,
                fetched: r.fetched,
            }),
            api_deprecation: s.deprecation.map(|d| ApiDeprecation {
                reason: d.reason,
                endpoint: d.endpoint,
                api_version: d.api_version,
                seen_at: rfc3339(d.seen_at),
            }),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ShopPage {
    pub data: Vec<ShopResponse>,
    pub next_cursor: Option<String>,
}

/// Connects a Shopify shop [integrations:manage] once the shop accepts the token (`GET
/// shop.json`); another organization may connect the same shop with its own valid token.
/// The token and secrets are encrypted with `CONEA_SECRET_KEY` and never returned.
#[utoipa::path(post, path = "/integrations/shopify/shops", tag = "shopify", request_body = ConnectShopRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = ShopResponse),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming `shop_domain`, `api_version`, `access_token`, `api_secret`, `sync_interval`"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 409, body = ErrorBody, description = "`shop_already_connected` (your organization has it active)"),
    (status = 422, body = ErrorBody, description = "`shop_token_refused`: `GET shop.json` refused the token, or it opens another shop"),
    (status = 502, body = ErrorBody, description = "`shopify_unavailable`: Shopify could not be asked")))]
pub async fn connect(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<ConnectShopRequest>,
) -> ApiResult<(StatusCode, ApiJson<ShopResponse>)> {
    let req = ConnectRequest {
        shop_domain: body.shop_domain,
        access_token: body.access_token,
        api_secret: body.api_secret,
        previous_api_secret: body.previous_api_secret,
        api_version: body.api_version,
        sync_interval: body.sync_interval,
    };
    let shopify = &state.platform().shopify;
    let shop = shopify.connect(&p, req).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(ShopResponse::of(shop, shopify)),
    ))
}

/// Your organization's Shopify shops with status, API version, last sync and webhook
/// counters [integrations:manage].
#[utoipa::path(get, path = "/integrations/shopify/shops", tag = "shopify",
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ShopPage), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<ApiJson<ShopPage>> {
    let shopify = &state.platform().shopify;
    let shops = shopify.list(&p).await?;
    Ok(ApiJson(ShopPage {
        data: shops
            .into_iter()
            .map(|s| ShopResponse::of(s, shopify))
            .collect(),
        next_cursor: None,
    }))
}

/// One Shopify shop of your organization [integrations:manage].
#[utoipa::path(get, path = "/integrations/shopify/shops/{id}", tag = "shopify", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ShopResponse), (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn get(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<ShopResponse>> {
    let shopify = &state.platform().shopify;
    Ok(ApiJson(ShopResponse::of(
        shopify.get(&p, &id).await?,
        shopify,
    )))
}

/// Changes a shop's API version or its sync interval [integrations:manage]. A new interval
/// applies from the shop's last sync; `default` goes back to `SHOPIFY_SYNC_INTERVAL`.
#[utoipa::path(patch, path = "/integrations/shopify/shops/{id}", tag = "shopify", params(("id" = String, Path)),
    request_body = UpdateShopRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ShopResponse),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming `api_version` or `sync_interval`"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn update(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateShopRequest>,
) -> ApiResult<ApiJson<ShopResponse>> {
    let change = ShopUpdate {
        api_version: body.api_version,
        sync_interval: body.sync_interval.map(|t| (t != "default").then_some(t)),
    };
    let shopify = &state.platform().shopify;
    let shop = shopify.update(&p, &id, change).await?;
    Ok(ApiJson(ShopResponse::of(shop, shopify)))
}

/// Disconnects a shop [integrations:manage]: its credentials are erased, its data stays;
/// its webhooks answer 401 afterwards.
#[utoipa::path(delete, path = "/integrations/shopify/shops/{id}", tag = "shopify", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204, description = "Disconnected"), (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn disconnect(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.platform().shopify.disconnect(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Syncs the shop's products, customers and orders as a job [integrations:manage]: a full
/// sync first, incremental afterwards; one live sync per shop (a second request gets the
/// same job).
#[utoipa::path(post, path = "/integrations/shopify/shops/{id}/sync", tag = "shopify", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = Accepted, headers(("Location" = String, description = "/v1/jobs/{id}"))),
    (status = 404, body = ErrorBody, description = "`not_found`"),
    (status = 409, body = ErrorBody, description = "`shop_not_active`")))]
pub async fn sync(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    match state.platform().shopify.sync(&p, &id).await {
        Ok(job) => accepted(&job),
        Err(e) => ApiError(e).into_response(),
    }
}

/// Reconciles the shop as a job [integrations:manage]: per resource, the ids Shopify holds
/// against Conea's; objects Shopify no longer has are deleted here, missing ones fetched;
/// the counts go on the shop's `reconciliation`. One live per shop (a second request gets the
/// same job); it also runs every `SHOPIFY_RECONCILE_INTERVAL` by itself.
#[utoipa::path(post, path = "/integrations/shopify/shops/{id}/reconcile", tag = "shopify", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = Accepted, headers(("Location" = String, description = "/v1/jobs/{id}"))),
    (status = 404, body = ErrorBody, description = "`not_found`"),
    (status = 409, body = ErrorBody, description = "`shop_not_active`")))]
pub async fn reconcile(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    match state.platform().shopify.reconcile(&p, &id).await {
        Ok(job) => accepted(&job),
        Err(e) => ApiError(e).into_response(),
    }
}

fn record_kind() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["products", "orders", "customers"])
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    /// `products`, `orders` or `customers`.
    #[schema(schema_with = record_kind)]
    pub resource: RecordKind,
    /// The object's Shopify id.
    #[serde(deserialize_with = "crate::http::json::integral")]
    pub id: i64,
}

/// Reads one object again from Shopify as a job [integrations:manage]: upserted when found;
/// when Shopify answers 404 (the merchant deleted it) Conea deletes its copy. Use it when a
/// `*/delete` webhook was missed; an incremental sync cannot see deletions.
#[utoipa::path(post, path = "/integrations/shopify/shops/{id}/refresh", tag = "shopify", params(("id" = String, Path)),
    request_body = RefreshRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = Accepted, headers(("Location" = String, description = "/v1/jobs/{id}"))),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming `resource` or `id`"),
    (status = 404, body = ErrorBody, description = "`not_found`"),
    (status = 409, body = ErrorBody, description = "`shop_not_active`")))]
pub async fn refresh(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Response {
    match state
        .platform()
        .shopify
        .refresh(&p, &id, body.resource, body.id)
        .await
    {
        Ok(job) => accepted(&job),
        Err(e) => ApiError(e).into_response(),
    }
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookReceipt {
    /// The `shopify.webhook` job processing the delivery; null when it was rejected.
    pub job_id: Option<String>,
    /// False when the delivery was a duplicate (no second job) or rejected.
    pub created: bool,
    /// Why a signed delivery was refused: its body is not its topic's payload (a body
    /// replayed under another topic), or `shop/redact` for a shop that is not uninstalled.
    /// Answered 200 so Shopify does not retry; nothing is stored or erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

/// Receives a Shopify webhook. No API key: `X-Shopify-Hmac-Sha256` over the raw body,
/// under the shop's API secret (or the previous one), authenticates it. The 200 is sent
/// after the delivery and its job are committed; a duplicate (same event id, else webhook
/// id) answers 200 without a second job. A signed body that is not its topic's payload (a
/// body replayed under another topic) answers 200 with `rejected`, is counted in
/// `webhooks_rejected` and as a signature failure, and stores nothing.
#[utoipa::path(post, path = "/webhooks/shopify", tag = "shopify",
    request_body(content = String, content_type = "application/json", description = "The webhook payload, as Shopify sent it"),
    params(
        ("X-Shopify-Hmac-Sha256" = String, Header, pattern = "^[!-~]+$", description = "base64 HMAC-SHA256 of the raw body"),
        ("X-Shopify-Shop-Domain" = inline(super::schemas::ShopDomain), Header),
        ("X-Shopify-Topic" = String, Header, pattern = "^[a-z_]+/[a-z_]+$", description = "`orders/create`, `app/uninstalled`, …"),
        ("X-Shopify-Webhook-Id" = String, Header, pattern = "^[!-~]+$", description = "Shopify sends it with every delivery"),
        ("X-Shopify-Event-Id" = Option<String>, Header, description = "Deduplication key when present")),
    responses(
    (status = 200, body = WebhookReceipt),
    (status = 400, body = ErrorBody, description = "`invalid_parameter`: a header is missing or malformed"),
    (status = 401, body = ErrorBody, description = "`unknown_shop` or `invalid_webhook_signature`"),
    (status = 429, body = ErrorBody, description = "`rate_limit_exceeded` (per client address)")))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Response {
    let delivery = match WebhookHeaders::from_header_map(&headers) {
        Ok(d) => d,
        Err(e) => {
            state
                .metrics()
                .observe_webhook(WebhookOutcome::InvalidHeaders.as_str());
            tracing::warn!(problem = %e, "refused a Shopify webhook with bad headers");
            return ApiError(CoreError::invalid(e.header, format!("{e}."))).into_response();
        }
    };
    let received = state
        .platform()
        .shopify
        .receive_webhook(&delivery, &body)
        .await;
    state.metrics().observe_webhook(received.outcome.as_str());
    match received.result {
        Ok(Delivered::Stored(r)) => (
            StatusCode::OK,
            axum::Json(WebhookReceipt {
                job_id: Some(r.job_id.to_string()),
                created: r.created,
                rejected: None,
            }),
        )
            .into_response(),
        Ok(Delivered::Rejected { mismatch, .. }) => (
            StatusCode::OK,
            axum::Json(WebhookReceipt {
                job_id: None,
                created: false,
                rejected: Some(mismatch.to_string()),
            }),
        )
            .into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// Spends one request of the client address's webhook quota
/// (`SHOPIFY_WEBHOOKS_PER_IP_PER_MINUTE`, its own bucket apart from the login quota).
pub async fn limit_webhooks_by_address(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    if !state.config().rate_limit.enabled {
        return next.run(req).await;
    }
    let per_minute = state.config().shopify.webhooks_per_ip_per_minute;
    let route = Some(("shopify-webhooks", per_minute));
    rate_limit::limit_address(&state, route, &addr, req, next).await
}
