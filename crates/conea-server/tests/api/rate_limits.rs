//! Rate limits: headers, 429 and `Retry-After` (with the fake clock), overrides, the
//! non-consuming `/v1/rate-limit`, per-address limits, and Redis failure in both modes.
//! Each test runs with the in-process limiter and with Redis, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_core::Clock;
use conea_testkit::proxy::ToggleProxy;
use conea_testkit::{redis_url, Backend, TestApp};
use serde_json::json;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Debug)]
enum LimiterBackend {
    Memory,
    Redis,
}

/// A test app whose limiter is memory or Redis (with a key prefix of its own).
async fn spawn(b: Backend, l: LimiterBackend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let mut settings: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if l == LimiterBackend::Redis {
        let url = redis_url()?;
        settings.push(("REDIS_URL".into(), url));
        settings.push((
            "CONEA_REDIS_KEY_PREFIX".into(),
            format!("t{}:", uuid_like()),
        ));
    }
    let refs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    TestApp::spawn_with(b, &refs).await
}

#[allow(clippy::disallowed_methods)] // a name unique across test runs, not domain time
fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

macro_rules! limiter_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_memory() { super::$name(Backend::Sqlite, LimiterBackend::Memory).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_redis() { super::$name(Backend::Sqlite, LimiterBackend::Redis).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_memory() { super::$name(Backend::Postgres, LimiterBackend::Memory).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() { super::$name(Backend::Postgres, LimiterBackend::Redis).await }
            }
        )+
    };
}

limiter_tests!(
    every_authenticated_response_carries_rate_limit_headers,
    over_the_limit_answers_429_and_waiting_retry_after_succeeds,
    overrides_win_over_the_default_and_apply_without_restart,
    rate_limit_endpoint_reports_state_without_consuming,
    unauthenticated_login_is_limited_per_client_address,
);

async fn every_authenticated_response_carries_rate_limit_headers(b: Backend, l: LimiterBackend) {
    let Some(app) = spawn(b, l, &[]).await else {
        return;
    };
    let now_s = app.clock.now_ms() / 1000;
    let r = app.client.get("/v1/auth/verify", Some(app.owner())).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-limit"), Some("100"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("99"));
    let reset: i64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        (now_s..=now_s + 2).contains(&reset),
        "reset {reset} vs now {now_s}"
    );
    assert_eq!(r.header("ratelimit-policy"), Some("\"default\";q=100;w=60"));
    assert_eq!(r.header("ratelimit"), Some("\"default\";r=99;t=1"));
    // Error responses of authenticated routes carry them too.
    let r = app
        .client
        .get(
            "/v1/organizations/org_00000000000000000000000000000000",
            Some(app.owner()),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("98"));
}

async fn over_the_limit_answers_429_and_waiting_retry_after_succeeds(
    b: Backend,
    l: LimiterBackend,
) {
    let Some(app) = spawn(b, l, &[("RATE_LIMIT_PER_MINUTE", "3")]).await else {
        return;
    };
    for left in ["2", "1", "0"] {
        let r = app.client.get("/v1/auth/verify", Some(app.owner())).await;
        assert_eq!(
            (r.status.as_u16(), r.header("x-ratelimit-remaining")),
            (200, Some(left))
        );
    }
    let r = app.client.get("/v1/auth/verify", Some(app.owner())).await;
    r.assert_error(429, "rate_limit_exceeded");
    assert_eq!(r.body["error"]["type"], "rate_limit_error");
    // One request costs 20 s of a 3-per-minute bucket: the next is allowed in 20 s.
    assert_eq!(r.header("retry-after"), Some("20"));
    let d = &r.body["error"]["details"];
    assert_eq!(
        (
            d["limit"].as_u64(),
            d["remaining"].as_u64(),
            d["retry_after"].as_u64()
        ),
        (Some(3), Some(0), Some(20))
    );
    assert!(d["reset"].is_i64());
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    // A second early retry is still refused, and refusals do not consume.
    app.clock.advance(Duration::from_secs(19));
    let r = app.client.get("/v1/auth/verify", Some(app.owner())).await;
    r.assert_error(429, "rate_limit_exceeded");
    assert_eq!(r.header("retry-after"), Some("1"));
    app.clock.advance(Duration::from_secs(1));
    let r = app.client.get("/v1/auth/verify", Some(app.owner())).await;
    assert_eq!(r.status, 200, "waiting Retry-After succeeds: {}", r.text);
}

