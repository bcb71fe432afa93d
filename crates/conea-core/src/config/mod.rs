//! The one configuration loader. Sources, later wins: built-in defaults, the optional TOML
//! file (`--config`), environment variables. Every value is parsed and cross-checked in
//! [`Config::load`], which reports all problems at once, each naming its variable.

pub mod duration;
pub mod secrets;
pub mod settings;

use crate::auth::jwt::{self, JwtSettings};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use settings::{Setting, SETTINGS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
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
    pub auth_cache_size: u64,
    pub auth_epoch_poll: Duration,
    pub rate_limit: RateLimitConfig,
    pub redis_key_prefix: String,
    pub jobs: JobsConfig,
    pub max_import_bytes: u64,
    pub upload_timeout: Duration,
    pub ai: AiSettings,
    pub incidents: IncidentsConfig,
    pub shopify: ShopifyConfig,
}

#[derive(Debug, Clone)]
pub struct ShopifyConfig {
    /// Default Admin API version of new connections.
    pub api_version: String,
    /// Admin API calls go here instead of `https://{shop}` when set.
    pub base_url: Option<String>,
    pub page_size: u32,
    pub webhooks_per_ip_per_minute: u32,
}

/// Incidents: the escalation policy file, link base URL and built-in detectors.
#[derive(Debug, Clone)]
pub struct IncidentsConfig {
    /// `CONEA_ESCALATION_CONFIG`; `None` runs the default matrix with no channels.
    pub escalation_config: Option<PathBuf>,
    /// Base of links in notifications, without a trailing slash.
    pub public_url: String,
    /// Enabled detectors (`database`, `ai`, `webhooks`, `queue`).
    pub detectors: Vec<String>,
    pub queue_age_threshold: Duration,
}

pub const DETECTORS: [&str; 4] = ["database", "ai", "webhooks", "queue"];

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

/// Where an effective value came from (for `conea config check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env,
    Unset,
}

/// The raw values of every setting with their sources, before parsing.
#[derive(Debug, Clone, Default)]
pub struct RawSettings {
    values: HashMap<&'static str, (String, Source)>,
    /// The file's `[ai]` table (aliases and targets are structured, not flat settings).
    ai_table: Option<toml::Table>,
}

impl RawSettings {
    /// Collects values from the environment map and the parsed TOML file.
    pub fn collect(env: &HashMap<String, String>, file: Option<&toml::Table>) -> Self {
        let mut values = HashMap::new();
        for s in SETTINGS {
            let from_env = env.get(s.env).filter(|v| !v.is_empty()).cloned();
            let from_file = file.and_then(|t| lookup_toml(t, s.toml));
            let value = match (from_env, from_file, s.default) {
                (Some(v), _, _) => (v, Source::Env),
                (None, Some(v), _) => (v, Source::File),
                (None, None, Some(d)) => (d.to_owned(), Source::Default),
                (None, None, None) => (String::new(), Source::Unset),
            };
            values.insert(s.env, value);
        }
        let ai_table = file
            .and_then(|t| t.get("ai"))
            .and_then(|v| v.as_table())
            .cloned();
        RawSettings { values, ai_table }
    }

    pub fn get(&self, env: &str) -> Option<&str> {
        self.values
            .get(env)
            .filter(|(_, src)| *src != Source::Unset)
            .map(|(v, _)| v.as_str())
    }

    pub fn source(&self, env: &str) -> Source {
        self.values
            .get(env)
            .map(|(_, s)| *s)
            .unwrap_or(Source::Unset)
    }
}

