//! The console's Overview as one typed report: a period's sales against the previous one,
//! its five best-selling products, the RFM segments and the monthly cohorts, computed
//! together (four queries at once) and kept warm in an [`OverviewCache`].
//!
//! The cache is what keeps the page fast over a large shop: the four reports over a year of
//! a million orders take seconds, a warm page none of that. An entry is warm for the cache's
//! time to live, then answered once more while it is computed afresh in the background; a write of the organization's shop data by this process
//! (an import, a Shopify sync or webhook: the job kinds [`crate::WritesShopData`] wraps)
//! drops the organization's entries at once, and a write by another process shows within
//! the time to live.

use super::params::NumberOrText;
use super::{customers, products, sales, AnalyticsStore, RawParams, Report};
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::OrgId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Results by organization and parameters, warm for a time to live, until the
/// organization's data changes. A result older than its time to live is still answered, once
/// more, while it is computed afresh in the background (so no reader waits for a slow
/// report after the first); one nobody read for [`STALE_FOR`] times the time to live is
/// dropped.
pub struct WarmCache<T> {
    entries: moka::future::Cache<(OrgId, u64, String), Arc<Warm<T>>>,
    /// Bumped by a write of the organization's data: older entries are never read again
    /// (and leave with their time to live), a result computed across the write included.
    generations: Mutex<HashMap<OrgId, u64>>,
    ttl: Duration,
}

/// How many times its time to live an unread result is kept to answer while it is refreshed.
pub const STALE_FOR: u32 = 10;

struct Warm<T> {
    value: Arc<T>,
    at: Instant,
    refreshing: AtomicBool,
}

impl<T: Send + Sync + 'static> WarmCache<T> {
    /// Keeps at most 1,000 results, each warm for `ttl`.
    pub fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(WarmCache {
            entries: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(ttl.saturating_mul(STALE_FOR))
                .build(),
            generations: Mutex::new(HashMap::new()),
            ttl,
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

    /// The warm result of `params` for the organization; or, past its time to live, that
    /// result while `compute` runs in the background; or `compute`'s (kept only when it
    /// succeeds).
    pub async fn get_or_compute<F>(
        self: &Arc<Self>,
        org: &OrgId,
        params: &impl serde::Serialize,
        compute: F,
    ) -> CoreResult<Arc<T>>
    where
        F: std::future::Future<Output = CoreResult<T>> + Send + 'static,
    {
        let params = serde_json::to_string(params).map_err(CoreError::internal)?;
        let key = (org.clone(), self.generation(org), params);
        if let Some(hit) = self.entries.get(&key).await {
            if hit.at.elapsed() >= self.ttl && !hit.refreshing.swap(true, Ordering::SeqCst) {
                let me = self.clone();
                let stale = hit.clone();
                tokio::spawn(async move {
                    match compute.await {
                        Ok(value) => me.entries.insert(key, Arc::new(Warm::new(value))).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "refreshing a warm report failed; the next reader tries again");
                            stale.refreshing.store(false, Ordering::SeqCst);
                        }
                    }
                });
            }
            return Ok(hit.value.clone());
        }
        let fresh = Arc::new(Warm::new(compute.await?));
        self.entries.insert(key, fresh.clone()).await;
        Ok(fresh.value.clone())
    }
}

impl<T> Warm<T> {
    fn new(value: T) -> Self {
        Warm {
            value: Arc::new(value),
            at: Instant::now(),
            refreshing: AtomicBool::new(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    async fn get(
        cache: &Arc<WarmCache<u32>>,
        org: &OrgId,
        params: &str,
        runs: &Arc<AtomicU32>,
    ) -> u32 {
        let runs = runs.clone();
        let value = cache
            .get_or_compute(org, &params, async move {
                Ok(runs.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap();
        *value
    }

    #[tokio::test]
    async fn a_result_is_computed_once_per_organization_and_parameters() {
        let cache = WarmCache::<u32>::new(Duration::from_secs(60));
        let runs = Arc::new(AtomicU32::new(0));
        let (a, b) = (OrgId::generate(), OrgId::generate());
        assert_eq!(get(&cache, &a, "30d", &runs).await, 1);
        assert_eq!(get(&cache, &a, "30d", &runs).await, 1, "warm");
        assert_eq!(get(&cache, &a, "7d", &runs).await, 2, "other parameters");
        assert_eq!(get(&cache, &b, "30d", &runs).await, 3, "other organization");
    }

    #[tokio::test]
    async fn a_change_of_the_organizations_data_computes_its_results_afresh_only() {
        let cache = WarmCache::<u32>::new(Duration::from_secs(60));
        let runs = Arc::new(AtomicU32::new(0));
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
    async fn past_its_time_to_live_a_result_answers_once_more_while_it_is_computed_afresh() {
        let cache = WarmCache::<u32>::new(Duration::from_millis(100));
        let runs = Arc::new(AtomicU32::new(0));
        let org = OrgId::generate();
        assert_eq!(get(&cache, &org, "30d", &runs).await, 1);
        #[allow(clippy::disallowed_methods)] // ages the entry past its time to live
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            get(&cache, &org, "30d", &runs).await,
            1,
            "the stale result, at once"
        );
        let mut seen = 1;
        for _ in 0..1000 {
            seen = get(&cache, &org, "30d", &runs).await;
            if seen != 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            seen, 2,
            "then the fresh one, computed once in the background"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
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
        let runs = Arc::new(AtomicU32::new(0));
        assert_eq!(get(&cache, &org, "30d", &runs).await, 1);
    }
}
