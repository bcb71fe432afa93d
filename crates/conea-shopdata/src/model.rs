//! Shop data records as Conea keeps them, whatever their source (Shopify API, webhooks,
//! NDJSON or CSV files). Ids are the source's numeric ids; times are epoch milliseconds;
//! money is [`Money`].

use super::money::Money;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShopKind {
    /// The organization's default shop, filled by file imports.
    Manual,
    Shopify,
}

impl ShopKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ShopKind::Manual => "manual",
            ShopKind::Shopify => "shopify",
        }
    }

    pub fn parse(text: &str) -> Option<ShopKind> {
        match text {
            "manual" => Some(ShopKind::Manual),
            "shopify" => Some(ShopKind::Shopify),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub id: ShopId,
    pub org_id: OrgId,
    /// `example.myshopify.com`, lower case; `None` for the manual shop.
    pub domain: Option<String>,
    pub name: String,
    pub kind: ShopKind,
    /// The shop's currency when known (ISO 4217).
    pub currency: Option<String>,
    pub created_at: EpochMs,
}

/// What a file or request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Orders,
    Products,
    Customers,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Orders => "orders",
            RecordKind::Products => "products",
            RecordKind::Customers => "customers",
        }
    }

    pub fn parse(text: &str) -> Option<RecordKind> {
        match text {
            "orders" => Some(RecordKind::Orders),
            "products" => Some(RecordKind::Products),
            "customers" => Some(RecordKind::Customers),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    Ndjson,
    Csv,
}

impl ImportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Ndjson => "ndjson",
            ImportFormat::Csv => "csv",
        }
    }

    /// From a `Content-Type` (parameters such as `; charset=utf-8` are ignored).
    pub fn from_content_type(content_type: &str) -> Option<ImportFormat> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                Some(ImportFormat::Ndjson)
            }
            "text/csv" => Some(ImportFormat::Csv),
            _ => None,
        }
    }
}

/// Derived order status: `cancelled` when cancelled, else `closed` when closed, else `open`
/// (the statuses Shopify's order list filters by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Open,
    Closed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Closed => "closed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn of(cancelled_at: Option<EpochMs>, closed_at: Option<EpochMs>) -> OrderStatus {
        match (cancelled_at, closed_at) {
            (Some(_), _) => OrderStatus::Cancelled,
            (None, Some(_)) => OrderStatus::Closed,
            (None, None) => OrderStatus::Open,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub source_id: i64,
    /// `#1001`
    pub name: Option<String>,
    pub email: Option<String>,
    pub customer_id: Option<i64>,
    pub currency: String,
    pub total_price: Money,
    pub subtotal_price: Option<Money>,
    pub financial_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub created_at: EpochMs,
    /// The source's last change; an older version never overwrites a newer one.
    pub updated_at: EpochMs,
    pub cancelled_at: Option<EpochMs>,
    pub closed_at: Option<EpochMs>,
    /// Discounts applied to the order (Shopify's `total_discounts`); zero when not given.
    pub total_discounts: Money,
    /// Money refunded so far (Shopify: the successful `refund` transactions of its
    /// `refunds`); zero when not given.
    pub total_refunded: Money,
    pub line_items: Vec<LineItem>,
}

impl Order {
    pub fn status(&self) -> OrderStatus {
        OrderStatus::of(self.cancelled_at, self.closed_at)
    }

    /// Units sold: the line items' quantities.
    pub fn units(&self) -> i64 {
        self.line_items.iter().map(|li| li.quantity).sum()
    }

    /// Gross sales: the line items at their prices before discounts; without line items,
    /// the subtotal plus the discounts (else the total plus the discounts).
    pub fn gross(&self) -> Money {
        if self.line_items.is_empty() {
            let base = self.subtotal_price.unwrap_or(self.total_price);
            return Money::from_units(base.units().saturating_add(self.total_discounts.units()));
        }
        Money::from_units(
            self.line_items
                .iter()
                .map(|li| li.price.units().saturating_mul(li.quantity))
                .fold(0i64, i64::saturating_add),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineItem {
    pub source_id: i64,
    pub product_id: Option<i64>,
    pub variant_id: Option<i64>,
    pub title: String,
    pub sku: Option<String>,
    pub quantity: i64,
    /// Unit price before discounts.
    pub price: Money,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub source_id: i64,
    pub title: String,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    /// `active`, `draft`, `archived`
    pub status: Option<String>,
    pub created_at: Option<EpochMs>,
    /// 0 when the source gave none (then any dated version wins over it).
    pub updated_at: EpochMs,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub source_id: i64,
    pub title: Option<String>,
    pub sku: Option<String>,
    pub price: Option<Money>,
    pub inventory_quantity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub source_id: i64,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub orders_count: Option<i64>,
    pub total_spent: Option<Money>,
    pub created_at: Option<EpochMs>,
    /// 0 when the source gave none.
    pub updated_at: EpochMs,
}

/// One parsed record of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Order(Order),
    Product(Product),
    Customer(Customer),
}

impl Record {
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Order(_) => RecordKind::Orders,
            Record::Product(_) => RecordKind::Products,
            Record::Customer(_) => RecordKind::Customers,
        }
    }
}

/// A record with the line it starts on, or a rejected line with the reason.
#[derive(Debug, Clone, PartialEq)]
// Records are moved once per line; boxing would add an allocation per record.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    Record(u64, Record),
    Bad(u64, String),
}
