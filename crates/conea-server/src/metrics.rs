//! Prometheus metrics, held in the application state (no global registry): HTTP requests by
//! method, route template and status; a latency histogram; pool gauges, statement counters
//! and cache sizes read at scrape time; build info.

use crate::cpu::CpuMeter;
use crate::platform::Platform;
use conea_core::ratelimit::service::{RateLimitService, Verdict};
use conea_core::ratelimit::LimiterBackend;
use conea_core::services::Authenticator;
use conea_store::{Db, StatementStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::cell::Cell;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    outcome: &'static str,
    backend: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadRouteLabels {
    target: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    kind: String,
    state: &'static str,
}

/// Job run times by kind and outcome, fed by the worker.
#[derive(Clone)]
pub struct JobRunMetrics {
    runs: Family<JobLabels, Histogram>,
    cpu: Arc<conea_core::cpu::CpuLedger>,
}

impl conea_jobs::JobObserver for JobRunMetrics {
    fn finished(&self, kind: &str, outcome: &'static str, took: Duration) {
        self.runs
            .get_or_create(&JobLabels {
                kind: kind.to_owned(),
                outcome,
            })
            .observe(took.as_secs_f64());
    }

    fn cpu_ledger(&self) -> Option<Arc<conea_core::cpu::CpuLedger>> {
        Some(self.cpu.clone())
    }
}

/// The last queue statistics read (refreshed every few seconds by the server).
#[derive(Debug, Default)]
struct QueueSnapshot {
    stats: std::sync::Mutex<Option<conea_jobs::QueueStats>>,
}

impl Collector for QueueSnapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(stats) = self.stats.lock().ok().and_then(|s| s.clone()) else {
            return Ok(());
        };
        let family = Family::<QueueLabels, prometheus_client::metrics::gauge::Gauge>::default();
        let mut depth = 0i64;
        for (kind, state, n) in &stats.counts {
            family
                .get_or_create(&QueueLabels {
                    kind: kind.clone(),
                    state: state.as_str(),
                })
                .set(*n);
            if matches!(
                state,
                conea_jobs::JobState::Available | conea_jobs::JobState::Retryable
            ) {
                depth += n;
            }
        }
        let e = encoder.encode_descriptor(
            "conea_jobs",
            "Jobs by kind and state.",
            None,
            family.metric_type(),
        )?;
        family.encode(e)?;
        encode_const(
            &mut encoder,
            "conea_jobs_queue_depth",
            "Jobs waiting to run (available or retryable).",
            ConstGauge::new(depth),
        )?;
        encode_const(
            &mut encoder,
            "conea_jobs_oldest_available_age_seconds",
            "Age of the oldest job that could run now.",
            ConstGauge::new(stats.oldest_available_age_ms.unwrap_or(0) as f64 / 1000.0),
        )?;
        encode_const(
            &mut encoder,
            "conea_jobs_discarded_last_hour",
            "Jobs discarded in the last hour.",
            ConstGauge::new(stats.discarded_last_hour),
        )?;
        Ok(())
    }
}

pub struct Metrics {
    registry: Registry,
    job_runs: JobRunMetrics,
    queue: Arc<QueueSnapshot>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    limits: LimitMetrics,
    read_routes: Family<ReadRouteLabels, Counter>,
    webhooks: Family<WebhookLabels, Counter>,
    insights_checked: Counter,
    insights_ungrounded: Counter,
    cpu: Arc<CpuMeter>,
}

/// Rate-limit decisions and latency, with each backend's series resolved once (a labelled
/// lookup per request was a measurable share of the limiter's cost).
struct LimitMetrics {
    memory: BackendSeries,
    redis: BackendSeries,
}

struct BackendSeries {
    allowed: Counter,
    limited: Counter,
    latency: Histogram,
}

