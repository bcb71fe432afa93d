//! Checks against the local configuration: settings, database, Redis, jobs.

use super::{timed, Check};
use conea_core::config::{Backend, Config, RawSettings};
use conea_store::{diagnostics as dx, migrate, Db};
use std::collections::HashMap;
use std::path::Path;

#[allow(clippy::disallowed_methods)] // a CLI config entry point: the environment goes to the loader
pub async fn run(file: Option<&Path>, idle_over: std::time::Duration) -> Vec<Check> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let table = match file.map(conea_core::config::read_file) {
        Some(Ok(t)) => Some(t),
        Some(Err(p)) => {
            return vec![Check::fail(
                "config",
                p.message,
                "fix the file given with --config",
            )]
        }
        None => None,
    };
    let raw = RawSettings::collect(&env, table.as_ref());
    let mut config = match Config::load(&raw) {
        Ok(c) => c,
        Err(problems) => {
            return problems
                .into_iter()
                .map(|p| {
                    Check::fail(
                        "config",
                        format!("{}: {}", p.setting, p.message),
                        format!(
                            "set {} correctly; `conea config check` lists every setting",
                            p.setting
                        ),
                    )
                })
                .collect()
        }
    };
    let mut checks = vec![Check::ok(
        "config",
        format!(
            "valid ({} database, {})",
            config.database.backend.as_str(),
            if config.redis_url.is_some() {
                "Redis configured"
            } else {
                "no Redis"
            }
        ),
    )];
    if let Err(p) = config.ensure_secrets() {
        checks.push(Check::fail(
            "config.secrets",
            p.to_string(),
            "set JWT_SECRET and CONEA_SECRET_KEY (32+ characters)",
        ));
    }
    let connect = conea_store::db::connect_as(&config.database, "conea-diagnose");
    let db = match tokio::time::timeout(super::CHECK_TIMEOUT, connect).await {
        Ok(Ok(db)) => Some(db),
        Ok(Err(e)) => {
            checks.push(Check::fail(
                "database",
                e.to_string(),
                "start the database or correct DATABASE_URL",
            ));
            None
        }
        Err(_) => {
            checks.push(Check::fail(
                "database",
                "no answer within 5 s",
                "the database hangs: check its host, network and load",
            ));
            None
        }
    };
    if let Some(db) = db {
        checks.extend(timed("database", database(&db, &config, idle_over)).await);
        checks.extend(timed("replication", replication(&db, &config)).await);
        checks.extend(timed("jobs", jobs(&db)).await);
        checks.extend(timed("shopify", shopify(&db, &config)).await);
        db.close().await;
    }
    checks.extend(timed("redis", redis(&config)).await);
    checks
}

