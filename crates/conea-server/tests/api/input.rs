//! What the API refuses at its edge, the same on SQLite and PostgreSQL: text holding
//! U+0000 (PostgreSQL cannot store it) in any JSON field or query parameter, before any
//! service or store sees it; a JSON body with data after its value; a cursor no list made;
//! request heads hyper itself refuses (400, 414, 431), which still carry the error body.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_testkit::{backend_tests, Backend, TestApp};
use serde_json::json;

backend_tests!(
    text_with_nul_is_refused_with_400_naming_the_field,
    trailing_data_after_a_json_body_is_invalid_json,
    a_cursor_that_no_list_made_is_400_not_an_empty_page,
);

async fn text_with_nul_is_refused_with_400_naming_the_field(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("CONEA_INCIDENT_DETECTORS", "none")]).await else {
        return;
    };
    let owner = app.owner().to_owned();
    let org = app.client.get("/v1/auth/verify", Some(&owner)).await.body["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        (
            "/v1/api-keys",
            Some(owner.as_str()),
            json!({"name": "a\u{0}b", "permissions": ["data:read"]}),
            "name",
        ),
        (
            "/v1/users",
            Some(owner.as_str()),
            json!({"email": "n@example.com", "password": "password1", "name": "N\u{0}"}),
            "name",
        ),
        (
            "/v1/organizations",
            Some(owner.as_str()),
            json!({"slug": "nul", "name": "x\u{0}"}),
            "name",
        ),
        (
            "/v1/incidents",
            Some(owner.as_str()),
            json!({"title": "t\u{0}", "severity": "high"}),
            "title",
        ),
        (
            "/v1/data/process",
            Some(owner.as_str()),
            json!({"operation": "orders\u{0}summary"}),
            "operation",
        ),
        (
            "/v1/auth/login",
            None,
            json!({"email": "a\u{0}@example.com", "password": "password1"}),
            "email",
        ),
        (
            "/v1/api-keys",
            Some(owner.as_str()),
            json!({"name": "k", "permissions": ["data:read", "x\u{0}"]}),
            "permissions[1]",
        ),
    ];
    for (path, cred, body, param) in cases {
        assert!(body.to_string().contains("\\u0000"));
        let r = app.client.post(path, cred, body).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(
            r.body["error"]["details"]["param"], param,
            "{path}: {}",
            r.text
        );
    }
    let path = format!("/v1/organizations/{org}/members?cursor=a%00b");
    let r = app.client.get(&path, Some(&owner)).await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "cursor", "{}", r.text);
    // The escaped backslash followed by `u0000` is plain text, not U+0000.
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(&owner),
            json!({"name": "back\\u0000slash", "permissions": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn trailing_data_after_a_json_body_is_invalid_json(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    for body in [
        r#"{"name": "k", "permissions": []} junk"#,
        r#"{"name": "k", "permissions": []}{"name": "again"}"#,
    ] {
        let resp = app
            .client
            .http()
            .post(app.client.url("/v1/api-keys"))
            .bearer_auth(app.owner())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        conea_testkit::Client::read(resp)
            .await
            .assert_error(400, "invalid_json");
    }
    // Whitespace after the value is fine.
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/api-keys"))
        .bearer_auth(app.owner())
        .header("content-type", "application/json")
        .body("{\"name\": \"k\", \"permissions\": []}\n  ")
        .send()
        .await
        .unwrap();
    assert_eq!(conea_testkit::Client::read(resp).await.status, 201);
}

async fn a_cursor_that_no_list_made_is_400_not_an_empty_page(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let r = app
        .client
        .get("/v1/jobs?cursor=garbage", Some(app.owner()))
        .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "cursor");
    let r = app.client.get("/v1/jobs?limit=1", Some(app.owner())).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Sends `request` on a fresh connection and reads the whole answer (the server closes it).
async fn raw_exchange(app: &TestApp, what: &str, request: &[u8]) -> (String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base_url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it read all of an oversized head.
    let _ = s.write_all(request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "{what}: the server neither answered nor closed: {}",
        String::from_utf8_lossy(&answer)
    );
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    (head.to_ascii_lowercase(), body)
}

#[tokio::test]
async fn request_heads_hyper_refuses_answer_with_the_error_body() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let long_uri = format!(
        "GET /livez?q={} HTTP/1.1\r\nConnection: close\r\nHost: c\r\n\r\n",
        "a".repeat(70_000)
    );
    let many_headers = format!(
        "GET /livez HTTP/1.1\r\nConnection: close\r\nHost: c\r\n{}\r\n",
        (0..150)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    // hyper refuses a head once its read buffer holds ~408 KiB without the head's end, but
    // one read may fill the buffer's whole capacity, up to about twice that: a 500 kB head
    // that arrived in large enough reads was parsed and answered 200. 2 MB cannot be.
    let huge_header = format!(
        "GET /livez HTTP/1.1\r\nConnection: close\r\nHost: c\r\nX-Big: {}\r\n\r\n",
        "b".repeat(2_000_000)
    );
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        // hyper takes UTF-8 in the path and query: routed, and answered by Conea itself.
        (
            "non-ASCII path",
            "GET /nowhere/\u{e9}t\u{e9} HTTP/1.1\r\nConnection: close\r\nHost: c\r\n\r\n".into(),
            "404",
            "route_not_found",
        ),
        (
            "non-ASCII query",
            "GET /nowhere?q=\u{65e5}\u{672c} HTTP/1.1\r\nConnection: close\r\nHost: c\r\n\r\n"
                .into(),
            "404",
            "route_not_found",
        ),
        (
            "control byte in the path",
            b"GET /livez\x7f HTTP/1.1\r\nConnection: close\r\nHost: c\r\n\r\n".to_vec(),
            "400",
            "malformed_request",
        ),
        (
            "space in the query",
            b"GET /livez?q=a b HTTP/1.1\r\nConnection: close\r\nHost: c\r\n\r\n".to_vec(),
            "400",
            "malformed_request",
        ),
        (
            "malformed request line",
            b"GET\x01 / HTTP/1.1\r\nConnection: close\r\nHost: c\r\n\r\n".to_vec(),
            "400",
            "malformed_request",
        ),
        (
            "header without a colon",
            b"GET /livez HTTP/1.1\r\nHost c\r\n\r\n".to_vec(),
            "400",
            "malformed_request",
        ),
        ("URI too long", long_uri.into_bytes(), "414", "uri_too_long"),
        (
            "too many headers",
            many_headers.into_bytes(),
            "431",
            "request_headers_too_large",
        ),
        (
            "head too large",
            huge_header.into_bytes(),
            "431",
            "request_headers_too_large",
        ),
    ];
    for (what, request, status, code) in cases {
        let (head, body) = raw_exchange(&app, what, &request).await;
        assert!(
            head.starts_with(&format!("http/1.1 {status} ")),
            "{what}: {head}"
        );
        assert!(
            head.contains("content-type: application/json"),
            "{what}: {head}"
        );
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        let kind = if status == "404" {
            "not_found_error"
        } else {
            "invalid_request_error"
        };
        assert_eq!(body["error"]["type"], kind, "{what}");
        let id = body["error"]["request_id"].as_str().unwrap_or_default();
        assert!(id.starts_with("req_"), "{what}: {body}");
        assert!(
            head.contains(&format!("x-request-id: {}", id.to_ascii_lowercase())),
            "{what}: {head}"
        );
    }
    // The server still serves well-formed requests (and Conea's own 400s are untouched).
    let r = app
        .client
        .get("/v1/jobs?cursor=garbage", Some(app.owner()))
        .await;
    r.assert_error(400, "invalid_parameter");
}
