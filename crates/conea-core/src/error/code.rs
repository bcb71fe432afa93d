//! [`ErrorCode`]: every machine-readable code Conea sends, declared once with its HTTP
//! status, its error `type` and a one-line description. The error body, the AI gateway's
//! attempts and stream error events, the README's error table and the OpenAPI document all
//! come from this table, so a code cannot exist in one and not the others.
//!
//! The wire strings (`as_str`) are a stable contract: clients switch on them. Add codes,
//! never rename one.

use serde::{Serialize, Serializer};
use std::fmt;

/// The error body's `type`: the family of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    Conflict,
    RateLimit,
    Upstream,
    Api,
}

impl ErrorType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Permission => "permission_error",
            ErrorType::NotFound => "not_found_error",
            ErrorType::Conflict => "conflict_error",
            ErrorType::RateLimit => "rate_limit_error",
            ErrorType::Upstream => "upstream_error",
            ErrorType::Api => "api_error",
        }
    }
}

/// One row of the table: what a code means on the wire.
struct Row {
    wire: &'static str,
    status: u16,
    kind: ErrorType,
    description: &'static str,
}

macro_rules! error_codes {
    ($($variant:ident = $wire:literal, $status:literal, $kind:ident, $description:literal;)*) => {
        /// A stable machine-readable error code (see the module documentation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $description] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the table (by HTTP status).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            const fn row(self) -> Row {
                match self {
                    $(ErrorCode::$variant => Row {
                        wire: $wire,
                        status: $status,
                        kind: ErrorType::$kind,
                        description: $description,
                    },)*
                }
            }
        }
    };
}

