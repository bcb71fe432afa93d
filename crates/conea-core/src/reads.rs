//! Read routing: which database a read-only query goes to when a read replica is configured.
//!
//! The rule (pure, in [`decide`]): a read goes to the replica only when
//! - a replica is configured and its lag was measured recently,
//! - that lag is at most `CONEA_MAX_REPLICA_LAG`, and
//! - the client did not write recently: a write made at `w` is on the replica once the
//!   replica has replayed everything up to `w`, i.e. once `now - w > lag + poll` (the lag
//!   sample can be up to one poll interval old). Until then the client reads the primary, so
//!   a client always reads its own writes.
//!
//! Everything else reads the primary. The decision travels with the request as a task-local
//! ([`scope`]); the store asks [`current`] in the handful of read-only queries that may be
//! served by a replica (listings and reports). Writes never consult it.
//!
//! Who "the client" is: the authenticated principal for API reads; for report jobs, the
//! organization's shop data (any import or sync of the organization counts as its write).

use crate::clock::{Clock, EpochMs};
use async_trait::async_trait;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadTarget {
    Primary,
    Replica,
}

impl ReadTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadTarget::Primary => "primary",
            ReadTarget::Replica => "replica",
        }
    }
}

tokio::task_local! {
    static READ_TARGET: ReadTarget;
}

/// Runs `f` with reads routed to `target` (the store falls back to the primary when it has
/// no replica).
pub async fn scope<F: Future>(target: ReadTarget, f: F) -> F::Output {
    READ_TARGET.scope(target, f).await
}

/// The target of the current task; the primary outside any [`scope`].
pub fn current() -> ReadTarget {
    READ_TARGET.try_with(|t| *t).unwrap_or(ReadTarget::Primary)
}

/// Why a read went where it went (shown by `/health` and counted in `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    NoReplica,
    /// The lag has not been measured yet, or the last measurement failed.
    LagUnknown,
    /// The last measurement is older than a few poll intervals (the sampler is stuck).
    LagStale,
    LagOverLimit,
    /// The client wrote recently; the replica may not have its write yet.
    ReadYourWrites,
    ReplicaFresh,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoReplica => "no_replica",
            Reason::LagUnknown => "lag_unknown",
            Reason::LagStale => "lag_stale",
            Reason::LagOverLimit => "lag_over_limit",
            Reason::ReadYourWrites => "read_your_writes",
            Reason::ReplicaFresh => "replica_fresh",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub target: ReadTarget,
    pub reason: Reason,
}

impl Decision {
    fn primary(reason: Reason) -> Self {
        Decision {
            target: ReadTarget::Primary,
            reason,
        }
    }
}

/// The last lag measurement.
#[derive(Debug, Clone, Default)]
pub struct LagSample {
    /// When it was taken.
    pub at: Option<EpochMs>,
    /// The lag, or why it could not be measured.
    pub lag: Option<Result<Duration, String>>,
}

/// Everything [`decide`] looks at.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub replica_configured: bool,
    pub sample: &'a LagSample,
    pub max_lag: Duration,
    pub poll: Duration,
    pub now: EpochMs,
    /// The client's last write, if any is remembered.
    pub last_write: Option<EpochMs>,
}

/// The routing rule (see the module documentation).
pub fn decide(i: &Inputs<'_>) -> Decision {
    if !i.replica_configured {
        return Decision::primary(Reason::NoReplica);
    }
    let (Some(at), Some(Ok(lag))) = (i.sample.at, i.sample.lag.as_ref()) else {
        return Decision::primary(Reason::LagUnknown);
    };
    let poll_ms = duration_ms(i.poll);
    if i.now.saturating_sub(at) > poll_ms.saturating_mul(3).max(3_000) {
        return Decision::primary(Reason::LagStale);
    }
    if *lag > i.max_lag {
        return Decision::primary(Reason::LagOverLimit);
    }
    if let Some(w) = i.last_write {
        // The sample may be one poll old, and the lag may have grown since by as much.
        let needed = duration_ms(*lag).saturating_add(poll_ms);
        if i.now.saturating_sub(w) <= needed {
            return Decision::primary(Reason::ReadYourWrites);
        }
    }
    Decision {
        target: ReadTarget::Replica,
        reason: Reason::ReplicaFresh,
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Measures how far the replica is behind the primary.
#[async_trait]
pub trait LagSource: Send + Sync + 'static {
    async fn lag(&self) -> Result<Duration, String>;
}

/// Remembers when each client last wrote. Shared between replicas of Conea when it is backed
/// by Redis; bounded in memory otherwise.
#[async_trait]
pub trait WriteMarks: Send + Sync + 'static {
    async fn mark(&self, client: &str, at: EpochMs);
    async fn last(&self, client: &str) -> Option<EpochMs>;
    /// Entries held in this process (exported in `/metrics`).
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// In-process write marks: bounded in size and kept only as long as a mark can matter.
pub struct MemoryWriteMarks {
    marks: moka::sync::Cache<String, EpochMs>,
}

impl MemoryWriteMarks {
    /// `ttl`: how long a mark matters (the largest lag that still routes to the replica plus
    /// the poll interval); older marks cannot change a decision.
    pub fn new(max_entries: u64, ttl: Duration) -> Self {
        MemoryWriteMarks {
            marks: moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl)
                .build(),
        }
    }
}

