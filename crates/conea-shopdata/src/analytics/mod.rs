//! Shop analytics: reports computed in the database from sums Conea maintains as orders are
//! written (`order_sales_15m`, per organization, UTC quarter hour, shop and currency), so a
//! report over a year reads tens of thousands of sums, not a million orders.
//!
//! Each report is a typed function ([`sales::sales_over_time`], …) taking [`ReportParams`]
//! and returning its own result struct; [`AnalyticsService`] is the way in for the API (and
//! the AI analyst and the console after it): it checks the permission and parses
//! [`RawParams`] once.
//!
//! - [`calendar`] time zones, local days and the day/week/month grid;
//! - [`params`] the common parameters; [`store`] the `AnalyticsStore` trait;
//! - [`sales`] `sales_over_time`, `refunds_cancellations`, `sales_by_hour_weekday`;
//! - [`customers`] `repeat_purchase`, `rfm_segments`, `customer_cohorts`;
//! - [`inventory`] `inventory` (stock, velocity, days of cover);
//! - [`job`] the `analytics.report` job kind (a report as a durable job);
//! - [`overview`] the console's Overview (four reports at once), kept warm.

pub mod calendar;
pub mod customers;
pub mod inventory;
pub mod job;
pub mod overview;
pub mod params;
pub mod products;
pub mod sales;
pub mod store;

pub use params::{RawParams, ReportParams};
pub use store::AnalyticsStore;

use crate::reports::ArgError;
use conea_core::clock::Clock;
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::OrgId;
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use serde_json::Value;
use std::sync::Arc;

/// The reports of `GET /v1/analytics/{report}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    SalesOverTime,
    ProductPerformance,
    RefundsCancellations,
    SalesByHourWeekday,
    RepeatPurchase,
    RfmSegments,
    CustomerCohorts,
    Inventory,
}

