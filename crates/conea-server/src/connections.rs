//! The accept loop and every client connection the server holds open, with the limits that
//! keep a flood of sockets from taking the server down:
//!
//! - a connection that has not sent a complete request head within the header-read timeout
//!   is closed (also enforced by hyper for each later request on a keep-alive connection);
//! - a keep-alive connection with no request in progress is closed after the idle timeout;
//! - at most `max_open` connections are open: at the cap, the oldest connection that has not
//!   started a request is closed to make room (then the oldest idle keep-alive one), and only
//!   when every connection is busy is the new one refused;
//! - an accept error (`EMFILE`, `ENFILE`, `ENOBUFS`, …) frees a slot the same way and backs
//!   off (10 ms doubling to 1 s) instead of spinning on the error.
//!
//! A request "is in progress" from the moment its head is read until its response body is
//! sent (or dropped), so a long upload or a streamed answer (SSE) is never counted idle.
//! hyper's own answers to a request head it cannot parse (400, 414, 431) get the error body
//! through [`crate::parse_refusals`].
//! On shutdown the listener is closed, every connection is asked to finish its in-flight
//! request and close, and what still runs after the grace period is aborted.

use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// The connection limits of one server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_open: usize,
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
}

impl Limits {
    pub fn from_config(config: &conea_core::config::Config, file_limit: Option<u64>) -> Limits {
        Limits {
            max_open: config
                .max_open_connections
                .map(|n| n as usize)
                .unwrap_or_else(|| default_max_open(file_limit, &config.database)),
            header_read_timeout: config.header_read_timeout,
            keep_alive_timeout: config.keep_alive_timeout,
        }
    }
}

/// Used when the open-file limit is unknown (not Linux, or not read).
pub const MAX_OPEN_WITHOUT_FILE_LIMIT: usize = 1024;
/// Descriptors kept for everything but client connections: the listener, log files, SQLite's
/// database, journal and WAL files, Redis, AI and Shopify clients, outgoing e-mail.
const RESERVED_FILES: u64 = 256;
/// The cap never goes below this (a tiny file limit still serves a few clients).
const MIN_OPEN: u64 = 16;

/// The cap derived from the process's open-file limit: the limit less the database pools
/// (primary and replica) and [`RESERVED_FILES`].
pub fn default_max_open(
    file_limit: Option<u64>,
    database: &conea_core::config::DatabaseConfig,
) -> usize {
    let Some(limit) = file_limit else {
        return MAX_OPEN_WITHOUT_FILE_LIMIT;
    };
    let pools = if database.replica_url.is_some() { 2 } else { 1 };
    let reserved = RESERVED_FILES + pools * u64::from(database.max_connections);
    let cap = limit.saturating_sub(reserved).max(MIN_OPEN);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting and lets in-flight requests finish for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: Limits,
) -> std::io::Result<()> {
    let open = Arc::new(OpenConnections::default());
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut backoff = Duration::ZERO;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (tcp, addr) = match accepted {
            Ok(accepted) => {
                backoff = Duration::ZERO;
                accepted
            }
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of descriptors (or buffers): make room and wait rather than spin.
                open.shed_one();
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept error; backing off");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => continue,
                    _ = &mut shutdown => break,
                }
            }
        };
        if open.len() >= limits.max_open && !open.shed_one() {
            tracing::debug!(%addr, "connection refused: every open connection is busy");
            drop(tcp);
            continue;
        }
        // TCP_NODELAY: a streamed answer (SSE) is many small writes; with Nagle's algorithm
        // each waits for the client's ACK of the previous one, which a delayed ACK holds back.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
        let conn = open.add();
        tasks.spawn(run_connection(
            tcp,
            addr,
            app.clone(),
            conn,
            open.clone(),
            limits,
            drain_rx.clone(),
        ));
    }
    drop(listener);
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        connections = open.len(),
        "shutting down: draining in-flight requests"
    );
    let _ = drain_tx.send(true);
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("shutdown grace period over; closing remaining connections");
        tasks.abort_all();
    }
    Ok(())
}

/// Accept errors that concern one connection only (it was reset before it was accepted);
/// the next accept is fine.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    )
}