#[async_trait]
impl WriteMarks for MemoryWriteMarks {
    async fn mark(&self, client: &str, at: EpochMs) {
        self.marks.insert(client.to_owned(), at);
    }

    async fn last(&self, client: &str) -> Option<EpochMs> {
        self.marks.get(client)
    }

    fn len(&self) -> u64 {
        self.marks.run_pending_tasks();
        self.marks.entry_count()
    }
}

/// The write-mark key of an organization's shop data (report jobs read their own imports).
pub fn shop_data_client(org: &crate::ids::OrgId) -> String {
    format!("data:{org}")
}

/// What `/health` shows about read routing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoutingStatus {
    pub replica_configured: bool,
    /// Where a client that has not written recently reads now.
    pub reads_go_to: &'static str,
    pub reason: &'static str,
    pub lag_ms: Option<u64>,
    pub max_lag_ms: u64,
    pub lag_error: Option<String>,
    pub sampled_at: Option<EpochMs>,
}

/// Decides per request where reads go; samples the replica's lag.
pub struct ReadRouter {
    source: Option<Arc<dyn LagSource>>,
    marks: Arc<dyn WriteMarks>,
    clock: Arc<dyn Clock>,
    max_lag: Duration,
    poll: Duration,
    sample: Mutex<LagSample>,
}

impl ReadRouter {
    /// `source`: `None` when no replica is configured (every read goes to the primary).
    pub fn new(
        source: Option<Arc<dyn LagSource>>,
        marks: Arc<dyn WriteMarks>,
        clock: Arc<dyn Clock>,
        max_lag: Duration,
        poll: Duration,
    ) -> Self {
        ReadRouter {
            source,
            marks,
            clock,
            max_lag,
            poll,
            sample: Mutex::new(LagSample::default()),
        }
    }

    pub fn replica_configured(&self) -> bool {
        self.source.is_some()
    }

    pub fn poll_interval(&self) -> Duration {
        self.poll
    }

    pub fn marks(&self) -> &Arc<dyn WriteMarks> {
        &self.marks
    }

    /// Measures the lag once (the server calls this every poll interval).
    pub async fn refresh(&self) {
        let Some(source) = &self.source else { return };
        let lag =
            match tokio::time::timeout(self.poll.max(Duration::from_secs(1)), source.lag()).await {
                Ok(r) => r,
                Err(_) => Err("the replica did not answer the lag query in time".to_owned()),
            };
        if let Err(e) = &lag {
            tracing::warn!(error = %e, "cannot measure the read replica's lag; reading from the primary");
        }
        let at = self.clock.now_ms();
        if let Ok(mut s) = self.sample.lock() {
            *s = LagSample {
                at: Some(at),
                lag: Some(lag),
            };
        }
    }

    /// Remembers that `client` wrote now.
    pub async fn note_write(&self, client: &str) {
        if self.source.is_some() {
            self.marks.mark(client, self.clock.now_ms()).await;
        }
    }

    /// Where `client`'s reads go now.
    pub async fn route(&self, client: Option<&str>) -> Decision {
        if self.source.is_none() {
            return Decision::primary(Reason::NoReplica);
        }
        let last_write = match client {
            Some(c) => self.marks.last(c).await,
            None => None,
        };
        self.decide_with(last_write)
    }

    fn decide_with(&self, last_write: Option<EpochMs>) -> Decision {
        let sample = self.sample.lock().map(|s| s.clone()).unwrap_or_default();
        decide(&Inputs {
            replica_configured: self.source.is_some(),
            sample: &sample,
            max_lag: self.max_lag,
            poll: self.poll,
            now: self.clock.now_ms(),
            last_write,
        })
    }

