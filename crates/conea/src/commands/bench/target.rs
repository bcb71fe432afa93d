//! The request every benchmark sends, parsed and checked once from the command line.

use crate::cli::BenchRequestArgs;
use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use hyper::{Method, Uri};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given, for reports and for the TLS client.
    pub url: String,
    pub method: Method,
    pub tls: bool,
    /// `host:port` to connect to.
    pub connect_to: String,
    /// Origin-form request target (`/path?query`) for plain HTTP/1.1.
    pub path: Uri,
    /// The headers to send, `Host` included.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub timeout: Duration,
    /// A header set to `bench-<pid>-<n>` on each request, `n` counting across workers.
    pub unique_header: Option<(HeaderName, std::sync::Arc<std::sync::atomic::AtomicU64>)>,
}

impl Target {
    /// The headers of the next request (with the unique header's next value, if any).
    pub fn next_headers(&self) -> HeaderMap {
        let mut headers = self.headers.clone();
        if let Some((name, counter)) = &self.unique_header {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Ok(v) = HeaderValue::from_str(&format!("bench-{}-{n}", std::process::id())) {
                headers.insert(name.clone(), v);
            }
        }
        headers
    }
}

impl Target {
    pub fn parse(args: &BenchRequestArgs) -> Result<Target> {
        let uri: Uri = args
            .url
            .parse()
            .map_err(|e| anyhow!("`{}` is not a URL: {e}", args.url))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => bail!(
                "`{}`: the URL must start with http:// or https://",
                args.url
            ),
        };
        let Some(authority) = uri.authority() else {
            bail!("`{}`: the URL has no host", args.url);
        };
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let connect_to = format!("{}:{port}", authority.host());
        let path: Uri = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| anyhow!("`{}`: bad path: {e}", args.url))?;
        let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| anyhow!("--method `{}` is not an HTTP method", args.method))?;
        let mut headers = HeaderMap::new();
        for line in &args.headers {
            let (name, value) = parse_header(line)?;
            headers.append(name, value);
        }
        if !headers.contains_key(HOST) {
            let host = HeaderValue::from_str(authority.as_str())
                .map_err(|e| anyhow!("`{}`: bad host: {e}", args.url))?;
            headers.insert(HOST, host);
        }
        if args.timeout.is_zero() {
            bail!("--timeout must be more than 0");
        }
        let unique_header = match &args.unique_header {
            None => None,
            Some(name) => Some((
                HeaderName::from_bytes(name.trim().as_bytes())
                    .map_err(|_| anyhow!("--unique-header `{name}` is not a header name"))?,
                std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
            )),
        };
        Ok(Target {
            url: args.url.clone(),
            method,
            tls,
            connect_to,
            path,
            headers,
            body: Bytes::from(args.body.clone().unwrap_or_default()),
            timeout: args.timeout,
            unique_header,
        })
    }
}

/// `Name: value` as curl's and wrk's `-H` take it.
fn parse_header(line: &str) -> Result<(HeaderName, HeaderValue)> {
    let Some((name, value)) = line.split_once(':') else {
        bail!("-H `{line}`: a header is `Name: value`");
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| anyhow!("-H `{line}`: `{}` is not a header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| anyhow!("-H `{line}`: the value has characters not allowed in a header"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: &str, headers: &[&str]) -> BenchRequestArgs {
        BenchRequestArgs {
            url: url.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            method: "post".into(),
            body: Some("x".into()),
            timeout: Duration::from_secs(1),
            json: false,
            unique_header: None,
        }
    }

    #[test]
    fn unique_header_differs_on_every_request() {
        let mut a = args("http://localhost/", &["X-Shopify-Event-Id: fixed"]);
        a.unique_header = Some("X-Shopify-Event-Id".into());
        let t = Target::parse(&a).unwrap();
        let first = t.next_headers();
        let second = t.next_headers();
        let id = |h: &HeaderMap| h.get_all("x-shopify-event-id").iter().count();
        assert_eq!((id(&first), id(&second)), (1, 1), "replaced, not appended");
        assert_ne!(first["x-shopify-event-id"], second["x-shopify-event-id"]);
        assert!(Target::parse(&args("http://localhost/", &[]))
            .unwrap()
            .next_headers()
            .get("x-shopify-event-id")
            .is_none());
    }

    #[test]
    fn parses_url_method_headers_and_default_port() {
        let t = Target::parse(&args("http://localhost/a?b=1", &["X-A: 1", "x-a:2"])).unwrap();
        assert_eq!(t.connect_to, "localhost:80");
        assert_eq!(t.path, "/a?b=1");
        assert_eq!(t.method, Method::POST);
        assert_eq!(t.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(t.headers[HOST], "localhost");
        let t = Target::parse(&args("https://example.com:8443", &[])).unwrap();
        assert!(t.tls);
        assert_eq!(t.connect_to, "example.com:8443");
        assert_eq!(t.path, "/");
    }

    #[test]
    fn rejects_bad_input_with_the_reason() {
        let e = Target::parse(&args("ftp://h/", &[])).unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
        let e = Target::parse(&args("http://h/", &["NoColon"])).unwrap_err();
        assert!(e.to_string().contains("Name: value"), "{e}");
        let e = Target::parse(&args("http://h/", &["Bad Name: x"])).unwrap_err();
        assert!(e.to_string().contains("not a header name"), "{e}");
    }
}