async fn overrides_win_over_the_default_and_apply_without_restart(b: Backend, l: LimiterBackend) {
    let Some(app) = spawn(b, l, &[]).await else {
        return;
    };
    let other = app.replica(&[]).await;
    let key = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "k", "permissions": ["data:read"]}),
        )
        .await;
    let (key_id, secret) = (
        key.body["id"].as_str().unwrap().to_owned(),
        key.body["secret"].as_str().unwrap().to_owned(),
    );
    // Both replicas have the default cached.
    assert_eq!(
        other.client.get("/v1/rate-limit", Some(&secret)).await.body["limit"],
        100
    );
    let r = app
        .client
        .put(
            &format!("/v1/rate-limits/keys/{key_id}"),
            Some(app.owner()),
            json!({"per_minute": 2}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.body["scope"].as_str(),
            r.body["per_minute"].as_u64(),
            r.body["burst"].as_u64()
        ),
        (Some("api_key"), Some(2), Some(2))
    );
    // At once on the replica that changed it...
    let s = app.client.get("/v1/rate-limit", Some(&secret)).await;
    assert_eq!(
        (s.body["limit"].as_u64(), s.body["policy_source"].as_str()),
        (Some(2), Some("api_key"))
    );
    // ...and within a few seconds on the other one, without restart.
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    while other.client.get("/v1/rate-limit", Some(&secret)).await.body["limit"] != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the other replica never applied the override"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.client
            .get("/v1/auth/verify", Some(&secret))
            .await
            .status,
        200
    );
    assert_eq!(
        app.client
            .get("/v1/auth/verify", Some(&secret))
            .await
            .status,
        200
    );
    app.client
        .get("/v1/auth/verify", Some(&secret))
        .await
        .assert_error(429, "rate_limit_exceeded");
    // An organization override applies to its users and keys without an override of their own.
    let org = app.client.get("/v1/rate-limit", Some(app.owner())).await;
    assert_eq!(org.body["policy_source"], "default");
    let org_id = app
        .client
        .get("/v1/auth/verify", Some(app.owner()))
        .await
        .body["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .client
        .put(
            &format!("/v1/rate-limits/organizations/{org_id}"),
            Some(app.owner()),
            json!({"per_minute": 500, "burst": 50}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = app.client.get("/v1/rate-limit", Some(app.owner())).await;
    assert_eq!(
        (
            s.body["limit"].as_u64(),
            s.body["burst"].as_u64(),
            s.body["policy_source"].as_str()
        ),
        (Some(500), Some(50), Some("organization"))
    );
    // The key keeps its own, stricter override.
    assert_eq!(
        app.client.get("/v1/rate-limit", Some(&secret)).await.body["policy_source"],
        "api_key"
    );
    // Setting needs the right permission; other organizations are 404; bad values 422.
    let (_, reader) = {
        let r = app
            .client
            .post(
                "/v1/api-keys",
                Some(app.owner()),
                json!({"name": "r", "permissions": ["data:read"]}),
            )
            .await;
        (
            r.body["id"].as_str().unwrap().to_owned(),
            r.body["secret"].as_str().unwrap().to_owned(),
        )
    };
    app.client
        .put(
            &format!("/v1/rate-limits/keys/{key_id}"),
            Some(&reader),
            json!({"per_minute": 1000}),
        )
        .await
        .assert_error(403, "insufficient_permissions");
    app.client
        .put(
            &format!("/v1/rate-limits/organizations/{org_id}"),
            Some(&reader),
            json!({"per_minute": 1000}),
        )
        .await
        .assert_error(403, "insufficient_permissions");
    app.client
        .put(
            &format!("/v1/rate-limits/keys/{key_id}"),
            Some(app.owner()),
            json!({"per_minute": 0}),
        )
        .await
        .assert_error(422, "invalid_limit");
}

async fn rate_limit_endpoint_reports_state_without_consuming(b: Backend, l: LimiterBackend) {
    let Some(app) = spawn(b, l, &[("RATE_LIMIT_PER_MINUTE", "3")]).await else {
        return;
    };
    for _ in 0..10 {
        let r = app.client.get("/v1/rate-limit", Some(app.owner())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["remaining"], 3);
    }
    let r = app.client.get("/v1/rate-limit", Some(app.owner())).await;
    assert_eq!(r.body["limit"], 3);
    assert_eq!(r.body["window_s"], 60);
    assert_eq!(r.body["burst"], 3);
    assert_eq!(r.body["policy_source"], "default");
    assert_eq!(
        r.body["backend"],
        if l == LimiterBackend::Redis {
            "redis"
        } else {
            "memory"
        }
    );
    assert_eq!(r.header("x-ratelimit-remaining"), Some("3"));
    app.client.get("/v1/auth/verify", Some(app.owner())).await;
    let r = app.client.get("/v1/rate-limit", Some(app.owner())).await;
    assert_eq!(r.body["remaining"], 2);
    let reset = r.body["reset"].as_i64().unwrap();
    let now_s = app.clock.now_ms() / 1000;
    assert!(
        (now_s + 19..=now_s + 21).contains(&reset),
        "full again in 20 s: {reset} vs {now_s}"
    );
    // An exhausted bucket can still be looked at.
    app.client.get("/v1/auth/verify", Some(app.owner())).await;
    app.client.get("/v1/auth/verify", Some(app.owner())).await;
    app.client
        .get("/v1/auth/verify", Some(app.owner()))
        .await
        .assert_error(429, "rate_limit_exceeded");
    let r = app.client.get("/v1/rate-limit", Some(app.owner())).await;
    assert_eq!(
        (r.status.as_u16(), r.body["remaining"].as_u64()),
        (200, Some(0))
    );
}

async fn unauthenticated_login_is_limited_per_client_address(b: Backend, l: LimiterBackend) {
    let Some(app) = spawn(b, l, &[("RATE_LIMIT_PER_IP_PER_MINUTE", "2")]).await else {
        return;
    };
    let login = || {
        app.client
            .http()
            .post(app.client.url("/v1/auth/login"))
            .header("X-Forwarded-For", format!("198.51.100.{}", rand_octet()))
            .json(&json!({"email": "x@example.com", "password": "whatever1"}))
            .send()
    };
    for _ in 0..2 {
        let r = conea_testkit::Client::read(login().await.unwrap()).await;
        r.assert_error(401, "invalid_credentials");
        assert!(r.header("x-ratelimit-remaining").is_some());
    }
    // X-Forwarded-For from an untrusted peer does not make a new client.
    let r = conea_testkit::Client::read(login().await.unwrap()).await;
    r.assert_error(429, "rate_limit_exceeded");
    assert!(r.header("retry-after").is_some());
}

#[allow(clippy::disallowed_methods)] // a varying address octet, not domain time
fn rand_octet() -> u8 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 250) as u8
}

