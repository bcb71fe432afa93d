//! The running server: builds the platform, binds the listener (port 0 works, for tests),
//! starts background tasks, serves until a shutdown signal, then drains in-flight requests
//! for up to `CONEA_SHUTDOWN_GRACE`.

use crate::platform::{Platform, StartupError};
use crate::routes;
use crate::state::AppState;
use conea_core::config::Config;
use conea_core::services::accounts::Bootstrap;
use conea_core::Clock;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util_like::CancelOnDrop;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    bootstrap: Option<Bootstrap>,
    limits: crate::connections::Limits,
}

pub struct Options {
    pub migrate: bool,
    /// Job kinds beyond the built-in ones (tests register their own).
    pub extra_handlers: Vec<Arc<dyn conea_jobs::JobHandler>>,
    /// Replaces the replica lag query (tests).
    pub lag_source: Option<Arc<dyn conea_core::reads::LagSource>>,
    /// The process's open-file limit (after `conea serve` raised it), from which the
    /// connection cap is derived when `CONEA_MAX_OPEN_CONNECTIONS` is not set.
    pub file_limit: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            migrate: true,
            extra_handlers: Vec::new(),
            lag_source: None,
            file_limit: None,
        }
    }
}

/// A worker id unique across processes: host, pid and a random suffix.
#[allow(clippy::disallowed_methods)] // HOSTNAME names the process in worker ids; not a setting
pub fn worker_id(role: &str) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!("{role}-{host}-{}-{suffix}", std::process::id())
}

