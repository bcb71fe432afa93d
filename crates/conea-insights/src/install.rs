//! Building the insights service from the platform's parts and the one configuration.

use crate::ask::{InsightsService, InsightsSettings};
use crate::digest::{DigestService, DigestSettings};
use crate::gateway::GatewayModel;
use crate::prices::Prices;
use crate::tools::Tools;
use conea_core::clock::Clock;
use conea_core::config::Config;
use conea_shopdata::analytics::{AnalyticsService, AnalyticsStore};
use conea_shopdata::service::DataService;
use std::sync::Arc;

pub fn service(
    config: &Config,
    data: Arc<DataService>,
    analytics: Arc<AnalyticsService>,
    ai: Arc<conea_ai::Gateway>,
    clock: Arc<dyn Clock>,
) -> Arc<InsightsService> {
    Arc::new(InsightsService::new(
        Arc::new(Tools::new(data, analytics, clock.clone())),
        Arc::new(GatewayModel::new(ai)),
        clock,
        InsightsSettings {
            model: config.insights.model.clone(),
            timeout: config.insights.timeout,
            prices: Prices::new(config.insights.prices.clone()),
        },
    ))
}

/// The digest of the schedules: the analytics store's figures and the insights model
/// through the gateway (a failing or missing provider only costs the narrative).
pub fn digests(
    config: &Config,
    store: Arc<dyn AnalyticsStore>,
    ai: Arc<conea_ai::Gateway>,
) -> Arc<DigestService> {
    Arc::new(DigestService::new(
        store,
        Some(Arc::new(GatewayModel::new(ai))),
        DigestSettings {
            model: config.insights.model.clone(),
            timeout: config.insights.timeout,
        },
    ))
}
