//! `conea bench load`: C workers, one keep-alive connection each, for a duration; closed
//! loop by default, open loop on a fixed schedule with --rate.
//!
//! Like wrk, the workers are spread over one single-threaded runtime per core: a worker's
//! wake-ups stay on its thread, with no work stealing between the client's own tasks.

use super::progress::Progress;
use super::report::{LoadReport, RunFacts};
use super::schedule::Schedule;
use super::stats::{Live, Tally};
use super::target::Target;
use super::worker::Worker;
use crate::cli::BenchLoadArgs;
use anyhow::{anyhow, bail, Result};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot, watch};

pub async fn run(args: BenchLoadArgs) -> Result<ExitCode> {
    if args.connections == 0 {
        bail!("-c must be at least 1");
    }
    if args.duration.is_zero() {
        bail!("-d must be more than 0");
    }
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0) {
            bail!("--rate must be a number of requests per second above 0");
        }
    }
    let target = Arc::new(Target::parse(&args.request)?);
    let live = Arc::new(Live::default());
    let schedule = args.rate.map(Schedule::new);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(args.connections);

    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (start_tx, start_rx) = watch::channel(None);
    let mut results = Vec::with_capacity(threads);
    for i in 0..threads {
        let share = args.connections / threads + usize::from(i < args.connections % threads);
        let workers = (0..share)
            .map(|_| Worker::new(target.clone(), live.clone()))
            .collect::<Result<Vec<_>>>()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| anyhow!("cannot start a load thread's runtime: {e}"))?;
        let (done_tx, done_rx) = oneshot::channel();
        let lane = Lane {
            workers,
            schedule: schedule.clone(),
            length: args.duration,
            ready: ready_tx.clone(),
            start: start_rx.clone(),
        };
        std::thread::Builder::new()
            .name(format!("bench-load-{i}"))
            .spawn(move || {
                let _ = done_tx.send(lane.run(runtime));
            })
            .map_err(|e| anyhow!("cannot start a load thread: {e}"))?;
        results.push(done_rx);
    }
    drop(ready_tx);

    // Every connection is open (or has failed to open): start the clock for all at once.
    for _ in 0..threads {
        ready_rx
            .recv()
            .await
            .ok_or_else(|| anyhow!("a load thread stopped before the start"))?;
    }
    let start = Instant::now();
    if let Some(s) = &schedule {
        s.begin(start, start + args.duration);
    }
    let _ = start_tx.send(Some(start));
    let progress = Progress::start(live.clone(), args.duration);
    let mut tally = Tally::new();
    let mut unfinished = 0;
    for done in results {
        let workers = done.await.map_err(|_| anyhow!("a load thread failed"))?;
        for w in workers {
            tally.merge(&w.tally);
            unfinished += w.unfinished;
        }
    }
    progress.finish().await;

    let facts = RunFacts {
        connections: args.connections,
        rate: args.rate,
        window_s: args.duration.as_secs_f64(),
        unsent: schedule.map_or(0, |s| s.unsent()),
        unfinished,
    };
    let report = LoadReport::new(&target, &tally, &facts);
    if args.request.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}

/// The workers of one thread.
struct Lane {
    workers: Vec<Worker>,
    schedule: Option<Arc<Schedule>>,
    length: Duration,
    ready: mpsc::UnboundedSender<()>,
    start: watch::Receiver<Option<Instant>>,
}

impl Lane {
    fn run(self, runtime: Runtime) -> Vec<Worker> {
        let Lane {
            mut workers,
            schedule,
            length,
            ready,
            mut start,
        } = self;
        runtime.block_on(async move {
            futures::future::join_all(workers.iter_mut().map(|w| w.warm_up())).await;
            let _ = ready.send(());
            drop(ready);
            let start = match start.wait_for(Option::is_some).await {
                Ok(s) => *s,
                Err(_) => None,
            };
            let Some(start) = start else {
                return Vec::new();
            };
            let end = start + length;
            let tasks: Vec<_> = workers
                .into_iter()
                .map(|w| match &schedule {
                    Some(s) => tokio::spawn(w.open_loop(s.clone(), end)),
                    None => tokio::spawn(w.closed_loop(end)),
                })
                .collect();
            let mut done = Vec::with_capacity(tasks.len());
            for task in tasks {
                if let Ok(w) = task.await {
                    done.push(w);
                }
            }
            done
        })
    }
}
