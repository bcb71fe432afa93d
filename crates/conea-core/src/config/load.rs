//! [`Config::load`]: the declared settings parsed, the cross-setting rules checked, then the
//! typed settings shaped into the [`Config`] the crates use.

use super::settings::{var, Parsed, Settings};
use super::JobsConfig;
use super::{secrets, validate, RawSettings, SETTINGS};
use super::{AiSettings, Backend, Config, DatabaseConfig, IncidentsConfig, InsightsConfig};
use super::{Problem, RateLimitConfig, ShopifyApp, ShopifyConfig, Source};
use crate::auth::jwt::JwtSettings;
use std::collections::HashMap;
use std::path::Path;

impl Config {
    /// Loads from the process environment and an optional file.
    #[allow(clippy::disallowed_methods)] // the configuration loader: where settings are read
    pub fn from_env(file: Option<&Path>) -> Result<(Config, RawSettings), Vec<Problem>> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let table = match file {
            Some(p) => Some(super::read_file(p).map_err(|p| vec![p])?),
            None => None,
        };
        let raw = RawSettings::collect(&env, table.as_ref());
        Config::load(&raw).map(|c| (c, raw))
    }

    /// Parses and validates every setting; returns every problem found: first each
    /// rejected value in table order, then each broken cross-setting rule.
    pub fn load(raw: &RawSettings) -> Result<Config, Vec<Problem>> {
        let mut problems = Vec::new();
        let parsed = Parsed::read(raw, &mut problems);
        validate::cross_settings(&parsed, raw, &mut problems);
        match parsed.finish() {
            Some(settings) if problems.is_empty() => Ok(Config::shape(settings, raw)),
            _ => Err(problems),
        }
    }

    /// The typed settings grouped as the crates use them, with the defaults that depend
    /// on other settings (database URL, burst, public URL).
    fn shape(s: Settings, raw: &RawSettings) -> Config {
        let data_dir = s.data_dir;
        let (backend, url) = s.database_url.unwrap_or_else(|| {
            (
                Backend::Sqlite,
                format!("sqlite://{}/conea.db", data_dir.display()),
            )
        });
        Config {
            bind: s.bind,
            database: DatabaseConfig {
                replica_url: s.replica_url,
                max_replica_lag: s.max_replica_lag,
                url,
                backend,
                max_connections: s.max_connections,
                idle_timeout: s.idle_timeout,
                connect_timeout: s.connect_timeout,
                slow_statement: s.slow_statement,
            },
            data_dir,
            redis_url: s.redis_url,
            jwt_secret: s.jwt_secret,
            jwt_algorithms: s.jwt_algorithms,
            jwt_issuer: Some(s.jwt_issuer),
            jwt_audience: Some(s.jwt_audience),
            jwt_ttl: s.jwt_ttl,
            jwt_leeway: s.jwt_leeway,
            secret_key: s.secret_key,
            bootstrap_key: s.bootstrap_key,
            log_filter: s.log_filter,
            log_format: s.log_format,
            request_timeout: s.request_timeout,
            max_body_bytes: s.max_body_bytes,
            shutdown_grace: s.shutdown_grace,
            max_open_connections: s.max_open_connections,
            header_read_timeout: s.header_read_timeout,
            keep_alive_timeout: s.keep_alive_timeout,
            auth_cache_size: s.auth_cache_size,
            auth_epoch_poll: s.auth_epoch_poll,
            rate_limit: RateLimitConfig {
                enabled: s.rate_limit_enabled,
                per_minute: s.rate_per_minute,
                burst: s.rate_burst.unwrap_or(s.rate_per_minute),
                per_address_per_minute: s.rate_per_address_per_minute,
                trusted_proxies: s.trusted_proxies.unwrap_or_default(),
                failure_mode: s.failure_mode,
                max_buckets: s.max_buckets,
            },
            redis_key_prefix: s.redis_key_prefix,
            redis_timeout: s.redis_timeout,
            jobs: JobsConfig {
                worker_concurrency: s.worker_concurrency,
                claim_ahead: s.job_claim_ahead,
                claim_ahead_max: s.job_claim_ahead_max,
                import_concurrency: s.import_concurrency,
                retention: s.job_retention,
                lease: s.job_lease,
                poll: s.job_poll,
            },
            max_import_bytes: s.max_import_bytes,
            console_overview_ttl: s.console_overview_ttl,
            upload_timeout: s.upload_timeout,
            ai: AiSettings {
                values: ai_values(raw),
                table: raw.ai_table.clone(),
            },
            incidents: IncidentsConfig {
                escalation_config: s.escalation_config,
                public_url: s
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{}", s.bind)),
                detectors: s.detectors,
                queue_age_threshold: s.queue_age_threshold,
                cpu_percent: s.cpu_percent,
                cpu_for: s.cpu_for,
            },
            shopify: ShopifyConfig {
                api_version: s.shopify_api_version,
                base_url: s.shopify_base_url,
                page_size: s.shopify_page_size,
                bulk_threshold: s.shopify_bulk_threshold,
                webhooks_per_ip_per_minute: s.shopify_webhooks_per_ip_per_minute,
                app: match (s.shopify_api_key, s.shopify_api_secret) {
                    (Some(api_key), Some(api_secret)) => Some(ShopifyApp {
                        api_key,
                        api_secret,
                    }),
                    _ => None,
                },
                scopes: s.shopify_scopes,
                sync_interval: s.shopify_sync_interval,
                reconcile_interval: s.shopify_reconcile_interval,
                public_url: s.public_url,
            },
            insights: InsightsConfig {
                model: s.insights_model,
                timeout: s.insights_timeout,
                prices: s.insights_prices.unwrap_or_default(),
            },
        }
    }

    /// On the embedded default, reads (or creates once, mode 0600) the JWT secret and the
    /// secret key in the data dir. With PostgreSQL the loader already required both.
    pub fn ensure_secrets(&mut self) -> Result<(), Problem> {
        if self.jwt_secret.is_none() {
            self.jwt_secret = Some(secrets::read_or_create(
                &self.data_dir,
                "jwt_secret",
                var::JWT_SECRET,
            )?);
        }
        if self.secret_key.is_none() {
            self.secret_key = Some(secrets::read_or_create(
                &self.data_dir,
                "secret_key",
                var::CONEA_SECRET_KEY,
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

/// The `ai.*` settings given in the environment or the file, as text by variable name:
/// `conea-ai` validates them (and applies its own defaults).
fn ai_values(raw: &RawSettings) -> HashMap<String, String> {
    SETTINGS
        .iter()
        .filter(|s| s.toml.starts_with("ai."))
        .filter(|s| matches!(raw.source(s.env), Source::Env | Source::File))
        .filter_map(|s| raw.get(s.env).map(|v| (s.env.to_owned(), v.to_owned())))
        .collect()
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
