//! Shop data installed into a platform: its store, its job kinds (`data.import`, marked as
//! a shop-data write for read routing, and `data.process`) and its service.

use crate::analytics::job::ReportJob;
use crate::analytics::overview::OverviewCache;
use crate::analytics::{AnalyticsService, AnalyticsStore};
use crate::jobs::{ImportHandler, ImportTurns, ProcessHandler};
use crate::service::DataService;
use crate::store::ShopDataStore;
use crate::writes::WritesShopData;
use conea_core::reads::ReadRouter;
use conea_core::Clock;
use conea_jobs::service::JobService;
use conea_jobs::{JobHandler, JobKinds, Typed};
use std::sync::Arc;
use std::time::Duration;

/// How long the console's Overview stays warm unless configured.
pub const DEFAULT_OVERVIEW_TTL: Duration = Duration::from_secs(60);

/// The shop-data feature, as the platform wires it.
#[derive(Clone)]
pub struct ShopDataModule {
    store: Arc<dyn ShopDataStore>,
    analytics: Arc<dyn AnalyticsStore>,
    reads: Arc<ReadRouter>,
    imports: ImportTurns,
    overviews: Arc<OverviewCache>,
    overview_ttl: Duration,
}

impl ShopDataModule {
    pub fn new(
        store: Arc<dyn ShopDataStore>,
        analytics: Arc<dyn AnalyticsStore>,
        reads: Arc<ReadRouter>,
    ) -> Self {
        ShopDataModule {
            store,
            analytics,
            reads,
            imports: ImportTurns::new(1),
            overviews: OverviewCache::new(DEFAULT_OVERVIEW_TTL),
            overview_ttl: DEFAULT_OVERVIEW_TTL,
        }
    }

    /// How long the console's Overview stays warm (default [`DEFAULT_OVERVIEW_TTL`]; zero:
    /// computed on every request).
    pub fn with_overview_ttl(mut self, ttl: Duration) -> Self {
        self.overviews = OverviewCache::new(ttl);
        self.overview_ttl = ttl;
        self
    }

    /// How many imports this process runs at once (default 1).
    pub fn with_import_concurrency(mut self, at_once: usize) -> Self {
        self.imports = ImportTurns::new(at_once);
        self
    }

    pub fn store(&self) -> &Arc<dyn ShopDataStore> {
        &self.store
    }

    /// Wraps a job kind that writes an organization's shop data (imports, and Shopify's
    /// syncs and webhooks), so its reports read the primary until the replica caught up.
    pub fn writes(&self, handler: Arc<dyn JobHandler>) -> Arc<dyn JobHandler> {
        WritesShopData::wrap(handler, self.reads.clone(), self.overviews.clone())
    }

    /// The service the routes and the CLI call (imports and report jobs).
    pub fn service(&self, jobs: Arc<JobService>, clock: Arc<dyn Clock>) -> Arc<DataService> {
        Arc::new(DataService::new(
            self.store.clone(),
            self.analytics.clone(),
            jobs,
            clock,
        ))
    }

    /// The analytics the routes (and the AI analyst, the console) call.
    pub fn analytics(&self, clock: Arc<dyn Clock>) -> Arc<AnalyticsService> {
        let service = AnalyticsService::new(self.analytics.clone(), clock);
        Arc::new(if self.overview_ttl.is_zero() {
            service
        } else {
            service.with_overview_cache(self.overviews.clone())
        })
    }
}

impl JobKinds for ShopDataModule {
    fn job_kinds(&self) -> Vec<Arc<dyn JobHandler>> {
        vec![
            self.writes(Typed::handler(ImportHandler::with_turns(
                self.store.clone(),
                self.imports.clone(),
            ))),
            Typed::handler(ProcessHandler::new(self.store.clone()).with_reads(self.reads.clone())),
            Typed::handler(ReportJob::new(self.analytics.clone())),
        ]
    }
}