impl LimitMetrics {
    /// The series of the two backends (`Limiter::name`: `memory`, `redis`), taken from the
    /// registered families.
    fn new(
        decisions: &Family<DecisionLabels, Counter>,
        latency: &Family<BackendLabels, Histogram>,
    ) -> Self {
        // One statement per series: `get_or_create` returns a read guard, and a second
        // call that creates while the first guard lives would wait for itself.
        let series = |backend: LimiterBackend| {
            let backend = backend.as_str();
            let allowed = decisions
                .get_or_create(&DecisionLabels {
                    outcome: "allowed",
                    backend,
                })
                .clone();
            let limited = decisions
                .get_or_create(&DecisionLabels {
                    outcome: "limited",
                    backend,
                })
                .clone();
            let latency = latency.get_or_create(&BackendLabels { backend }).clone();
            BackendSeries {
                allowed,
                limited,
                latency,
            }
        };
        LimitMetrics {
            memory: series(LimiterBackend::Memory),
            redis: series(LimiterBackend::Redis),
        }
    }

    /// Counts every decision; times every Redis decision (and every decision that fell
    /// back from Redis) but one in [`IN_PROCESS_TIMED_ONE_IN`] in-process decisions on each
    /// thread: an in-process decision takes well under the first bucket (50 µs), and
    /// reading the clock and filling the histogram for every one cost more than deciding.
    fn observe(&self, v: &Verdict, started: Instant) {
        let series = match v.backend {
            LimiterBackend::Redis => &self.redis,
            LimiterBackend::Memory => &self.memory,
        };
        let in_process = v.backend == LimiterBackend::Memory && !v.fell_back;
        if v.decision.allowed {
            &series.allowed
        } else {
            &series.limited
        }
        .inc();
        if !in_process || Self::time_this_one() {
            series.latency.observe(started.elapsed().as_secs_f64());
        }
    }

    fn time_this_one() -> bool {
        thread_local! {
            static SEEN: Cell<u32> = const { Cell::new(0) };
        }
        SEEN.with(|seen| {
            let n = seen.get().wrapping_add(1);
            seen.set(n);
            n % IN_PROCESS_TIMED_ONE_IN == 0
        })
    }
}

/// In-process rate-limit decisions are timed one in this many (per thread).
pub const IN_PROCESS_TIMED_ONE_IN: u32 = 16;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    /// `accepted`, `duplicate`, `unknown_shop`, `invalid_signature`, `invalid_headers`, `error`
    outcome: &'static str,
}

