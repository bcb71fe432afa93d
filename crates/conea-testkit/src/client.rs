//! A small typed HTTP client for tests: every call returns status, headers and JSON body.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// Asserts the error body shape of `docs/api.md` and returns the code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        let e = &self.body["error"];
        assert_eq!(e["code"], code, "code; body: {}", self.text);
        assert!(
            e["type"].is_string() && e["message"].is_string(),
            "error shape: {}",
            self.text
        );
        assert!(
            e["request_id"].is_string(),
            "request_id in body: {}",
            self.text
        );
        assert_eq!(
            self.header("x-request-id"),
            e["request_id"].as_str(),
            "request id in header and body agree"
        );
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(8)
                .build()
                .expect("http client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        credential: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        if let Some(c) = credential {
            req = req.bearer_auth(c);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("request reaches the server");
        Self::read(resp).await
    }

    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, credential: Option<&str>) -> Resp {
        self.send(Method::GET, path, credential, None).await
    }

    pub async fn post(&self, path: &str, credential: Option<&str>, body: Value) -> Resp {
        self.send(Method::POST, path, credential, Some(&body)).await
    }

    pub async fn put(&self, path: &str, credential: Option<&str>, body: Value) -> Resp {
        self.send(Method::PUT, path, credential, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, credential: Option<&str>, body: Value) -> Resp {
        self.send(Method::PATCH, path, credential, Some(&body))
            .await
    }

    pub async fn delete(&self, path: &str, credential: Option<&str>) -> Resp {
        self.send(Method::DELETE, path, credential, None).await
    }
}
