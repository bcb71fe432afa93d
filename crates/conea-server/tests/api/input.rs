//! What the API refuses at its edge, the same on SQLite and PostgreSQL: text holding
//! U+0000 (PostgreSQL cannot store it) in any JSON field or query parameter, before any
//! service or store sees it; a JSON body with data after its value; a cursor no list made.

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