fn lookup_toml(table: &toml::Table, dotted: &str) -> Option<String> {
    let mut parts = dotted.split('.').peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        let value = current.get(part)?;
        if parts.peek().is_none() {
            return Some(match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        current = value.as_table()?;
    }
    None
}

/// Reads the optional TOML file, naming the file and the parse error on failure.
pub fn read_file(path: &Path) -> Result<toml::Table, Problem> {
    let text = std::fs::read_to_string(path).map_err(|e| Problem {
        setting: "--config",
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    text.parse::<toml::Table>().map_err(|e| Problem {
        setting: "--config",
        message: format!("{} is not valid TOML: {e}", path.display()),
    })
}

impl Config {
    /// Loads from the process environment and an optional file.
    #[allow(clippy::disallowed_methods)] // the configuration loader: where settings are read
    pub fn from_env(file: Option<&Path>) -> Result<(Config, RawSettings), Vec<Problem>> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let table = match file {
            Some(p) => Some(read_file(p).map_err(|p| vec![p])?),
            None => None,
        };
        let raw = RawSettings::collect(&env, table.as_ref());
        Config::load(&raw).map(|c| (c, raw))
    }

    /// Parses and validates every setting; returns every problem found.
    pub fn load(raw: &RawSettings) -> Result<Config, Vec<Problem>> {
        let mut p = Parser {
            raw,
            problems: Vec::new(),
        };
        let bind = p.parse("CONEA_BIND", |v| {
            v.parse::<SocketAddr>()
                .map_err(|_| format!("`{v}` is not an address:port such as 127.0.0.1:8080"))
        });
        let data_dir = PathBuf::from(p.text("CONEA_DATA_DIR").unwrap_or("./conea-data"));
        let url = p
            .text("DATABASE_URL")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sqlite://{}/conea.db", data_dir.display()));
        let backend = if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            p.problem(
                "DATABASE_URL",
                "must start with sqlite:// or postgres:// (e.g. postgres://conea@db:5432/conea)",
            );
            None
        };
        let replica_url = p.text("DATABASE_REPLICA_URL").map(str::to_owned);
        if replica_url
            .as_deref()
            .is_some_and(|u| !(u.starts_with("postgres://") || u.starts_with("postgresql://")))
        {
            p.problem("DATABASE_REPLICA_URL", "must be a postgres:// URL");
        }
        let max_replica_lag = p
            .duration("CONEA_MAX_REPLICA_LAG")
            .unwrap_or(Duration::from_secs(5));
        let max_connections = p.parse("CONEA_DB_MAX_CONNECTIONS", |v| match v.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("`{v}` must be a whole number of at least 1")),
        });
        let idle_timeout = p.duration("CONEA_DB_IDLE_TIMEOUT");
        let connect_timeout = p.duration("CONEA_DB_CONNECT_TIMEOUT");
        let slow = p.parse("CONEA_SLOW_QUERY_MS", |v| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("`{v}` must be a whole number of milliseconds"))
        });
        let redis_url = p.text("REDIS_URL").map(str::to_owned);
        if let Some(r) = &redis_url {
            if !(r.starts_with("redis://") || r.starts_with("rediss://")) {
                p.problem("REDIS_URL", "must start with redis:// or rediss://");
            }
        }
        let jwt_secret = p.text("JWT_SECRET").map(str::to_owned);
        let secret_key = p.text("CONEA_SECRET_KEY").map(str::to_owned);
        for (name, value) in [
            ("JWT_SECRET", &jwt_secret),
            ("CONEA_SECRET_KEY", &secret_key),
        ] {
            match value {
                Some(v) if v.len() < secrets::MIN_SECRET_LEN => p.problem(
                    name,
                    &format!(
                        "is {} characters long; use at least {} (e.g. the output of `openssl rand -hex 32`)",
                        v.len(),
                        secrets::MIN_SECRET_LEN
                    ),
                ),
                None if backend == Some(Backend::Postgres) => p.problem(
                    name,
                    &format!(
                        "is required when DATABASE_URL is PostgreSQL, so that every replica shares it. Set it, e.g. `export {name}=$(openssl rand -hex 32)`"
                    ),
                ),
                _ => {}
            }
        }
        let jwt_algorithms = p.parse("JWT_ALGORITHMS", |v| {
            v.split(',')
                .map(|a| {
                    jwt::parse_algorithm(a.trim())
                        .ok_or_else(|| format!("`{}` is not one of HS256, HS384, HS512", a.trim()))
                })
                .collect::<Result<Vec<_>, _>>()
        });
        let jwt_issuer = p.text("JWT_ISSUER").map(str::to_owned);
        let jwt_audience = p.text("JWT_AUDIENCE").map(str::to_owned);
        let jwt_ttl = p.duration("JWT_TTL");
        let jwt_leeway = p.duration("JWT_LEEWAY");
        let bootstrap_key = p.text("CONEA_BOOTSTRAP_KEY").map(str::to_owned);
        if let Some(k) = &bootstrap_key {
            if !crate::auth::api_key::looks_like_key(k) {
                p.problem(
                    "CONEA_BOOTSTRAP_KEY",
                    "must look like a Conea key: `conea_` followed by at least 32 letters or digits",
                );
            }
        }
        let log_filter = p.text("CONEA_LOG").unwrap_or("info").to_owned();
        let log_format = p.parse("CONEA_LOG_FORMAT", |v| match v {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("`{v}` must be `pretty` or `json`")),
        });
        let request_timeout = p.duration("CONEA_REQUEST_TIMEOUT");
        let max_body_bytes = p.parse("CONEA_MAX_BODY_BYTES", |v| match v.parse::<usize>() {
            Ok(n) if n >= 1024 => Ok(n),
            _ => Err(format!("`{v}` must be a number of bytes, at least 1024")),
        });
        let shutdown_grace = p.duration("CONEA_SHUTDOWN_GRACE");
        let auth_cache_size = p.parse("CONEA_AUTH_CACHE_SIZE", |v| {
            v.parse::<u64>()
                .map_err(|_| format!("`{v}` must be a whole number"))
        });
        let auth_epoch_poll = p.duration("CONEA_AUTH_EPOCH_POLL");
        let rate_limit = rate_limit_config(&mut p);
        let escalation_config = p.text("CONEA_ESCALATION_CONFIG").map(PathBuf::from);
        let public_url = p
            .text("CONEA_PUBLIC_URL")
            .map(|u| u.trim_end_matches('/').to_owned());
        if public_url
            .as_deref()
            .is_some_and(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            p.problem("CONEA_PUBLIC_URL", "must start with http:// or https://");
        }
        let detectors_text = p
            .text("CONEA_INCIDENT_DETECTORS")
            .unwrap_or("all")
            .to_owned();
        let detectors: Vec<String> = match detectors_text.trim() {
            "all" => DETECTORS.iter().map(|d| (*d).to_owned()).collect(),
            "none" | "" => Vec::new(),
            list => list
                .split(',')
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty())
                .collect(),
        };
        for d in &detectors {
            if !DETECTORS.contains(&d.as_str()) {
                p.problem(
                    "CONEA_INCIDENT_DETECTORS",
                    &format!(
                        "unknown detector `{d}` (use all, none, or database, ai, webhooks, queue)"
                    ),
                );
            }
        }
        let queue_age_threshold = p
            .duration("CONEA_DETECTOR_QUEUE_AGE")
            .unwrap_or(Duration::from_secs(600));
        let redis_key_prefix = p
            .text("CONEA_REDIS_KEY_PREFIX")
            .unwrap_or("conea:")
            .to_owned();
        let max_import_bytes = p
            .parse("CONEA_MAX_IMPORT_BYTES", |v| {
                v.parse::<u64>()
                    .map_err(|_| format!("`{v}` must be a number of bytes"))
            })
            .unwrap_or(10 << 30);
        let upload_timeout = p
            .duration("CONEA_UPLOAD_TIMEOUT")
            .unwrap_or(Duration::from_secs(3600));
        let jobs = jobs_config(&mut p);
        let shopify = shopify_config(&mut p);

        let problems = p.problems;
        match (
            bind,
            backend,
            max_connections,
            idle_timeout,
            connect_timeout,
            slow,
            jwt_algorithms,
            jwt_ttl,
            jwt_leeway,
            log_format,
            request_timeout,
            max_body_bytes,
            shutdown_grace,
            auth_cache_size,
            auth_epoch_poll,
            rate_limit,
            jobs,
        ) {
            (
                Some(bind),
                Some(backend),
                Some(max_connections),
                Some(idle_timeout),
                Some(connect_timeout),
                Some(slow_statement),
                Some(jwt_algorithms),
                Some(jwt_ttl),
                Some(jwt_leeway),
                Some(log_format),
                Some(request_timeout),
                Some(max_body_bytes),
                Some(shutdown_grace),
                Some(auth_cache_size),
                Some(auth_epoch_poll),
                Some(rate_limit),
                Some(jobs),
            ) if problems.is_empty() => Ok(Config {
                bind,
                data_dir,
                database: DatabaseConfig {
                    replica_url,
                    max_replica_lag,
                    url,
                    backend,
                    max_connections,
                    idle_timeout,
                    connect_timeout,
                    slow_statement,
                },
                redis_url,
                jwt_secret,
                jwt_algorithms,
                jwt_issuer,
                jwt_audience,
                jwt_ttl,
                jwt_leeway,
                secret_key,
                bootstrap_key,
                log_filter,
                log_format,
                request_timeout,
                max_body_bytes,
                shutdown_grace,
                auth_cache_size,
                auth_epoch_poll,
                rate_limit,
                redis_key_prefix,
                jobs,
                max_import_bytes,
                upload_timeout,
                shopify,
                ai: AiSettings {
                    values: SETTINGS
                        .iter()
                        .filter(|s| s.toml.starts_with("ai."))
                        .filter(|s| {
                            raw.source(s.env) != Source::Default
                                && raw.source(s.env) != Source::Unset
                        })
                        .filter_map(|s| raw.get(s.env).map(|v| (s.env.to_owned(), v.to_owned())))
                        .collect(),
                    table: raw.ai_table.clone(),
                },
                incidents: IncidentsConfig {
                    escalation_config,
                    public_url: public_url.unwrap_or_else(|| format!("http://{bind}")),
                    detectors,
                    queue_age_threshold,
                },
            }),
            _ => Err(problems),
        }
    }

    /// On the embedded default, reads (or creates once, mode 0600) the JWT secret and the
    /// secret key in the data dir. With PostgreSQL the loader already required both.
    pub fn ensure_secrets(&mut self) -> Result<(), Problem> {
        if self.jwt_secret.is_none() {
            self.jwt_secret = Some(secrets::read_or_create(
                &self.data_dir,
                "jwt_secret",
                "JWT_SECRET",
            )?);
        }
        if self.secret_key.is_none() {
            self.secret_key = Some(secrets::read_or_create(
                &self.data_dir,
                "secret_key",
                "CONEA_SECRET_KEY",
            )?);
        }
        Ok(())
    }

    /// The JWT settings; call after [`Config::ensure_secrets`].
    pub fn jwt_settings(&self) -> JwtSettings {
        JwtSettings {
            secret: self.jwt_secret.clone().unwrap_or_default().into_bytes(),
            algorithms: self.jwt_algorithms.clone(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            ttl: self.jwt_ttl,
            leeway: self.jwt_leeway,
        }
    }

    /// The effective configuration as `(setting, value, source)`, secrets redacted.
    pub fn describe(raw: &RawSettings) -> Vec<(&'static str, String, Source)> {
        SETTINGS
            .iter()
            .map(|s| {
                let source = raw.source(s.env);
                let value = match (raw.get(s.env), s.secret) {
                    (None, _) => "(unset)".to_owned(),
                    (Some(v), true) => redact(s.env, v),
                    (Some(v), false) => v.to_owned(),
                };
                (s.env, value, source)
            })
            .collect()
    }
}

