//! Redis: one shared connection handle (used by the rate limiter and the health check) and
//! the Redis rate limiter — one atomic Lua script per decision (EVALSHA, one round trip;
//! the decisions waiting at the same moment go out as one pipeline), bucket keys that
//! expire once the bucket is full again.
//!
//! A circuit breaker guards the request path: when a command fails or takes longer than the
//! request-path timeout (`CONEA_REDIS_TIMEOUT`, 50 ms by default: a frozen Redis, which
//! still accepts connections and never answers, costs the requests of that one wait), the
//! handle is "down" and every later call fails at once (the rate limiter then decides in memory, or
//! refuses in `closed` mode) while one background task reconnects and PINGs Redis every
//! [`PROBE_INTERVAL`]; the first answer closes the breaker. A request never waits on a
//! reconnection, and a Redis that returns is used again without a restart.

use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ratelimit::{gcra, Decision, Limiter, LimiterBackend, LimiterUnavailable, Policy};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How often the background probe tries Redis while the breaker is open.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// Time the background probe allows a new connection (off the request path, so longer than
/// the request-path timeout: a TLS handshake to a remote Redis fits).
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The GCRA step of `conea_core::ratelimit::gcra`, in Lua, on integer microseconds.
/// KEYS[1] bucket; ARGV now_us, emission_us, capacity_us, consume (1/0).
/// Returns the TAT before the decision ("-1" for a fresh bucket); the caller recomputes the
/// same decision from it.
const GCRA_LUA: &str = r#"
local stored = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local base = now
if stored then
  local s = tonumber(stored)
  if s > now then base = s end
end
local new_tat = base + t
if ARGV[4] == '1' and new_tat - now <= cap then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)
end
if stored then return stored end
return '-1'
"#;

pub struct RedisHandle {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    /// The longest wait for a command (and a first connection) on the request path; also
    /// what the probe's PING must answer within to close the breaker.
    timeout: Duration,
    conn: Mutex<Option<ConnectionManager>>,
    /// The breaker: open (true) from a failure until the probe gets an answer.
    down: AtomicBool,
    /// A probe task is running.
    probing: AtomicBool,
    connecting: tokio::sync::Mutex<()>,
    last_error: Mutex<Option<String>>,
}

impl RedisHandle {
    /// Parses the URL; connects lazily on first use. `timeout` bounds every command (see
    /// the module documentation).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL is invalid: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                timeout,
                conn: Mutex::new(None),
                down: AtomicBool::new(false),
                probing: AtomicBool::new(false),
                connecting: tokio::sync::Mutex::new(()),
                last_error: Mutex::new(None),
            }),
        })
    }

    /// True while the breaker is open (from a failure until Redis answers the probe).
    pub fn is_down(&self) -> bool {
        self.inner.down.load(Ordering::SeqCst)
    }

    pub fn last_error(&self) -> Option<String> {
        self.inner.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Opens the breaker and starts the probe (one at a time).
    fn mark_down(&self, error: String) {
        if let Ok(mut e) = self.inner.last_error.lock() {
            *e = Some(error);
        }
        if let Ok(mut c) = self.inner.conn.lock() {
            *c = None;
        }
        self.inner.down.store(true, Ordering::SeqCst);
        if !self.inner.probing.swap(true, Ordering::SeqCst) {
            tokio::spawn(probe(self.inner.clone()));
        }
    }

    /// A connection, or an error at once while the breaker is open. Only the first use
    /// (before any failure) connects on the caller's path.
    pub async fn connection(&self) -> Result<ConnectionManager, String> {
        if self.is_down() {
            return Err(self.last_error().unwrap_or_else(|| "redis is down".into()));
        }
        if let Some(c) = self.inner.current() {
            return Ok(c);
        }
        let _guard = self.inner.connecting.lock().await;
        if self.is_down() {
            return Err(self.last_error().unwrap_or_else(|| "redis is down".into()));
        }
        if let Some(c) = self.inner.current() {
            return Ok(c);
        }
        match self.inner.connect(self.inner.timeout).await {
            Ok(c) => Ok(c),
            Err(e) => {
                self.mark_down(e.clone());
                Err(e)
            }
        }
    }

    /// Runs one command, marking Redis down on failure.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        let timeout = self.inner.timeout;
        match tokio::time::timeout(timeout, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.mark_down(e.to_string());
                Err(e.to_string())
            }
            Err(_) => {
                let e = format!("no answer within {} ms", timeout.as_millis());
                self.mark_down(e.clone());
                Err(e)
            }
        }
    }

    /// PING round trip. While the breaker is open this fails at once with the last error
    /// (the background probe is what tries Redis then).
    pub async fn ping(&self) -> Result<Duration, String> {
        let started = Instant::now();
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| started.elapsed())
    }

    /// `INFO memory` used_memory in bytes.
    pub async fn used_memory(&self) -> Result<u64, String> {
        let info: String = self
            .run(|mut c| async move {
                redis::cmd("INFO")
                    .arg("memory")
                    .query_async::<String>(&mut c)
                    .await
            })
            .await?;
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| "INFO memory has no used_memory".into())
    }
}

impl Inner {
    fn current(&self) -> Option<ConnectionManager> {
        self.conn.lock().ok().and_then(|c| c.clone())
    }