async fn database(db: &Db, config: &Config, idle_over: std::time::Duration) -> Vec<Check> {
    let mut out = Vec::new();
    match (db.ping().await, dx::server_version(db).await) {
        (Ok(latency), Ok(version)) => {
            let ms = latency.as_secs_f64() * 1000.0;
            let c = format!("{version} answered in {ms:.1} ms");
            out.push(if ms > 100.0 {
                Check::warn(
                    "database",
                    c,
                    "the database is slow to answer: check its load and network",
                )
            } else {
                Check::ok("database", c)
            });
        }
        (Err(e), _) | (_, Err(e)) => {
            out.push(Check::fail(
                "database",
                e.to_string(),
                "start the database or correct DATABASE_URL",
            ));
            return out;
        }
    }
    match migrate::status(db).await {
        Ok(s) if s.current() => out.push(Check::ok(
            "database.migrations",
            format!("{} of {} applied", s.applied, s.known),
        )),
        Ok(s) => out.push(Check::fail(
            "database.migrations",
            format!("{} of {} applied", s.applied, s.known),
            "run `conea migrate`",
        )),
        Err(e) => out.push(Check::fail(
            "database.migrations",
            e.to_string(),
            "run `conea migrate`",
        )),
    }
    if config.database.backend != Backend::Postgres {
        return out;
    }
    if let Ok(groups) = dx::connections(db).await {
        let conea: i64 = groups
            .iter()
            .filter(|g| g.application_name.starts_with("conea"))
            .map(|g| g.count)
            .sum();
        let summary: Vec<String> = groups
            .iter()
            .map(|g| format!("{}/{}={}", g.application_name, g.state, g.count))
            .collect();
        let max = i64::from(config.database.max_connections);
        let finding = format!(
            "{conea} Conea connections (pool max {max} per process); by application/state: {}",
            summary.join(", ")
        );
        out.push(if conea >= max { Check::warn("database.pool", finding, "a pool is at CONEA_DB_MAX_CONNECTIONS: raise it, or find slow statements with `conea db slow`") } else { Check::ok("database.pool", finding) });
    }
    let limit = conea_core::config::duration::format(idle_over);
    match dx::idle_connections(db, idle_over.as_secs_f64(), "").await {
        Ok(idle) if idle.is_empty() => out.push(Check::ok("database.idle", format!("no connection idle for more than {limit}"))),
        Ok(idle) => out.push(Check::warn(
            "database.idle",
            format!("{} connection(s) idle for more than {limit} (oldest {:.0} s, application `{}`)", idle.len(), idle[0].idle_seconds, idle[0].application_name),
            format!("`conea db connections --idle-over {limit} --terminate` (only Conea's own unless --all)"),
        )),
        Err(e) => out.push(Check::warn("database.idle", e.to_string(), "grant pg_monitor to Conea's role to read pg_stat_activity")),
    }
    if let Ok(Some((used, max))) = dx::connection_headroom(db).await {
        let pct = used as f64 * 100.0 / max as f64;
        let finding = format!("{used} of max_connections {max} in use ({pct:.0} %)");
        out.push(match pct {
            p if p >= 95.0 => Check::fail("database.headroom", finding, "too many connections: lower CONEA_DB_MAX_CONNECTIONS × replicas, terminate idle ones, or raise max_connections"),
            p if p >= 80.0 => Check::warn("database.headroom", finding, "approaching max_connections: check `conea db connections`"),
            _ => Check::ok("database.headroom", finding),
        });
    }
    match dx::slow_statements(db, 5).await {
        Ok(None) => out.push(Check::ok("database.slow", "pg_stat_statements is not installed; Conea logs statements over CONEA_SLOW_QUERY_MS and counts them in conea_db_slow_statements_total")),
        Ok(Some(rows)) => {
            let limit = config.database.slow_statement.as_millis() as f64;
            let slow: Vec<_> = rows.iter().filter(|r| r.mean_exec_time_ms > limit).collect();
            match slow.first() {
                None => out.push(Check::ok("database.slow", format!("no statement averages over {limit:.0} ms"))),
                Some(s) => out.push(Check::warn(
                    "database.slow",
                    format!("{} statement(s) average over {limit:.0} ms; slowest {:.0} ms: {}", slow.len(), s.mean_exec_time_ms, s.query.chars().take(80).collect::<String>()),
                    "`conea db slow` lists them; add an index or move the work to a job",
                )),
            }
        }
        Err(e) => out.push(Check::warn("database.slow", e.to_string(), "grant pg_read_all_stats to read pg_stat_statements")),
    }
    out
}

async fn jobs(db: &Db) -> Vec<Check> {
    let store = conea_store::SqlStore::new(db.clone(), std::time::Duration::from_secs(60));
    let now = conea_core::Clock::now_ms(&conea_core::SystemClock);
    match conea_jobs::JobStore::stats(&store, now).await {
        Err(e) => vec![Check::fail("jobs", e.to_string(), "run `conea migrate`")],
        Ok(s) => {
            let waiting: i64 = s
                .counts
                .iter()
                .filter(|(_, st, _)| {
                    matches!(
                        st,
                        conea_jobs::JobState::Available | conea_jobs::JobState::Retryable
                    )
                })
                .map(|(_, _, n)| n)
                .sum();
            let age_s = s.oldest_available_age_ms.unwrap_or(0) / 1000;
            let finding = format!(
                "{waiting} waiting; oldest waiting {age_s} s; {} discarded in the last hour",
                s.discarded_last_hour
            );
            let mut out = vec![match age_s {
                a if a >= 1800 => Check::fail("jobs.queue", finding, "no worker is taking jobs: start `conea worker` or set CONEA_WORKER_CONCURRENCY > 0, and check its logs"),
                a if a >= 300 => Check::warn("jobs.queue", finding, "workers are behind: add `conea worker` processes or raise CONEA_WORKER_CONCURRENCY"),
                _ => Check::ok("jobs.queue", finding),
            }];
            if s.discarded_last_hour > 0 {
                out.push(Check::warn(
                    "jobs.discarded",
                    format!("{} job(s) discarded in the last hour", s.discarded_last_hour),
                    "`conea jobs list --status discarded` shows their errors; `conea jobs retry ID` after fixing the cause",
                ));
            }
            out
        }
    }
}

async fn redis(config: &Config) -> Vec<Check> {
    let Some(url) = &config.redis_url else {
        return vec![Check::ok(
            "redis",
            "not configured: rate limits are counted per process",
        )];
    };
    // A check, not a request: a slow Redis is reported with its latency rather than cut off
    // at the request-path timeout.
    let timeout = config.redis_timeout.max(std::time::Duration::from_secs(2));
    let handle = match conea_store::redis_limiter::RedisHandle::new(url, timeout) {
        Ok(h) => h,
        Err(e) => return vec![Check::fail("redis", e, "correct REDIS_URL")],
    };
    match handle.ping().await {
        Ok(latency) => {
            let memory = handle.used_memory().await.map(|b| format!(", {:.1} MiB used", b as f64 / 1048576.0)).unwrap_or_default();
            vec![Check::ok("redis", format!("answered in {:.1} ms{memory}", latency.as_secs_f64() * 1000.0))]
        }
        Err(e) => vec![Check::fail(
            "redis",
            format!("unreachable: {e}"),
            "start Redis or correct REDIS_URL; meanwhile CONEA_RATE_LIMIT_FAILURE_MODE decides (open: per-process limits; closed: 503)",
        )],
    }
}

