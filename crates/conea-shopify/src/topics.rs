//! What each webhook topic's body must be. Shopify's HMAC covers the body, not the
//! `X-Shopify-Topic` header, so a validly signed body could be sent again under another
//! topic (an order re-sent as `shop/redact`). Each topic's payload is parsed into its own
//! type here, and a body that is another topic's (an order body is not a redaction request,
//! a full record is not a deletion notice) is a [`TopicMismatch`].

use conea_shopdata::{parse_ndjson_line, Record, RecordKind};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A delivery's body as its topic says it is.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicPayload {
    /// `orders/*`, `products/create|update`, `customers/create|update|enable|disable`.
    Upsert(Record),
    /// `products/delete`, `orders/delete`, `customers/delete`: `{"id": …}`.
    Delete { kind: RecordKind, id: i64 },
    /// `app/uninstalled`: the shop object of the shop named in the headers.
    Uninstalled,
    /// `customers/data_request`.
    DataRequest(CustomerRequest),
    /// `customers/redact`.
    CustomerRedact(CustomerRequest),
    /// `shop/redact`.
    ShopRedact,
    /// `bulk_operations/finish`: one of the app's bulk operations ended.
    BulkFinished(BulkFinish),
    /// A topic Conea does not act on.
    Ignored,
}

/// A compliance request about one customer: the customer and the orders it names.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRequest {
    pub customer_id: i64,
    pub email: Option<String>,
    /// `orders_to_redact` (redaction) or `orders_requested` (data request).
    pub orders: Vec<i64>,
    /// The data request's id (`customers/data_request` only).
    pub data_request_id: Option<i64>,
}

/// A `bulk_operations/finish` body: `{"admin_graphql_api_id":
/// "gid://shopify/BulkOperation/…", "completed_at", "created_at", "error_code", "status",
/// "type"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkFinish {
    /// `gid://shopify/BulkOperation/…`, as `bulkOperationRunQuery` answered it.
    pub id: String,
    /// `completed`, `failed`, `canceled`, … (lowercase, as the webhook spells it).
    pub status: String,
    pub error_code: Option<String>,
}

#[derive(Deserialize)]
struct BulkFinishWire {
    admin_graphql_api_id: String,
    status: String,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// A body that is not what its topic says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMismatch {
    pub topic: String,
    pub reason: String,
}

impl std::fmt::Display for TopicMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the body is not a {} payload: {}",
            self.topic, self.reason
        )
    }
}

impl std::error::Error for TopicMismatch {}

/// Keys only a compliance request carries (never a record or a shop object).
const COMPLIANCE_KEYS: [&str; 4] = [
    "shop_domain",
    "orders_to_redact",
    "orders_requested",
    "data_request",
];
/// Keys that make a body a full record of its kind.
const ORDER_KEYS: [&str; 2] = ["line_items", "financial_status"];
const PRODUCT_KEYS: [&str; 2] = ["variants", "product_type"];
const SHOP_KEYS: [&str; 1] = ["myshopify_domain"];

