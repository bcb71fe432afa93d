//! `product_performance`'s read: each product's and variant's sales in a range, from the
//! monthly sums the triggers of migration 0027 keep (`product_sales_months`) for the whole UTC
//! months inside the range, and from the line items of the orders at its edges (less than a
//! month at each end: a year in Asia/Tokyo is eleven whole months, 30 days and two partial
//! days). Orders not cancelled; an order is counted once per product and once per variant;
//! the stored product and variant titles. Routable read.

use crate::query::q;
use crate::SqlStore;
use conea_core::clock::EpochMs;
use conea_core::ids::ShopId;
use conea_core::store::{StoreError, StoreResult};
use conea_shopdata::analytics::store::{ProductQuery, ProductSales};
use conea_shopdata::Money;

#[derive(sqlx::FromRow)]
struct SalesRow {
    shop_id: String,
    product_source_id: Option<i64>,
    variant_source_id: Option<i64>,
    title: String,
    sku: Option<String>,
    currency: String,
    units: i64,
    revenue: i64,
    order_count: i64,
    refunded_count: i64,
}

/// The line items of the orders created in `[$lo, $hi)`: `$1` organization, `$2` shop or
/// NULL.
macro_rules! lines_between {
    ($lo:literal, $hi:literal) => {
        concat!(
            " FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id \
              WHERE o.organization_id = $1 AND ($2 IS NULL OR o.shop_id = $2) AND o.cancelled_at IS NULL \
              AND o.created_at >= ", $lo, " AND o.created_at < ", $hi
        )
    };
}

/// The line sums, each times `$sign` (1 to add an edge, -1 to take it out of a month).
macro_rules! line_sums {
    ($sign:literal) => {
        concat!(
            ", MAX(li.title) AS title, MAX(li.sku) AS sku, o.currency, ",
            $sign,
            " * SUM(li.quantity) AS units, ",
            $sign,
            " * SUM(li.quantity * li.price_e4) AS revenue, ",
            $sign,
            " * COUNT(DISTINCT o.source_id) AS order_count, ",
            $sign,
            " * COUNT(DISTINCT CASE WHEN o.refunded_e4 > 0 THEN o.source_id END) AS refunded_count"
        )
    };
}

/// The same columns as `product_sales_months`, from the line items of one edge: per
/// product (a line without a product: per title), then per variant.
macro_rules! edge {
    ($lo:literal, $hi:literal, $sign:literal) => {
        concat!(
            " UNION ALL SELECT li.shop_id, COALESCE(li.product_source_id, -1) AS product_id, -1 AS variant_id, \
               CASE WHEN li.product_source_id IS NULL THEN li.title ELSE '' END AS line_title",
            line_sums!($sign),
            lines_between!($lo, $hi),
            " GROUP BY li.shop_id, li.product_source_id, CASE WHEN li.product_source_id IS NULL THEN li.title ELSE '' END, o.currency",
            " UNION ALL SELECT li.shop_id, li.product_source_id, li.variant_source_id, ''",
            line_sums!($sign),
            lines_between!($lo, $hi),
            " AND li.product_source_id IS NOT NULL AND li.variant_source_id IS NOT NULL",
            " GROUP BY li.shop_id, li.product_source_id, li.variant_source_id, o.currency"
        )
    };
}

