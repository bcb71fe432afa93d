//! Health of the process and its dependencies, for `/health`, `/readyz` and `conea diagnose`.

use crate::state::AppState;
use serde::Serialize;
use std::time::Duration;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Degraded,
    Down,
    Disabled,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoolReport {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DatabaseReport {
    pub status: Status,
    pub backend: &'static str,
    pub latency_ms: Option<f64>,
    pub migrations_current: Option<bool>,
    pub pool: PoolReport,
    /// Read routing: `{replica_configured, reads_go_to: primary|replica, reason, lag_ms,
    /// max_lag_ms, lag_error, sampled_at}`; reason is one of `no_replica`, `lag_unknown`,
    /// `lag_stale`, `lag_over_limit`, `replica_fresh`.
    #[schema(value_type = Object)]
    pub reads: conea_core::reads::RoutingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedisReport {
    pub status: Status,
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RateLimiterReport {
    /// `redis` or `memory`.
    pub backend: &'static str,
    pub enabled: bool,
    /// True when Redis is configured but decisions are being made in memory.
    pub fallback_active: bool,
    /// Decisions made in memory because Redis failed, since start.
    pub fallbacks: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AiProviderReport {
    pub name: String,
    /// `ok`, `degraded`, `circuit_open` or `misconfigured`.
    pub status: String,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Checks {
    pub database: DatabaseReport,
    pub redis: RedisReport,
    pub rate_limiter: RateLimiterReport,
    /// Each configured AI provider's circuit state (empty when none is configured).
    pub ai_providers: Vec<AiProviderReport>,
    pub escalation: EscalationReport,
    /// Shopify shops whose access token Shopify refused (401/403): they no longer sync
    /// until reconnected. Ids only (this endpoint needs no credential); `conea diagnose`
    /// and `conea shopify shops` show domains and Shopify's message.
    pub shopify_unauthorized: Vec<UnauthorizedShop>,
    /// Shopify API versions Shopify flagged as deprecated (`X-Shopify-API-Deprecated-Reason`
    /// on a shop's answers): a warning, never `down` — the calls work until Shopify removes
    /// the version.
    pub shopify_api_version: ApiVersionReport,
    pub cpu: CpuReport,
}

/// This process's CPU against its limit (informational: high CPU does not change `status`;
/// the `cpu` detector opens an incident when it lasts).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CpuReport {
    /// CPU used over the last few seconds as a fraction of `limit_cores` (null until two
    /// readings, 5 s apart, exist).
    pub utilization: Option<f64>,
    /// Cores this process may use.
    pub limit_cores: f64,
    /// `cgroup v2 cpu.max`, `cgroup v1 cfs quota` or `cores` (no quota).
    pub limit_source: &'static str,
    /// The cpu detector's threshold, in percent of the limit.
    pub threshold_percent: u32,
    /// Each async runtime worker thread's busy share of the last few seconds.
    pub runtime_workers_busy: Vec<f64>,
}

pub fn cpu(state: &AppState) -> CpuReport {
    let meter = state.metrics().cpu();
    let limit = meter.limit();
    CpuReport {
        utilization: meter.utilization(),
        limit_cores: limit.cores,
        limit_source: limit.source,
        threshold_percent: state.config().incidents.cpu_percent,
        runtime_workers_busy: meter.worker_busy(),
    }
}

/// `ok`, or `warning`: something to act on soon that does not stop anything now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Advisory {
    Ok,
    Warning,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiVersionReport {
    /// `warning` while an active shop's API version is flagged.
    pub status: Advisory,
    /// `SHOPIFY_API_VERSION`: what shops connect with unless they name a version.
    pub configured: String,
    /// Active shops whose latest answer carried the header, for the version they use now
    /// (at most 100).
    pub deprecated: Vec<DeprecatedShop>,
    /// What to do, while there is something to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeprecatedShop {
    pub shop_id: String,
    pub organization_id: String,
    pub api_version: String,
    /// The header's value (a URL of Shopify's notice, or the deprecated fields used).
    pub reason: String,
    /// The path Shopify flagged.
    pub endpoint: String,
    pub seen_at: String,
}

/// The fix `/health` and `conea diagnose` name for a deprecated API version.
pub const DEPRECATION_FIX: &str = "upgrade SHOPIFY_API_VERSION to a supported release (https://shopify.dev/docs/api/usage/versioning) and move each flagged shop to it: PATCH /v1/integrations/shopify/shops/{id} with {\"api_version\": \"YYYY-MM\"}";

/// Active shops whose API version Shopify flagged (empty when the database cannot say).
pub async fn api_version(state: &AppState) -> ApiVersionReport {
    let store = state.platform().shopify.store();
    let shops = match tokio::time::timeout(CHECK_TIMEOUT, store.shopify_deprecations()).await {
        Ok(Ok(shops)) => shops,
        _ => Vec::new(),
    };
    let deprecated: Vec<DeprecatedShop> = shops
        .into_iter()
        .filter_map(|s| {
            let n = s.deprecation?;
            Some(DeprecatedShop {
                shop_id: s.shop_id.to_string(),
                organization_id: s.org_id.to_string(),
                api_version: n.api_version,
                reason: n.reason,
                endpoint: n.endpoint,
                seen_at: conea_core::clock::rfc3339(n.seen_at),
            })
        })
        .collect();
    let flagged = !deprecated.is_empty();
    ApiVersionReport {
        status: if flagged {
            Advisory::Warning
        } else {
            Advisory::Ok
        },
        configured: state.config().shopify.api_version.clone(),
        deprecated,
        fix: flagged.then(|| DEPRECATION_FIX.to_owned()),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnauthorizedShop {
    pub shop_id: String,
    pub organization_id: String,
}

/// Shops in status `unauthorized` (at most 100; empty when the database cannot say).
pub async fn unauthorized_shops(state: &AppState) -> Vec<UnauthorizedShop> {
    let store = state.platform().shopify.store();
    match tokio::time::timeout(
        CHECK_TIMEOUT,
        store.shopify_shops_with_status(
            conea_shopify::integration::store::ShopifyStatus::Unauthorized,
        ),
    )
    .await
    {
        Ok(Ok(shops)) => shops
            .into_iter()
            .map(|s| UnauthorizedShop {
                shop_id: s.shop_id.to_string(),
                organization_id: s.org_id.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The escalation policy in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EscalationReport {
    /// `file` (from CONEA_ESCALATION_CONFIG) or `default` (the guide's matrix, no channels).
    pub policy: &'static str,
    pub path: Option<String>,
    /// Configured notification channels (empty: nobody is notified).
    pub channels: Vec<String>,
    /// Why notifications may not reach anyone, when that is so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

pub fn escalation(state: &AppState) -> EscalationReport {
    use conea_incidents::engine::PolicySource;
    let engine = state.platform().escalation();
    let channels: Vec<String> = engine
        .configured_channels()
        .into_iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let (policy, path) = match &engine.source {
        PolicySource::Default => ("default", None),
        PolicySource::File(p) => ("file", Some(p.clone())),
    };
    let warning = if channels.is_empty() {
        Some(match policy {
            "default" => "no escalation policy (CONEA_ESCALATION_CONFIG is unset): the default severity matrix runs with no notification channels, so incidents notify nobody".to_owned(),
            _ => "the escalation policy configures no notification channels: incidents notify nobody".to_owned(),
        })
    } else {
        None
    };
    EscalationReport {
        policy,
        path,
        channels,
        warning,
    }
}

/// The AI providers' states from the router's breakers.
pub fn ai_providers(state: &AppState) -> Vec<AiProviderReport> {
    let list = state.platform().ai.router().models();
    let value = serde_json::to_value(&list).unwrap_or_default();
    value["providers"]
        .as_array()
        .map(|providers| {
            providers
                .iter()
                .map(|p| AiProviderReport {
                    name: p["name"].as_str().unwrap_or_default().to_owned(),
                    status: p["status"].as_str().unwrap_or_default().to_owned(),
                    last_error: p["last_error"]["message"].as_str().map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// `ok`, `degraded` (Redis is down, or an AI provider's circuit is open or its key is
    /// refused) or `down` (the database is down).
    pub status: Status,
    pub version: &'static str,
    pub uptime_s: u64,
    pub checks: Checks,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

pub async fn database(state: &AppState) -> DatabaseReport {
    let db = state.store().db();
    let pool = db.pool_status();
    let pool = PoolReport {
        size: pool.size,
        idle: pool.idle,
        max: pool.max,
    };
    let backend = db.backend().as_str();
    let ping = tokio::time::timeout(CHECK_TIMEOUT, db.ping()).await;
    let (latency, error) = match ping {
        Ok(Ok(d)) => (Some(ms(d)), None),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(_) => (
            None,
            Some(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
        ),
    };
    let migrations_current = if error.is_none() {
        conea_store::migrate::status(db)
            .await
            .ok()
            .map(|s| s.current())
    } else {
        None
    };
    let status = match (&error, migrations_current) {
        (None, Some(true)) => Status::Ok,
        _ => Status::Down,
    };
    let error = error.or_else(|| {
        (migrations_current != Some(true))
            .then(|| "migrations are not current: run `conea migrate`".to_owned())
    });
    DatabaseReport {
        status,
        backend,
        latency_ms: latency,
        migrations_current,
        pool,
        reads: state.platform().reads.status(),
        error,
    }
}

pub async fn redis(state: &AppState) -> RedisReport {
    match state.redis() {
        None => RedisReport {
            status: Status::Disabled,
            latency_ms: None,
            error: None,
        },
        Some(handle) => match handle.ping().await {
            Ok(d) => RedisReport {
                status: Status::Ok,
                latency_ms: Some(ms(d)),
                error: None,
            },
            Err(e) => RedisReport {
                status: Status::Down,
                latency_ms: None,
                error: Some(e),
            },
        },
    }
}

pub async fn report(state: &AppState) -> HealthReport {
    let (database, redis, shopify_unauthorized, shopify_api_version) = tokio::join!(
        database(state),
        redis(state),
        unauthorized_shops(state),
        api_version(state)
    );
    let ai_providers = ai_providers(state);
    let ai_trouble = ai_providers
        .iter()
        .any(|p| p.status == "circuit_open" || p.status == "misconfigured");
    let status = if database.status != Status::Ok {
        Status::Down
    } else if redis.status == Status::Down || ai_trouble {
        Status::Degraded
    } else {
        Status::Ok
    };
    let limits = state.limits();
    let rate_limiter = RateLimiterReport {
        backend: limits.backend().as_str(),
        enabled: state.config().rate_limit.enabled,
        fallback_active: state.redis().is_some_and(|r| r.is_down()),
        fallbacks: limits.fallbacks(),
    };
    HealthReport {
        status,
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.uptime_s(),
        checks: Checks {
            database,
            redis,
            rate_limiter,
            ai_providers,
            escalation: escalation(state),
            shopify_unauthorized,
            shopify_api_version,
            cpu: cpu(state),
        },
    }
}
