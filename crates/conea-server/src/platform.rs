//! The platform: configuration, database, stores and services wired together once. The
//! HTTP server and every CLI command that touches the database open it the same way.

use conea_core::config::{Backend, Config, Problem};
use conea_core::idempotency::IdempotencyService;
use conea_core::ratelimit::memory::MemoryLimiter;
use conea_core::ratelimit::service::{Defaults, RateLimitService};
use conea_core::ratelimit::Limiter;
use conea_core::reads::{LagSource, MemoryWriteMarks, ReadRouter, WriteMarks};
use conea_core::services::login_throttle::SharedCounters;
use conea_core::services::{AccountsService, Authenticator, SessionService};
use conea_core::store::{AccountsStore, RateLimitStore};
use conea_core::Clock;
use conea_incidents::IncidentsModule;
use conea_jobs::noop::Noop;
use conea_jobs::service::JobService;
use conea_jobs::Typed;
use conea_jobs::{JobHandler, Registry};
use conea_schedules::SchedulesModule;
use conea_shopdata::ShopDataModule;
use conea_shopify::integration::ShopifyModule;
use conea_store::login_counters::RedisLoginCounters;
use conea_store::redis_limiter::{RedisHandle, RedisLimiter};
use conea_store::replica::{PgReplicaLag, RedisWriteMarks};
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
    /// The web console's sessions.
    pub sessions: Arc<SessionService>,
    pub limits: Arc<RateLimitService>,
    pub jobs: Arc<JobService>,
    pub idempotency: Arc<IdempotencyService>,
    pub data: Arc<conea_shopdata::service::DataService>,
    pub analytics: Arc<conea_shopdata::analytics::AnalyticsService>,
    pub ai: Arc<conea_ai::Gateway>,
    pub incidents: Arc<conea_incidents::engine::IncidentService>,
    pub shopify: Arc<conea_shopify::integration::ShopifyService>,
    pub schedules: Arc<conea_schedules::SchedulesService>,
    pub insights: Arc<conea_insights::InsightsService>,
    /// Insights threads (follow-up questions, stored).
    pub threads: Arc<conea_insights::ThreadService>,
    /// Every shop's Admin API throttle state, shared by all tasks of the process.
    pub shopify_throttles: conea_shopify::Throttles,
    /// Present when `REDIS_URL` is set.
    pub redis: Option<Arc<RedisHandle>>,
    /// Where read-only listings and reports read (the replica or the primary).
    pub reads: Arc<ReadRouter>,
}

/// How often the read replica's lag is measured.
pub const REPLICA_LAG_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// What tests (and embedders) add to a platform.
#[derive(Default)]
pub struct Extras {
    /// Job kinds beyond the built-in ones.
    pub handlers: Vec<Arc<dyn JobHandler>>,
    /// Replaces the replica lag query (tests control the lag of a stand-in replica).
    pub lag_source: Option<Arc<dyn LagSource>>,
}

impl Platform {
    /// Connects (within the connect timeout), migrates when asked, checks the schema and
    /// builds the services.
    pub async fn open(
        config: Config,
        clock: Arc<dyn Clock>,
        run_migrations: bool,
        application_name: &str,
    ) -> Result<Platform, StartupError> {
        Self::open_with(
            config,
            clock,
            run_migrations,
            application_name,
            Extras::default(),
        )
        .await
    }