/// Values read from the live components at each scrape.
struct Live {
    db: Db,
    stats: Arc<StatementStats>,
    authn: Arc<Authenticator>,
    limits: Arc<RateLimitService>,
    ai: Arc<conea_ai::Gateway>,
    reads: Arc<conea_core::reads::ReadRouter>,
    shopify: Arc<conea_shopify::integration::ShopifyService>,
    throttles: conea_shopify::Throttles,
    cpu: Arc<CpuMeter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CpuRouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CpuJobLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
    state: String,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

fn encode_const<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: M,
) -> Result<(), std::fmt::Error> {
    let e = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
    metric.encode(e)
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let pool = self.db.pool_status();
        encode_const(
            &mut encoder,
            "conea_db_pool_connections",
            "Open connections in the database pool.",
            ConstGauge::new(pool.size as i64),
        )?;
        encode_const(
            &mut encoder,
            "conea_db_pool_idle",
            "Idle connections in the database pool.",
            ConstGauge::new(pool.idle as i64),
        )?;
        encode_const(
            &mut encoder,
            "conea_db_pool_max",
            "Largest size of the database pool (CONEA_DB_MAX_CONNECTIONS).",
            ConstGauge::new(pool.max as i64),
        )?;
        if let Some(wal) = self.db.sqlite_wal_bytes() {
            encode_const(
                &mut encoder,
                "conea_sqlite_wal_bytes",
                "Size of the SQLite write-ahead log; truncated once above 64 MiB.",
                ConstGauge::new(i64::try_from(wal).unwrap_or(i64::MAX)),
            )?;
        }
        encode_const(
            &mut encoder,
            "conea_db_statements",
            "Statements run by the store.",
            ConstCounter::new(self.stats.total()),
        )?;
        encode_const(
            &mut encoder,
            "conea_db_slow_statements",
            "Statements slower than CONEA_SLOW_QUERY_MS.",
            ConstCounter::new(self.stats.slow()),
        )?;
        encode_const(
            &mut encoder,
            "conea_db_statement_errors",
            "Statements that returned an error.",
            ConstCounter::new(self.stats.errors()),
        )?;
        encode_const(
            &mut encoder,
            "conea_auth_cache_entries",
            "Credentials held in the authentication cache.",
            ConstGauge::new(self.authn.cache_entries() as i64),
        )?;
        encode_const(
            &mut encoder,
            "conea_shopify_connection_cache_entries",
            "Shopify connections held by the webhook path's cache.",
            ConstGauge::new(self.shopify.cached_connections() as i64),
        )?;
        encode_const(
            &mut encoder,
            "conea_shopify_throttle_shops",
            "Shops whose Admin API throttle state this process holds.",
            ConstGauge::new(self.throttles.len() as i64),
        )?;
        encode_const(
            &mut encoder,
            "conea_incident_signal_entries",
            "Webhook signature failure times held for the incident detector (bounded).",
            ConstGauge::new(self.shopify.signature_failures().len() as i64),
        )?;
        let (usage_rows, budget_orgs) = self.ai.memory_held();
        encode_const(
            &mut encoder,
            "conea_ai_usage_pending_rows",
            "AI usage rows held in memory until the next batched write.",
            ConstGauge::new(usage_rows as i64),
        )?;
        encode_const(
            &mut encoder,
            "conea_ai_budget_cache_entries",
            "Organizations whose AI budget this replica holds (bounded, 2 s TTL).",
            ConstGauge::new(budget_orgs as i64),
        )?;
        let providers = serde_json::to_value(self.ai.router().models()).unwrap_or_default();
        let family = Family::<ProviderLabels, prometheus_client::metrics::gauge::Gauge>::default();
        for p in providers["providers"].as_array().into_iter().flatten() {
            let provider = p["name"].as_str().unwrap_or_default().to_owned();
            for state in ["ok", "degraded", "circuit_open", "misconfigured"] {
                let v = i64::from(p["status"].as_str() == Some(state));
                family
                    .get_or_create(&ProviderLabels {
                        provider: provider.clone(),
                        state: state.to_owned(),
                    })
                    .set(v);
            }
        }
        let e = encoder.encode_descriptor(
            "conea_ai_provider_state",
            "1 for each AI provider's current circuit state.",
            None,
            family.metric_type(),
        )?;
        family.encode(e)?;
        if let Some(rss) = crate::process::rss_bytes() {
            encode_const(
                &mut encoder,
                "conea_process_resident_memory_bytes",
                "Resident memory of this process.",
                ConstGauge::new(rss as i64),
            )?;
        }
        if let Some(cpu) = crate::process::cpu_seconds() {
            encode_const(
                &mut encoder,
                "conea_process_cpu_seconds",
                "CPU time (user and system) this process has used, in seconds.",
                ConstCounter::new(cpu),
            )?;
        }
        let limit = self.cpu.limit();
        encode_const(
            &mut encoder,
            "conea_cpu_limit_cores",
            "Cores this process may use: its cgroup CPU quota, else the machine's cores.",
            ConstGauge::new(limit.cores),
        )?;
        if let Some(u) = self.cpu.utilization() {
            encode_const(
                &mut encoder,
                "conea_cpu_utilization_ratio",
                "CPU used over the last few seconds, as a fraction of conea_cpu_limit_cores.",
                ConstGauge::new(u),
            )?;
        }
        let routes = Family::<CpuRouteLabels, Counter<f64, AtomicU64>>::default();
        for (route, seconds) in self.cpu.routes().snapshot() {
            routes
                .get_or_create(&CpuRouteLabels { route })
                .inc_by(seconds);
        }
        let e = encoder.encode_descriptor(
            "conea_http_cpu_seconds",
            "CPU time spent handling requests, by route template (the time of the handler's polls on a runtime worker; waiting between polls is not counted).",
            None,
            routes.metric_type(),
        )?;
        routes.encode(e)?;
        let jobs = Family::<CpuJobLabels, Counter<f64, AtomicU64>>::default();
        for (kind, seconds) in self.cpu.jobs().snapshot() {
            jobs.get_or_create(&CpuJobLabels { kind }).inc_by(seconds);
        }
        let e = encoder.encode_descriptor(
            "conea_job_cpu_seconds",
            "CPU time spent running jobs, by kind.",
            None,
            jobs.metric_type(),
        )?;
        jobs.encode(e)?;
        let busy = Family::<WorkerLabels, Gauge<f64, AtomicU64>>::default();
        for (i, ratio) in self.cpu.worker_busy().into_iter().enumerate() {
            busy.get_or_create(&WorkerLabels {
                worker: i.to_string(),
            })
            .set(ratio);
        }
        let e = encoder.encode_descriptor(
            "conea_runtime_worker_busy_ratio",
            "Share of the last few seconds each async runtime worker thread was busy.",
            None,
            busy.metric_type(),
        )?;
        busy.encode(e)?;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            encode_const(
                &mut encoder,
                "conea_runtime_alive_tasks",
                "Tasks alive in the async runtime (a number that only grows is a task leak).",
                ConstGauge::new(rt.metrics().num_alive_tasks() as i64),
            )?;
        }
        if let Some(fds) = crate::process::open_files() {
            encode_const(
                &mut encoder,
                "conea_process_open_fds",
                "Open file descriptors of this process.",
                ConstGauge::new(i64::try_from(fds).unwrap_or(i64::MAX)),
            )?;
        }
        if let Some(max) = crate::process::open_files_limit() {
            encode_const(
                &mut encoder,
                "conea_process_max_fds",
                "The soft limit on this process's open file descriptors (ulimit -n).",
                ConstGauge::new(i64::try_from(max).unwrap_or(i64::MAX)),
            )?;
        }
        if let Some(max) = crate::process::memory_limit_bytes() {
            encode_const(
                &mut encoder,
                "conea_process_memory_limit_bytes",
                "The container's memory limit (cgroup memory.max), when there is one.",
                ConstGauge::new(i64::try_from(max).unwrap_or(i64::MAX)),
            )?;
        }
        encode_const(
            &mut encoder,
            "conea_rate_limit_fallbacks",
            "Rate-limit decisions made in memory because Redis was unavailable.",
            ConstCounter::new(self.limits.fallbacks()),
        )?;
        encode_const(
            &mut encoder,
            "conea_rate_limit_memory_buckets",
            "Buckets held by the in-process rate limiter.",
            ConstGauge::new(self.limits.memory_buckets() as i64),
        )?;
        if self.reads.replica_configured() {
            let status = self.reads.status();
            if let Some(ms) = status.lag_ms {
                encode_const(
                    &mut encoder,
                    "conea_db_replica_lag_seconds",
                    "Last measured lag of the read replica.",
                    ConstGauge::new(ms as f64 / 1000.0),
                )?;
            }
            encode_const(
                &mut encoder,
                "conea_db_replica_serving",
                "1 while clients that did not write recently read from the replica.",
                ConstGauge::new(i64::from(status.reads_go_to == "replica")),
            )?;
        }
        encode_const(
            &mut encoder,
            "conea_read_write_marks",
            "Recent writes remembered for read-your-writes routing (bounded).",
            ConstGauge::new(self.reads.marks().len() as i64),
        )?;
        encode_const(
            &mut encoder,
            "conea_rate_limit_overrides_held",
            "Rate-limit overrides (per key and organization) held on this replica.",
            ConstGauge::new(self.limits.overrides_held() as i64),
        )?;
        Ok(())
    }
}

