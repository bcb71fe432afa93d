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
}
