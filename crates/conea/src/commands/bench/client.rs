//! One keep-alive connection per worker. Plain HTTP uses a bare hyper HTTP/1.1 connection
//! (no pool, no per-request URL parsing, no connection task) so the client costs little
//! next to the server; HTTPS goes through reqwest (rustls) with a pool of one.

use super::target::Target;
use anyhow::{anyhow, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::time::Duration;
use tokio::net::TcpStream;

/// What became of one request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The full response arrived with this status.
    Status(u16),
    /// No (complete) response: connect failure, reset, timeout, ... (a short reason).
    Failed(String),
}

pub struct Conn {
    kind: Kind,
}

enum Kind {
    Plain(Option<Plain>),
    Tls(reqwest::Client),
}

impl Conn {
    pub fn new(target: &Target) -> Result<Conn> {
        let kind = if target.tls {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| anyhow!("cannot build the HTTPS client: {e}"))?;
            Kind::Tls(client)
        } else {
            Kind::Plain(None)
        };
        Ok(Conn { kind })
    }

    /// Opens the connection ahead of the first request, so connecting is not measured.
    /// A failure is not fatal: the first request retries and reports it.
    pub async fn warm_up(&mut self, target: &Target) {
        if let Kind::Plain(slot @ None) = &mut self.kind {
            if let Ok(Ok(c)) = tokio::time::timeout(target.timeout, connect(target)).await {
                *slot = Some(c);
            }
        }
    }

    /// Sends the target request and reads the whole response, within `timeout` if given
    /// (a load run leaves it out when its own end comes sooner, sparing a timer a request).
    pub async fn send(&mut self, target: &Target, timeout: Option<Duration>) -> Outcome {
        let outcome = match timeout {
            None => self.exchange(target).await,
            Some(t) => match tokio::time::timeout(t, self.exchange(target)).await {
                Ok(outcome) => outcome,
                Err(_) => Outcome::Failed(format!("timeout after {t:?}")),
            },
        };
        if matches!(outcome, Outcome::Failed(_)) {
            // The connection's state is unknown (half-read response, reset): start afresh.
            if let Kind::Plain(slot) = &mut self.kind {
                *slot = None;
            }
        }
        outcome
    }

    async fn exchange(&mut self, target: &Target) -> Outcome {
        match &mut self.kind {
            Kind::Plain(slot) => plain(slot, target).await,
            Kind::Tls(client) => tls(client, target).await,
        }
    }
}

/// A plain HTTP/1.1 connection whose I/O is driven by the worker's own task while a request
/// is in flight (no separate connection task, so no cross-task wake-ups per request).
struct Plain {
    sender: SendRequest<Full<Bytes>>,
    io: Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
}

async fn connect(target: &Target) -> Result<Plain, String> {
    let stream = TcpStream::connect(&target.connect_to)
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    let _ = stream.set_nodelay(true);
    let (sender, io) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(Plain {
        sender,
        io: Box::pin(io),
    })
}

impl Plain {
    /// Waits until the connection takes a request; false when the server closed it.
    async fn ready(&mut self) -> bool {
        let Plain { sender, io } = self;
        tokio::select! {
            biased;
            ready = sender.ready() => ready.is_ok(),
            _ = io.as_mut() => false,
        }
    }

    /// Sends one request and reads the whole response; the flag says the connection ended.
    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> (hyper::Result<u16>, bool) {
        let Plain { sender, io } = self;
        let exchange = async {
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            response.into_body().collect().await?;
            Ok(status)
        };
        tokio::pin!(exchange);
        tokio::select! {
            biased;
            result = &mut exchange => (result, false),
            // The connection ended (the server closed it): whatever the exchange got is final.
            _ = io.as_mut() => (exchange.await, true),
        }
    }
}

async fn plain(slot: &mut Option<Plain>, target: &Target) -> Outcome {
    if let Some(conn) = slot.as_mut() {
        if !conn.ready().await {
            // Closed while idle (keep-alive timeout, `Connection: close`): not an error.
            *slot = None;
        }
    }
    if slot.is_none() {
        match connect(target).await {
            Ok(conn) => *slot = Some(conn),
            Err(e) => return Outcome::Failed(e),
        }
    }
    let Some(conn) = slot.as_mut() else {
        return Outcome::Failed("no connection".into());
    };
    let mut request = Request::new(Full::new(target.body.clone()));
    *request.method_mut() = target.method.clone();
    *request.uri_mut() = target.path.clone();
    *request.headers_mut() = target.next_headers();
    let (result, ended) = conn.exchange(request).await;
    if ended {
        *slot = None;
    }
    match result {
        Ok(status) => Outcome::Status(status),
        Err(e) => Outcome::Failed(hyper_reason(&e)),
    }
}

fn hyper_reason(e: &hyper::Error) -> String {
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        "connection closed".into()
    } else if e.is_parse() {
        "invalid response".into()
    } else {
        format!("http: {e}")
    }
}

async fn tls(client: &reqwest::Client, target: &Target) -> Outcome {
    let response = client
        .request(target.method.clone(), &target.url)
        .headers(target.next_headers())
        .body(target.body.clone())
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(reqwest_reason(&e)),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(_) => Outcome::Status(status),
        Err(e) => Outcome::Failed(reqwest_reason(&e)),
    }
}

fn reqwest_reason(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connect failed".into()
    } else if e.is_timeout() {
        "timeout".into()
    } else {
        format!("request: {e}")
    }
}
