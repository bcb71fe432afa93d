//! GraphQL bulk operations: `bulkOperationRunQuery` starts an export of a whole resource,
//! `node(id:)` tells its status, and the finished operation's `url` is a JSONL file read as
//! a stream. In that file every object is one line; a nested connection's objects (an
//! order's line items, a product's variants) are lines of their own with `__parentId`, and
//! follow their parent. [`BulkRows`] joins them back into records, one parent at a time.

use crate::client::ShopifyClient;
use crate::error::{truncate, ErrorKind, ShopifyApiError};
use crate::resources::Resource;
use conea_core::clock::{rfc3339, EpochMs};
use conea_shopdata::fields;
use conea_shopdata::{Customer, LineItem, Order, Product, Record, RecordKind, Variant};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// How long a download of the result file may take.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

const RUN: &str = "mutation bulkOperationRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message }
  }
}";

const STATUS: &str = "query bulkOperation($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount rootObjectCount fileSize url partialDataUrl }
  }
}";

/// Where a bulk operation stands (`BulkOperation` of the GraphQL Admin API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkOperation {
    /// `gid://shopify/BulkOperation/N`
    pub id: String,
    /// `CREATED`, `RUNNING`, `COMPLETED`, `CANCELING`, `CANCELED`, `FAILED`, `EXPIRED`.
    pub status: String,
    pub error_code: Option<String>,
    pub object_count: u64,
    /// The JSONL result once `COMPLETED` (none when the query matched nothing).
    pub url: Option<String>,
}

impl BulkOperation {
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "CREATED" | "RUNNING")
    }
}

/// The bulk query exporting `resource` (objects updated at or after `updated_at_min`, all
/// when `None`), with the fields the records need.
pub fn bulk_query(resource: Resource, updated_at_min: Option<EpochMs>) -> String {
    let filter = updated_at_min
        .map(|t| format!("(query: \"updated_at:>='{}'\")", rfc3339(t)))
        .unwrap_or_default();
    let money = "shopMoney { amount currencyCode }";
    match resource {
        Resource::Orders => format!(
            "{{ orders{filter} {{ edges {{ node {{ id name email createdAt updatedAt cancelledAt closedAt \
             currencyCode totalPriceSet {{ {money} }} subtotalPriceSet {{ {money} }} \
             totalDiscountsSet {{ {money} }} totalRefundedSet {{ {money} }} \
             displayFinancialStatus displayFulfillmentStatus customer {{ id }} \
             lineItems {{ edges {{ node {{ id title name sku quantity originalUnitPriceSet {{ {money} }} \
             product {{ id }} variant {{ id }} }} }} }} }} }} }} }}"
        ),
        Resource::Products => format!(
            "{{ products{filter} {{ edges {{ node {{ id title vendor productType status createdAt updatedAt \
             variants {{ edges {{ node {{ id title sku price inventoryQuantity }} }} }} }} }} }} }}"
        ),
        Resource::Customers => format!(
            "{{ customers{filter} {{ edges {{ node {{ id email firstName lastName numberOfOrders \
             amountSpent {{ amount currencyCode }} createdAt updatedAt }} }} }} }}"
        ),
    }
}

fn bulk_error(message: String) -> ShopifyApiError {
    ShopifyApiError::new(ErrorKind::GraphQl, truncate(message))
}

fn operation(node: &Value) -> Option<BulkOperation> {
    let text = |k: &str| node.get(k).and_then(Value::as_str).map(str::to_owned);
    // UnsignedInt64 is a string in JSON.
    let count = node.get("objectCount").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    Some(BulkOperation {
        id: text("id")?,
        status: text("status")?,
        error_code: text("errorCode"),
        object_count: count.unwrap_or(0),
        url: text("url"),
    })
}

impl ShopifyClient {
    /// Starts a bulk query; Shopify's refusals (`userErrors`, such as another bulk query
    /// still running) fail as [`ErrorKind::GraphQl`].
    pub async fn run_bulk_query(&self, query: &str) -> Result<BulkOperation, ShopifyApiError> {
        let r = self.graphql(RUN, json!({ "query": query }), 10).await?;
        let out = &r.data["bulkOperationRunQuery"];
        if let Some(errors) = out["userErrors"].as_array().filter(|e| !e.is_empty()) {
            return Err(bulk_error(format!(
                "bulkOperationRunQuery refused: {}",
                Value::Array(errors.clone())
            )));
        }
        operation(&out["bulkOperation"])
            .ok_or_else(|| bulk_error(format!("bulkOperationRunQuery answered {out}")))
    }

