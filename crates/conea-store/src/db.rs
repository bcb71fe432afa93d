//! Connecting: one pool for SQLite or PostgreSQL, configured from `DatabaseConfig`, with
//! failures that name the host and port (or file) and say what to check.

use conea_core::config::{Backend, DatabaseConfig};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Connection;
use std::str::FromStr;
use std::time::Duration;

/// Runs `$body` with `$pool` bound to the configured pool and `DB` to its sqlx database
/// type, so one statement text serves both backends.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => {
                #[allow(dead_code)]
                type DB = $crate::sqlx::Sqlite;
                $body
            }
            $crate::Db::Postgres($pool) => {
                #[allow(dead_code)]
                type DB = $crate::sqlx::Postgres;
                $body
            }
        }
    };
}

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL is not a valid {backend} URL: {reason}")]
    BadUrl {
        backend: &'static str,
        reason: String,
    },
    #[error("cannot reach PostgreSQL at {host}:{port} within {timeout_ms} ms: {reason}. Check that PostgreSQL runs there and that DATABASE_URL is right.")]
    Unreachable {
        host: String,
        port: u16,
        timeout_ms: u128,
        reason: String,
    },
    #[error("cannot open the SQLite database {path}: {reason}. Check CONEA_DATA_DIR and its permissions.")]
    SqliteOpen { path: String, reason: String },
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn pool_status(&self) -> PoolStatus {
        let (size, idle, max) = with_pool!(self, |p| (
            p.size(),
            p.num_idle() as u32,
            p.options().get_max_connections()
        ));
        PoolStatus { size, idle, max }
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<Duration, sqlx::Error> {
        let started = std::time::Instant::now();
        with_pool!(self, |p| sqlx::query("SELECT 1").execute(p).await.map(drop))?;
        Ok(started.elapsed())
    }

    pub async fn close(&self) {
        with_pool!(self, |p| p.close().await)
    }

    /// SQLite only: the size of the write-ahead log (`<database>-wal`) in bytes; `None` on
    /// PostgreSQL, for an in-memory database, or when there is no WAL file yet.
    pub fn sqlite_wal_bytes(&self) -> Option<u64> {
        let Db::Sqlite(p) = self else { return None };
        let options = p.connect_options();
        let db = options.get_filename();
        if db.as_os_str().is_empty() || db.as_os_str() == ":memory:" {
            return None;
        }
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(wal).ok().map(|m| m.len())
    }

    /// SQLite only: when the write-ahead log is larger than `limit` bytes, copies it into the
    /// database and truncates it to zero (`PRAGMA wal_checkpoint(PASSIVE)`, then
    /// `wal_checkpoint(TRUNCATE)`).
    ///
    /// SQLite's own automatic checkpoints copy the log but never start it again while any
    /// connection is reading, and a server always has someone reading (job polling, health,
    /// the import itself): the log of a 600 MiB database reached 15.9 GiB over ten imports,
    /// and the index of it that every connection maps (`-shm`) grew with it, in RSS. This
    /// checkpoint waits at most [`WAL_CHECKPOINT_WAIT`] for readers (writers wait behind it
    /// meanwhile, within their own busy timeout); when a reader outlasts that it gives up,
    /// keeps what it copied, and the next call tries again.
    pub async fn checkpoint_sqlite_wal(
        &self,
        limit: u64,
    ) -> Result<Option<WalCheckpoint>, sqlx::Error> {
        let Some(before) = self.sqlite_wal_bytes() else {
            return Ok(None);
        };
        if before <= limit {
            return Ok(None);
        }
        let Db::Sqlite(p) = self else { return Ok(None) };
        let mut conn = p.acquire().await?;
        // First copy what can be copied beside the writers (a passive checkpoint takes no
        // write lock), so that the truncating one, which holds the write lock while it
        // copies, has little left to do and writers wait behind it only briefly.
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *conn)
            .await?;
        let wait = format!("PRAGMA busy_timeout = {}", WAL_CHECKPOINT_WAIT.as_millis());
        sqlx::query(&wait).execute(&mut *conn).await?;
        let result: Result<(i64, i64, i64), sqlx::Error> =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut *conn)
                .await;
        let restore = format!("PRAGMA busy_timeout = {}", SQLITE_BUSY_TIMEOUT.as_millis());
        if let Err(e) = sqlx::query(&restore).execute(&mut *conn).await {
            // Not back in the pool with the short wait.
            conn.close_on_drop();
            return Err(e);
        }
        let (busy, _, _) = result?;
        Ok(Some(WalCheckpoint {
            before_bytes: before,
            after_bytes: self.sqlite_wal_bytes().unwrap_or(0),
            completed: busy == 0,
        }))
    }

    pub fn as_postgres(&self) -> Option<&PgPool> {
        match self {
            Db::Postgres(p) => Some(p),
            Db::Sqlite(_) => None,
        }
    }
}

/// Opens the pool and checks that the database answers within the connect timeout.
pub async fn connect(cfg: &DatabaseConfig) -> Result<Db, ConnectError> {
    match cfg.backend {
        Backend::Sqlite => connect_sqlite(cfg).await,
        Backend::Postgres => connect_postgres(cfg, "conea").await,
    }
}

/// Like [`connect`] with another `application_name` (the CLI uses `conea-cli`).
pub async fn connect_as(cfg: &DatabaseConfig, application_name: &str) -> Result<Db, ConnectError> {
    match cfg.backend {
        Backend::Sqlite => connect_sqlite(cfg).await,
        Backend::Postgres => connect_postgres(cfg, application_name).await,
    }
}

