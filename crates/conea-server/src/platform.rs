//! The platform: configuration, database, stores and services wired together once. The
//! HTTP server and every CLI command that touches the database open it the same way.

use conea_core::config::{Config, Problem};
use conea_core::idempotency::IdempotencyService;
use conea_core::ratelimit::memory::MemoryLimiter;
use conea_core::ratelimit::service::{Defaults, RateLimitService};
use conea_core::ratelimit::Limiter;
use conea_core::reads::{LagSource, MemoryWriteMarks, ReadRouter, WriteMarks};
use conea_core::services::{AccountsService, Authenticator};
use conea_core::store::IdempotencyStore;
use conea_core::store::{AccountsStore, RateLimitStore};
use conea_core::Clock;
use conea_jobs::handler::Noop;
use conea_jobs::service::JobService;
use conea_jobs::{JobHandler, JobStore, Registry};
use conea_shopdata::WritesShopData;
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
    pub limits: Arc<RateLimitService>,
    pub jobs: Arc<JobService>,
    pub idempotency: Arc<IdempotencyService>,
    pub data: Arc<conea_shopdata::service::DataService>,
    pub ai: Arc<conea_ai::Gateway>,
    pub incidents: Arc<conea_incidents::engine::IncidentService>,
    /// Webhook signature failures counted for the incident detector (receivers feed it).
    pub signals: Arc<crate::detectors::Signals>,
    pub shopify: Arc<conea_shopify::integration::ShopifyService>,
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
        let mut lag_source = extras.lag_source;
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
        ));
        // A mark matters while it can still send a read to the primary: at most the largest
        // lag that routes to the replica plus one poll.
        let mark_ttl = config.database.max_replica_lag + REPLICA_LAG_POLL;
        let marks: Arc<dyn WriteMarks> = match &redis {
            Some(h) => Arc::new(RedisWriteMarks::new(
                h.clone(),
                &config.redis_key_prefix,
                mark_ttl,
                config.auth_cache_size,
                clock.clone(),
            )),
            None => Arc::new(MemoryWriteMarks::new(config.auth_cache_size, mark_ttl)),
        };
        let reads = Arc::new(ReadRouter::new(
            lag_source.filter(|_| store.replica().is_some()),
            marks,
            clock.clone(),
            config.database.max_replica_lag,
            REPLICA_LAG_POLL,
        ));
        let engine = Arc::new(incident_engine(&config, &store)?);
        let job_store: Arc<dyn JobStore> = Arc::new(store.clone());
        let mut registry = Registry::new();
        registry.register(Arc::new(conea_incidents::engine::StepHandler::new(
            engine.clone(),
        )));
        registry.register(Arc::new(conea_incidents::engine::NotifyHandler::new(
            engine.clone(),
        )));
        let shop_store: Arc<dyn conea_shopdata::ShopDataStore> = Arc::new(store.clone());
        registry.register(Arc::new(Noop));
        // Kinds that write shop data mark their organization's data as written (read routing).
        let writes = |h: Arc<dyn JobHandler>| WritesShopData::wrap(h, reads.clone());
        registry.register(writes(Arc::new(conea_shopdata::ImportHandler::new(
            shop_store.clone(),
        ))));
        registry.register(Arc::new(
            conea_shopdata::ProcessHandler::new(shop_store.clone()).with_reads(reads.clone()),
        ));
        let shopify_store: Arc<dyn conea_shopify::integration::store::ShopifyStore> =
            Arc::new(store.clone());
        let secret_box = conea_core::secretbox::SecretBox::new(
            config
                .secret_key
                .as_deref()
                .ok_or_else(|| StartupError::Other("CONEA_SECRET_KEY is not set".into()))?,
        );
        let shopify_throttles = conea_shopify::Throttles::new(clock.clone());
        registry.register(writes(Arc::new(
            conea_shopify::integration::WebhookHandler::new(
                shopify_store.clone(),
                shop_store.clone(),
            ),
        )));
        let shopify_access = conea_shopify::integration::ShopAccess::new(
            shopify_store.clone(),
            secret_box.clone(),
            shopify_api_options(&config, clock.as_ref(), shopify_throttles.clone())?,
        );
        registry.register(writes(Arc::new(
            conea_shopify::integration::SyncHandler::new(
                shopify_access.clone(),
                shop_store.clone(),
            ),
        )));
        registry.register(writes(Arc::new(
            conea_shopify::integration::RefreshHandler::new(shopify_access, shop_store.clone()),
        )));
        for h in extras.handlers {
            registry.register(h);
        }
        let jobs = Arc::new(JobService::new(
            job_store,
            clock.clone(),
            Arc::new(registry),
        ));
        let idem_store: Arc<dyn IdempotencyStore> = Arc::new(store.clone());
        let idempotency = Arc::new(IdempotencyService::new(idem_store, clock.clone()));
        let ai_config = conea_ai::AiConfig::load(&config.ai.values, config.ai.table.as_ref())
            .map_err(|problems| {
                StartupError::Other(format!("AI configuration: {}", problems.join("; ")))
            })?;
        let router = conea_ai::Router::new(ai_config, clock.clone())
            .map_err(|e| StartupError::Other(format!("AI HTTP client: {e}")))?;
        let usage_store: Arc<dyn conea_ai::usage::AiUsageStore> = Arc::new(store.clone());
        let ai = Arc::new(conea_ai::Gateway::new(router, usage_store, clock.clone()));
        let data = Arc::new(conea_shopdata::service::DataService::new(
            shop_store,
            jobs.clone(),
            clock.clone(),
        ));
        let incidents = Arc::new(conea_incidents::engine::IncidentService::new(
            engine,
            jobs.clone(),
            clock.clone(),
        ));
        let shopify = Arc::new(conea_shopify::integration::ShopifyService::new(
            shopify_store,
            jobs.clone(),
            clock.clone(),
            secret_box,
            config.shopify.api_version.clone(),
        ));
        Ok(Platform {
            incidents,
            signals: Arc::new(crate::detectors::Signals::default()),
            config: Arc::new(config),
            store,
            clock,
            authn,
            accounts,
            limits,
            jobs,
            idempotency,
            data,
            ai,
            shopify,
            shopify_throttles,
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

/// Loads the escalation policy (a bad file fails start-up, naming the key) and builds the
/// incident engine over the store.
pub fn incident_engine(
    config: &Config,
    store: &SqlStore,
) -> Result<conea_incidents::engine::Engine, StartupError> {
    use conea_incidents::engine::{Engine, PolicySource};
    let path = config.incidents.escalation_config.as_deref();
    let policy = conea_incidents::Policy::load(path).map_err(|e| {
        StartupError::Other(format!(
            "CONEA_ESCALATION_CONFIG: {}",
            e.to_string().trim_end()
        ))
    })?;
    for w in policy.warnings() {
        tracing::warn!(key = %w.path, "escalation policy: {}", w.message);
    }
    let secret = config.secret_key.clone().unwrap_or_default();
    let signer = conea_incidents::engine::link_signer(&secret)
        .map_err(|e| StartupError::Other(format!("incident links: {e}")))?;
    let deliver = conea_incidents::delivery::HttpDeliver::new(std::time::Duration::from_secs(10))
        .map_err(|e| StartupError::Other(format!("incident HTTP client: {e}")))?;
    Ok(Engine {
        store: Arc::new(store.clone()),
        policy: Arc::new(policy),
        source: match path {
            Some(p) => PolicySource::File(p.display().to_string()),
            None => PolicySource::Default,
        },
        signer,
        public_url: config.incidents.public_url.clone(),
        deliver: Arc::new(deliver),
    })
}

/// How the Admin API jobs reach Shopify: the process's throttles, one HTTP client, and waits
/// that move the clock when it is a fake one (tests) instead of sleeping.
fn shopify_api_options(
    config: &Config,
    clock: &dyn Clock,
    throttles: conea_shopify::Throttles,
) -> Result<conea_shopify::integration::ApiOptions, StartupError> {
    let sleeper: Arc<dyn conea_shopify::Sleeper> = match clock.as_fake() {
        Some(fake) => Arc::new(conea_shopify::FakeSleeper::new(fake.clone())),
        None => Arc::new(conea_shopify::TokioSleeper),
    };
    let http = reqwest::Client::builder()
        .connect_timeout(conea_shopify::client::CONNECT_TIMEOUT)
        .timeout(conea_shopify::client::DEFAULT_TIMEOUT)
        .user_agent(concat!("conea/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| StartupError::Other(format!("Shopify HTTP client: {e}")))?;
    Ok(conea_shopify::integration::ApiOptions {
        throttles,
        sleeper,
        http,
        base_url: config.shopify.base_url.clone(),
        page_size: config.shopify.page_size,
    })
}