    /// A new connection within `budget`, kept for the callers that follow.
    async fn connect(&self, budget: Duration) -> Result<ConnectionManager, String> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(budget)
            // A backstop: the callers' own timeout (`self.timeout`) fires first and names itself.
            .set_response_timeout(self.timeout * 2)
            .set_number_of_retries(1);
        match tokio::time::timeout(
            budget,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        {
            Ok(Ok(c)) => {
                if let Ok(mut slot) = self.conn.lock() {
                    *slot = Some(c.clone());
                }
                Ok(c)
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no connection within {} ms", budget.as_millis())),
        }
    }
}

/// The breaker's half-open step, off the request path: every [`PROBE_INTERVAL`], connect and
/// PING; the first answer within the request-path timeout closes the breaker.
async fn probe(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let answered = async {
            let mut c = inner.connect(PROBE_CONNECT_TIMEOUT).await?;
            let ping = redis::cmd("PING");
            match tokio::time::timeout(inner.timeout, ping.query_async::<String>(&mut c)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} ms", inner.timeout.as_millis())),
            }
        }
        .await;
        match answered {
            Ok(()) => {
                inner.down.store(false, Ordering::SeqCst);
                inner.probing.store(false, Ordering::SeqCst);
                tracing::info!("Redis answers again; rate-limit decisions go back to it");
                return;
            }
            Err(e) => {
                if let Ok(mut c) = inner.conn.lock() {
                    *c = None;
                }
                if let Ok(mut last) = inner.last_error.lock() {
                    *last = Some(e);
                }
            }
        }
    }
}

pub struct RedisLimiter {
    handle: Arc<RedisHandle>,
    prefix: String,
    script: Arc<redis::Script>,
    /// Where decisions wait to go to Redis together (see [`send_together`]); the task that
    /// sends them starts with the first decision, on the runtime that makes it.
    asks: OnceLock<mpsc::UnboundedSender<Ask>>,
}

impl RedisLimiter {
    pub fn new(handle: Arc<RedisHandle>, prefix: &str) -> Self {
        Self {
            handle,
            prefix: format!("{prefix}rl:"),
            script: Arc::new(redis::Script::new(GCRA_LUA)),
            asks: OnceLock::new(),
        }
    }

    fn asks(&self) -> &mpsc::UnboundedSender<Ask> {
        self.asks.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(send_together(rx, self.handle.clone(), self.script.clone()));
            tx
        })
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    fn backend(&self) -> LimiterBackend {
        LimiterBackend::Redis
    }

    async fn decide(
        &self,
        bucket: &str,
        policy: &Policy,
        now: EpochMs,
        consume: bool,
    ) -> Result<Decision, LimiterUnavailable> {
        // The breaker is open: no Redis round trip (and no hop to the sender task).
        if self.handle.is_down() {
            return Err(LimiterUnavailable(
                self.handle
                    .last_error()
                    .unwrap_or_else(|| "redis is down".into()),
            ));
        }
        let (answer, answered) = oneshot::channel();
        let ask = Ask {
            key: format!("{}{bucket}", self.prefix),
            args: [now * 1000, policy.emission_us(), policy.capacity_us()],
            consume,
            answer,
        };
        let stopped = || LimiterUnavailable("the Redis limiter's sender has stopped".into());
        self.asks().send(ask).map_err(|_| stopped())?;
        let stored = answered
            .await
            .map_err(|_| stopped())?
            .map_err(LimiterUnavailable)?;
        let stored = stored.parse::<i64>().ok().filter(|v| *v >= 0);
        Ok(gcra(stored, now, policy, consume).0)
    }
}

/// Most decisions sent in one pipeline.
pub const MAX_BATCH: usize = 64;

/// One decision waiting for Redis: the bucket's key, ARGV (now, emission interval and
/// capacity in µs) and whether it consumes; answered with the script's reply.
struct Ask {
    key: String,
    args: [i64; 3],
    consume: bool,
    answer: oneshot::Sender<Result<String, String>>,
}

/// Sends the decisions that are waiting together, as one pipeline of scripts (each still
/// its own atomic script; one write and one read for all of them), and goes on collecting
/// while a batch is in flight. Woken by the first decision, this task would run next and
/// send it alone (tokio runs the task a message wakes right after the sender), so it first
/// lets the other requests that are ready now run and add theirs (`yield_now` resumes it
/// once the runtime has run every ready task). Under load (16 connections) ~6 decisions
/// share one write and one read, which cut Redis's CPU per decision by about a third;
/// alone, a decision waits one pass of the scheduler.
async fn send_together(
    mut asks: mpsc::UnboundedReceiver<Ask>,
    handle: Arc<RedisHandle>,
    script: Arc<redis::Script>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while asks.recv_many(&mut batch, MAX_BATCH).await > 0 {
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match asks.try_recv() {
                Ok(ask) => batch.push(ask),
                Err(_) => break,
            }
        }
        let batch = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        tokio::spawn(send_batch(handle.clone(), script.clone(), batch));
    }
}

/// One pipeline of EVALSHA; a Redis that lost the script (restarted, `SCRIPT FLUSH`) answers
/// NOSCRIPT to each without running any, so the script is loaded and the batch sent again.
async fn send_batch(handle: Arc<RedisHandle>, script: Arc<redis::Script>, batch: Vec<Ask>) {
    let mut pipe = redis::pipe();
    for ask in &batch {
        let consume = if ask.consume { "1" } else { "0" };
        pipe.invoke_script(script.key(&ask.key).arg(&ask.args[..]).arg(consume));
    }
    let replies = handle
        .run(|mut c| async move {
            match pipe.query_async::<Vec<String>>(&mut c).await {
                Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
                    script.prepare_invoke().load_async(&mut c).await?;
                    pipe.query_async(&mut c).await
                }
                replies => replies,
            }
        })
        .await;
    match replies {
        Ok(replies) if replies.len() == batch.len() => {
            for (ask, reply) in batch.into_iter().zip(replies) {
                let _ = ask.answer.send(Ok(reply));
            }
        }
        other => {
            let e = other
                .err()
                .unwrap_or_else(|| "Redis answered a batch with the wrong count".into());
            for ask in batch {
                let _ = ask.answer.send(Err(e.clone()));
            }
        }
    }
}
