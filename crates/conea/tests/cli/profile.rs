//! CPU profiles of a running server: `GET /v1/admin/profile` and `conea diagnose --profile`.
//! Each test runs its own `conea serve` process: the profiler's SIGPROF timer is the whole
//! process's, so it never samples (or interrupts) the tests' own process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{self, runtime, Env, Server};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn profile(client: &reqwest::Client, server: &Server, query: &str, key: &str) -> Answer {
    let r = client
        .get(server.url(&format!("/v1/admin/profile?{query}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("the server answers");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Answer {
        status,
        content_type,
        body: r.text().await.expect("a body"),
    }
}

fn owner_key(server: &Server) -> String {
    support::api_keys_in(&server.startup_output)[0].clone()
}

/// A key of the owner's organization with only `data:read`.
fn reader_key(server: &Server, owner: &str) -> String {
    runtime().block_on(async {
        let r = reqwest::Client::new()
            .post(server.url("/v1/api-keys"))
            .bearer_auth(owner)
            .json(&serde_json::json!({"name": "reader", "permissions": ["data:read"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let v: Value = r.json().await.unwrap();
        v["secret"].as_str().unwrap().to_owned()
    })
}

/// Every element of `text` is well-formed XML (tags closed in order), and the root is `<svg>`.
fn assert_svg(text: &str) {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut root = None;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e)) if root.is_none() => {
                root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed XML at {}: {e}\n{text}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(root.as_deref(), Some("svg"), "the root element is <svg>");
}

/// Four clients asking `/metrics` in a loop until `stop`: keeps the server's threads busy
/// while it samples itself.
fn busy(
    client: &reqwest::Client,
    server: &Server,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|_| {
            let (client, url, stop) = (client.clone(), server.url("/metrics"), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = client.get(&url).send().await {
                        let _ = r.bytes().await;
                    }
                }
            })
        })
        .collect()
}

/// The profile `query` asks for, recorded while four clients keep the server busy.
fn profile_while_busy(server: &Server, query: &str, key: &str) -> Answer {
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let stop = Arc::new(AtomicBool::new(false));
        let load = busy(&client, server, &stop);
        let a = profile(&client, server, query, key).await;
        stop.store(true, Ordering::Relaxed);
        for l in load {
            l.await.unwrap();
        }
        a
    })
}

fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    let v = a.json();
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["type"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
}

#[test]
fn profile_of_a_busy_server_is_a_flame_graph_of_its_own_functions() {
    let env = Env::sqlite();
    let server = env.serve();
    let key = owner_key(&server);
    let svg = profile_while_busy(&server, "seconds=2", &key);
    assert_eq!(svg.status, 200, "{}", svg.body);
    assert_eq!(svg.content_type, "image/svg+xml");
    assert_svg(&svg.body);
    assert!(svg.body.contains("Conea CPU profile: 2 s at 99 Hz"));
    assert!(
        !svg.body.contains("no CPU samples"),
        "the busy server was sampled"
    );
    // Frames are named after the server's functions (symbolised, not bare addresses).
    assert!(svg.body.contains("tokio::"), "a tokio frame");
    assert!(svg.body.contains("conea_server::"), "a conea_server frame");
}

#[test]
fn folded_profile_lists_one_stack_per_line_with_its_count() {
    let env = Env::sqlite();
    let server = env.serve();
    let key = owner_key(&server);
    let a = profile_while_busy(&server, "seconds=1&format=folded", &key);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.content_type.starts_with("text/plain"),
        "{}",
        a.content_type
    );
    assert!(a.body.lines().count() > 0, "the busy server was sampled");
    for line in a.body.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("`stack count`");
        assert!(count.parse::<u64>().unwrap() > 0, "{line}");
        assert!(!stack.is_empty(), "{line}");
    }
}

#[test]
fn profile_needs_the_admin_permission() {
    let env = Env::sqlite();
    let server = env.serve();
    let owner = owner_key(&server);
    let reader = reader_key(&server, &owner);
    let rt = runtime();
    let client = reqwest::Client::new();
    let a = rt.block_on(profile(&client, &server, "seconds=1", &reader));
    assert_error(&a, 403, "insufficient_permissions");
    assert_eq!(a.json()["error"]["details"]["required"], "admin");
    let a = rt.block_on(profile(&client, &server, "seconds=1", "conea_not_a_key"));
    assert_eq!(a.status, 401, "{}", a.body);
}

