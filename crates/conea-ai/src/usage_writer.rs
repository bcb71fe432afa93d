//! Token usage written off the request path, in batches.
//!
//! Every successful call adds to one (organization, key, provider, model, day) row. Writing
//! that row per call put one write transaction per AI request on the database: on SQLite
//! the writers queued for its single write lock and held pool connections while they
//! waited, so the budget read of the next request waited too (the gateway's p99 overhead);
//! on PostgreSQL every call of one key updated the same row and serialized on its lock.
//! Here a call is merged into an in-memory row (one short mutex section) and a background
//! task writes all pending rows in one transaction every flush interval
//! (`CONEA_AI_USAGE_FLUSH`, 50 ms by default).
//!
//! What a crash can lose: the calls of the last flush interval — usage is
//! accounting, not an acknowledged write; a graceful shutdown flushes ([`UsageWriter::flush`]).
//! A failed write keeps its rows pending and is retried after [`RETRY_AFTER`]; nothing is
//! dropped. Pending rows are bounded by the distinct (organization, key, provider, model,
//! day) combinations seen since the last successful write, and exported as a gauge.

use crate::usage::{day_start, AiUsageStore, UsageDelta};
use conea_core::clock::EpochMs;
use conea_core::ids::OrgId;
use conea_core::store::StoreResult;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// The pause after a failed write before the next attempt.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Hash, PartialEq, Eq)]
struct RowKey {
    org: OrgId,
    api_key: String,
    provider: String,
    model: String,
    day_start: EpochMs,
}

#[derive(Default, Clone, Copy)]
struct Totals {
    requests: i64,
    input_tokens: i64,
    output_tokens: i64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.requests = self.requests.saturating_add(other.requests);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
    }
}

struct Shared {
    store: Arc<dyn AiUsageStore>,
    pending: Mutex<HashMap<RowKey, Totals>>,
    /// Serializes writes, so that a flush waits for the one in progress and rows that
    /// failed are merged back before the next write takes them.
    writing: tokio::sync::Mutex<()>,
}

pub struct UsageWriter {
    shared: Arc<Shared>,
}

/// One successful call, as the gateway reports it.
pub struct Call<'a> {
    pub org: &'a OrgId,
    /// The key's id, or "" for users.
    pub api_key: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub at: EpochMs,
}

impl UsageWriter {
    /// Starts the background writer on the current Tokio runtime; it stops when the
    /// writer is dropped (after its last interval).
    pub fn start(store: Arc<dyn AiUsageStore>, every: Duration) -> Self {
        let shared = Arc::new(Shared {
            store,
            pending: Mutex::new(HashMap::new()),
            writing: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(write_periodically(Arc::downgrade(&shared), every));
        UsageWriter { shared }
    }

    /// Adds one call to its pending row.
    pub fn record(&self, c: Call<'_>) {
        let key = RowKey {
            org: c.org.clone(),
            api_key: c.api_key.to_owned(),
            provider: c.provider.to_owned(),
            model: c.model.to_owned(),
            day_start: day_start(c.at),
        };
        let call = Totals {
            requests: 1,
            input_tokens: clamp(c.input_tokens),
            output_tokens: clamp(c.output_tokens),
        };
        lock(&self.shared.pending).entry(key).or_default().add(call);
    }

    /// Writes every pending row now (waiting for a write in progress first).
    pub async fn flush(&self) -> StoreResult<()> {
        self.shared.write().await
    }

    /// Tokens of an organization's calls since `from` that are not written yet.
    pub fn pending_tokens(&self, org: &OrgId, from: EpochMs) -> i64 {
        lock(&self.shared.pending)
            .iter()
            .filter(|(k, _)| &k.org == org && k.day_start >= from)
            .map(|(_, t)| t.input_tokens.saturating_add(t.output_tokens))
            .sum()
    }

    /// Rows waiting to be written (the gauge `conea_ai_usage_pending_rows`).
    pub fn pending_rows(&self) -> usize {
        lock(&self.shared.pending).len()
    }
}

impl Shared {
    async fn write(&self) -> StoreResult<()> {
        let _writing = self.writing.lock().await;
        let batch = std::mem::take(&mut *lock(&self.pending));
        if batch.is_empty() {
            return Ok(());
        }
        let deltas: Vec<UsageDelta> = batch
            .iter()
            .map(|(k, t)| UsageDelta {
                org: k.org.clone(),
                api_key: k.api_key.clone(),
                provider: k.provider.clone(),
                model: k.model.clone(),
                day_start: k.day_start,
                requests: t.requests,
                input_tokens: t.input_tokens,
                output_tokens: t.output_tokens,
            })
            .collect();
        match self.store.add_usage(&deltas).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Nothing of the batch was counted (one transaction): put it back.
                let mut pending = lock(&self.pending);
                for (k, t) in batch {
                    pending.entry(k).or_default().add(t);
                }
                Err(e)
            }
        }
    }
}

