//! The request pipeline and operational endpoints through the real server: request ids,
//! error bodies for unknown routes, wrong methods, bad JSON and oversized bodies, probes,
//! metrics and the OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_testkit::{backend_tests, Backend, Client, TestApp};
use serde_json::json;

backend_tests!(
    every_answer_says_nosniff_and_credentials_are_never_cached,
    request_id_is_echoed_when_sane_and_generated_otherwise,
    unknown_route_and_wrong_method_answer_with_error_body,
    bad_json_wrong_type_and_wrong_media_type_are_named,
    oversized_body_answers_413_with_error_body,
    probes_report_database_and_readiness_follows_migrations,
    metrics_count_requests_by_route_template,
);

async fn request_id_is_echoed_when_sane_and_generated_otherwise(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let send = |id: &'static str| {
        app.client
            .http()
            .get(app.client.url("/livez"))
            .header("X-Request-Id", id)
            .send()
    };
    let r = send("trace-abc_123").await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-abc_123");
    let r = send("has spaces in it").await.unwrap();
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(generated.starts_with("req_"), "{generated}");
    let long: &'static str = Box::leak("x".repeat(129).into_boxed_str());
    let r = send(long).await.unwrap();
    assert!(r.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    // The error body carries the same id as the header.
    let r = app
        .client
        .http()
        .get(app.client.url("/v1/auth/verify"))
        .header("X-Request-Id", "my-trace-1")
        .send()
        .await
        .unwrap();
    let r = Client::read(r).await;
    r.assert_error(401, "missing_credentials");
    assert_eq!(r.body["error"]["request_id"], "my-trace-1");
}

async fn unknown_route_and_wrong_method_answer_with_error_body(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let r = app.client.get("/v1/nothing-here", Some(app.owner())).await;
    r.assert_error(404, "route_not_found");
    assert_eq!(r.body["error"]["type"], "not_found_error");
    app.client
        .post("/livez", None, json!({}))
        .await
        .assert_error(405, "method_not_allowed");
    app.client
        .delete("/v1/auth/verify", Some(app.owner()))
        .await
        .assert_error(405, "method_not_allowed");
    app.client
        .get("/api/v1/nothing", None)
        .await
        .assert_error(404, "route_not_found");
}

async fn bad_json_wrong_type_and_wrong_media_type_are_named(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let raw = |body: &'static str, ct: &'static str| {
        app.client
            .http()
            .post(app.client.url("/v1/api-keys"))
            .bearer_auth(app.owner())
            .header("content-type", ct)
            .body(body)
            .send()
    };
    Client::read(raw("{\"name\": ", "application/json").await.unwrap())
        .await
        .assert_error(400, "invalid_json");
    let r = Client::read(
        raw("{\"name\": 1, \"permissions\": []}", "application/json")
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "name");
    let r = Client::read(
        raw(
            "{\"name\": \"x\", \"permissions\": [1]}",
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(r.body["error"]["details"]["param"], "permissions[0]");
    Client::read(
        raw("name=x", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
    )
    .await
    .assert_error(415, "unsupported_media_type");
}

async fn oversized_body_answers_413_with_error_body(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("CONEA_MAX_BODY_BYTES", "2048")]).await else {
        return;
    };
    let big = "x".repeat(4096);
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": big, "permissions": []}),
        )
        .await;
    r.assert_error(413, "payload_too_large");
    // Under the limit the same route works.
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "small", "permissions": []}),
        )
        .await;
    assert_eq!(r.status, 201);
}

async fn probes_report_database_and_readiness_follows_migrations(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let r = app.client.get("/livez", None).await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("ok"))
    );
    assert_eq!(app.client.get("/readyz", None).await.status, 200);
    for path in ["/health", "/v1/health", "/api/v1/health"] {
        let h = app.client.get(path, None).await;
        assert_eq!(h.status, 200, "{path}");
        assert_eq!(h.body["status"], "ok", "{path}: {}", h.text);
        assert_eq!(h.body["version"], env!("CARGO_PKG_VERSION"));
        let db = &h.body["checks"]["database"];
        assert_eq!(db["status"], "ok");
        assert_eq!(
            db["backend"],
            if b == Backend::Sqlite {
                "sqlite"
            } else {
                "postgres"
            }
        );
        assert!(db["latency_ms"].is_number());
        assert_eq!(db["pool"]["max"], 5);
        assert_eq!(h.body["checks"]["redis"]["status"], "disabled");
        assert!(!h.text.contains(conea_testkit::JWT_SECRET));
    }
    // A database whose schema is behind the binary is not ready, and says why.
    conea_store::with_pool!(app.state.store().db(), |p| {
        sqlx::query::<DB>("DELETE FROM _sqlx_migrations")
            .execute(p)
            .await
            .map(drop)
    })
    .unwrap();
    let r = app.client.get("/readyz", None).await;
    r.assert_error(503, "not_ready");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("conea migrate"),
        "{}",
        r.text
    );
    for path in ["/health", "/v1/health", "/api/v1/health"] {
        let h = app.client.get(path, None).await;
        assert_eq!(
            (h.status.as_u16(), h.body["status"].as_str()),
            (503, Some("down")),
            "{path}: down is a 503, as /readyz answers"
        );
    }
}

