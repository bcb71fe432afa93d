//! The worker runtime: claims jobs in batches, runs them with per-kind timeouts, heartbeats
//! their leases, relays cancellation, batches completions, rescues jobs of dead workers and
//! prunes old ones. On shutdown it stops claiming, lets running jobs finish within the grace
//! period and releases the rest so another worker takes them at once.

use super::backoff;
use super::handler::{JobContext, Registry};
use super::model::{Job, JobStore, Outcome};
use conea_core::clock::{Clock, EpochMs};
use conea_core::ids::JobId;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub concurrency: usize,
    /// Jobs claimed beyond the free slots and kept in a local buffer, so a slot that frees
    /// starts the next job without a round trip (0: claim only for free slots). They never
    /// raise the number of jobs executing at once above `concurrency`. The least the buffer
    /// holds; see `claim_ahead_max`.
    pub claim_ahead: usize,
    /// The most the buffer holds. Above `claim_ahead`, the buffer follows the work: it holds
    /// what this worker started in the last [`CLAIM_AHEAD_HORIZON`] (short jobs: many, so
    /// one claim feeds the slots for that long; long jobs: `claim_ahead`, so it does not hold
    /// jobs another worker could start now).
    pub claim_ahead_max: usize,
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
            claim_ahead: 10,
            claim_ahead_max: 10,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            rescue_every: Duration::from_secs(5),
            retention: Duration::from_secs(7 * 86_400),
            finish_batch: 500,
        }
    }
}

/// Claims in flight at once: while one statement claims, the next can go out on another
/// connection once half the window is missing, so a fast drain is not bound to one database
/// core.
pub const CLAIMS_IN_FLIGHT: usize = 2;

/// How much work the adaptive buffer holds: what the worker started in this long.
pub const CLAIM_AHEAD_HORIZON: Duration = Duration::from_millis(100);

/// The buffer's size when `claim_ahead_max` is above `claim_ahead`: re-measured every
/// [`CLAIM_AHEAD_HORIZON`] from the jobs started in it.
#[derive(Debug)]
struct AheadSize {
    since: Instant,
    started: usize,
    size: usize,
}

impl AheadSize {
    fn new(size: usize) -> Self {
        AheadSize {
            since: Instant::now(),
            started: 0,
            size,
        }
    }

    /// The size for now, between `least` and `most`.
    fn current(&mut self, now: Instant, least: usize, most: usize) -> usize {
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed >= CLAIM_AHEAD_HORIZON {
            let per_horizon =
                self.started as f64 * CLAIM_AHEAD_HORIZON.as_secs_f64() / elapsed.as_secs_f64();
            // Grows at most fourfold a step, so a burst of starts does not claim the queue;
            // shrinks at most by half, so one slow claim (the buffer ran dry waiting for it)
            // does not shrink the next one.
            let target = (per_horizon.ceil() as usize)
                .min(self.size.saturating_mul(4).max(least))
                .max(self.size / 2);
            self.size = target.clamp(least, most);
            tracing::trace!(
                size = self.size,
                started = self.started,
                "claim-ahead buffer sized"
            );
            self.since = now;
            self.started = 0;
        }
        self.size.clamp(least, most)
    }
}

/// Receives what the worker does, for metrics.
pub trait JobObserver: Send + Sync + 'static {
    fn finished(&self, kind: &str, outcome: &'static str, took: Duration);

    /// Where the CPU time of each run goes, by job kind (none: not measured).
    fn cpu_ledger(&self) -> Option<Arc<conea_core::cpu::CpuLedger>> {
        None
    }
}

pub struct NoObserver;