#[test]
fn profile_length_outside_1_to_300_seconds_or_an_unknown_format_is_a_400() {
    let env = Env::sqlite();
    let server = env.serve();
    let key = owner_key(&server);
    let rt = runtime();
    let client = reqwest::Client::new();
    for (query, param) in [
        ("seconds=0", "seconds"),
        ("seconds=1000", "seconds"),
        ("seconds=-1", "seconds"),
        ("seconds=ten", "seconds"),
        ("seconds=1&format=png", "format"),
    ] {
        let a = rt.block_on(profile(&client, &server, query, &key));
        assert_error(&a, 400, "invalid_parameter");
        assert_eq!(a.json()["error"]["type"], "invalid_request_error");
        assert_eq!(a.json()["error"]["details"]["param"], param, "{query}");
    }
}

#[test]
fn a_second_profile_while_one_records_is_refused_and_the_next_one_runs() {
    let env = Env::sqlite();
    let server = env.serve();
    let key = owner_key(&server);
    let rt = runtime();
    let client = reqwest::Client::new();
    // Both ask at once; whichever the server takes first records for 5 s, so the other
    // arrives while it runs.
    let (a, b) = rt.block_on(async {
        tokio::join!(
            profile(&client, &server, "seconds=5", &key),
            profile(&client, &server, "seconds=5", &key)
        )
    });
    let (done, refused) = if a.status == 200 { (a, b) } else { (b, a) };
    assert_eq!(done.status, 200, "{}", done.body);
    assert_error(&refused, 409, "profile_running");
    assert_eq!(refused.json()["error"]["type"], "conflict_error");
    // The finished profile released its slot.
    let next = rt.block_on(profile(&client, &server, "seconds=1", &key));
    assert_eq!(next.status, 200, "{}", next.body);
    assert_svg(&next.body);
}

#[test]
fn diagnose_profile_writes_the_flame_graph_where_asked() {
    let env = Env::sqlite();
    let server = env.serve();
    let key = owner_key(&server);
    let url = server.url("");
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("cpu.svg");
    let out = env
        .run(&[
            "diagnose",
            "--url",
            &url,
            "--token",
            &key,
            "--profile",
            "1s",
            "--profile-out",
            out_path.to_str().unwrap(),
        ])
        .success();
    assert!(
        out.stdout.contains(out_path.to_str().unwrap()),
        "says where it wrote: {out}"
    );
    let svg = std::fs::read_to_string(&out_path).unwrap();
    assert_svg(&svg);
    assert!(svg.contains("Conea CPU profile: 1 s"));
}

#[test]
fn diagnose_profile_writes_a_timestamped_file_in_the_current_directory_by_default() {
    let env = Env::sqlite();
    let server = env.serve();
    let key = owner_key(&server);
    let url = server.url("");
    let dir = tempfile::tempdir().unwrap();
    let output = env
        .command(&[
            "diagnose",
            "--url",
            &url,
            "--token",
            &key,
            "--profile",
            "1s",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with("conea-profile-") && files[0].ends_with(".svg"),
        "{files:?}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(&files[0]));
    assert_svg(&std::fs::read_to_string(dir.path().join(&files[0])).unwrap());
}

#[test]
fn diagnose_profile_errors_say_what_went_wrong_and_exit_1() {
    let env = Env::sqlite();
    let server = env.serve();
    let owner = owner_key(&server);
    let reader = reader_key(&server, &owner);
    let url = server.url("");
    let out_path = env.data_dir().join("never.svg");
    let out_arg = out_path.to_str().unwrap();
    // Without the admin permission.
    let out = env.run(&[
        "diagnose",
        "--url",
        &url,
        "--token",
        &reader,
        "--profile",
        "1s",
        "--profile-out",
        out_arg,
    ]);
    let line = out.one_line_error();
    assert!(line.contains("403 `insufficient_permissions`"), "{out}");
    assert!(line.contains("`admin` permission"), "{out}");
    // A server that is not there.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", gone.local_addr().unwrap());
    drop(gone);
    let out = env.run(&[
        "diagnose",
        "--url",
        &dead,
        "--token",
        &owner,
        "--profile",
        "1s",
        "--profile-out",
        out_arg,
    ]);
    assert!(out.one_line_error().contains("cannot reach"), "{out}");
    // No token, a length the server refuses.
    let out = env.run(&["diagnose", "--url", &url, "--profile", "1s"]);
    assert!(out.one_line_error().contains("--token"), "{out}");
    let out = env.run(&[
        "diagnose",
        "--url",
        &url,
        "--token",
        &owner,
        "--profile",
        "10m",
    ]);
    assert!(out.one_line_error().contains("--profile"), "{out}");
    assert!(!out_path.exists(), "nothing is written on an error");
}
