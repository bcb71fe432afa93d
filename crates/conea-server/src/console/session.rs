//! The console's request context: the language, the signed-in member (from the session
//! cookie), and the CSRF check of every POST. [`context`] runs before every console
//! handler; handlers take [`Ctx`] (anyone) or [`Signed`] (a member; others are sent to the
//! sign-in page). Every answer gets the console's headers ([`headers`]): a strict
//! Content-Security-Policy (no inline script or style), no framing, no caching of pages.
//! A failure is a [`Failure`]: an HTML page in the member's language with the status of the
//! error's code (the same table as the API's error body).

use super::i18n::{Lang, LANG_COOKIE, T};
use super::layout;
use crate::http::client_addr::ClientAddr;
use crate::http::request_id;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{
    ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION,
    REFERRER_POLICY, SET_COOKIE, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use conea_core::principal::Principal;
use conea_core::services::sessions::csrf_matches;
use conea_core::CoreError;
use maud::Markup;

pub const SESSION_COOKIE: &str = "conea_session";
/// The sign-in form's CSRF token (double submit: cookie and hidden field must agree).
pub const LOGIN_CSRF_COOKIE: &str = "conea_login_csrf";
/// The hidden field every console form carries.
pub const CSRF_FIELD: &str = "csrf";
/// Console forms are small; a larger body is refused before parsing.
const MAX_FORM_BYTES: usize = 64 * 1024;

pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The signed-in member.
#[derive(Clone)]
pub struct Member {
    pub principal: Principal,
    pub csrf: String,
}

/// What every console handler knows about the request.
#[derive(Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub member: Option<Member>,
    /// Cookies get `Secure` (the request came over TLS, or the public URL is https).
    pub secure: bool,
    pub path: String,
}

impl Ctx {
    pub fn t(&self, key: T) -> &'static str {
        self.lang.t(key)
    }

    pub fn fail(&self, error: CoreError) -> Failure {
        Failure {
            lang: self.lang,
            error,
        }
    }

    /// A `Set-Cookie` value with the console's attributes.
    pub fn cookie(&self, name: &str, value: &str, max_age_s: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}")
    }
}

/// A signed-in member's request.
pub struct Signed(pub Ctx, pub Member);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let ctx = Ctx::from_request_parts(parts, s).await?;
        match ctx.member.clone() {
            Some(m) => Ok(Signed(ctx, m)),
            None => Err(see_other("/console/login")),
        }
    }
}

/// The value of one cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// A field of a URL-encoded form body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Builds the [`Ctx`] of a console request; refuses a POST without the right CSRF token
/// (403) before any handler runs.
pub async fn context(
    State(state): State<AppState>,
    ClientAddr(_client): ClientAddr,
    req: Request,
    next: Next,
) -> Response {
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
    let mut ctx = Ctx {
        lang,
        member: None,
        secure,
        path: path.clone(),
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
    let body = if parts.method == Method::POST {
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

fn csrf_refused(ctx: &Ctx) -> Response {
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

/// An HTML page.
pub fn html(status: StatusCode, page: Markup) -> Response {
    let mut r = (status, page.into_string()).into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// `303 See Other` to a console path (after a POST, or to the sign-in page).
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// Adds a `Set-Cookie` to an answer.
pub fn with_cookie(mut r: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

/// A console failure: the error page in the member's language, with the status of the
/// error's code. Unauthenticated answers go to the sign-in page.
pub struct Failure {
    pub lang: Lang,
    pub error: CoreError,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, _) = crate::http::error::classify(&self.error);
        let lang = self.lang;
        let message = match &self.error {
            CoreError::Unauthenticated(_) => return see_other("/console/login"),
            CoreError::Forbidden { required, .. } => {
                format!("{} ({required})", lang.t(T::Forbidden))
            }
            CoreError::NotFound { .. } => lang.t(T::NotFound).to_owned(),
            CoreError::Internal(cause) => {
                tracing::error!(error = %cause, "console page failed");
                self.error.public_message()
            }
            e => e.public_message(),
        };
        let ctx = Ctx {
            lang,
            member: None,
            secure: false,
            path: String::new(),
        };
        let mut detail = message;
        if let Some(id) = request_id::current() {
            detail = format!("{detail} ({}: {id})", lang.t(T::RequestId));
        }
        html(status, layout::bare(&ctx, lang.t(T::ErrorTitle), &detail))
    }
}

/// `result.or_fail(&ctx)?` in handlers.
pub trait OrFail<T> {
    fn or_fail(self, ctx: &Ctx) -> Result<T, Failure>;
}

impl<T> OrFail<T> for Result<T, CoreError> {
    fn or_fail(self, ctx: &Ctx) -> Result<T, Failure> {
        self.map_err(|e| ctx.fail(e))
    }
}