async fn run_connection(
    tcp: TcpStream,
    addr: SocketAddr,
    app: axum::Router,
    conn: Arc<Connection>,
    open: Arc<OpenConnections>,
    limits: Limits,
    mut drain: watch::Receiver<bool>,
) {
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let guard = conn.request_started();
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(addr));
            let app = app.clone();
            async move {
                let response = match app.oneshot(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(InFlightBody {
                        inner: body,
                        _guard: guard,
                    })
                }))
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    // hyper's own answers to a head it cannot parse get the error body on their way out.
    let io = TokioIo::new(crate::parse_refusals::RefusalRewrite::new(tcp));
    let served = builder.serve_connection_with_upgrades(io, service);
    let mut served = std::pin::pin!(served);
    let mut draining = false;
    loop {
        // Deadlines hold while draining too: a slow socket does not stretch the drain.
        let deadline = conn.deadline(&limits);
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(%addr, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = drain.changed(), if !draining => {
                draining = true;
                served.as_mut().graceful_shutdown();
            }
            _ = conn.shed.notified() => {
                tracing::debug!(%addr, "connection closed to make room for a new one");
                break;
            }
            _ = conn.activity.notified() => {}
            _ = sleep_until(deadline), if deadline.is_some() => {
                if conn.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%addr, "connection closed: no request within its timeout");
                    break;
                }
            }
        }
    }
    open.remove(conn.id);
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// One open connection, as the accept loop and its own task see it.
struct Connection {
    id: u64,
    accepted: Instant,
    /// Requests whose head was read (0: the first one has not arrived yet).
    started: AtomicU64,
    in_flight: AtomicUsize,
    /// When the last request finished, in milliseconds after `accepted`.
    idle_since_ms: AtomicU64,
    /// Wakes the connection's task when a request finishes (its idle deadline starts).
    activity: Notify,
    /// Closes the connection (the accept loop needs its slot).
    shed: Notify,
}

impl Connection {
    fn request_started(self: &Arc<Self>) -> InFlight {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// When the connection is to be closed if nothing happens: the header-read deadline
    /// before its first request, the idle deadline between requests, none during one.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            None
        } else if self.started.load(Ordering::SeqCst) == 0 {
            Some(self.accepted + limits.header_read_timeout)
        } else {
            let idle = Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst));
            Some(self.accepted + idle + limits.keep_alive_timeout)
        }
    }

    fn never_started(&self) -> bool {
        self.started.load(Ordering::SeqCst) == 0
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }
}

/// Held by a request from its head until its response body is done.
struct InFlight(Arc<Connection>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let c = &self.0;
        let elapsed = c.accepted.elapsed().as_millis();
        c.idle_since_ms
            .store(u64::try_from(elapsed).unwrap_or(u64::MAX), Ordering::SeqCst);
        c.in_flight.fetch_sub(1, Ordering::SeqCst);
        c.activity.notify_one();
    }
}

/// A response body that keeps its request counted in progress until it is sent or dropped.
struct InFlightBody {
    inner: Body,
    _guard: InFlight,
}

impl HttpBody for InFlightBody {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The open connections in the order they were accepted.
#[derive(Default)]
struct OpenConnections {
    next_id: AtomicU64,
    all: Mutex<BTreeMap<u64, Arc<Connection>>>,
}

impl OpenConnections {
    fn add(&self) -> Arc<Connection> {
        let conn = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::SeqCst),
            accepted: Instant::now(),
            started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            activity: Notify::new(),
            shed: Notify::new(),
        });
        self.lock().insert(conn.id, conn.clone());
        conn
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Closes the oldest connection that has not started a request, or else the oldest idle
    /// keep-alive one; false when every connection has a request in progress.
    fn shed_one(&self) -> bool {
        let mut all = self.lock();
        let victim = all
            .values()
            .find(|c| c.never_started())
            .or_else(|| all.values().find(|c| c.idle()))
            .map(|c| c.id);
        match victim.and_then(|id| all.remove(&id)) {
            Some(conn) => {
                conn.shed.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Connection>>> {
        // A panic while holding this lock leaves the map consistent (single calls).
        self.all.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(max_connections: u32) -> conea_core::config::DatabaseConfig {
        conea_core::config::DatabaseConfig {
            replica_url: None,
            max_replica_lag: Duration::from_secs(5),
            url: "sqlite://x".into(),
            backend: conea_core::config::Backend::Sqlite,
            max_connections,
            idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
            slow_statement: Duration::from_secs(1),
        }
    }

    #[test]
    fn default_cap_leaves_room_for_the_database_pool_and_files() {
        assert_eq!(
            default_max_open(Some(20_000), &database(20)),
            20_000 - 256 - 20
        );
        assert_eq!(default_max_open(Some(100), &database(20)), 16);
        assert_eq!(
            default_max_open(None, &database(20)),
            MAX_OPEN_WITHOUT_FILE_LIMIT
        );
    }

    #[test]
    fn shedding_takes_the_oldest_connection_without_a_request_first() {
        let open = OpenConnections::default();
        let busy = open.add();
        let _request = busy.request_started();
        let idle = open.add();
        drop(idle.request_started());
        let silent_old = open.add();
        let _silent_new = open.add();
        assert!(open.shed_one());
        assert!(!open.lock().contains_key(&silent_old.id));
        assert!(open.shed_one());
        assert!(open.shed_one(), "then the idle keep-alive one");
        assert!(!open.lock().contains_key(&idle.id));
        assert!(!open.shed_one(), "a busy connection is never shed");
        assert_eq!(open.len(), 1);
    }
}