#[allow(clippy::disallowed_methods)] // the flush period: a real timer, not domain time
async fn write_periodically(shared: Weak<Shared>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Err(e) = shared.write().await {
            tracing::warn!(error = %e, "could not write AI usage; keeping it pending and retrying");
            drop(shared);
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
}

fn clamp(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

/// The map stays consistent whatever panicked while holding it (each update is one entry).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::{UsageGroup, UsageRow};
    use async_trait::async_trait;
    use conea_core::store::StoreError;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Keeps what was written; fails while `fail` is set.
    #[derive(Default)]
    struct Recording {
        written: Mutex<Vec<Vec<UsageDelta>>>,
        fail: AtomicBool,
    }

    #[async_trait]
    impl AiUsageStore for Recording {
        async fn add_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("database down".into()));
            }
            lock(&self.written).push(deltas.to_vec());
            Ok(())
        }
        async fn tokens_since(&self, _: &OrgId, _: EpochMs) -> StoreResult<i64> {
            Ok(0)
        }
        async fn usage_report(
            &self,
            _: &OrgId,
            _: EpochMs,
            _: EpochMs,
            _: UsageGroup,
        ) -> StoreResult<Vec<UsageRow>> {
            Ok(vec![])
        }
        async fn set_budget(&self, _: &OrgId, _: Option<i64>, _: EpochMs) -> StoreResult<()> {
            Ok(())
        }
        async fn budget(&self, _: &OrgId) -> StoreResult<Option<i64>> {
            Ok(None)
        }
    }

    fn call<'a>(org: &'a OrgId, model: &'a str, at: EpochMs) -> Call<'a> {
        Call {
            org,
            api_key: "key_1",
            provider: "openai",
            model,
            input_tokens: 7,
            output_tokens: 2,
            at,
        }
    }

    const DAY: EpochMs = 86_400_000;
    /// An interval no test outlives: only explicit flushes write.
    const NEVER: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn calls_of_one_row_are_merged_into_one_delta_per_row_and_day() {
        let store = Arc::new(Recording::default());
        let w = UsageWriter::start(store.clone(), NEVER);
        let org = OrgId::generate();
        let t = 20_000 * DAY + 5;
        for _ in 0..3 {
            w.record(call(&org, "gpt-4o-mini", t));
        }
        w.record(call(&org, "gpt-4o", t));
        w.record(call(&org, "gpt-4o", t + DAY));
        assert_eq!(w.pending_rows(), 3);
        assert_eq!(w.pending_tokens(&org, 20_000 * DAY), 5 * 9);
        assert_eq!(w.pending_tokens(&org, 20_001 * DAY), 9);
        w.flush().await.unwrap();
        assert_eq!(w.pending_rows(), 0);
        let written = lock(&store.written).concat();
        let mini = written.iter().find(|d| d.model == "gpt-4o-mini").unwrap();
        assert_eq!(
            (mini.requests, mini.input_tokens, mini.output_tokens),
            (3, 21, 6)
        );
        assert_eq!(mini.day_start, 20_000 * DAY);
        assert_eq!(written.iter().map(|d| d.requests).sum::<i64>(), 5);
        assert_eq!(written.len(), 3, "one delta per (row, day)");
    }

    #[tokio::test]
    async fn a_failed_write_keeps_the_rows_and_the_next_write_counts_them_once() {
        let store = Arc::new(Recording::default());
        let w = UsageWriter::start(store.clone(), NEVER);
        let org = OrgId::generate();
        w.record(call(&org, "m", DAY));
        store.fail.store(true, Ordering::SeqCst);
        assert!(w.flush().await.is_err());
        assert_eq!(w.pending_rows(), 1, "the failed row is pending again");
        w.record(call(&org, "m", DAY));
        store.fail.store(false, Ordering::SeqCst);
        w.flush().await.unwrap();
        let written = lock(&store.written).concat();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].requests, 2, "both calls, each once");
    }

    #[tokio::test]
    #[allow(clippy::disallowed_methods)] // waits for the real background task
    async fn the_background_task_writes_without_a_flush() {
        let store = Arc::new(Recording::default());
        let w = UsageWriter::start(store.clone(), Duration::from_millis(20));
        let org = OrgId::generate();
        w.record(call(&org, "m", DAY));
        for _ in 0..200 {
            if !lock(&store.written).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(lock(&store.written).concat().len(), 1);
        assert_eq!(w.pending_rows(), 0);
    }
}
