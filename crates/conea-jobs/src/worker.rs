//! The worker runtime: claims jobs in batches, runs them with per-kind timeouts, heartbeats
//! their leases, relays cancellation, batches completions, rescues jobs of dead workers and
//! prunes old ones. On shutdown it stops claiming, lets running jobs finish within the grace
//! period and releases the rest so another worker takes them at once.

use super::backoff;
use super::handler::{JobContext, Registry};
use super::model::{Job, JobStore, Outcome};
use conea_core::clock::{Clock, EpochMs};
use conea_core::ids::JobId;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub concurrency: usize,
    pub lease: Duration,
    /// Safety-net poll when no notification arrives.
    pub poll: Duration,
    pub rescue_every: Duration,
    pub retention: Duration,
    /// Most completions written in one statement.
    pub finish_batch: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 10,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            rescue_every: Duration::from_secs(5),
            retention: Duration::from_secs(7 * 86_400),
            finish_batch: 500,
        }
    }
}

/// Receives what the worker does, for metrics.
pub trait JobObserver: Send + Sync + 'static {
    fn finished(&self, kind: &str, outcome: &'static str, took: Duration);
}

pub struct NoObserver;

impl JobObserver for NoObserver {
    fn finished(&self, _kind: &str, _outcome: &'static str, _took: Duration) {}
}

struct Running {
    cancel: watch::Sender<bool>,
    task: tokio::task::AbortHandle,
}

pub struct Worker {
    id: String,
    store: Arc<dyn JobStore>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    observer: Arc<dyn JobObserver>,
    running: Arc<Mutex<HashMap<JobId, Running>>>,
    slot_freed: Arc<Notify>,
}

impl Worker {
    pub fn new(
        id: String,
        store: Arc<dyn JobStore>,
        registry: Arc<Registry>,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
        observer: Arc<dyn JobObserver>,
    ) -> Self {
        Worker {
            id,
            store,
            registry,
            clock,
            config,
            observer,
            running: Arc::new(Mutex::new(HashMap::new())),
            slot_freed: Arc::new(Notify::new()),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn running_ids(&self) -> Vec<JobId> {
        self.running
            .lock()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn running_count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Runs until `shutdown` resolves, then drains within `grace`.
    #[allow(clippy::disallowed_methods)] // the claim loop's poll: a real timer, not domain time
    pub async fn run(self, shutdown: impl Future<Output = ()>, grace: Duration) {
        let me = Arc::new(self);
        let (done_tx, done_rx) =
            mpsc::channel::<(Job, Outcome, Duration)>(me.config.finish_batch * 4);
        let finisher = tokio::spawn(finish_loop(me.clone(), done_rx));
        let heartbeat = tokio::spawn(heartbeat_loop(me.clone()));
        let maintenance = tokio::spawn(maintenance_loop(me.clone()));
        tokio::pin!(shutdown);
        tracing::info!(worker = %me.id, concurrency = me.config.concurrency, kinds = ?me.registry.kinds(), "job worker started");
        // Claim in batches: with fewer than half the slots free, wait for a slot and then a
        // moment more, so a busy worker claims many jobs per statement, not one per finished job.
        let batch_min = (me.config.concurrency / 2).max(1);
        loop {
            let mut free = me.config.concurrency.saturating_sub(me.running_count());
            if free < batch_min {
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = me.slot_freed.notified() => {}
                    _ = tokio::time::sleep(me.config.poll) => {}
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                free = me.config.concurrency.saturating_sub(me.running_count());
                if free == 0 {
                    continue;
                }
            }
            let claimed = match me
                .store
                .claim(&me.id, free as u32, me.clock.now_ms(), me.config.lease)
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(worker = %me.id, error = %e, "claiming jobs failed; retrying");
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(me.config.poll) => continue,
                    }
                }
            };
            let full_batch = claimed.len() == free;
            for job in claimed {
                me.start(job, done_tx.clone());
            }
            if full_batch {
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = me.store.wait_for_jobs(me.config.poll) => {}
            }
        }
        tracing::info!(worker = %me.id, running = me.running_count(), "job worker stopping: no more claims");
        let deadline = Instant::now() + grace;
        while me.running_count() > 0 && Instant::now() < deadline {
            let _ = tokio::time::timeout(deadline - Instant::now(), me.slot_freed.notified()).await;
        }
        let leftover: Vec<(JobId, Running)> = me
            .running
            .lock()
            .map(|mut r| r.drain().collect())
            .unwrap_or_default();
        for (_, r) in &leftover {
            r.task.abort();
        }
        drop(done_tx);
        let _ = finisher.await;
        if !leftover.is_empty() {
            let ids: Vec<JobId> = leftover.into_iter().map(|(id, _)| id).collect();
            match me.store.release(&me.id, &ids, me.clock.now_ms()).await {
                Ok(n) => {
                    tracing::info!(worker = %me.id, released = n, "released unfinished jobs for other workers")
                }
                Err(e) => {
                    tracing::warn!(worker = %me.id, error = %e, "could not release jobs; they return when their lease expires")
                }
            }
        }
        heartbeat.abort();
        maintenance.abort();
    }

