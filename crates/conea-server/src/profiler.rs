//! On-demand CPU profiles of this process (`GET /v1/admin/profile`, `conea diagnose
//! --profile`): the operations guide's "profile the process" step without tools in the image.
//!
//! A sampling profiler (`pprof`, tikv/pprof-rs) is armed only while a profile is recorded:
//! it sets a `SIGPROF` interval timer of [`FREQUENCY_HZ`] and a signal handler that records
//! the interrupted thread's stack. Outside a profile there is no timer, no handler and no
//! cost. The timer and the handler are the process's (one per process, whatever the number
//! of servers in it), so one profile runs at a time: a second is refused
//! (409 `profile_running`). The recording awaits a timer, so no runtime thread is held while
//! it samples; the stacks are then symbolised and drawn on the blocking pool.

use conea_core::{CoreError, ErrorCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Samples per second: 99, not 100, so sampling does not run in lockstep with periodic work.
pub const FREQUENCY_HZ: i32 = 99;
/// The longest profile one request may ask for, in seconds.
pub const MAX_SECONDS: u64 = 300;

/// Set while this process records a profile.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// What a profile is returned as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A flame graph (`image/svg+xml`).
    Svg,
    /// Collapsed stacks, one `frame;frame;… count` line each (`text/plain`): the input of
    /// `inferno-flamegraph`, speedscope and flame graph diffs.
    Folded,
}

/// Holds [`RUNNING`] for one profile; releasing it (also when the request is dropped
/// half-way, e.g. the client went away) lets the next one start.
struct Slot;

impl Slot {
    fn take() -> Result<Slot, CoreError> {
        RUNNING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Slot)
            .map_err(|_| CoreError::Conflict {
                code: ErrorCode::ProfileRunning,
                message: "A CPU profile of this server is already being recorded; \
                          only one runs at a time. Retry when it finished."
                    .into(),
            })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

/// Whether a profile is being recorded now.
pub fn running() -> bool {
    RUNNING.load(Ordering::Acquire)
}

/// Checks a requested duration: 1 to [`MAX_SECONDS`] whole seconds.
pub fn duration(seconds: u64) -> Result<Duration, CoreError> {
    if (1..=MAX_SECONDS).contains(&seconds) {
        Ok(Duration::from_secs(seconds))
    } else {
        Err(CoreError::invalid(
            "seconds",
            format!("`seconds` must be 1 to {MAX_SECONDS}, not {seconds}."),
        ))
    }
}

/// Samples the whole process for `length`, then returns the profile in `format`.
pub async fn record(length: Duration, format: Format) -> Result<Vec<u8>, CoreError> {
    let _slot = Slot::take()?;
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY_HZ)
        // Samples interrupted inside these libraries are skipped: unwinding from them can
        // deadlock (the unwinder's own locks) and vDSO unwind tables are unreliable.
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| internal("start", e))?;
    tokio::time::sleep(length).await;
    let seconds = length.as_secs();
    tokio::task::spawn_blocking(move || {
        // Symbolising holds the profiler's lock: samples that land meanwhile are skipped.
        let report = guard.report().build().map_err(|e| internal("read", e))?;
        // Disarms the timer and the signal handler.
        drop(guard);
        render(&report, seconds, format)
    })
    .await
    .map_err(|e| internal("draw", e))?
}

fn render(report: &pprof::Report, seconds: u64, format: Format) -> Result<Vec<u8>, CoreError> {
    let mut lines: Vec<String> = report
        .data
        .iter()
        .map(|(frames, count)| {
            let mut line = frames.thread_name_or_id();
            for frame in frames.frames.iter().rev() {
                for symbol in frame.iter().rev() {
                    line.push(';');
                    line.push_str(&symbol.to_string());
                }
            }
            format!("{line} {count}")
        })
        .collect();
    lines.sort();
    if format == Format::Folded {
        return Ok(lines
            .iter()
            .flat_map(|l| [l.as_str(), "\n"])
            .collect::<String>()
            .into_bytes());
    }
    let samples: isize = report.data.values().sum();
    if lines.is_empty() {
        // A flame graph needs one stack: an idle process shows one bar that says so.
        lines.push("no CPU samples: the server was idle 1".into());
    }
    let mut options = pprof::flamegraph::Options::default();
    options.title =
        format!("Conea CPU profile: {seconds} s at {FREQUENCY_HZ} Hz, {samples} samples");
    options.count_name = "samples".into();
    let mut svg = Vec::new();
    pprof::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut svg)
        .map_err(|e| internal("draw", e))?;
    Ok(svg)
}

fn internal(step: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(format!("CPU profile: could not {step} the profile: {e}"))
}
