//! `GET /v1/analytics/{report}` [data:read]: a report computed from the sums the store
//! maintains, answered directly as JSON.

use crate::http::auth::Auth;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::query::ApiQuery;
use crate::state::AppState;
use axum::extract::{Path, State};
use conea_shopdata::analytics::RawParams;
use serde::Deserialize;
use serde_json::Value;

/// The parameters every report takes.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// First local day (`YYYY-MM-DD`) or an RFC 3339 instant; default 29 days before `to`.
    #[param(schema_with = super::schemas::day_or_instant)]
    pub from: Option<String>,
    /// Last local day, included (`YYYY-MM-DD`), or an RFC 3339 instant, excluded; default today.
    #[param(schema_with = super::schemas::day_or_instant)]
    pub to: Option<String>,
    /// IANA time zone name the days follow; default `UTC`.
    #[param(schema_with = super::schemas::time_zone)]
    pub timezone: Option<String>,
    /// `day` (default), `week` (from Monday) or `month`.
    #[param(schema_with = super::schemas::granularity)]
    pub granularity: Option<String>,
    /// `previous_period` or `previous_year`: every figure also gets its earlier value and
    /// the change.
    #[param(schema_with = super::schemas::compare)]
    pub compare: Option<String>,
    /// Only this shop (`shop_…`); default every shop of the organization.
    #[param(schema_with = super::schemas::shop_id)]
    pub shop_id: Option<String>,
    /// `product_performance` only: `revenue` (default), `units`, `orders` or `refund_rate`.
    #[param(schema_with = super::schemas::product_sort)]
    pub sort: Option<String>,
    /// `product_performance` only: products listed per currency, 1–500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

impl From<AnalyticsParams> for RawParams {
    fn from(p: AnalyticsParams) -> Self {
        RawParams {
            from: p.from,
            to: p.to,
            timezone: p.timezone,
            granularity: p.granularity,
            compare: p.compare,
            shop_id: p.shop_id,
            sort: p.sort,
            limit: p
                .limit
                .map(conea_shopdata::analytics::params::NumberOrText::Text),
        }
    }
}

/// A report of your organization's shop data [data:read]: `sales_over_time`,
/// `product_performance`, `refunds_cancellations`, `sales_by_hour_weekday`,
/// `repeat_purchase`, `rfm_segments`, `customer_cohorts` or `inventory`. Money is per
/// currency as exact decimal strings; an empty range answers zeros.
#[utoipa::path(get, path = "/analytics/{report}", tag = "analytics",
    params(("report" = inline(super::schemas::ReportName), Path, description = "`sales_over_time`, `product_performance`, `refunds_cancellations`, `sales_by_hour_weekday`, `repeat_purchase`, `rfm_segments`, `customer_cohorts` or `inventory`"), AnalyticsParams),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Object, description = "The report"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming the report or parameter"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`")))]
pub async fn report(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(report): Path<String>,
    ApiQuery(q): ApiQuery<AnalyticsParams>,
) -> ApiResult<ApiJson<Value>> {
    let raw = RawParams::from(q);
    Ok(ApiJson(
        state.platform().analytics.report(&p, &report, &raw).await?,
    ))
}
