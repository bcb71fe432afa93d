//! The sales reports, from the maintained quarter-hour sums: `sales_over_time`,
//! `refunds_cancellations` and `sales_by_hour_weekday`. Money is per currency (never added
//! across currencies) as exact decimal strings; an empty range gives zeros.

use super::calendar::{self, date_of_day, day_of_date, DAY_MS, HOUR_MS};
use super::params::ReportParams;
use super::store::{AnalyticsStore, SalesSums, SlotQuery};
use crate::money::Money;
use conea_core::clock::EpochMs;
use conea_core::ids::OrgId;
use conea_core::store::StoreResult;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// Sums per currency, then per slot.
type ByCurrency = BTreeMap<String, BTreeMap<i64, SalesSums>>;

async fn slots(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
    (from, to): (EpochMs, EpochMs),
    hour_of_week: bool,
) -> StoreResult<ByCurrency> {
    let spans = calendar::offset_spans(&p.timezone, from, to);
    let q = SlotQuery {
        org_id: org.clone(),
        shop_id: p.shop_id.clone(),
        from,
        to,
        hourly: SlotQuery::whole_hours(from, to, &spans),
        spans,
        slot_ms: if hour_of_week { HOUR_MS } else { DAY_MS },
        hour_of_week,
    };
    let mut out = ByCurrency::new();
    for row in store.sales_slots(&q).await? {
        out.entry(row.currency)
            .or_default()
            .entry(row.slot)
            .or_default()
            .add(&row.sums);
    }
    Ok(out)
}

/// The sums of each bucket of the report's grid (bucket starts as local day numbers).
fn into_grid(days: &BTreeMap<i64, SalesSums>, p: &ReportParams, grid: &[i64]) -> Vec<SalesSums> {
    let mut out = vec![SalesSums::default(); grid.len()];
    for (day, sums) in days {
        let start = day_of_date(p.granularity.bucket_start(date_of_day(*day)));
        if let Ok(i) = grid.binary_search(&start) {
            out[i].add(sums);
        }
    }
    out
}

/// The grid of a range: its buckets' first local days.
fn grid_of(p: &ReportParams, from: EpochMs, to: EpochMs) -> Vec<i64> {
    let first = calendar::date_at(&p.timezone, from);
    let last = calendar::date_at(&p.timezone, to.saturating_sub(1));
    p.granularity
        .grid(first, last)
        .into_iter()
        .map(day_of_date)
        .collect()
}

/// The figures of sales: counts, and money in the series' currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesFigures {
    pub orders: i64,
    pub gross_sales: String,
    pub discounts: String,
    pub refunds: String,
    /// Gross sales less discounts and refunds.
    pub net_sales: String,
    pub units: i64,
    /// Gross sales less discounts, per order.
    pub average_order_value: String,
}

fn money(units: i64) -> Money {
    Money::from_units(units)
}

impl SalesFigures {
    fn of(s: &SalesSums, currency: &str) -> Self {
        let c = Some(currency);
        let after_discounts = s.gross.units().saturating_sub(s.discounts.units());
        SalesFigures {
            orders: s.orders,
            gross_sales: s.gross.format(c),
            discounts: s.discounts.format(c),
            refunds: s.refunded.format(c),
            net_sales: money(after_discounts.saturating_sub(s.refunded.units())).format(c),
            units: s.units,
            average_order_value: money(after_discounts).average(s.orders, c),
        }
    }
}

/// One figure's change against the earlier period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Current less earlier (a count, or a decimal string in the currency).
    pub absolute: serde_json::Value,
    /// The change in percent of the earlier value, rounded to 0.1; `null` when it was 0.
    pub percent: Option<f64>,
}

pub(super) fn change(now: Decimal, before: Decimal, as_money: Option<&str>) -> Change {
    let diff = now - before;
    let absolute = match as_money {
        Some(c) => serde_json::Value::String(
            Money::from_decimal(diff)
                .map(|m| m.format(Some(c)))
                .unwrap_or_else(|| diff.to_string()),
        ),
        None => serde_json::Value::from(diff.to_i64().unwrap_or(0)),
    };
    let percent = (!before.is_zero())
        .then(|| (diff * Decimal::from(100) / before).round_dp(1))
        .and_then(|d| d.to_f64());
    Change { absolute, percent }
}

