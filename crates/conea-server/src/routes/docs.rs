//! `GET /docs`: the API reference, rendered on the server from the same completed document
//! `/openapi.json` serves. One HTML page with no script, no style sheet from elsewhere and
//! nothing fetched at run time: operations grouped by tag (method, path, summary,
//! permissions, parameters with their schemas, request body, every status with its
//! description), then every schema as JSON.

use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;
use std::collections::BTreeMap;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The page's own rules: inline styles only from this page's `<style>` (hashed would need a
/// build step; `unsafe-inline` for style alone, never for script).
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The rendered page for `doc` (built once at start).
pub fn render(doc: &Value) -> String {
    page(doc).into_string()
}

/// The answer to `GET /docs`.
pub fn response(html: Bytes) -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, CSP),
            (CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    op: &'a Value,
}

fn page(doc: &Value) -> Markup {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let version = doc["info"]["version"].as_str().unwrap_or("");
    let mut by_tag: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
                    by_tag
                        .entry(tag)
                        .or_default()
                        .push(Operation { method, path, op });
                }
            }
        }
    }
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " " (version) " — API reference" }
                style { (STYLE) }
            }
            body {
                header {
                    h1 { (title) " " small { (version) } }
                    p { (doc["info"]["description"].as_str().unwrap_or("")) }
                    p { "The machine-readable document: " a href="/openapi.json" { "/openapi.json" } "." }
                }
                nav aria-label="Operations" {
                    ul {
                        @for (tag, ops) in &by_tag {
                            li {
                                a href={ "#tag-" (anchor(tag)) } { (tag) }
                                " (" (ops.len()) ")"
                            }
                        }
                        li { a href="#schemas" { "Schemas" } }
                    }
                }
                main {
                    @for (tag, ops) in &by_tag {
                        section id={ "tag-" (anchor(tag)) } {
                            h2 { (tag) }
                            @for o in ops { (operation(o)) }
                        }
                    }
                    section id="schemas" {
                        h2 { "Schemas" }
                        @if let Some(schemas) = doc["components"]["schemas"].as_object() {
                            @for (name, schema) in schemas {
                                details id={ "schema-" (name) } {
                                    summary { code { (name) } }
                                    pre { (pretty(schema)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn operation(o: &Operation) -> Markup {
    let op = o.op;
    let id = op["operationId"].as_str().unwrap_or("");
    html! {
        article id={ "op-" (id) } {
            h3 {
                span class={ "method " (o.method) } { (o.method.to_uppercase()) }
                " " code { (o.path) }
            }
            @if let Some(s) = op["summary"].as_str() { p { (s) } }
            @if let Some(d) = op["description"].as_str() { p class="description" { (d) } }
            @if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                p class="auth" { "Needs a bearer token or API key (`Authorization: Bearer …` or `X-API-Key`)." }
            }
            @if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                table {
                    caption { "Parameters" }
                    thead { tr { th { "Name" } th { "In" } th { "Required" } th { "Schema" } th { "Description" } } }
                    tbody {
                        @for p in params {
                            tr {
                                td { code { (p["name"].as_str().unwrap_or("")) } }
                                td { (p["in"].as_str().unwrap_or("")) }
                                td { @if p["required"] == Value::Bool(true) { "yes" } @else { "no" } }
                                td { code { (schema_line(&p["schema"])) } }
                                td { (p["description"].as_str().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
            @if let Some(content) = op["requestBody"]["content"].as_object() {
                h4 { "Request body" }
                ul {
                    @for (media, body) in content {
                        li { code { (media) } ": " code { (schema_line(&body["schema"])) } }
                    }
                }
            }
            h4 { "Responses" }
            table {
                thead { tr { th { "Status" } th { "Description" } th { "Body" } } }
                tbody {
                    @if let Some(responses) = op["responses"].as_object() {
                        @for (status, r) in responses {
                            tr {
                                td { (status) }
                                td { (r["description"].as_str().unwrap_or("")) }
                                td {
                                    @if let Some(content) = r["content"].as_object() {
                                        @for (media, body) in content {
                                            code { (media) } " " code { (schema_line(&body["schema"])) } br;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A one-line view of a schema: its reference's name, or its JSON.
fn schema_line(schema: &Value) -> String {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r.rsplit('/').next().unwrap_or(r).to_owned(),
        None => {
            let text = serde_json::to_string(schema).unwrap_or_default();
            // The time zone enum alone is 600 names: shown in full in its schema.
            if text.len() > 400 {
                format!("{}…", text.chars().take(400).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn anchor(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;line-height:1.4}\
code,pre{font-family:ui-monospace,monospace}pre{background:#f5f5f5;padding:.5rem;overflow:auto}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}\
article{border-top:1px solid #ccc;padding:.5rem 0}.method{font-weight:bold;text-transform:uppercase}\
.get{color:#1a5fb4}.post{color:#26a269}.put,.patch{color:#c64600}.delete{color:#c01c28}\
td code{word-break:break-all}";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_operation_and_schema_of_the_document_is_on_the_page_with_its_text_escaped() {
        let doc = json!({
            "info": {"title": "Conea API", "version": "9.9.9", "description": "d"},
            "paths": {
                "/v1/things/{id}": {
                    "get": {"tags": ["things"], "operationId": "get_thing", "summary": "A <thing>.",
                            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                                          "404": {"description": "`not_found`"}}}
                }
            },
            "components": {"schemas": {"Thing": {"type": "object"}}}
        });
        let page = render(&doc);
        assert!(page.contains("Conea API 9.9.9") || page.contains("Conea API <small>9.9.9"));
        assert!(page.contains("/v1/things/{id}"));
        assert!(page.contains("A &lt;thing&gt;."), "summaries are escaped");
        assert!(page.contains("id=\"op-get_thing\""));
        assert!(page.contains("id=\"schema-Thing\""));
        assert!(page.contains("<td>404</td>"));
        assert!(!page.contains("<script"), "no script on the page");
    }
}