    /// The bulk operation `id` as it stands now.
    pub async fn bulk_operation(&self, id: &str) -> Result<BulkOperation, ShopifyApiError> {
        let r = self.graphql(STATUS, json!({ "id": id }), 1).await?;
        operation(&r.data["node"])
            .ok_or_else(|| bulk_error(format!("no bulk operation {id}: {}", r.data)))
    }

    /// How many objects a REST listing would return (`{resource}/count.json`): the estimate
    /// that chooses between pages and a bulk operation.
    pub async fn count(
        &self,
        resource: Resource,
        updated_at_min: Option<EpochMs>,
    ) -> Result<u64, ShopifyApiError> {
        let mut query = Vec::new();
        if let Some(t) = updated_at_min {
            query.push(("updated_at_min", rfc3339(t)));
        }
        if resource == Resource::Orders {
            query.push(("status", "any".to_owned()));
        }
        let body = self
            .get_json(&format!("{}/count.json", resource.key()), &query)
            .await?;
        body["count"].as_u64().ok_or_else(|| {
            ShopifyApiError::new(
                ErrorKind::Malformed,
                format!("count.json without a count: {body}"),
            )
        })
    }

    /// Opens the result file of a finished bulk operation (a pre-signed URL: no token);
    /// read it with `chunk()`.
    pub async fn open_bulk_file(&self, url: &str) -> Result<reqwest::Response, ShopifyApiError> {
        let answer = self
            .transport()
            .http
            .get(url)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await
            .map_err(|e| ShopifyApiError::new(ErrorKind::Transport, e.to_string()))?;
        if !answer.status().is_success() {
            return Err(ShopifyApiError::new(
                ErrorKind::Server,
                format!("the bulk result file answered {}", answer.status()),
            ));
        }
        Ok(answer)
    }
}

/// A `gid://shopify/Order/123` (or a plain number) as the number.
fn gid(field: &str, text: &str) -> Result<i64, String> {
    let tail = text.rsplit('/').next().unwrap_or(text);
    fields::id(field, tail)
}

#[derive(Deserialize)]
struct IdRef<'a> {
    #[serde(borrow)]
    id: &'a str,
}

#[derive(Deserialize)]
struct MoneyV2<'a> {
    #[serde(borrow)]
    amount: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
struct MoneyBag<'a> {
    #[serde(borrow, rename = "shopMoney")]
    shop_money: MoneyV2<'a>,
}

/// One line of a bulk file: the fields of every object kind it may hold (a parent or one
/// of its children), all optional.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Line<'a> {
    #[serde(borrow)]
    id: Option<&'a str>,
    #[serde(borrow, rename = "__parentId")]
    parent_id: Option<&'a str>,
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    title: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    email: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    created_at: Option<&'a str>,
    #[serde(borrow)]
    updated_at: Option<&'a str>,
    #[serde(borrow)]
    cancelled_at: Option<&'a str>,
    #[serde(borrow)]
    closed_at: Option<&'a str>,
    #[serde(borrow)]
    currency_code: Option<&'a str>,
    #[serde(borrow)]
    total_price_set: Option<MoneyBag<'a>>,
    #[serde(borrow)]
    subtotal_price_set: Option<MoneyBag<'a>>,
    #[serde(borrow)]
    total_discounts_set: Option<MoneyBag<'a>>,
    #[serde(borrow)]
    total_refunded_set: Option<MoneyBag<'a>>,
    #[serde(borrow)]
    display_financial_status: Option<&'a str>,
    #[serde(borrow)]
    display_fulfillment_status: Option<&'a str>,
    #[serde(borrow)]
    customer: Option<IdRef<'a>>,
    #[serde(borrow)]
    sku: Option<std::borrow::Cow<'a, str>>,
    quantity: Option<i64>,
    #[serde(borrow)]
    original_unit_price_set: Option<MoneyBag<'a>>,
    #[serde(borrow)]
    product: Option<IdRef<'a>>,
    #[serde(borrow)]
    variant: Option<IdRef<'a>>,
    #[serde(borrow)]
    vendor: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    product_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<&'a str>,
    #[serde(borrow)]
    price: Option<std::borrow::Cow<'a, str>>,
    inventory_quantity: Option<i64>,
    #[serde(borrow)]
    first_name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    last_name: Option<std::borrow::Cow<'a, str>>,
    number_of_orders: Option<Value>,
    #[serde(borrow)]
    amount_spent: Option<MoneyV2<'a>>,
}

