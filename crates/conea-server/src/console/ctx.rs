//! The console's request context as handlers see it: [`Ctx`] (language, member, cookie
//! attributes) and [`Signed`] (a member; others are sent to the sign-in page), the small
//! answer helpers, and [`Failure`], a console error (rendered by `failure.rs`).

use super::i18n::{Lang, T};
use axum::extract::FromRequestParts;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conea_core::principal::Principal;
use conea_core::CoreError;
use maud::Markup;

pub const SESSION_COOKIE: &str = "conea_session";
/// The sign-in form's CSRF token (double submit: cookie and hidden field must agree).
pub const LOGIN_CSRF_COOKIE: &str = "conea_login_csrf";
/// The import form's path: its multipart body is streamed, so the session middleware
/// leaves the CSRF check to its handler (`pages/import.rs`), which reads the token first.
pub const UPLOAD_PATH: &str = "/console/data/import";
/// The hidden field every console form carries.
pub const CSRF_FIELD: &str = "csrf";
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
    /// The member's time zone (the one picked on the time-zone page, else the browser's,
    /// which the console's script sends, else UTC): dates are shown in it and periods'
    /// days are its days.
    pub tz: jiff::tz::TimeZone,
    /// Its IANA name.
    pub tz_name: String,
    /// Where the zone comes from.
    pub tz_source: TzSource,
}

/// Where the member's time zone comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TzSource {
    /// Picked on the time-zone page ([`TZ_PICK_COOKIE`]).
    Chosen,
    /// The browser's, sent by the console's script ([`TZ_COOKIE`]).
    Browser,
    /// Neither: UTC.
    Default,
}

/// The time-zone page (`pages::time_zone`), linked from every page's header.
pub const TIME_ZONE_PATH: &str = "/console/time-zone";

/// The cookie with the zone the member picked; it wins over the browser's.
pub const TZ_PICK_COOKIE: &str = "conea_tz_pick";

/// The member's zone from the request's cookies: the picked one, else the browser's, else
/// UTC (a name the system does not know counts as none).
pub fn member_time_zone(
    picked: Option<&str>,
    browser: Option<&str>,
) -> (jiff::tz::TimeZone, String, TzSource) {
    for (name, source) in [(picked, TzSource::Chosen), (browser, TzSource::Browser)] {
        let Some(name) = name.map(str::trim).filter(|n| n.len() <= 64) else {
            continue;
        };
        if let Ok(tz) = jiff::tz::TimeZone::get(name) {
            return (tz, name.to_owned(), source);
        }
    }
    (jiff::tz::TimeZone::UTC, "UTC".to_owned(), TzSource::Default)
}

/// `back` when it is a path of the console (no other site, no scheme-relative `//`), else
/// the console's home: where a preference's form returns.
pub fn console_path(back: Option<String>) -> String {
    back.filter(|b| b.starts_with("/console") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/console".to_owned())
}

/// The cookie with the member's IANA time zone.
pub const TZ_COOKIE: &str = "conea_tz";

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

/// A console failure: rendered as the error page in the member's language with the status
/// of the error's code (`failure.rs`); unauthenticated answers go to the sign-in page.
pub struct Failure {
    pub lang: Lang,
    pub error: CoreError,
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
