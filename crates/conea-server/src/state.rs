//! The application state every handler receives: the platform plus HTTP-only parts
//! (metrics, start time, the Redis probe). Cheap to clone.

use crate::metrics::Metrics;
use crate::platform::Platform;
use conea_core::config::Config;
use conea_core::ratelimit::service::RateLimitService;
use conea_core::services::{AccountsService, Authenticator};
use conea_core::Clock;
use conea_store::redis_limiter::RedisHandle;
use conea_store::SqlStore;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    platform: Platform,
    metrics: Metrics,
    started: Instant,
}

impl AppState {
    pub fn new(platform: Platform) -> Self {
        let metrics = Metrics::new(&platform);
        AppState(Arc::new(Inner {
            platform,
            metrics,
            started: Instant::now(),
        }))
    }

    pub fn platform(&self) -> &Platform {
        &self.0.platform
    }

    pub fn config(&self) -> &Config {
        &self.0.platform.config
    }

    pub fn store(&self) -> &SqlStore {
        &self.0.platform.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.platform.clock
    }

    pub fn authn(&self) -> &Arc<Authenticator> {
        &self.0.platform.authn
    }

    pub fn accounts(&self) -> &Arc<AccountsService> {
        &self.0.platform.accounts
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The metrics as a job observer (run times by kind and outcome).
    pub fn metrics_observer(&self) -> Arc<dyn conea_jobs::JobObserver> {
        self.0.metrics.job_observer()
    }

    pub fn uptime_s(&self) -> u64 {
        self.0.started.elapsed().as_secs()
    }

    pub fn redis(&self) -> Option<&Arc<RedisHandle>> {
        self.0.platform.redis.as_ref()
    }

    pub fn limits(&self) -> &Arc<RateLimitService> {
        &self.0.platform.limits
    }
}
