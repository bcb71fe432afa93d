//! The answers hyper writes on its own, before any Conea code sees the request, given the
//! one error body: when it cannot parse a request head, hyper answers `400` (a request line
//! or header that is not HTTP/1.1: bytes outside ASCII in the path or query, a bad method,
//! a header without a colon), `414` (a path and query longer than 65,534 bytes) or `431`
//! (more than 100 headers, or a head larger than its read buffer), with no body, and closes
//! the connection. hyper has no hook for that answer, so [`RefusalRewrite`] wraps the
//! connection's socket and replaces such a head, as it is written, with the same status,
//! `Content-Type: application/json`, an `X-Request-Id`, `Connection: close` and the error
//! body of `docs/api.md`.
//!
//! A head is hyper's refusal when its status is one of those three and it carries no
//! `Content-Type`: every error Conea's own code sends has the JSON body and its content type,
//! so nothing Conea writes is ever taken for one.

use crate::http::error::{ErrorBody, ErrorObject};
use conea_core::error::ErrorCode;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A socket whose writes are watched for hyper's bodiless refusals (see the module doc).
pub struct RefusalRewrite<T> {
    inner: T,
    /// The replacement answer still to be written.
    pending: Vec<u8>,
    sent: usize,
}

impl<T> RefusalRewrite<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            sent: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> RefusalRewrite<T> {
    /// Writes what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        if !self.pending.is_empty() {
            self.pending = Vec::new();
            self.sent = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for RefusalRewrite<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for RefusalRewrite<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some(answer) = rewrite(buf) {
            this.pending = answer;
            // Taken whole: the replacement goes out now or on the flush hyper does next.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        // hyper writes a head in the first slice (a refusal has nothing after it).
        if let Some(answer) = bufs.iter().find(|b| !b.is_empty()).and_then(|b| rewrite(b)) {
            this.pending = answer;
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The error code of a head hyper writes for a request it could not parse.
fn refusal_code(status: u16) -> Option<ErrorCode> {
    match status {
        400 => Some(ErrorCode::MalformedRequest),
        414 => Some(ErrorCode::UriTooLong),
        431 => Some(ErrorCode::RequestHeadersTooLarge),
        _ => None,
    }
}

/// The full answer replacing `written` when it is one of hyper's bodiless refusals.
fn rewrite(written: &[u8]) -> Option<Vec<u8>> {
    // Cheap test first: every response head Conea sends passes through here.
    let status = written.get(9..12)?;
    if !written.starts_with(b"HTTP/1.") || !matches!(status, b"400" | b"414" | b"431") {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(len) = head.parse(written).ok()? else {
        return None;
    };
    let code = refusal_code(head.code?)?;
    let is = |h: &&httparse::Header<'_>, name: &str| h.name.eq_ignore_ascii_case(name);
    let bodiless = head.headers.iter().all(|h| !is(&h, "content-type"))
        && head
            .headers
            .iter()
            .find(|h| is(h, "content-length"))
            .is_none_or(|h| h.value == b"0");
    if !bodiless || len != written.len() {
        return None;
    }
    let request_id = conea_core::ids::new_request_id();
    let message = match code {
        ErrorCode::UriTooLong => {
            "The path and query are longer than 65,534 bytes. Send long parameters in a body."
        }
        ErrorCode::RequestHeadersTooLarge => {
            "The request head has too many headers (100 at most) or is too large. Send fewer or shorter headers."
        }
        _ => {
            "The request line or a header is not valid HTTP/1.1 (the path and query must be ASCII: percent-encode other bytes)."
        }
    };
    tracing::info!(
        request_id = %request_id,
        status = code.status(),
        code = code.as_str(),
        "request refused before routing: its head could not be parsed"
    );
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorObject {
            kind: code.error_type().as_str(),
            code,
            message: message.to_owned(),
            request_id: Some(request_id.clone()),
            details: None,
        },
    })
    .ok()?;
    let version = if written.starts_with(b"HTTP/1.0") {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let reason = head.reason.unwrap_or_default();
    let mut answer = format!(
        "{version} {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         x-request-id: {request_id}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n",
        code.status(),
        body.len()
    )
    .into_bytes();
    for h in head.headers.iter().filter(|h| is(h, "date")) {
        answer.extend_from_slice(b"date: ");
        answer.extend_from_slice(h.value);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"\r\n");
    answer.extend_from_slice(&body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bodiless_refusals_are_replaced_and_conea_answers_are_not() {
        let refused = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 18:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(rewrite(refused).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(answer.contains("\r\ndate: Fri, 04 Dec 2026 18:00:00 GMT\r\n"));
        let body: serde_json::Value =
            serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "request_headers_too_large");
        assert_eq!(body["error"]["type"], "invalid_request_error");

        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(
            rewrite(ours).is_none(),
            "Conea's own errors carry a content type"
        );
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n";
        assert!(rewrite(with_body).is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 400 Bad").is_none(), "a partial head");
    }
}
