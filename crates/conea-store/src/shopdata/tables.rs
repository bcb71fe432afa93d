//! The shop data tables a batch writes: their statements and how a record becomes a row.

use crate::query::Value;
use conea_shopdata::{Customer, Money, Order, Product};
use std::collections::HashSet;

/// A row to write. The first cell of a top-level row is its `source_id`; the second cell
/// of a child row is its parent's `source_id`. Cells are `Value::Int` or `Value::Text`.
pub(super) type Rows<'a> = Vec<Vec<Value<'a>>>;

/// Statements of a top-level table; rows carry its columns after the common
/// `shop_id, organization_id, imported_at`.
pub(super) struct Table {
    pub(super) name: &'static str,
    /// The table whose rows belong to these and are replaced with them.
    pub(super) child: Option<&'static Child>,
    pub(super) pg_upsert: &'static str,
    pub(super) pg_copy: &'static str,
    pub(super) sqlite_insert: &'static str,
    pub(super) sqlite_on_new: &'static str,
    pub(super) sqlite_on_update: &'static str,
}

/// Statements of a child table (line items, variants), replaced with their parent.
pub(super) struct Child {
    pub(super) pg_copy: &'static str,
    pub(super) pg_delete: &'static str,
    pub(super) sqlite_insert: &'static str,
    /// `DELETE … WHERE shop_id = ` then `$bind AND parent IN (…)` is appended.
    pub(super) sqlite_delete: &'static str,
    pub(super) sqlite_parent_in: &'static str,
}

macro_rules! top_table {
    ($table:literal, child: $child:expr, cols: $cols:literal, pg_types: $types:literal, set: $set:literal) => {
        Table {
            name: $table,
            child: $child,
            pg_upsert: concat!(
                "INSERT INTO ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") ",
                "SELECT $1, $2, $3, u.* FROM UNNEST(",
                $types,
                ") AS u ",
                "ON CONFLICT (shop_id, source_id) DO UPDATE SET ",
                $set,
                ", imported_at = excluded.imported_at",
                " WHERE excluded.source_updated_at >= ",
                $table,
                ".source_updated_at",
                " RETURNING source_id, (xmax = 0) AS inserted"
            ),
            pg_copy: concat!(
                "COPY ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") ",
                "FROM STDIN WITH (FORMAT csv)"
            ),
            sqlite_insert: concat!(
                "INSERT INTO ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") "
            ),
            sqlite_on_new: " ON CONFLICT (shop_id, source_id) DO NOTHING RETURNING source_id",
            sqlite_on_update: concat!(
                " ON CONFLICT (shop_id, source_id) DO UPDATE SET ",
                $set,
                ", imported_at = excluded.imported_at",
                " WHERE excluded.source_updated_at >= ",
                $table,
                ".source_updated_at",
                " RETURNING source_id"
            ),
        }
    };
}

macro_rules! child_table {
    ($table:literal, parent: $parent:literal, cols: $cols:literal, pg_types: $types:literal) => {
        Child {
            pg_copy: concat!(
                "COPY ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") ",
                "FROM STDIN WITH (FORMAT csv)"
            ),
            pg_delete: concat!(
                "DELETE FROM ",
                $table,
                " WHERE shop_id = $1 AND ",
                $parent,
                " = ANY($2)"
            ),
            sqlite_insert: concat!(
                "INSERT INTO ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") "
            ),
            sqlite_delete: concat!("DELETE FROM ", $table, " WHERE shop_id = "),
            sqlite_parent_in: concat!(" AND ", $parent, " IN ("),
        }
    };
}

pub(super) const ORDERS: Table = top_table!("orders",
    child: Some(&LINE_ITEMS),
    cols: "source_id, name, email, customer_source_id, currency, total_price_e4, subtotal_price_e4, \
           status, financial_status, fulfillment_status, created_at, cancelled_at, closed_at, source_updated_at, \
           gross_e4, discounts_e4, refunded_e4, units",
    pg_types: "$4::int8[], $5::text[], $6::text[], $7::int8[], $8::text[], $9::int8[], $10::int8[], \
               $11::text[], $12::text[], $13::text[], $14::int8[], $15::int8[], $16::int8[], $17::int8[], \
               $18::int8[], $19::int8[], $20::int8[], $21::int8[]",
    set: "name = excluded.name, email = excluded.email, customer_source_id = excluded.customer_source_id, \
          currency = excluded.currency, total_price_e4 = excluded.total_price_e4, \
          subtotal_price_e4 = excluded.subtotal_price_e4, status = excluded.status, \
          financial_status = excluded.financial_status, fulfillment_status = excluded.fulfillment_status, \
          created_at = excluded.created_at, cancelled_at = excluded.cancelled_at, closed_at = excluded.closed_at, \
          source_updated_at = excluded.source_updated_at, gross_e4 = excluded.gross_e4, \
          discounts_e4 = excluded.discounts_e4, refunded_e4 = excluded.refunded_e4, units = excluded.units");