fn text(t: &Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    t.as_deref().and_then(fields::opt_text)
}

fn opt_time(field: &str, t: Option<&str>) -> Result<Option<EpochMs>, String> {
    t.map_or(Ok(None), |s| fields::opt_time(field, s))
}

fn opt_money(
    field: &str,
    m: &Option<MoneyBag<'_>>,
) -> Result<Option<conea_shopdata::Money>, String> {
    m.as_ref()
        .map_or(Ok(None), |m| fields::opt_money(field, &m.shop_money.amount))
}

/// `PAID` → `paid`, as the REST API and webhooks write it.
fn lower(t: Option<&str>) -> Option<String> {
    t.map(str::to_ascii_lowercase)
}

/// GraphQL's `displayFulfillmentStatus` in the REST spelling (`null` while unfulfilled).
fn fulfillment(t: Option<&str>) -> Option<String> {
    match t? {
        "UNFULFILLED" => None,
        "PARTIALLY_FULFILLED" => Some("partial".into()),
        other => Some(other.to_ascii_lowercase()),
    }
}

fn parent(kind: RecordKind, l: &Line<'_>) -> Result<Record, String> {
    let id = gid("id", l.id.ok_or("id is required")?)?;
    match kind {
        RecordKind::Orders => {
            let created_at =
                fields::time("createdAt", l.created_at.ok_or("createdAt is required")?)?;
            Ok(Record::Order(Order {
                source_id: id,
                name: text(&l.name),
                email: text(&l.email),
                customer_id: match &l.customer {
                    Some(c) => Some(gid("customer.id", c.id)?),
                    None => None,
                },
                currency: fields::currency(
                    "currencyCode",
                    l.currency_code.ok_or("currencyCode is required")?,
                )?,
                total_price: opt_money("totalPriceSet", &l.total_price_set)?
                    .ok_or("totalPriceSet is required")?,
                subtotal_price: opt_money("subtotalPriceSet", &l.subtotal_price_set)?,
                financial_status: lower(l.display_financial_status),
                fulfillment_status: fulfillment(l.display_fulfillment_status),
                created_at,
                updated_at: opt_time("updatedAt", l.updated_at)?.unwrap_or(created_at),
                cancelled_at: opt_time("cancelledAt", l.cancelled_at)?,
                closed_at: opt_time("closedAt", l.closed_at)?,
                total_discounts: opt_money("totalDiscountsSet", &l.total_discounts_set)?
                    .unwrap_or(conea_shopdata::Money::ZERO),
                total_refunded: opt_money("totalRefundedSet", &l.total_refunded_set)?
                    .unwrap_or(conea_shopdata::Money::ZERO),
                line_items: Vec::new(),
            }))
        }
        RecordKind::Products => {
            let created_at = opt_time("createdAt", l.created_at)?;
            Ok(Record::Product(Product {
                source_id: id,
                title: fields::clean(
                    l.title
                        .as_deref()
                        .filter(|t| !t.trim().is_empty())
                        .ok_or("title is required")?,
                ),
                vendor: text(&l.vendor),
                product_type: text(&l.product_type),
                status: lower(l.status),
                created_at,
                updated_at: opt_time("updatedAt", l.updated_at)?
                    .or(created_at)
                    .unwrap_or(0),
                variants: Vec::new(),
            }))
        }
        RecordKind::Customers => {
            let created_at = opt_time("createdAt", l.created_at)?;
            let orders_count = match &l.number_of_orders {
                Some(Value::String(s)) => Some(fields::int("numberOfOrders", s)?),
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            };
            Ok(Record::Customer(Customer {
                source_id: id,
                email: text(&l.email),
                first_name: text(&l.first_name),
                last_name: text(&l.last_name),
                orders_count,
                total_spent: match &l.amount_spent {
                    Some(m) => fields::opt_money("amountSpent", &m.amount)?,
                    None => None,
                },
                created_at,
                updated_at: opt_time("updatedAt", l.updated_at)?
                    .or(created_at)
                    .unwrap_or(0),
            }))
        }
    }
}