    fn start(self: &Arc<Self>, job: Job, done: mpsc::Sender<(Job, Outcome, Duration)>) {
        let (cancel_tx, cancel_rx) = watch::channel(job.cancel_requested);
        let me = self.clone();
        let id = job.id.clone();
        let mut guard = match self.running.lock() {
            Ok(g) => g,
            Err(_) => return,
        };
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let outcome = me.execute(job.clone(), cancel_rx).await;
            let _ = done.send((job.clone(), outcome, started.elapsed())).await;
            if let Ok(mut r) = me.running.lock() {
                r.remove(&job.id);
            }
            me.slot_freed.notify_one();
        });
        guard.insert(
            id,
            Running {
                cancel: cancel_tx,
                task: task.abort_handle(),
            },
        );
    }

    async fn execute(&self, job: Job, cancel: watch::Receiver<bool>) -> Outcome {
        let Some(handler) = self.registry.get(&job.kind).cloned() else {
            return Outcome::Failed {
                error: format!("no handler for job kind `{}` in this worker", job.kind),
                retry_at: None,
            };
        };
        if *cancel.borrow() {
            return Outcome::Cancelled;
        }
        let ctx = JobContext::new(
            job.clone(),
            self.clock.clone(),
            self.store.clone(),
            self.id.clone(),
            cancel.clone(),
        );
        let timeout = handler.timeout();
        let result = tokio::time::timeout(timeout, handler.run(&ctx)).await;
        if *cancel.borrow() {
            return Outcome::Cancelled;
        }
        let now = self.clock.now_ms();
        let (error, retryable) = match result {
            Ok(Ok(value)) => return Outcome::Completed { result: value },
            Ok(Err(e)) => (e.message, e.retryable),
            Err(_) => (format!("timed out after {} s", timeout.as_secs()), true),
        };
        let retry_at = (retryable && job.attempt < job.max_attempts)
            .then(|| now + backoff::delay(job.attempt).as_millis() as EpochMs);
        Outcome::Failed { error, retry_at }
    }
}

/// Writes finished attempts in batches: whatever has arrived, up to `finish_batch`.
#[allow(clippy::disallowed_methods)] // a pause between retries of a failed store write
async fn finish_loop(me: Arc<Worker>, mut rx: mpsc::Receiver<(Job, Outcome, Duration)>) {
    let mut batch: Vec<(Job, Outcome, Duration)> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < me.config.finish_batch {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let done: Vec<(Job, Outcome)> = batch
            .iter()
            .map(|(j, o, _)| (j.clone(), o.clone()))
            .collect();
        let mut attempts = 0;
        loop {
            match me.store.finish(&me.id, &done, me.clock.now_ms()).await {
                Ok(_) => break,
                Err(e) if attempts < 5 => {
                    attempts += 1;
                    tracing::warn!(worker = %me.id, error = %e, "recording finished jobs failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempts)).await;
                }
                Err(e) => {
                    tracing::error!(worker = %me.id, error = %e, jobs = done.len(), "could not record finished jobs; they will be rescued when their leases expire");
                    break;
                }
            }
        }
        for (job, outcome, took) in batch.drain(..) {
            let name = match outcome {
                Outcome::Completed { .. } => "completed",
                Outcome::Failed {
                    retry_at: Some(_), ..
                } => "retryable",
                Outcome::Failed { retry_at: None, .. } => "discarded",
                Outcome::Cancelled => "cancelled",
            };
            me.observer.finished(&job.kind, name, took);
        }
    }
}

/// Extends leases of running jobs and relays cancellation requests.
#[allow(clippy::disallowed_methods)] // the heartbeat's period: a real timer, not domain time
async fn heartbeat_loop(me: Arc<Worker>) {
    let every = me.config.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let ids = me.running_ids();
        if ids.is_empty() {
            continue;
        }
        let until = me.clock.now_ms() + me.config.lease.as_millis() as EpochMs;
        match me.store.heartbeat(&me.id, &ids, until).await {
            Ok(cancelled) => {
                if let Ok(r) = me.running.lock() {
                    for id in cancelled {
                        if let Some(run) = r.get(&id) {
                            let _ = run.cancel.send(true);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(worker = %me.id, error = %e, "heartbeat failed"),
        }
    }
}

/// Rescues jobs whose worker died, and prunes finished jobs past retention.
#[allow(clippy::disallowed_methods)] // the rescue loop's period: a real timer, not domain time
async fn maintenance_loop(me: Arc<Worker>) {
    let mut last_prune = Instant::now() - Duration::from_secs(3600);
    loop {
        let now = me.clock.now_ms();
        let retry_at = move |attempt: u32| now + backoff::delay(attempt).as_millis() as EpochMs;
        match me.store.rescue_expired(now, &retry_at).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(worker = %me.id, rescued = n, "rescued jobs whose worker stopped heartbeating")
            }
            Err(e) => tracing::warn!(worker = %me.id, error = %e, "rescuing expired jobs failed"),
        }
        if last_prune.elapsed() >= Duration::from_secs(3600) {
            last_prune = Instant::now();
            let before = now - me.config.retention.as_millis() as EpochMs;
            if let Err(e) = me.store.prune(before).await {
                tracing::warn!(worker = %me.id, error = %e, "pruning finished jobs failed");
            }
        }
        tokio::time::sleep(me.config.rescue_every).await;
    }
}
