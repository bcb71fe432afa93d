//! `inventory`: stock on hand, the sales velocity of the 30 days before `to`, the days of
//! cover that gives, and the products at risk of running out. Per product (its variants'
//! stock summed); units, not money, so no currency.

use super::params::ReportParams;
use super::store::AnalyticsStore;
use conea_core::clock::rfc3339;
use conea_core::ids::OrgId;
use conea_core::store::StoreResult;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

/// The sales window the velocity is measured over.
pub const VELOCITY_DAYS: i64 = 30;
/// A product with fewer days of cover than this is at risk of running out.
pub const AT_RISK_DAYS: i64 = 14;
/// Products listed at most (the riskiest first); the totals count them all.
pub const MAX_LISTED: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductInventory {
    pub shop_id: String,
    /// The source's id as a string (Shopify ids exceed JavaScript's safe integers).
    pub product_id: String,
    pub title: String,
    /// `null` when no variant reports a quantity.
    pub stock: Option<i64>,
    pub units_sold_30d: i64,
    /// Units per day over the window, 0.01 precision.
    pub daily_velocity: f64,
    /// Stock ÷ velocity, 0.1 precision; `null` without sales or without a stock figure.
    pub days_of_cover: Option<f64>,
    pub at_risk: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    pub report: &'static str,
    /// The window's end; the velocity covers the 30 days before it.
    pub at: String,
    pub products: i64,
    pub stock: i64,
    pub at_risk: i64,
    /// At risk first (fewest days of cover), then by velocity; at most 500.
    pub items: Vec<ProductInventory>,
    pub truncated: bool,
}

pub async fn inventory(
    store: &dyn AnalyticsStore,
    org: &OrgId,
    p: &ReportParams,
) -> StoreResult<Inventory> {
    let from = p.to - VELOCITY_DAYS * 86_400_000;
    let rows = store
        .product_stock(org, p.shop_id.as_ref(), from, p.to)
        .await?;
    let mut items: Vec<(Option<Decimal>, Decimal, ProductInventory)> = rows
        .into_iter()
        .map(|r| {
            let velocity = Decimal::from(r.units_sold) / Decimal::from(VELOCITY_DAYS);
            let cover = match r.stock {
                Some(s) if !velocity.is_zero() => {
                    Some((Decimal::from(s.max(0)) / velocity).round_dp(1))
                }
                _ => None,
            };
            let at_risk = cover.is_some_and(|c| c < Decimal::from(AT_RISK_DAYS));
            let item = ProductInventory {
                shop_id: r.shop_id.to_string(),
                product_id: r.product_id.to_string(),
                title: r.title,
                stock: r.stock,
                units_sold_30d: r.units_sold,
                daily_velocity: velocity.round_dp(2).to_f64().unwrap_or(0.0),
                days_of_cover: cover.and_then(|c| c.to_f64()),
                at_risk,
            };
            (cover, velocity, item)
        })
        .collect();
    items.sort_by(|a, b| {
        let key = |c: &Option<Decimal>| c.unwrap_or(Decimal::MAX);
        key(&a.0)
            .cmp(&key(&b.0))
            .then(b.1.cmp(&a.1))
            .then(a.2.product_id.cmp(&b.2.product_id))
    });
    let products = items.len() as i64;
    let stock = items
        .iter()
        .filter_map(|i| i.2.stock)
        .map(|s| s.max(0))
        .sum();
    let at_risk = items.iter().filter(|i| i.2.at_risk).count() as i64;
    let truncated = items.len() > MAX_LISTED;
    Ok(Inventory {
        report: "inventory",
        at: rfc3339(p.to),
        products,
        stock,
        at_risk,
        items: items.into_iter().take(MAX_LISTED).map(|i| i.2).collect(),
        truncated,
    })
}
