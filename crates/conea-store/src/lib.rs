//! SQL storage for Conea: one implementation of the `conea-core` store traits that runs on
//! SQLite (the embedded default) and PostgreSQL. Statements are written once with `$n`
//! placeholders and portable SQL; [`with_pool!`] runs the same code against whichever pool
//! is configured. Only this crate knows sqlx and SQL.

mod accounts;
pub mod db;
mod errors;
mod limits;
pub mod migrate;
pub mod redis_limiter;
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
}

impl SqlStore {
    pub fn new(db: Db, slow_threshold: Duration) -> Self {
        Self {
            db,
            stats: Arc::new(StatementStats::new(slow_threshold)),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn stats(&self) -> &Arc<StatementStats> {
        &self.stats
    }
}