/// `$1` organization, `$2` shop or NULL; the months `[$9, $10)` from the sums; the line
/// items of the head edge `[$3, $4)` times `$5` and of the tail edge `[$6, $7)` times `$8`.
const PRODUCT_SALES_SQL: &str = concat!(
    "SELECT s.shop_id, NULLIF(s.product_id, -1) AS product_source_id, NULLIF(s.variant_id, -1) AS variant_source_id, ",
    "CASE WHEN s.variant_id = -1 THEN COALESCE(p.title, s.title) ELSE COALESCE(v.title, s.title) END AS title, ",
    "COALESCE(v.sku, s.sku) AS sku, s.currency, s.units, s.revenue, s.order_count, s.refunded_count FROM (",
    "SELECT shop_id, product_id, variant_id, line_title, MAX(title) AS title, MAX(sku) AS sku, currency, ",
    "CAST(SUM(units) AS BIGINT) AS units, CAST(SUM(revenue) AS BIGINT) AS revenue, ",
    "CAST(SUM(order_count) AS BIGINT) AS order_count, CAST(SUM(refunded_count) AS BIGINT) AS refunded_count FROM (",
    "SELECT shop_id, product_id, variant_id, line_title, title, sku, currency, units, revenue_e4 AS revenue, ",
    "order_count, refunded_count FROM product_sales_months ",
    "WHERE organization_id = $1 AND month >= $9 AND month < $10 AND ($2 IS NULL OR shop_id = $2)",
    edge!("$3", "$4", "$5"),
    edge!("$6", "$7", "$8"),
    ") u GROUP BY shop_id, product_id, variant_id, line_title, currency HAVING SUM(order_count) > 0",
    ") s LEFT JOIN products p ON p.shop_id = s.shop_id AND p.source_id = s.product_id ",
    "LEFT JOIN product_variants v ON v.shop_id = s.shop_id AND v.product_source_id = s.product_id ",
    "AND v.source_id = s.variant_id"
);

/// The orders created in `[from, to)`, added (`sign` 1) or taken out of a month (-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edge {
    from: EpochMs,
    to: EpochMs,
    sign: i64,
}

impl Edge {
    fn len(&self) -> i64 {
        self.to - self.from
    }
}

/// How a range is read: the UTC months `[first_month, end_month)` (year * 12 + month - 1)
/// from the sums, with each end corrected by the line items of an edge: the part of the
/// range before its first whole month added, or the part of a month before the range taken
/// out, whichever is shorter (a year in Asia/Tokyo: twelve months of sums less the nine
/// hours of the last day of 2025 after the range, plus the nine hours of 2024 inside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    head: Edge,
    tail: Edge,
    first_month: i64,
    end_month: i64,
}

/// The UTC month (year * 12 + month - 1) of an instant.
fn utc_month(at: EpochMs) -> Option<i64> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000).ok()?;
    Some(i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1)
}

/// The first millisecond of a UTC month.
fn month_start(month: i64) -> Option<EpochMs> {
    let year = i32::try_from(month.div_euclid(12)).ok()?;
    let m = time::Month::try_from(u8::try_from(month.rem_euclid(12) + 1).ok()?).ok()?;
    let day = time::Date::from_calendar_date(year, m, 1).ok()?;
    i64::try_from(day.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000).ok()
}

/// The month boundary nearest to `at`, and the edge between it and `at` with the sign
/// that corrects the sums for an end of the range at `at` (`is_start`: the range's start).
fn nearest_boundary(at: EpochMs, is_start: bool) -> Option<(i64, Edge)> {
    let m = utc_month(at)?;
    let (start, next) = (month_start(m)?, month_start(m + 1)?);
    // Before `at` inside the month: taken out at the start of the range, added at its end.
    let before = if is_start { -1 } else { 1 };
    Some(if at - start <= next - at {
        (
            m,
            Edge {
                from: start,
                to: at,
                sign: before,
            },
        )
    } else {
        (
            m + 1,
            Edge {
                from: at,
                to: next,
                sign: -before,
            },
        )
    })
}

fn split(from: EpochMs, to: EpochMs) -> Split {
    let lines_only = Split {
        head: Edge { from, to, sign: 1 },
        tail: Edge {
            from: to,
            to,
            sign: 1,
        },
        first_month: 0,
        end_month: 0,
    };
    let with_months = || {
        let (first_month, head) = nearest_boundary(from, true)?;
        let (end_month, tail) = nearest_boundary(to, false)?;
        (first_month < end_month).then_some(Split {
            head,
            tail,
            first_month,
            end_month,
        })
    };
    match with_months() {
        Some(s) if s.head.len() + s.tail.len() < to - from => s,
        _ => lines_only,
    }
}

