//! Authentication: every 401 code of `GET /v1/auth/verify`, login and its throttling, and
//! revocation on the same and on another replica. Each test runs on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conea_core::auth::jwt::{self, Claims, JwtSettings};
use conea_core::Clock;
use conea_testkit::{backend_tests, Backend, TestApp, JWT_SECRET};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::time::Duration;

fn settings() -> JwtSettings {
    JwtSettings {
        secret: JWT_SECRET.as_bytes().to_vec(),
        algorithms: vec![Algorithm::HS256],
        issuer: Some("conea".into()),
        audience: Some("conea-api".into()),
        ttl: Duration::from_secs(3600),
        leeway: Duration::from_secs(60),
    }
}

async fn user_token(app: &TestApp, email: &str, role: &str) -> (String, String) {
    let r = app
        .client
        .post(
            "/v1/users",
            Some(app.owner()),
            json!({"email": email, "password": "correct horse", "role": role}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let user_id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .client
        .post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": "correct horse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3600);
    (user_id, r.body["access_token"].as_str().unwrap().to_owned())
}

fn sign(claims: &Claims, alg: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

backend_tests!(
    failed_logins_throttle_the_address_for_the_account_not_the_account,
    owner_key_verifies_with_every_permission,
    missing_and_malformed_credentials_have_their_codes,
    login_token_verifies_as_user_with_role_permissions,
    tampered_other_algorithm_and_none_tokens_are_refused_by_code,
    expired_and_not_yet_valid_tokens_name_times_and_clock_skew,
    wrong_audience_and_issuer_are_refused,
    unknown_revoked_and_expired_keys_have_their_codes,
    revoked_key_is_refused_on_next_request_on_every_replica,
    wrong_password_is_refused_then_throttled_with_retry_after,
);

async fn owner_key_verifies_with_every_permission(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let r = app.client.get("/v1/auth/verify", Some(app.owner())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["valid"], true);
    assert_eq!(r.body["kind"], "api_key");
    assert!(r.body["subject"].as_str().unwrap().starts_with("key_"));
    assert!(r.body["organization_id"]
        .as_str()
        .unwrap()
        .starts_with("org_"));
    assert_eq!(r.body["permissions"].as_array().unwrap().len(), 12);
    // X-API-Key is accepted too, and /api/v1 is the same API.
    let r = app
        .client
        .http()
        .get(app.client.url("/api/v1/auth/verify"))
        .header("X-API-Key", app.owner())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn missing_and_malformed_credentials_have_their_codes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    app.client
        .get("/v1/auth/verify", None)
        .await
        .assert_error(401, "missing_credentials");
    app.client
        .get("/v1/auth/verify", Some("not-a-token"))
        .await
        .assert_error(401, "malformed_token");
    app.client
        .get("/v1/auth/verify", Some("conea_short"))
        .await
        .assert_error(401, "malformed_token");
    let r = app
        .client
        .http()
        .get(app.client.url("/v1/auth/verify"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    conea_testkit::Client::read(r)
        .await
        .assert_error(401, "malformed_token");
}

async fn login_token_verifies_as_user_with_role_permissions(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (user_id, token) = user_token(&app, "ann@example.com", "member").await;
    let r = app.client.get("/v1/auth/verify", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["kind"], "user");
    assert_eq!(r.body["subject"], user_id.as_str());
    assert_eq!(r.body["role"], "member");
    assert_eq!(
        r.body["permissions"],
        json!([
            "data:read",
            "data:write",
            "ai:use",
            "jobs:read",
            "jobs:write",
            "members:read"
        ])
    );
    assert_eq!(r.body["expires_in"], 3600);
    // The member cannot manage keys: 403 naming the permission.
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(&token),
            json!({"name": "x", "permissions": []}),
        )
        .await;
    r.assert_error(403, "insufficient_permissions");
    assert_eq!(r.body["error"]["details"]["required"], "keys:manage");
    assert!(r.body["error"]["details"]["granted"]
        .as_array()
        .unwrap()
        .contains(&json!("data:read")));
}

async fn tampered_other_algorithm_and_none_tokens_are_refused_by_code(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, token) = user_token(&app, "bob@example.com", "admin").await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["org"] = json!("org_00000000000000000000000000000000");
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    app.client
        .get("/v1/auth/verify", Some(&tampered))
        .await
        .assert_error(401, "invalid_signature");

    let claims: Claims = serde_json::from_value(claims).unwrap();
    let hs512 = sign(&claims, Algorithm::HS512, JWT_SECRET);
    let r = app.client.get("/v1/auth/verify", Some(&hs512)).await;
    r.assert_error(401, "algorithm_not_allowed");
    assert_eq!(r.body["error"]["details"]["alg"], "HS512");

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let none = format!("{none_header}.{}.", parts[1]);
    app.client
        .get("/v1/auth/verify", Some(&none))
        .await
        .assert_error(401, "algorithm_not_allowed");

    let other_secret = sign(
        &claims,
        Algorithm::HS256,
        "another-secret-0123456789abcdef012345",
    );
    app.client
        .get("/v1/auth/verify", Some(&other_secret))
        .await
        .assert_error(401, "invalid_signature");
}

async fn expired_and_not_yet_valid_tokens_name_times_and_clock_skew(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, token) = user_token(&app, "cy@example.com", "viewer").await;
    let issued_at = app.clock.now_ms();
    // Within the 60 s leeway after expiry the token is still accepted; one second later not.
    app.clock.advance(Duration::from_secs(3600 + 59));
    assert_eq!(
        app.client.get("/v1/auth/verify", Some(&token)).await.status,
        200
    );
    app.clock.advance(Duration::from_secs(2));
    let r = app.client.get("/v1/auth/verify", Some(&token)).await;
    r.assert_error(401, "token_expired");
    let expired_at = conea_core::clock::rfc3339((issued_at / 1000 + 3600) * 1000);
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&expired_at),
        "message names expiry {expired_at}: {msg}"
    );
    assert!(msg.contains("server time"), "{msg}");
    assert_eq!(
        r.body["error"]["details"]["expired_at"],
        expired_at.as_str()
    );

    // A token minted by an issuer whose clock runs 5 minutes ahead.
    let (user, _) = user_token(&app, "dee@example.com", "viewer").await;
    let org = app
        .client
        .get("/v1/auth/verify", Some(app.owner()))
        .await
        .body["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ahead = jwt::issue(&settings(), &user, &org, app.clock.now_ms() + 300_000, None).unwrap();
    let r = app.client.get("/v1/auth/verify", Some(&ahead.token)).await;
    r.assert_error(401, "token_not_yet_valid");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("clock"));
    let within_leeway =
        jwt::issue(&settings(), &user, &org, app.clock.now_ms() + 30_000, None).unwrap();
    assert_eq!(
        app.client
            .get("/v1/auth/verify", Some(&within_leeway.token))
            .await
            .status,
        200
    );
}