impl JobObserver for NoObserver {
    fn finished(&self, _kind: &str, _outcome: &'static str, _took: Duration) {}
}

struct Running {
    cancel: watch::Sender<bool>,
    task: tokio::task::AbortHandle,
}

/// A job claimed ahead, waiting for a slot, with the (local) time its lease runs out.
struct Buffered {
    job: Job,
    lease_until: Instant,
}

/// What the worker holds: the jobs executing (at most `concurrency`) and the buffer of jobs
/// claimed ahead. One lock, so a job never starts beyond the free slots.
struct Slots {
    running: HashMap<JobId, Running>,
    buffer: VecDeque<Buffered>,
    /// Jobs asked for by claims in flight, and how many of those start at once.
    claiming: usize,
    starting: usize,
    stopping: bool,
    ahead: AheadSize,
}

/// A claim's reservation: jobs asked for, and how many of them start at once.
#[derive(Debug, Clone, Copy)]
struct Reserved {
    want: usize,
    start: usize,
}

/// What a worker holds and has asked for, when it plans a claim.
#[derive(Debug, Clone, Copy)]
struct Held {
    concurrency: usize,
    /// The slots and the buffer's size.
    window: usize,
    running: usize,
    buffered: usize,
    /// Jobs asked for by claims in flight, and how many of those start at once.
    claiming: usize,
    starting: usize,
}

/// The next claim: what fills the window, less what the claims in flight bring; as many
/// start at once as slots are free and not promised to a claim in flight. Below half the
/// window it waits for a slot to free (`woken`, and nothing in flight), so a claim takes many
/// jobs at once; a second claim in flight needs half the window missing.
fn plan_claim(h: Held, in_flight: usize, woken: bool) -> Option<Reserved> {
    let want = h.window.saturating_sub(h.running + h.buffered + h.claiming);
    let least = if in_flight > 0 || !woken {
        (h.window / 2).max(1)
    } else {
        1
    };
    if want < least {
        return None;
    }
    let free = h.concurrency.saturating_sub(h.running + h.starting);
    Some(Reserved {
        want,
        start: free.min(want),
    })
}

/// How a claim in flight ended.
enum ClaimEnd {
    /// As many jobs as asked: the queue may hold more.
    Full,
    /// Fewer: the queue is empty for now.
    Short,
    Failed,
}

/// What the finisher writes: a claimed-ahead job that started (its attempt counts now), or a
/// finished attempt.
enum Event {
    Started(JobId),
    Done(Box<(Job, Outcome, Duration)>),
}

pub struct Worker {
    id: String,
    store: Arc<dyn JobStore>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    observer: Arc<dyn JobObserver>,
    slots: Mutex<Slots>,
    slot_freed: Notify,
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
        let claim_ahead = config.claim_ahead;
        Worker {
            id,
            store,
            registry,
            clock,
            config,
            observer,
            slots: Mutex::new(Slots {
                running: HashMap::new(),
                buffer: VecDeque::new(),
                claiming: 0,
                starting: 0,
                stopping: false,
                ahead: AheadSize::new(claim_ahead),
            }),
            slot_freed: Notify::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn running_count(&self) -> usize {
        self.slots.lock().map(|s| s.running.len()).unwrap_or(0)
    }

    /// Reserves the next claim ([`plan_claim`]) until its jobs are taken.
    fn reserve(&self, in_flight: usize, woken: bool) -> Option<Reserved> {
        let (least, most) = (
            self.config.claim_ahead,
            self.config.claim_ahead_max.max(self.config.claim_ahead),
        );
        let mut s = self.slots.lock().ok()?;
        if s.stopping {
            return None;
        }
        let window = self.config.concurrency + s.ahead.current(Instant::now(), least, most);
        let r = plan_claim(
            Held {
                concurrency: self.config.concurrency,
                window,
                running: s.running.len(),
                buffered: s.buffer.len(),
                claiming: s.claiming,
                starting: s.starting,
            },
            in_flight,
            woken,
        )?;
        s.claiming += r.want;
        s.starting += r.start;
        Some(r)
    }

    /// One claim in flight: the claimed jobs go to the slots and the buffer.
    async fn claim_into(self: Arc<Self>, r: Reserved, events: mpsc::Sender<Event>) -> ClaimEnd {
        let claimed_at = Instant::now();
        let claimed = self
            .store
            .claim(
                &self.id,
                r.want as u32,
                r.start as u32,
                self.clock.now_ms(),
                self.config.lease,
            )
            .await;
        match claimed {
            Ok(jobs) => {
                let full = jobs.len() == r.want;
                self.take(jobs, r, claimed_at + self.config.lease, &events);
                if full {
                    ClaimEnd::Full
                } else {
                    ClaimEnd::Short
                }
            }
            Err(e) => {
                tracing::warn!(worker = %self.id, error = %e, "claiming jobs failed; retrying");
                self.take(Vec::new(), r, claimed_at, &events);
                ClaimEnd::Failed
            }
        }
    }

    /// Runs until `shutdown` resolves, then drains within `grace`.
    #[allow(clippy::disallowed_methods)] // the claim loop's poll: a real timer, not domain time
    pub async fn run(self, shutdown: impl Future<Output = ()>, grace: Duration) {
        let me = Arc::new(self);
        let (events, events_rx) = mpsc::channel::<Event>(me.config.finish_batch * 4);
        let finisher = tokio::spawn(finish_loop(me.clone(), events_rx));
        let heartbeat = tokio::spawn(heartbeat_loop(me.clone()));
        let maintenance = tokio::spawn(maintenance_loop(me.clone()));
        tokio::pin!(shutdown);
        tracing::info!(worker = %me.id, concurrency = me.config.concurrency, claim_ahead = me.config.claim_ahead, claim_ahead_max = me.config.claim_ahead_max, kinds = ?me.registry.kinds(), "job worker started");
        // Claim in batches, up to CLAIMS_IN_FLIGHT at once: with fewer than half of the
        // slots and the buffer to fill, wait for a slot and then a moment more, so a busy
        // worker claims many jobs per statement, not one per finished job. Jobs beyond the
        // free slots wait in the buffer and start as soon as a slot frees, while the next
        // claim is under way.
        let mut claims = tokio::task::JoinSet::new();
        // The last claim found the queue empty: wait for a notice of new jobs (or the poll).
        let mut dry = false;
        let mut woken = false;
        loop {
            if !dry && claims.len() < CLAIMS_IN_FLIGHT {
                if let Some(r) = me.reserve(claims.len(), woken) {
                    woken = false;
                    claims.spawn(me.clone().claim_into(r, events.clone()));
                    continue;
                }
            }
            tokio::select! {
                _ = &mut shutdown => break,
                Some(end) = claims.join_next(), if !claims.is_empty() => match end {
                    Ok(ClaimEnd::Full) => dry = false,
                    Ok(ClaimEnd::Short) => dry = true,
                    Ok(ClaimEnd::Failed) | Err(_) => {
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(me.config.poll) => {}
                        }
                    }
                },
                _ = me.store.wait_for_jobs(me.config.poll), if dry && claims.is_empty() => {
                    dry = false;
                    woken = true;
                }
                _ = me.slot_freed.notified(), if !dry => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    woken = true;
                }
                _ = tokio::time::sleep(me.config.poll), if !dry => woken = true,
            }
        }
        // No more claims: those in flight land in the buffer, which goes back to the queue
        // at once; those jobs never started, so no attempt is counted.
        if let Ok(mut s) = me.slots.lock() {
            s.stopping = true;
        }
        while claims.join_next().await.is_some() {}
        let unstarted: Vec<JobId> = me
            .slots
            .lock()
            .map(|mut s| {
                s.stopping = true;
                s.buffer.drain(..).map(|b| b.job.id).collect()
            })
            .unwrap_or_default();
        tracing::info!(worker = %me.id, running = me.running_count(), claimed_ahead = unstarted.len(), "job worker stopping: no more claims");
        me.release(&unstarted, "released jobs claimed ahead for other workers")
            .await;
        let deadline = Instant::now() + grace;
        while me.running_count() > 0 && Instant::now() < deadline {
            let _ = tokio::time::timeout(deadline - Instant::now(), me.slot_freed.notified()).await;
        }
        let leftover: Vec<(JobId, Running)> = me
            .slots
            .lock()
            .map(|mut s| s.running.drain().collect())
            .unwrap_or_default();
        for (_, r) in &leftover {
            r.task.abort();
        }
        drop(events);
        let _ = finisher.await;
        let ids: Vec<JobId> = leftover.into_iter().map(|(id, _)| id).collect();
        me.release(&ids, "released unfinished jobs for other workers")
            .await;
        heartbeat.abort();
        maintenance.abort();
    }

