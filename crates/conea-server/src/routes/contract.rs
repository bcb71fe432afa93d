//! The rules every operation of the OpenAPI document obeys, applied once to the document the
//! handlers' annotations build, so that no annotation has to repeat them:
//!
//! - the answers any operation of a kind can give (the middleware's 401/403/429, the body
//!   checks' 400/413/415, the timeout's 504, a lost database's 503, a bug's 500) are listed
//!   with the error schema wherever the annotation does not list them itself;
//! - every text the server accepts refuses U+0000 (a 400 naming the field), so every string
//!   schema without a stricter rule says so with a pattern;
//! - the shop data lists read an empty query value as no value (`?status=` is no filter,
//!   as an HTML form sends it), so their query parameters allow empty values;
//! - operation ids are unique (two handlers named `list` become `api_keys_list`, ...);
//! - an operation that creates a resource links to the operations that take its id.
//!
//! The document is completed as JSON: these rules read paths and methods, which the JSON
//! shows plainly, and the same JSON is served at `/openapi.json` and rendered at `/docs`.

use conea_core::ErrorCode;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The pattern of a text that may hold anything but U+0000.
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// The lists whose query parameters read an empty value as none.
const EMPTY_IS_ABSENT: &[&str] = &["/v1/shop/orders", "/v1/shop/products", "/v1/shop/customers"];

fn allow_empty_values(op: &mut Map<String, Value>) {
    for p in op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if p.get("in").is_some_and(|i| i == "query") {
            p["allowEmptyValue"] = Value::Bool(true);
        }
    }
}

/// Completes `doc` (the annotations' document, as JSON) with the rules above.
pub fn complete(mut doc: Value) -> Value {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if let Some(op) = op.as_object_mut() {
                    add_common_responses(path, method, op);
                    if method == "get" && EMPTY_IS_ABSENT.contains(&path.as_str()) {
                        allow_empty_values(op);
                    }
                    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                        for p in params {
                            if let Some(schema) = p.get_mut("schema") {
                                refuse_nul(schema);
                            }
                        }
                    }
                    if let Some(content) = op
                        .get_mut("requestBody")
                        .and_then(|b| b.get_mut("content"))
                        .and_then(Value::as_object_mut)
                    {
                        for media in content.values_mut() {
                            if let Some(schema) = media.get_mut("schema") {
                                refuse_nul(schema);
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(schemas) = doc
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            // The error body is what Conea answers, not what it accepts.
            if !name.starts_with("Error") {
                refuse_nul(schema);
            }
        }
    }
    unique_operation_ids(&mut doc);
    link_created_resources(&mut doc);
    doc
}

/// Whether the operation sits behind authentication (it names a security requirement).
fn is_protected(op: &Map<String, Value>) -> bool {
    op.get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty())
}

fn add_common_responses(path: &str, method: &str, op: &mut Map<String, Value>) {
    let protected = is_protected(op);
    let has_input = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty())
        || op.contains_key("requestBody");
    let has_body = op.contains_key("requestBody");
    let versioned = path.starts_with("/v1/");
    let mut statuses: Vec<u16> = vec![500, 504];
    if versioned {
        // Every /v1 route is limited (per credential, or per address when public) and may
        // read the database.
        statuses.extend([429, 503]);
    }
    if protected {
        statuses.extend([401, 403]);
    }
    if has_input {
        statuses.push(400);
    }
    if has_body {
        statuses.extend([413, 415]);
    }
    // `DELETE` and `GET` of an id that is not there.
    if path.ends_with('}') && matches!(method, "get" | "delete" | "patch" | "put") {
        statuses.push(404);
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    for status in statuses {
        let key = status.to_string();
        if responses.contains_key(&key) {
            continue;
        }
        responses.insert(
            key,
            json!({
                "description": describe(status),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            }),
        );
    }
}

/// "`code`, `code`": the error codes answered with `status`.
fn describe(status: u16) -> String {
    let codes: Vec<String> = ErrorCode::ALL
        .iter()
        .filter(|c| c.status() == status)
        .map(|c| format!("`{}`", c.as_str()))
        .collect();
    if codes.is_empty() {
        "An error (see `ErrorBody`).".to_owned()
    } else {
        format!("One of {} (see `ErrorBody`).", codes.join(", "))
    }
}

/// Adds the no-NUL pattern to every string schema in `schema` that has no pattern, enum or
/// format of its own (those are stricter already).
fn refuse_nul(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let is_string = match map.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            if is_string
                && !map.contains_key("pattern")
                && !map.contains_key("enum")
                && !map.contains_key("format")
                && !map.contains_key("const")
            {
                map.insert("pattern".to_owned(), Value::String(NO_NUL.to_owned()));
            }
            // Member names are text too (an unknown member is ignored, one with U+0000 is not).
            let is_object =
                map.get("type").is_some_and(|t| t == "object") || map.contains_key("properties");
            if is_object && !map.contains_key("propertyNames") {
                map.insert("propertyNames".to_owned(), json!({"pattern": NO_NUL}));
            }
            for (key, v) in map.iter_mut() {
                // Examples and defaults are values, not schemas.
                if !matches!(
                    key.as_str(),
                    "example" | "examples" | "default" | "enum" | "propertyNames"
                ) {
                    refuse_nul(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(refuse_nul),
        _ => {}
    }
}

/// Renames the operations whose handler names collide (`list`, `get`, ...) to
/// `<first path segment>_<name>` (`api_keys_list`, `schedules_get`).
fn unique_operation_ids(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let mut count: HashMap<String, usize> = HashMap::new();
    for item in paths.values() {
        for op in item.as_object().into_iter().flat_map(|m| m.values()) {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                *count.entry(id.to_owned()).or_default() += 1;
            }
        }
    }
    for (path, item) in paths.iter_mut() {
        let resource = path
            .trim_start_matches("/v1/")
            .split('/')
            .find(|s| !s.is_empty() && !s.starts_with('{'))
            .unwrap_or("root")
            .replace('-', "_");
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            if count.get(id).copied().unwrap_or(0) > 1 {
                let renamed = format!("{resource}_{id}");
                op["operationId"] = Value::String(renamed);
            }
        }
    }
}

