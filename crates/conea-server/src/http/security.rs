//! Headers that protect answers from the browser's side: every answer says
//! `X-Content-Type-Options: nosniff` (a JSON or text body is never sniffed into HTML or
//! script); an answer that carries a credential (a login's token, a new key's secret) says
//! `Cache-Control: no-store` ([`NoStore`]); a page a browser shows for a signed link may not
//! be framed ([`never_framed`]: `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`).

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// `X-Content-Type-Options: nosniff` on every answer, errors and fallbacks included.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// An answer that carries a token or a secret: no cache (browser, proxy) may keep it.
pub struct NoStore<T>(pub T);

impl<T: IntoResponse> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A page that acts on a click (a signed incident link): no other site may frame it (no
/// clickjacking), and no cache keeps it.
pub fn never_framed(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