    /// Gives jobs back to the queue without counting an attempt.
    async fn release(&self, ids: &[JobId], what: &'static str) {
        if ids.is_empty() {
            return;
        }
        match self.store.release(&self.id, ids, self.clock.now_ms()).await {
            Ok(n) => tracing::info!(worker = %self.id, released = n, "{what}"),
            Err(e) => {
                tracing::warn!(worker = %self.id, error = %e, "could not release jobs; they return when their lease expires")
            }
        }
    }

    /// Takes claimed jobs: those whose attempt the claim counted first, then the ones claimed
    /// ahead; starts as many as there are free slots and buffers the rest.
    /// The claim's reservation ends in the same step, so the window never counts its jobs
    /// twice or not at all.
    fn take(
        self: &Arc<Self>,
        claimed: Vec<Job>,
        r: Reserved,
        lease_until: Instant,
        events: &mpsc::Sender<Event>,
    ) {
        let expired = match self.slots.lock() {
            Ok(mut s) => {
                s.claiming = s.claiming.saturating_sub(r.want);
                s.starting = s.starting.saturating_sub(r.start);
                if claimed.is_empty() {
                    return;
                }
                let (ahead, now): (Vec<Job>, Vec<Job>) =
                    claimed.into_iter().partition(|j| j.claimed_ahead);
                for job in now.into_iter().rev() {
                    s.buffer.push_front(Buffered { job, lease_until });
                }
                s.buffer
                    .extend(ahead.into_iter().map(|job| Buffered { job, lease_until }));
                self.fill(&mut s, events)
            }
            Err(_) => return,
        };
        self.release_later(expired);
    }

