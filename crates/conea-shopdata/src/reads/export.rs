//! Exports: every row of a list, as CSV (UTF-8, a header row, RFC 4180 quoting by the `csv`
//! crate) or NDJSON (one [`super::views`] object per line). The rows are encoded a page at
//! a time ([`super::query::EXPORT_PAGE`] rows), so memory stays constant whatever the size.
//!
//! The CSV columns are documented in docs/api.md; money cells are exact decimals, times
//! RFC 3339 (UTC), absent values empty.

use super::params::ReadFormat;
use super::views::{CustomerView, OrderView, ProductView};
use crate::money::Money;
use serde::Serialize;

/// A row an export can write.
pub trait ExportRow: Serialize {
    const CSV_COLUMNS: &'static [&'static str];
    fn csv_cells(&self) -> Vec<String>;
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

impl ExportRow for OrderView {
    const CSV_COLUMNS: &'static [&'static str] = &[
        "id",
        "shop_id",
        "name",
        "email",
        "customer_id",
        "currency",
        "total_price",
        "subtotal_price",
        "total_discounts",
        "total_refunded",
        "status",
        "financial_status",
        "fulfillment_status",
        "created_at",
        "updated_at",
        "cancelled_at",
        "closed_at",
    ];

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.shop_id.clone(),
            opt(&self.name),
            opt(&self.email),
            opt(&self.customer_id),
            self.currency.clone(),
            self.total_price.clone(),
            opt(&self.subtotal_price),
            self.total_discounts.clone(),
            self.total_refunded.clone(),
            self.status.to_owned(),
            opt(&self.financial_status),
            opt(&self.fulfillment_status),
            self.created_at.clone(),
            self.updated_at.clone(),
            opt(&self.cancelled_at),
            opt(&self.closed_at),
        ]
    }
}

impl ExportRow for ProductView {
    const CSV_COLUMNS: &'static [&'static str] = &[
        "id",
        "shop_id",
        "title",
        "vendor",
        "product_type",
        "status",
        "created_at",
        "updated_at",
        "variant_count",
        "inventory_quantity",
        "price_min",
        "price_max",
        "skus",
    ];

    fn csv_cells(&self) -> Vec<String> {
        // The prices as the variants show them; the lowest and highest by amount.
        let prices: Vec<(Money, &str)> = self
            .variants
            .iter()
            .filter_map(|v| v.price.as_deref())
            .filter_map(|p| Money::parse(p).ok().map(|m| (m, p)))
            .collect();
        let price = |m: Option<&(Money, &str)>| m.map(|(_, p)| (*p).to_owned()).unwrap_or_default();
        let skus: Vec<&str> = self
            .variants
            .iter()
            .filter_map(|v| v.sku.as_deref())
            .collect();
        vec![
            self.id.to_string(),
            self.shop_id.clone(),
            self.title.clone(),
            opt(&self.vendor),
            opt(&self.product_type),
            opt(&self.status),
            opt(&self.created_at),
            self.updated_at.clone(),
            self.variants.len().to_string(),
            opt(&self.inventory_quantity),
            price(prices.iter().min()),
            price(prices.iter().max()),
            skus.join(";"),
        ]
    }
}

impl ExportRow for CustomerView {
    const CSV_COLUMNS: &'static [&'static str] = &[
        "id",
        "shop_id",
        "email",
        "first_name",
        "last_name",
        "created_at",
        "updated_at",
        "order_count",
        "total_spent",
        "first_order_at",
        "last_order_at",
    ];

    fn csv_cells(&self) -> Vec<String> {
        let spent: Vec<String> = self
            .total_spent
            .iter()
            .map(|a| format!("{} {}", a.currency, a.amount))
            .collect();
        vec![
            self.id.to_string(),
            self.shop_id.clone(),
            opt(&self.email),
            opt(&self.first_name),
            opt(&self.last_name),
            opt(&self.created_at),
            opt(&self.updated_at),
            self.order_count.to_string(),
            spent.join(";"),
            opt(&self.first_order_at),
            opt(&self.last_order_at),
        ]
    }
}

/// Encodes `rows` in `format`; `header` adds the CSV header row first. JSON is encoded as
/// NDJSON (an export is never a JSON page).
pub fn encode<T: ExportRow>(
    rows: &[T],
    format: ReadFormat,
    header: bool,
) -> Result<Vec<u8>, String> {
    match format {
        ReadFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160));
            if header {
                w.write_record(T::CSV_COLUMNS).map_err(|e| e.to_string())?;
            }
            for r in rows {
                w.write_record(r.csv_cells()).map_err(|e| e.to_string())?;
            }
            w.into_inner().map_err(|e| e.to_string())
        }
        ReadFormat::Ndjson | ReadFormat::Json => {
            let mut out = Vec::with_capacity(rows.len() * 320);
            for r in rows {
                serde_json::to_writer(&mut out, r).map_err(|e| e.to_string())?;
                out.push(b'\n');
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reads::views::Amount;

    fn customer() -> CustomerView {
        CustomerView {
            id: 7,
            shop_id: "shop_x".into(),
            email: Some("a@example.com".into()),
            first_name: Some("Ann, \"the\" buyer".into()),
            last_name: None,
            created_at: None,
            updated_at: None,
            order_count: 3,
            total_spent: vec![
                Amount {
                    currency: "EUR".into(),
                    amount: "5.00".into(),
                },
                Amount {
                    currency: "JPY".into(),
                    amount: "1500".into(),
                },
            ],
            first_order_at: None,
            last_order_at: None,
        }
    }

    #[test]
    fn csv_has_the_header_once_and_quotes_what_needs_it() {
        let rows = [customer()];
        let first =
            String::from_utf8(encode(&rows, ReadFormat::Csv, true).expect("csv")).expect("utf-8");
        assert_eq!(
            first,
            "id,shop_id,email,first_name,last_name,created_at,updated_at,order_count,total_spent,first_order_at,last_order_at\n\
             7,shop_x,a@example.com,\"Ann, \"\"the\"\" buyer\",,,,3,EUR 5.00;JPY 1500,,\n"
        );
        let next =
            String::from_utf8(encode(&rows, ReadFormat::Csv, false).expect("csv")).expect("utf-8");
        assert!(next.starts_with("7,"));
    }

    #[test]
    fn ndjson_is_one_view_object_per_line() {
        let rows = [customer(), customer()];
        let out = String::from_utf8(encode(&rows, ReadFormat::Ndjson, false).expect("ndjson"))
            .expect("utf-8");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[0]).expect("json");
        assert_eq!(v["total_spent"][1]["amount"], "1500");
    }
}