impl SqlStore {
    pub(super) async fn product_sales_rows(
        &self,
        query: &ProductQuery,
    ) -> StoreResult<Vec<ProductSales>> {
        let parts = split(query.from, query.to);
        let rows = q("analytics_product_sales", PRODUCT_SALES_SQL)
            .bind(query.org_id.as_str())
            .bind(query.shop_id.as_ref().map(ShopId::as_str))
            .bind(parts.head.from)
            .bind(parts.head.to)
            .bind(parts.head.sign)
            .bind(parts.tail.from)
            .bind(parts.tail.to)
            .bind(parts.tail.sign)
            .bind(parts.first_month)
            .bind(parts.end_month)
            .fetch_all::<SalesRow>(&self.routed("analytics"))
            .await?;
        let bad = || StoreError::Other("corrupt shop id in order_line_items".into());
        rows.into_iter()
            .map(|r| {
                Ok(ProductSales {
                    shop_id: ShopId::parse(&r.shop_id).map_err(|_| bad())?,
                    product_id: r.product_source_id,
                    variant_id: r.variant_source_id,
                    title: r.title,
                    sku: r.sku,
                    currency: r.currency,
                    units: r.units,
                    revenue: Money::from_units(r.revenue),
                    orders: r.order_count,
                    refunded_orders: r.refunded_count,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_2025: EpochMs = 1_735_689_600_000;
    const FEB_2025: EpochMs = 1_738_368_000_000;
    const DAY: EpochMs = 86_400_000;
    const JAN_2026: EpochMs = JAN_2025 + 365 * DAY;
    const HOUR: EpochMs = 3_600_000;

    fn nothing_at(at: EpochMs) -> Edge {
        Edge {
            from: at,
            to: at,
            sign: 1,
        }
    }

    #[test]
    fn a_utc_year_is_read_as_twelve_months_of_sums_and_no_line_items() {
        let s = split(JAN_2025, JAN_2026);
        assert_eq!((s.first_month, s.end_month), (2025 * 12, 2026 * 12));
        assert_eq!(s.head.len() + s.tail.len(), 0);
    }

    #[test]
    fn a_tokyo_year_adds_nine_hours_of_2024_and_takes_out_nine_hours_of_2025() {
        let (from, to) = (JAN_2025 - 9 * HOUR, JAN_2026 - 9 * HOUR);
        let s = split(from, to);
        assert_eq!((s.first_month, s.end_month), (2025 * 12, 2026 * 12));
        assert_eq!(
            s.head,
            Edge {
                from,
                to: JAN_2025,
                sign: 1
            }
        );
        assert_eq!(
            s.tail,
            Edge {
                from: to,
                to: JAN_2026,
                sign: -1
            }
        );
    }

    #[test]
    fn a_range_starting_early_in_a_month_takes_the_days_before_it_out_of_that_month() {
        let s = split(JAN_2025 + 2 * DAY, JAN_2025 + 100 * DAY);
        assert_eq!(s.first_month, 2025 * 12);
        assert_eq!(
            s.head,
            Edge {
                from: JAN_2025,
                to: JAN_2025 + 2 * DAY,
                sign: -1
            }
        );
        // Day 100 is April 11th: April's first ten days are added.
        assert_eq!(s.end_month, 2025 * 12 + 3);
        assert_eq!(s.tail.sign, 1);
        assert_eq!(s.tail.len(), 10 * DAY);
    }

    #[test]
    fn a_short_range_is_read_from_the_line_items_alone() {
        let (from, to) = (JAN_2025 + 10 * DAY, JAN_2025 + 20 * DAY);
        let s = split(from, to);
        assert_eq!(s.first_month, s.end_month);
        assert_eq!(s.head, Edge { from, to, sign: 1 });
        assert_eq!(s.tail, nothing_at(to));
        // Exactly one month is one month of sums.
        let s = split(JAN_2025, FEB_2025);
        assert_eq!((s.first_month, s.end_month), (2025 * 12, 2025 * 12 + 1));
        assert_eq!(s.head.len() + s.tail.len(), 0);
    }

    #[test]
    fn instants_before_1970_fall_in_their_own_months() {
        assert_eq!(utc_month(-1), Some(1969 * 12 + 11));
        assert_eq!(month_start(1969 * 12 + 11), Some(-31 * DAY));
    }
}