/// The change of every figure, by figure name.
fn changes(
    now: &SalesFigures,
    before: &SalesFigures,
    currency: &str,
) -> BTreeMap<&'static str, Change> {
    let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
    let c = Some(currency);
    BTreeMap::from([
        (
            "orders",
            change(now.orders.into(), before.orders.into(), None),
        ),
        (
            "gross_sales",
            change(d(&now.gross_sales), d(&before.gross_sales), c),
        ),
        (
            "discounts",
            change(d(&now.discounts), d(&before.discounts), c),
        ),
        ("refunds", change(d(&now.refunds), d(&before.refunds), c)),
        (
            "net_sales",
            change(d(&now.net_sales), d(&before.net_sales), c),
        ),
        ("units", change(now.units.into(), before.units.into(), None)),
        (
            "average_order_value",
            change(
                d(&now.average_order_value),
                d(&before.average_order_value),
                c,
            ),
        ),
    ])
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesBucket {
    /// The bucket's first local day, `YYYY-MM-DD`.
    pub start: String,
    #[serde(flatten)]
    pub figures: SalesFigures,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<SalesFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<BTreeMap<&'static str, Change>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesSeries {
    pub currency: String,
    pub totals: SalesFigures,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_totals: Option<SalesFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<BTreeMap<&'static str, Change>>,
    pub buckets: Vec<SalesBucket>,
}

/// `sales_over_time`: per currency, the figures of each day, week or month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesOverTime {
    pub report: &'static str,
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub granularity: calendar::Granularity,
    /// Orders that are not cancelled, over every currency.
    pub orders: i64,
    pub currencies: Vec<SalesSeries>,
}

fn rfc3339(ms: EpochMs) -> String {
    conea_core::clock::rfc3339(ms)
}

pub async fn sales_over_time(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
) -> StoreResult<SalesOverTime> {
    let current = slots(store, org, p, (p.from, p.to), false).await?;
    let grid = grid_of(p, p.from, p.to);
    let earlier = match p.previous() {
        Some(range) => Some((
            slots(store, org, p, range, false).await?,
            grid_of(p, range.0, range.1),
        )),
        None => None,
    };
    let mut currencies: Vec<&String> = current.keys().collect();
    if let Some((prev, _)) = &earlier {
        currencies.extend(prev.keys());
    }
    currencies.sort();
    currencies.dedup();
    let empty = BTreeMap::new();
    let mut orders = 0;
    let mut series = Vec::new();
    for currency in currencies {
        let now = into_grid(current.get(currency).unwrap_or(&empty), p, &grid);
        let before = earlier.as_ref().map(|(prev, prev_grid)| {
            // Bucket i of the earlier range is compared with bucket i of this one.
            let mut b = into_grid(prev.get(currency).unwrap_or(&empty), p, prev_grid);
            b.resize(now.len(), SalesSums::default());
            b
        });
        let mut total = SalesSums::default();
        now.iter().for_each(|s| total.add(s));
        orders += total.orders;
        let totals = SalesFigures::of(&total, currency);
        let previous_totals = before.as_ref().map(|b| {
            let mut t = SalesSums::default();
            b.iter().for_each(|s| t.add(s));
            SalesFigures::of(&t, currency)
        });
        let buckets = now
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let figures = SalesFigures::of(s, currency);
                let previous = before.as_ref().map(|b| SalesFigures::of(&b[i], currency));
                let change = previous
                    .as_ref()
                    .map(|prev| changes(&figures, prev, currency));
                SalesBucket {
                    start: date_of_day(grid[i]).to_string(),
                    figures,
                    previous,
                    change,
                }
            })
            .collect();
        series.push(SalesSeries {
            currency: currency.clone(),
            change: previous_totals
                .as_ref()
                .map(|prev| changes(&totals, prev, currency)),
            totals,
            previous_totals,
            buckets,
        });
    }
    Ok(SalesOverTime {
        report: "sales_over_time",
        from: rfc3339(p.from),
        to: rfc3339(p.to),
        timezone: p.timezone_name.clone(),
        granularity: p.granularity,
        orders,
        currencies: series,
    })
}

