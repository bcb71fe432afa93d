//! Local fakes of the five providers: small axum servers on `127.0.0.1:0` that speak each
//! provider's wire format byte for byte (the fixtures), follow a script per request, count
//! and record requests, and notice when a client walks away from a streaming body.
// disallowed_methods: a fake provider's drip waits on the real timer, like a real provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

pub mod dialects;
pub mod embeddings;
pub mod models;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use conea_ai::backoff::FakeClockSleeper;
use conea_ai::http::HttpClient;
use conea_ai::providers::Endpoint;
use conea_ai::{AiConfig, EventStream, Provider, Router, StreamEvent, Usage, UsageSink};
use conea_core::FakeClock;
pub use dialects::{Dialect, ALL, ANTHROPIC, COHERE, GEMINI, OLLAMA, OPENAI};
use futures::StreamExt;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// What the fake does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Script {
    /// The fixture answer (complete or streamed, as the request asks).
    Reply,
    /// 429, with this `Retry-After` header when given.
    RateLimited(Option<&'static str>),
    /// The provider's overload status (Anthropic 529, others 503).
    Overloaded,
    /// 500.
    ServerError,
    /// 502 with a proxy's HTML page.
    Html502,
    /// Bad credentials in the provider's shape.
    Unauthorized,
    /// The provider's context-length error with these numbers.
    ContextLength { limit: u64, requested: u64 },
    /// 400 invalid request.
    Invalid,
    /// The fixture answer calling a tool (complete calls only).
    ToolCall,
    /// Never answers.
    Hang,
    /// Streams a few events (at least one delta), then sends nothing more.
    StallMidStream,
    /// Streams a few events, then the provider's in-stream error event.
    ErrorAfterStart,
    /// 200, then at once the provider's in-stream error event.
    ErrorFirst,
    /// Streams a few events, then closes without the end marker.
    Truncated,
    /// Streams a few events, then one delta every 20 ms, forever.
    Drip,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

struct Shared {
    dialect: &'static Dialect,
    /// Embedding requests, apart from the chat requests.
    embed_requests: Mutex<Vec<Recorded>>,
    /// Model-list requests (path and query, headers), apart from the chat requests.
    model_requests: Mutex<Vec<Recorded>>,
    /// The model list answers 500 while set.
    models_fail: std::sync::atomic::AtomicBool,
    script: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<Recorded>>,
    /// Streaming bodies dropped before they were sent to the end (client went away).
    disconnects: AtomicUsize,
    changed: Notify,
}

pub struct FakeServer {
    pub dialect: &'static Dialect,
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub async fn start(dialect: &'static Dialect) -> Self {
        let shared = Arc::new(Shared {
            dialect,
            model_requests: Mutex::default(),
            embed_requests: Mutex::default(),
            models_fail: std::sync::atomic::AtomicBool::new(false),
            script: Mutex::default(),
            requests: Mutex::default(),
            disconnects: AtomicUsize::new(0),
            changed: Notify::new(),
        });
        let mut app = axum::Router::new()
            .route(dialect.route, post(handle))
            .route(models::route(dialect.kind), axum::routing::get(list_models));
        if let Some(route) = embeddings::route(dialect.kind) {
            app = app.route(route, post(embed));
        }
        let app = app.with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            dialect,
            url,
            shared,
            task,
        }
    }

    /// Queues behaviours for the next requests; once used up, requests get `Reply`.
    pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
        self.shared.script.lock().unwrap().extend(steps);
    }

    /// The embedding requests received.
    pub fn embed_requests(&self) -> Vec<Recorded> {
        self.shared.embed_requests.lock().unwrap().clone()
    }

    /// The model-list requests received.
    pub fn model_requests(&self) -> Vec<Recorded> {
        self.shared.model_requests.lock().unwrap().clone()
    }

    /// Makes the model list answer 500 (`true`) or the fixture (`false`).
    pub fn fail_model_list(&self, fail: bool) {
        self.shared.models_fail.store(fail, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `n` streaming bodies were abandoned by their client.
    pub async fn wait_for_disconnects(&self, n: usize, within: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.changed.notified();
                if self.disconnects() >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, wait).await.is_ok()
    }

    /// The `*_BASE_URL` value pointing at this fake.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.url, self.dialect.base_suffix)
    }

    /// The variables that configure the provider against this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        let kind = self.dialect.kind;
        let mut env = vec![(kind.base_url_variable().to_owned(), self.base_url())];
        if kind.needs_key() {
            env.push((kind.key_variable().to_owned(), "test-key-123".to_owned()));
        }
        env
    }

    /// A client for this provider alone, over the shared plumbing.
    pub fn provider(&self) -> Arc<dyn Provider> {
        let clock = Arc::new(FakeClock::new(1_700_000_000_000));
        let http = HttpClient::new(clock).unwrap();
        let key = self
            .dialect
            .kind
            .needs_key()
            .then(|| "test-key-123".to_owned());
        self.dialect
            .kind
            .build(Endpoint::new(&self.base_url(), key), http)
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path().ends_with(":batchEmbedContents") {
        return embed(State(shared), uri, headers, body).await;
    }
    let d = shared.dialect;
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let stream = (d.wants_stream)(&path, &payload);
    shared.requests.lock().unwrap().push(Recorded {
        path,
        headers,
        body: payload,
    });
    shared.changed.notify_waiters();
    let script = shared
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Script::Reply);
    let events = dialects::split_events(d.stream);
    let prefix: Vec<String> = events
        .iter()
        .take(d.events_before_failure)
        .cloned()
        .collect();
    match script {
        Script::Reply if stream => streaming(&shared, events, Tail::End),
        Script::Reply => respond(200, d.complete, &[]),
        Script::ToolCall => respond(200, d.tool_call, &[]),
        Script::RateLimited(retry_after) => {
            let delay = format!("{}s", retry_after.unwrap_or("1"));
            let body = d.rate_limit.replace("{RETRY_DELAY}", &delay);
            let headers: Vec<(&str, &str)> = retry_after
                .map(|v| vec![("retry-after", v)])
                .unwrap_or_default();
            respond(429, &body, &headers)
        }
        Script::Overloaded => respond(d.overloaded.0, d.overloaded.1, &[]),
        Script::ServerError => respond(500, d.server, &[]),
        Script::Html502 => Response::builder()
            .status(502)
            .header("content-type", "text/html")
            .body(Body::from(dialects::HTML_502))
            .unwrap(),
        Script::Unauthorized => respond(d.auth.0, d.auth.1, &[]),
        Script::ContextLength { limit, requested } => {
            let body = d
                .context_length
                .1
                .replace("{LIMIT}", &limit.to_string())
                .replace("{REQUESTED}", &requested.to_string());
            respond(d.context_length.0, &body, &[])
        }
        Script::Invalid => respond(400, d.invalid, &[]),
        Script::Hang => futures::future::pending().await,
        Script::StallMidStream => streaming(&shared, prefix, Tail::Stall),
        Script::ErrorAfterStart => {
            let mut events = prefix;
            events.push(d.stream_error.to_owned());
            streaming(&shared, events, Tail::End)
        }
        Script::ErrorFirst => streaming(&shared, vec![d.stream_error.to_owned()], Tail::End),
        Script::Truncated => streaming(&shared, prefix, Tail::End),
        Script::Drip => streaming(&shared, prefix, Tail::Drip),
    }
}

