//! The customer reports, from each customer's lifetime sales and monthly activity kept by the
//! store: `repeat_purchase`, `rfm_segments` and `customer_cohorts`. Per currency: a customer
//! who bought in two currencies counts in each. Cohort months are UTC months.

use super::params::ReportParams;
use super::store::{AnalyticsStore, CustomerQuery, CustomerSales};
use crate::money::Money;
use conea_core::clock::{rfc3339, EpochMs};
use conea_core::ids::OrgId;
use conea_core::store::StoreResult;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

pub use crate::segments::{segment, SegmentCell, SegmentFilter, SEGMENTS};

const DAY_MS: i64 = 86_400_000;

fn by_currency(rows: Vec<CustomerSales>) -> BTreeMap<String, Vec<CustomerSales>> {
    let mut out: BTreeMap<String, Vec<CustomerSales>> = BTreeMap::new();
    for r in rows {
        out.entry(r.currency.clone()).or_default().push(r);
    }
    out
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0)
        .then(|| (Decimal::from(part) * Decimal::from(100) / Decimal::from(whole)).round_dp(1))
        .and_then(|d| d.to_f64())
}

fn sum(values: impl Iterator<Item = Money>) -> Money {
    Money::from_units(values.map(Money::units).fold(0i64, i64::saturating_add))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatFigures {
    pub currency: String,
    /// Customers whose first order falls in the range.
    pub customers: i64,
    /// Those of them with two orders or more (any time since).
    pub returning_customers: i64,
    pub repeat_rate: Option<f64>,
    /// Over the returning customers, the median of each one's average days between orders.
    pub median_days_between_orders: Option<f64>,
    /// The net sales of all their orders.
    pub revenue: String,
    /// The net sales of their orders after the first one.
    pub returning_revenue: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatPurchase {
    pub report: &'static str,
    pub from: String,
    pub to: String,
    pub currencies: Vec<RepeatFigures>,
}

fn median(mut values: Vec<Decimal>) -> Option<Decimal> {
    if values.is_empty() {
        return None;
    }
    values.sort();
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / Decimal::from(2)
    })
}

/// `repeat_purchase`: of the customers acquired in the range, how many came back.
pub async fn repeat_purchase(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
) -> StoreResult<RepeatPurchase> {
    let q = CustomerQuery {
        org_id: org.clone(),
        shop_id: p.shop_id.clone(),
        first_from: p.from,
        first_to: p.to,
    };
    let currencies = by_currency(store.customer_sales(&q).await?)
        .into_iter()
        .map(|(currency, rows)| {
            let c = Some(currency.as_str());
            let returning: Vec<&CustomerSales> = rows.iter().filter(|r| r.orders >= 2).collect();
            let gaps = returning
                .iter()
                .map(|r| {
                    Decimal::from(r.last_order_at - r.first_order_at)
                        / Decimal::from(DAY_MS * (r.orders - 1))
                })
                .collect();
            RepeatFigures {
                customers: rows.len() as i64,
                returning_customers: returning.len() as i64,
                repeat_rate: percent(returning.len() as i64, rows.len() as i64),
                median_days_between_orders: median(gaps).and_then(|d| d.round_dp(1).to_f64()),
                revenue: sum(rows.iter().map(|r| r.net)).format(c),
                returning_revenue: sum(rows.iter().map(|r| {
                    Money::from_units(r.net.units().saturating_sub(r.first_order_net.units()))
                }))
                .format(c),
                currency,
            }
        })
        .collect();
    Ok(RepeatPurchase {
        report: "repeat_purchase",
        from: rfc3339(p.from),
        to: rfc3339(p.to),
        currencies,
    })
}

