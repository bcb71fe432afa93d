//! What the analytics read from storage: the sales sums conea-store maintains per UTC
//! quarter hour (`order_sales_15m`, kept by triggers on `orders`), regrouped into local
//! slots (days or hours of the week) by the offsets of a time zone.

use super::calendar::OffsetSpan;
use crate::money::Money;
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::StoreResult;

/// How the quarter hours of `[from, to)` are grouped: the local time of a bucket (its UTC
/// start plus the offset of its span) divided by `slot_ms`, then taken modulo `modulo` when
/// given (`168` hours: the hour of the week, Monday 00:00 first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotQuery {
    pub org_id: OrgId,
    pub shop_id: Option<ShopId>,
    pub from: EpochMs,
    pub to: EpochMs,
    pub spans: Vec<OffsetSpan>,
    pub slot_ms: i64,
    pub hour_of_week: bool,
    /// Read the hourly sums: every span's offset and both ends are whole hours.
    pub hourly: bool,
}

impl SlotQuery {
    /// Whether the hourly sums give the same slots as the quarter-hour ones.
    pub fn whole_hours(from: EpochMs, to: EpochMs, spans: &[OffsetSpan]) -> bool {
        const HOUR: i64 = 3_600_000;
        from % HOUR == 0
            && to % HOUR == 0
            && spans
                .iter()
                .all(|s| s.offset_ms % HOUR == 0 && s.until % HOUR == 0)
    }
}

/// Sales figures summed over some orders of one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SalesSums {
    /// Orders that are not cancelled.
    pub orders: i64,
    /// Their line items at prices before discounts.
    pub gross: Money,
    pub discounts: Money,
    pub refunded: Money,
    pub units: i64,
    /// Their `total_price` (taxes and shipping included).
    pub total: Money,
    pub cancelled_orders: i64,
    /// The `total_price` of the cancelled orders.
    pub cancelled: Money,
}

impl SalesSums {
    pub fn add(&mut self, o: &SalesSums) {
        let m = |a: Money, b: Money| Money::from_units(a.units().saturating_add(b.units()));
        self.orders += o.orders;
        self.gross = m(self.gross, o.gross);
        self.discounts = m(self.discounts, o.discounts);
        self.refunded = m(self.refunded, o.refunded);
        self.units += o.units;
        self.total = m(self.total, o.total);
        self.cancelled_orders += o.cancelled_orders;
        self.cancelled = m(self.cancelled, o.cancelled);
    }
}

/// The sums of one slot and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSums {
    /// The local day number (days since 1970-01-01, local), or the hour of the week.
    pub slot: i64,
    pub currency: String,
    pub sums: SalesSums,
}

#[async_trait]
pub trait AnalyticsStore: Send + Sync + 'static {
    /// The sales sums of the organization's (or one shop's) orders created in `[from, to)`,
    /// per slot and currency; slots without orders are left out.
    async fn sales_slots(&self, q: &SlotQuery) -> StoreResult<Vec<SlotSums>>;
    /// The lifetime sales of each customer in the query, per currency (`customer_sales`).
    async fn customer_sales(&self, q: &CustomerQuery) -> StoreResult<Vec<CustomerSales>>;
    /// The customers in the query counted per acquisition month and month of activity
    /// (`customer_months`), with their net sales in that month.
    async fn cohort_cells(&self, q: &CustomerQuery) -> StoreResult<Vec<CohortCell>>;
    /// Every product of the organization (or one shop) with its stock and the units sold
    /// in orders created in `[from, to)`.
    async fn product_stock(
        &self,
        org: &OrgId,
        shop: Option<&ShopId>,
        from: EpochMs,
        to: EpochMs,
    ) -> StoreResult<Vec<ProductStock>>;
    /// Each product's sales in the query (rows with `variant_id: None`) and each variant's
    /// (rows with `variant_id: Some`), per currency.
    async fn product_sales(&self, q: &ProductQuery) -> StoreResult<Vec<ProductSales>>;
}

/// Which customers a customer report covers: those of the organization (or one shop) whose
/// first order was placed in `[first_from, first_to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerQuery {
    pub org_id: OrgId,
    pub shop_id: Option<ShopId>,
    pub first_from: EpochMs,
    pub first_to: EpochMs,
}

/// A customer's lifetime sales in one currency (orders that are not cancelled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSales {
    pub currency: String,
    pub orders: i64,
    /// Net sales: gross less discounts and refunds.
    pub net: Money,
    pub first_order_net: Money,
    pub first_order_at: EpochMs,
    pub last_order_at: EpochMs,
}

/// Customers of one acquisition cohort active in one month, and their net sales then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortCell {
    pub currency: String,
    /// UTC month of the first order: year * 12 + month - 1.
    pub cohort: i64,
    /// UTC month of the activity, same numbering.
    pub month: i64,
    pub customers: i64,
    pub net: Money,
}

/// One product's stock and recent sales (`inventory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductStock {
    pub shop_id: ShopId,
    pub product_id: i64,
    pub title: String,
    /// The variants' `inventory_quantity` summed; `None` when no variant reports one.
    pub stock: Option<i64>,
    /// Units sold in the window (orders that are not cancelled).
    pub units_sold: i64,
}

/// Which line items `product_performance` sums: those of the organization's (or one shop's)
/// orders created in `[from, to)` that are not cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductQuery {
    pub org_id: OrgId,
    pub shop_id: Option<ShopId>,
    pub from: EpochMs,
    pub to: EpochMs,
}

/// The sales of one product (`variant_id: None`, the product's row) or of one of its
/// variants, in one currency. A line item without a product is its own "product", keyed by
/// its title (`product_id: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSales {
    pub shop_id: ShopId,
    pub product_id: Option<i64>,
    pub variant_id: Option<i64>,
    /// The product's (or variant's) title as stored, else the line items' title.
    pub title: String,
    pub sku: Option<String>,
    pub currency: String,
    pub units: i64,
    /// Quantity × unit price, before the order's discounts.
    pub revenue: Money,
    /// Distinct orders with the product (or variant).
    pub orders: i64,
    /// Of those, the orders with a refund.
    pub refunded_orders: i64,
}
