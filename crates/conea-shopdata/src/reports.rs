//! The two reports of `POST /v1/data/process`: their arguments, results (money as decimal
//! strings in the report currency, days as `YYYY-MM-DD` UTC) and how they are computed from
//! the store's aggregates.
//!
//! Report currency: one shop has one currency, but nothing stops a file from mixing them;
//! the report then uses the currency of most orders that are not cancelled, and counts the
//! orders left out of the money figures in `other_currency_orders`.

use super::fields;
use super::money::Money;
use super::store::{OrderGroup, ReportScope, ShopDataStore};
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::StoreResult;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const DEFAULT_TOP_LIMIT: u32 = 10;
pub const MAX_TOP_LIMIT: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    OrdersSummary,
    ProductPerformance,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::OrdersSummary => "orders_summary",
            Operation::ProductPerformance => "product_performance",
        }
    }
}

/// A period bound as given: epoch milliseconds, or a string (RFC 3339, `YYYY-MM-DD`, digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    Millis(i64),
    Text(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodArg {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Bound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Bound>,
}

/// A resolved period `[from, to)`; an open end is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<EpochMs>,
    pub to: Option<EpochMs>,
}

impl PeriodArg {
    /// `from` is inclusive, `to` exclusive; a `to` date (`2024-01-31`) includes that day.
    pub fn resolve(&self) -> Result<Period, String> {
        let bound = |b: &Option<Bound>, end: bool, name: &str| -> Result<Option<EpochMs>, String> {
            match b {
                None => Ok(None),
                Some(Bound::Millis(ms)) => Ok(Some(*ms)),
                Some(Bound::Text(t)) => fields::period_bound(t, end)
                    .map(Some)
                    .map_err(|e| format!("period.{name}: {e}")),
            }
        };
        let period = Period {
            from: bound(&self.from, false, "from")?,
            to: bound(&self.to, true, "to")?,
        };
        if let (Some(f), Some(t)) = (period.from, period.to) {
            if f >= t {
                return Err("period.from must be before period.to".into());
            }
        }
        Ok(period)
    }
}

/// Arguments of a `data.process` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessArgs {
    pub operation: Operation,
    /// One shop, or every shop of the organization when `None`.
    #[serde(default)]
    pub shop_id: Option<ShopId>,
    #[serde(default)]
    pub period: Option<PeriodArg>,
    #[serde(default)]
    pub params: Value,
}

/// Checked arguments, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRequest {
    pub operation: Operation,
    pub shop_id: Option<ShopId>,
    pub period: Period,
    /// `params.limit` of `product_performance`.
    pub limit: u32,
}

/// A report argument that is wrong: the request field to blame and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// `operation`, `period` or `params`.
    pub param: &'static str,
    pub message: String,
}