// HTTP status, then `type`, then the description shown in the README and the OpenAPI document.
error_codes! {
    InvalidJson = "invalid_json", 400, InvalidRequest, "The body is not valid JSON; the message gives the line and column.";
    InvalidParameter = "invalid_parameter", 400, InvalidRequest, "A field or query parameter is missing, mistyped or out of range; its name is in `details.param`.";
    InvalidBody = "invalid_body", 400, InvalidRequest, "The request body could not be read, or an upload was interrupted.";
    InvalidIdempotencyKey = "invalid_idempotency_key", 400, InvalidRequest, "`Idempotency-Key` is not 1 to 255 visible ASCII characters.";
    MalformedRequest = "malformed_request", 400, InvalidRequest, "The request line or a header is not valid HTTP/1.1 (for example bytes outside ASCII in the path or query); the connection is closed.";
    UnknownModel = "unknown_model", 400, InvalidRequest, "The model is neither an alias, `default`, a model a configured provider lists (or its name prefix names), nor a `provider/model` name; `details.aliases` lists the aliases, `GET /v1/models` every name that routes.";
    InvalidRequest = "invalid_request", 400, InvalidRequest, "The AI provider rejected the request itself (other providers would too); also an attempt's code in `details.attempts`.";
    ContextLengthExceeded = "context_length_exceeded", 400, InvalidRequest, "The prompt does not fit the model's context window (`details.limit`, `details.requested`); also an attempt's code.";
    MissingCredentials = "missing_credentials", 401, Authentication, "No `Authorization: Bearer` or `X-API-Key` header was sent.";
    MalformedToken = "malformed_token", 401, Authentication, "The credential is neither a well-formed JWT nor a Conea API key.";
    InvalidSignature = "invalid_signature", 401, Authentication, "The JWT's signature does not verify: altered, or signed with another secret.";
    AlgorithmNotAllowed = "algorithm_not_allowed", 401, Authentication, "The JWT is signed with an algorithm this server does not accept (`details.alg`, `details.allowed`).";
    TokenExpired = "token_expired", 401, Authentication, "The JWT expired (`details.expired_at`, `details.server_time`); request a new token.";
    TokenNotYetValid = "token_not_yet_valid", 401, Authentication, "The JWT's `nbf` is in the future (`details.valid_from`): the issuer's clock is probably ahead.";
    InvalidAudience = "invalid_audience", 401, Authentication, "The JWT's `aud` is not this server's audience.";
    InvalidIssuer = "invalid_issuer", 401, Authentication, "The JWT's `iss` is not this server's issuer.";
    UnknownSubject = "unknown_subject", 401, Authentication, "The JWT's user no longer exists or is no longer a member of its organization.";
    UnknownApiKey = "unknown_api_key", 401, Authentication, "The API key is not known.";
    RevokedApiKey = "revoked_api_key", 401, Authentication, "The API key was revoked (`details.revoked_at`).";
    ExpiredApiKey = "expired_api_key", 401, Authentication, "The API key expired (`details.expired_at`).";
    InvalidCredentials = "invalid_credentials", 401, Authentication, "Login: the email or password is wrong.";
    UnknownShop = "unknown_shop", 401, Authentication, "Shopify webhook: no connected shop has this `X-Shopify-Shop-Domain`.";
    InvalidWebhookSignature = "invalid_webhook_signature", 401, Authentication, "Shopify webhook: `X-Shopify-Hmac-Sha256` matches none of the shop's secrets.";
    InvalidInstallSignature = "invalid_install_signature", 401, Authentication, "Shopify install callback: the query's `hmac` does not verify under the app's secret (forged or altered); nothing was stored.";
    InvalidInstallLink = "invalid_install_link", 401, Authentication, "Shopify install link: the `link` is malformed, altered, or was not signed by this server; nothing was stored.";
    InsufficientPermissions = "insufficient_permissions", 403, Permission, "The credential lacks the permission (`details.required`, `details.granted`).";
    NotFound = "not_found", 404, NotFound, "No such resource in your organization (other organizations' resources answer this too).";
    RouteNotFound = "route_not_found", 404, NotFound, "No route matches the path; see `/openapi.json`.";
    MethodNotAllowed = "method_not_allowed", 405, InvalidRequest, "The route does not accept this HTTP method.";
    AlreadyExists = "already_exists", 409, Conflict, "A record with these unique values already exists.";
    SlugTaken = "slug_taken", 409, Conflict, "Another organization has this slug.";
    EmailTaken = "email_taken", 409, Conflict, "Another user has this email.";
    IdempotencyKeyInUse = "idempotency_key_in_use", 409, Conflict, "A request with this `Idempotency-Key` is still running; retry after it finished.";
    ThreadFull = "thread_full", 409, Conflict, "Insights: the thread holds its 50 messages (`details.limit`); start a new thread.";
    JobFinished = "job_finished", 409, Conflict, "The job already finished and cannot be cancelled.";
    JobNotRetryable = "job_not_retryable", 409, Conflict, "Only discarded or cancelled jobs can be retried.";
    IncidentNotOpen = "incident_not_open", 409, Conflict, "Only an open incident can be acknowledged.";
    IncidentResolved = "incident_resolved", 409, Conflict, "The incident is resolved: it cannot be resolved again, escalated or re-rated.";
    NothingToEscalate = "nothing_to_escalate", 409, Conflict, "Every escalation step of the incident was already taken.";
    LinkAlreadyUsed = "link_already_used", 409, Conflict, "The signed acknowledge/resolve link was already used (each works once).";
    ShopAlreadyConnected = "shop_already_connected", 409, Conflict, "The Shopify shop is already connected; disconnect it first.";
    ShopNotActive = "shop_not_active", 409, Conflict, "The Shopify shop is not active (unauthorized, uninstalled or disconnected); connect it again.";
    InstallStateUsed = "install_state_used", 409, Conflict, "Shopify install callback: the `state` was already used (each install link works once); start the install again.";
    InstallLinkUsed = "install_link_used", 409, Conflict, "Shopify install link: the link was already opened (each works once); ask for a new one.";
    ProfileRunning = "profile_running", 409, Conflict, "A CPU profile of the server is already being recorded (one at a time per process); retry when it finished.";
    PayloadTooLarge = "payload_too_large", 413, InvalidRequest, "The body is larger than `CONEA_MAX_BODY_BYTES` (or `CONEA_MAX_IMPORT_BYTES` for imports).";
    UriTooLong = "uri_too_long", 414, InvalidRequest, "The request's path and query are longer than 65,534 bytes; the connection is closed.";
    UnsupportedMediaType = "unsupported_media_type", 415, InvalidRequest, "The body's `Content-Type` is not one the route accepts.";
    InvalidSlug = "invalid_slug", 422, InvalidRequest, "The organization slug is not 2 to 63 lowercase letters, digits or dashes (no dash first or last).";
    InvalidEmail = "invalid_email", 422, InvalidRequest, "The email address is not valid.";
    WeakPassword = "weak_password", 422, InvalidRequest, "The password is too short.";
    UnknownRole = "unknown_role", 422, InvalidRequest, "The role is not owner, admin, member or viewer.";
    UnknownPermission = "unknown_permission", 422, InvalidRequest, "A permission name is not in the catalogue.";
    InvalidName = "invalid_name", 422, InvalidRequest, "The API key name is empty or longer than 200 characters.";
    InvalidExpiry = "invalid_expiry", 422, InvalidRequest, "`expires_at` is not an RFC 3339 time in the future.";
    InstallStateUnknown = "install_state_unknown", 422, InvalidRequest, "Shopify install callback: the `state` was never issued by this server; start the install again.";
    InstallStateExpired = "install_state_expired", 422, InvalidRequest, "Shopify install callback: the `state` is older than 10 minutes; start the install again.";
    InstallShopMismatch = "install_shop_mismatch", 422, InvalidRequest, "Shopify install callback or install link: the `shop` is not a `name.myshopify.com` domain, or not the shop the install (or link) was made for; nothing was stored.";
    InstallLinkExpired = "install_link_expired", 422, InvalidRequest, "Shopify install link: the link is past its expiry (`details.param` = `link`); ask for a new one.";
    InstallCodeRefused = "install_code_refused", 422, InvalidRequest, "Shopify install callback: Shopify refused to exchange the authorization `code` (used, expired or another app's); nothing was stored.";
    ShopTokenRefused = "shop_token_refused", 422, InvalidRequest, "Connecting a Shopify shop: the shop refused the access token (`GET shop.json` answered 401/403/404) or it opens another shop; nothing was stored.";
    InvalidLimit = "invalid_limit", 422, InvalidRequest, "A rate-limit override's `per_minute` or `burst` is out of range.";
    InvalidBudget = "invalid_budget", 422, InvalidRequest, "An AI budget's `monthly_tokens` is negative.";
    IdempotencyKeyReused = "idempotency_key_reused", 422, InvalidRequest, "The `Idempotency-Key` was used with a different request body.";
    RateLimitExceeded = "rate_limit_exceeded", 429, RateLimit, "The credential's or address's rate limit is spent; wait `Retry-After` seconds.";
    TooManyLoginAttempts = "too_many_login_attempts", 429, RateLimit, "Too many failed logins from this address for this email (or for any); wait `Retry-After` seconds. Other addresses are not held back.";
    BudgetExceeded = "budget_exceeded", 429, RateLimit, "The organization's monthly AI token budget is spent (`details.used`, `details.budget`, `details.renews_at`).";
    RequestHeadersTooLarge = "request_headers_too_large", 431, InvalidRequest, "The request head has more than 100 headers or is larger than about 400 KB; the connection is closed.";
    InternalError = "internal_error", 500, Api, "An unexpected error; the cause is only in the server's log, under the request id.";
    AllProvidersFailed = "all_providers_failed", 502, Upstream, "Every AI provider target failed or was skipped; `details.attempts` has each attempt's code.";
    RateLimited = "rate_limited", 502, Upstream, "AI attempt: the provider limited us (429).";
    Overloaded = "overloaded", 502, Upstream, "AI attempt: the provider is overloaded (529, 503).";
    ServerError = "server_error", 502, Upstream, "AI attempt: the provider answered 5xx, an HTML error page or a malformed body.";
    Timeout = "timeout", 502, Upstream, "AI attempt: no answer, or no next chunk, in time.";
    ConnectionError = "connection_error", 502, Upstream, "AI attempt: connecting failed or the connection broke mid-body.";
    ProviderAuthFailed = "provider_auth_failed", 502, Upstream, "AI attempt: the provider refused Conea's credentials (401, 403).";
    ModelNotFound = "model_not_found", 502, Upstream, "AI attempt: the provider does not know the model (404).";
    UpstreamError = "upstream_error", 502, Upstream, "AI attempt: any other provider failure (402, 409, ...).";
    ToolCallLimitExceeded = "tool_call_limit_exceeded", 502, Upstream, "Insights: the model asked for more than 8 tool calls for one question (`details.tool_calls` lists those made); nothing was answered.";
    ShopifyUnavailable = "shopify_unavailable", 502, Upstream, "Connecting a Shopify shop: Shopify could not be asked to check the token (unreachable, timeout, 5xx, throttled); nothing was stored, retry.";
    NotReady = "not_ready", 503, Api, "`/readyz`: the database is down or behind on migrations.";
    DatabaseUnavailable = "database_unavailable", 503, Api, "The database cannot be reached; retry shortly.";
    RateLimiterUnavailable = "rate_limiter_unavailable", 503, Api, "Redis is down and `CONEA_RATE_LIMIT_FAILURE_MODE` is `closed`.";
    ShopifyAppNotConfigured = "shopify_app_not_configured", 503, Api, "Installing by OAuth needs SHOPIFY_API_KEY, SHOPIFY_API_SECRET and CONEA_PUBLIC_URL on the server; shops can still be connected with a token.";
    PublicUrlNotConfigured = "public_url_not_configured", 503, Api, "Registering Shopify webhooks needs CONEA_PUBLIC_URL, the address Shopify reaches this server at.";
    NoAiProviderConfigured = "no_ai_provider_configured", 503, Api, "No AI provider has credentials (`details.variables` names the settings).";
    AiProviderNotConfigured = "ai_provider_not_configured", 503, Api, "The model's providers are not configured (`details.providers`, `details.variables`).";
    InsightsTimeout = "insights_timeout", 504, Api, "Insights: the question ran past `CONEA_INSIGHTS_TIMEOUT` (`details.timeout_ms`); nothing was answered.";
    RequestTimeout = "request_timeout", 504, Api, "The request ran longer than `CONEA_REQUEST_TIMEOUT`; submit long work as a job.";
}