impl Application {
    pub async fn build(
        config: Config,
        clock: Arc<dyn Clock>,
        options: Options,
    ) -> Result<Self, StartupError> {
        let file_limit = options.file_limit;
        let platform = Platform::open_with(
            config,
            clock,
            options.migrate,
            "conea",
            crate::platform::Extras {
                handlers: options.extra_handlers,
                lag_source: options.lag_source,
            },
        )
        .await?;
        let bootstrap = platform
            .accounts
            .bootstrap(platform.config.bootstrap_key.clone())
            .await
            .map_err(|e| StartupError::Other(format!("creating the first organization: {e}")))?;
        let addr = platform.config.bind;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| StartupError::Bind {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        let limits = crate::connections::Limits::from_config(&platform.config, file_limit);
        Ok(Application {
            limits,
            listener,
            state: AppState::new(platform),
            bootstrap,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config().bind)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// What the first start created (the organization and its owner key), once.
    pub fn take_bootstrap(&mut self) -> Option<Bootstrap> {
        self.bootstrap.take()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish within the grace
    /// period.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let _epoch_task = CancelOnDrop(tokio::spawn(poll_auth_epoch(state.clone())));
        let _stats_task = CancelOnDrop(tokio::spawn(refresh_job_stats(state.clone())));
        let _housekeeping = CancelOnDrop(tokio::spawn(housekeeping(state.clone())));
        let _schedules = CancelOnDrop(tokio::spawn(tick_schedules(state.clone())));
        let _models = CancelOnDrop(tokio::spawn(refresh_ai_models(state.clone())));
        let _syncs = CancelOnDrop(tokio::spawn(tick_shopify_syncs(state.clone())));
        let _cpu = CancelOnDrop(tokio::spawn(sample_cpu(state.clone())));
        let _wal = CancelOnDrop(tokio::spawn(checkpoint_sqlite_wal(state.clone())));
        let _lag_sampler = state.platform().spawn_lag_sampler().map(CancelOnDrop);
        let grace = state.config().shutdown_grace;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let concurrency = state.config().jobs.worker_concurrency;
        let worker = (concurrency > 0).then(|| {
            let w =
                state
                    .platform()
                    .worker(worker_id("serve"), concurrency, state.metrics_observer());
            let mut rx = stop_rx.clone();
            tokio::spawn(w.run(
                async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                },
                grace,
            ))
        });
        tracing::debug!(limits = ?self.limits, "connection limits");
        let result = crate::connections::serve(
            self.listener,
            routes::router(state.clone()),
            async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            },
            grace,
            self.limits,
        )
        .await;
        if let Some(w) = worker {
            let _ = w.await;
        }
        if let Err(e) = state.platform().ai.flush_usage().await {
            tracing::error!(error = %e, "could not write the last AI usage before stopping");
        }
        state.store().db().close().await;
        result
    }
}

/// Housekeeping: every `detectors::INTERVAL` the incident detectors run (the first time one
/// interval after the start); every `PRUNE_UPLOADS_EVERY` (5 min) import uploads are pruned
/// (older than the job retention, or orphans: never sealed by their request and idle for
/// `ORPHAN_UPLOAD_AFTER`, see `DataService::prune_uploads`); hourly, used incident link
/// nonces past their expiry are pruned, and
/// processed Shopify webhook deliveries as old as the retention (their duplicates would have
/// come within Shopify's 48 h of retries).
async fn housekeeping(state: AppState) {
    let mut detectors = crate::detectors::DetectorState::default();
    let mut last_prune: Option<std::time::Instant> = None;
    let mut last_upload_prune: Option<std::time::Instant> = None;
    loop {
        if last_upload_prune.is_none_or(|t| t.elapsed() >= conea_shopdata::PRUNE_UPLOADS_EVERY) {
            last_upload_prune = Some(std::time::Instant::now());
            let retention = state.config().jobs.retention;
            match state.platform().data.prune_uploads(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(chunks = n, "pruned old and orphaned import uploads"),
                Err(e) => tracing::warn!(error = %e, "pruning import uploads failed"),
            }
        }
        if last_prune.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(3600)) {
            last_prune = Some(std::time::Instant::now());
            let now = state.clock().now_ms();
            let before = now - state.config().jobs.retention.as_millis() as i64;
            let store: &dyn conea_incidents::store::IncidentStore = state.store();
            if let Err(e) = state.platform().sessions.prune().await {
                tracing::warn!(error = %e, "pruning ended console sessions failed");
            }
            if let Err(e) = store.prune_nonces(now).await {
                tracing::warn!(error = %e, "pruning used incident link nonces failed");
            }
            match state
                .platform()
                .shopify
                .store()
                .prune_deliveries(before)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    deliveries = n,
                    "pruned processed Shopify webhook deliveries"
                ),
                Err(e) => tracing::warn!(error = %e, "pruning Shopify webhook deliveries failed"),
            }
        }
        // The first run one interval after the start, not at once: it would race with
        // whatever else looks at the same incidents just then (a test driving
        // `detectors::run_once` itself saw its backlog incident resolved by this loop's
        // first run, which still read the queue as empty).
        tokio::time::sleep(crate::detectors::INTERVAL).await;
        crate::detectors::run_once(&state, &mut detectors).await;
    }
}

/// Reads the process's CPU every [`crate::cpu::SAMPLE_EVERY`] for `/metrics`, `/health` and
/// the `cpu` detector.
async fn sample_cpu(state: AppState) {
    let mut tick = tokio::time::interval(crate::cpu::SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.metrics().cpu().sample();
    }
}

/// How often the SQLite write-ahead log's size is looked at.
pub const WAL_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// SQLite only: truncates the write-ahead log whenever it has grown past
/// `SQLITE_WAL_LIMIT_BYTES` (see `Db::checkpoint_sqlite_wal` for why SQLite's own
/// checkpoints are not enough). Nothing to do on PostgreSQL.
async fn checkpoint_sqlite_wal(state: AppState) {
    let db = state.store().db().clone();
    if db.backend() != conea_core::config::Backend::Sqlite {
        return;
    }
    let mut tick = tokio::time::interval(WAL_CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db
            .checkpoint_sqlite_wal(conea_store::db::SQLITE_WAL_LIMIT_BYTES)
            .await
        {
            Ok(Some(c)) if c.completed => tracing::debug!(
                before_bytes = c.before_bytes,
                after_bytes = c.after_bytes,
                "truncated the SQLite write-ahead log"
            ),
            Ok(Some(c)) => tracing::debug!(
                wal_bytes = c.after_bytes,
                "the SQLite write-ahead log was copied but a long reader kept it from being \
                 truncated; trying again shortly"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "checkpointing the SQLite write-ahead log failed"),
        }
    }
}

