//! The fake's REST resources: the listings `products.json`, `customers.json`, `orders.json`,
//! and one object, `products/{id}.json` (404 `{"errors":"Not Found"}` once deleted), also
//! for the objects a test put in the shop (`FakeShopify::put_object`).

use super::data::{self, updated_at_ms};
use super::{admit, respond, respond_text, server_error, Shared, SHOP};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// What a `page_info` cursor carries (opaque to clients: base64 of this JSON).
fn encode_cursor(resource: &str, after: usize, min_ms: Option<i64>, status: &str) -> String {
    let c = json!({"resource": resource, "after": after, "min": min_ms, "status": status});
    URL_SAFE_NO_PAD.encode(c.to_string())
}

fn decode_cursor(text: &str) -> Option<(String, usize, Option<i64>, String)> {
    let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
    let c: Value = serde_json::from_slice(&raw).ok()?;
    Some((
        c["resource"].as_str()?.to_owned(),
        usize::try_from(c["after"].as_u64()?).ok()?,
        c["min"].as_i64(),
        c["status"].as_str()?.to_owned(),
    ))
}

fn bad_request(message: &str) -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, json!({"errors": message}))
}

pub fn handle(
    shared: &Shared,
    file: &str,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let now = shared.now();
    let mut state = shared.lock();
    let mut query: Vec<_> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    query.sort();
    let (request_id, refused) = admit(
        &mut state,
        format!("GET {file}?{}", query.join("&")),
        headers,
    );
    let mut out = vec![("X-Request-Id", request_id)];
    if let Some((status, body)) = refused {
        out.push(("X-Shopify-Shop-Api-Call-Limit", state.rest.header(now)));
        return respond(status, out, &body);
    }
    let forced = state.forced_429s > 0;
    if forced || !state.rest.try_pour(now) {
        if forced {
            state.forced_429s -= 1;
        }
        state.rest_429s += 1;
        out.push(("X-Shopify-Shop-Api-Call-Limit", state.rest.header(now)));
        out.push(("Retry-After", "2.0".into()));
        let body = json!({"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."});
        return respond(StatusCode::TOO_MANY_REQUESTS, out, &body);
    }
    out.push(("X-Shopify-Shop-Api-Call-Limit", state.rest.header(now)));
    if let Some((status, body)) = server_error(&mut state) {
        return respond(status, out, &body);
    }
    let deleted = state.deleted.clone();
    let put = match file.split_once('/') {
        Some((resource, name)) => name
            .strip_suffix(".json")
            .and_then(|id| id.parse::<u64>().ok())
            .filter(|id| !deleted.contains(id))
            .and_then(|id| state.objects.get(&(resource.to_owned(), id)).cloned())
            .map(|object| (resource.trim_end_matches('s').to_owned(), object)),
        None => None,
    };
    drop(state);
    if let Some((singular, object)) = put {
        return respond(StatusCode::OK, out, &json!({ singular: object }));
    }
    if file == "shop.json" {
        return respond_text(StatusCode::OK, out, data::shop_json(SHOP));
    }
    if let Some((name, "count.json")) = file.split_once('/') {
        return count(shared, &deleted, name, params, out);
    }
    let answer = match file.split_once('/') {
        Some((resource, name)) => one(shared, &deleted, resource, name),
        None => list(shared, &deleted, file, params),
    };
    match answer {
        Ok((body, link)) => {
            if let Some(link) = link {
                out.push(("Link", link));
            }
            respond(StatusCode::OK, out, &body)
        }
        Err((status, body)) => respond(status, out, &body),
    }
}

type Listing = Result<(Value, Option<String>), (StatusCode, Value)>;

fn not_found() -> (StatusCode, Value) {
    (StatusCode::NOT_FOUND, json!({"errors": "Not Found"}))
}

type Maker = fn(usize) -> Value;

/// A resource's name, how many objects it has and how object `i` looks.
fn resource(shared: &Shared, name: &str) -> Option<(&'static str, usize, Maker)> {
    Some(match name {
        "products" => ("products", shared.counts.products, data::product),
        "customers" => ("customers", shared.counts.customers, data::customer),
        "orders" => ("orders", shared.counts.orders, data::order),
        _ => return None,
    })
}

fn id_of(object: &Value) -> u64 {
    object["id"].as_u64().unwrap_or_default()
}

