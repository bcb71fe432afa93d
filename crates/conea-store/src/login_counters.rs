//! Failed-login counters in Redis, shared by every replica (`conea_core`'s
//! `SharedCounters`): one key per (address, account) and per address, counted with `INCR`
//! and expiring a window after its first failure (one script, so the count and its expiry
//! are set together).

use crate::redis_limiter::RedisHandle;
use async_trait::async_trait;
use conea_core::services::login_throttle::SharedCounters;
use std::sync::Arc;
use std::time::Duration;

const ADD_LUA: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"#;

pub struct RedisLoginCounters {
    handle: Arc<RedisHandle>,
    prefix: String,
    add: Arc<redis::Script>,
}

impl RedisLoginCounters {
    pub fn new(handle: Arc<RedisHandle>, prefix: &str) -> Self {
        Self {
            handle,
            prefix: format!("{prefix}login:"),
            add: Arc::new(redis::Script::new(ADD_LUA)),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl SharedCounters for RedisLoginCounters {
    async fn add(&self, key: &str, window: Duration) -> Result<u32, String> {
        let key = self.key(key);
        let script = self.add.clone();
        let ms = window.as_millis() as u64;
        self.handle
            .run(|mut c| async move { script.key(key).arg(ms).invoke_async::<u32>(&mut c).await })
            .await
    }

    async fn read(&self, key: &str) -> Result<Option<(u32, u64)>, String> {
        let key = self.key(key);
        let (count, ttl): (Option<u32>, i64) = self
            .handle
            .run(|mut c| async move {
                redis::pipe()
                    .get(&key)
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(match (count, ttl) {
            (Some(n), ttl) if ttl > 0 => Some((n, ttl as u64)),
            _ => None,
        })
    }

    async fn clear(&self, key: &str) -> Result<(), String> {
        let key = self.key(key);
        self.handle
            .run(|mut c| async move { redis::cmd("DEL").arg(&key).query_async::<()>(&mut c).await })
            .await
    }
}
