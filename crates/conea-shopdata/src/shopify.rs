//! Shopify's Admin REST API resources (order as in the `orders/create` webhook, product,
//! customer) as serde structs, and their conversion into [`Record`]s. Only the fields a
//! report needs are read; unknown fields are ignored, so full API objects, webhook payloads
//! and hand-written lines all parse. Ids may be JSON numbers or digit strings; amounts are
//! decimal strings (`"199.00"`) or numbers.

use super::fields;
use super::model::{Customer, LineItem, Order, Product, Record, RecordKind, Variant};
use super::money::Money;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

type Text<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize)]
pub struct OrderWire<'a> {
    pub id: Option<Id>,
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub email: Text<'a>,
    #[serde(borrow, default)]
    pub created_at: Text<'a>,
    #[serde(borrow, default)]
    pub updated_at: Text<'a>,
    #[serde(borrow, default)]
    pub cancelled_at: Text<'a>,
    #[serde(borrow, default)]
    pub closed_at: Text<'a>,
    #[serde(borrow, default)]
    pub currency: Text<'a>,
    #[serde(borrow, default)]
    pub total_price: Option<Amount<'a>>,
    #[serde(borrow, default)]
    pub subtotal_price: Option<Amount<'a>>,
    #[serde(borrow, default)]
    pub total_discounts: Option<Amount<'a>>,
    #[serde(borrow, default)]
    pub refunds: Option<Vec<RefundWire<'a>>>,
    #[serde(borrow, default)]
    pub financial_status: Text<'a>,
    #[serde(borrow, default)]
    pub fulfillment_status: Text<'a>,
    #[serde(borrow, default)]
    pub line_items: Option<Vec<LineItemWire<'a>>>,
    #[serde(default)]
    pub customer: Option<CustomerRef>,
}

/// One refund of an order: its money moved in `transactions`.
#[derive(Deserialize)]
pub struct RefundWire<'a> {
    #[serde(borrow, default)]
    pub transactions: Option<Vec<TransactionWire<'a>>>,
}

#[derive(Deserialize)]
pub struct TransactionWire<'a> {
    #[serde(borrow, default)]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(borrow, default)]
    pub amount: Option<Amount<'a>>,
}

#[derive(Deserialize)]
pub struct LineItemWire<'a> {
    pub id: Option<Id>,
    #[serde(default)]
    pub product_id: Option<Id>,
    #[serde(default)]
    pub variant_id: Option<Id>,
    #[serde(borrow, default)]
    pub title: Text<'a>,
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub sku: Text<'a>,
    pub quantity: Option<i64>,
    #[serde(borrow, default)]
    pub price: Option<Amount<'a>>,
}

#[derive(Deserialize)]
pub struct CustomerRef {
    pub id: Option<Id>,
}

#[derive(Deserialize)]
pub struct ProductWire<'a> {
    pub id: Option<Id>,
    #[serde(borrow, default)]
    pub title: Text<'a>,
    #[serde(borrow, default)]
    pub vendor: Text<'a>,
    #[serde(borrow, default)]
    pub product_type: Text<'a>,
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(borrow, default)]
    pub created_at: Text<'a>,
    #[serde(borrow, default)]
    pub updated_at: Text<'a>,
    #[serde(borrow, default)]
    pub variants: Option<Vec<VariantWire<'a>>>,
}

#[derive(Deserialize)]
pub struct VariantWire<'a> {
    pub id: Option<Id>,
    #[serde(borrow, default)]
    pub sku: Text<'a>,
    #[serde(borrow, default)]
    pub title: Text<'a>,
    #[serde(borrow, default)]
    pub price: Option<Amount<'a>>,
    #[serde(default)]
    pub inventory_quantity: Option<i64>,
}

#[derive(Deserialize)]
pub struct CustomerWire<'a> {
    pub id: Option<Id>,
    #[serde(borrow, default)]
    pub email: Text<'a>,
    #[serde(borrow, default)]
    pub first_name: Text<'a>,
    #[serde(borrow, default)]
    pub last_name: Text<'a>,
    #[serde(default)]
    pub orders_count: Option<i64>,
    #[serde(borrow, default)]
    pub total_spent: Option<Amount<'a>>,
    #[serde(borrow, default)]
    pub created_at: Text<'a>,
    #[serde(borrow, default)]
    pub updated_at: Text<'a>,
}

