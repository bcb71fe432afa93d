//! CPU, seen from inside the process: the container's CPU limit (cgroups), CPU time
//! accounted to the work that spent it (a route template, a job kind), and the rule that
//! turns a sustained high utilisation into a finding naming the busiest work.
//!
//! Accounting times each poll of a request's or job's future on the monotonic clock
//! ([`CpuLedger::time`]): the time the work held a runtime worker thread. Time a future
//! spends waiting (database, provider, sleep) is between polls and is not counted, and
//! neither is another task's work on the same thread. A poll runs on the CPU unless the
//! kernel preempts its thread or the poll blocks, and both of those are worth an SRE's eye
//! on the route that did it. The thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`) has no
//! vDSO path: it was a system call at each end of every poll, six per proxied completion;
//! the monotonic clock is read in user space.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// CPU time per label (route template, job kind), added as each piece of work finishes or
/// is dropped (a cancelled request still spent what it spent).
#[derive(Default)]
pub struct CpuLedger {
    totals: Mutex<HashMap<String, Duration>>,
}

impl CpuLedger {
    pub fn add(&self, label: &str, spent: Duration) {
        if spent.is_zero() {
            return;
        }
        if let Ok(mut t) = self.totals.lock() {
            match t.get_mut(label) {
                Some(total) => *total += spent,
                None => {
                    t.insert(label.to_owned(), spent);
                }
            }
        }
    }

    /// Seconds per label since the start.
    pub fn snapshot(&self) -> BTreeMap<String, f64> {
        self.totals
            .lock()
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), v.as_secs_f64()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `fut`, with the time its polls take added to `label`.
    pub fn time<F: Future>(self: &Arc<Self>, label: impl Into<String>, fut: F) -> CpuTimed<F> {
        CpuTimed {
            inner: fut,
            label: label.into(),
            ledger: self.clone(),
            spent: Duration::ZERO,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future whose polls are timed on the monotonic clock; see [`CpuLedger::time`].
    pub struct CpuTimed<F> {
        #[pin]
        inner: F,
        label: String,
        ledger: Arc<CpuLedger>,
        spent: Duration,
    }

    impl<F> PinnedDrop for CpuTimed<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.ledger.add(this.label, *this.spent);
        }
    }
}

impl<F: Future> Future for CpuTimed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let start = std::time::Instant::now();
        let out = this.inner.poll(cx);
        *this.spent += start.elapsed();
        out
    }
}

/// This process's CPU time (user and system, every thread) since it started.
pub fn process_cpu() -> Option<Duration> {
    cpu_time::ProcessTime::try_now()
        .ok()
        .map(|t| t.as_duration())
}

/// How many cores this process may use, and where that number comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuLimit {
    pub cores: f64,
    /// `cgroup v2 cpu.max`, `cgroup v1 cfs quota`, or `cores` (no quota: the machine's
    /// cores available to the process).
    pub source: &'static str,
}

/// A cgroup v2 `cpu.max` line: `"$QUOTA $PERIOD"` in microseconds, or `max` for no limit.
pub fn cgroup2_cpu_max(line: &str) -> Option<f64> {
    let mut parts = line.split_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next().unwrap_or("100000").parse().ok()?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then_some(quota / period)
}

/// cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (quota `-1`: no limit).
pub fn cgroup1_quota(quota: &str, period: &str) -> Option<f64> {
    let quota: f64 = quota.trim().parse().ok()?;
    let period: f64 = period.trim().parse().ok()?;
    (quota > 0.0 && period > 0.0).then_some(quota / period)
}

/// The limit from the files of the process's cgroup (v2, then v1), else the cores the
/// process may run on.
pub fn read_limit() -> CpuLimit {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    if let Some(cores) = read("/sys/fs/cgroup/cpu.max").and_then(|l| cgroup2_cpu_max(&l)) {
        return CpuLimit {
            cores,
            source: "cgroup v2 cpu.max",
        };
    }
    for dir in ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"] {
        if let (Some(q), Some(p)) = (
            read(&format!("{dir}/cpu.cfs_quota_us")),
            read(&format!("{dir}/cpu.cfs_period_us")),
        ) {
            if let Some(cores) = cgroup1_quota(&q, &p) {
                return CpuLimit {
                    cores,
                    source: "cgroup v1 cfs quota",
                };
            }
        }
    }
    CpuLimit {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        source: "cores",
    }
}

