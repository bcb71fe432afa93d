//! SQL storage for Conea: one implementation of the `conea-core` store traits that runs on
//! SQLite (the embedded default) and PostgreSQL. Statements are written once with `$n`
//! placeholders and portable SQL; [`with_pool!`] runs the same code against whichever pool
//! is configured. Only this crate knows sqlx and SQL.

mod accounts;
mod ai_usage;
pub mod db;
pub mod diagnostics;
mod errors;
mod idempotency;
mod jobs;
mod limits;
pub mod migrate;
pub mod redis_limiter;
mod shopdata;
mod shopify;
pub mod stats;

pub use db::{connect, ConnectError, Db, PoolStatus};
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
}

impl SqlStore {
    pub fn new(db: Db, slow_threshold: Duration) -> Self {
        Self {
            db,
            stats: Arc::new(StatementStats::new(slow_threshold)),
            jobs_wake: Arc::new(tokio::sync::Notify::new()),
            listener: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn stats(&self) -> &Arc<StatementStats> {
        &self.stats
    }
}
