//! The SQLite write-ahead log is truncated by `Db::checkpoint_sqlite_wal` once it passes a
//! limit, even though a server always has connections reading, and a reader that outlasts the
//! checkpoint's wait leaves the log copied but whole (nothing lost either way).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use conea_testkit::Backend;
use sqlx::Connection;

/// Writes `rows` rows of 1 KiB each in transactions of 100, through the pool.
async fn write_rows(pool: &sqlx::SqlitePool, first: i64, rows: i64) {
    let blob = vec![7u8; 1024];
    for start in (first..first + rows).step_by(100) {
        let mut tx = pool.begin().await.unwrap();
        for id in start..(start + 100).min(first + rows) {
            sqlx::query("INSERT INTO wal_probe (id, data) VALUES ($1, $2)")
                .bind(id)
                .bind(&blob)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

async fn count(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM wal_probe")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_log_grown_under_a_constant_reader_is_truncated_once_past_the_limit_and_keeps_every_row()
{
    let (store, _org, _db) = common::env(Backend::Sqlite)
        .await
        .expect("SQLite always runs");
    let db = store.db().clone();
    let conea_store::Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite store")
    };
    sqlx::query("CREATE TABLE wal_probe (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        .execute(pool)
        .await
        .unwrap();
    // A reader with an open snapshot while the writes go on, as job polling is in a server:
    // SQLite's automatic checkpoints cannot start the log again, so it only grows.
    let mut reader = pool.acquire().await.unwrap();
    let mut snapshot = reader.begin().await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wal_probe")
        .fetch_one(&mut *snapshot)
        .await
        .unwrap();
    write_rows(pool, 0, 6000).await;
    let grown = db.sqlite_wal_bytes().expect("a WAL file");
    assert!(grown > 4 * 1024 * 1024, "the log grew to {grown} bytes");

    // Below the limit: nothing to do.
    assert_eq!(db.checkpoint_sqlite_wal(u64::MAX).await.unwrap(), None);

    // The reader outlasts the checkpoint's wait: copied, not truncated, nothing lost.
    let blocked = db.checkpoint_sqlite_wal(1024).await.unwrap().expect("ran");
    assert!(!blocked.completed, "{blocked:?}");
    assert_eq!(blocked.before_bytes, grown);
    assert!(blocked.after_bytes > 0, "{blocked:?}");
    snapshot.rollback().await.unwrap();
    drop(reader);

    // Once the reader is done the log is cut to nothing, and every row is there.
    let done = db.checkpoint_sqlite_wal(1024).await.unwrap().expect("ran");
    assert!(done.completed, "{done:?}");
    assert_eq!(done.after_bytes, 0, "{done:?}");
    assert_eq!(db.sqlite_wal_bytes(), Some(0));
    assert_eq!(count(pool).await, 6000);

    // The log starts again from the beginning: more writes do not bring back the old size.
    write_rows(pool, 6000, 500).await;
    let after = db.sqlite_wal_bytes().expect("a WAL file");
    assert!(after < grown / 4, "{after} against {grown}");
    assert_eq!(count(pool).await, 6500);

    // Connections that ran the checkpoint went back to the pool with the normal busy timeout.
    let mut conns = Vec::new();
    for _ in 0..5 {
        conns.push(pool.acquire().await.unwrap());
    }
    for c in &mut conns {
        let ms: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut **c)
            .await
            .unwrap();
        assert_eq!(ms, conea_store::db::SQLITE_BUSY_TIMEOUT.as_millis() as i64);
    }
}

#[tokio::test]
async fn postgres_has_no_write_ahead_log_to_truncate() {
    let Some((store, _org, _db)) = common::env(Backend::Postgres).await else {
        return;
    };
    assert_eq!(store.db().sqlite_wal_bytes(), None);
    assert_eq!(store.db().checkpoint_sqlite_wal(0).await.unwrap(), None);
}