async fn metrics_count_requests_by_route_template(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let org = app
        .client
        .get("/v1/auth/verify", Some(app.owner()))
        .await
        .body["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.client
        .get(&format!("/v1/organizations/{org}"), Some(app.owner()))
        .await;
    app.client.get("/v1/auth/verify", None).await;
    let m = app
        .client
        .http()
        .get(app.client.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains(
            r#"conea_http_requests_total{method="GET",route="/v1/auth/verify",status="200"} 1"#
        ),
        "{m}"
    );
    // The process's CPU time, a counter that has moved by the time requests were served.
    let cpu = m
        .lines()
        .find_map(|l| l.strip_prefix("conea_process_cpu_seconds_total "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(cpu.is_some_and(|c| c > 0.0), "process CPU seconds: {m}");
    // CPU time per route template: the time of the handler's polls.
    let route_cpu = m
        .lines()
        .find_map(|l| l.strip_prefix(r#"conea_http_cpu_seconds_total{route="/v1/auth/verify"} "#))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(route_cpu.is_some_and(|c| c > 0.0), "per-route CPU: {m}");
    assert!(m.contains("conea_cpu_limit_cores "), "{m}");
    assert!(m.contains(
        r#"conea_http_requests_total{method="GET",route="/v1/auth/verify",status="401"} 1"#
    ));
    assert!(
        m.contains(r#"route="/v1/organizations/{id}""#),
        "route template, not the raw id"
    );
    assert!(!m.contains(&org), "raw ids never become labels");
    for name in [
        "conea_http_request_duration_seconds_bucket",
        "conea_db_pool_connections",
        "conea_db_pool_max 5",
        "conea_db_slow_statements_total",
        "conea_db_statements_total",
        "conea_auth_cache_entries",
        "conea_build_info",
    ] {
        assert!(m.contains(name), "metrics lack {name}");
    }
}

#[tokio::test]
async fn openapi_document_describes_every_route_and_the_error_body() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let doc = app.client.get("/openapi.json", None).await.body;
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/livez", vec!["get"]),
        ("/readyz", vec!["get"]),
        ("/health", vec!["get"]),
        ("/metrics", vec!["get"]),
        ("/v1/auth/login", vec!["post"]),
        ("/v1/auth/verify", vec!["get"]),
        ("/v1/organizations", vec!["post"]),
        ("/v1/organizations/{id}", vec!["get"]),
        ("/v1/organizations/{id}/members", vec!["get"]),
        (
            "/v1/organizations/{id}/members/{user_id}",
            vec!["put", "delete"],
        ),
        ("/v1/users", vec!["post"]),
        ("/v1/api-keys", vec!["get", "post"]),
        ("/v1/api-keys/{id}", vec!["delete"]),
    ] {
        for m in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(m)).is_some(),
                "openapi lacks {m} {path}"
            );
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let verify_401 = &doc["paths"]["/v1/auth/verify"]["get"]["responses"]["401"]["description"];
    assert!(verify_401.as_str().unwrap().contains("token_expired"));
}

#[tokio::test]
async fn docs_page_renders_every_operation_of_the_document_without_script() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let doc = app.client.get("/openapi.json", None).await.body;
    let page = reqwest::get(format!("{}/docs", app.base_url))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script"));
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(
            html.contains(&format!("<code>{path}</code>")),
            "/docs lacks {path}"
        );
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            assert!(
                html.contains(&format!("id=\"op-{id}\"")),
                "/docs lacks {id}"
            );
        }
    }
}

async fn every_answer_says_nosniff_and_credentials_are_never_cached(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    for (path, status) in [
        ("/livez", 200),
        ("/v1/nowhere", 404),
        ("/v1/auth/verify", 401),
    ] {
        let r = app.client.get(path, None).await;
        assert_eq!(r.status.as_u16(), status, "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
    let key = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "k", "permissions": []}),
        )
        .await;
    assert_eq!(key.status, 201, "{}", key.text);
    assert_eq!(
        key.header("cache-control"),
        Some("no-store"),
        "a new key's secret"
    );
    let user = app
        .client
        .post(
            "/v1/users",
            Some(app.owner()),
            json!({"email": "ned@example.com", "password": "password1"}),
        )
        .await;
    assert_eq!(user.status, 201, "{}", user.text);
    let login = app
        .client
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "ned@example.com", "password": "password1"}),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.header("cache-control"), Some("no-store"), "a token");
    assert_eq!(login.header("x-content-type-options"), Some("nosniff"));
}
