//! `conea diagnose` and `conea db`: each check in its ok and fail state, exit status, JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use serde_json::Value;
use support::{runtime, Env};

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn healthy_embedded_setup_passes_every_check() {
    let env = Env::sqlite();
    env.run(&["migrate"]).success();
    let out = env.run(&["diagnose", "--json"]);
    assert_eq!(out.code(), Some(0), "{}", out.stdout);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    for name in [
        "config",
        "database",
        "database.migrations",
        "jobs.queue",
        "redis",
        "shopify",
    ] {
        assert_eq!(check(&r, name)["status"], "ok", "{name}: {r}");
    }
    assert_eq!(r["summary"]["fail"], 0);
}

#[test]
fn unreachable_database_and_redis_fail_with_the_address_and_a_fix() {
    let mut env = Env::sqlite();
    env.set("DATABASE_URL", "postgres://postgres@127.0.0.1:1/test")
        .set("JWT_SECRET", support::JWT_SECRET)
        .set("CONEA_SECRET_KEY", support::SECRET_KEY)
        .set("REDIS_URL", "redis://127.0.0.1:1")
        .set("CONEA_DB_CONNECT_TIMEOUT", "1s");
    let out = env.run(&["diagnose", "--json"]);
    assert_eq!(out.code(), Some(1));
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let db = check(&r, "database");
    assert_eq!(db["status"], "fail");
    assert!(
        db["finding"].as_str().unwrap().contains("127.0.0.1:1"),
        "{db}"
    );
    assert!(db["fix"].is_string());
    assert_eq!(check(&r, "redis")["status"], "fail");
    // Text output names the failure and its fix, one line each.
    let text = env.run(&["diagnose"]);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("database")),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("fix:"));
}

#[test]
fn invalid_configuration_names_the_setting() {
    let mut env = Env::sqlite();
    env.set("CONEA_BIND", "nowhere");
    let out = env.run(&["diagnose", "--json"]);
    assert_eq!(out.code(), Some(1));
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(check(&r, "config")["finding"]
        .as_str()
        .unwrap()
        .contains("CONEA_BIND"));
}

#[test]
fn idle_postgres_connection_is_reported_and_can_be_terminated() {
    let Some(env) = Env::postgres_alone() else {
        return;
    };
    env.run(&["migrate"]).success();
    let url = env.var("DATABASE_URL").unwrap().to_owned();
    let rt = runtime();
    // An idle connection that identifies as Conea's.
    let mut idle = rt.block_on(async {
        use sqlx::Connection;
        let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let mut conn = sqlx::PgConnection::connect_with(&opts.application_name("conea-test-idle"))
            .await
            .unwrap();
        sqlx::query("SELECT 1").execute(&mut conn).await.unwrap();
        conn
    });
    let out = env.run(&["diagnose", "--json", "--idle-over", "0s"]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let c = check(&r, "database.idle");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(c["fix"].as_str().unwrap().contains("conea db connections"));
    let listed = env
        .run(&["db", "connections", "--idle-over", "0s"])
        .success();
    assert!(
        listed.stdout.contains("conea-test-idle"),
        "{}",
        listed.stdout
    );
    let refused = env.run(&["db", "connections", "--idle-over", "0s", "--terminate"]);
    assert_eq!(
        refused.code(),
        Some(1),
        "no confirmation without a terminal"
    );
    let done = env
        .run(&[
            "db",
            "connections",
            "--idle-over",
            "0s",
            "--terminate",
            "--yes",
        ])
        .success();
    assert!(done.stdout.contains("terminated"), "{}", done.stdout);
    let gone = rt.block_on(async { sqlx::query("SELECT 1").execute(&mut idle).await.is_err() });
    assert!(gone, "the idle connection was terminated");
}

#[test]
fn running_server_checks_token_expiry_and_clock_skew() {
    let env = Env::sqlite();
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let url = server.url("");
    let url = url.trim_end_matches('/');
    let out = env.run(&["diagnose", "--json", "--url", url, "--token", &key]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(out.code(), Some(0), "{r}");
    for name in [
        "api.health",
        "api.readyz",
        "api.latency",
        "api.clock_skew",
        "api.token",
        "api.rate_limit",
        "process",
    ] {
        assert_eq!(check(&r, name)["status"], "ok", "{name}: {r}");
    }
    assert!(check(&r, "process")["finding"]
        .as_str()
        .unwrap()
        .contains("RSS"));
    // No escalation policy: incidents would notify nobody, and diagnose says so.
    let esc = check(&r, "incidents.escalation");
    assert_eq!(esc["status"], "warn", "{esc}");
    assert!(esc["fix"]
        .as_str()
        .unwrap()
        .contains("CONEA_ESCALATION_CONFIG"));
    // An expired token fails with its code.
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "usr_00000000000000000000000000000000", "org": "org_00000000000000000000000000000000", "iat": 1_600_000_000, "exp": 1_600_000_100, "iss": "conea", "aud": "conea-api", "jti": "x"}),
        &jsonwebtoken::EncodingKey::from_secret(env.jwt_secret().as_bytes()),
    )
    .unwrap();
    let out = env.run(&["diagnose", "--json", "--url", url, "--token", &expired]);
    assert_eq!(out.code(), Some(1));
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(check(&r, "api.token")["finding"]
        .as_str()
        .unwrap()
        .contains("token_expired"));
}