/// `GET {resource}/{id}.json`: `{"product": {...}}`, or 404 when absent or deleted.
fn one(shared: &Shared, deleted: &HashSet<u64>, name: &str, file: &str) -> Listing {
    let (resource, count, make) = resource(shared, name).ok_or_else(not_found)?;
    let id: u64 = file
        .strip_suffix(".json")
        .and_then(|id| id.parse().ok())
        .ok_or_else(not_found)?;
    let object = (0..count)
        .map(make)
        .find(|o| id_of(o) == id && !deleted.contains(&id))
        .ok_or_else(not_found)?;
    let singular = resource.trim_end_matches('s');
    Ok((json!({ singular: object }), None))
}

fn list(
    shared: &Shared,
    deleted: &HashSet<u64>,
    file: &str,
    params: &HashMap<String, String>,
) -> Listing {
    let (resource, count, make) = file
        .strip_suffix(".json")
        .and_then(|name| resource(shared, name))
        .ok_or_else(not_found)?;
    let limit = match params.get("limit") {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=250).contains(&n) => n,
            _ => return Err(bad_request("limit - Invalid value.")),
        },
    };
    let (start, min_ms, status) = match params.get("page_info") {
        Some(cursor) => {
            if params
                .keys()
                .any(|k| k != "page_info" && k != "limit" && k != "fields")
            {
                return Err(bad_request("page_info - Invalid value."));
            }
            match decode_cursor(cursor) {
                Some((r, after, min, status)) if r == resource => (after, min, status),
                _ => return Err(bad_request("page_info - Invalid value.")),
            }
        }
        None => {
            let min = match params.get("updated_at_min") {
                None => None,
                Some(t) => match conea_core::clock::parse_rfc3339(t) {
                    Some(ms) => Some(ms),
                    None => return Err(bad_request("updated_at_min - Invalid value.")),
                },
            };
            let status = params
                .get("status")
                .cloned()
                .unwrap_or_else(|| "open".into());
            (0, min, status)
        }
    };
    let keep = |i: &usize| {
        min_ms.is_none_or(|m| updated_at_ms(*i) >= m)
            && (deleted.is_empty() || !deleted.contains(&id_of(&make(*i))))
            && (resource != "orders" || status == "any" || data::order_is_open(*i))
    };
    let mut matching = (start..count).filter(keep);
    let page: Vec<usize> = matching.by_ref().take(limit).collect();
    let has_next = matching.next().is_some();
    // `fields=id`: each object as its id alone, as Shopify answers.
    let only_id = params.get("fields").is_some_and(|f| f == "id");
    let items: Vec<Value> = page
        .iter()
        .map(|i| {
            let o = make(*i);
            if only_id {
                json!({"id": o["id"]})
            } else {
                o
            }
        })
        .collect();
    let url = |cursor: String| {
        format!(
            "<https://{}/admin/api/{}/{file}?limit={limit}&page_info={cursor}>",
            super::SHOP,
            super::VERSION
        )
    };
    let mut links = Vec::new();
    if start > 0 {
        let prev = encode_cursor(resource, start.saturating_sub(limit), min_ms, &status);
        links.push(format!("{}; rel=\"previous\"", url(prev)));
    }
    if let (true, Some(last)) = (has_next, page.last()) {
        links.push(format!(
            "{}; rel=\"next\"",
            url(encode_cursor(resource, last + 1, min_ms, &status))
        ));
    }
    let link = (!links.is_empty()).then(|| links.join(", "));
    Ok((json!({ resource: items }), link))
}

/// `GET {resource}/count.json`: `{"count": N}` with the listing's filters.
fn count(
    shared: &Shared,
    deleted: &HashSet<u64>,
    name: &str,
    params: &HashMap<String, String>,
    out: Vec<(&'static str, String)>,
) -> Response {
    let Some((resource, count, make)) = resource(shared, name) else {
        let (status, body) = not_found();
        return respond(status, out, &body);
    };
    let min = params
        .get("updated_at_min")
        .and_then(|t| conea_core::clock::parse_rfc3339(t));
    let status = params.get("status").map_or("open", String::as_str);
    let n = (0..count)
        .filter(|i| {
            min.is_none_or(|m| updated_at_ms(*i) >= m)
                && (deleted.is_empty() || !deleted.contains(&id_of(&make(*i))))
                && (resource != "orders" || status == "any" || data::order_is_open(*i))
        })
        .count();
    respond(StatusCode::OK, out, &json!({ "count": n }))
}
