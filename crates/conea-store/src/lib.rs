//! SQL storage for Conea: one implementation of the `conea-core` store traits that runs on
//! SQLite (the embedded default) and PostgreSQL. Statements are written once with `$n`
//! placeholders and portable SQL; the query path (`query.rs`) times each statement, runs it
//! against whichever pool is configured ([`with_pool!`]) and maps its error. Each store
//! trait is implemented in its own repository module. Only this crate knows sqlx and SQL.

mod accounts;
mod ai_usage;
pub mod db;
pub mod diagnostics;
mod errors;
mod idempotency;
mod incidents;
mod insights;
mod jobs;
mod limits;
pub mod login_counters;
pub mod migrate;
mod query;
pub mod redis_limiter;
pub mod replica;
mod schedules;
mod shopdata;
mod shopify;
pub mod stats;

pub use db::{connect, ConnectError, Db, PoolStatus};
pub use jobs::BULK_ANALYZE_ROWS;
#[doc(hidden)]
pub use sqlx;
pub use stats::{SlowStatement, StatementStats};

use std::sync::Arc;
use std::time::Duration;

/// The store: a pool plus the statement statistics every call feeds.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) db: Db,
    pub(crate) stats: Arc<StatementStats>,
    /// Wakes this process's workers when it enqueues (SQLite; PostgreSQL also NOTIFYs).
    pub(crate) jobs_wake: Arc<tokio::sync::Notify>,
    /// The PostgreSQL LISTEN connection for job notifications, opened on first wait.
    pub(crate) listener: Arc<tokio::sync::Mutex<Option<sqlx::postgres::PgListener>>>,
    /// The read replica (`DATABASE_REPLICA_URL`), used by the routable reads only.
    pub(crate) replica: Option<Db>,
    /// Routable reads served by the primary and by the replica (exported in `/metrics`).
    pub(crate) routed: Arc<[std::sync::atomic::AtomicU64; 2]>,
}

impl SqlStore {
    pub fn new(db: Db, slow_threshold: Duration) -> Self {
        Self {
            db,
            stats: Arc::new(StatementStats::new(slow_threshold)),
            jobs_wake: Arc::new(tokio::sync::Notify::new()),
            listener: Arc::new(tokio::sync::Mutex::new(None)),
            replica: None,
            routed: Arc::new(Default::default()),
        }
    }

    /// Lets the routable reads (listings and reports) use `replica` when the current task's
    /// [`conea_core::reads::current`] target says so.
    pub fn with_replica(mut self, replica: Db) -> Self {
        self.replica = Some(replica);
        self
    }

    pub fn replica(&self) -> Option<&Db> {
        self.replica.as_ref()
    }

    /// The database for a read that may be served by the replica: the replica when one is
    /// configured and the current task was routed to it, the primary otherwise. Only
    /// read-only listing and report queries call this; everything else uses `db`.
    pub(crate) fn routed_db(&self) -> &Db {
        use std::sync::atomic::Ordering::Relaxed;
        match (&self.replica, conea_core::reads::current()) {
            (Some(r), conea_core::reads::ReadTarget::Replica) => {
                self.routed[1].fetch_add(1, Relaxed);
                r
            }
            _ => {
                self.routed[0].fetch_add(1, Relaxed);
                &self.db
            }
        }
    }

    /// Routable reads served so far: `(primary, replica)`.
    pub fn routed_reads(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.routed[0].load(Relaxed), self.routed[1].load(Relaxed))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn stats(&self) -> &Arc<StatementStats> {
        &self.stats
    }
}