/// Adds a child line (a line item, a variant) to its parent record.
fn child(record: &mut Record, l: &Line<'_>) -> Result<(), String> {
    let id = gid("id", l.id.ok_or("id is required")?)?;
    match record {
        Record::Order(o) => {
            let index = o.line_items.len();
            let at = |f: &str| format!("lineItems[{index}].{f}");
            let quantity = l
                .quantity
                .ok_or_else(|| format!("{} is required", at("quantity")))?;
            let quantity = fields::check_quantity(&at("quantity"), quantity)?;
            let price = opt_money(&at("originalUnitPriceSet"), &l.original_unit_price_set)?
                .ok_or_else(|| format!("{} is required", at("originalUnitPriceSet")))?;
            fields::line_total(&format!("lineItems[{index}]"), quantity, price)?;
            let opt_gid = |f: &str, r: &Option<IdRef<'_>>| match r {
                Some(r) => gid(f, r.id).map(Some),
                None => Ok(None),
            };
            o.line_items.push(LineItem {
                source_id: id,
                product_id: opt_gid(&at("product.id"), &l.product)?,
                variant_id: opt_gid(&at("variant.id"), &l.variant)?,
                title: text(&l.title).or_else(|| text(&l.name)).unwrap_or_default(),
                sku: text(&l.sku),
                quantity,
                price,
            });
        }
        Record::Product(p) => {
            let index = p.variants.len();
            p.variants.push(Variant {
                source_id: id,
                title: text(&l.title),
                sku: text(&l.sku),
                price: match &l.price {
                    Some(m) => fields::opt_money(&format!("variants[{index}].price"), m)?,
                    None => None,
                },
                inventory_quantity: l.inventory_quantity,
            });
        }
        Record::Customer(_) => return Err("a customer has no child objects".into()),
    }
    Ok(())
}

/// What one line of a bulk file did.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per line, moved at once into the batch
pub enum Joined {
    /// A child of the record being assembled, or a parent whose predecessor is still
    /// open: nothing complete yet.
    Pending,
    /// A new parent began at this line: the previous record is complete (`Ok`), or was
    /// rejected with its line number and reason.
    Complete(Result<Record, (u64, String)>),
}

/// Joins bulk lines into records: a parent line opens a record, the child lines after it
/// (their `__parentId` its id) add to it, the next parent line completes it. A record is
/// rejected as a whole when its line or one of its children's does not parse.
pub struct BulkRows {
    kind: RecordKind,
    /// The record being assembled: its gid, the line it began at, and it (or why not).
    open: Option<(String, u64, Result<Record, String>)>,
}

impl BulkRows {
    pub fn new(kind: RecordKind) -> Self {
        BulkRows { kind, open: None }
    }

    /// The line where the record being assembled began (a resumable place: every record
    /// before it is complete).
    pub fn open_since(&self) -> Option<u64> {
        self.open.as_ref().map(|o| o.1)
    }

    /// Takes line `number` (1-based).
    pub fn push(&mut self, number: u64, line: &str) -> Joined {
        let parsed: Result<Line<'_>, String> =
            serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"));
        let l = match parsed {
            Ok(l) => l,
            Err(e) => {
                // Whose line it was is unknown: it spoils the open record if any.
                return match &mut self.open {
                    Some((_, _, r)) if r.is_ok() => {
                        *r = Err(format!("line {number}: {e}"));
                        Joined::Pending
                    }
                    Some(_) => Joined::Pending,
                    None => Joined::Complete(Err((number, e))),
                };
            }
        };
        if let Some(parent_id) = l.parent_id {
            match &mut self.open {
                Some((id, _, record)) if id == parent_id => {
                    if let Ok(r) = record {
                        if let Err(e) = child(r, &l) {
                            *record = Err(format!("line {number}: {e}"));
                        }
                    }
                    Joined::Pending
                }
                _ => Joined::Complete(Err((
                    number,
                    format!("__parentId {parent_id} does not follow its parent"),
                ))),
            }
        } else {
            let opened = (
                l.id.unwrap_or_default().to_owned(),
                number,
                parent(self.kind, &l),
            );
            match self.open.replace(opened) {
                Some(done) => Joined::Complete(finish(done)),
                None => Joined::Pending,
            }
        }
    }

    /// Ends the file: the last record, if any.
    pub fn finish(&mut self) -> Option<Result<Record, (u64, String)>> {
        self.open.take().map(finish)
    }
}