fn jobs_config(p: &mut Parser<'_>) -> Option<JobsConfig> {
    let concurrency = p.parse("CONEA_WORKER_CONCURRENCY", |v| match v.parse::<usize>() {
        Ok(n) if n <= 1024 => Ok(n),
        _ => Err(format!(
            "`{v}` must be a whole number from 0 (no worker) to 1024"
        )),
    });
    let retention = p.duration("CONEA_JOB_RETENTION");
    let lease = p.parse("CONEA_JOB_LEASE", |v| match duration::parse(v) {
        Ok(d) if d >= Duration::from_secs(3) => Ok(d),
        Ok(_) => Err(format!("`{v}` is too short; use at least 3s")),
        Err(e) => Err(e),
    });
    let poll = p.duration("CONEA_JOB_POLL");
    Some(JobsConfig {
        worker_concurrency: concurrency?,
        retention: retention?,
        lease: lease?,
        poll: poll?,
    })
}

/// Whether `v` names an Admin API version: `YYYY-MM` (month 01 to 12) or `unstable`.
fn is_api_version(v: &str) -> bool {
    let b = v.as_bytes();
    v == "unstable"
        || (b.len() == 7
            && b[4] == b'-'
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[5..].iter().all(u8::is_ascii_digit)
            && matches!(v[5..].parse::<u8>(), Ok(1..=12)))
}

