//! The platform: configuration, database, stores and services wired together once. The
//! HTTP server and every CLI command that touches the database open it the same way.

use conea_core::config::{Config, Problem};
use conea_core::ratelimit::memory::MemoryLimiter;
use conea_core::ratelimit::service::{Defaults, RateLimitService};
use conea_core::ratelimit::Limiter;
use conea_core::services::{AccountsService, Authenticator};
use conea_core::store::{AccountsStore, RateLimitStore};
use conea_core::Clock;
use conea_store::redis_limiter::{RedisHandle, RedisLimiter};
use conea_store::{migrate, ConnectError, SqlStore};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(Problem),
    #[error("{0}")]
    Database(#[from] ConnectError),
    #[error("database migration failed: {0}. Run `conea migrate` to see the failing step.")]
    Migration(String),
    #[error("the database schema is not current ({applied} of {known} migrations applied). Run `conea migrate`, or start without --no-migrate.")]
    SchemaBehind { applied: usize, known: usize },
    #[error("cannot listen on {addr}: {reason}. Choose another address with CONEA_BIND.")]
    Bind { addr: String, reason: String },
    #[error("start-up failed: {0}")]
    Other(String),
}

#[derive(Clone)]
pub struct Platform {
    pub config: Arc<Config>,
    pub store: SqlStore,
    pub clock: Arc<dyn Clock>,
    pub authn: Arc<Authenticator>,
    pub accounts: Arc<AccountsService>,
    pub limits: Arc<RateLimitService>,
    /// Present when `REDIS_URL` is set.
    pub redis: Option<Arc<RedisHandle>>,
}

impl Platform {
    /// Connects (within the connect timeout), migrates when asked, checks the schema and
    /// builds the services.
    pub async fn open(
        mut config: Config,
        clock: Arc<dyn Clock>,
        run_migrations: bool,
        application_name: &str,
    ) -> Result<Platform, StartupError> {
        config.ensure_secrets().map_err(StartupError::Config)?;
        let db = conea_store::db::connect_as(&config.database, application_name).await?;
        if run_migrations {
            migrate::run(&db)
                .await
                .map_err(|e| StartupError::Migration(e.to_string()))?;
        }
        let status = migrate::status(&db)
            .await
            .map_err(|e| StartupError::Migration(e.to_string()))?;
        if !status.current() {
            return Err(StartupError::SchemaBehind {
                applied: status.applied,
                known: status.known,
            });
        }
        let store = SqlStore::new(db, config.database.slow_statement);
        let accounts_store: Arc<dyn AccountsStore> = Arc::new(store.clone());
        let authn = Arc::new(Authenticator::new(
            accounts_store.clone(),
            clock.clone(),
            config.jwt_settings(),
            config.auth_cache_size,
        ));
        let accounts = Arc::new(AccountsService::new(
            accounts_store.clone(),
            clock.clone(),
            authn.clone(),
        ));
        let redis = match &config.redis_url {
            Some(url) => Some(Arc::new(
                RedisHandle::new(url).map_err(StartupError::Other)?,
            )),
            None => None,
        };
        let rl = &config.rate_limit;
        let primary = redis.as_ref().map(|h| {
            Arc::new(RedisLimiter::new(h.clone(), &config.redis_key_prefix)) as Arc<dyn Limiter>
        });
        let limit_store: Arc<dyn RateLimitStore> = Arc::new(store.clone());
        let limits = Arc::new(RateLimitService::new(
            limit_store,
            accounts_store,
            clock.clone(),
            Defaults {
                per_minute: rl.per_minute,
                burst: rl.burst,
                per_address_per_minute: rl.per_address_per_minute,
            },
            primary,
            Arc::new(MemoryLimiter::new(rl.max_buckets)),
            rl.failure_mode,
            config.auth_cache_size,
        ));
        Ok(Platform {
            config: Arc::new(config),
            store,
            clock,
            authn,
            accounts,
            limits,
            redis,
        })
    }
}
