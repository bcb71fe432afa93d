//! `conea serve` and `conea migrate`.

use crate::context::load_config;
use anyhow::{anyhow, Result};
use conea_core::SystemClock;
use conea_server::{app, Application, Options};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn serve(file: Option<&Path>, migrate: bool) -> Result<ExitCode> {
    // Handlers first: a SIGTERM right after the "listening" line must stop gracefully.
    let shutdown = app::shutdown_signal();
    let (config, _) = load_config(file)?;
    let _log_guard = crate::logging::init(&config);
    let backend = config.database.backend;
    let file_limit = super::file_limit::raise();
    tracing::debug!(file_limit, "open-file limit");
    let mut application = Application::build(
        config,
        Arc::new(SystemClock),
        Options {
            migrate,
            file_limit,
            ..Options::default()
        },
    )
    .await
    .map_err(|e| anyhow!("{e}"))?;
    let addr = application.local_addr();
    if let Some(b) = application.take_bootstrap().filter(|b| {
        if b.supplied {
            // The operator has the key already: never print a secret they gave us.
            println!(
                "First start: created organization `{}` ({}) with the owner API key from CONEA_BOOTSTRAP_KEY (key_id {}).",
                b.org.slug, b.org.id, b.key.id
            );
        }
        !b.supplied
    }) {
        println!(
            "First start: created organization `{}` ({}) and its owner API key.",
            b.org.slug, b.org.id
        );
        println!("The key is shown only this once; store it now:\n");
        println!("    {}\n", b.secret);
        println!(
            "Try: curl -H \"Authorization: Bearer {}\" http://{addr}/v1/auth/verify\n",
            b.secret
        );
    }
    if application
        .state()
        .platform()
        .escalation()
        .configured_channels()
        .is_empty()
    {
        println!(
            "Incidents notify nobody until an escalation policy with channels is set: CONEA_ESCALATION_CONFIG=policy.yaml (check it with `conea incidents check-config policy.yaml`)."
        );
    }
    println!(
        "Conea {} listening on http://{addr} (database: {})",
        env!("CARGO_PKG_VERSION"),
        backend.as_str()
    );
    tracing::info!(%addr, backend = backend.as_str(), "listening");
    application.run(shutdown).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(file: Option<&Path>) -> Result<ExitCode> {
    let (mut config, _) = load_config(file)?;
    config.ensure_secrets().map_err(|p| anyhow!("{p}"))?;
    let db = conea_store::db::connect_as(&config.database, "conea-cli").await?;
    let applied = conea_store::migrate::run(&db)
        .await
        .map_err(|e| anyhow!("migration failed: {e}"))?;
    let status = conea_store::migrate::status(&db).await?;
    println!(
        "applied {applied} migration(s); {} of {} current ({})",
        status.applied,
        status.known,
        db.backend().as_str()
    );
    Ok(ExitCode::SUCCESS)
}

/// `conea worker`: claims and runs jobs until SIGTERM/SIGINT, then drains.
pub async fn worker(file: Option<&Path>, concurrency: Option<usize>) -> Result<ExitCode> {
    let shutdown = app::shutdown_signal();
    let (config, _) = load_config(file)?;
    let _log_guard = crate::logging::init(&config);
    let concurrency = concurrency.unwrap_or(config.jobs.worker_concurrency).max(1);
    let platform =
        conea_server::Platform::open(config, Arc::new(SystemClock), true, "conea-worker")
            .await
            .map_err(|e| anyhow!("{e}"))?;
    let grace = platform.config.shutdown_grace;
    let id = app::worker_id("worker");
    println!(
        "Conea worker {id} running {concurrency} job(s) at once; kinds: {}",
        platform.jobs.registry().kinds().join(", ")
    );
    let worker = platform.worker(id, concurrency, Arc::new(conea_jobs::worker::NoObserver));
    // Report jobs read the replica when it is current; keep its lag measured.
    let sampler = platform.spawn_lag_sampler();
    worker.run(shutdown, grace).await;
    if let Some(s) = sampler {
        s.abort();
    }
    platform.store.db().close().await;
    Ok(ExitCode::SUCCESS)
}
