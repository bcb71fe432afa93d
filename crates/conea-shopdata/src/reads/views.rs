//! What the reads answer: the records as a client sees them. Ids are the source's ids
//! (unique within a shop, hence `shop_id` beside them); times are RFC 3339 (UTC); money is
//! an exact decimal string with the currency's minor digits (more when the amount has them),
//! never a float. These are also the NDJSON lines of an export.

use super::query::{CustomerOrders, Listed};
use crate::fields::rfc3339;
use crate::model::{Customer, LineItem, Order, Product, Variant};
use crate::money::Money;
use serde::Serialize;

/// One page of a list; `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// An amount in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amount {
    pub currency: String,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderView {
    pub id: i64,
    pub shop_id: String,
    /// `#1001`
    pub name: Option<String>,
    pub email: Option<String>,
    pub customer_id: Option<i64>,
    pub currency: String,
    pub total_price: String,
    pub subtotal_price: Option<String>,
    /// Discounts applied to the order (`0` when the source gave none).
    pub total_discounts: String,
    /// Money refunded so far: the sum of the order's successful refunds as the source gave
    /// them (the refunds are not kept one by one).
    pub total_refunded: String,
    /// `open`, `closed` or `cancelled`.
    pub status: &'static str,
    /// As the source gave it: `paid`, `pending`, `refunded`, `partially_refunded`, …
    pub financial_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub cancelled_at: Option<String>,
    pub closed_at: Option<String>,
}

impl OrderView {
    pub fn of(l: &Listed<Order>) -> OrderView {
        let o = &l.record;
        let cur = Some(o.currency.as_str());
        OrderView {
            id: o.source_id,
            shop_id: l.shop_id.as_str().to_owned(),
            name: o.name.clone(),
            email: o.email.clone(),
            customer_id: o.customer_id,
            currency: o.currency.clone(),
            total_price: o.total_price.format(cur),
            subtotal_price: o.subtotal_price.map(|m| m.format(cur)),
            total_discounts: o.total_discounts.format(cur),
            total_refunded: o.total_refunded.format(cur),
            status: o.status().as_str(),
            financial_status: o.financial_status.clone(),
            fulfillment_status: o.fulfillment_status.clone(),
            created_at: rfc3339(o.created_at),
            updated_at: rfc3339(o.updated_at),
            cancelled_at: o.cancelled_at.map(rfc3339),
            closed_at: o.closed_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineItemView {
    pub id: i64,
    pub product_id: Option<i64>,
    pub variant_id: Option<i64>,
    pub title: String,
    pub sku: Option<String>,
    pub quantity: i64,
    /// Unit price before discounts, in the order's currency.
    pub price: String,
    /// `price × quantity`.
    pub total: String,
}

impl LineItemView {
    fn of(li: &LineItem, currency: &str) -> LineItemView {
        let cur = Some(currency);
        let total = li
            .price
            .units()
            .checked_mul(li.quantity)
            .map(Money::from_units);
        LineItemView {
            id: li.source_id,
            product_id: li.product_id,
            variant_id: li.variant_id,
            title: li.title.clone(),
            sku: li.sku.clone(),
            quantity: li.quantity,
            price: li.price.format(cur),
            total: total.unwrap_or(Money::ZERO).format(cur),
        }
    }
}

/// One order with its line items and its customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderView,
    pub line_items: Vec<LineItemView>,
    /// `None` when the order has no customer.
    pub customer: Option<CustomerView>,
}

impl OrderDetail {
    pub fn of(l: &Listed<Order>, customer: Option<CustomerView>) -> OrderDetail {
        OrderDetail {
            order: OrderView::of(l),
            line_items: l
                .record
                .line_items
                .iter()
                .map(|li| LineItemView::of(li, &l.record.currency))
                .collect(),
            customer,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariantView {
    pub id: i64,
    pub title: Option<String>,
    pub sku: Option<String>,
    /// In the shop's currency (products carry none of their own): its minor digits when the
    /// shop's currency is known, else at least two decimals.
    pub price: Option<String>,
    /// Stock on hand; `None` when the source does not track it.
    pub inventory_quantity: Option<i64>,
}

impl VariantView {
    fn of(v: &Variant, currency: Option<&str>) -> VariantView {
        VariantView {
            id: v.source_id,
            title: v.title.clone(),
            sku: v.sku.clone(),
            price: v.price.map(|m| m.format(currency)),
            inventory_quantity: v.inventory_quantity,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductView {
    pub id: i64,
    pub shop_id: String,
    pub title: String,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    pub status: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: String,
    /// Stock on hand over the variants that track it; `None` when none does.
    pub inventory_quantity: Option<i64>,
    pub variants: Vec<VariantView>,
}

impl ProductView {
    /// `currency`: the shop's, when known.
    pub fn of(l: &Listed<Product>, currency: Option<&str>) -> ProductView {
        let p = &l.record;
        let stock = p
            .variants
            .iter()
            .filter_map(|v| v.inventory_quantity)
            .fold(None, |acc: Option<i64>, q| {
                Some(acc.unwrap_or(0).saturating_add(q))
            });
        ProductView {
            id: p.source_id,
            shop_id: l.shop_id.as_str().to_owned(),
            title: p.title.clone(),
            vendor: p.vendor.clone(),
            product_type: p.product_type.clone(),
            status: p.status.clone(),
            created_at: p.created_at.map(rfc3339),
            updated_at: rfc3339(p.updated_at),
            inventory_quantity: stock,
            variants: p
                .variants
                .iter()
                .map(|v| VariantView::of(v, currency))
                .collect(),
        }
    }
}

/// A customer with what their orders add up to. The order figures count the orders that are
/// not cancelled; money is per currency, never added across currencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerView {
    pub id: i64,
    pub shop_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `None` for a customer known only from orders (no customer record stored).
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub order_count: i64,
    /// Sum of the orders' `total_price`, one entry per currency (alphabetical).
    pub total_spent: Vec<Amount>,
    pub first_order_at: Option<String>,
    pub last_order_at: Option<String>,
}

impl CustomerView {
    /// `orders`: the customer's rows of [`CustomerOrders`] (one per currency).
    pub fn of(
        shop_id: &conea_core::ids::ShopId,
        id: i64,
        customer: Option<&Customer>,
        orders: &[&CustomerOrders],
    ) -> CustomerView {
        let mut mine = orders.to_vec();
        mine.sort_by(|a, b| a.currency.cmp(&b.currency));
        CustomerView {
            id,
            shop_id: shop_id.as_str().to_owned(),
            email: customer.and_then(|c| c.email.clone()),
            first_name: customer.and_then(|c| c.first_name.clone()),
            last_name: customer.and_then(|c| c.last_name.clone()),
            created_at: customer.and_then(|c| c.created_at).map(rfc3339),
            updated_at: customer.map(|c| rfc3339(c.updated_at)),
            order_count: mine.iter().map(|o| o.orders).sum(),
            total_spent: mine
                .iter()
                .map(|o| Amount {
                    currency: o.currency.clone(),
                    amount: o.total.format(Some(&o.currency)),
                })
                .collect(),
            first_order_at: mine.iter().map(|o| o.first_at).min().map(rfc3339),
            last_order_at: mine.iter().map(|o| o.last_at).max().map(rfc3339),
        }
    }
}
