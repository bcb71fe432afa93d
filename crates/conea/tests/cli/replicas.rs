//! Three `conea serve` processes sharing PostgreSQL and Redis: a key limited to N per minute
//! gets N successes in total (+1 at most at the boundary), however the requests are spread,
//! and every 429 carries a usable `Retry-After`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use support::{api_keys_in, runtime, Env};

const LIMIT: u64 = 20; // one request per 3 s after the burst

#[test]
#[allow(clippy::disallowed_methods)] // a Redis key prefix unique across test runs
fn three_replicas_sharing_postgres_and_redis_allow_the_limit_in_total() {
    let Some(mut env) = Env::postgres() else {
        return;
    };
    let Some(redis) = conea_testkit::redis_url() else {
        return;
    };
    let prefix = format!(
        "replicas{}:",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    env.set("REDIS_URL", &redis)
        .set("CONEA_REDIS_KEY_PREFIX", &prefix)
        .set("CONEA_LOG", "warn");
    let first = env.serve();
    assert!(
        !api_keys_in(&first.startup_output).is_empty(),
        "first replica bootstrapped"
    );
    let replicas = [first, env.serve(), env.serve()];

    let secret = env
        .run(&[
            "keys",
            "create",
            "--org",
            "default",
            "--name",
            "limited",
            "--permission",
            "data:read",
        ])
        .success()
        .stdout_line();
    let keys = env
        .run(&["keys", "list", "--org", "default", "--json"])
        .success()
        .stdout_json();
    let id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "limited")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.run(&[
        "limits",
        "set",
        "--key",
        &id,
        "--per-minute",
        &LIMIT.to_string(),
    ])
    .success();

    let urls: Vec<String> = replicas.iter().map(|r| r.url("/v1/auth/verify")).collect();
    let rate_urls: Vec<String> = replicas.iter().map(|r| r.url("/v1/rate-limit")).collect();
    let (ok, limited, retry_afters) = runtime().block_on(async move {
        let http = reqwest::Client::new();
        // Every replica applies the override (none had cached the default for this key).
        for u in &rate_urls {
            let s: serde_json::Value = http
                .get(u)
                .bearer_auth(&secret)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(s["limit"], LIMIT, "{u}: {s}");
            assert_eq!(s["backend"], "redis");
        }
        let mut tasks = Vec::new();
        for i in 0..150 {
            let (http, url, secret) = (http.clone(), urls[i % 3].clone(), secret.clone());
            tasks.push(tokio::spawn(async move {
                let r = http.get(url).bearer_auth(secret).send().await.unwrap();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (r.status().as_u16(), retry)
            }));
        }
        let (mut ok, mut limited, mut retry_afters) = (0u64, 0u64, Vec::new());
        for t in tasks {
            match t.await.unwrap() {
                (200, _) => ok += 1,
                (429, retry) => {
                    limited += 1;
                    retry_afters.push(
                        retry
                            .expect("every 429 has Retry-After")
                            .parse::<u64>()
                            .unwrap(),
                    );
                }
                (other, _) => panic!("unexpected status {other}"),
            }
        }
        (ok, limited, retry_afters)
    });
    assert!(
        (LIMIT..=LIMIT + 1).contains(&ok),
        "{ok} successes across three replicas for a limit of {LIMIT}"
    );
    assert_eq!(ok + limited, 150);
    assert!(
        retry_afters.iter().all(|r| (1..=3).contains(r)),
        "Retry-After within one emission interval: {retry_afters:?}"
    );
    for r in replicas {
        let (status, _) = r.stop();
        assert!(status.success());
    }
}