impl ErrorCode {
    /// The wire string, e.g. `token_expired`.
    pub const fn as_str(self) -> &'static str {
        self.row().wire
    }

    /// The HTTP status of an error body with this code. The AI attempt codes
    /// (`rate_limited`, `overloaded`, …) are never a body's code: they appear in
    /// `details.attempts` of an `all_providers_failed` (502) and in stream error events.
    pub const fn status(self) -> u16 {
        self.row().status
    }

    /// The error body's `type` for this code.
    pub const fn error_type(self) -> ErrorType {
        self.row().kind
    }

    /// One line for the documentation (README, OpenAPI).
    pub const fn description(self) -> &'static str {
        self.row().description
    }

    /// The code with this wire string.
    pub fn parse(wire: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == wire)
    }

    /// The README's error table (Markdown), one row per code in table order.
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | HTTP | `type` | meaning |\n|---|---|---|---|\n");
        for c in ErrorCode::ALL {
            out.push_str(&format!(
                "| `{}` | {} | `{}` | {} |\n",
                c.as_str(),
                c.status(),
                c.error_type().as_str(),
                c.description()
            ));
        }
        out
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Compares with a wire string, so `assert_eq!(e.code(), "token_expired")` checks the wire.
impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn wire_strings_are_unique_snake_case_and_parse_back() {
        let mut seen = HashSet::new();
        for &c in ErrorCode::ALL {
            let w = c.as_str();
            assert!(seen.insert(w), "{w} declared twice");
            assert!(
                !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{w} is not snake_case"
            );
            assert_eq!(ErrorCode::parse(w), Some(c));
            assert!(!c.description().is_empty() && !c.description().contains('|'));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn the_table_is_ordered_by_status_and_types_match_their_status() {
        let statuses: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.status()).collect();
        assert!(statuses.windows(2).all(|w| w[0] <= w[1]));
        for &c in ErrorCode::ALL {
            let t = c.error_type();
            let ok = match c.status() {
                401 => t == ErrorType::Authentication,
                403 => t == ErrorType::Permission,
                404 => t == ErrorType::NotFound,
                409 => t == ErrorType::Conflict,
                429 => t == ErrorType::RateLimit,
                400..=499 => t == ErrorType::InvalidRequest,
                502 => t == ErrorType::Upstream,
                _ => t == ErrorType::Api,
            };
            assert!(ok, "{c}: {} with {}", c.status(), t.as_str());
        }
    }

    #[test]
    fn serializes_as_its_wire_string() {
        assert_eq!(
            serde_json::to_value(ErrorCode::TokenExpired).ok(),
            Some(serde_json::json!("token_expired"))
        );
        assert_eq!(ErrorCode::IdempotencyKeyReused, "idempotency_key_reused");
        assert_eq!(ErrorType::InvalidRequest.as_str(), "invalid_request_error");
    }
}
