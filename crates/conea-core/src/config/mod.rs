//! The one configuration loader. Sources, later wins: built-in defaults, the optional TOML
//! file (`--config`), environment variables. Every setting is one entry of the declaration
//! in `settings.rs` (its field, variable, TOML key, default, parser and help); [`Config::load`]
//! parses them all, checks the rules across settings (`validate.rs`) and reports all
//! problems at once, each naming its variable.

#[macro_use]
mod declare;
pub mod duration;
mod load;
mod parse;
pub mod prices;
mod raw;
pub mod secrets;
pub mod settings;
mod table;
mod validate;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use declare::Setting;
pub use load::redact;
pub use raw::{read_file, RawSettings, Source};
pub use settings::{var, Settings, SETTINGS};
pub use table::markdown_table;

/// The data dir when `CONEA_DATA_DIR` is not set.
pub const DEFAULT_DATA_DIR: &str = "./conea-data";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if any.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Optional read replica (a `DatabaseConfig` of its own, same pool settings).
    pub replica_url: Option<String>,
    pub max_replica_lag: Duration,
    pub url: String,
    pub backend: Backend,
    pub max_connections: u32,
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    pub slow_statement: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub redis_url: Option<String>,
    pub jwt_secret: Option<String>,
    pub jwt_algorithms: Vec<jsonwebtoken::Algorithm>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub jwt_ttl: Duration,
    pub jwt_leeway: Duration,
    pub secret_key: Option<String>,
    pub bootstrap_key: Option<String>,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    /// `None`: derived from the open-file limit by the server.
    pub max_open_connections: Option<u32>,
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub auth_cache_size: u64,
    pub auth_epoch_poll: Duration,
    pub rate_limit: RateLimitConfig,
    pub redis_key_prefix: String,
    /// Longest wait for a Redis command on the request path (`CONEA_REDIS_TIMEOUT`).
    pub redis_timeout: Duration,
    pub jobs: JobsConfig,
    pub max_import_bytes: u64,
    /// How long the console's Overview stays warm (zero: not kept).
    pub console_overview_ttl: Duration,
    pub upload_timeout: Duration,
    pub ai: AiSettings,
    pub incidents: IncidentsConfig,
    pub shopify: ShopifyConfig,
    pub insights: InsightsConfig,
}

/// Insights (`POST /v1/insights/ask`): the default model, the time budget of a question and
/// the prices that override or add to the built-in table (`CONEA_INSIGHTS_PRICES`).
#[derive(Debug, Clone)]
pub struct InsightsConfig {
    pub model: String,
    pub timeout: Duration,
    pub prices: Vec<ModelPrice>,
}

/// One model's price from `CONEA_INSIGHTS_PRICES`, in whole micro-dollars (µUSD) per
/// million tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPrice {
    /// A provider name (`openai`, `anthropic`, `cohere`, `gemini`, `ollama`).
    pub provider: String,
    /// The model's name at that provider; dated and `-latest` variants share its price.
    pub model: String,
    pub input: u64,
    pub output: u64,
}

#[derive(Debug, Clone)]
pub struct ShopifyConfig {
    /// Default Admin API version of new connections.
    pub api_version: String,
    /// Admin API calls go here instead of `https://{shop}` when set.
    pub base_url: Option<String>,
    pub page_size: u32,
    /// Syncs that would read more objects than this (and first syncs) run as bulk
    /// operations; `None`: never.
    pub bulk_threshold: Option<u64>,
    pub webhooks_per_ip_per_minute: u32,
    /// The Conea Shopify app (install by OAuth), when SHOPIFY_API_KEY is set.
    pub app: Option<ShopifyApp>,
    /// Access scopes asked for at install.
    pub scopes: Vec<String>,
    /// Time from the end of a shop's sync to its next one; `None`: no scheduled syncs.
    pub sync_interval: Option<Duration>,
    /// Time between two reconciliations of a shop (ids at Shopify against ids here);
    /// `None`: only when asked.
    pub reconcile_interval: Option<Duration>,
    /// `CONEA_PUBLIC_URL` when it was set (not its default): the base of the OAuth
    /// `redirect_uri` and of the webhook address Conea registers at each shop. Unset,
    /// Conea registers no webhooks (Shopify cannot reach a default local address).
    pub public_url: Option<String>,
}

/// The Conea Shopify app's credentials.
#[derive(Clone)]
pub struct ShopifyApp {
    pub api_key: String,
    pub api_secret: String,
}

impl std::fmt::Debug for ShopifyApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyApp")
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// Incidents: the escalation policy file, link base URL and built-in detectors.
#[derive(Debug, Clone)]
pub struct IncidentsConfig {
    /// `CONEA_ESCALATION_CONFIG`; `None` runs the default matrix with no channels.
    pub escalation_config: Option<PathBuf>,
    /// Base of links in notifications, without a trailing slash.
    pub public_url: String,
    /// Enabled detectors (`database`, `ai`, `webhooks`, `queue`, `cpu`).
    pub detectors: Vec<String>,
    pub queue_age_threshold: Duration,
    /// The cpu detector's threshold, in percent of the CPU limit.
    pub cpu_percent: u32,
    /// How long CPU must stay above it.
    pub cpu_for: Duration,
}

pub const DETECTORS: [&str; 5] = ["database", "ai", "webhooks", "queue", "cpu"];

/// The AI gateway's settings, handed to `conea-ai` as they are (it validates them).
#[derive(Clone, Default)]
pub struct AiSettings {
    /// Values of the `ai.*` rows of the settings table (environment over file).
    pub values: HashMap<String, String>,
    /// The file's `[ai]` table.
    pub table: Option<toml::Table>,
}

impl std::fmt::Debug for AiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_struct("AiSettings")
            .field("set", &names)
            .field("table", &self.table.is_some())
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct JobsConfig {
    pub worker_concurrency: usize,
    /// Jobs claimed beyond the free slots; `None`: it follows the work, from the worker's
    /// concurrency up to `claim_ahead_max`.
    pub claim_ahead: Option<usize>,
    pub claim_ahead_max: usize,
    /// `data.import` jobs one process runs at once; `None`: 1 on SQLite, 2 on PostgreSQL.
    pub import_concurrency: Option<usize>,
    pub retention: Duration,
    pub lease: Duration,
    pub poll: Duration,
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub per_minute: u32,
    pub burst: u32,
    pub per_address_per_minute: u32,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub failure_mode: crate::ratelimit::service::FailureMode,
    pub max_buckets: u64,
}

/// One problem with the configuration, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub setting: &'static str,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

#[cfg(test)]
mod tests;
