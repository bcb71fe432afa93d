//! Read-only queries the operations toolkit (`conea diagnose`, `conea db …`) runs against
//! PostgreSQL: connections by application and state, idle connections, headroom, version,
//! slowest statements.

use crate::Db;
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionGroup {
    pub application_name: String,
    pub state: String,
    pub count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdleConnection {
    pub pid: i32,
    pub usename: String,
    pub application_name: String,
    pub idle_seconds: f64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlowStatement {
    pub query: String,
    pub calls: i64,
    pub mean_exec_time_ms: f64,
}

fn pg(db: &Db) -> Option<&PgPool> {
    db.as_postgres()
}

/// `server_version` of PostgreSQL, or SQLite's version.
pub async fn server_version(db: &Db) -> Result<String, sqlx::Error> {
    match db {
        Db::Postgres(p) => {
            sqlx::query_scalar::<_, String>("SHOW server_version")
                .fetch_one(p)
                .await
        }
        Db::Sqlite(p) => {
            sqlx::query_scalar::<_, String>("SELECT 'SQLite ' || sqlite_version()")
                .fetch_one(p)
                .await
        }
    }
}

/// Connections of this database grouped by application and state (`pg_stat_activity`).
pub async fn connections(db: &Db) -> Result<Vec<ConnectionGroup>, sqlx::Error> {
    let Some(p) = pg(db) else {
        return Ok(Vec::new());
    };
    sqlx::query_as(
        "SELECT COALESCE(NULLIF(application_name, ''), '(none)') AS application_name, COALESCE(state, '(background)') AS state, \
         COUNT(*) AS count FROM pg_stat_activity WHERE datname = current_database() \
         GROUP BY 1, 2 ORDER BY 3 DESC",
    )
    .fetch_all(p)
    .await
}

/// Connections idle for longer than `seconds`; only `application_name` matching `app_prefix`
/// unless it is empty.
pub async fn idle_connections(
    db: &Db,
    seconds: f64,
    app_prefix: &str,
) -> Result<Vec<IdleConnection>, sqlx::Error> {
    let Some(p) = pg(db) else {
        return Ok(Vec::new());
    };
    sqlx::query_as(
        "SELECT pid, COALESCE(usename::text, '') AS usename, COALESCE(application_name, '') AS application_name, \
         EXTRACT(EPOCH FROM (now() - state_change))::float8 AS idle_seconds \
         FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle' \
         AND state_change < now() - make_interval(secs => $1) AND ($2 = '' OR application_name LIKE $2 || '%') \
         AND pid <> pg_backend_pid() ORDER BY state_change",
    )
    .bind(seconds)
    .bind(app_prefix)
    .fetch_all(p)
    .await
}

/// Terminates the given backends; returns how many were terminated.
pub async fn terminate(db: &Db, pids: &[i32]) -> Result<i64, sqlx::Error> {
    let Some(p) = pg(db) else { return Ok(0) };
    sqlx::query_scalar(
        "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest($1::int[]) AS pid",
    )
    .bind(pids)
    .fetch_one(p)
    .await
}

/// (connections in use on the server, `max_connections`).
pub async fn connection_headroom(db: &Db) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let Some(p) = pg(db) else { return Ok(None) };
    let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity")
        .fetch_one(p)
        .await?;
    let max: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(p)
        .await?;
    Ok(Some((used, max.parse().unwrap_or(100))))
}

/// The slowest statements by mean time from `pg_stat_statements`; `None` when the extension
/// is not installed.
pub async fn slow_statements(
    db: &Db,
    limit: i64,
) -> Result<Option<Vec<SlowStatement>>, sqlx::Error> {
    let Some(p) = pg(db) else { return Ok(None) };
    let installed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')",
    )
    .fetch_one(p)
    .await?;
    if !installed {
        return Ok(None);
    }
    sqlx::query_as(
        "SELECT query, calls, mean_exec_time AS mean_exec_time_ms FROM pg_stat_statements \
         ORDER BY mean_exec_time DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(p)
    .await
    .map(Some)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplicationPeer {
    pub client_addr: String,
    pub application_name: String,
    pub state: String,
    pub sync_state: String,
    /// Bytes of WAL the replica has not replayed yet.
    pub replay_lag_bytes: Option<i64>,
    pub replay_lag_seconds: Option<f64>,
}

/// The primary's view of its replicas (`pg_stat_replication`).
pub async fn replication_peers(db: &Db) -> Result<Vec<ReplicationPeer>, sqlx::Error> {
    let Some(p) = pg(db) else {
        return Ok(Vec::new());
    };
    sqlx::query_as(
        "SELECT COALESCE(host(client_addr), 'local') AS client_addr, COALESCE(application_name, '') AS application_name,          COALESCE(state, '') AS state, COALESCE(sync_state, '') AS sync_state,          pg_wal_lsn_diff(sent_lsn, replay_lsn)::bigint AS replay_lag_bytes,          EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_seconds FROM pg_stat_replication",
    )
    .fetch_all(p)
    .await
}

/// On a replica: seconds since the last replayed transaction; `None` when the server is not
/// in recovery (not a replica).
pub async fn replica_lag_seconds(db: &Db) -> Result<Option<f64>, sqlx::Error> {
    let Some(p) = pg(db) else { return Ok(None) };
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(p)
        .await?;
    if !in_recovery {
        return Ok(None);
    }
    sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8, 0)",
    )
    .fetch_one(p)
    .await
    .map(Some)
}