async fn replication(db: &Db, config: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    if let Ok(peers) = dx::replication_peers(db).await {
        let max = config.database.max_replica_lag.as_secs_f64();
        for p in peers
            .iter()
            .filter(|p| p.replay_lag_seconds.is_some_and(|l| l > max))
        {
            out.push(Check::warn(
                "replication.primary",
                format!(
                    "replica {} ({}) replays {:.1} s behind",
                    p.client_addr,
                    p.application_name,
                    p.replay_lag_seconds.unwrap_or(0.0)
                ),
                "check the replica's load and network; `conea db replication` shows every replica",
            ));
        }
    }
    let Some(url) = &config.database.replica_url else {
        return out;
    };
    let mut cfg = config.database.clone();
    cfg.url = url.clone();
    let max = config.database.max_replica_lag;
    match conea_store::db::connect_as(&cfg, "conea-diagnose").await {
        Err(e) => out.push(Check::fail(
            "replication.replica",
            e.to_string(),
            "start the replica or correct DATABASE_REPLICA_URL",
        )),
        Ok(replica) => {
            match dx::replica_lag_seconds(&replica).await {
                Ok(None) => out.push(Check::warn(
                    "replication.replica",
                    "the server at DATABASE_REPLICA_URL is not in recovery: it is not a replica",
                    "point DATABASE_REPLICA_URL at a streaming replica",
                )),
                Ok(Some(lag)) if lag > max.as_secs_f64() => out.push(Check::warn(
                    "replication.replica",
                    format!("replica lag {lag:.1} s exceeds CONEA_MAX_REPLICA_LAG ({} s)", max.as_secs()),
                    "check pg_stat_replication on the primary (`conea db replication`); the replication slot and the replica's WAL receiver",
                )),
                Ok(Some(lag)) => out.push(Check::ok("replication.replica", format!("replica lag {lag:.1} s"))),
                Err(e) => out.push(Check::fail("replication.replica", e.to_string(), "grant pg_monitor to Conea's role")),
            }
            replica.close().await;
        }
    }
    out
}

/// Shopify shops whose token Shopify refused (they stopped syncing until reconnected), and
/// shops whose API version Shopify flagged as deprecated.
async fn shopify(db: &Db, config: &Config) -> Vec<Check> {
    use conea_shopify::integration::store::{ShopifyStatus, ShopifyStore};
    let store = conea_store::SqlStore::new(db.clone(), std::time::Duration::from_secs(60));
    let mut out = match store
        .shopify_shops_with_status(ShopifyStatus::Unauthorized)
        .await
    {
        Ok(shops) if shops.is_empty() => vec![Check::ok("shopify", "no shop is unauthorized")],
        Ok(shops) => shops
            .into_iter()
            .map(|s| {
                Check::warn(
                    "shopify.unauthorized",
                    format!(
                        "{} ({}) is unauthorized: {}",
                        s.domain,
                        s.shop_id,
                        s.status_message.as_deref().unwrap_or("Shopify refused its token")
                    ),
                    "the merchant revoked the token or a scope is missing: connect the shop again (POST /v1/integrations/shopify/shops) with a valid access token",
                )
            })
            .collect(),
        // Before the Shopify migration there is nothing to report.
        Err(_) => return Vec::new(),
    };
    match store.shopify_deprecations().await {
        Ok(shops) if shops.is_empty() => out.push(Check::ok(
            "shopify.api_version",
            format!(
                "no shop's API version is flagged as deprecated (SHOPIFY_API_VERSION {})",
                config.shopify.api_version
            ),
        )),
        Ok(shops) => out.extend(shops.into_iter().filter_map(|s| {
            let n = s.deprecation?;
            Some(Check::warn(
                "shopify.api_version",
                format!(
                    "Shopify flagged {} ({}) API version {} as deprecated on {} at {}: {} (SHOPIFY_API_VERSION is {})",
                    s.domain,
                    s.shop_id,
                    n.api_version,
                    n.endpoint,
                    conea_core::clock::rfc3339(n.seen_at),
                    n.reason,
                    config.shopify.api_version
                ),
                conea_server::health::DEPRECATION_FIX,
            ))
        })),
        Err(_) => {}
    }
    out
}
