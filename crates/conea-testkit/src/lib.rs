//! The one test harness. `TestApp::spawn(Backend::Sqlite)` starts the real application on
//! `127.0.0.1:0` with a fake clock, a temporary data dir and a known JWT secret, and hands
//! back an HTTP client and the bootstrap owner key. `Backend::Postgres` does the same in a
//! fresh schema of `CONEA_TEST_DATABASE_URL`, dropped afterwards; without that variable the
//! test prints one line saying why it skips (with `CONEA_REQUIRE_SERVICES=1`, as in CI, a
//! missing service fails instead).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod architecture;
pub mod client;
pub mod fake_shopify;
pub mod fake_smtp;
pub mod private;
pub mod proxy;
pub mod services;

pub use client::{Client, Resp};
pub use services::{postgres_url, redis_url, TestSchema};

use conea_core::config::{Config, RawSettings};
use conea_core::FakeClock;
use conea_server::{Application, Options};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789";
pub const SECRET_KEY: &str = "test-secret-key-0123456789abcdef0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's database lives; shared by replicas of the same test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: tempfile::TempDir,
    _schema: Option<TestSchema>,
}

impl TestDb {
    /// A fresh database for one test; `None` (after printing why) when the backend is not
    /// available here.
    pub async fn create(backend: Backend) -> Option<Arc<TestDb>> {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => Some(Arc::new(TestDb {
                url: format!("sqlite://{}/conea.db", dir.path().display()),
                backend,
                _dir: dir,
                _schema: None,
            })),
            Backend::Postgres => {
                let schema = TestSchema::create().await?;
                Some(Arc::new(TestDb {
                    url: schema.url(),
                    backend,
                    _dir: dir,
                    _schema: Some(schema),
                }))
            }
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base_url: String,
    pub clock: FakeClock,
    pub client: Client,
    /// The bootstrap owner key (every permission) of the `default` organization, on the
    /// replica that created it.
    pub owner_key: Option<String>,
    pub state: conea_server::state::AppState,
    pub db: Arc<TestDb>,
    pub data_dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Settings every test app gets; a test's overrides win.
pub fn base_settings(db_url: &str, data_dir: &std::path::Path) -> HashMap<String, String> {
    [
        ("CONEA_BIND", "127.0.0.1:0".to_owned()),
        ("CONEA_DATA_DIR", data_dir.display().to_string()),
        ("DATABASE_URL", db_url.to_owned()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("CONEA_SECRET_KEY", SECRET_KEY.to_owned()),
        ("CONEA_AUTH_EPOCH_POLL", "50ms".to_owned()),
        ("CONEA_DB_MAX_CONNECTIONS", "5".to_owned()),
        ("CONEA_SHUTDOWN_GRACE", "2s".to_owned()),
        ("CONEA_JOB_POLL", "50ms".to_owned()),
        ("CONEA_JOB_LEASE", "3s".to_owned()),
        // Tests move the fake clock far; a test of scheduled syncs turns them on.
        ("SHOPIFY_SYNC_INTERVAL", "off".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
        Self::spawn_with_handlers(backend, overrides, Vec::new()).await
    }

    /// With extra job kinds registered in the app's worker.
    pub async fn spawn_with_handlers(
        backend: Backend,
        overrides: &[(&str, &str)],
        handlers: Vec<Arc<dyn conea_jobs::JobHandler>>,
    ) -> Option<TestApp> {
        let db = TestDb::create(backend).await?;
        Some(Self::start_with(db, overrides, FakeClock::starting_now(), handlers).await)
    }

    /// With a configuration file (TOML text: `[ai.aliases]`, …) besides the settings.
    pub async fn spawn_with_file(
        backend: Backend,
        overrides: &[(&str, &str)],
        file: &str,
    ) -> Option<TestApp> {
        let db = TestDb::create(backend).await?;
        Some(
            Self::start_from(
                db,
                overrides,
                FakeClock::starting_now(),
                Options::default(),
                Some(file),
            )
            .await,
        )
    }

    /// Another replica on the same database (its own process state, cache and clock).
    pub async fn replica(&self, overrides: &[(&str, &str)]) -> TestApp {
        Self::start(self.db.clone(), overrides, self.clock.clone()).await
    }

    pub async fn start(db: Arc<TestDb>, overrides: &[(&str, &str)], clock: FakeClock) -> TestApp {
        Self::start_with(db, overrides, clock, Vec::new()).await
    }

    pub async fn start_with(
        db: Arc<TestDb>,
        overrides: &[(&str, &str)],
        clock: FakeClock,
        handlers: Vec<Arc<dyn conea_jobs::JobHandler>>,
    ) -> TestApp {
        let options = Options {
            extra_handlers: handlers,
            ..Options::default()
        };
        Self::start_with_options(db, overrides, clock, options).await
    }

    /// With application options of the test's choosing (e.g. a controllable replica lag).
    pub async fn start_with_options(
        db: Arc<TestDb>,
        overrides: &[(&str, &str)],
        clock: FakeClock,
        options: Options,
    ) -> TestApp {
        Self::start_from(db, overrides, clock, options, None).await
    }

    async fn start_from(
        db: Arc<TestDb>,
        overrides: &[(&str, &str)],
        clock: FakeClock,
        options: Options,
        file: Option<&str>,
    ) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut settings = base_settings(&db.url, data_dir.path());
        for (k, v) in overrides {
            settings.insert((*k).to_owned(), (*v).to_owned());
        }
        let table = file.map(|text| {
            let path = data_dir.path().join("conea.toml");
            std::fs::write(&path, text).expect("config file written");
            conea_core::config::read_file(&path).expect("valid TOML")
        });
        let config = Config::load(&RawSettings::collect(&settings, table.as_ref()))
            .expect("valid test configuration");
        let mut app = Application::build(config, Arc::new(clock.clone()), options)
            .await
            .expect("application starts");
        let addr = app.local_addr();
        let owner_key = app.take_bootstrap().map(|b| b.secret);
        let state = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        let base_url = format!("http://{addr}");
        TestApp {
            addr,
            client: Client::new(&base_url),
            base_url,
            clock,
            owner_key,
            state,
            db,
            data_dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The owner key; panics on a replica that did not bootstrap.
    pub fn owner(&self) -> &str {
        self.owner_key
            .as_deref()
            .expect("this replica created the owner key")
    }

    /// The result of the job a 202 answer accepted: checks the answer's shape (`Location` is
    /// its `check_url`, `status` pending), then polls the job as the owner until it completes
    /// (panics when it is discarded or cancelled, or after 60 s).
    pub async fn job_result(&self, accepted: &Resp) -> serde_json::Value {
        assert_eq!(accepted.status, 202, "{}", accepted.text);
        let location = accepted.header("location").unwrap().to_owned();
        assert_eq!(accepted.body["check_url"], location.as_str());
        assert_eq!(accepted.body["status"], "pending");
        assert!(location.ends_with(accepted.body["job_id"].as_str().unwrap()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let r = self.client.get(&location, Some(self.owner())).await;
            match r.body["status"].as_str() {
                Some("completed") => return r.body["result"].clone(),
                Some("discarded") | Some("cancelled") => panic!("job failed: {}", r.text),
                _ => {}
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job never finished: {}",
                r.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// Imports `lines` as NDJSON records of `kind` (`orders`, `products`, `customers`) as
    /// the owner, waits for the import job and checks that no line was rejected; returns the
    /// import's report.
    pub async fn import_ndjson(
        &self,
        kind: &str,
        lines: &[serde_json::Value],
    ) -> serde_json::Value {
        let body: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        let r = self
            .client
            .http()
            .post(self.client.url(&format!("/v1/data/imports?kind={kind}")))
            .bearer_auth(self.owner())
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .expect("the import request is answered");
        let accepted = Client::read(r).await;
        let report = self.job_result(&accepted).await;
        assert_eq!(report["rejected"], 0, "{report}");
        report
    }

    /// Sends the shutdown signal and waits for the server to drain and stop.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Writes one test per backend: `backend_tests!(name1, name2)` expects `async fn name(b: Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await;
                }
            }
        )+
    };
}