// ----- Redis failure -----

async fn redis_behind_proxy(mode: &str) -> Option<(TestApp, ToggleProxy)> {
    let url = redis_url()?;
    let target: std::net::SocketAddr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .expect("CONEA_TEST_REDIS_URL is redis://HOST:PORT");
    let proxy = ToggleProxy::start(target).await;
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("REDIS_URL", &format!("redis://{}", proxy.addr)),
            ("CONEA_REDIS_KEY_PREFIX", &format!("t{}:", uuid_like())),
            ("CONEA_RATE_LIMIT_FAILURE_MODE", mode),
        ],
    )
    .await?;
    Some((app, proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_in_open_mode_falls_back_to_memory_shows_degraded_and_recovers() {
    let Some((app, proxy)) = redis_behind_proxy("open").await else {
        return;
    };
    assert_eq!(
        app.client
            .get("/v1/rate-limit", Some(app.owner()))
            .await
            .body["backend"],
        "redis"
    );
    proxy.down();
    let r = app.client.get("/v1/auth/verify", Some(app.owner())).await;
    assert_eq!(r.status, 200, "open mode keeps serving: {}", r.text);
    assert!(r.header("x-ratelimit-limit").is_some());
    assert_eq!(
        app.client
            .get("/v1/rate-limit", Some(app.owner()))
            .await
            .body["backend"],
        "memory"
    );
    let h = app.client.get("/health", None).await;
    assert_eq!(h.body["status"], "degraded", "{}", h.text);
    assert_eq!(h.body["checks"]["redis"]["status"], "down");
    assert_eq!(h.body["checks"]["rate_limiter"]["fallback_active"], true);
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
    let fallbacks: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("conea_rate_limit_fallbacks_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("fallback counter");
    assert!(fallbacks >= 1);
    assert!(m.contains(r#"conea_rate_limit_decisions_total{outcome="allowed",backend="memory"}"#));
    // Redis returns: used again without restart (once the background probe gets an answer).
    proxy.up();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app
        .client
        .get("/v1/rate-limit", Some(app.owner()))
        .await
        .body["backend"]
        != "redis"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "Redis was never used again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.client.get("/health", None).await.body["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_in_closed_mode_answers_503_and_recovers() {
    let Some((app, proxy)) = redis_behind_proxy("closed").await else {
        return;
    };
    assert_eq!(
        app.client
            .get("/v1/auth/verify", Some(app.owner()))
            .await
            .status,
        200
    );
    proxy.down();
    let r = app.client.get("/v1/auth/verify", Some(app.owner())).await;
    r.assert_error(503, "rate_limiter_unavailable");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("CONEA_RATE_LIMIT_FAILURE_MODE"));
    proxy.up();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app
        .client
        .get("/v1/auth/verify", Some(app.owner()))
        .await
        .status
        != 200
    {
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Redis limiter on the test Redis with keys of its own (None: no Redis to test with).
fn redis_limiter() -> Option<(
    std::sync::Arc<conea_store::redis_limiter::RedisHandle>,
    conea_store::redis_limiter::RedisLimiter,
)> {
    use conea_store::redis_limiter::{RedisHandle, RedisLimiter};
    let url = redis_url()?;
    let handle = std::sync::Arc::new(
        RedisHandle::new(&url, Duration::from_millis(500)).expect("CONEA_TEST_REDIS_URL"),
    );
    let limiter = RedisLimiter::new(handle.clone(), &format!("t{}:", uuid_like()));
    Some((handle, limiter))
}

#[tokio::test]
async fn redis_and_memory_limiters_make_identical_decisions() {
    use conea_core::ratelimit::memory::MemoryLimiter;
    use conea_core::ratelimit::{Limiter, Policy, PolicySource};
    let Some((_, redis)) = redis_limiter() else {
        return;
    };
    let memory = MemoryLimiter::new(1000);
    let policy = Policy::per_minute(7, 3, PolicySource::Default);
    // A sequence of times with bursts, gaps and peeks.
    let steps: Vec<(i64, bool)> = vec![
        (0, true),
        (0, true),
        (0, true),
        (0, true),
        (5_000, false),
        (8_571, true),
        (8_572, true),
        (20_000, true),
        (20_000, true),
        (90_000, false),
        (90_000, true),
    ];
    let base = 1_800_000_000_000;
    for (i, (t, consume)) in steps.into_iter().enumerate() {
        let r = redis.decide("b", &policy, base + t, consume).await.unwrap();
        let m = memory
            .decide("b", &policy, base + t, consume)
            .await
            .unwrap();
        assert_eq!(r, m, "step {i} at +{t} ms");
    }
}

/// Decisions waiting at the same moment go to Redis as one pipeline: each must still get
/// its own bucket's answer (the replies are matched to the asks by position), and racing
/// decisions on one bucket must stay exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_decisions_sent_together_each_get_their_own_answer() {
    use conea_core::ratelimit::memory::MemoryLimiter;
    use conea_core::ratelimit::{Limiter, Policy, PolicySource};
    let Some((_, redis)) = redis_limiter() else {
        return;
    };
    let memory = MemoryLimiter::new(1000);
    let policy = Policy::per_minute(10, 3, PolicySource::Default);
    let now = 1_800_000_000_000;
    // Bucket i has had i % 4 requests: 3, 2, 1 and 0 left.
    for i in 0..40 {
        for _ in 0..i % 4 {
            let bucket = format!("b{i}");
            redis.decide(&bucket, &policy, now, true).await.unwrap();
            memory.decide(&bucket, &policy, now, true).await.unwrap();
        }
    }
    let buckets: Vec<String> = (0..40).map(|i| format!("b{i}")).collect();
    let together = futures::future::join_all(
        buckets
            .iter()
            .map(|b| redis.decide(b, &policy, now + 1, true)),
    )
    .await;
    for (bucket, got) in buckets.iter().zip(together) {
        let want = memory.decide(bucket, &policy, now + 1, true).await.unwrap();
        assert_eq!(got.unwrap(), want, "bucket {bucket}");
    }
    let racing =
        futures::future::join_all((0..20).map(|_| redis.decide("one", &policy, now, true))).await;
    let allowed = racing
        .iter()
        .filter(|d| d.as_ref().unwrap().allowed)
        .count();
    assert_eq!(
        allowed, 3,
        "a burst of 3 allows exactly 3 of 20 racing requests"
    );
}

/// A Redis that lost the script (a restart, `SCRIPT FLUSH`) answers NOSCRIPT: the limiter
/// loads it again and the decision is made, not refused or failed over.
#[tokio::test]
async fn redis_that_lost_the_script_gets_it_again() {
    use conea_core::ratelimit::{Limiter, Policy, PolicySource};
    let Some((handle, redis)) = redis_limiter() else {
        return;
    };
    let policy = Policy::per_minute(10, 2, PolicySource::Default);
    let now = 1_800_000_000_000;
    assert!(redis.decide("b", &policy, now, true).await.unwrap().allowed);
    handle
        .run(|mut c| async move {
            redis::cmd("SCRIPT")
                .arg("FLUSH")
                .query_async::<()>(&mut c)
                .await
        })
        .await
        .unwrap();
    let d = redis.decide("b", &policy, now, true).await.unwrap();
    assert_eq!(
        (d.allowed, d.remaining),
        (true, 0),
        "the second of a burst of 2"
    );
    assert!(!handle.is_down(), "NOSCRIPT is not an outage");
}

/// Longer than any decision made without Redis, shorter than one Redis timeout (500 ms): a
/// request that waited on Redis (a reconnection or a command) takes at least that long.
const NO_REDIS_WAIT: Duration = Duration::from_millis(250);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_cut_requests_are_decided_in_memory_at_once_and_go_back_to_redis_after() {
    let Some((app, proxy)) = redis_behind_proxy("open").await else {
        return;
    };
    assert_eq!(
        app.client
            .get("/v1/rate-limit", Some(app.owner()))
            .await
            .body["backend"],
        "redis"
    );
    proxy.down();
    // The first request finds the outage (and opens the breaker).
    let _ = app.client.get("/v1/auth/verify", Some(app.owner())).await;
    // Then for longer than the old 1 s back-off, no request waits on a reconnection.
    for _ in 0..30 {
        let r = tokio::time::timeout(
            NO_REDIS_WAIT,
            app.client.get("/v1/rate-limit", Some(app.owner())),
        )
        .await
        .expect("decided without waiting on Redis");
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["backend"], "memory");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let h = app.client.get("/health", None).await;
    assert_eq!(h.body["checks"]["rate_limiter"]["fallback_active"], true);
    // Redis returns: the background probe closes the breaker, decisions go back to Redis.
    proxy.up();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app
        .client
        .get("/v1/rate-limit", Some(app.owner()))
        .await
        .body["backend"]
        != "redis"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "Redis was never used again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.client.get("/health", None).await.body["checks"]["rate_limiter"]["fallback_active"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_costs_one_timeout_then_decisions_fail_at_once() {
    use conea_core::ratelimit::{Limiter, Policy, PolicySource};
    use conea_store::redis_limiter::{RedisHandle, RedisLimiter};
    // A black hole: accepts connections and never answers (a frozen Redis).
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hole.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hole.accept().await {
            held.push(s);
        }
    });
    let handle = std::sync::Arc::new(
        RedisHandle::new(&format!("redis://{addr}"), Duration::from_millis(500)).unwrap(),
    );
    let limiter = RedisLimiter::new(handle.clone(), "t:");
    let policy = Policy::per_minute(100, 100, PolicySource::Default);
    assert!(limiter.decide("b", &policy, 1_000, true).await.is_err());
    assert!(handle.is_down(), "the failure opened the breaker");
    // Past several probe intervals (and the old 1 s back-off): every decision fails at once.
    for i in 0..20 {
        let started = std::time::Instant::now();
        assert!(limiter.decide("b", &policy, 1_000 + i, true).await.is_err());
        assert!(
            started.elapsed() < NO_REDIS_WAIT,
            "decision {i} waited on Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many rate-limit scripts (EVALSHA) are in `sent` bytes of RESP.
fn scripts_in(sent: &[u8]) -> usize {
    sent.windows(7).filter(|w| w == b"EVALSHA").count()
}

/// A frozen Redis (SIGSTOP, a black-holed network: connections stay open, nothing answers)
/// costs the requests of one request-path timeout, `CONEA_REDIS_TIMEOUT` (50 ms by default,
/// not the 500 ms it was): the first command past it opens the breaker and that request is
/// decided in process; later decisions send Redis nothing until it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_opens_the_breaker_at_the_request_path_timeout_and_is_not_asked_again() {
    let Some((app, proxy)) = redis_behind_proxy("open").await else {
        return;
    };
    assert_eq!(app.state.config().redis_timeout, Duration::from_millis(50));
    let rate = || app.client.get("/v1/rate-limit", Some(app.owner()));
    assert_eq!(rate().await.body["backend"], "redis");
    proxy.freeze();
    let first = rate().await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["backend"], "memory", "decided in process");
    let redis = app.state.redis().expect("Redis is configured");
    assert!(redis.is_down(), "the timeout opened the breaker");
    assert_eq!(
        redis.last_error().as_deref(),
        Some("no answer within 50 ms"),
        "the request-path timeout, not a longer one, opened it"
    );
    let health = app.client.get("/health", None).await;
    assert_eq!(
        health.body["checks"]["rate_limiter"]["fallback_active"],
        true
    );
    let asked = scripts_in(&proxy.sent_while_frozen());
    assert!(asked >= 1, "the first decision went to Redis");
    for _ in 0..20 {
        let r = rate().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["backend"], "memory");
    }
    assert_eq!(
        scripts_in(&proxy.sent_while_frozen()),
        asked,
        "no decision after the breaker opened went to Redis"
    );
    // Thawed, Redis answers the probe and decisions go back to it.
    proxy.thaw();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rate().await.body["backend"] != "redis" {
        assert!(
            std::time::Instant::now() < deadline,
            "Redis was never used again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