/// A score from 1 to 5: one more than five times the share of the customers whose value is
/// strictly worse, so equal values share a score.
fn quintile_scores(values: &[i64]) -> Vec<u8> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = values.len().max(1) as i64;
    values
        .iter()
        .map(|v| {
            let worse = sorted.partition_point(|x| x < v) as i64;
            (1 + (5 * worse) / n).min(5) as u8
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentFigures {
    pub segment: &'static str,
    pub customers: i64,
    /// Their lifetime net sales.
    pub revenue: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmCurrency {
    pub currency: String,
    pub customers: i64,
    pub segments: Vec<SegmentFigures>,
    /// Customers per (recency score, frequency score), `r1f1` … `r5f5`; absent cells are 0.
    pub grid: BTreeMap<String, i64>,
}

/// `rfm_segments`: the customers who had ordered before `to`, scored 1–5 by recency (days
/// from their last order to `to`), frequency (orders) and monetary value (net sales) in
/// quintiles, and named by recency and frequency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmSegments {
    pub report: &'static str,
    pub at: String,
    pub currencies: Vec<RfmCurrency>,
}

pub async fn rfm_segments(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
) -> StoreResult<RfmSegments> {
    let q = CustomerQuery {
        org_id: org.clone(),
        shop_id: p.shop_id.clone(),
        first_from: EpochMs::MIN,
        first_to: p.to,
    };
    let currencies = by_currency(store.customer_sales(&q).await?)
        .into_iter()
        .map(|(currency, rows)| {
            // Higher is better for each: recency as the negated days since the last order.
            let recency: Vec<i64> = rows
                .iter()
                .map(|r| -((p.to - r.last_order_at).max(0) / DAY_MS))
                .collect();
            let frequency: Vec<i64> = rows.iter().map(|r| r.orders).collect();
            let r_scores = quintile_scores(&recency);
            let f_scores = quintile_scores(&frequency);
            let mut counts: BTreeMap<&'static str, (i64, i64)> = BTreeMap::new();
            let mut grid: BTreeMap<String, i64> = BTreeMap::new();
            for (i, row) in rows.iter().enumerate() {
                let name = segment(r_scores[i], f_scores[i]);
                let e = counts.entry(name).or_default();
                e.0 += 1;
                e.1 = e.1.saturating_add(row.net.units());
                *grid
                    .entry(format!("r{}f{}", r_scores[i], f_scores[i]))
                    .or_default() += 1;
            }
            RfmCurrency {
                customers: rows.len() as i64,
                segments: SEGMENTS
                    .iter()
                    .map(|s| {
                        let (n, net) = counts.get(s).copied().unwrap_or_default();
                        SegmentFigures {
                            segment: s,
                            customers: n,
                            revenue: Money::from_units(net).format(Some(&currency)),
                        }
                    })
                    .collect(),
                grid,
                currency,
            }
        })
        .collect();
    Ok(RfmSegments {
        report: "rfm_segments",
        at: rfc3339(p.to),
        currencies,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortMonth {
    /// Months since the cohort's month (0: the month of the first order).
    pub month: i64,
    pub customers: i64,
    pub retention: Option<f64>,
    pub revenue: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    /// `YYYY-MM` (UTC) of the first order.
    pub cohort: String,
    pub customers: i64,
    pub months: Vec<CohortMonth>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortCurrency {
    pub currency: String,
    pub cohorts: Vec<Cohort>,
}

/// `customer_cohorts`: customers by the month of their first order (in the range) × months
/// since: how many ordered again that month (retention, in percent of the cohort) and their
/// net sales.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerCohorts {
    pub report: &'static str,
    pub from: String,
    pub to: String,
    pub currencies: Vec<CohortCurrency>,
}

/// Per cohort month, per months since: (customers, net sales in ten-thousandths).
type Cohorts = BTreeMap<i64, BTreeMap<i64, (i64, i64)>>;

fn month_label(index: i64) -> String {
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

pub async fn customer_cohorts(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
) -> StoreResult<CustomerCohorts> {
    let q = CustomerQuery {
        org_id: org.clone(),
        shop_id: p.shop_id.clone(),
        first_from: p.from,
        first_to: p.to,
    };
    let mut cells: BTreeMap<String, Cohorts> = BTreeMap::new();
    for c in store.cohort_cells(&q).await? {
        let e = cells
            .entry(c.currency)
            .or_default()
            .entry(c.cohort)
            .or_default()
            .entry(c.month - c.cohort)
            .or_default();
        e.0 += c.customers;
        e.1 = e.1.saturating_add(c.net.units());
    }
    let currencies = cells
        .into_iter()
        .map(|(currency, cohorts)| CohortCurrency {
            cohorts: cohorts
                .into_iter()
                .map(|(cohort, months)| {
                    let size = months.get(&0).map_or(0, |m| m.0);
                    let last = months.keys().next_back().copied().unwrap_or(0);
                    Cohort {
                        cohort: month_label(cohort),
                        customers: size,
                        months: (0..=last)
                            .map(|m| {
                                let (n, net) = months.get(&m).copied().unwrap_or_default();
                                CohortMonth {
                                    month: m,
                                    customers: n,
                                    retention: percent(n, size),
                                    revenue: Money::from_units(net).format(Some(&currency)),
                                }
                            })
                            .collect(),
                    }
                })
                .collect(),
            currency,
        })
        .collect();
    Ok(CustomerCohorts {
        report: "customer_cohorts",
        from: rfc3339(p.from),
        to: rfc3339(p.to),
        currencies,
    })
}

/// The cells of a segment as of `at`, from every customer's lifetime sales: per currency,
/// each (recency score, frequency score) cell named `name` becomes the range of last order
/// times and of order counts its customers have (scores are monotone in both, so exactly
/// the customers scored into the cell fall in its ranges). What `GET
/// /v1/shop/customers?segment=` filters on.
pub fn segment_cells(rows: Vec<CustomerSales>, at: EpochMs, name: &str) -> Vec<SegmentCell> {
    let mut cells = Vec::new();
    for (currency, rows) in by_currency(rows) {
        let days: Vec<i64> = rows
            .iter()
            .map(|r| (at - r.last_order_at).max(0) / DAY_MS)
            .collect();
        let recency: Vec<i64> = days.iter().map(|d| -d).collect();
        let frequency: Vec<i64> = rows.iter().map(|r| r.orders).collect();
        let r_scores = quintile_scores(&recency);
        let f_scores = quintile_scores(&frequency);
        // Per score: the (min, max) of days since the last order, and of order counts.
        let mut day_range: BTreeMap<u8, (i64, i64)> = BTreeMap::new();
        let mut order_range: BTreeMap<u8, (i64, i64)> = BTreeMap::new();
        for i in 0..rows.len() {
            let widen = |m: &mut BTreeMap<u8, (i64, i64)>, score: u8, v: i64| {
                let e = m.entry(score).or_insert((v, v));
                e.0 = e.0.min(v);
                e.1 = e.1.max(v);
            };
            widen(&mut day_range, r_scores[i], days[i]);
            widen(&mut order_range, f_scores[i], frequency[i]);
        }
        for (r, (day_min, day_max)) in &day_range {
            for (f, (orders_min, orders_max)) in &order_range {
                if segment(*r, *f) != name {
                    continue;
                }
                // days in [min, max] ⟺ last order in (at - (max + 1) days, at - min days];
                // 0 days also takes a last order after `at`.
                cells.push(SegmentCell {
                    currency: currency.clone(),
                    last_after: at - (day_max + 1) * DAY_MS,
                    last_until: if *day_min == 0 {
                        EpochMs::MAX
                    } else {
                        at - day_min * DAY_MS
                    },
                    orders_min: *orders_min,
                    orders_max: *orders_max,
                });
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_share_scores_on_ties_and_spread_one_to_five() {
        assert_eq!(quintile_scores(&[1, 2, 3, 4, 5]), vec![1, 2, 3, 4, 5]);
        assert_eq!(quintile_scores(&[7, 7, 7]), vec![1, 1, 1]);
        assert_eq!(
            quintile_scores(&[1, 1, 1, 1, 9, 10, 10, 10, 10, 10]),
            vec![1, 1, 1, 1, 3, 3, 3, 3, 3, 3]
        );
    }

    #[test]
    fn segment_cells_take_exactly_the_customers_scored_into_the_segment() {
        let at: EpochMs = 1_735_689_600_000; // 2025-01-01
        let mut seed = 11u64;
        let mut next = |below: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % below
        };
        let rows: Vec<CustomerSales> = (0..300)
            .map(|i| CustomerSales {
                currency: ["JPY", "USD"][i % 2].into(),
                orders: 1 + next(9) as i64,
                net: Money::from_units(0),
                first_order_net: Money::from_units(0),
                first_order_at: 0,
                // Some within the last day, one after `at`, most up to a year before.
                last_order_at: at - next(365 * DAY_MS as u64) as i64
                    + if i == 7 { 2 * DAY_MS } else { 0 },
            })
            .collect();
        // The segment of each row, as rfm_segments scores it.
        let mut expected = Vec::new();
        for (currency, group) in by_currency(rows.clone()) {
            let recency: Vec<i64> = group
                .iter()
                .map(|r| -((at - r.last_order_at).max(0) / DAY_MS))
                .collect();
            let frequency: Vec<i64> = group.iter().map(|r| r.orders).collect();
            let (rs, fs) = (quintile_scores(&recency), quintile_scores(&frequency));
            for (i, r) in group.iter().enumerate() {
                expected.push((
                    currency.clone(),
                    r.last_order_at,
                    r.orders,
                    segment(rs[i], fs[i]),
                ));
            }
        }
        for name in SEGMENTS {
            let cells = segment_cells(rows.clone(), at, name);
            for (currency, last, orders, seg) in &expected {
                let inside = cells.iter().any(|c| {
                    &c.currency == currency
                        && *last > c.last_after
                        && *last <= c.last_until
                        && (c.orders_min..=c.orders_max).contains(orders)
                });
                assert_eq!(
                    inside,
                    *seg == name,
                    "{name}: {currency} {last} {orders} is {seg}"
                );
            }
        }
    }

    #[test]
    fn segments_follow_recency_then_frequency() {
        assert_eq!(segment(5, 5), "champions");
        assert_eq!(segment(3, 4), "loyal");
        assert_eq!(segment(5, 1), "new");
        assert_eq!(segment(4, 2), "promising");
        assert_eq!(segment(1, 5), "at_risk");
        assert_eq!(segment(2, 1), "hibernating");
        for r in 1..=5 {
            for f in 1..=5 {
                assert!(SEGMENTS.contains(&segment(r, f)));
            }
        }
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let d = |v: i64| Decimal::from(v);
        assert_eq!(median(vec![d(3), d(1), d(2)]), Some(d(2)));
        assert_eq!(
            median(vec![d(4), d(1), d(2), d(3)]),
            Some(Decimal::new(25, 1))
        );
        assert_eq!(median(vec![]), None);
        assert_eq!(month_label(2024 * 12 + 1), "2024-02");
    }
}