/// One reading: when, the process's CPU seconds, and the ledgers' totals.
#[derive(Debug, Clone, Default)]
pub struct CpuSample {
    pub at_ms: i64,
    pub process_seconds: f64,
    pub routes: BTreeMap<String, f64>,
    pub jobs: BTreeMap<String, f64>,
}

/// CPU held above a threshold for a whole window.
#[derive(Debug, Clone, PartialEq)]
pub struct Sustained {
    /// Start of the window (the reading the comparison starts from).
    pub since_ms: i64,
    /// Mean utilisation over the window, as a fraction of the limit.
    pub ratio: f64,
    /// CPU seconds spent in the window, most first (at most three each, none at zero).
    pub busiest_routes: Vec<(String, f64)>,
    pub busiest_jobs: Vec<(String, f64)>,
}

/// Recent readings, enough for the detector's window.
pub struct CpuWindow {
    samples: VecDeque<CpuSample>,
    keep_ms: i64,
}

fn ratio(a: &CpuSample, b: &CpuSample, cores: f64) -> Option<f64> {
    let wall = (b.at_ms - a.at_ms) as f64 / 1000.0;
    (wall > 0.0 && cores > 0.0)
        .then(|| ((b.process_seconds - a.process_seconds) / wall / cores).max(0.0))
}

