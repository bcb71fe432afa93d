//! The live progress of `bench load` on stderr: one line rewritten every second on a
//! terminal, a plain line every 5 seconds otherwise.

use super::stats::Live;
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

pub struct Progress {
    task: JoinHandle<()>,
    terminal: bool,
}

impl Progress {
    pub fn start(live: Arc<Live>, length: Duration) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let every = Duration::from_secs(if terminal { 1 } else { 5 });
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            let mut last = (start, 0u64);
            loop {
                ticks.tick().await;
                let now = Instant::now();
                if now - start >= length {
                    // The run is over; its report follows.
                    break;
                }
                let done = live.done.load(Ordering::Relaxed);
                let errors = live.errors.load(Ordering::Relaxed);
                let rate = (done - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-9);
                last = (now, done);
                let line = format!(
                    "[{:>4.0}s / {:.0}s] {done} requests, {rate:.0} req/s now, {errors} errors",
                    (now - start).as_secs_f64(),
                    length.as_secs_f64()
                );
                if terminal {
                    eprint!("\r\x1b[2K{line}");
                } else {
                    eprintln!("{line}");
                }
            }
        });
        Progress { task, terminal }
    }

    pub async fn finish(self) {
        self.task.abort();
        let _ = self.task.await;
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }
}