    pub fn status(&self) -> RoutingStatus {
        let sample = self.sample.lock().map(|s| s.clone()).unwrap_or_default();
        let d = self.decide_with(None);
        let (lag_ms, lag_error) = match &sample.lag {
            Some(Ok(l)) => (Some(u64::try_from(l.as_millis()).unwrap_or(u64::MAX)), None),
            Some(Err(e)) => (None, Some(e.clone())),
            None => (None, None),
        };
        RoutingStatus {
            replica_configured: self.source.is_some(),
            reads_go_to: d.target.as_str(),
            reason: d.reason.as_str(),
            lag_ms,
            max_lag_ms: u64::try_from(self.max_lag.as_millis()).unwrap_or(u64::MAX),
            lag_error,
            sampled_at: sample.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000;

    fn sample(at: EpochMs, lag_ms: u64) -> LagSample {
        LagSample {
            at: Some(at),
            lag: Some(Ok(Duration::from_millis(lag_ms))),
        }
    }

    fn inputs(sample: &LagSample, now: EpochMs, last_write: Option<EpochMs>) -> Inputs<'_> {
        Inputs {
            replica_configured: true,
            sample,
            max_lag: Duration::from_secs(5),
            poll: Duration::from_secs(1),
            now,
            last_write,
        }
    }

    #[test]
    fn without_a_replica_every_read_goes_to_the_primary() {
        let s = sample(100 * S, 0);
        let mut i = inputs(&s, 100 * S, None);
        i.replica_configured = false;
        assert_eq!(decide(&i), Decision::primary(Reason::NoReplica));
    }

    #[test]
    fn a_fresh_replica_under_the_lag_limit_serves_clients_that_did_not_write() {
        let s = sample(100 * S, 2_000);
        assert_eq!(
            decide(&inputs(&s, 100 * S + 500, None)).target,
            ReadTarget::Replica
        );
    }

    #[test]
    fn lag_over_the_limit_sends_reads_to_the_primary() {
        let s = sample(100 * S, 5_001);
        assert_eq!(
            decide(&inputs(&s, 100 * S, None)),
            Decision::primary(Reason::LagOverLimit)
        );
        let s = sample(100 * S, 5_000);
        assert_eq!(
            decide(&inputs(&s, 100 * S, None)).target,
            ReadTarget::Replica
        );
    }

    #[test]
    fn an_unknown_failed_or_stale_lag_sends_reads_to_the_primary() {
        let none = LagSample::default();
        assert_eq!(decide(&inputs(&none, 0, None)).reason, Reason::LagUnknown);
        let failed = LagSample {
            at: Some(0),
            lag: Some(Err("refused".into())),
        };
        assert_eq!(decide(&inputs(&failed, 0, None)).reason, Reason::LagUnknown);
        let old = sample(100 * S, 0);
        assert_eq!(
            decide(&inputs(&old, 103 * S, None)).target,
            ReadTarget::Replica
        );
        assert_eq!(
            decide(&inputs(&old, 103 * S + 1, None)).reason,
            Reason::LagStale
        );
    }

    #[test]
    fn a_client_reads_the_primary_until_the_replica_has_replayed_its_write() {
        // Lag 2 s, poll 1 s: a write at 100 s is surely on the replica after 103 s.
        let s = sample(103 * S, 2_000);
        let wrote = Some(100 * S);
        assert_eq!(
            decide(&inputs(&s, 103 * S, wrote)),
            Decision::primary(Reason::ReadYourWrites)
        );
        assert_eq!(
            decide(&inputs(&s, 103 * S + 1, wrote)).target,
            ReadTarget::Replica
        );
        // Another client, who did not write, reads the replica at once.
        assert_eq!(
            decide(&inputs(&s, 103 * S, None)).target,
            ReadTarget::Replica
        );
    }

    #[tokio::test]
    async fn the_task_local_target_defaults_to_the_primary_and_follows_scope() {
        assert_eq!(current(), ReadTarget::Primary);
        let inner = scope(ReadTarget::Replica, async { current() }).await;
        assert_eq!(inner, ReadTarget::Replica);
        assert_eq!(current(), ReadTarget::Primary);
    }

    struct FixedLag(Mutex<Result<Duration, String>>);

    #[async_trait]
    impl LagSource for FixedLag {
        async fn lag(&self) -> Result<Duration, String> {
            self.0
                .lock()
                .map(|l| l.clone())
                .unwrap_or(Err("poisoned".into()))
        }
    }

    #[tokio::test]
    async fn the_router_remembers_writes_per_client_and_uses_the_sampled_lag() {
        let clock = crate::FakeClock::new(1_000 * S);
        let source = Arc::new(FixedLag(Mutex::new(Ok(Duration::from_millis(500)))));
        let router = ReadRouter::new(
            Some(source.clone()),
            Arc::new(MemoryWriteMarks::new(100, Duration::from_secs(60))),
            Arc::new(clock.clone()),
            Duration::from_secs(5),
            Duration::from_secs(1),
        );
        assert_eq!(router.route(None).await.reason, Reason::LagUnknown);
        router.refresh().await;
        assert_eq!(
            router.route(Some("key_a")).await.target,
            ReadTarget::Replica
        );
        router.note_write("key_a").await;
        assert_eq!(
            router.route(Some("key_a")).await.reason,
            Reason::ReadYourWrites
        );
        assert_eq!(
            router.route(Some("key_b")).await.target,
            ReadTarget::Replica
        );
        clock.advance(Duration::from_millis(1_501));
        router.refresh().await;
        assert_eq!(
            router.route(Some("key_a")).await.target,
            ReadTarget::Replica
        );
        if let Ok(mut l) = source.0.lock() {
            *l = Err("connection refused".into());
        }
        router.refresh().await;
        let status = router.status();
        assert_eq!(status.reads_go_to, "primary");
        assert_eq!(status.lag_error.as_deref(), Some("connection refused"));
    }
}