impl ArgError {
    fn new(param: &'static str, message: impl Into<String>) -> Self {
        ArgError {
            param,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ProcessArgs {
    /// Parses a request's parts, each into its own type, so an error names its part.
    pub fn parse(
        operation: &str,
        shop_id: Option<ShopId>,
        period: Option<Value>,
        params: Option<Value>,
    ) -> Result<ProcessArgs, ArgError> {
        let operation = serde_json::from_value(Value::String(operation.to_owned()))
            .map_err(|e| ArgError::new("operation", e.to_string()))?;
        let period = match period {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value::<PeriodArg>(v)
                    .map_err(|e| ArgError::new("period", e.to_string()))?,
            ),
        };
        Ok(ProcessArgs {
            operation,
            shop_id,
            period,
            params: params.unwrap_or(Value::Null),
        })
    }

    /// Validates the period and params; the error names the field.
    pub fn check(&self) -> Result<ProcessRequest, ArgError> {
        let period = self
            .period
            .clone()
            .unwrap_or_default()
            .resolve()
            .map_err(|m| ArgError::new("period", m))?;
        let params = match &self.params {
            Value::Null => serde_json::Map::new(),
            Value::Object(m) => m.clone(),
            _ => return Err(ArgError::new("params", "params must be an object")),
        };
        let limit = match params.get("limit") {
            None | Some(Value::Null) => DEFAULT_TOP_LIMIT,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=u64::from(MAX_TOP_LIMIT)).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| {
                    ArgError::new(
                        "params",
                        format!("params.limit must be an integer from 1 to {MAX_TOP_LIMIT}"),
                    )
                })?,
        };
        Ok(ProcessRequest {
            operation: self.operation,
            shop_id: self.shop_id.clone(),
            period,
            limit,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodOut {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl From<Period> for PeriodOut {
    fn from(p: Period) -> Self {
        PeriodOut {
            from: p.from.map(fields::rfc3339),
            to: p.to.map(fields::rfc3339),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTotals {
    pub orders: i64,
    pub revenue: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersSummary {
    pub period: PeriodOut,
    /// Orders created in the period, cancelled ones included.
    pub total_orders: i64,
    /// Sum of `total_price` of the orders that are not cancelled.
    pub total_revenue: String,
    /// `total_revenue` / orders that are not cancelled, rounded to the currency's digits.
    pub average_order_value: String,
    pub currency: Option<String>,
    pub by_status: BTreeMap<String, i64>,
    pub by_financial_status: BTreeMap<String, i64>,
    pub by_day: BTreeMap<String, DayTotals>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_currency_orders: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductLine {
    /// The source's product id as a string (Shopify ids exceed JavaScript's safe
    /// integers); `None` for line items without a product.
    pub product_id: Option<String>,
    pub title: String,
    pub units_sold: i64,
    pub revenue: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPerformance {
    pub period: PeriodOut,
    pub currency: Option<String>,
    pub top_products: Vec<ProductLine>,
    pub total_revenue: String,
    pub total_units_sold: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_currency_orders: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn scope(org: &OrgId, shop: Option<&ShopId>, period: Period) -> ReportScope {
    ReportScope {
        org_id: org.clone(),
        shop_id: shop.cloned(),
        from: period.from.unwrap_or(EpochMs::MIN),
        to: period.to.unwrap_or(EpochMs::MAX),
    }
}

/// The currency of most orders that are not cancelled (alphabetical on a tie).
fn main_currency(counts: &BTreeMap<String, i64>) -> Option<String> {
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(c, _)| c.clone())
}

/// Folds the store's groups into the summary.
pub fn summarize(groups: &[OrderGroup], period: Period) -> OrdersSummary {
    let mut live_by_currency: BTreeMap<String, i64> = BTreeMap::new();
    for g in groups {
        *live_by_currency.entry(g.currency.clone()).or_default() += g.live_orders;
    }
    let currency = main_currency(&live_by_currency);
    let cur = currency.as_deref();
    let mut total_orders = 0;
    let mut live_orders = 0;
    let mut other_currency_orders = 0;
    let mut revenue = 0i64;
    let mut by_status = BTreeMap::new();
    let mut by_financial_status = BTreeMap::new();
    let mut by_day: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for g in groups {
        total_orders += g.orders;
        *by_status.entry(g.status.clone()).or_insert(0) += g.orders;
        let fin = g
            .financial_status
            .clone()
            .unwrap_or_else(|| "unknown".into());
        *by_financial_status.entry(fin).or_insert(0) += g.orders;
        let day = by_day.entry(g.day).or_default();
        day.0 += g.orders;
        if Some(g.currency.as_str()) == cur {
            live_orders += g.live_orders;
            revenue += g.revenue.units();
            day.1 += g.revenue.units();
        } else {
            other_currency_orders += g.live_orders;
        }
    }
    let revenue = Money::from_units(revenue);
    OrdersSummary {
        period: period.into(),
        total_orders,
        total_revenue: revenue.format(cur),
        average_order_value: revenue.average(live_orders, cur),
        currency: currency.clone(),
        by_status,
        by_financial_status,
        by_day: by_day
            .into_iter()
            .map(|(day, (orders, rev))| {
                (
                    fields::day_label(day),
                    DayTotals {
                        orders,
                        revenue: Money::from_units(rev).format(cur),
                    },
                )
            })
            .collect(),
        other_currency_orders,
    }
}

pub async fn orders_summary(
    store: &dyn ShopDataStore,
    org: &OrgId,
    shop: Option<&ShopId>,
    period: Period,
) -> StoreResult<OrdersSummary> {
    let groups = store.order_groups(&scope(org, shop, period)).await?;
    Ok(summarize(&groups, period))
}

pub async fn product_performance(
    store: &dyn ShopDataStore,
    org: &OrgId,
    shop: Option<&ShopId>,
    period: Period,
    limit: u32,
) -> StoreResult<ProductPerformance> {
    let scope = scope(org, shop, period);
    let counts: BTreeMap<String, i64> = store.order_currencies(&scope).await?.into_iter().collect();
    let currency = main_currency(&counts);
    let other_currency_orders = counts
        .iter()
        .filter(|(c, _)| Some(c.as_str()) != currency.as_deref())
        .map(|(_, n)| n)
        .sum();
    let cur = currency.as_deref();
    let sales = match cur {
        Some(c) => store.product_sales(&scope, c, limit).await?,
        None => Default::default(),
    };
    Ok(ProductPerformance {
        period: period.into(),
        currency: currency.clone(),
        top_products: sales
            .top
            .into_iter()
            .map(|r| ProductLine {
                product_id: r.product_id.map(|id| id.to_string()),
                title: r.title,
                units_sold: r.units_sold,
                revenue: r.revenue.format(cur),
            })
            .collect(),
        total_revenue: sales.total_revenue.format(cur),
        total_units_sold: sales.total_units,
        other_currency_orders,
    })
}

/// Runs a checked request; the result is the report as JSON.
pub async fn run_report(
    store: &dyn ShopDataStore,
    org: &OrgId,
    req: &ProcessRequest,
) -> StoreResult<Value> {
    let shop = req.shop_id.as_ref();
    let value = match req.operation {
        Operation::OrdersSummary => {
            serde_json::to_value(orders_summary(store, org, shop, req.period).await?)
        }
        Operation::ProductPerformance => serde_json::to_value(
            product_performance(store, org, shop, req.period, req.limit).await?,
        ),
    };
    value.map_err(|e| conea_core::store::StoreError::Other(format!("report serialization: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group(
        day: i64,
        status: &str,
        fin: Option<&str>,
        cur: &str,
        orders: i64,
        live: i64,
        rev: &str,
    ) -> OrderGroup {
        OrderGroup {
            day,
            status: status.into(),
            financial_status: fin.map(Into::into),
            currency: cur.into(),
            orders,
            live_orders: live,
            revenue: Money::parse(rev).expect("valid"),
        }
    }

    #[test]
    fn summary_counts_all_orders_but_revenue_only_of_live_ones_in_the_main_currency() {
        let groups = [
            group(19_000, "open", Some("paid"), "EUR", 2, 2, "30.00"),
            group(19_000, "cancelled", Some("voided"), "EUR", 1, 0, "0"),
            group(19_001, "closed", None, "EUR", 1, 1, "10.01"),
            group(19_001, "open", Some("paid"), "USD", 1, 1, "99.00"),
        ];
        let s = summarize(&groups, Period::default());
        assert_eq!(s.total_orders, 5);
        assert_eq!(s.currency.as_deref(), Some("EUR"));
        assert_eq!(s.total_revenue, "40.01");
        assert_eq!(s.average_order_value, "13.34");
        assert_eq!(s.other_currency_orders, 1);
        assert_eq!(s.by_status["open"], 3);
        assert_eq!(s.by_financial_status["unknown"], 1);
        assert_eq!(
            s.by_day["2022-01-08"],
            DayTotals {
                orders: 3,
                revenue: "30.00".into()
            }
        );
        assert_eq!(
            s.by_day["2022-01-09"],
            DayTotals {
                orders: 2,
                revenue: "10.01".into()
            }
        );
    }

    #[test]
    fn empty_summary_has_zero_money_and_no_currency() {
        let s = summarize(&[], Period::default());
        assert_eq!(
            (s.total_orders, s.total_revenue.as_str(), s.currency),
            (0, "0.00", None)
        );
    }

    #[test]
    fn process_args_default_limit_and_reject_bad_values() {
        let args: ProcessArgs = serde_json::from_value(json!({
            "operation": "product_performance",
            "period": {"from": "2024-01-01", "to": 1_706_745_600_000i64}
        }))
        .expect("valid args");
        let req = args.check().expect("valid");
        assert_eq!(req.limit, 10);
        assert_eq!(req.period.from, Some(1_704_067_200_000));
        let bad: ProcessArgs = serde_json::from_value(json!({
            "operation": "orders_summary", "params": {"limit": 0}
        }))
        .expect("parses");
        let err = bad.check().unwrap_err();
        assert_eq!(err.param, "params");
        assert!(err.message.contains("params.limit"));
        let backwards: ProcessArgs = serde_json::from_value(json!({
            "operation": "orders_summary", "period": {"from": "2024-02-01", "to": "2024-01-01"}
        }))
        .expect("parses");
        assert!(backwards.check().is_err());
        assert!(serde_json::from_value::<ProcessArgs>(json!({"operation": "nope"})).is_err());
    }

    #[test]
    fn each_part_of_a_process_request_is_parsed_into_its_own_type_and_blamed_by_name() {
        let bad_op = ProcessArgs::parse("forecast", None, None, None).unwrap_err();
        assert_eq!(bad_op.param, "operation");
        let bad_period =
            ProcessArgs::parse("orders_summary", None, Some(json!("last week")), None).unwrap_err();
        assert_eq!(bad_period.param, "period");
        let args = ProcessArgs::parse(
            "product_performance",
            None,
            Some(json!({"from": "2026-01-01", "to": "2026-01-31"})),
            Some(json!({"limit": 3})),
        )
        .expect("parses");
        assert_eq!(args.operation, Operation::ProductPerformance);
        let unresolvable = ProcessArgs::parse(
            "orders_summary",
            None,
            Some(json!({"from": "yesterday"})),
            None,
        )
        .expect("parses")
        .check()
        .unwrap_err();
        assert_eq!(unresolvable.param, "period");
        // The job's stored arguments read back as the same request.
        let stored: ProcessArgs =
            serde_json::from_value(serde_json::to_value(&args).expect("serializes"))
                .expect("reads");
        assert_eq!(stored.check(), args.check());
    }
}
