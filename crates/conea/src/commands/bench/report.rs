//! The results of `bench endpoint` and `bench load`, as text or as JSON.
//! Latencies are in milliseconds; `error_rate` goes from 0 to 1.

use super::stats::Tally;
use super::target::Target;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Serialize)]
pub struct EndpointReport {
    pub url: String,
    pub method: String,
    pub requests: u64,
    pub successful: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub latency_ms: EndpointLatency,
    pub status_codes: BTreeMap<String, u64>,
    pub transport_errors: BTreeMap<String, u64>,
}

/// All `null` when no request got a response.
#[derive(Serialize)]
pub struct EndpointLatency {
    pub avg: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Serialize)]
pub struct LoadReport {
    pub url: String,
    pub method: String,
    /// `closed` (each connection waits for its answer) or `open` (fixed schedule).
    pub mode: &'static str,
    pub connections: usize,
    /// Length of the measured window (-d), in seconds: requests answered after it are
    /// `unfinished`, not counted.
    pub duration_s: f64,
    /// Requests per second asked for with --rate (open loop only).
    pub target_rate: Option<f64>,
    pub requests: u64,
    pub successful: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub requests_per_second: f64,
    pub successful_per_second: f64,
    pub latency_ms: LoadLatency,
    pub status_codes: BTreeMap<String, u64>,
    pub transport_errors: BTreeMap<String, u64>,
    /// Open loop: requests scheduled during the run that no connection was free to send.
    pub unsent: u64,
    /// Requests still waiting for their answer when the time was up (not counted above).
    pub unfinished: u64,
}

/// All `null` when no request got a response.
#[derive(Serialize)]
pub struct LoadLatency {
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p99_9: Option<f64>,
    pub max: Option<f64>,
}

fn statuses(t: &Tally) -> BTreeMap<String, u64> {
    t.statuses
        .iter()
        .map(|(c, n)| (c.to_string(), *n))
        .collect()
}

impl EndpointReport {
    pub fn new(target: &Target, t: &Tally) -> EndpointReport {
        EndpointReport {
            url: target.url.clone(),
            method: target.method.to_string(),
            requests: t.total(),
            successful: t.successful(),
            errors: t.total() - t.successful(),
            error_rate: t.error_rate(),
            latency_ms: EndpointLatency {
                avg: t.mean_ms(),
                p50: t.quantile_ms(0.50),
                p95: t.quantile_ms(0.95),
                p99: t.quantile_ms(0.99),
                max: t.max_ms(),
            },
            status_codes: statuses(t),
            transport_errors: t.failures.clone(),
        }
    }

    pub fn text(&self) -> String {
        let l = &self.latency_ms;
        let mut s = format!(
            "{} {}: {} requests, one at a time\n",
            self.method, self.url, self.requests
        );
        latency(
            &mut s,
            &[
                ("avg", l.avg),
                ("p50", l.p50),
                ("p95", l.p95),
                ("p99", l.p99),
                ("max", l.max),
            ],
        );
        let _ = writeln!(
            s,
            "  errors      {} of {} ({:.2}%)",
            self.errors,
            self.requests,
            self.error_rate * 100.0
        );
        counts(&mut s, &self.status_codes, &self.transport_errors);
        s
    }
}

impl LoadReport {
    pub fn new(target: &Target, t: &Tally, run: &RunFacts) -> LoadReport {
        let secs = run.window_s.max(f64::EPSILON);
        LoadReport {
            url: target.url.clone(),
            method: target.method.to_string(),
            mode: if run.rate.is_some() { "open" } else { "closed" },
            connections: run.connections,
            duration_s: run.window_s,
            target_rate: run.rate,
            requests: t.total(),
            successful: t.successful(),
            errors: t.total() - t.successful(),
            error_rate: t.error_rate(),
            requests_per_second: t.total() as f64 / secs,
            successful_per_second: t.successful() as f64 / secs,
            latency_ms: LoadLatency {
                mean: t.mean_ms(),
                p50: t.quantile_ms(0.50),
                p90: t.quantile_ms(0.90),
                p99: t.quantile_ms(0.99),
                p99_9: t.quantile_ms(0.999),
                max: t.max_ms(),
            },
            status_codes: statuses(t),
            transport_errors: t.failures.clone(),
            unsent: run.unsent,
            unfinished: run.unfinished,
        }
    }

    pub fn text(&self) -> String {
        let mode = match self.target_rate {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop".into(),
        };
        let l = &self.latency_ms;
        let mut s = format!(
            "{} {}: {} connections, {:.2} s, {mode}\n",
            self.method, self.url, self.connections, self.duration_s
        );
        let _ = writeln!(
            s,
            "  requests    {} total, {} successful, {} errors ({:.2}%)",
            self.requests,
            self.successful,
            self.errors,
            self.error_rate * 100.0
        );
        let _ = writeln!(
            s,
            "  throughput  {:.1} req/s ({:.1} successful/s)",
            self.requests_per_second, self.successful_per_second
        );
        latency(
            &mut s,
            &[
                ("p50", l.p50),
                ("p90", l.p90),
                ("p99", l.p99),
                ("p99.9", l.p99_9),
                ("max", l.max),
            ],
        );
        counts(&mut s, &self.status_codes, &self.transport_errors);
        if self.unsent > 0 {
            let _ = writeln!(
                s,
                "  warning     {} scheduled requests were never sent: all connections were busy; \
                 the server did not keep up with the rate (add connections with -c)",
                self.unsent
            );
        }
        if self.unfinished > 0 {
            let _ = writeln!(
                s,
                "  unfinished  {} requests still in flight at the end",
                self.unfinished
            );
        }
        s
    }
}

/// What the load run itself knows besides the tally.
pub struct RunFacts {
    pub connections: usize,
    pub rate: Option<f64>,
    pub window_s: f64,
    pub unsent: u64,
    pub unfinished: u64,
}

fn counts(s: &mut String, statuses: &BTreeMap<String, u64>, failures: &BTreeMap<String, u64>) {
    let list = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !statuses.is_empty() {
        let _ = writeln!(s, "  status      {}", list(statuses));
    }
    if !failures.is_empty() {
        let _ = writeln!(s, "  transport   {}", list(failures));
    }
}

fn latency(s: &mut String, values: &[(&str, Option<f64>)]) {
    let parts: Vec<String> = values
        .iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {v:.3} ms")))
        .collect();
    if parts.is_empty() {
        let _ = writeln!(s, "  latency     none (no responses)");
    } else {
        let _ = writeln!(s, "  latency     {}", parts.join("  "));
    }
}
