//! Access to the PostgreSQL and Redis that tests may use, and per-test PostgreSQL schemas.

// The test harness reads its own environment (the test services' URLs) and names schemas
// by wall-clock time so that a later run can sweep the old ones.
#![allow(clippy::disallowed_methods)]

use sqlx::postgres::PgPoolOptions;
use sqlx::Executor;

fn required() -> bool {
    std::env::var("CONEA_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn missing(var: &str, what: &str) {
    if required() {
        panic!("{var} is not set, but CONEA_REQUIRE_SERVICES=1 requires the {what} tests to run");
    }
    eprintln!("skipping {what} test: {var} is not set (see README, Tests)");
}

/// For a test that needs a part the machine may lack (a program, a package): under
/// `CONEA_REQUIRE_SERVICES=1` (CI) its absence fails the test; elsewhere the test skips
/// after this one line. `how` says how to get it.
pub fn missing_part(what: &str, how: &str) {
    if required() {
        panic!("{what} is required under CONEA_REQUIRE_SERVICES=1: {how}");
    }
    eprintln!("skipping: {what} is not available ({how})");
}

/// `CONEA_TEST_DATABASE_URL`, or `None` after printing why the test skips.
pub fn postgres_url() -> Option<String> {
    match std::env::var("CONEA_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            missing("CONEA_TEST_DATABASE_URL", "PostgreSQL");
            None
        }
    }
}

/// `CONEA_TEST_REDIS_URL`, or `None` after printing why the test skips.
pub fn redis_url() -> Option<String> {
    match std::env::var("CONEA_TEST_REDIS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            missing("CONEA_TEST_REDIS_URL", "Redis");
            None
        }
    }
}

/// A schema of its own for one test, dropped when the value is dropped. Schemas left by a
/// killed test run are swept when older than an hour.
pub struct TestSchema {
    base: String,
    name: String,
}

impl TestSchema {
    pub async fn create() -> Option<TestSchema> {
        let base = postgres_url()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let name = format!(
            "t_{now}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&base)
            .await
            .unwrap_or_else(|e| panic!("CONEA_TEST_DATABASE_URL={base} is not reachable: {e}"));
        sweep(&pool, now).await;
        pool.execute(format!("CREATE SCHEMA {name}").as_str())
            .await
            .expect("create test schema");
        pool.close().await;
        Some(TestSchema { base, name })
    }

    /// The database URL whose connections use this schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options%5Bsearch_path%5D={}", self.base, self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

async fn sweep(pool: &sqlx::PgPool, now: u64) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    for n in names {
        let created = n.split('_').nth(1).and_then(|t| t.parse::<u64>().ok());
        if created.is_some_and(|c| c + 3600 < now) {
            let _ = pool
                .execute(format!("DROP SCHEMA IF EXISTS {n} CASCADE").as_str())
                .await;
        }
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let base = self.base.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(pool) = PgPoolOptions::new().max_connections(1).connect(&base).await {
                    let _ = pool
                        .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                        .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}