    /// Like [`Platform::open`], with extra job kinds and a lag source (tests).
    pub async fn open_with(
        mut config: Config,
        clock: Arc<dyn Clock>,
        run_migrations: bool,
        application_name: &str,
        extras: Extras,
    ) -> Result<Platform, StartupError> {
        config.ensure_secrets().map_err(StartupError::Config)?;
        let (store, lag_source) =
            open_store(&config, application_name, run_migrations, extras.lag_source).await?;
        let accounts_store: Arc<dyn AccountsStore> = Arc::new(store.clone());
        let authn = Arc::new(Authenticator::new(
            accounts_store.clone(),
            clock.clone(),
            config.jwt_settings(),
            config.auth_cache_size,
        ));
        let redis = match &config.redis_url {
            Some(url) => Some(Arc::new(
                RedisHandle::new(url, config.redis_timeout).map_err(StartupError::Other)?,
            )),
            None => None,
        };
        // Failed-login counters shared by every replica when Redis is configured.
        let login_counters = redis.as_ref().map(|h| {
            Arc::new(RedisLoginCounters::new(h.clone(), &config.redis_key_prefix))
                as Arc<dyn SharedCounters>
        });
        let accounts = Arc::new(AccountsService::new(
            accounts_store.clone(),
            clock.clone(),
            authn.clone(),
            login_counters,
        ));
        let sessions = Arc::new(SessionService::new(
            accounts_store.clone(),
            clock.clone(),
            accounts.clone(),
        ));
        let limits = rate_limits(&config, &store, accounts_store, redis.as_ref(), &clock);
        let reads = read_router(&config, &store, lag_source, redis.as_ref(), &clock);

        // The features: each installs its job kinds, then gets the job service.
        let imports_at_once =
            config
                .jobs
                .import_concurrency
                .unwrap_or(match store.db().backend() {
                    Backend::Sqlite => 1,
                    Backend::Postgres => 2,
                });
        let shop_data = ShopDataModule::new(
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            reads.clone(),
        )
        .with_import_concurrency(imports_at_once)
        .with_overview_ttl(config.console_overview_ttl);
        let shopify = ShopifyModule::new(
            &config,
            Arc::new(store.clone()),
            shop_data.clone(),
            clock.clone(),
        )
        .map_err(StartupError::Other)?;
        let incidents =
            IncidentsModule::new(&config, Arc::new(store.clone())).map_err(StartupError::Other)?;
        let ai = conea_ai::install::gateway(&config, Arc::new(store.clone()), clock.clone())
            .map_err(StartupError::Other)?;
        let schedules = SchedulesModule::new(
            &config,
            incidents.policy(),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            conea_insights::install::digests(&config, Arc::new(store.clone()), ai.clone()),
        )
        .map_err(StartupError::Other)?;
        let mut registry = Registry::new();
        registry.register(Typed::handler(Noop));
        registry.install(&shop_data);
        registry.install(&shopify);
        registry.install(&incidents);
        registry.install(&schedules);
        // Questions as jobs: the kind is registered now, the service it asks through is
        // handed over once built (it needs the job engine itself).
        let ask_service: conea_insights::job::ServiceSlot = Arc::default();
        registry.register(Typed::handler(conea_insights::job::AskJob::new(
            ask_service.clone(),
        )));
        for h in extras.handlers {
            registry.register(h);
        }
        let jobs = Arc::new(JobService::new(
            Arc::new(store.clone()),
            clock.clone(),
            Arc::new(registry),
        ));
        let data = shop_data.service(jobs.clone(), clock.clone());
        let analytics = shop_data.analytics(clock.clone());
        let insights = conea_insights::install::service(
            &config,
            data.clone(),
            analytics.clone(),
            ai.clone(),
            clock.clone(),
        );
        let _ = ask_service.set(Arc::downgrade(&insights));
        let threads = Arc::new(conea_insights::ThreadService::new(
            insights.clone(),
            Arc::new(store.clone()),
            clock.clone(),
        ));
        Ok(Platform {
            data,
            analytics,
            insights,
            threads,
            shopify: shopify.service(jobs.clone(), clock.clone()),
            shopify_throttles: shopify.throttles().clone(),
            incidents: incidents.service(jobs.clone(), clock.clone()),
            schedules: schedules.service(jobs.clone(), clock.clone()),
            idempotency: Arc::new(IdempotencyService::new(
                Arc::new(store.clone()),
                clock.clone(),
            )),
            config: Arc::new(config),
            store,
            clock,
            authn,
            accounts,
            sessions,
            limits,
            jobs,
            ai,
            redis,
            reads,
        })
    }