async fn wrong_audience_and_issuer_are_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (user, token) = user_token(&app, "eve@example.com", "viewer").await;
    let org = app.client.get("/v1/auth/verify", Some(&token)).await.body["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut s = settings();
    s.audience = Some("someone-else".into());
    let t = jwt::issue(&s, &user, &org, app.clock.now_ms(), None).unwrap();
    app.client
        .get("/v1/auth/verify", Some(&t.token))
        .await
        .assert_error(401, "invalid_audience");
    let mut s = settings();
    s.issuer = Some("evil".into());
    let t = jwt::issue(&s, &user, &org, app.clock.now_ms(), None).unwrap();
    app.client
        .get("/v1/auth/verify", Some(&t.token))
        .await
        .assert_error(401, "invalid_issuer");
    // A well-signed token for a user who is not in the organization.
    let t = jwt::issue(
        &settings(),
        "usr_00000000000000000000000000000000",
        &org,
        app.clock.now_ms(),
        None,
    )
    .unwrap();
    app.client
        .get("/v1/auth/verify", Some(&t.token))
        .await
        .assert_error(401, "unknown_subject");
}

async fn unknown_revoked_and_expired_keys_have_their_codes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    app.client
        .get(
            "/v1/auth/verify",
            Some("conea_00000000000000000000000000000000000000000"),
        )
        .await
        .assert_error(401, "unknown_api_key");
    let expires = conea_core::clock::rfc3339(app.clock.now_ms() + 60_000);
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "short-lived", "permissions": ["data:read"], "expires_at": expires}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let key = r.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        app.client.get("/v1/auth/verify", Some(&key)).await.status,
        200
    );
    app.clock.advance(Duration::from_secs(61));
    let r = app.client.get("/v1/auth/verify", Some(&key)).await;
    r.assert_error(401, "expired_api_key");
    assert_eq!(r.body["error"]["details"]["expired_at"], expires.as_str());
}

