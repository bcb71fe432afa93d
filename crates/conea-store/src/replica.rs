//! The read replica's side of read routing: its lag, measured on the replica itself, and
//! write marks shared between Conea replicas through Redis.

use crate::redis_limiter::RedisHandle;
use crate::{with_pool, Db};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::reads::{LagSource, WriteMarks};
use std::sync::Arc;
use std::time::Duration;

/// The lag of a PostgreSQL standby: zero when it has replayed everything it received,
/// otherwise the age of the last replayed transaction. A server that is not in recovery is
/// not a replica: an error, so reads stay on the primary and `/health` says why.
pub struct PgReplicaLag {
    replica: Db,
}

impl PgReplicaLag {
    pub fn new(replica: Db) -> Self {
        PgReplicaLag { replica }
    }
}

const LAG_SQL: &str = "SELECT pg_is_in_recovery(), \
     CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0::float8 \
     ELSE COALESCE(EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8, 0) END";

#[async_trait]
impl LagSource for PgReplicaLag {
    async fn lag(&self) -> Result<Duration, String> {
        let (in_recovery, seconds): (bool, f64) = with_pool!(&self.replica, |p| sqlx::query_as::<
            DB,
            (bool, f64),
        >(LAG_SQL)
        .fetch_one(p)
        .await)
        .map_err(|e| format!("the read replica is unreachable: {e}"))?;
        if !in_recovery {
            return Err(
                "DATABASE_REPLICA_URL is not a standby (pg_is_in_recovery() is false); point it at a streaming replica"
                    .to_owned(),
            );
        }
        Ok(Duration::from_secs_f64(seconds.max(0.0)))
    }
}

/// Write marks in Redis (`{prefix}w:{client}` = epoch ms, expiring), so a client that wrote
/// through one Conea replica reads its write through any other. When Redis cannot be
/// reached a mark is kept in memory too, and a lookup that fails counts as "wrote just now"
/// (the primary answers): correctness over load.
pub struct RedisWriteMarks {
    redis: Arc<RedisHandle>,
    prefix: String,
    ttl: Duration,
    local: conea_core::reads::MemoryWriteMarks,
    clock: Arc<dyn conea_core::Clock>,
}

impl RedisWriteMarks {
    pub fn new(
        redis: Arc<RedisHandle>,
        prefix: &str,
        ttl: Duration,
        max_local: u64,
        clock: Arc<dyn conea_core::Clock>,
    ) -> Self {
        RedisWriteMarks {
            redis,
            prefix: prefix.to_owned(),
            ttl,
            local: conea_core::reads::MemoryWriteMarks::new(max_local, ttl),
            clock,
        }
    }

    fn key(&self, client: &str) -> String {
        format!("{}w:{client}", self.prefix)
    }
}

#[async_trait]
impl WriteMarks for RedisWriteMarks {
    async fn mark(&self, client: &str, at: EpochMs) {
        self.local.mark(client, at).await;
        let key = self.key(client);
        let ttl_ms = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let _ = self
            .redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(at)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
    }

    async fn last(&self, client: &str) -> Option<EpochMs> {
        let key = self.key(client);
        let remote = self
            .redis
            .run(|mut c| async move {
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<i64>>(&mut c)
                    .await
            })
            .await;
        let local = self.local.last(client).await;
        match remote {
            Ok(r) => r.max(local),
            Err(_) => Some(self.clock.now_ms()),
        }
    }

    fn len(&self) -> u64 {
        self.local.len()
    }
}
