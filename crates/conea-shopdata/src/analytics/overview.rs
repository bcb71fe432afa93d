//! The console's Overview as one typed report: a period's sales against the previous one,
//! its five best-selling products, the RFM segments and the monthly cohorts, computed
//! together (four queries at once) and kept warm in an [`OverviewCache`].
//!
//! The cache is what keeps the page fast over a large shop: the four reports over a year of
//! a million orders take hundreds of milliseconds, a warm page none of that. An entry lives
//! for the cache's time to live; a write of the organization's shop data by this process
//! (an import, a Shopify sync or webhook: the job kinds [`crate::WritesShopData`] wraps)
//! drops the organization's entries at once, and a write by another process shows within
//! the time to live.

use super::params::NumberOrText;
use super::{customers, products, sales, AnalyticsStore, RawParams, Report};
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::OrgId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The Overview's figures.
#[derive(Debug)]
pub struct Overview {
    /// `sales_over_time` compared with the previous period.
    pub sales: sales::SalesOverTime,
    /// `product_performance`, the first five.
    pub top: products::ProductPerformance,
    pub segments: customers::RfmSegments,
    pub cohorts: customers::CustomerCohorts,
}

/// Computes the Overview of `base` (its period and time zone; the comparison and limits are
/// the Overview's own).
pub(super) async fn compute(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    base: &RawParams,
    now: conea_core::clock::EpochMs,
) -> CoreResult<Overview> {
    let params = |raw: RawParams, report: Report| {
        let p = raw
            .parse(now)
            .map_err(|e| CoreError::invalid(e.param, e.message))?;
        report
            .check(&p)
            .map_err(|e| CoreError::invalid(e.param, e.message))?;
        Ok::<_, CoreError>(p)
    };
    let plain = RawParams {
        compare: None,
        limit: None,
        ..base.clone()
    };
    let compared = params(
        RawParams {
            compare: Some("previous_period".into()),
            ..plain.clone()
        },
        Report::SalesOverTime,
    )?;
    let top = params(
        RawParams {
            limit: Some(NumberOrText::Text("5".into())),
            ..plain.clone()
        },
        Report::ProductPerformance,
    )?;
    let segments = params(plain.clone(), Report::RfmSegments)?;
    let cohorts = params(plain, Report::CustomerCohorts)?;
    let (sales, top, segments, cohorts) = tokio::try_join!(
        sales::sales_over_time(store, org, &compared),
        products::product_performance(store, org, &top),
        customers::rfm_segments(store, org, &segments),
        customers::customer_cohorts(store, org, &cohorts),
    )
    .map_err(CoreError::from)?;
    Ok(Overview {
        sales,
        top,
        segments,
        cohorts,
    })
}

/// Overviews by organization and parameters, for a time to live; see the module's note.
pub type OverviewCache = WarmCache<Overview>;

/// Results by organization and parameters, for a time to live, until the organization's
/// data changes.
pub struct WarmCache<T> {
    entries: moka::future::Cache<(OrgId, u64, String), Arc<T>>,
    /// Bumped by a write of the organization's shop data: older entries are never read again
    /// (and leave with their time to live), an Overview computed across the write included.
    generations: Mutex<HashMap<OrgId, u64>>,
}

impl<T: Send + Sync + 'static> WarmCache<T> {
    /// Keeps at most 1,000 results, each for `ttl`.
    pub fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(WarmCache {
            entries: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(ttl)
                .build(),
            generations: Mutex::new(HashMap::new()),
        })
    }

    fn generation(&self, org: &OrgId) -> u64 {
        self.generations
            .lock()
            .map(|g| g.get(org).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The organization's data changed: its results are computed afresh.
    pub fn invalidate(&self, org: &OrgId) {
        if let Ok(mut g) = self.generations.lock() {
            *g.entry(org.clone()).or_insert(0) += 1;
        }
    }

    /// The warm result of `params` for the organization, or `compute`'s (kept only when it
    /// succeeds).
    pub async fn get_or_compute<F>(
        &self,
        org: &OrgId,
        params: &impl serde::Serialize,
        compute: F,
    ) -> CoreResult<Arc<T>>
    where
        F: std::future::Future<Output = CoreResult<T>>,
    {
        let params = serde_json::to_string(params).map_err(CoreError::internal)?;
        let key = (org.clone(), self.generation(org), params);
        if let Some(hit) = self.entries.get(&key).await {
            return Ok(hit);
        }
        let fresh = Arc::new(compute.await?);
        self.entries.insert(key, fresh.clone()).await;
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    async fn get(cache: &WarmCache<u32>, org: &OrgId, params: &str, runs: &AtomicU32) -> u32 {
        let value = cache
            .get_or_compute(org, &params, async {
                Ok(runs.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap();
        *value
    }

    #[tokio::test]
    async fn a_result_is_computed_once_per_organization_and_parameters() {
        let cache = WarmCache::<u32>::new(Duration::from_secs(60));
        let runs = AtomicU32::new(0);
        let (a, b) = (OrgId::generate(), OrgId::generate());
        assert_eq!(get(&cache, &a, "30d", &runs).await, 1);
        assert_eq!(get(&cache, &a, "30d", &runs).await, 1, "warm");
        assert_eq!(get(&cache, &a, "7d", &runs).await, 2, "other parameters");
        assert_eq!(get(&cache, &b, "30d", &runs).await, 3, "other organization");
    }

    #[tokio::test]
    async fn a_change_of_the_organizations_data_computes_its_results_afresh_only() {
        let cache = WarmCache::<u32>::new(Duration::from_secs(60));
        let runs = AtomicU32::new(0);
        let (a, b) = (OrgId::generate(), OrgId::generate());
        assert_eq!(get(&cache, &a, "30d", &runs).await, 1);
        assert_eq!(get(&cache, &b, "30d", &runs).await, 2);
        cache.invalidate(&a);
        assert_eq!(
            get(&cache, &a, "30d", &runs).await,
            3,
            "afresh after the write"
        );
        assert_eq!(get(&cache, &a, "30d", &runs).await, 3, "then warm again");
        assert_eq!(
            get(&cache, &b, "30d", &runs).await,
            2,
            "the other stays warm"
        );
    }

    #[tokio::test]
    async fn a_failed_computation_is_not_kept() {
        let cache = WarmCache::<u32>::new(Duration::from_secs(60));
        let org = OrgId::generate();
        let failed = cache
            .get_or_compute(&org, &"30d", async {
                Err(CoreError::invalid("to", "boom"))
            })
            .await;
        assert!(failed.is_err());
        let runs = AtomicU32::new(0);
        assert_eq!(get(&cache, &org, "30d", &runs).await, 1);
    }
}
