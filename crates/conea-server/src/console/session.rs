//! The console's middleware: [`context`] runs before every console handler — it picks the
//! language (cookie, else `Accept-Language`), resumes the session of the cookie, and refuses
//! a POST without the right CSRF token (403) before any handler runs; [`headers`] gives
//! every answer a strict Content-Security-Policy (no inline script or style), no framing,
//! and no caching of pages.

use super::ctx::{
    cookie, form_field, html, see_other, Ctx, Member, CSP, CSRF_FIELD, LOGIN_CSRF_COOKIE,
    SESSION_COOKIE, UPLOAD_PATH,
};
use super::i18n::{Lang, LANG_COOKIE, T};
use super::layout;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use conea_core::services::sessions::csrf_matches;
use conea_core::CoreError;

/// Console forms are small; a larger body is refused before parsing.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Builds the [`Ctx`] of a console request; refuses a POST without the right CSRF token
/// (403) before any handler runs.
pub async fn context(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let headers = &parts.headers;
    let lang = Lang::choose(
        cookie(headers, LANG_COOKIE),
        headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    );
    let secure = state.config().incidents.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let path = parts.uri.path().to_owned();
    let (tz, tz_name, tz_source) = super::ctx::member_time_zone(
        cookie(headers, super::ctx::TZ_PICK_COOKIE),
        cookie(headers, super::ctx::TZ_COOKIE),
    );
    let mut ctx = Ctx {
        lang,
        member: None,
        secure,
        path: path.clone(),
        tz,
        tz_name,
        tz_source,
    };
    if let Some(secret) = cookie(headers, SESSION_COOKIE) {
        match state.platform().sessions.resume(secret).await {
            Ok(Some(active)) => {
                ctx.member = Some(Member {
                    principal: active.principal,
                    csrf: active.csrf_token,
                })
            }
            Ok(None) => {}
            Err(e) => return ctx.fail(e).into_response(),
        }
    }
    // The import's multipart upload is streamed; its handler checks the token itself
    // (its first field) before reading anything else (`pages/import.rs`).
    let streamed = path == UPLOAD_PATH && ctx.member.is_some();
    let body = if parts.method == Method::POST && !streamed {
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return ctx
                    .fail(CoreError::invalid("body", "The form is too large."))
                    .into_response()
            }
        };
        let presented = form_field(&bytes, CSRF_FIELD).unwrap_or_default();
        let expected = if path == "/console/login" {
            cookie(&parts.headers, LOGIN_CSRF_COOKIE).map(str::to_owned)
        } else {
            match &ctx.member {
                Some(m) => Some(m.csrf.clone()),
                None => return see_other("/console/login"),
            }
        };
        let ok = expected.is_some_and(|e| !e.is_empty() && csrf_matches(&e, &presented));
        if !ok {
            return csrf_refused(&ctx);
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(ctx);
    next.run(Request::from_parts(parts, body)).await
}

pub fn csrf_refused(ctx: &Ctx) -> Response {
    let page = layout::bare(ctx, ctx.t(T::ErrorTitle), ctx.t(T::CsrfRefused));
    html(StatusCode::FORBIDDEN, page)
}

/// The console's headers on every answer under `/console`.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}
