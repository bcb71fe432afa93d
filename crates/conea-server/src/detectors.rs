//! Conea's own detectors: each opens an incident (with a stable dedup key, so it is one
//! incident however long the condition lasts) and resolves it when the condition clears.
//! They run from the housekeeping loop (`app.rs`) every [`INTERVAL`], the first time one
//! interval after the start.
//!
//! - `database`: the database did not answer for 1 minute (critical). The incident can only
//!   be written once the database is back, so it records the outage after the fact.
//! - `ai`: every configured AI provider's circuit is open or misconfigured (high).
//! - `webhooks`: more than [`WEBHOOK_FAILURES`] webhook signature failures within
//!   [`WEBHOOK_WINDOW`] (medium); `ShopifyService` records them in its
//!   [`SignatureFailures`](conea_shopify::integration::SignatureFailures).
//! - `queue`: the oldest runnable job waited longer than `CONEA_DETECTOR_QUEUE_AGE` (high).
//! - `cpu`: the process used more than `CONEA_DETECTOR_CPU_PERCENT` of its CPU limit (the
//!   cgroup quota, else the cores) in every reading of the last `CONEA_DETECTOR_CPU_FOR`
//!   (high); the incident names the routes and job kinds that spent most CPU in that window
//!   ([`crate::cpu::CpuMeter`]).
//!
//! Incidents go to the `default` organization (the bootstrap one).

use crate::state::AppState;
use conea_core::clock::EpochMs;
use conea_core::ids::OrgId;
use conea_core::services::accounts::DEFAULT_ORG_SLUG;
use conea_core::store::AccountsStore;
use conea_incidents::engine::Report;
use conea_incidents::Severity;
use std::collections::BTreeSet;
use std::time::Duration;

pub const INTERVAL: Duration = Duration::from_secs(15);
pub const DATABASE_DOWN_FOR: i64 = 60_000;
pub const WEBHOOK_FAILURES: usize = 10;
pub const WEBHOOK_WINDOW: i64 = 5 * 60_000;

/// What the detectors remember between runs.
pub struct DetectorState {
    db_down_since: Option<EpochMs>,
    /// Detectors whose incident this process opened and has not resolved.
    open: BTreeSet<&'static str>,
    /// Detectors whose incident may be open from before a restart (all at start), so a
    /// leftover is resolved once its condition is clear.
    unknown: BTreeSet<&'static str>,
}

impl Default for DetectorState {
    fn default() -> Self {
        DetectorState {
            db_down_since: None,
            open: BTreeSet::new(),
            unknown: ["database", "ai", "webhooks", "queue", "cpu"]
                .into_iter()
                .collect(),
        }
    }
}

fn dedup_key(name: &str) -> String {
    format!("conea:detector:{name}")
}

async fn default_org(state: &AppState) -> Option<OrgId> {
    let store = state.store();
    match AccountsStore::get_org_by_slug(store, DEFAULT_ORG_SLUG).await {
        Ok(Some(o)) => Some(o.id),
        _ => AccountsStore::list_orgs(store)
            .await
            .ok()
            .and_then(|l| l.into_iter().next().map(|o| o.id)),
    }
}