#[test]
#[allow(clippy::disallowed_methods)] // a fake server whose wall clock runs ahead
fn skewed_server_clock_is_detected_from_the_date_header() {
    use axum::routing::get;
    let env = Env::sqlite();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        // A fake server whose clock runs ten minutes ahead.
        let ahead = || {
            let t = std::time::SystemTime::now() + std::time::Duration::from_secs(600);
            [("date", httpdate::fmt_http_date(t))]
        };
        let app = axum::Router::new()
            .route("/livez", get(move || async move { (ahead(), "{\"status\":\"ok\"}") }))
            .route("/readyz", get(|| async { "{\"status\":\"ready\"}" }))
            .route("/health", get(|| async { axum::Json(serde_json::json!({"status": "ok", "version": "x", "uptime_s": 1, "checks": {}})) }))
            .route("/metrics", get(|| async { "conea_process_resident_memory_bytes 1048576\nconea_process_cpu_seconds_total 12.5\n" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    // The fake keeps serving on the runtime's worker thread while the command runs.
    let out = env.run(&["diagnose", "--json", "--url", &format!("http://{addr}")]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let skew = check(&r, "api.clock_skew");
    assert_eq!(skew["status"], "fail", "{skew}");
    assert!(
        skew["finding"].as_str().unwrap().contains("ahead of"),
        "{skew}"
    );
    assert!(skew["fix"].as_str().unwrap().contains("NTP"));
    let process = check(&r, "process");
    assert!(
        process["finding"]
            .as_str()
            .unwrap()
            .contains("12.5 CPU seconds"),
        "the process's CPU time: {process}"
    );
    drop(rt);
}

#[test]
fn replication_tools_say_when_there_is_no_replica() {
    let Some(mut env) = Env::postgres() else {
        return;
    };
    env.run(&["migrate"]).success();
    let out = env.run(&["db", "replication"]).success();
    assert!(
        out.stdout.contains("no replica is attached"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("DATABASE_REPLICA_URL is not set"));
    // A "replica" that is really a primary is reported as such.
    let url = env.var("DATABASE_URL").unwrap().to_owned();
    env.set("DATABASE_REPLICA_URL", &url);
    let out = env.run(&["db", "replication"]).success();
    assert!(out.stdout.contains("not in recovery"), "{}", out.stdout);
    let r: Value = serde_json::from_str(&env.run(&["diagnose", "--json"]).stdout).unwrap();
    let c = check(&r, "replication.replica");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(c["finding"].as_str().unwrap().contains("not a replica"));
    // An unreachable replica fails with its address.
    env.set(
        "DATABASE_REPLICA_URL",
        "postgres://postgres@127.0.0.1:1/test",
    )
    .set("CONEA_DB_CONNECT_TIMEOUT", "1s");
    let out = env.run(&["diagnose", "--json"]);
    assert_eq!(out.code(), Some(1));
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(check(&r, "replication.replica")["finding"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1:1"));
}

#[allow(clippy::disallowed_methods)] // log lines stamped in wall time, as the server writes them
fn rfc3339_minutes_ago(minutes: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn since_lists_only_the_error_log_lines_of_the_period_and_fails_on_errors() {
    let env = Env::sqlite();
    env.run(&["migrate"]).success();
    // Nothing logged yet: ok.
    let out = env.run(&["diagnose", "--since", "1h", "--json"]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(check(&r, "errors.recent")["status"], "ok", "{r}");

    let logs = env.data_dir().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let line = |minutes: i64, level: &str, message: &str| {
        serde_json::json!({"timestamp": rfc3339_minutes_ago(minutes), "level": level,
                           "message": message, "target": "conea_server",
                           "span": {"name": "request", "request_id": format!("req_{minutes}")}})
        .to_string()
    };
    let text = [
        line(120, "ERROR", "too old to matter"),
        line(10, "WARN", "request failed"),
        line(5, "ERROR", "internal error"),
    ]
    .join("\n");
    std::fs::write(logs.join("errors.2026-11-29-00.jsonl"), text + "\n").unwrap();

    let out = env.run(&["diagnose", "--since", "1h", "--json"]);
    assert_eq!(
        out.code(),
        Some(1),
        "an error in the period fails the check"
    );
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let c = check(&r, "errors.recent");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["finding"]
            .as_str()
            .unwrap()
            .starts_with("1 error(s) and 1 warning(s) in the last 1h"),
        "{c}"
    );
    let lines = r["recent_errors"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{r}");
    assert_eq!(lines[0]["message"], "request failed");
    assert_eq!(lines[0]["fields"]["request_id"], "req_10");
    assert_eq!(lines[1]["message"], "internal error");

    // A shorter period sees only the last error; text output lists it under the checks.
    let out = env.run(&["diagnose", "--since", "7m"]);
    assert!(
        out.stdout.contains("Recent warnings and errors"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("internal error"), "{}", out.stdout);
    assert!(!out.stdout.contains("request failed"), "{}", out.stdout);
}

#[test]
fn the_server_writes_its_failed_requests_to_the_error_log_that_since_reads() {
    use std::io::{Read, Write};
    let mut env = Env::sqlite();
    env.set("CONEA_REQUEST_TIMEOUT", "1s");
    let server = env.serve();
    // A login whose body never arrives: the request times out with 504, logged as a warning.
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.write_all(
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{",
    )
    .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 504");
    let (status, _) = server.stop();
    assert!(status.success());
    let out = env.run(&["diagnose", "--since", "1h", "--json"]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let lines = r["recent_errors"].as_array().unwrap();
    let failed = lines
        .iter()
        .find(|l| l["message"] == "request failed")
        .unwrap_or_else(|| panic!("no failed request in {r}"));
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["fields"]["status"], 504);
    assert_eq!(failed["fields"]["route"], "/v1/auth/login");
    // The line itself names the request and why (not only its span).
    assert!(
        failed["fields"]["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("req_")),
        "{failed}"
    );
    assert!(
        failed["fields"]["cause"]
            .as_str()
            .is_some_and(|c| c.starts_with("request_timeout")),
        "{failed}"
    );
    assert_eq!(check(&r, "errors.recent")["status"], "warn");
}

/// A Kubernetes API server answering the chart's read-only Role's reads with recorded
/// objects in the API's shapes (`fixtures/kubernetes/`); it requires the bearer token and
/// the label selector the checks send, and has no metrics API when `metrics` is false.
fn fake_kubernetes(rt: &tokio::runtime::Runtime, metrics: bool) -> String {
    use axum::extract::{Query, RawQuery};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use std::collections::HashMap;
    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/cli/fixtures/kubernetes/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
    fn authorised(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer sa-token-1")
    }
    async fn listed(
        h: HeaderMap,
        q: Query<HashMap<String, String>>,
        file: &'static str,
    ) -> axum::response::Response {
        if !authorised(&h) {
            return (StatusCode::FORBIDDEN, "{\"kind\":\"Status\",\"code\":403}").into_response();
        }
        if q.get("labelSelector").map(String::as_str) != Some("app.kubernetes.io/part-of=conea") {
            return (StatusCode::BAD_REQUEST, "selector").into_response();
        }
        axum::Json(fixture(file)).into_response()
    }
    let mut app = axum::Router::new()
        .route(
            "/apis/apps/v1/namespaces/production/deployments",
            get(|h: HeaderMap, q: Query<HashMap<String, String>>| listed(h, q, "deployments.json")),
        )
        .route(
            "/api/v1/namespaces/production/pods",
            get(|h: HeaderMap, q: Query<HashMap<String, String>>| listed(h, q, "pods.json")),
        )
        .route(
            "/api/v1/namespaces/production/events",
            get(|h: HeaderMap, q: RawQuery| async move {
                if !authorised(&h) || q.0.as_deref() != Some("fieldSelector=type%3DWarning") {
                    return StatusCode::BAD_REQUEST.into_response();
                }
                axum::Json(fixture("events.json")).into_response()
            }),
        );
    if metrics {
        app = app.route(
            "/apis/metrics.k8s.io/v1beta1/namespaces/production/pods",
            get(|h: HeaderMap, q: Query<HashMap<String, String>>| listed(h, q, "pod_metrics.json")),
        );
    }
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await });
    url
}

#[test]
fn kubernetes_checks_name_each_broken_pod_with_its_cause_and_fix() {
    let env = Env::sqlite();
    env.run(&["migrate"]).success();
    // The fake serves while the test blocks on the `conea` process: a runtime with its own
    // worker thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let api = fake_kubernetes(&rt, true);
    let sa = tempfile::tempdir().unwrap();
    let token = sa.path().join("token");
    std::fs::write(&token, "sa-token-1\n").unwrap();
    let token = token.to_str().unwrap();
    let args = [
        "diagnose",
        "--json",
        "--kubernetes",
        "--kube-api-url",
        api.as_str(),
        "--kube-token-file",
        token,
        "--kube-namespace",
        "production",
    ];
    let out = env.run(&args);
    assert_eq!(out.code(), Some(1), "{}", out.stdout);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let finding = |name: &str| check(&r, name)["finding"].as_str().unwrap().to_owned();
    let fix = |name: &str| check(&r, name)["fix"].as_str().unwrap().to_owned();

    let api_deploy = check(&r, "k8s.deployment.conea-api");
    assert_eq!(api_deploy["status"], "fail");
    assert!(
        finding("k8s.deployment.conea-api").contains("rollout stuck"),
        "{api_deploy}"
    );
    assert!(fix("k8s.deployment.conea-api").contains("helm rollback"));
    assert_eq!(check(&r, "k8s.deployment.conea-worker")["status"], "ok");

    let crash = "k8s.pod.conea-api-7d9c8b6f5-abcde";
    assert_eq!(check(&r, crash)["status"], "fail");
    assert!(
        finding(crash)
            .contains("CrashLoopBackOff after 4 restarts (last exit: OOMKilled, code 137)"),
        "{}",
        finding(crash)
    );
    assert!(fix(crash).contains("resources.limits.memory"));

    let pull = "k8s.pod.conea-api-7d9c8b6f5-fghij";
    assert!(
        finding(pull).contains(
            "ImagePullBackOff for registry.example.com/conea:0.2.0 (imagePullSecrets: regcred)"
        ),
        "{}",
        finding(pull)
    );
    assert!(fix(pull).contains("regcred"));
    assert_eq!(
        check(&r, "k8s.pod.conea-worker-6c5b4a3d2-pqrst")["status"],
        "ok"
    );

    let events = check(&r, "k8s.events");
    assert_eq!(events["status"], "warn");
    assert!(finding("k8s.events").contains("BackOff ×12"), "{events}");
    assert!(finding("k8s.events").contains("unauthorized: authentication required"));

    // 1850m of 2 cores: near the limit; the worker at 120m is fine.
    let near = check(&r, "k8s.resources.conea-api-5f6d7c8b9-klmno");
    assert_eq!(near["status"], "warn", "{near}");
    assert!(
        finding("k8s.resources.conea-api-5f6d7c8b9-klmno").contains("CPU 1850m of 2000m (92 %)"),
        "{near}"
    );
    assert!(
        finding("k8s.resources.conea-api-5f6d7c8b9-klmno").contains("memory 1024 Mi of 2048 Mi")
    );
    assert_eq!(
        check(&r, "k8s.resources.conea-worker-6c5b4a3d2-pqrst")["status"],
        "ok"
    );

    // Without the metrics API, usage is unknown but nothing fails for it; a token the API
    // refuses names the Role to install.
    let api = fake_kubernetes(&rt, false);
    let mut no_metrics = args;
    no_metrics[4] = api.as_str();
    let r: Value = serde_json::from_str(&env.run(&no_metrics).stdout).unwrap();
    let res = check(&r, "k8s.resources");
    assert_eq!(res["status"], "ok");
    assert!(res["finding"]
        .as_str()
        .unwrap()
        .contains("metrics API is not installed"));
    std::fs::write(sa.path().join("token"), "wrong").unwrap();
    let r: Value = serde_json::from_str(&env.run(&no_metrics).stdout).unwrap();
    let refused = check(&r, "k8s.deployments");
    assert_eq!(refused["status"], "fail");
    assert!(
        refused["finding"]
            .as_str()
            .unwrap()
            .contains("rbac.create=true"),
        "{refused}"
    );
}