fn shopify_config(p: &mut Parser<'_>) -> ShopifyConfig {
    let api_version = p
        .parse("SHOPIFY_API_VERSION", |v| {
            if is_api_version(v) {
                Ok(v.to_owned())
            } else {
                Err(format!(
                    "`{v}` must be an Admin API version: `YYYY-MM` (such as 2026-10) or `unstable`"
                ))
            }
        })
        .unwrap_or_else(|| "2026-10".to_owned());
    let base_url = p.parse("SHOPIFY_BASE_URL", |v| match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "`{v}` must be an http(s) URL such as http://127.0.0.1:4000"
        )),
    });
    let page_size = p
        .parse("SHOPIFY_PAGE_SIZE", |v| match v.parse::<u32>() {
            Ok(n) if (1..=250).contains(&n) => Ok(n),
            _ => Err(format!("`{v}` must be a whole number from 1 to 250")),
        })
        .unwrap_or(250);
    let webhooks_per_ip_per_minute = p
        .parse("SHOPIFY_WEBHOOKS_PER_IP_PER_MINUTE", |v| {
            match v.parse::<u32>() {
                Ok(n) if (1..=crate::ratelimit::service::MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(format!(
                    "`{v}` must be a whole number from 1 to {}",
                    crate::ratelimit::service::MAX_LIMIT
                )),
            }
        })
        .unwrap_or(60_000);
    ShopifyConfig {
        api_version,
        base_url,
        page_size,
        webhooks_per_ip_per_minute,
    }
}

