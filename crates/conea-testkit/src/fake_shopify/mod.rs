//! A fake Shopify Admin API: an axum server on `127.0.0.1:0` that speaks the real wire
//! format — `X-Shopify-Shop-Api-Call-Limit` on every REST answer, a REST leaky bucket (40,
//! leaking 2/s) on the test's fake clock answering 429 with `Retry-After: 2.0` when it
//! would overflow, `Link` pagination with opaque `page_info` cursors over generated
//! products, customers and orders, GraphQL cost accounting (1000 points, restoring 50/s)
//! answering `THROTTLED`, `X-Request-Id` on every answer — plus switches to answer 401 or
//! 500, to force 429s, or to pre-fill the buckets as another app would.
#![allow(dead_code, clippy::manual_is_multiple_of)]

pub mod buckets;
pub mod bulk;
pub mod data;
pub mod graphql;
pub mod rest;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use buckets::{CostBucket, LeakyBucket};
use conea_core::{Clock, FakeClock};
use conea_shopify::{FakeSleeper, ShopifyClient, ShopifyClientBuilder, Throttles};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

pub const SHOP: &str = "fake-shop.myshopify.com";
pub const TOKEN: &str = "shpat_fake_token";
pub const VERSION: &str = "2025-01";

/// How many records of each kind the fake serves.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub products: usize,
    pub customers: usize,
    pub orders: usize,
}

impl Counts {
    pub fn of(n: usize) -> Self {
        Self {
            products: n,
            customers: n,
            orders: n,
        }
    }
}

pub struct FakeState {
    pub rest: LeakyBucket,
    pub graphql: CostBucket,
    pub rest_429s: u32,
    pub graphql_throttled: u32,
    /// Answer 429 (without a full bucket) to the next n REST or GraphQL requests.
    pub forced_429s: u32,
    /// Answer 401 to everything.
    pub unauthorized: bool,
    /// Answer 500 to the next n requests.
    pub server_errors: u32,
    /// Answer 401 to everything after n more requests (a token revoked mid-sync).
    pub unauthorized_after: Option<u32>,
    /// `METHOD path?query` of every request received.
    pub log: Vec<String>,
    /// Ids of objects deleted in the shop: listings skip them, fetching one answers 404.
    pub deleted: HashSet<u64>,
    /// Objects a test put in the shop beside the generated ones, by resource (`orders`)
    /// and id: `GET {resource}/{id}.json` answers them until they are deleted.
    pub objects: HashMap<(String, u64), Value>,
    /// The app's webhook subscriptions in the shop (GraphQL `webhookSubscription*`).
    pub subscriptions: Vec<FakeSubscription>,
    next_subscription_id: u64,
    /// The app whose codes `/admin/oauth/access_token` exchanges: (client id, secret).
    pub oauth_app: Option<(String, String)>,
    /// Authorization codes issued and not yet exchanged (each works once).
    pub oauth_codes: HashSet<String>,
    /// Codes exchanged (an exchanged code is refused the second time).
    pub oauth_exchanged: u32,
    next_request_id: u64,
    /// Bulk operations started, oldest first.
    pub bulks: Vec<bulk::FakeBulk>,
    /// Bulk operations stay `RUNNING` until the test finishes each
    /// ([`FakeShopify::finish_bulk`]), as a large export does.
    pub hold_bulks: bool,
    /// Break the next bulk file download after this many lines (once).
    pub cut_bulk_after_lines: Option<usize>,
    /// A resource's bulk result served from this file instead of generated (benchmarks:
    /// a large file made once, so the fake spends no CPU generating it while it is read).
    pub bulk_files: HashMap<String, std::path::PathBuf>,
    /// Where the fake listens (the bulk result URLs point here).
    pub base_url: String,
    /// API versions Shopify is retiring: every answer to a call of one carries
    /// `X-Shopify-API-Deprecated-Reason` with this reason.
    pub deprecated_versions: HashMap<String, String>,
}

/// One of the app's webhook subscriptions, as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSubscription {
    /// `gid://shopify/WebhookSubscription/N`
    pub id: String,
    /// GraphQL's spelling: `ORDERS_CREATE`.
    pub topic: String,
    pub callback_url: String,
}