impl Metrics {
    pub fn new(platform: &Platform) -> Self {
        let db = platform.store.db().clone();
        let stats = platform.store.stats().clone();
        let authn = platform.authn.clone();
        let limits = platform.limits.clone();
        let ai = platform.ai.clone();
        let reads = platform.reads.clone();
        let shopify = platform.shopify.clone();
        let throttles = platform.shopify_throttles.clone();
        let cpu = Arc::new(CpuMeter::new(platform.config.incidents.cpu_for));
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "conea_http_requests",
            "HTTP requests by method, route template and status.",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0,
            ])
        });
        registry.register(
            "conea_http_request_duration_seconds",
            "HTTP request latency by route template.",
            latency.clone(),
        );
        let build = Family::<BuildLabels, prometheus_client::metrics::gauge::Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                backend: db.backend().as_str().to_owned(),
            })
            .set(1);
        registry.register(
            "conea_build_info",
            "Build information; the value is always 1.",
            build,
        );
        let limit_decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "conea_rate_limit_decisions",
            "Rate-limit decisions by outcome (allowed, limited) and backend.",
            limit_decisions.clone(),
        );
        let limit_latency = Family::<BackendLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25,
            ])
        });
        registry.register(
            "conea_rate_limit_duration_seconds",
            format!("Time to make one rate-limit decision, by backend: every Redis decision (and every fallback from it), one in {IN_PROCESS_TIMED_ONE_IN} in-process decisions (conea_rate_limit_decisions counts them all)."),
            limit_latency.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "conea_shopify_webhooks",
            "Shopify webhook deliveries by outcome (accepted, duplicate, unknown_shop, invalid_signature, invalid_headers, error).",
            webhooks.clone(),
        );
        let insights_checked = Counter::default();
        registry.register(
            "conea_insights_numbers_checked",
            "Numbers of insights answers checked against their tool results.",
            insights_checked.clone(),
        );
        let insights_ungrounded = Counter::default();
        registry.register(
            "conea_insights_numbers_ungrounded",
            "Numbers of insights answers found in no tool result (grounding.ungrounded).",
            insights_ungrounded.clone(),
        );
        let job_runs = JobRunMetrics {
            runs: Family::new_with_constructor(|| {
                Histogram::new([
                    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0,
                ])
            }),
            cpu: cpu.jobs().clone(),
        };
        registry.register(
            "conea_job_run_duration_seconds",
            "Job run time by kind and outcome.",
            job_runs.runs.clone(),
        );
        let read_routes = Family::<ReadRouteLabels, Counter>::default();
        registry.register(
            "conea_read_routes",
            "Requests whose reads were routed, by target (primary, replica) and reason.",
            read_routes.clone(),
        );
        let queue = Arc::new(QueueSnapshot::default());
        registry.register_collector(Box::new(SharedCollector(queue.clone())));
        registry.register_collector(Box::new(Live {
            db,
            stats,
            authn,
            limits,
            ai,
            reads,
            shopify,
            throttles,
            cpu: cpu.clone(),
        }));
        Self {
            registry,
            job_runs,
            queue,
            requests,
            latency,
            limits: LimitMetrics::new(&limit_decisions, &limit_latency),
            read_routes,
            webhooks,
            insights_checked,
            insights_ungrounded,
            cpu,
        }
    }

    /// The CPU meter: per-route and per-job-kind CPU time, utilisation against the limit.
    pub fn cpu(&self) -> &Arc<CpuMeter> {
        &self.cpu
    }

    /// Counts an insights answer's checked and ungrounded numbers.
    pub fn observe_grounding(&self, checked: usize, ungrounded: usize) {
        self.insights_checked.inc_by(checked as u64);
        self.insights_ungrounded.inc_by(ungrounded as u64);
    }

    pub fn observe_read_route(&self, d: conea_core::reads::Decision) {
        self.read_routes
            .get_or_create(&ReadRouteLabels {
                target: d.target.as_str(),
                reason: d.reason.as_str(),
            })
            .inc();
    }

    /// Counts a Shopify webhook delivery by outcome.
    pub fn observe_webhook(&self, outcome: &'static str) {
        self.webhooks
            .get_or_create(&WebhookLabels { outcome })
            .inc();
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Rate-limit decisions since start, both backends: `(allowed, limited)`.
    pub fn limit_decisions(&self) -> (u64, u64) {
        let l = &self.limits;
        (
            l.memory.allowed.get() + l.redis.allowed.get(),
            l.memory.limited.get() + l.redis.limited.get(),
        )
    }

    /// One rate-limit decision, made since `started`.
    pub fn observe_limit(&self, v: &Verdict, started: Instant) {
        self.limits.observe(v, started);
    }

    pub fn job_observer(&self) -> Arc<dyn conea_jobs::JobObserver> {
        Arc::new(self.job_runs.clone())
    }

    pub fn set_queue_stats(&self, stats: conea_jobs::QueueStats) {
        if let Ok(mut s) = self.queue.stats.lock() {
            *s = Some(stats);
        }
    }

    pub fn queue_stats(&self) -> Option<conea_jobs::QueueStats> {
        self.queue.stats.lock().ok().and_then(|s| s.clone())
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[derive(Debug)]
struct SharedCollector<C: Collector>(Arc<C>);

impl<C: Collector> Collector for SharedCollector<C> {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use conea_core::ratelimit::{gcra, Policy, PolicySource};

    fn verdict(backend: LimiterBackend, fell_back: bool) -> Verdict {
        let policy = Policy::per_minute(100, 100, PolicySource::Default);
        Verdict {
            decision: gcra(None, 0, &policy, true).0,
            backend,
            fell_back,
        }
    }

    fn sample(text: &str, line_start: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(line_start))
            .and_then(|v| v.trim().parse().ok())
    }

    #[test]
    fn every_decision_counts_but_only_one_in_n_in_process_decisions_is_timed() {
        let mut registry = Registry::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        let latency =
            Family::<BackendLabels, Histogram>::new_with_constructor(|| Histogram::new([0.001]));
        registry.register("d", "decisions", decisions.clone());
        registry.register("l", "latency", latency.clone());
        let metrics = LimitMetrics::new(&decisions, &latency);
        // This test's thread has made no decision before: exactly two of these are timed.
        let in_process = 2 * IN_PROCESS_TIMED_ONE_IN;
        for _ in 0..in_process {
            metrics.observe(&verdict(LimiterBackend::Memory, false), Instant::now());
        }
        // Fallbacks from Redis (their time includes the failed attempt) and Redis: all timed.
        for _ in 0..2 {
            metrics.observe(&verdict(LimiterBackend::Memory, true), Instant::now());
        }
        for _ in 0..3 {
            metrics.observe(&verdict(LimiterBackend::Redis, false), Instant::now());
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        let memory = r#"{outcome="allowed",backend="memory"} "#;
        let redis = r#"{outcome="allowed",backend="redis"} "#;
        assert_eq!(
            sample(&text, &format!("d_total{memory}")),
            Some(u64::from(in_process) + 2)
        );
        assert_eq!(sample(&text, &format!("d_total{redis}")), Some(3));
        assert_eq!(sample(&text, r#"l_count{backend="memory"} "#), Some(2 + 2));
        assert_eq!(sample(&text, r#"l_count{backend="redis"} "#), Some(3));
    }
}