fn busiest(from: &BTreeMap<String, f64>, to: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let mut spent: Vec<(String, f64)> = to
        .iter()
        .map(|(k, v)| (k.clone(), v - from.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    spent.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    spent.truncate(3);
    spent
}

impl CpuWindow {
    /// Keeps readings for `keep` (the longest window asked about, plus a reading).
    pub fn new(keep: Duration) -> Self {
        CpuWindow {
            samples: VecDeque::new(),
            keep_ms: keep.as_millis() as i64,
        }
    }

    /// Forgets every reading.
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    pub fn push(&mut self, sample: CpuSample) {
        let horizon = sample.at_ms - self.keep_ms;
        self.samples.push_back(sample);
        // Keep one reading at or before the horizon: the window's starting point.
        while self.samples.len() > 2 && self.samples.get(1).is_some_and(|s| s.at_ms <= horizon) {
            self.samples.pop_front();
        }
    }

    /// Utilisation between the last two readings, as a fraction of `cores`.
    pub fn recent(&self, cores: f64) -> Option<f64> {
        let n = self.samples.len();
        if n < 2 {
            return None;
        }
        ratio(&self.samples[n - 2], &self.samples[n - 1], cores)
    }

    /// When every interval between readings over the last `span` was at or above
    /// `threshold` of `cores`, the window and the work that spent most in it. `None` while
    /// the readings do not yet cover `span`, or any interval in it was below.
    pub fn sustained(&self, cores: f64, threshold: f64, span: Duration) -> Option<Sustained> {
        let last = self.samples.back()?;
        let start_at = last.at_ms - span.as_millis() as i64;
        let base = self.samples.iter().rposition(|s| s.at_ms <= start_at)?;
        let window: Vec<&CpuSample> = self.samples.iter().skip(base).collect();
        let all_high = window
            .windows(2)
            .all(|w| ratio(w[0], w[1], cores).is_some_and(|r| r >= threshold));
        if window.len() < 2 || !all_high {
            return None;
        }
        let first = window[0];
        Some(Sustained {
            since_ms: first.at_ms,
            ratio: ratio(first, last, cores)?,
            busiest_routes: busiest(&first.routes, &last.routes),
            busiest_jobs: busiest(&first.jobs, &last.jobs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: i64, cpu: f64, route: f64, job: f64) -> CpuSample {
        CpuSample {
            at_ms: at_s * 1000,
            process_seconds: cpu,
            routes: [
                ("/v1/analytics/{report}".to_owned(), route),
                ("/livez".to_owned(), 0.5),
            ]
            .into_iter()
            .collect(),
            jobs: [("shopify.sync".to_owned(), job)].into_iter().collect(),
        }
    }

    #[test]
    fn cgroup_limits_are_quota_over_period_and_none_without_a_quota() {
        assert_eq!(cgroup2_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(cgroup2_cpu_max("max 100000\n"), None);
        assert_eq!(cgroup2_cpu_max("garbage"), None);
        assert_eq!(cgroup1_quota("200000\n", "100000\n"), Some(2.0));
        assert_eq!(cgroup1_quota("-1\n", "100000\n"), None);
        assert!(read_limit().cores > 0.0, "some limit is always known");
    }

    #[test]
    fn utilisation_is_cpu_seconds_over_wall_seconds_and_cores() {
        let mut w = CpuWindow::new(Duration::from_secs(600));
        assert_eq!(w.recent(2.0), None, "one reading says nothing");
        w.push(sample(0, 10.0, 0.0, 0.0));
        w.push(sample(10, 26.0, 0.0, 0.0));
        // 16 CPU seconds in 10 s on 2 cores.
        assert_eq!(w.recent(2.0), Some(0.8));
    }

    #[test]
    fn sustained_needs_every_interval_of_the_whole_span_above_the_threshold() {
        let mut w = CpuWindow::new(Duration::from_secs(400));
        // 1.8 of 2 cores (90 %) every 15 s for 300 s; the analytics route spent 1.5 s per
        // interval and the sync job 0.2 s.
        for i in 0..=20 {
            w.push(sample(
                i * 15,
                i as f64 * 27.0,
                i as f64 * 1.5,
                i as f64 * 0.2,
            ));
        }
        let s = w
            .sustained(2.0, 0.8, Duration::from_secs(300))
            .expect("90 % for 5 minutes");
        assert_eq!(s.since_ms, 0);
        assert!((s.ratio - 0.9).abs() < 1e-9);
        assert_eq!(
            s.busiest_routes.len(),
            1,
            "a route that spent nothing is left out"
        );
        assert_eq!(s.busiest_routes[0].0, "/v1/analytics/{report}");
        assert!((s.busiest_routes[0].1 - 30.0).abs() < 1e-9);
        assert_eq!(s.busiest_jobs[0].0, "shopify.sync");
        assert!(
            w.sustained(2.0, 0.8, Duration::from_secs(600)).is_none(),
            "the readings do not cover 10 minutes"
        );
        // One quiet interval in the window breaks it.
        w.push(sample(315, 20.0 * 27.0 + 1.0, 30.0, 4.0));
        assert!(w.sustained(2.0, 0.8, Duration::from_secs(300)).is_none());
    }

    #[test]
    fn the_window_keeps_one_reading_at_or_before_its_horizon() {
        let mut w = CpuWindow::new(Duration::from_secs(60));
        for i in 0..100 {
            w.push(sample(i * 10, i as f64, 0.0, 0.0));
        }
        assert_eq!(
            w.samples.len(),
            7,
            "60 s of readings plus the starting point"
        );
        assert!(w.sustained(1.0, 0.05, Duration::from_secs(60)).is_some());
    }

    #[tokio::test]
    #[allow(clippy::disallowed_methods)] // a real sleep: it is waiting, between polls
    async fn a_timed_future_adds_the_cpu_its_polls_spent_to_its_label() {
        let ledger = Arc::new(CpuLedger::default());
        ledger
            .time("/busy", async {
                // Work inside one poll: hashing in a loop.
                let mut x = 0u64;
                for i in 0..20_000_000u64 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
                }
                std::hint::black_box(x);
            })
            .await;
        ledger
            .time("/idle", tokio::time::sleep(Duration::from_millis(50)))
            .await;
        let s = ledger.snapshot();
        let busy = s.get("/busy").copied().unwrap_or(0.0);
        let idle = s.get("/idle").copied().unwrap_or(0.0);
        assert!(busy > 0.0, "the busy future's CPU is counted: {s:?}");
        assert!(
            idle < busy,
            "sleeping spends (almost) no CPU, unlike the loop: {s:?}"
        );
    }
}