    /// Measures the replica's lag every [`REPLICA_LAG_POLL`] (nothing without a replica).
    pub fn spawn_lag_sampler(&self) -> Option<tokio::task::JoinHandle<()>> {
        if !self.reads.replica_configured() {
            return None;
        }
        let reads = self.reads.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(REPLICA_LAG_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                reads.refresh().await;
            }
        }))
    }

    /// The escalation policy (from `CONEA_ESCALATION_CONFIG`, or the default).
    pub fn escalation(&self) -> &conea_incidents::engine::Engine {
        self.incidents.engine()
    }

    /// A worker over this platform's job store and registry.
    pub fn worker(
        &self,
        id: String,
        concurrency: usize,
        observer: Arc<dyn conea_jobs::worker::JobObserver>,
    ) -> conea_jobs::worker::Worker {
        let j = &self.config.jobs;
        conea_jobs::worker::Worker::new(
            id,
            self.jobs.store().clone(),
            self.jobs.registry().clone(),
            self.clock.clone(),
            conea_jobs::worker::WorkerConfig {
                concurrency,
                claim_ahead: j.claim_ahead.unwrap_or(concurrency),
                claim_ahead_max: j.claim_ahead.unwrap_or(j.claim_ahead_max),
                lease: j.lease,
                poll: j.poll,
                retention: j.retention,
                rescue_every: (j.lease / 2).min(std::time::Duration::from_secs(5)),
                ..Default::default()
            },
            observer,
        )
    }
}

/// Connects (the direct probe first, so an unreachable database is named), migrates when
/// asked, checks that the schema is current, and adds the read replica when one is set.
async fn open_store(
    config: &Config,
    application_name: &str,
    run_migrations: bool,
    lag_source: Option<Arc<dyn LagSource>>,
) -> Result<(SqlStore, Option<Arc<dyn LagSource>>), StartupError> {
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
    let mut store = SqlStore::new(db, config.database.slow_statement);
    let mut lag_source = lag_source;
    if let Some(url) = &config.database.replica_url {
        let replica = conea_store::db::connect_lazy_postgres(
            &config.database,
            url,
            &format!("{application_name}-reads"),
        )?;
        if lag_source.is_none() {
            lag_source = Some(Arc::new(PgReplicaLag::new(replica.clone())));
        }
        store = store.with_replica(replica);
    }
    Ok((store, lag_source))
}

/// The rate limiter: Redis buckets when `REDIS_URL` is set (the in-process limiter as the
/// fallback), policies from the store's overrides.
fn rate_limits(
    config: &Config,
    store: &SqlStore,
    accounts: Arc<dyn AccountsStore>,
    redis: Option<&Arc<RedisHandle>>,
    clock: &Arc<dyn Clock>,
) -> Arc<RateLimitService> {
    let rl = &config.rate_limit;
    let primary = redis.map(|h| {
        Arc::new(RedisLimiter::new(h.clone(), &config.redis_key_prefix)) as Arc<dyn Limiter>
    });
    let limit_store: Arc<dyn RateLimitStore> = Arc::new(store.clone());
    Arc::new(RateLimitService::new(
        limit_store,
        accounts,
        clock.clone(),
        Defaults {
            per_minute: rl.per_minute,
            burst: rl.burst,
            per_address_per_minute: rl.per_address_per_minute,
        },
        primary,
        Arc::new(MemoryLimiter::new(rl.max_buckets)),
        rl.failure_mode,
    ))
}

/// Where reads go: the replica while its lag allows and the client has not just written
/// (write marks in Redis when set, so every replica of Conea knows; in memory otherwise).
fn read_router(
    config: &Config,
    store: &SqlStore,
    lag_source: Option<Arc<dyn LagSource>>,
    redis: Option<&Arc<RedisHandle>>,
    clock: &Arc<dyn Clock>,
) -> Arc<ReadRouter> {
    // A mark matters while it can still send a read to the primary: at most the largest
    // lag that routes to the replica plus one poll.
    let mark_ttl = config.database.max_replica_lag + REPLICA_LAG_POLL;
    let marks: Arc<dyn WriteMarks> = match redis {
        Some(h) => Arc::new(RedisWriteMarks::new(
            h.clone(),
            &config.redis_key_prefix,
            mark_ttl,
            config.auth_cache_size,
            clock.clone(),
        )),
        None => Arc::new(MemoryWriteMarks::new(config.auth_cache_size, mark_ttl)),
    };
    Arc::new(ReadRouter::new(
        lag_source.filter(|_| store.replica().is_some()),
        marks,
        clock.clone(),
        config.database.max_replica_lag,
        REPLICA_LAG_POLL,
    ))
}