/// A PostgreSQL pool that connects on first use: for the read replica, whose absence must
/// not stop the server (its reads fall back to the primary while it is unreachable).
pub fn connect_lazy_postgres(
    cfg: &DatabaseConfig,
    url: &str,
    application_name: &str,
) -> Result<Db, ConnectError> {
    let opts = PgConnectOptions::from_str(url).map_err(|e| ConnectError::BadUrl {
        backend: "PostgreSQL",
        reason: e.to_string(),
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .idle_timeout(cfg.idle_timeout)
        .acquire_timeout(cfg.connect_timeout)
        .connect_lazy_with(opts.application_name(application_name));
    Ok(Db::Postgres(pool))
}

/// What one [`Db::checkpoint_sqlite_wal`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalCheckpoint {
    pub before_bytes: u64,
    pub after_bytes: u64,
    /// False when a reader or writer outlasted [`WAL_CHECKPOINT_WAIT`]: the log was copied
    /// as far as it could be and not truncated.
    pub completed: bool,
}

/// The write-ahead log is truncated once it is larger than this (and SQLite itself cuts it
/// back to this size whenever it starts it again: `journal_size_limit`).
pub const SQLITE_WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// How long a WAL checkpoint waits for readers and writers before giving up for this time.
pub const WAL_CHECKPOINT_WAIT: Duration = Duration::from_secs(1);

/// How long a statement waits for another connection's write lock before failing with
/// "database is locked". SQLite's wait is a poll (at most every 100 ms), not a queue, and an
/// import writing batch after batch leaves the lock free only between its batches: with 5 s,
/// on a loaded 2-core machine, uploads of a multi-part import's next part, job claims and
/// progress writes timed out beside a running import (500s). 15 s stays under the request
/// timeout's default (30 s).
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// SQLite connections opened at start and kept open (see `connect_sqlite`).
const SQLITE_MIN_CONNECTIONS: u32 = 8;

/// SQLite's memory (page caches of every connection together) is kept under this.
pub const SQLITE_SOFT_HEAP_LIMIT: u64 = 4 * 1024 * 1024;
/// The page cache of one SQLite connection, in KiB.
pub const SQLITE_CACHE_KIB: u32 = 512;

async fn connect_sqlite(cfg: &DatabaseConfig) -> Result<Db, ConnectError> {
    let opts = SqliteConnectOptions::from_str(&cfg.url).map_err(|e| ConnectError::BadUrl {
        backend: "SQLite",
        reason: e.to_string(),
    })?;
    let path = opts.get_filename().to_path_buf();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ConnectError::SqliteOpen {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    // WAL lets readers run beside the writer; NORMAL sync in WAL mode survives a crash of the
    // process (what was committed is in the WAL), losing only on power failure.
    let opts = opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        // Small page caches: each connection keeps at most SQLITE_CACHE_KIB, and all of
        // SQLite's memory together stays under the process-wide soft limit. SQLite's default
        // (2 MiB per connection) made RSS climb for minutes as a growing database filled each
        // pooled connection's cache (the soak: +16 MiB over 7 minutes at 20 jobs/s); with
        // these it stays flat. Pages not cached come from the OS page cache.
        .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
        .pragma("soft_heap_limit", SQLITE_SOFT_HEAP_LIMIT.to_string())
        // Whenever SQLite starts the log again it cuts the file back to this size; the
        // server's checkpoint task (`Db::checkpoint_sqlite_wal`) makes sure it does start
        // again.
        .pragma("journal_size_limit", SQLITE_WAL_LIMIT_BYTES.to_string());
    // The pool opens its first SQLITE_MIN_CONNECTIONS at start and keeps them: each costs
    // about 1 MiB (its page and statement caches), and a pool that grew under the first
    // minutes of load showed up as a step in RSS (the soak: 5 → 7 connections, +2.2 MiB).
    let pool = SqlitePoolOptions::new()
        .max_connections(cfg.max_connections)
        .min_connections(cfg.max_connections.min(SQLITE_MIN_CONNECTIONS))
        .idle_timeout(cfg.idle_timeout)
        .acquire_timeout(cfg.connect_timeout.max(Duration::from_secs(5)))
        .connect_with(opts)
        .await
        .map_err(|e| ConnectError::SqliteOpen {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    Ok(Db::Sqlite(pool))
}

async fn connect_postgres(
    cfg: &DatabaseConfig,
    application_name: &str,
) -> Result<Db, ConnectError> {
    let opts = PgConnectOptions::from_str(&cfg.url).map_err(|e| ConnectError::BadUrl {
        backend: "PostgreSQL",
        reason: e.to_string(),
    })?;
    let host = opts.get_host().to_owned();
    let port = opts.get_port();
    let opts = opts.application_name(application_name);
    let unreachable = |reason: String| ConnectError::Unreachable {
        host: host.clone(),
        port,
        timeout_ms: cfg.connect_timeout.as_millis(),
        reason,
    };
    // One direct connection first: its error says what is wrong (refused, unknown host,
    // authentication), where a pool would only say that it timed out.
    let probe = tokio::time::timeout(cfg.connect_timeout, PgConnection::connect_with(&opts))
        .await
        .map_err(|_| unreachable("no answer (timed out)".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let _ = probe.close().await;
    let pool_opts = PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .idle_timeout(cfg.idle_timeout)
        .acquire_timeout(cfg.connect_timeout);
    let pool = tokio::time::timeout(cfg.connect_timeout, pool_opts.connect_with(opts))
        .await
        .map_err(|_| unreachable("no answer (timed out)".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    Ok(Db::Postgres(pool))
}
