//! The server's CPU meter: CPU time per route template and per job kind
//! ([`conea_core::cpu::CpuLedger`]), readings of the process's CPU every [`SAMPLE_EVERY`]
//! against its limit (cgroup quota, else the cores), and the async runtime's busy ratio
//! per worker thread. `/metrics`, `/health`, `conea diagnose --url` and the `cpu` detector
//! read it.

use conea_core::cpu::{self, CpuLedger, CpuLimit, CpuSample, CpuWindow, Sustained};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the process's CPU is read.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

struct Busy {
    at: Instant,
    /// Each runtime worker's total busy time at `at`.
    totals: Vec<Duration>,
    /// Each worker's busy share of the last interval.
    ratios: Vec<f64>,
}

pub struct CpuMeter {
    limit: CpuLimit,
    routes: Arc<CpuLedger>,
    jobs: Arc<CpuLedger>,
    window: Mutex<CpuWindow>,
    busy: Mutex<Option<Busy>>,
    /// Readings are timed on this monotonic clock (real time: CPU seconds are real).
    started: Instant,
    /// Set once readings come from [`record`](Self::record): the process is not read any more.
    recorded: AtomicBool,
}

impl CpuMeter {
    /// Keeps readings for `keep` (the detector's window and a margin).
    pub fn new(keep: Duration) -> Self {
        CpuMeter {
            limit: cpu::read_limit(),
            routes: Arc::default(),
            jobs: Arc::default(),
            window: Mutex::new(CpuWindow::new(keep + SAMPLE_EVERY * 2)),
            busy: Mutex::new(None),
            started: Instant::now(),
            recorded: AtomicBool::new(false),
        }
    }

    pub fn limit(&self) -> CpuLimit {
        self.limit
    }

    /// CPU time by route template.
    pub fn routes(&self) -> &Arc<CpuLedger> {
        &self.routes
    }

    /// CPU time by job kind.
    pub fn jobs(&self) -> &Arc<CpuLedger> {
        &self.jobs
    }

    /// Reads the process's CPU and the runtime's workers now (every [`SAMPLE_EVERY`]).
    pub fn sample(&self) {
        let now_ms = self.started.elapsed().as_millis() as i64;
        if self.recorded.load(Ordering::Relaxed) {
            return;
        }
        if let Some(spent) = cpu::process_cpu() {
            self.push(CpuSample {
                at_ms: now_ms,
                process_seconds: spent.as_secs_f64(),
                routes: self.routes.snapshot(),
                jobs: self.jobs.snapshot(),
            });
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let m = rt.metrics();
            let now = Instant::now();
            let totals: Vec<Duration> = (0..m.num_workers())
                .map(|w| m.worker_total_busy_duration(w))
                .collect();
            if let Ok(mut b) = self.busy.lock() {
                let ratios = match b.as_ref() {
                    Some(prev) if prev.totals.len() == totals.len() => {
                        let wall = now.duration_since(prev.at).as_secs_f64();
                        totals
                            .iter()
                            .zip(&prev.totals)
                            .map(|(t, p)| {
                                if wall > 0.0 {
                                    (t.saturating_sub(*p).as_secs_f64() / wall).min(1.0)
                                } else {
                                    0.0
                                }
                            })
                            .collect()
                    }
                    _ => Vec::new(),
                };
                *b = Some(Busy {
                    at: now,
                    totals,
                    ratios,
                });
            }
        }
    }

    /// Adds a reading of the caller's (tests): from then on the process itself is not read,
    /// so the caller's readings are the only ones in the window.
    pub fn record(&self, sample: CpuSample) {
        if !self.recorded.swap(true, Ordering::Relaxed) {
            if let Ok(mut w) = self.window.lock() {
                w.clear();
            }
        }
        self.push(sample);
    }

    fn push(&self, sample: CpuSample) {
        if let Ok(mut w) = self.window.lock() {
            w.push(sample);
        }
    }

    /// Utilisation over the last interval, as a fraction of the limit.
    pub fn utilization(&self) -> Option<f64> {
        self.window.lock().ok()?.recent(self.limit.cores)
    }

    /// The window when CPU stayed at or above `threshold` of the limit for all of `span`.
    pub fn sustained(&self, threshold: f64, span: Duration) -> Option<Sustained> {
        self.window
            .lock()
            .ok()?
            .sustained(self.limit.cores, threshold, span)
    }

    /// Each runtime worker thread's busy share of the last interval (empty before two
    /// readings).
    pub fn worker_busy(&self) -> Vec<f64> {
        self.busy
            .lock()
            .ok()
            .and_then(|b| b.as_ref().map(|b| b.ratios.clone()))
            .unwrap_or_default()
    }
}