#[derive(Deserialize)]
struct CustomerRef {
    id: i64,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct DataRequestRef {
    id: i64,
}

#[derive(Deserialize)]
struct ComplianceWire {
    shop_domain: String,
    customer: Option<CustomerRef>,
    orders_to_redact: Option<Vec<i64>>,
    orders_requested: Option<Vec<i64>>,
    data_request: Option<DataRequestRef>,
}

impl TopicPayload {
    /// Parses `body` as the payload of `topic` for the shop `shop_domain` (the delivery's
    /// `X-Shopify-Shop-Domain`): compliance requests and the uninstall notice must name
    /// that shop.
    pub fn parse(topic: &str, shop_domain: &str, body: &str) -> Result<Self, TopicMismatch> {
        let mismatch = |reason: String| TopicMismatch {
            topic: topic.to_owned(),
            reason,
        };
        let value: Value =
            serde_json::from_str(body).map_err(|e| mismatch(format!("not JSON ({e})")))?;
        let Some(object) = value.as_object() else {
            return Err(mismatch("not a JSON object".into()));
        };
        let refuse = |keys: &[&str]| -> Result<(), TopicMismatch> {
            match keys.iter().find(|k| object.contains_key(**k)) {
                Some(k) => Err(mismatch(format!("it carries `{k}`"))),
                None => Ok(()),
            }
        };
        let record = |kind: RecordKind| -> Result<TopicPayload, TopicMismatch> {
            refuse(&COMPLIANCE_KEYS)?;
            refuse(&SHOP_KEYS)?;
            gid_names(object, kind).map_err(mismatch)?;
            let (required, others): (&[&str], Vec<&str>) = match kind {
                RecordKind::Orders => (&["line_items"], PRODUCT_KEYS.to_vec()),
                RecordKind::Products => (&["variants"], ORDER_KEYS.to_vec()),
                RecordKind::Customers => (&[], [ORDER_KEYS, PRODUCT_KEYS].concat()),
            };
            refuse(&others)?;
            if let Some(k) = required.iter().find(|k| !object.contains_key(**k)) {
                return Err(mismatch(format!("it has no `{k}`")));
            }
            parse_ndjson_line(kind, body)
                .map(TopicPayload::Upsert)
                .map_err(mismatch)
        };
        let delete = |kind: RecordKind| -> Result<TopicPayload, TopicMismatch> {
            refuse(&COMPLIANCE_KEYS)?;
            refuse(&SHOP_KEYS)?;
            // A deletion notice is the id alone (customers add empty fields); a body
            // with `updated_at` or children is a record, not a deletion.
            refuse(&["updated_at", "created_at"])?;
            refuse(&ORDER_KEYS)?;
            refuse(&PRODUCT_KEYS)?;
            gid_names(object, kind).map_err(mismatch)?;
            let id = object
                .get("id")
                .and_then(Value::as_i64)
                .ok_or_else(|| mismatch("it has no numeric `id`".into()))?;
            Ok(TopicPayload::Delete { kind, id })
        };
        let compliance = || -> Result<ComplianceWire, TopicMismatch> {
            refuse(&SHOP_KEYS)?;
            refuse(&ORDER_KEYS)?;
            refuse(&PRODUCT_KEYS)?;
            // serde reads a struct from an array too (`"customer": [500]` would name
            // customer 500); Shopify sends objects, so anything else is refused.
            if let Some(k) = ["customer", "data_request"].into_iter().find(|k| {
                object
                    .get(*k)
                    .is_some_and(|v| !v.is_object() && !v.is_null())
            }) {
                return Err(mismatch(format!("its `{k}` is not an object")));
            }
            let wire: ComplianceWire = serde_json::from_value(value.clone())
                .map_err(|e| mismatch(format!("not a compliance request ({e})")))?;
            if !wire.shop_domain.eq_ignore_ascii_case(shop_domain) {
                return Err(mismatch(format!(
                    "it names the shop `{}`, not {shop_domain}",
                    wire.shop_domain
                )));
            }
            Ok(wire)
        };
        let customer = |wire: &ComplianceWire| -> Result<CustomerRef, TopicMismatch> {
            wire.customer
                .as_ref()
                .map(|c| CustomerRef {
                    id: c.id,
                    email: c.email.clone(),
                })
                .ok_or_else(|| mismatch("it names no customer".into()))
        };
        match topic {
            "orders/create" | "orders/updated" | "orders/paid" | "orders/cancelled"
            | "orders/fulfilled" | "orders/edited" => record(RecordKind::Orders),
            "products/create" | "products/update" => record(RecordKind::Products),
            "customers/create" | "customers/update" | "customers/enable" | "customers/disable" => {
                record(RecordKind::Customers)
            }
            "products/delete" => delete(RecordKind::Products),
            "orders/delete" => delete(RecordKind::Orders),
            "customers/delete" => delete(RecordKind::Customers),
            "app/uninstalled" => {
                refuse(&COMPLIANCE_KEYS)?;
                refuse(&ORDER_KEYS)?;
                refuse(&PRODUCT_KEYS)?;
                match object.get("myshopify_domain").and_then(Value::as_str) {
                    Some(d) if d.eq_ignore_ascii_case(shop_domain) => Ok(TopicPayload::Uninstalled),
                    Some(d) => Err(mismatch(format!("it is the shop `{d}`, not {shop_domain}"))),
                    None => Err(mismatch("it is not a shop (no `myshopify_domain`)".into())),
                }
            }
            "customers/data_request" => {
                let wire = compliance()?;
                if wire.orders_to_redact.is_some() {
                    return Err(mismatch("it carries `orders_to_redact`".into()));
                }
                let c = customer(&wire)?;
                let Some(request) = &wire.data_request else {
                    return Err(mismatch("it has no `data_request`".into()));
                };
                Ok(TopicPayload::DataRequest(CustomerRequest {
                    customer_id: c.id,
                    email: c.email,
                    orders: wire.orders_requested.clone().unwrap_or_default(),
                    data_request_id: Some(request.id),
                }))
            }
            "customers/redact" => {
                let wire = compliance()?;
                if wire.data_request.is_some() || wire.orders_requested.is_some() {
                    return Err(mismatch("it is a data request".into()));
                }
                let c = customer(&wire)?;
                let Some(orders) = &wire.orders_to_redact else {
                    return Err(mismatch("it has no `orders_to_redact`".into()));
                };
                Ok(TopicPayload::CustomerRedact(CustomerRequest {
                    customer_id: c.id,
                    email: c.email,
                    orders: orders.clone(),
                    data_request_id: None,
                }))
            }
            "shop/redact" => {
                let wire = compliance()?;
                if wire.customer.is_some()
                    || wire.orders_to_redact.is_some()
                    || wire.orders_requested.is_some()
                    || wire.data_request.is_some()
                {
                    return Err(mismatch("it is a customer's request".into()));
                }
                Ok(TopicPayload::ShopRedact)
            }
            "bulk_operations/finish" => {
                refuse(&COMPLIANCE_KEYS)?;
                refuse(&SHOP_KEYS)?;
                refuse(&ORDER_KEYS)?;
                refuse(&PRODUCT_KEYS)?;
                let wire: BulkFinishWire = serde_json::from_value(value.clone())
                    .map_err(|e| mismatch(format!("not a bulk operation notice ({e})")))?;
                if !wire
                    .admin_graphql_api_id
                    .starts_with("gid://shopify/BulkOperation/")
                {
                    return Err(mismatch(format!(
                        "its `admin_graphql_api_id` is {}",
                        wire.admin_graphql_api_id
                    )));
                }
                if wire
                    .kind
                    .as_deref()
                    .is_some_and(|k| k != "query" && k != "mutation")
                {
                    return Err(mismatch("its `type` is neither query nor mutation".into()));
                }
                Ok(TopicPayload::BulkFinished(BulkFinish {
                    id: wire.admin_graphql_api_id,
                    status: wire.status.to_ascii_lowercase(),
                    error_code: wire.error_code,
                }))
            }
            _ => Ok(TopicPayload::Ignored),
        }
    }
}

/// When the body carries `admin_graphql_api_id` (`gid://shopify/Order/…`), it must name
/// the topic's resource.
fn gid_names(object: &Map<String, Value>, kind: RecordKind) -> Result<(), String> {
    let Some(gid) = object.get("admin_graphql_api_id").and_then(Value::as_str) else {
        return Ok(());
    };
    let wanted = match kind {
        RecordKind::Orders => "gid://shopify/Order/",
        RecordKind::Products => "gid://shopify/Product/",
        RecordKind::Customers => "gid://shopify/Customer/",
    };
    if gid.starts_with(wanted) {
        Ok(())
    } else {
        Err(format!("its `admin_graphql_api_id` is {gid}"))
    }
}

/// The topics Conea subscribes a shop to (through GraphQL `webhookSubscriptionCreate`):
/// every topic [`TopicPayload::parse`] acts on that an app can subscribe to through the
/// API. `orders/updated` also covers paid, cancelled, fulfilled and edited orders; the
/// compliance topics (`customers/data_request`, `customers/redact`, `shop/redact`) are set
/// in the app's configuration at Shopify, not per shop. `bulk_operations/finish` wakes a
/// sync waiting for its bulk operation (polling stays the fallback).
pub const SUBSCRIBED_TOPICS: [&str; 11] = [
    "app/uninstalled",
    "bulk_operations/finish",
    "customers/create",
    "customers/delete",
    "customers/update",
    "orders/create",
    "orders/delete",
    "orders/updated",
    "products/create",
    "products/delete",
    "products/update",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHOP: &str = "a.myshopify.com";

    fn parse(topic: &str, body: Value) -> Result<TopicPayload, TopicMismatch> {
        TopicPayload::parse(topic, SHOP, &body.to_string())
    }

    fn order() -> Value {
        json!({"id": 9, "created_at": "2026-01-02T10:00:00Z", "updated_at": "2026-01-02T10:00:00Z",
               "currency": "EUR", "total_price": "1.00", "financial_status": "paid",
               "customer": {"id": 5, "email": "a@example.com"},
               "line_items": [{"id": 1, "title": "T", "quantity": 1, "price": "1.00"}]})
    }

    #[test]
    fn an_order_body_is_an_order_and_nothing_else() {
        assert!(matches!(
            parse("orders/create", order()),
            Ok(TopicPayload::Upsert(Record::Order(_)))
        ));
        for topic in [
            "shop/redact",
            "customers/redact",
            "customers/data_request",
            "orders/delete",
            "customers/delete",
            "products/update",
            "customers/update",
            "app/uninstalled",
        ] {
            assert!(parse(topic, order()).is_err(), "{topic}");
        }
    }

    #[test]
    fn a_compliance_request_whose_customer_is_not_an_object_is_refused() {
        for customer in [json!([5]), json!(5), json!("5")] {
            let redact = json!({"shop_id": 1, "shop_domain": SHOP, "customer": customer,
                                "orders_to_redact": [9]});
            assert!(parse("customers/redact", redact).is_err(), "{customer}");
        }
        let request = json!({"shop_id": 1, "shop_domain": SHOP, "customer": {"id": 5},
                             "orders_requested": [9], "data_request": [77]});
        assert!(parse("customers/data_request", request).is_err());
    }

    #[test]
    fn a_customer_redaction_is_not_a_shop_redaction_nor_of_another_shop() {
        let redact = json!({"shop_id": 1, "shop_domain": SHOP,
                            "customer": {"id": 5, "email": "a@example.com"},
                            "orders_to_redact": [9]});
        let parsed = parse("customers/redact", redact.clone()).unwrap();
        assert_eq!(
            parsed,
            TopicPayload::CustomerRedact(CustomerRequest {
                customer_id: 5,
                email: Some("a@example.com".into()),
                orders: vec![9],
                data_request_id: None,
            })
        );
        assert!(parse("shop/redact", redact).is_err());
        assert_eq!(
            parse("shop/redact", json!({"shop_id": 1, "shop_domain": SHOP})),
            Ok(TopicPayload::ShopRedact)
        );
        assert!(parse(
            "shop/redact",
            json!({"shop_id": 1, "shop_domain": "b.myshopify.com"})
        )
        .is_err());
    }

    #[test]
    fn a_bulk_finish_notice_is_shopifys_payload_and_nothing_else() {
        let body = json!({"admin_graphql_api_id": "gid://shopify/BulkOperation/720001",
            "completed_at": "2026-12-04T21:00:00-05:00", "created_at": "2026-12-04T20:59:00-05:00",
            "error_code": null, "status": "completed", "type": "query"});
        assert_eq!(
            parse("bulk_operations/finish", body),
            Ok(TopicPayload::BulkFinished(BulkFinish {
                id: "gid://shopify/BulkOperation/720001".into(),
                status: "completed".into(),
                error_code: None,
            }))
        );
        assert!(parse("bulk_operations/finish", order()).is_err());
        assert!(parse(
            "bulk_operations/finish",
            json!({"admin_graphql_api_id": "gid://shopify/Order/9", "status": "completed"})
        )
        .is_err());
    }

    #[test]
    fn deletion_notices_are_ids_alone() {
        assert_eq!(
            parse("orders/delete", json!({"id": 9})),
            Ok(TopicPayload::Delete {
                kind: RecordKind::Orders,
                id: 9
            })
        );
        assert!(parse(
            "customers/delete",
            json!({"id": 9, "admin_graphql_api_id": "gid://shopify/Order/9"})
        )
        .is_err());
        assert_eq!(parse("unknown/topic", json!({})), Ok(TopicPayload::Ignored));
    }
}