impl Report {
    pub const ALL: [Report; 8] = [
        Report::SalesOverTime,
        Report::ProductPerformance,
        Report::RefundsCancellations,
        Report::SalesByHourWeekday,
        Report::RepeatPurchase,
        Report::RfmSegments,
        Report::CustomerCohorts,
        Report::Inventory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Report::SalesOverTime => "sales_over_time",
            Report::ProductPerformance => "product_performance",
            Report::RefundsCancellations => "refunds_cancellations",
            Report::SalesByHourWeekday => "sales_by_hour_weekday",
            Report::RepeatPurchase => "repeat_purchase",
            Report::RfmSegments => "rfm_segments",
            Report::CustomerCohorts => "customer_cohorts",
            Report::Inventory => "inventory",
        }
    }

    pub fn parse(text: &str) -> Option<Report> {
        Report::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Refuses the parameters this report does not take (`sort` and `limit` are
    /// `product_performance`'s).
    pub fn check(self, p: &ReportParams) -> Result<(), ArgError> {
        if self == Report::ProductPerformance {
            return Ok(());
        }
        for (param, given) in [("sort", p.sort.is_some()), ("limit", p.limit.is_some())] {
            if given {
                return Err(ArgError {
                    param,
                    message: format!("`{param}` applies to product_performance only"),
                });
            }
        }
        Ok(())
    }
}

/// Runs `report` for the organization; the result as JSON.
pub async fn run(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    report: Report,
    p: &ReportParams,
) -> CoreResult<Value> {
    report
        .check(p)
        .map_err(|e| CoreError::invalid(e.param, e.message))?;
    let value = match report {
        Report::SalesOverTime => serde_json::to_value(sales::sales_over_time(store, org, p).await?),
        Report::ProductPerformance => {
            serde_json::to_value(products::product_performance(store, org, p).await?)
        }
        Report::RefundsCancellations => {
            serde_json::to_value(sales::refunds_cancellations(store, org, p).await?)
        }
        Report::SalesByHourWeekday => {
            serde_json::to_value(sales::sales_by_hour_weekday(store, org, p).await?)
        }
        Report::RepeatPurchase => {
            serde_json::to_value(customers::repeat_purchase(store, org, p).await?)
        }
        Report::RfmSegments => serde_json::to_value(customers::rfm_segments(store, org, p).await?),
        Report::CustomerCohorts => {
            serde_json::to_value(customers::customer_cohorts(store, org, p).await?)
        }
        Report::Inventory => serde_json::to_value(inventory::inventory(store, org, p).await?),
    };
    value.map_err(CoreError::internal)
}

/// Reports for callers with `data:read`.
pub struct AnalyticsService {
    store: Arc<dyn AnalyticsStore>,
    clock: Arc<dyn Clock>,
    overviews: Option<Arc<overview::OverviewCache>>,
}

impl AnalyticsService {
    pub fn new(store: Arc<dyn AnalyticsStore>, clock: Arc<dyn Clock>) -> Self {
        AnalyticsService {
            store,
            clock,
            overviews: None,
        }
    }

    /// Keeps Overviews warm in `cache`.
    pub fn with_overview_cache(mut self, cache: Arc<overview::OverviewCache>) -> Self {
        self.overviews = Some(cache);
        self
    }

    /// The console's Overview of `base`'s period and time zone [data:read]: from the cache
    /// when one is set and warm.
    pub async fn overview(
        &self,
        by: &Principal,
        base: &RawParams,
    ) -> CoreResult<Arc<overview::Overview>> {
        by.require(Permission::DataRead)?;
        let (store, org, params, now) = (
            self.store.clone(),
            by.org_id.clone(),
            base.clone(),
            self.clock.now_ms(),
        );
        let compute = async move { overview::compute(store.as_ref(), &org, &params, now).await };
        match &self.overviews {
            Some(cache) => cache.get_or_compute(&by.org_id, base, compute).await,
            None => Ok(Arc::new(compute.await?)),
        }
    }

    /// Parses the report's name and parameters (a bad one is a 400 naming it) and runs it.
    pub async fn report(&self, by: &Principal, report: &str, raw: &RawParams) -> CoreResult<Value> {
        by.require(Permission::DataRead)?;
        let names = Report::ALL.map(Report::as_str).join(", ");
        let report = Report::parse(report).ok_or_else(|| {
            CoreError::invalid(
                "report",
                format!("`{report}` is not a report; the reports are {names}."),
            )
        })?;
        let params = raw
            .parse(self.clock.now_ms())
            .map_err(|e| CoreError::invalid(e.param, e.message))?;
        run(self.store.as_ref(), &by.org_id, report, &params).await
    }

    /// The permission check and the parameters of a typed report.
    fn prepared(
        &self,
        by: &Principal,
        report: Report,
        raw: &RawParams,
    ) -> CoreResult<ReportParams> {
        by.require(Permission::DataRead)?;
        let params = raw
            .parse(self.clock.now_ms())
            .map_err(|e| CoreError::invalid(e.param, e.message))?;
        report
            .check(&params)
            .map_err(|e| CoreError::invalid(e.param, e.message))?;
        Ok(params)
    }

    /// `sales_over_time` as its type (the console draws it) [data:read].
    pub async fn sales_over_time(
        &self,
        by: &Principal,
        raw: &RawParams,
    ) -> CoreResult<sales::SalesOverTime> {
        let p = self.prepared(by, Report::SalesOverTime, raw)?;
        Ok(sales::sales_over_time(self.store.as_ref(), &by.org_id, &p).await?)
    }

    /// `product_performance` as its type [data:read].
    pub async fn product_performance(
        &self,
        by: &Principal,
        raw: &RawParams,
    ) -> CoreResult<products::ProductPerformance> {
        let p = self.prepared(by, Report::ProductPerformance, raw)?;
        Ok(products::product_performance(self.store.as_ref(), &by.org_id, &p).await?)
    }

    /// `rfm_segments` as its type [data:read].
    pub async fn rfm_segments(
        &self,
        by: &Principal,
        raw: &RawParams,
    ) -> CoreResult<customers::RfmSegments> {
        let p = self.prepared(by, Report::RfmSegments, raw)?;
        Ok(customers::rfm_segments(self.store.as_ref(), &by.org_id, &p).await?)
    }

    /// `customer_cohorts` as its type [data:read].
    pub async fn customer_cohorts(
        &self,
        by: &Principal,
        raw: &RawParams,
    ) -> CoreResult<customers::CustomerCohorts> {
        let p = self.prepared(by, Report::CustomerCohorts, raw)?;
        Ok(customers::customer_cohorts(self.store.as_ref(), &by.org_id, &p).await?)
    }
}