    /// Starts buffered jobs while a slot is free. Returns buffered jobs whose lease is about
    /// to run out (heartbeats failing): they must not start, as another worker may rescue
    /// them, and go back to the queue.
    fn fill(self: &Arc<Self>, s: &mut Slots, events: &mpsc::Sender<Event>) -> Vec<JobId> {
        let mut expired = Vec::new();
        if s.stopping {
            return expired;
        }
        let margin = self.config.lease / 3;
        while s.running.len() < self.config.concurrency {
            let Some(b) = s.buffer.pop_front() else { break };
            if b.job.claimed_ahead && b.lease_until < Instant::now() + margin {
                expired.push(b.job.id);
                continue;
            }
            self.start(s, b.job, events.clone());
        }
        expired
    }

    fn release_later(self: &Arc<Self>, ids: Vec<JobId>) {
        if ids.is_empty() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.release(&ids, "released jobs claimed ahead whose lease ran out")
                .await;
        });
    }

    fn start(self: &Arc<Self>, s: &mut Slots, mut job: Job, events: mpsc::Sender<Event>) {
        s.ahead.started += 1;
        let ahead = job.claimed_ahead;
        if ahead {
            // Its attempt counts from now; the finisher writes that (or the completion does).
            job.attempt += 1;
            job.claimed_ahead = false;
            job.started_at.get_or_insert(self.clock.now_ms());
        }
        let (cancel_tx, cancel_rx) = watch::channel(job.cancel_requested);
        let me = self.clone();
        let id = job.id.clone();
        let task = tokio::spawn(async move {
            if ahead {
                let _ = events.send(Event::Started(job.id.clone())).await;
            }
            let started = Instant::now();
            let outcome = me.execute(job.clone(), cancel_rx).await;
            let _ = events
                .send(Event::Done(Box::new((
                    job.clone(),
                    outcome,
                    started.elapsed(),
                ))))
                .await;
            let expired = match me.slots.lock() {
                Ok(mut s) => {
                    s.running.remove(&job.id);
                    me.fill(&mut s, &events)
                }
                Err(_) => Vec::new(),
            };
            me.release_later(expired);
            me.slot_freed.notify_one();
        });
        s.running.insert(
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
        let run = handler.run(&ctx);
        let result = match self.observer.cpu_ledger() {
            Some(ledger) => {
                tokio::time::timeout(timeout, ledger.time(job.kind.as_str(), run)).await
            }
            None => tokio::time::timeout(timeout, run).await,
        };
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

/// Finish statements in flight at once: while one batch is written, the next gathers and
/// goes out on another connection, so the database's cores share the writes (one at a time
/// left a core idle during a no-op drain).
pub const FINISH_IN_FLIGHT: usize = 2;

/// Writes finished attempts in batches: whatever has arrived, up to `finish_batch`, with up
/// to [`FINISH_IN_FLIGHT`] batches in flight. Starts of claimed-ahead jobs not finished yet
/// are written first, at once, and before any batch that holds their completion goes out,
/// so a job's rows are never written by two statements at once. They are not deferred: a
/// worker that dies before a job's start is written leaves it to be rescued with no attempt
/// counted, so a job that kills its worker would run forever (deferring by 50 ms measured
/// only ~1–2k jobs/s more on a no-op drain).
async fn finish_loop(me: Arc<Worker>, mut rx: mpsc::Receiver<Event>) {
    let mut in_flight = tokio::task::JoinSet::new();
    let mut batch: Vec<(Job, Outcome, Duration)> = Vec::new();
    // Claimed-ahead jobs started and not finished yet: their starts go out with the next
    // statement, so the loop waits for events only when none is owed.
    let mut pending: HashSet<JobId> = HashSet::new();
    loop {
        let first = if pending.is_empty() {
            match rx.recv().await {
                Some(event) => Some(event),
                None => break,
            }
        } else {
            match rx.try_recv() {
                Ok(event) => Some(event),
                Err(mpsc::error::TryRecvError::Empty) => None,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        };
        let mut next = first;
        while let Some(event) = next.take() {
            match event {
                Event::Started(id) => {
                    pending.insert(id);
                }
                Event::Done(done) => {
                    pending.remove(&done.0.id);
                    batch.push(*done);
                }
            }
            if batch.len() + pending.len() < me.config.finish_batch {
                next = rx.try_recv().ok();
            }
        }
        let due: Vec<JobId> = pending.drain().collect();
        if !due.is_empty() {
            if let Err(e) = me.store.mark_started(&me.id, &due, me.clock.now_ms()).await {
                // The completion counts the attempt as well; a crash before it returns the
                // job to the queue without one.
                tracing::warn!(worker = %me.id, error = %e, "recording started jobs failed");
            }
        }
        if batch.is_empty() {
            continue;
        }
        while in_flight.len() >= FINISH_IN_FLIGHT {
            let _ = in_flight.join_next().await;
        }
        in_flight.spawn(write_finished(me.clone(), std::mem::take(&mut batch)));
    }
    while in_flight.join_next().await.is_some() {}
}

/// Writes one batch of finished attempts, retrying a failed write a few times.
#[allow(clippy::disallowed_methods)] // a pause between retries of a failed store write
async fn write_finished(me: Arc<Worker>, batch: Vec<(Job, Outcome, Duration)>) {
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
    for (job, outcome, took) in batch {
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

/// Extends leases of running and claimed-ahead jobs and relays cancellation requests. A
/// claimed-ahead job whose lease was lost (rescued while heartbeats failed) leaves the buffer.
#[allow(clippy::disallowed_methods)] // the heartbeat's period: a real timer, not domain time
async fn heartbeat_loop(me: Arc<Worker>) {
    let every = me.config.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let ids: Vec<JobId> = me
            .slots
            .lock()
            .map(|s| {
                s.running
                    .keys()
                    .cloned()
                    .chain(s.buffer.iter().map(|b| b.job.id.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            continue;
        }
        let sent = Instant::now();
        let until = me.clock.now_ms() + me.config.lease.as_millis() as EpochMs;
        match me.store.heartbeat(&me.id, &ids, until).await {
            Ok(leases) => {
                let kept: HashSet<&JobId> = leases.kept.iter().collect();
                if let Ok(mut s) = me.slots.lock() {
                    for id in &leases.cancel_requested {
                        if let Some(run) = s.running.get(id) {
                            let _ = run.cancel.send(true);
                        }
                    }
                    let lost = s.buffer.len();
                    s.buffer.retain(|b| kept.contains(&b.job.id));
                    let lost = lost - s.buffer.len();
                    if lost > 0 {
                        tracing::warn!(worker = %me.id, lost, "jobs claimed ahead lost their lease; another worker runs them");
                    }
                    for b in s.buffer.iter_mut() {
                        b.lease_until = sent + me.config.lease;
                        if leases.cancel_requested.contains(&b.job.id) {
                            b.job.cancel_requested = true;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes the buffer after `started` starts over one horizon, from `size`.
    fn step(size: usize, started: usize, least: usize, most: usize) -> usize {
        let t0 = Instant::now();
        let mut a = AheadSize {
            since: t0,
            started,
            size,
        };
        a.current(t0 + CLAIM_AHEAD_HORIZON, least, most)
    }

    fn held(running: usize, buffered: usize, claiming: usize, starting: usize) -> Held {
        Held {
            concurrency: 8,
            window: 1000,
            running,
            buffered,
            claiming,
            starting,
        }
    }

    #[test]
    fn a_claim_fills_the_window_and_starts_only_as_many_as_slots_are_free() {
        let r = plan_claim(held(0, 0, 0, 0), 0, false).unwrap();
        assert_eq!((r.want, r.start), (1000, 8));
        let r = plan_claim(held(5, 100, 0, 0), 0, false).unwrap();
        assert_eq!((r.want, r.start), (895, 3));
    }

    #[test]
    fn a_second_claim_in_flight_asks_only_for_what_the_first_does_not_bring() {
        // The first claim asked for 600, 8 of them to start: the second may not start any.
        let r = plan_claim(held(0, 0, 600, 8), 1, false);
        assert!(
            r.is_none(),
            "400 missing is less than half the window: {r:?}"
        );
        let r = plan_claim(held(8, 0, 400, 0), 1, false).unwrap();
        assert_eq!((r.want, r.start), (592, 0));
        // Even woken by a freed slot, a second claim waits for half the window.
        assert!(plan_claim(held(8, 590, 0, 0), 1, true).is_none());
    }

    #[test]
    fn below_half_the_window_a_claim_waits_for_a_slot_to_free() {
        assert!(plan_claim(held(8, 991, 0, 0), 0, false).is_none());
        let r = plan_claim(held(7, 992, 0, 0), 0, true).unwrap();
        assert_eq!((r.want, r.start), (1, 1));
        assert!(
            plan_claim(held(8, 992, 0, 0), 0, true).is_none(),
            "nothing missing"
        );
    }

    #[test]
    fn the_buffer_follows_the_starts_of_the_last_horizon_within_its_bounds() {
        // Short jobs: 300 started in the last 100 ms; the buffer holds 300.
        assert_eq!(step(100, 300, 8, 2048), 300);
        // Never above the most, never below the least.
        assert_eq!(step(2048, 50_000, 8, 2048), 2048);
        assert_eq!(step(8, 0, 8, 2048), 8);
        // Fixed (least = most): whatever the starts.
        assert_eq!(step(3, 900, 3, 3), 3);
    }

    #[test]
    fn the_buffer_grows_at_most_fourfold_and_shrinks_at_most_by_half_a_step() {
        // A burst does not claim the whole queue at once.
        assert_eq!(step(8, 5000, 8, 2048), 32);
        assert_eq!(step(32, 5000, 8, 2048), 128);
        // One slow horizon (the buffer ran dry waiting for a claim) halves it, no more.
        assert_eq!(step(2048, 10, 8, 2048), 1024);
        assert_eq!(step(16, 0, 8, 2048), 8);
    }

    #[test]
    fn within_a_horizon_the_size_stays_and_starts_accumulate() {
        let t0 = Instant::now();
        let mut a = AheadSize::new(64);
        a.since = t0;
        a.started = 1000;
        assert_eq!(a.current(t0 + CLAIM_AHEAD_HORIZON / 2, 8, 2048), 64);
        assert_eq!(a.started, 1000, "not measured yet");
        // Measured over twice the horizon: 1000 starts are 500 per horizon.
        assert_eq!(a.current(t0 + CLAIM_AHEAD_HORIZON * 2, 8, 2048), 256);
    }
}