/// For each `POST` whose success answer carries the new resource's `id` (or, for 202 jobs,
/// `job_id`), links to every operation on `<the same path>/{id}` and below, and from job
/// acceptances to `/v1/jobs/{id}`.
fn link_created_resources(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    // (path of the collection, its item paths with their first parameter's name)
    let mut item_ops: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for (path, item) in paths.iter() {
        let Some((collection, param)) = first_param(path) else {
            continue;
        };
        for (method, op) in item.as_object().into_iter().flatten() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                item_ops.entry(collection.clone()).or_default().push((
                    id.to_owned(),
                    param.clone(),
                    format!("{method} {path}"),
                ));
            }
        }
    }
    for (path, item) in paths.iter_mut() {
        let Some(post) = item.get_mut("post") else {
            continue;
        };
        let Some(responses) = post.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for (status, field, targets) in [
            ("201", "id", item_ops.get(path.as_str())),
            ("202", "job_id", item_ops.get("/v1/jobs")),
        ] {
            let (Some(response), Some(targets)) = (responses.get_mut(status), targets) else {
                continue;
            };
            let mut links = Map::new();
            for (operation_id, param, _) in targets {
                links.insert(
                    operation_id.clone(),
                    json!({
                        "operationId": operation_id,
                        "parameters": {param: format!("$response.body#/{field}")}
                    }),
                );
            }
            if let Some(r) = response.as_object_mut() {
                r.insert("links".to_owned(), Value::Object(links));
            }
        }
    }
}

/// `/v1/schedules/{id}/run` → (`/v1/schedules`, `id`): the collection a path's first
/// parameter indexes.
fn first_param(path: &str) -> Option<(String, String)> {
    let start = path.find("/{")?;
    let end = path[start..].find('}')? + start;
    Some((path[..start].to_owned(), path[start + 2..end].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "paths": {
                "/v1/things": {
                    "get": {"operationId": "list", "security": [{"bearer": []}],
                            "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                            "responses": {"200": {"description": ""}}},
                    "post": {"operationId": "create", "security": [{"bearer": []}],
                             "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/New"}}}},
                             "responses": {"201": {"description": ""}, "422": {"description": "mine"}}}
                },
                "/v1/things/{id}": {
                    "get": {"operationId": "get", "security": [{"bearer": []}],
                            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                            "responses": {"200": {"description": ""}}}
                },
                "/v1/others": {
                    "get": {"operationId": "list", "responses": {"200": {"description": ""}}}
                },
                "/livez": {"get": {"operationId": "livez", "responses": {"200": {"description": ""}}}}
            },
            "components": {"schemas": {
                "New": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "at": {"type": "string", "format": "date-time"},
                    "role": {"type": "string", "enum": ["a"]}}},
                "ErrorBody": {"type": "object", "properties": {"message": {"type": "string"}}}
            }}
        })
    }

    #[test]
    fn protected_operations_list_the_middlewares_answers_and_keep_their_own() {
        let d = complete(doc());
        let post = &d["paths"]["/v1/things"]["post"]["responses"];
        for s in [
            "400", "401", "403", "413", "415", "429", "500", "503", "504",
        ] {
            assert_eq!(
                post[s]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{s}"
            );
        }
        assert_eq!(post["422"]["description"], "mine");
        assert!(post["401"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("`missing_credentials`")));
        let get = &d["paths"]["/v1/things/{id}"]["get"]["responses"];
        assert!(get["404"].is_object());
        assert!(get.get("413").is_none(), "no body, no 413");
        let public = &d["paths"]["/v1/others"]["get"]["responses"];
        assert!(public.get("401").is_none() && public.get("400").is_none());
        assert!(public["429"].is_object());
        let livez = &d["paths"]["/livez"]["get"]["responses"];
        assert!(livez.get("429").is_none() && livez["500"].is_object());
    }

    #[test]
    fn free_text_refuses_nul_but_stricter_schemas_and_the_error_body_are_left_alone() {
        let d = complete(doc());
        let new = &d["components"]["schemas"]["New"]["properties"];
        assert_eq!(new["name"]["pattern"], NO_NUL);
        assert!(new["at"].get("pattern").is_none());
        assert!(new["role"].get("pattern").is_none());
        assert!(
            d["components"]["schemas"]["ErrorBody"]["properties"]["message"]
                .get("pattern")
                .is_none()
        );
        assert_eq!(
            d["paths"]["/v1/things"]["get"]["parameters"][0]["schema"]["pattern"],
            NO_NUL
        );
    }

    #[test]
    fn colliding_operation_ids_are_prefixed_with_their_resource() {
        let d = complete(doc());
        assert_eq!(
            d["paths"]["/v1/things"]["get"]["operationId"],
            "things_list"
        );
        assert_eq!(
            d["paths"]["/v1/others"]["get"]["operationId"],
            "others_list"
        );
        assert_eq!(d["paths"]["/v1/things"]["post"]["operationId"], "create");
    }

    #[test]
    fn a_created_resource_links_to_the_operations_on_its_id() {
        let d = complete(doc());
        let links = &d["paths"]["/v1/things"]["post"]["responses"]["201"]["links"];
        assert_eq!(links["get"]["operationId"], "get");
        assert_eq!(links["get"]["parameters"]["id"], "$response.body#/id");
    }
}