/// Runs every enabled detector once.
pub async fn run_once(state: &AppState, ds: &mut DetectorState) {
    let enabled = &state.config().incidents.detectors;
    let on = |name: &str| enabled.iter().any(|d| d == name);
    let now = state.clock().now_ms();
    let mut findings: Vec<(&'static str, Option<(String, Severity)>)> = Vec::new();
    if on("database") {
        let report = crate::health::database(state).await;
        if report.status == crate::health::Status::Ok {
            let was = ds.db_down_since.take();
            // An outage long enough is recorded once the database answers again.
            let finding = was
                .filter(|since| now - since >= DATABASE_DOWN_FOR)
                .map(|since| {
                    (
                        format!("Database was unreachable for {} s", (now - since) / 1000),
                        Severity::Critical,
                    )
                });
            if let Some(f) = finding {
                raise(state, ds, "database", f).await;
            }
            findings.push(("database", None));
        } else {
            let since = *ds.db_down_since.get_or_insert(now);
            if now - since >= DATABASE_DOWN_FOR {
                findings.push((
                    "database",
                    Some((
                        "Database unreachable for more than 1 minute".to_owned(),
                        Severity::Critical,
                    )),
                ));
            }
        }
    }
    if on("ai") {
        let providers = crate::health::ai_providers(state);
        let failing = !providers.is_empty()
            && providers
                .iter()
                .all(|p| p.status == "circuit_open" || p.status == "misconfigured");
        findings.push((
            "ai",
            failing.then(|| {
                (
                    format!("All {} AI providers are failing", providers.len()),
                    Severity::High,
                )
            }),
        ));
    }
    if on("webhooks") {
        let n = state
            .platform()
            .shopify
            .signature_failures()
            .since(now - WEBHOOK_WINDOW);
        findings.push((
            "webhooks",
            (n > WEBHOOK_FAILURES).then(|| {
                (
                    format!("{n} webhook signature failures in the last 5 minutes"),
                    Severity::Medium,
                )
            }),
        ));
    }
    if on("queue") {
        let threshold = state.config().incidents.queue_age_threshold.as_millis() as i64;
        if let Ok(stats) = state.platform().jobs.stats().await {
            let age = stats.oldest_available_age_ms.unwrap_or(0);
            findings.push((
                "queue",
                (age > threshold).then(|| {
                    (
                        format!(
                            "Job queue backlog: the oldest runnable job has waited {} s",
                            age / 1000
                        ),
                        Severity::High,
                    )
                }),
            ));
        }
    }
    for (name, finding) in findings {
        match finding {
            Some(f) => raise(state, ds, name, f).await,
            None => clear(state, ds, name).await,
        }
    }
    if on("cpu") {
        let cfg = &state.config().incidents;
        let meter = state.metrics().cpu();
        match meter.sustained(f64::from(cfg.cpu_percent) / 100.0, cfg.cpu_for) {
            Some(s) => {
                let report = cpu_report(&s, meter.limit(), cfg.cpu_percent, cfg.cpu_for);
                raise_report(state, ds, "cpu", report).await;
            }
            None => clear(state, ds, "cpu").await,
        }
    }
}

fn spent_list(spent: &[(String, f64)]) -> String {
    if spent.is_empty() {
        return "none".to_owned();
    }
    spent
        .iter()
        .map(|(name, s)| format!("{name} ({s:.1} s)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `cpu` detector's incident: the utilisation, the limit and where it comes from, and
/// the work that spent most CPU in the window (also in `details` for tools).
pub fn cpu_report(
    s: &conea_core::cpu::Sustained,
    limit: conea_core::cpu::CpuLimit,
    percent: u32,
    span: Duration,
) -> Report {
    let minutes = span.as_secs_f64() / 60.0;
    Report {
        title: format!(
            "CPU at {:.0} % of its limit for {minutes:.0} min (threshold {percent} %)",
            s.ratio * 100.0
        ),
        severity: Severity::High,
        source: Some("conea detector: cpu".to_owned()),
        dedup_key: Some(dedup_key("cpu")),
        summary: Some(format!(
            "This process used {:.0} % of {:.2} cores ({}) over the last {minutes:.0} min. \
             Busiest routes: {}. Busiest job kinds: {}. Look at those first (their latency and volume in \
             /metrics); scale out or raise the CPU limit if the load is expected.",
            s.ratio * 100.0,
            limit.cores,
            limit.source,
            spent_list(&s.busiest_routes),
            spent_list(&s.busiest_jobs),
        )),
        details: Some(serde_json::json!({
            "utilization": s.ratio,
            "limit_cores": limit.cores,
            "limit_source": limit.source,
            "busiest_routes": s.busiest_routes.iter().map(|(r, c)| serde_json::json!({"route": r, "cpu_seconds": c})).collect::<Vec<_>>(),
            "busiest_job_kinds": s.busiest_jobs.iter().map(|(k, c)| serde_json::json!({"kind": k, "cpu_seconds": c})).collect::<Vec<_>>(),
        })),
    }
}

async fn raise(
    state: &AppState,
    ds: &mut DetectorState,
    name: &'static str,
    (title, severity): (String, Severity),
) {
    let report = Report {
        title,
        severity,
        source: Some(format!("conea detector: {name}")),
        dedup_key: Some(dedup_key(name)),
        summary: None,
        details: None,
    };
    raise_report(state, ds, name, report).await;
}

async fn raise_report(
    state: &AppState,
    ds: &mut DetectorState,
    name: &'static str,
    report: Report,
) {
    if ds.open.contains(name) {
        return;
    }
    let Some(org) = default_org(state).await else {
        return;
    };
    match state
        .platform()
        .incidents
        .open_for(&org, report, Some("conea".into()))
        .await
    {
        Ok(_) => {
            ds.open.insert(name);
            ds.unknown.remove(name);
        }
        Err(e) => tracing::warn!(detector = name, error = %e, "could not open a detector incident"),
    }
}

async fn clear(state: &AppState, ds: &mut DetectorState, name: &'static str) {
    if !ds.open.contains(name) && !ds.unknown.contains(name) {
        return;
    }
    let Some(org) = default_org(state).await else {
        return;
    };
    match state
        .platform()
        .incidents
        .resolve_by_dedup(&org, &dedup_key(name), "conea")
        .await
    {
        Ok(_) => {
            ds.open.remove(name);
            ds.unknown.remove(name);
        }
        Err(e) => {
            tracing::warn!(detector = name, error = %e, "could not resolve a detector incident")
        }
    }
}
