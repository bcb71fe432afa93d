//! The fake's GraphQL endpoint: `shop { name }` (cost 1) and a `products(first:, after:)`
//! connection (requested cost `first + 2`, actual `returned + 2`), with cost accounting and
//! `THROTTLED` answers.

use super::data;
use super::{admit, respond, server_error, Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

pub fn handle(shared: &Shared, headers: &HeaderMap, body: &str) -> Response {
    let now = shared.now();
    let mut state = shared.lock();
    let (request_id, refused) = admit(&mut state, "POST graphql.json".into(), headers);
    let out = vec![("X-Request-Id", request_id)];
    if let Some((status, body)) = refused {
        return respond(status, out, &body);
    }
    if state.forced_429s > 0 {
        state.forced_429s -= 1;
        let mut out = out;
        out.push(("Retry-After", "2.0".into()));
        return respond(
            StatusCode::TOO_MANY_REQUESTS,
            out,
            &json!({"errors": "Throttled"}),
        );
    }
    if let Some((status, body)) = server_error(&mut state) {
        return respond(status, out, &body);
    }
    let request: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => {
            return respond(
                StatusCode::BAD_REQUEST,
                out,
                &json!({"errors": "Invalid JSON"}),
            )
        }
    };
    let query = request["query"].as_str().unwrap_or_default();
    let vars = &request["variables"];
    let (requested, data) = if query.contains("products") {
        let first = vars["first"].as_u64().unwrap_or(10).min(250) as usize;
        let start = vars["after"]
            .as_str()
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .map_or(0, |i| i + 1);
        (
            first as f64 + 2.0,
            products(shared.counts.products, start, first),
        )
    } else if query.contains("shop") {
        (
            1.0,
            json!({"shop": {"name": "Fake Shop", "myshopifyDomain": super::SHOP}}),
        )
    } else {
        let errors = json!([{"message": "Field 'nope' doesn't exist on type 'QueryRoot'",
            "extensions": {"code": "undefinedField"}}]);
        return respond(StatusCode::OK, out, &json!({"errors": errors}));
    };
    let returned = data["products"]["edges"].as_array().map_or(0, Vec::len);
    let actual = if data.get("products").is_some() {
        returned as f64 + 2.0
    } else {
        requested
    };
    let charged = state.graphql.try_charge(now, requested, actual);
    let throttle_status = json!({
        "maximumAvailable": state.graphql.max,
        "currentlyAvailable": state.graphql.available(now),
        "restoreRate": state.graphql.restore_per_s,
    });
    if !charged {
        state.graphql_throttled += 1;
        let body = json!({
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": null,
                "throttleStatus": throttle_status}}
        });
        return respond(StatusCode::OK, out, &body);
    }
    let body = json!({
        "data": data,
        "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
            "throttleStatus": throttle_status}}
    });
    respond(StatusCode::OK, out, &body)
}

fn products(count: usize, start: usize, first: usize) -> Value {
    let end = (start + first).min(count);
    let edges: Vec<Value> = (start..end)
        .map(|i| {
            let p = data::product(i);
            json!({
                "cursor": URL_SAFE_NO_PAD.encode(i.to_string()),
                "node": {"id": p["admin_graphql_api_id"], "title": p["title"], "updatedAt": p["updated_at"]}
            })
        })
        .collect();
    let end_cursor = edges
        .last()
        .map(|e| e["cursor"].clone())
        .unwrap_or(Value::Null);
    json!({"products": {"edges": edges, "pageInfo": {"hasNextPage": end < count, "endCursor": end_cursor}}})
}