/// Refunds and cancellations of one bucket (or a total) in one currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundFigures {
    pub orders: i64,
    pub gross_sales: String,
    pub refunds: String,
    /// Refunds in percent of gross sales (0.1 precision); `null` without sales.
    pub refund_rate: Option<f64>,
    pub cancelled_orders: i64,
    /// The total price of the cancelled orders.
    pub cancelled_amount: String,
    /// Cancelled orders in percent of all orders placed; `null` without orders.
    pub cancellation_rate: Option<f64>,
}

fn percent(part: Decimal, whole: Decimal) -> Option<f64> {
    (!whole.is_zero())
        .then(|| (part * Decimal::from(100) / whole).round_dp(1))
        .and_then(|d| d.to_f64())
}

impl RefundFigures {
    fn of(s: &SalesSums, currency: &str) -> Self {
        let c = Some(currency);
        RefundFigures {
            orders: s.orders,
            gross_sales: s.gross.format(c),
            refunds: s.refunded.format(c),
            refund_rate: percent(s.refunded.to_decimal(), s.gross.to_decimal()),
            cancelled_orders: s.cancelled_orders,
            cancelled_amount: s.cancelled.format(c),
            cancellation_rate: percent(
                s.cancelled_orders.into(),
                (s.orders + s.cancelled_orders).into(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundBucket {
    pub start: String,
    #[serde(flatten)]
    pub figures: RefundFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundSeries {
    pub currency: String,
    pub totals: RefundFigures,
    pub buckets: Vec<RefundBucket>,
}

/// `refunds_cancellations`: per currency, refunds and cancelled orders per bucket. Refunds
/// count on the day their order was placed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundsCancellations {
    pub report: &'static str,
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub granularity: calendar::Granularity,
    pub currencies: Vec<RefundSeries>,
}

pub async fn refunds_cancellations(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
) -> StoreResult<RefundsCancellations> {
    let current = slots(store, org, p, (p.from, p.to), false).await?;
    let grid = grid_of(p, p.from, p.to);
    let currencies = current
        .iter()
        .map(|(currency, days)| {
            let sums = into_grid(days, p, &grid);
            let mut total = SalesSums::default();
            sums.iter().for_each(|s| total.add(s));
            RefundSeries {
                currency: currency.clone(),
                totals: RefundFigures::of(&total, currency),
                buckets: sums
                    .iter()
                    .enumerate()
                    .map(|(i, s)| RefundBucket {
                        start: date_of_day(grid[i]).to_string(),
                        figures: RefundFigures::of(s, currency),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(RefundsCancellations {
        report: "refunds_cancellations",
        from: rfc3339(p.from),
        to: rfc3339(p.to),
        timezone: p.timezone_name.clone(),
        granularity: p.granularity,
        currencies,
    })
}

/// One cell of the weekday × hour matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourCell {
    pub orders: i64,
    pub net_sales: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourMatrix {
    pub currency: String,
    /// Seven rows (Monday first) of 24 hours (local).
    pub matrix: Vec<Vec<HourCell>>,
}

/// `sales_by_hour_weekday`: per currency, orders and net sales by local weekday and hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesByHourWeekday {
    pub report: &'static str,
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub weekdays: [&'static str; 7],
    pub currencies: Vec<HourMatrix>,
}

pub async fn sales_by_hour_weekday(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
) -> StoreResult<SalesByHourWeekday> {
    let current = slots(store, org, p, (p.from, p.to), true).await?;
    let currencies = current
        .iter()
        .map(|(currency, hours)| {
            let matrix = (0..7)
                .map(|day| {
                    (0..24)
                        .map(|hour| {
                            let s = hours.get(&(day * 24 + hour)).copied().unwrap_or_default();
                            let f = SalesFigures::of(&s, currency);
                            HourCell {
                                orders: s.orders,
                                net_sales: f.net_sales,
                            }
                        })
                        .collect()
                })
                .collect();
            HourMatrix {
                currency: currency.clone(),
                matrix,
            }
        })
        .collect();
    Ok(SalesByHourWeekday {
        report: "sales_by_hour_weekday",
        from: rfc3339(p.from),
        to: rfc3339(p.to),
        timezone: p.timezone_name.clone(),
        weekdays: [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ],
        currencies,
    })
}