fn respond(status: u16, body: &str, headers: &[(&str, &str)]) -> Response {
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body.to_owned())).unwrap()
}

#[derive(Clone, Copy)]
enum Tail {
    /// Close the body after the events.
    End,
    /// Keep the body open, silent.
    Stall,
    /// Keep sending deltas.
    Drip,
}

/// Counts a disconnect when a streaming body is dropped before its end.
struct DropGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl DropGuard {
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.disconnects.fetch_add(1, Ordering::SeqCst);
            self.shared.changed.notify_waiters();
        }
    }
}

struct StreamBody {
    events: VecDeque<String>,
    tail: Tail,
    guard: DropGuard,
    n: u32,
}

fn streaming(shared: &Arc<Shared>, events: Vec<String>, tail: Tail) -> Response {
    let state = StreamBody {
        events: events.into(),
        tail,
        guard: DropGuard {
            shared: Arc::clone(shared),
            finished: false,
        },
        n: 0,
    };
    let delta = shared.dialect.delta;
    let body = futures::stream::unfold(state, move |mut st| async move {
        if let Some(ev) = st.events.pop_front() {
            return Some((Ok::<_, Infallible>(Bytes::from(ev)), st));
        }
        match st.tail {
            Tail::End => {
                st.guard.finish();
                None
            }
            Tail::Stall => futures::future::pending().await,
            Tail::Drip => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                st.n += 1;
                let ev = delta.replace("{TEXT}", &format!("tick{} ", st.n));
                Some((Ok(Bytes::from(ev)), st))
            }
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", shared.dialect.stream_content_type)
        .body(Body::from_stream(body))
        .unwrap()
}

async fn embed(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = embeddings::answer(shared.dialect.kind, &payload);
    shared.embed_requests.lock().unwrap().push(Recorded {
        path: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        headers,
        body: payload,
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(answer.to_string()))
        .unwrap()
}

async fn list_models(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    shared.model_requests.lock().unwrap().push(Recorded {
        path: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        headers,
        body: Value::Null,
    });
    if shared.models_fail.load(Ordering::SeqCst) {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .header("content-type", "application/json")
            .body(Body::from(shared.dialect.server))
            .unwrap();
    }
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(models::fixture(shared.dialect.kind)))
        .unwrap()
}

/// Records every usage report.
#[derive(Debug, Default)]
pub struct RecordingSink {
    pub reports: Mutex<Vec<(String, String, Usage)>>,
}

impl RecordingSink {
    pub fn reports(&self) -> Vec<(String, String, Usage)> {
        self.reports.lock().unwrap().clone()
    }
}

impl UsageSink for RecordingSink {
    fn record(&self, provider: &str, model: &str, usage: Usage) {
        self.reports
            .lock()
            .unwrap()
            .push((provider.to_owned(), model.to_owned(), usage));
    }
}

/// A router against fakes, on a fake clock that retry waits advance.
pub struct Setup {
    pub router: Router,
    pub clock: FakeClock,
    pub sleeper: FakeClockSleeper,
    pub usage: Arc<RecordingSink>,
}

/// Builds a router for these fakes with an `[ai]` section (TOML text, without the `[ai]`
/// header line when empty) and extra variables.
pub fn setup(servers: &[&FakeServer], ai_toml: &str, extra: &[(&str, &str)]) -> Setup {
    let mut env: HashMap<String, String> = servers.iter().flat_map(|s| s.env()).collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let file: toml::Table = ai_toml.parse().expect("test TOML");
    let config = AiConfig::load(&env, file.get("ai").and_then(|v| v.as_table()))
        .unwrap_or_else(|p| panic!("config problems: {p:?}"));
    let clock = FakeClock::new(1_700_000_000_000);
    let sleeper = FakeClockSleeper::new(clock.clone());
    let usage = Arc::new(RecordingSink::default());
    let router = Router::new(config, Arc::new(clock.clone()))
        .unwrap()
        .with_sleeper(Arc::new(sleeper.clone()))
        .with_usage_sink(usage.clone());
    Setup {
        router,
        clock,
        sleeper,
        usage,
    }
}

/// All events of a stream (bounded: a hung stream fails the test instead of hanging it).
pub async fn collect(stream: EventStream) -> Vec<StreamEvent> {
    tokio::time::timeout(Duration::from_secs(20), stream.collect::<Vec<_>>())
        .await
        .expect("the stream should end")
}

/// The text of the deltas.
pub fn text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

pub fn usages(events: &[StreamEvent]) -> Vec<Usage> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        })
        .collect()
}