impl FakeState {
    pub fn add_subscription(&mut self, topic: &str, callback_url: &str) -> FakeSubscription {
        self.next_subscription_id += 1;
        let s = FakeSubscription {
            id: format!(
                "gid://shopify/WebhookSubscription/{}",
                1_000_000 + self.next_subscription_id
            ),
            topic: topic.to_owned(),
            callback_url: callback_url.to_owned(),
        };
        self.subscriptions.push(s.clone());
        s
    }
}

pub struct Shared {
    pub clock: FakeClock,
    pub counts: Counts,
    state: Mutex<FakeState>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// What every request goes through first: the log, a request id, the token and the
/// failure switches. Returns the request id, and the answer to give instead, if any.
pub fn admit(
    state: &mut FakeState,
    line: String,
    headers: &HeaderMap,
) -> (String, Option<(StatusCode, Value)>) {
    state.log.push(line);
    state.next_request_id += 1;
    if let Some(n) = state.unauthorized_after {
        if n == 0 {
            state.unauthorized = true;
            state.unauthorized_after = None;
        } else {
            state.unauthorized_after = Some(n - 1);
        }
    }
    let request_id = format!("fake-req-{:04}", state.next_request_id);
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    if state.unauthorized || token != Some(TOKEN) {
        let body = serde_json::json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"});
        return (request_id, Some((StatusCode::UNAUTHORIZED, body)));
    }
    (request_id, None)
}

/// The `500` answer when the switch is on (checked after throttling, as it counts).
pub fn server_error(state: &mut FakeState) -> Option<(StatusCode, Value)> {
    if state.server_errors == 0 {
        return None;
    }
    state.server_errors -= 1;
    Some((
        StatusCode::INTERNAL_SERVER_ERROR,
        serde_json::json!({"errors": "Internal Server Error"}),
    ))
}

pub fn respond(status: StatusCode, headers: Vec<(&'static str, String)>, body: &Value) -> Response {
    respond_text(status, headers, body.to_string())
}

/// An answer whose body is sent exactly as given (a recorded Shopify body).
pub fn respond_text(
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: String,
) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    for (name, value) in headers {
        h.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    response
}

/// Adds `X-Shopify-API-Deprecated-Reason` to an answer of a deprecated version's call, as
/// Shopify does (whatever the status).
fn flag_deprecated(shared: &Shared, version: &str, mut response: Response) -> Response {
    if let Some(reason) = shared.lock().deprecated_versions.get(version) {
        if let Ok(v) = HeaderValue::from_str(reason) {
            response
                .headers_mut()
                .insert("x-shopify-api-deprecated-reason", v);
        }
    }
    response
}

async fn get_handler(
    State(shared): State<Arc<Shared>>,
    Path((version, file)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let r = rest::handle(&shared, &file, &params, &headers);
    flag_deprecated(&shared, &version, r)
}

async fn get_one_handler(
    State(shared): State<Arc<Shared>>,
    Path((version, resource, file)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let r = rest::handle(&shared, &format!("{resource}/{file}"), &params, &headers);
    flag_deprecated(&shared, &version, r)
}

async fn post_handler(
    State(shared): State<Arc<Shared>>,
    Path((version, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if file != "graphql.json" {
        return respond(
            StatusCode::NOT_FOUND,
            vec![],
            &serde_json::json!({"errors": "Not Found"}),
        );
    }
    let r = graphql::handle(&shared, &headers, &body);
    flag_deprecated(&shared, &version, r)
}

/// `POST /admin/oauth/access_token` `{client_id, client_secret, code}`: the app's offline
/// token for a code issued with [`FakeShopify::issue_code`], once; Shopify's 400
/// `invalid_request` otherwise.
async fn access_token_handler(State(shared): State<Arc<Shared>>, body: String) -> Response {
    let mut state = shared.lock();
    state.log.push("POST /admin/oauth/access_token".into());
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let field = |k: &str| request[k].as_str().unwrap_or_default().to_owned();
    let (id, secret, code) = (field("client_id"), field("client_secret"), field("code"));
    let app_ok = state
        .oauth_app
        .as_ref()
        .is_some_and(|(i, s)| *i == id && *s == secret);
    if !app_ok {
        return respond(
            StatusCode::BAD_REQUEST,
            vec![],
            &serde_json::json!({"error": "invalid_client", "error_description": "Client credentials are invalid"}),
        );
    }
    if !state.oauth_codes.remove(&code) {
        return respond(
            StatusCode::BAD_REQUEST,
            vec![],
            &serde_json::json!({"error": "invalid_request", "error_description": "The authorization code was not found or was already used"}),
        );
    }
    state.oauth_exchanged += 1;
    respond(
        StatusCode::OK,
        vec![],
        &serde_json::json!({"access_token": TOKEN, "scope": "read_products,read_customers,read_orders"}),
    )
}

/// A running fake shop.
pub struct FakeShopify {
    pub base_url: String,
    pub shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeShopify {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeShopify {
    pub async fn start(clock: FakeClock, counts: Counts) -> Self {
        let now = clock.now_ms();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            clock,
            counts,
            state: Mutex::new(FakeState {
                rest: LeakyBucket::new(40.0, 2.0, now),
                graphql: CostBucket::new(1000.0, 50.0, now),
                rest_429s: 0,
                graphql_throttled: 0,
                forced_429s: 0,
                unauthorized: false,
                server_errors: 0,
                unauthorized_after: None,
                log: Vec::new(),
                deleted: HashSet::new(),
                objects: HashMap::new(),
                subscriptions: Vec::new(),
                next_subscription_id: 0,
                oauth_app: None,
                oauth_codes: HashSet::new(),
                oauth_exchanged: 0,
                next_request_id: 0,
                bulks: Vec::new(),
                hold_bulks: false,
                cut_bulk_after_lines: None,
                bulk_files: HashMap::new(),
                base_url: base_url.clone(),
                deprecated_versions: HashMap::new(),
            }),
        });
        let app = axum::Router::new()
            .route(
                "/admin/api/{version}/{file}",
                get(get_handler).post(post_handler),
            )
            .route(
                "/admin/api/{version}/{resource}/{file}",
                get(get_one_handler),
            )
            .route(
                "/admin/oauth/access_token",
                axum::routing::post(access_token_handler),
            )
            .route("/bulk/{name}", get(bulk::file))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base_url,
            shared,
            task,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.shared.lock()
    }

    pub fn rest_429s(&self) -> u32 {
        self.state().rest_429s
    }

    pub fn graphql_throttled(&self) -> u32 {
        self.state().graphql_throttled
    }

    /// The highest REST bucket level our requests ever brought it to.
    pub fn max_fill(&self) -> f64 {
        self.state().rest.max_fill
    }

    pub fn requests(&self) -> usize {
        self.state().log.len()
    }

    pub fn log(&self) -> Vec<String> {
        self.state().log.clone()
    }

    /// Another app has used the REST bucket up to `level` just now.
    pub fn prefill_rest(&self, level: f64) {
        let now = self.shared.now();
        self.state().rest.set_level(now, level);
    }

    pub fn set_graphql_available(&self, available: f64) {
        let now = self.shared.now();
        self.state().graphql.set_available(now, available);
    }

    pub fn force_429s(&self, n: u32) {
        self.state().forced_429s = n;
    }

    pub fn answer_401(&self, on: bool) {
        self.state().unauthorized = on;
    }

    /// Answers 401 to every request after the next `n`.
    pub fn answer_401_after(&self, n: u32) {
        self.state().unauthorized_after = Some(n);
    }

    pub fn answer_500s(&self, n: u32) {
        self.state().server_errors = n;
    }

    /// The app whose authorization codes the fake exchanges.
    pub fn set_oauth_app(&self, client_id: &str, secret: &str) {
        self.state().oauth_app = Some((client_id.to_owned(), secret.to_owned()));
    }

    /// Issues an authorization code, as Shopify does when the merchant approves the
    /// install (the consent page itself is not served: a test follows the redirect).
    pub fn issue_code(&self, code: &str) {
        self.state().oauth_codes.insert(code.to_owned());
    }

    /// The app's webhook subscriptions: (GraphQL topic, callback URL), in creation order.
    pub fn subscriptions(&self) -> Vec<FakeSubscription> {
        self.state().subscriptions.clone()
    }

    /// Deletes the subscriptions of a topic (GraphQL spelling), as a merchant or Shopify
    /// (after failed deliveries) would.
    pub fn drop_subscriptions(&self, topic: &str) {
        self.state().subscriptions.retain(|s| s.topic != topic);
    }

    /// Breaks the next bulk result download after `lines` lines (the connection resets).
    pub fn cut_bulk_download_after(&self, lines: usize) {
        self.state().cut_bulk_after_lines = Some(lines);
    }

    /// Serves `resource`'s bulk results (`orders`, …) from `path`, a file in Shopify's JSONL
    /// (as [`bulk::write_file`] makes), read in 256 KiB pieces.
    pub fn serve_bulk_file(&self, resource: &str, path: impl Into<std::path::PathBuf>) {
        self.state()
            .bulk_files
            .insert(resource.to_owned(), path.into());
    }

    /// Shopify is retiring `version`: its calls' answers carry
    /// `X-Shopify-API-Deprecated-Reason: {reason}` (REST and GraphQL before 2025-04 send
    /// `https://shopify.dev/api/usage/versioning#deprecation-practices`).
    pub fn deprecate_version(&self, version: &str, reason: &str) {
        self.state()
            .deprecated_versions
            .insert(version.to_owned(), reason.to_owned());
    }

    /// Bulk operations started so far.
    pub fn bulk_operations(&self) -> usize {
        self.state().bulks.len()
    }

    /// Keeps every bulk operation `RUNNING` until [`Self::finish_bulk`] ends it.
    pub fn hold_bulks(&self) {
        self.state().hold_bulks = true;
    }

    /// The `n`th bulk operation (1-based) ends `COMPLETED`; returns its id and resource.
    pub fn finish_bulk(&self, n: usize) -> (String, String) {
        let mut state = self.state();
        let b = &mut state.bulks[n - 1];
        b.finished = true;
        (b.gid(), b.resource.clone())
    }

    /// How often the `n`th bulk operation's status was asked for.
    pub fn bulk_checks(&self, n: usize) -> u32 {
        self.state().bulks.get(n - 1).map_or(0, |b| b.checks)
    }

    /// The `bulk_operations/finish` webhook body Shopify sends when operation `id` ended
    /// (the payload of Shopify's webhook reference).
    pub fn bulk_finish_payload(id: &str) -> Value {
        serde_json::json!({
            "admin_graphql_api_id": id,
            "completed_at": "2026-12-04T21:00:05-05:00",
            "created_at": "2026-12-04T21:00:00-05:00",
            "error_code": null,
            "status": "completed",
            "type": "query"
        })
    }

    /// Puts an object in the shop (as a merchant would create it in the admin) under
    /// `resource` (`orders`, `products`, `customers`) and its `id`: `GET
    /// {resource}/{id}.json` answers it as Shopify does (`{"order": {…}}`) until
    /// [`delete_object`](Self::delete_object). Listings keep to the generated objects.
    pub fn put_object(&self, resource: &str, object: Value) {
        let id = object["id"].as_u64().expect("the object has a numeric id");
        let mut state = self.state();
        state.deleted.remove(&id);
        state.objects.insert((resource.to_owned(), id), object);
    }

    /// Deletes the object with this Shopify id (as a merchant would in the admin): it
    /// leaves the listings and `GET {resource}/{id}.json` answers 404.
    pub fn delete_object(&self, id: u64) {
        self.state().deleted.insert(id);
    }
}

/// A fake shop and a client for it, on one fake clock that the client's waits advance.
pub struct Setup {
    pub fake: FakeShopify,
    pub clock: FakeClock,
    pub sleeper: FakeSleeper,
    pub throttles: Throttles,
    pub client: ShopifyClient,
}

impl Setup {
    pub async fn new(counts: Counts) -> Self {
        Self::with(counts, |b| b).await
    }

    /// With builder options on top of the defaults (fake base URL, fake sleeper).
    pub async fn with(
        counts: Counts,
        options: impl FnOnce(ShopifyClientBuilder) -> ShopifyClientBuilder,
    ) -> Self {
        let clock = FakeClock::new(1_750_000_000_000);
        let fake = FakeShopify::start(clock.clone(), counts).await;
        let throttles = Throttles::new(Arc::new(clock.clone()));
        let sleeper = FakeSleeper::new(clock.clone());
        let client = options(client_builder(&fake, &throttles, &sleeper))
            .build()
            .unwrap();
        Self {
            fake,
            clock,
            sleeper,
            throttles,
            client,
        }
    }
}

pub fn client_builder(
    fake: &FakeShopify,
    throttles: &Throttles,
    sleeper: &FakeSleeper,
) -> ShopifyClientBuilder {
    ShopifyClient::builder(SHOP, TOKEN, VERSION, throttles.clone())
        .base_url(fake.base_url.clone())
        .sleeper(Arc::new(sleeper.clone()))
}
