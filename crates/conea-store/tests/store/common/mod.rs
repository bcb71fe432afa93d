//! A migrated store with one organization, on either backend, for the store's tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_core::config::{Backend as DbBackend, DatabaseConfig};
use conea_core::ids::OrgId;
use conea_core::model::Organization;
use conea_core::store::AccountsStore;
use conea_store::SqlStore;
use conea_testkit::{Backend, TestDb};
use std::sync::Arc;
use std::time::Duration;

pub async fn env(backend: Backend) -> Option<(SqlStore, OrgId, Arc<TestDb>)> {
    env_with(backend, 5).await
}

/// [`env`] with a pool of `max_connections`.
pub async fn env_with(
    backend: Backend,
    max_connections: u32,
) -> Option<(SqlStore, OrgId, Arc<TestDb>)> {
    let db = TestDb::create(backend).await?;
    let cfg = DatabaseConfig {
        replica_url: None,
        max_replica_lag: Duration::from_secs(5),
        url: db.url.clone(),
        backend: match backend {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        },
        max_connections,
        idle_timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(10),
        slow_statement: Duration::from_secs(10),
    };
    let pool = conea_store::connect(&cfg)
        .await
        .expect("database reachable");
    conea_store::migrate::run(&pool)
        .await
        .expect("migrations apply");
    let store = SqlStore::new(pool, Duration::from_secs(10));
    let org = new_org(&store, "acme").await;
    Some((store, org, db))
}

/// A new organization named `slug`.
pub async fn new_org(store: &SqlStore, slug: &str) -> OrgId {
    let org = Organization {
        id: OrgId::generate(),
        slug: slug.into(),
        name: slug.into(),
        created_at: 1,
    };
    store.insert_org(&org).await.expect("organization");
    org.id
}
