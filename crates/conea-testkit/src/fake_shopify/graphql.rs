//! The fake's GraphQL endpoint: `shop { name }` (cost 1), a `products(first:, after:)`
//! connection (requested cost `first + 2`, actual `returned + 2`), and the app's webhook
//! subscriptions (`webhookSubscriptions(first:, after:)`, `webhookSubscriptionCreate`,
//! `webhookSubscriptionDelete`, 10 points per mutation, refusals as `userErrors`), with
//! cost accounting and `THROTTLED` answers.

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
    let base_url = state.base_url.clone();
    let (requested, data) = if query.contains("bulkOperationRunQuery") {
        (10.0, super::bulk::run_query(shared, &mut state, vars))
    } else if query.contains("node(id: $id)") {
        let b = super::bulk::check(&mut state, &base_url, vars["id"].as_str());
        (1.0, json!({ "node": b }))
    } else if query.contains("currentBulkOperation") {
        let b = super::bulk::check(&mut state, &base_url, None);
        (1.0, json!({ "currentBulkOperation": b }))
    } else if query.contains("webhookSubscriptionCreate") {
        (10.0, subscription_create(&mut state, vars))
    } else if query.contains("webhookSubscriptionDelete") {
        (10.0, subscription_delete(&mut state, vars))
    } else if query.contains("webhookSubscriptions") {
        let first = vars["first"].as_u64().unwrap_or(10).min(250) as usize;
        (first as f64 + 2.0, subscription_list(&state, first, vars))
    } else if query.contains("products") {
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

/// A subscription as the GraphQL API shows it.
fn subscription_node(s: &super::FakeSubscription) -> Value {
    json!({"id": s.id, "topic": s.topic, "format": "JSON",
        "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": s.callback_url}})
}

fn user_error(field: &[&str], message: &str) -> Value {
    json!({"field": field, "message": message})
}

fn subscription_create(state: &mut super::FakeState, vars: &Value) -> Value {
    let topic = vars["topic"].as_str().unwrap_or_default().to_owned();
    let url = vars["webhookSubscription"]["callbackUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refuse = |e: Value| json!({"webhookSubscriptionCreate": {"webhookSubscription": null, "userErrors": [e]}});
    if !url.starts_with("https://") {
        return refuse(user_error(
            &["webhookSubscription", "callbackUrl"],
            "Address protocol is not supported: use https",
        ));
    }
    if state
        .subscriptions
        .iter()
        .any(|s| s.topic == topic && s.callback_url == url)
    {
        return refuse(user_error(
            &["webhookSubscription", "callbackUrl"],
            "Address for this topic has already been taken",
        ));
    }
    let s = state.add_subscription(&topic, &url);
    json!({"webhookSubscriptionCreate": {"webhookSubscription": subscription_node(&s), "userErrors": []}})
}

fn subscription_delete(state: &mut super::FakeState, vars: &Value) -> Value {
    let id = vars["id"].as_str().unwrap_or_default();
    let before = state.subscriptions.len();
    state.subscriptions.retain(|s| s.id != id);
    if state.subscriptions.len() == before {
        return json!({"webhookSubscriptionDelete": {"deletedWebhookSubscriptionId": null,
            "userErrors": [user_error(&["id"], "Webhook subscription does not exist")]}});
    }
    json!({"webhookSubscriptionDelete": {"deletedWebhookSubscriptionId": id, "userErrors": []}})
}

fn subscription_list(state: &super::FakeState, first: usize, vars: &Value) -> Value {
    let start = vars["after"]
        .as_str()
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<usize>().ok())
        .map_or(0, |i| i + 1);
    let all = &state.subscriptions;
    let end = (start + first).min(all.len());
    let edges: Vec<Value> = (start..end)
        .map(|i| json!({"cursor": URL_SAFE_NO_PAD.encode(i.to_string()), "node": subscription_node(&all[i])}))
        .collect();
    let end_cursor = edges
        .last()
        .map(|e| e["cursor"].clone())
        .unwrap_or(Value::Null);
    json!({"webhookSubscriptions": {"edges": edges,
        "pageInfo": {"hasNextPage": end < all.len(), "endCursor": end_cursor}}})
}
