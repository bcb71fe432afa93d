//! The fake's bulk operations: `bulkOperationRunQuery` (one query at a time, as Shopify),
//! `node(id:)` and `currentBulkOperation` (`RUNNING` at the first check, `COMPLETED` with
//! a `url` after), and the result file `GET /bulk/{n}.jsonl`: Shopify's JSONL, a parent
//! line per object followed by its children's lines with `__parentId`, streamed.

use super::data;
use super::Shared;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;

/// A bulk operation the fake runs.
#[derive(Debug, Clone)]
pub struct FakeBulk {
    pub n: u64,
    /// `orders`, `products` or `customers`.
    pub resource: String,
    pub updated_min: Option<i64>,
    pub checks: u32,
    /// Ended by the test ([`super::FakeShopify::finish_bulk`]) while bulks are held.
    pub finished: bool,
}

impl FakeBulk {
    pub fn gid(&self) -> String {
        format!("gid://shopify/BulkOperation/{}", 720_000 + self.n)
    }
}

/// What the operation's status is: `COMPLETED` from the second check on, or — while the
/// test holds bulk operations — once the test finished it.
fn status(b: &FakeBulk, base_url: &str, held: bool) -> Value {
    let done = b.finished || (!held && b.checks > 1);
    json!({"id": b.gid(), "status": if done { "COMPLETED" } else { "RUNNING" }, "errorCode": null,
        "objectCount": "0", "rootObjectCount": "0", "fileSize": null,
        "url": if done { Value::String(format!("{base_url}/bulk/{}.jsonl", b.n)) } else { Value::Null },
        "partialDataUrl": null})
}

pub fn run_query(shared: &Shared, state: &mut super::FakeState, vars: &Value) -> Value {
    let query = vars["query"].as_str().unwrap_or_default();
    let held = state.hold_bulks;
    if state
        .bulks
        .last()
        .is_some_and(|b| !b.finished && (held || b.checks <= 1))
    {
        return json!({"bulkOperationRunQuery": {"bulkOperation": null, "userErrors": [{"field": null,
            "message": "A bulk query operation for this app and shop is already in progress"}]}});
    }
    let resource = ["orders", "products", "customers"]
        .into_iter()
        .find(|r| query.trim_start_matches(['{', ' ']).starts_with(r))
        .unwrap_or("orders");
    let updated_min = query
        .split_once("updated_at:>='")
        .and_then(|(_, rest)| rest.split_once('\''))
        .and_then(|(t, _)| conea_core::clock::parse_rfc3339(t));
    let _ = shared;
    let b = FakeBulk {
        n: state.bulks.len() as u64 + 1,
        resource: resource.to_owned(),
        updated_min,
        checks: 0,
        finished: false,
    };
    state.bulks.push(b.clone());
    json!({"bulkOperationRunQuery": {"bulkOperation": {"id": b.gid(), "status": "CREATED"}, "userErrors": []}})
}

pub fn check(state: &mut super::FakeState, base_url: &str, id: Option<&str>) -> Value {
    let held = state.hold_bulks;
    let found = state
        .bulks
        .iter_mut()
        .rev()
        .find(|b| id.is_none_or(|id| b.gid() == id));
    match found {
        Some(b) => {
            b.checks += 1;
            status(b, base_url, held)
        }
        None => Value::Null,
    }
}