/// A Shopify id: a JSON number or a string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a positive integer id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                i64::try_from(v)
                    .ok()
                    .filter(|v| *v > 0)
                    .map(Id)
                    .ok_or_else(|| E::custom(format!("id {v} is out of range")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                if v > 0 {
                    Ok(Id(v))
                } else {
                    Err(E::custom(format!("id {v} is not positive")))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                fields::id("id", v).map(Id).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// An amount as Shopify writes it (`"199.00"`), or a JSON number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Amount<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount<'a>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Amount<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal amount such as \"199.00\"")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Amount<'de>, E> {
                Ok(Amount(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount<'de>, E> {
                Ok(Amount(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount<'de>, E> {
                Ok(Amount(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount<'de>, E> {
                Ok(Amount(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount<'de>, E> {
                // Rust prints the shortest text that reads back as the same f64: 19.99 → "19.99".
                Ok(Amount(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

fn text(t: &Text<'_>) -> Option<String> {
    t.as_deref().and_then(fields::opt_text)
}

fn required<'t>(field: &str, t: &'t Text<'_>) -> Result<&'t str, String> {
    match t.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("{field} is required")),
    }
}

fn opt_time(field: &str, t: &Text<'_>) -> Result<Option<i64>, String> {
    t.as_deref()
        .map_or(Ok(None), |s| fields::opt_time(field, s))
}

fn opt_money(field: &str, a: &Option<Amount<'_>>) -> Result<Option<Money>, String> {
    a.as_ref()
        .map_or(Ok(None), |a| fields::opt_money(field, &a.0))
}

/// The successful `refund` transactions' amounts (a transaction without a status counts: the
/// REST API leaves it out of some payloads).
fn refunded(refunds: &[RefundWire<'_>]) -> Result<Money, String> {
    let mut total = Money::ZERO;
    for t in refunds.iter().flat_map(|r| r.transactions.iter().flatten()) {
        let kind = text(&t.kind);
        let status = text(&t.status);
        if kind.as_deref() != Some("refund") || status.as_deref().is_some_and(|s| s != "success") {
            continue;
        }
        if let Some(amount) = opt_money("refunds.transactions.amount", &t.amount)? {
            total = total
                .checked_add(amount)
                .ok_or("refunds: the total is out of range")?;
        }
    }
    Ok(total)
}

fn required_id(field: &str, id: Option<Id>) -> Result<i64, String> {
    id.map(|i| i.0)
        .ok_or_else(|| format!("{field} is required"))
}

impl OrderWire<'_> {
    pub fn into_order(self) -> Result<Order, String> {
        let source_id = required_id("id", self.id)?;
        let created_at = fields::time("created_at", required("created_at", &self.created_at)?)?;
        let updated_at = opt_time("updated_at", &self.updated_at)?.unwrap_or(created_at);
        let currency = fields::currency("currency", required("currency", &self.currency)?)?;
        let total_price = opt_money("total_price", &self.total_price)?
            .ok_or_else(|| "total_price is required".to_owned())?;
        let mut line_items = Vec::new();
        for (i, li) in self.line_items.into_iter().flatten().enumerate() {
            line_items.push(li.into_line_item(i)?);
        }
        Ok(Order {
            source_id,
            name: text(&self.name),
            email: text(&self.email),
            customer_id: self.customer.and_then(|c| c.id).map(|i| i.0),
            currency,
            total_price,
            subtotal_price: opt_money("subtotal_price", &self.subtotal_price)?,
            financial_status: text(&self.financial_status),
            fulfillment_status: text(&self.fulfillment_status),
            created_at,
            updated_at,
            cancelled_at: opt_time("cancelled_at", &self.cancelled_at)?,
            closed_at: opt_time("closed_at", &self.closed_at)?,
            total_discounts: opt_money("total_discounts", &self.total_discounts)?
                .unwrap_or(Money::ZERO),
            total_refunded: refunded(self.refunds.as_deref().unwrap_or_default())?,
            line_items,
        })
    }
}

impl LineItemWire<'_> {
    fn into_line_item(self, index: usize) -> Result<LineItem, String> {
        let at = |f: &str| format!("line_items[{index}].{f}");
        let quantity = self
            .quantity
            .ok_or_else(|| format!("{} is required", at("quantity")))?;
        let quantity = fields::check_quantity(&at("quantity"), quantity)?;
        let price = opt_money(&at("price"), &self.price)?
            .ok_or_else(|| format!("{} is required", at("price")))?;
        fields::line_total(&format!("line_items[{index}]"), quantity, price)?;
        Ok(LineItem {
            source_id: required_id(&at("id"), self.id)?,
            product_id: self.product_id.map(|i| i.0),
            variant_id: self.variant_id.map(|i| i.0),
            title: text(&self.title)
                .or_else(|| text(&self.name))
                .unwrap_or_default(),
            sku: text(&self.sku),
            quantity,
            price,
        })
    }
}

impl ProductWire<'_> {
    pub fn into_product(self) -> Result<Product, String> {
        let mut variants = Vec::new();
        for (i, v) in self.variants.into_iter().flatten().enumerate() {
            let at = |f: &str| format!("variants[{i}].{f}");
            variants.push(Variant {
                source_id: required_id(&at("id"), v.id)?,
                title: text(&v.title),
                sku: text(&v.sku),
                price: opt_money(&at("price"), &v.price)?,
                inventory_quantity: v.inventory_quantity,
            });
        }
        let created_at = opt_time("created_at", &self.created_at)?;
        Ok(Product {
            source_id: required_id("id", self.id)?,
            title: fields::clean(required("title", &self.title)?),
            vendor: text(&self.vendor),
            product_type: text(&self.product_type),
            status: text(&self.status),
            created_at,
            updated_at: opt_time("updated_at", &self.updated_at)?
                .or(created_at)
                .unwrap_or(0),
            variants,
        })
    }
}

impl CustomerWire<'_> {
    pub fn into_customer(self) -> Result<Customer, String> {
        let created_at = opt_time("created_at", &self.created_at)?;
        Ok(Customer {
            source_id: required_id("id", self.id)?,
            email: text(&self.email),
            first_name: text(&self.first_name),
            last_name: text(&self.last_name),
            orders_count: self.orders_count,
            total_spent: opt_money("total_spent", &self.total_spent)?,
            created_at,
            updated_at: opt_time("updated_at", &self.updated_at)?
                .or(created_at)
                .unwrap_or(0),
        })
    }
}

fn from_json<'a, T: Deserialize<'a>>(line: &'a str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(line);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data if !matches!(path.as_str(), "" | "." | "?") => {
                format!("{path}: {inner}")
            }
            serde_json::error::Category::Data => format!("{inner}"),
            _ => format!("invalid JSON: {inner}"),
        }
    })?;
    de.end().map_err(|e| format!("invalid JSON: {e}"))?;
    Ok(value)
}

/// Parses one NDJSON line (one Shopify resource object) into a record of `kind`.
pub fn parse_ndjson_line(kind: RecordKind, line: &str) -> Result<Record, String> {
    match kind {
        RecordKind::Orders => from_json::<OrderWire>(line)?
            .into_order()
            .map(Record::Order),
        RecordKind::Products => from_json::<ProductWire>(line)?
            .into_product()
            .map(Record::Product),
        RecordKind::Customers => from_json::<CustomerWire>(line)?
            .into_customer()
            .map(Record::Customer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(line: &str) -> Result<Order, String> {
        match parse_ndjson_line(RecordKind::Orders, line)? {
            Record::Order(o) => Ok(o),
            other => Err(format!("not an order: {other:?}")),
        }
    }

    #[test]
    fn minimal_order_parses_with_defaults() {
        let o = order(r#"{"id":1,"created_at":"2024-01-01T00:00:00Z","currency":"usd","total_price":"10.5","line_items":[{"id":"7","title":"Hat","quantity":2,"price":5.25}]}"#)
            .expect("valid order");
        assert_eq!(o.source_id, 1);
        assert_eq!(o.currency, "USD");
        assert_eq!(o.updated_at, o.created_at);
        assert_eq!(o.total_price, Money::from_units(105_000));
        assert_eq!(o.line_items[0].source_id, 7);
        assert_eq!(o.line_items[0].price, Money::from_units(52_500));
    }

    #[test]
    fn bad_order_lines_name_the_failing_field() {
        let missing = order(r#"{"id":1,"currency":"USD","total_price":"1"}"#).unwrap_err();
        assert_eq!(missing, "created_at is required");
        let bad_price = order(r#"{"id":1,"created_at":"2024-01-01T00:00:00Z","currency":"USD","total_price":"1","line_items":[{"id":2,"quantity":1,"price":"x"}]}"#).unwrap_err();
        assert!(bad_price.starts_with("line_items[0].price:"), "{bad_price}");
        let wrong_type = order(r#"{"id":1,"line_items":[{"id":2,"quantity":"two"}]}"#).unwrap_err();
        assert!(
            wrong_type.starts_with("line_items[0].quantity:"),
            "{wrong_type}"
        );
        let not_json = order("{not json").unwrap_err();
        assert!(not_json.starts_with("invalid JSON"), "{not_json}");
        let trailing = order(r#"{"id":1} {"id":2}"#).unwrap_err();
        assert!(trailing.starts_with("invalid JSON"), "{trailing}");
    }
}