fn rate_limit_config(p: &mut Parser<'_>) -> Option<RateLimitConfig> {
    use crate::ratelimit::service::{FailureMode, MAX_LIMIT};
    let count = |v: &str| match v.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{v}` must be a whole number from 1 to {MAX_LIMIT}"
        )),
    };
    let enabled = p.parse("RATE_LIMIT_ENABLED", |v| match v {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("`{v}` must be true or false")),
    });
    let per_minute = p.parse("RATE_LIMIT_PER_MINUTE", count);
    let burst = if p.text("RATE_LIMIT_BURST").is_some() {
        p.parse("RATE_LIMIT_BURST", count)
    } else {
        per_minute
    };
    let per_address = p.parse("RATE_LIMIT_PER_IP_PER_MINUTE", count);
    let trusted = match p.text("CONEA_TRUSTED_PROXIES") {
        None => Some(Vec::new()),
        Some(_) => p.parse("CONEA_TRUSTED_PROXIES", |v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<ipnet::IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| format!("`{s}` is not an address or CIDR"))
                })
                .collect()
        }),
    };
    let failure_mode = p.parse("CONEA_RATE_LIMIT_FAILURE_MODE", |v| match v {
        "open" => Ok(FailureMode::Open),
        "closed" => Ok(FailureMode::Closed),
        _ => Err(format!("`{v}` must be `open` or `closed`")),
    });
    let max_buckets = p.parse("CONEA_RATE_LIMIT_MAX_BUCKETS", |v| match v.parse::<u64>() {
        Ok(n) if n >= 100 => Ok(n),
        _ => Err(format!("`{v}` must be a whole number of at least 100")),
    });
    Some(RateLimitConfig {
        enabled: enabled?,
        per_minute: per_minute?,
        burst: burst?,
        per_address_per_minute: per_address?,
        trusted_proxies: trusted?,
        failure_mode: failure_mode?,
        max_buckets: max_buckets?,
    })
}

/// Hides secrets; for URLs keeps scheme, host and port and hides the password.
pub fn redact(setting: &str, value: &str) -> String {
    if setting.ends_with("_URL") {
        if let Ok(mut u) = url::Url::parse(value) {
            if u.password().is_some() {
                let _ = u.set_password(Some("****"));
            }
            return u.to_string();
        }
    }
    format!("**** ({} characters)", value.len())
}

struct Parser<'a> {
    raw: &'a RawSettings,
    problems: Vec<Problem>,
}

impl Parser<'_> {
    fn text(&self, env: &'static str) -> Option<&str> {
        self.raw.get(env).map(str::trim).filter(|v| !v.is_empty())
    }

    fn problem(&mut self, setting: &'static str, message: &str) {
        self.problems.push(Problem {
            setting,
            message: message.to_owned(),
        });
    }

    fn parse<T>(
        &mut self,
        env: &'static str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.text(env)?.to_owned();
        match f(&value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.problems.push(Problem {
                    setting: env,
                    message,
                });
                None
            }
        }
    }

    fn duration(&mut self, env: &'static str) -> Option<Duration> {
        self.parse(env, duration::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shopify_api_version_defaults_to_a_quarterly_release_and_is_validated() {
        let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("valid");
        assert_eq!(c.shopify.api_version, "2026-10");
        assert_eq!(c.shopify.base_url, None);
        for bad in ["2026-13", "2026-1", "latest"] {
            let problems = Config::load(&RawSettings::collect(
                &env(&[("SHOPIFY_API_VERSION", bad)]),
                None,
            ))
            .expect_err("invalid version");
            assert!(
                problems.iter().any(|p| p.setting == "SHOPIFY_API_VERSION"),
                "{bad}: {problems:?}"
            );
        }
        let c = Config::load(&RawSettings::collect(
            &env(&[("SHOPIFY_API_VERSION", "2025-07")]),
            None,
        ))
        .expect("valid");
        assert_eq!(c.shopify.api_version, "2025-07");
    }

    #[test]
    fn defaults_give_embedded_sqlite_on_localhost() {
        let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("valid");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.backend, Backend::Sqlite);
        assert_eq!(c.database.url, "sqlite://./conea-data/conea.db");
        assert_eq!(c.database.max_connections, 20);
        assert_eq!(c.database.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.jwt_ttl, Duration::from_secs(3600));
    }

    #[test]
    fn postgres_without_secrets_names_both_variables() {
        let raw = RawSettings::collect(&env(&[("DATABASE_URL", "postgres://u@h:5432/d")]), None);
        let problems = Config::load(&raw).expect_err("secrets required");
        let names: Vec<_> = problems.iter().map(|p| p.setting).collect();
        assert_eq!(names, vec!["JWT_SECRET", "CONEA_SECRET_KEY"]);
        assert!(problems[0].message.contains("openssl rand"));
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let raw = RawSettings::collect(
            &env(&[
                ("CONEA_BIND", "nowhere"),
                ("JWT_TTL", "soon"),
                ("CONEA_LOG_FORMAT", "xml"),
            ]),
            None,
        );
        let problems = Config::load(&raw).expect_err("invalid");
        let names: Vec<_> = problems.iter().map(|p| p.setting).collect();
        assert_eq!(names, vec!["CONEA_BIND", "JWT_TTL", "CONEA_LOG_FORMAT"]);
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let file: toml::Table = "[server]\nbind = \"0.0.0.0:9000\"\nrequest_timeout = \"5s\"\n[database]\nmax_connections = 7\n"
            .parse()
            .expect("toml");
        let raw = RawSettings::collect(&env(&[("CONEA_REQUEST_TIMEOUT", "9s")]), Some(&file));
        let c = Config::load(&raw).expect("valid");
        assert_eq!(c.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(c.database.max_connections, 7);
        assert_eq!(c.request_timeout, Duration::from_secs(9));
        assert_eq!(raw.source("CONEA_BIND"), Source::File);
        assert_eq!(raw.source("CONEA_REQUEST_TIMEOUT"), Source::Env);
    }

    #[test]
    fn rate_limit_defaults_and_overrides() {
        let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("valid");
        assert_eq!((c.rate_limit.per_minute, c.rate_limit.burst), (100, 100));
        let raw = RawSettings::collect(
            &env(&[
                ("RATE_LIMIT_PER_MINUTE", "200"),
                ("CONEA_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
            ]),
            None,
        );
        let c = Config::load(&raw).expect("valid");
        assert_eq!((c.rate_limit.per_minute, c.rate_limit.burst), (200, 200));
        assert_eq!(c.rate_limit.trusted_proxies.len(), 2);
        let raw = RawSettings::collect(
            &env(&[
                ("CONEA_RATE_LIMIT_FAILURE_MODE", "maybe"),
                ("RATE_LIMIT_BURST", "0"),
            ]),
            None,
        );
        let names: Vec<_> = Config::load(&raw)
            .expect_err("bad")
            .iter()
            .map(|p| p.setting)
            .collect();
        assert_eq!(
            names,
            vec!["RATE_LIMIT_BURST", "CONEA_RATE_LIMIT_FAILURE_MODE"]
        );
    }

    #[test]
    fn short_secret_is_a_problem_and_describe_redacts() {
        let raw = RawSettings::collect(
            &env(&[
                ("JWT_SECRET", "short"),
                ("DATABASE_URL", "postgres://u:hunter2@h/d"),
            ]),
            None,
        );
        let problems = Config::load(&raw).expect_err("short");
        assert!(problems
            .iter()
            .any(|p| p.setting == "JWT_SECRET" && p.message.contains("at least 32")));
        let described = Config::describe(&raw);
        let text = format!("{described:?}");
        assert!(!text.contains("hunter2"));
        assert!(!text.contains("short\""));
    }
}