pub(super) fn order_row(o: &Order) -> Vec<Value<'_>> {
    vec![
        Value::Int(Some(o.source_id)),
        Value::from(o.name.as_deref()),
        Value::from(o.email.as_deref()),
        Value::Int(o.customer_id),
        Value::from(o.currency.as_str()),
        Value::Int(Some(o.total_price.units())),
        Value::Int(o.subtotal_price.map(Money::units)),
        Value::from(o.status().as_str()),
        Value::from(o.financial_status.as_deref()),
        Value::from(o.fulfillment_status.as_deref()),
        Value::Int(Some(o.created_at)),
        Value::Int(o.cancelled_at),
        Value::Int(o.closed_at),
        Value::Int(Some(o.updated_at)),
        Value::Int(Some(o.gross().units())),
        Value::Int(Some(o.total_discounts.units())),
        Value::Int(Some(o.total_refunded.units())),
        Value::Int(Some(o.units())),
    ]
}

pub(super) const LINE_ITEMS: Child = child_table!("order_line_items",
    parent: "order_source_id",
    cols: "source_id, order_source_id, product_source_id, variant_source_id, title, sku, quantity, price_e4, source_updated_at",
    pg_types: "$4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::int8[]");

pub(super) fn line_item_rows<'a>(orders: &[&'a Order], written: &HashSet<i64>) -> Rows<'a> {
    let mut rows = Vec::new();
    for o in orders.iter().filter(|o| written.contains(&o.source_id)) {
        let mut seen = HashSet::new();
        // The last copy of a line item id in an order wins.
        for li in o.line_items.iter().rev() {
            if seen.insert(li.source_id) {
                rows.push(vec![
                    Value::Int(Some(li.source_id)),
                    Value::Int(Some(o.source_id)),
                    Value::Int(li.product_id),
                    Value::Int(li.variant_id),
                    Value::from(li.title.as_str()),
                    Value::from(li.sku.as_deref()),
                    Value::Int(Some(li.quantity)),
                    Value::Int(Some(li.price.units())),
                    Value::Int(Some(o.updated_at)),
                ]);
            }
        }
    }
    rows
}

pub(super) const PRODUCTS: Table = top_table!("products",
    child: Some(&VARIANTS),
    cols: "source_id, title, vendor, product_type, status, created_at, source_updated_at",
    pg_types: "$4::int8[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int8[], $10::int8[]",
    set: "title = excluded.title, vendor = excluded.vendor, product_type = excluded.product_type, \
          status = excluded.status, created_at = excluded.created_at, source_updated_at = excluded.source_updated_at");

pub(super) fn product_row(p: &Product) -> Vec<Value<'_>> {
    vec![
        Value::Int(Some(p.source_id)),
        Value::from(p.title.as_str()),
        Value::from(p.vendor.as_deref()),
        Value::from(p.product_type.as_deref()),
        Value::from(p.status.as_deref()),
        Value::Int(p.created_at),
        Value::Int(Some(p.updated_at)),
    ]
}

pub(super) const VARIANTS: Child = child_table!("product_variants",
    parent: "product_source_id",
    cols: "source_id, product_source_id, title, sku, price_e4, inventory_quantity, source_updated_at",
    pg_types: "$4::int8[], $5::int8[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::int8[]");

pub(super) fn variant_rows<'a>(products: &[&'a Product], written: &HashSet<i64>) -> Rows<'a> {
    let mut rows = Vec::new();
    for p in products.iter().filter(|p| written.contains(&p.source_id)) {
        let mut seen = HashSet::new();
        // The last copy of a variant id in a product wins.
        for v in p.variants.iter().rev() {
            if seen.insert(v.source_id) {
                rows.push(vec![
                    Value::Int(Some(v.source_id)),
                    Value::Int(Some(p.source_id)),
                    Value::from(v.title.as_deref()),
                    Value::from(v.sku.as_deref()),
                    Value::Int(v.price.map(Money::units)),
                    Value::Int(v.inventory_quantity),
                    Value::Int(Some(p.updated_at)),
                ]);
            }
        }
    }
    rows
}

pub(super) const CUSTOMERS: Table = top_table!("customers",
    child: None,
    cols: "source_id, email, first_name, last_name, orders_count, total_spent_e4, created_at, source_updated_at",
    pg_types: "$4::int8[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::int8[], $11::int8[]",
    set: "email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name, \
          orders_count = excluded.orders_count, total_spent_e4 = excluded.total_spent_e4, \
          created_at = excluded.created_at, source_updated_at = excluded.source_updated_at");

pub(super) fn customer_row(c: &Customer) -> Vec<Value<'_>> {
    vec![
        Value::Int(Some(c.source_id)),
        Value::from(c.email.as_deref()),
        Value::from(c.first_name.as_deref()),
        Value::from(c.last_name.as_deref()),
        Value::Int(c.orders_count),
        Value::Int(c.total_spent.map(Money::units)),
        Value::Int(c.created_at),
        Value::Int(Some(c.updated_at)),
    ]
}