async fn revoked_key_is_refused_on_next_request_on_every_replica(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let other = app.replica(&[]).await;
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "to-revoke", "permissions": ["data:read"]}),
        )
        .await;
    let (id, key) = (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    );
    // Both replicas have the key cached.
    assert_eq!(
        app.client.get("/v1/auth/verify", Some(&key)).await.status,
        200
    );
    assert_eq!(
        other.client.get("/v1/auth/verify", Some(&key)).await.status,
        200
    );
    let r = app
        .client
        .delete(&format!("/v1/api-keys/{id}"), Some(app.owner()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["revoked_at"].is_string());
    // The revoking replica refuses at once.
    app.client
        .get("/v1/auth/verify", Some(&key))
        .await
        .assert_error(401, "revoked_api_key");
    // The other replica refuses once its epoch poll (50 ms in tests) has seen the change.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = other.client.get("/v1/auth/verify", Some(&key)).await;
        if r.status == 401 {
            r.assert_error(401, "revoked_api_key");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other replica still accepts the revoked key"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wrong_password_is_refused_then_throttled_with_retry_after(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let _ = user_token(&app, "fay@example.com", "viewer").await;
    for _ in 0..5 {
        app.client
            .post(
                "/v1/auth/login",
                None,
                json!({"email": "fay@example.com", "password": "wrong password"}),
            )
            .await
            .assert_error(401, "invalid_credentials");
    }
    let r = app
        .client
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "fay@example.com", "password": "correct horse"}),
        )
        .await;
    r.assert_error(429, "too_many_login_attempts");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "retry-after {retry}");
    // After the window the right password works again.
    app.clock.advance(Duration::from_secs(retry));
    let r = app
        .client
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "fay@example.com", "password": "correct horse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Unknown users get the same answer as wrong passwords.
    app.client
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "whatever1"}),
        )
        .await
        .assert_error(401, "invalid_credentials");
}

/// A login from `address` (the app trusts 127.0.0.1 as a proxy, so `X-Forwarded-For` is the
/// client).
async fn login_from(
    app: &TestApp,
    address: &str,
    email: &str,
    password: &str,
) -> conea_testkit::Resp {
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/auth/login"))
        .header("X-Forwarded-For", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    conea_testkit::Client::read(resp).await
}

const PROXY: (&str, &str) = ("CONEA_TRUSTED_PROXIES", "127.0.0.1/32");

async fn failed_logins_throttle_the_address_for_the_account_not_the_account(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[PROXY]).await else {
        return;
    };
    let _ = user_token(&app, "gus@example.com", "viewer").await;
    for _ in 0..5 {
        login_from(&app, "198.51.100.7", "gus@example.com", "wrong password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    login_from(&app, "198.51.100.7", "gus@example.com", "correct horse")
        .await
        .assert_error(429, "too_many_login_attempts");
    // The owner of the account, from their own address, still signs in.
    let r = login_from(&app, "203.0.113.9", "gus@example.com", "correct horse").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn failed_login_counts_are_shared_by_replicas_through_redis() {
    let Some(url) = conea_testkit::redis_url() else {
        return;
    };
    let prefix = format!("t{}:", uuid_like());
    let settings = [
        PROXY,
        ("REDIS_URL", url.as_str()),
        ("CONEA_REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &settings).await else {
        return;
    };
    let other = app.replica(&settings).await;
    let _ = user_token(&app, "hal@example.com", "viewer").await;
    for _ in 0..5 {
        login_from(&app, "198.51.100.8", "hal@example.com", "wrong password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    login_from(&other, "198.51.100.8", "hal@example.com", "correct horse")
        .await
        .assert_error(429, "too_many_login_attempts");
    let r = login_from(&other, "203.0.113.10", "hal@example.com", "correct horse").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[allow(clippy::disallowed_methods)] // a key prefix unique across test runs, not domain time
fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}