/// Object `i` of a resource as its bulk lines.
pub fn lines(resource: &str, i: usize, out: &mut String) {
    match resource {
        "orders" => {
            let o = data::order(i);
            let gid = o["admin_graphql_api_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let money = |a: &Value| json!({"shopMoney": {"amount": a, "currencyCode": "EUR"}});
            let parent = json!({"id": gid, "name": o["name"], "email": o["email"],
                "createdAt": o["created_at"], "updatedAt": o["updated_at"],
                "cancelledAt": o["cancelled_at"], "closedAt": o["closed_at"], "currencyCode": "EUR",
                "totalPriceSet": money(&o["total_price"]), "subtotalPriceSet": money(&o["subtotal_price"]),
                "totalDiscountsSet": money(&json!("0.0")), "totalRefundedSet": money(&json!("0.0")),
                "displayFinancialStatus": o["financial_status"].as_str().unwrap_or_default().to_uppercase(),
                "displayFulfillmentStatus": if o["fulfillment_status"].is_null() { "UNFULFILLED" } else { "FULFILLED" },
                "customer": {"id": format!("gid://shopify/Customer/{}", o["customer"]["id"])}});
            out.push_str(&parent.to_string());
            out.push('\n');
            for li in o["line_items"].as_array().into_iter().flatten() {
                let child = json!({"id": format!("gid://shopify/LineItem/{}", li["id"]), "title": li["title"],
                    "name": li["name"], "sku": li["sku"], "quantity": li["quantity"],
                    "originalUnitPriceSet": money(&li["price"]),
                    "product": {"id": format!("gid://shopify/Product/{}", li["product_id"])},
                    "variant": {"id": format!("gid://shopify/ProductVariant/{}", li["variant_id"])},
                    "__parentId": gid});
                out.push_str(&child.to_string());
                out.push('\n');
            }
        }
        "products" => {
            let p = data::product(i);
            let gid = p["admin_graphql_api_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let parent = json!({"id": gid, "title": p["title"], "vendor": p["vendor"],
                "productType": p["product_type"], "status": p["status"].as_str().unwrap_or_default().to_uppercase(),
                "createdAt": p["created_at"], "updatedAt": p["updated_at"]});
            out.push_str(&parent.to_string());
            out.push('\n');
            for v in p["variants"].as_array().into_iter().flatten() {
                let child = json!({"id": format!("gid://shopify/ProductVariant/{}", v["id"]), "title": v["title"],
                    "sku": v["sku"], "price": v["price"], "inventoryQuantity": v["inventory_quantity"],
                    "__parentId": gid});
                out.push_str(&child.to_string());
                out.push('\n');
            }
        }
        _ => {
            let c = data::customer(i);
            let line = json!({"id": c["admin_graphql_api_id"], "email": c["email"],
                "firstName": c["first_name"], "lastName": c["last_name"],
                "numberOfOrders": c["orders_count"].to_string(),
                "amountSpent": {"amount": c["total_spent"], "currencyCode": "EUR"},
                "createdAt": c["created_at"], "updatedAt": c["updated_at"]});
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
}

/// A bulk result file from disk, streamed in 256 KiB pieces.
async fn served_file(path: std::path::PathBuf) -> Response {
    use tokio::io::AsyncReadExt;
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return (StatusCode::NOT_FOUND, "NoSuchKey").into_response();
    };
    let stream = futures::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/jsonl"),
    );
    response
}

/// Writes `count` objects of `resource` (`orders`, …) to `out` as Shopify's bulk result:
/// the lines [`lines`] gives, a parent then its children with `__parentId`. Answers the
/// number of lines written.
pub fn write_file(
    resource: &str,
    count: usize,
    out: &mut impl std::io::Write,
) -> std::io::Result<u64> {
    let mut piece = String::new();
    let mut total = 0u64;
    for i in 0..count {
        lines(resource, i, &mut piece);
        if i % 1000 == 999 || i + 1 == count {
            total += piece.matches('\n').count() as u64;
            out.write_all(piece.as_bytes())?;
            piece.clear();
        }
    }
    Ok(total)
}

/// `GET /bulk/{n}.jsonl`: streamed in pieces of 100 objects; when `cut_bulk_after_lines` is
/// set, the connection breaks after that many lines (once).
pub async fn file(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let (bulk, cut, deleted, from_file) = {
        let mut state = shared.lock();
        state.log.push(format!("GET bulk/{name}"));
        let n: u64 = name.trim_end_matches(".jsonl").parse().unwrap_or(0);
        let Some(b) = state.bulks.iter().find(|b| b.n == n).cloned() else {
            return (StatusCode::NOT_FOUND, "NoSuchKey").into_response();
        };
        let from_file = state.bulk_files.get(&b.resource).cloned();
        (
            b,
            state.cut_bulk_after_lines.take(),
            state.deleted.clone(),
            from_file,
        )
    };
    if let Some(path) = from_file {
        return served_file(path).await;
    }
    let count = match bulk.resource.as_str() {
        "orders" => shared.counts.orders,
        "products" => shared.counts.products,
        _ => shared.counts.customers,
    };
    let min = bulk.updated_min;
    let resource = bulk.resource.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut sent_lines = 0usize;
        let mut piece = String::new();
        for i in 0..count {
            if min.is_some_and(|m| data::updated_at_ms(i) < m) {
                continue;
            }
            let id = match resource.as_str() {
                "orders" => 5_000_000_000u64,
                "products" => 7_000_000_000u64,
                _ => 6_000_000_000u64,
            } + i as u64;
            if deleted.contains(&id) {
                continue;
            }
            lines(&resource, i, &mut piece);
            if i % 100 == 99 {
                let n = piece.lines().count();
                if cut.is_some_and(|c| sent_lines + n > c) {
                    let keep: String = piece
                        .lines()
                        .take(cut.unwrap_or(0) - sent_lines)
                        .map(|l| format!("{l}\n"))
                        .collect();
                    let _ = tx.send(Ok(keep)).await;
                    // The break resets the connection, and a reset discards whatever the
                    // client has not read yet: give it the kept lines first, so the cut
                    // lands after them and not anywhere before.
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    let _ = tx
                        .send(Err(std::io::Error::other("connection reset")))
                        .await;
                    return;
                }
                sent_lines += n;
                if tx.send(Ok(std::mem::take(&mut piece))).await.is_err() {
                    return;
                }
            }
        }
        let _ = tx.send(Ok(piece)).await;
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/jsonl"),
    );
    response
}
