//! `product_performance`: each product's revenue, units, orders and refund rate in the
//! range, per currency, ranked, with its variants broken down. Revenue is quantity × unit
//! price (before the order's discounts, which Conea keeps per order, not per line). The
//! refund rate is the share of the product's orders that were refunded, in part or in full
//! (refunds are kept per order).

use super::params::{ProductSort, ReportParams, DEFAULT_PRODUCT_LIMIT};
use super::sales::{change, Change};
use super::store::{AnalyticsStore, ProductQuery, ProductSales};
use crate::money::Money;
use conea_core::clock::{rfc3339, EpochMs};
use conea_core::ids::OrgId;
use conea_core::store::StoreResult;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductFigures {
    /// Quantity × unit price, in the currency of its list.
    pub revenue: String,
    pub units: i64,
    /// Orders with the product (or variant).
    pub orders: i64,
    /// Of those, the orders with a refund.
    pub refunded_orders: i64,
    /// `refunded_orders` in percent of `orders`, rounded to 0.1; `null` without orders.
    pub refund_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantLine {
    /// The source's id as a string (Shopify ids exceed JavaScript's safe integers).
    pub variant_id: String,
    pub title: String,
    pub sku: Option<String>,
    #[serde(flatten)]
    pub figures: ProductFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductLine {
    pub shop_id: String,
    /// `null` for line items without a product (custom lines), keyed by their title.
    pub product_id: Option<String>,
    pub title: String,
    #[serde(flatten)]
    pub figures: ProductFigures,
    /// The product's revenue in percent of the currency's, rounded to 0.1.
    pub share_of_revenue: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<ProductFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<BTreeMap<&'static str, Change>>,
    /// Highest revenue first; empty when the lines name no variant.
    pub variants: Vec<VariantLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductTotals {
    pub revenue: String,
    pub units: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductCurrency {
    pub currency: String,
    /// Products sold in the range (all of them, listed or not).
    pub products: i64,
    pub totals: ProductTotals,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_totals: Option<ProductTotals>,
    /// Ranked by `sort`; at most `limit`.
    pub items: Vec<ProductLine>,
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductPerformance {
    pub report: &'static str,
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub sort: ProductSort,
    pub currencies: Vec<ProductCurrency>,
}

/// A product within its currency: shop, product id, and the title for lines without one.
type Key = (String, Option<i64>, Option<String>);

fn key_of(r: &ProductSales) -> Key {
    let title = r.product_id.is_none().then(|| r.title.clone());
    (r.shop_id.to_string(), r.product_id, title)
}

#[derive(Default)]
struct Product {
    row: Option<ProductSales>,
    variants: Vec<ProductSales>,
}

/// Products per currency.
type Grouped = BTreeMap<String, BTreeMap<Key, Product>>;

async fn grouped(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
    (from, to): (EpochMs, EpochMs),
) -> StoreResult<Grouped> {
    let q = ProductQuery {
        org_id: org.clone(),
        shop_id: p.shop_id.clone(),
        from,
        to,
    };
    let mut out = Grouped::new();
    for row in store.product_sales(&q).await? {
        let product = out
            .entry(row.currency.clone())
            .or_default()
            .entry(key_of(&row))
            .or_default();
        if row.variant_id.is_some() {
            product.variants.push(row);
        } else {
            product.row = Some(row);
        }
    }
    Ok(out)
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0)
        .then(|| (Decimal::from(part) * Decimal::from(100) / Decimal::from(whole)).round_dp(1))
        .and_then(|d| d.to_f64())
}

fn figures(r: &ProductSales, currency: &str) -> ProductFigures {
    ProductFigures {
        revenue: r.revenue.format(Some(currency)),
        units: r.units,
        orders: r.orders,
        refunded_orders: r.refunded_orders,
        refund_rate: percent(r.refunded_orders, r.orders),
    }
}

/// Higher first by the ranking, then by revenue, then by title and id for a stable order.
fn rank(sort: ProductSort, a: &ProductSales, b: &ProductSales) -> Ordering {
    let rate = |r: &ProductSales| {
        (r.orders > 0).then(|| Decimal::from(r.refunded_orders) / Decimal::from(r.orders))
    };
    let by = match sort {
        ProductSort::Revenue => b.revenue.units().cmp(&a.revenue.units()),
        ProductSort::Units => b.units.cmp(&a.units),
        ProductSort::Orders => b.orders.cmp(&a.orders),
        ProductSort::RefundRate => rate(b).cmp(&rate(a)),
    };
    by.then(b.revenue.units().cmp(&a.revenue.units()))
        .then_with(|| a.title.cmp(&b.title))
        .then(a.product_id.cmp(&b.product_id))
}

fn totals(products: &BTreeMap<Key, Product>, currency: &str) -> ProductTotals {
    let rows = products.values().filter_map(|p| p.row.as_ref());
    let (revenue, units) = rows.fold((0i64, 0i64), |(m, u), r| {
        (m.saturating_add(r.revenue.units()), u + r.units)
    });
    ProductTotals {
        revenue: Money::from_units(revenue).format(Some(currency)),
        units,
    }
}

pub async fn product_performance(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
) -> StoreResult<ProductPerformance> {
    let sort = p.sort.unwrap_or(ProductSort::Revenue);
    let limit = p.limit.unwrap_or(DEFAULT_PRODUCT_LIMIT);
    let mut current = grouped(store, org, p, (p.from, p.to)).await?;
    let mut earlier = match p.previous() {
        Some(range) => Some(grouped(store, org, p, range).await?),
        None => None,
    };
    let mut names: Vec<String> = current.keys().cloned().collect();
    if let Some(e) = &earlier {
        names.extend(e.keys().cloned());
    }
    names.sort();
    names.dedup();
    let mut currencies = Vec::new();
    for currency in names {
        let products = current.remove(&currency).unwrap_or_default();
        let before = earlier
            .as_mut()
            .map(|e| e.remove(&currency).unwrap_or_default());
        let totals_now = totals(&products, &currency);
        let whole: i64 = products
            .values()
            .filter_map(|p| p.row.as_ref())
            .fold(0i64, |m, r| m.saturating_add(r.revenue.units()));
        let mut ranked: Vec<(Key, Product)> = products
            .into_iter()
            .filter(|(_, p)| p.row.is_some())
            .collect();
        ranked.sort_by(|a, b| match (&a.1.row, &b.1.row) {
            (Some(x), Some(y)) => rank(sort, x, y),
            _ => Ordering::Equal,
        });
        let count = ranked.len();
        let items = ranked
            .into_iter()
            .take(limit)
            .filter_map(|(key, mut product)| {
                let row = product.row.take()?;
                let now = figures(&row, &currency);
                let previous = before.as_ref().map(|b| {
                    b.get(&key)
                        .and_then(|p| p.row.as_ref())
                        .map(|r| figures(r, &currency))
                        .unwrap_or(ProductFigures {
                            revenue: Money::from_units(0).format(Some(&currency)),
                            units: 0,
                            orders: 0,
                            refunded_orders: 0,
                            refund_rate: None,
                        })
                });
                let change = previous.as_ref().map(|prev| {
                    let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
                    BTreeMap::from([
                        (
                            "revenue",
                            change(d(&now.revenue), d(&prev.revenue), Some(&currency)),
                        ),
                        ("units", change(now.units.into(), prev.units.into(), None)),
                        (
                            "orders",
                            change(now.orders.into(), prev.orders.into(), None),
                        ),
                    ])
                });
                product
                    .variants
                    .sort_by(|a, b| rank(ProductSort::Revenue, a, b));
                Some(ProductLine {
                    shop_id: key.0,
                    product_id: row.product_id.map(|id| id.to_string()),
                    title: row.title.clone(),
                    share_of_revenue: percent(row.revenue.units(), whole),
                    figures: now,
                    previous,
                    change,
                    variants: product
                        .variants
                        .iter()
                        .map(|v| VariantLine {
                            variant_id: v.variant_id.unwrap_or_default().to_string(),
                            title: v.title.clone(),
                            sku: v.sku.clone(),
                            figures: figures(v, &currency),
                        })
                        .collect(),
                })
            })
            .collect();
        currencies.push(ProductCurrency {
            products: count as i64,
            totals: totals_now,
            previous_totals: before.as_ref().map(|b| totals(b, &currency)),
            items,
            truncated: count > limit,
            currency,
        });
    }
    Ok(ProductPerformance {
        report: "product_performance",
        from: rfc3339(p.from),
        to: rfc3339(p.to),
        timezone: p.timezone_name.clone(),
        sort,
        currencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::ids::ShopId;

    fn row(product: i64, revenue: i64, units: i64, orders: i64, refunded: i64) -> ProductSales {
        ProductSales {
            shop_id: ShopId::generate(),
            product_id: Some(product),
            variant_id: None,
            title: format!("P{product}"),
            sku: None,
            currency: "USD".into(),
            units,
            revenue: Money::from_units(revenue),
            orders,
            refunded_orders: refunded,
        }
    }

    #[test]
    fn each_ranking_puts_the_highest_first_and_breaks_ties_by_revenue() {
        let a = row(1, 500, 1, 1, 1);
        let b = row(2, 900, 5, 3, 0);
        let c = row(3, 100, 5, 4, 1);
        let order = |sort| {
            let mut v = [&a, &b, &c];
            v.sort_by(|x, y| rank(sort, x, y));
            v.map(|r| r.product_id.unwrap_or(0))
        };
        assert_eq!(order(ProductSort::Revenue), [2, 1, 3]);
        // b and c sold 5 units each: b's revenue is higher.
        assert_eq!(order(ProductSort::Units), [2, 3, 1]);
        assert_eq!(order(ProductSort::Orders), [3, 2, 1]);
        // a: 100 %, c: 25 %, b: 0 %.
        assert_eq!(order(ProductSort::RefundRate), [1, 3, 2]);
    }

    #[test]
    fn the_refund_rate_is_refunded_orders_in_percent_and_null_without_orders() {
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(0, 0), None);
    }
}