fn finish(
    (_, line, record): (String, u64, Result<Record, String>),
) -> Result<Record, (u64, String)> {
    record.map_err(|e| (line, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = r##"{"id":"gid://shopify/Order/1","name":"#1001","email":"a@example.com","createdAt":"2024-01-01T00:00:00Z","updatedAt":"2024-01-01T01:00:00Z","cancelledAt":null,"closedAt":null,"currencyCode":"EUR","totalPriceSet":{"shopMoney":{"amount":"59.97","currencyCode":"EUR"}},"subtotalPriceSet":{"shopMoney":{"amount":"59.97","currencyCode":"EUR"}},"totalDiscountsSet":{"shopMoney":{"amount":"0.0","currencyCode":"EUR"}},"totalRefundedSet":{"shopMoney":{"amount":"0.0","currencyCode":"EUR"}},"displayFinancialStatus":"PAID","displayFulfillmentStatus":"UNFULFILLED","customer":{"id":"gid://shopify/Customer/9"}}
{"id":"gid://shopify/LineItem/11","title":"Hat","name":"Hat - Red","sku":"H-1","quantity":3,"originalUnitPriceSet":{"shopMoney":{"amount":"19.99","currencyCode":"EUR"}},"product":{"id":"gid://shopify/Product/5"},"variant":null,"__parentId":"gid://shopify/Order/1"}
{"id":"gid://shopify/Order/2","name":"#1002","email":null,"createdAt":"2024-01-02T00:00:00Z","updatedAt":"2024-01-02T00:00:00Z","cancelledAt":null,"closedAt":null,"currencyCode":"EUR","totalPriceSet":{"shopMoney":{"amount":"5.00","currencyCode":"EUR"}},"subtotalPriceSet":null,"totalDiscountsSet":null,"totalRefundedSet":null,"displayFinancialStatus":"REFUNDED","displayFulfillmentStatus":"FULFILLED","customer":null}
"##;

    fn all(kind: RecordKind, text: &str) -> Vec<Result<Record, (u64, String)>> {
        let mut rows = BulkRows::new(kind);
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Joined::Complete(r) = rows.push(i as u64 + 1, line) {
                out.push(r);
            }
        }
        out.extend(rows.finish());
        out
    }

    #[test]
    fn order_lines_are_joined_with_their_line_items_through_parent_id() {
        let out = all(RecordKind::Orders, ORDERS);
        assert_eq!(out.len(), 2);
        let Ok(Record::Order(first)) = &out[0] else {
            panic!("{:?}", out[0])
        };
        assert_eq!(first.source_id, 1);
        assert_eq!(first.customer_id, Some(9));
        assert_eq!(first.financial_status.as_deref(), Some("paid"));
        assert_eq!(first.fulfillment_status, None);
        assert_eq!(first.line_items.len(), 1);
        assert_eq!(first.line_items[0].source_id, 11);
        assert_eq!(first.line_items[0].product_id, Some(5));
        assert_eq!(first.line_items[0].quantity, 3);
        let Ok(Record::Order(second)) = &out[1] else {
            panic!("{:?}", out[1])
        };
        assert!(second.line_items.is_empty());
        assert_eq!(second.fulfillment_status.as_deref(), Some("fulfilled"));
    }

    #[test]
    fn a_child_without_its_parent_or_a_bad_child_rejects_with_the_line() {
        let orphan = r#"{"id":"gid://shopify/LineItem/11","quantity":1,"__parentId":"gid://shopify/Order/7"}"#;
        let out = all(RecordKind::Orders, orphan);
        assert!(
            matches!(&out[..], [Err((1, m))] if m.contains("does not follow")),
            "{out:?}"
        );
        let bad_child = ORDERS.replacen("\"quantity\":3", "\"quantity\":\"x\"", 1);
        let out = all(RecordKind::Orders, &bad_child);
        assert!(
            matches!(&out[0], Err((1, m)) if m.starts_with("line 2:")),
            "{out:?}"
        );
        assert!(out[1].is_ok());
    }

    #[test]
    fn the_bulk_query_filters_by_updated_at_when_incremental() {
        let q = bulk_query(Resource::Orders, Some(1_704_067_200_000));
        assert!(
            q.starts_with("{ orders(query: \"updated_at:>='2024-01-01T00:00:00"),
            "{q}"
        );
        assert!(q.contains("lineItems { edges { node { id"), "{q}");
        assert!(!bulk_query(Resource::Products, None).contains("query:"));
    }
}