/// How often every replica looks for report schedules whose slot is due.
pub const SCHEDULE_TICK: std::time::Duration = std::time::Duration::from_secs(5);

/// Fires due report schedules every [`SCHEDULE_TICK`] (each slot once across replicas: see
/// `conea_schedules::SchedulesService::tick`).
async fn tick_schedules(state: AppState) {
    let mut tick = tokio::time::interval(SCHEDULE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.platform().schedules.tick().await {
            tracing::warn!(error = %e, "report schedule tick failed; the next one retries");
        }
    }
}

/// Reads the AI providers' model lists at the start and every `CONEA_AI_MODELS_REFRESH`
/// (bare model names route by them).
async fn refresh_ai_models(state: AppState) {
    let every = state.platform().ai.router().config().models_refresh;
    loop {
        state.platform().ai.refresh_models().await;
        tokio::time::sleep(every).await;
    }
}

/// Starts the Shopify shops' scheduled syncs and reconciliations that are due, every
/// [`SCHEDULE_TICK`] (each once across replicas: `ShopifyService::tick_syncs`,
/// `tick_reconciles`).
async fn tick_shopify_syncs(state: AppState) {
    let mut tick = tokio::time::interval(SCHEDULE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.platform().shopify.tick_syncs().await {
            tracing::warn!(error = %e, "Shopify sync tick failed; the next one retries");
        }
        if let Err(e) = state.platform().shopify.tick_reconciles().await {
            tracing::warn!(error = %e, "Shopify reconciliation tick failed; the next one retries");
        }
    }
}

/// Keeps the queue statistics that `/metrics` and `/health` show fresh.
async fn refresh_job_stats(state: AppState) {
    loop {
        match state.platform().jobs.stats().await {
            Ok(stats) => state.metrics().set_queue_stats(stats),
            Err(e) => tracing::debug!(error = %e, "cannot read queue statistics"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}

/// Clears this replica's credential cache when another replica revoked or changed one.
async fn poll_auth_epoch(state: AppState) {
    let mut tick = tokio::time::interval(state.config().auth_epoch_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.authn().refresh_epoch().await {
            tracing::warn!(error = %e, "cannot read the auth epoch; cached credentials kept");
        }
    }
}

mod tokio_util_like {
    /// Aborts the task when dropped.
    pub struct CancelOnDrop<T>(pub tokio::task::JoinHandle<T>);

    impl<T> Drop for CancelOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}

/// A future that resolves on SIGTERM or SIGINT. The signal handlers are installed when this
/// function is called (not when the future is first polled), so call it before the server
/// announces itself: a signal that arrives right after start-up is then a graceful stop.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn shutdown_lets_an_in_flight_request_finish_and_refuses_new_ones() {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let started_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(started_tx)));
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let release_rx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(release_rx)));
        let app = axum::Router::new().route(
            "/work",
            get(move || {
                let started_tx = started_tx.clone();
                let release_rx = release_rx.clone();
                async move {
                    if let Some(tx) = started_tx.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    if let Some(rx) = release_rx.lock().await.take() {
                        let _ = rx.await;
                    }
                    "finished"
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::connections::serve(
            listener,
            app,
            async move {
                let _ = stop_rx.await;
            },
            std::time::Duration::from_secs(30),
            crate::connections::Limits {
                max_open: 16,
                header_read_timeout: std::time::Duration::from_secs(10),
                keep_alive_timeout: std::time::Duration::from_secs(60),
            },
        ));
        let request = tokio::spawn(async move {
            reqwest::get(format!("http://{addr}/work"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        started_rx.await.unwrap();
        stop_tx.send(()).unwrap();
        // The server is draining: the in-flight request is still waiting for its release.
        tokio::task::yield_now().await;
        assert!(!server.is_finished());
        release_tx.send(()).unwrap();
        assert_eq!(request.await.unwrap(), "finished");
        server.await.unwrap().unwrap();
        assert!(
            reqwest::get(format!("http://{addr}/work")).await.is_err(),
            "no new connections after shutdown"
        );
    }
}
