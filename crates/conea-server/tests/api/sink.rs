//! A fake HTTP receiver for the delivery tests (incident channels, report schedules): it
//! records every POST (path, headers, body) and answers 202 `{"status":"success"}` (what
//! PagerDuty answers; Slack and webhooks take any 2xx), or 500 for the paths told to fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

#[derive(Default)]
struct SinkInner {
    received: Mutex<Vec<Received>>,
    /// Paths that answer 500 this many more times.
    failures: Mutex<Vec<(String, u32)>>,
}

#[derive(Clone)]
pub struct Sink {
    pub base: String,
    inner: Arc<SinkInner>,
}

async fn record(
    State(inner): State<Arc<SinkInner>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    let path = uri.path().to_owned();
    let fail = {
        let mut f = inner.failures.lock().unwrap();
        match f.iter_mut().find(|(p, n)| *p == path && *n > 0) {
            Some((_, n)) => {
                *n -= 1;
                true
            }
            None => false,
        }
    };
    inner.received.lock().unwrap().push(Received {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
    });
    if fail {
        (StatusCode::INTERNAL_SERVER_ERROR, "fake outage".into())
    } else {
        (StatusCode::ACCEPTED, r#"{"status":"success"}"#.into())
    }
}

impl Sink {
    pub async fn start() -> Sink {
        let inner = Arc::new(SinkInner::default());
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Sink {
            base: format!("http://{addr}"),
            inner,
        }
    }

    pub fn fail(&self, path: &str, times: u32) {
        self.inner
            .failures
            .lock()
            .unwrap()
            .push((path.to_owned(), times));
    }

    pub fn at(&self, path: &str) -> Vec<Received> {
        self.inner
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}
