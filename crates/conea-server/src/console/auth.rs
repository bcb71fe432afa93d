//! Sign-in (`GET/POST /console/login`), sign-out and the language choice.

use super::ctx::{
    cookie, html, see_other, with_cookie, Ctx, Signed, CSRF_FIELD, LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
};
use super::i18n::{Lang, LANG_COOKIE, T};
use super::layout;
use crate::http::client_addr::ClientAddr;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use base64::Engine;
use conea_core::auth::AuthFailure;
use conea_core::CoreError;
use maud::html;
use rand::RngCore;
use serde::Deserialize;

fn login_page(ctx: &Ctx, token: &str, email: &str, message: Option<&str>) -> maud::Markup {
    layout::bare_with(
        ctx,
        ctx.t(T::SignIn),
        html! {
            @if let Some(m) = message {
                p class="notice error" role="alert" { (m) }
            }
            form method="post" action="/console/login" {
                input type="hidden" name=(CSRF_FIELD) value=(token);
                label for="email" { (ctx.t(T::Email)) }
                input id="email" name="email" type="email" autocomplete="username" required value=(email);
                label for="password" { (ctx.t(T::Password)) }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { (ctx.t(T::SignIn)) }
            }
        },
    )
}

/// A fresh token for the sign-in form's double submit.
fn new_token() -> String {
    let mut raw = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn form_response(ctx: &Ctx, status: StatusCode, email: &str, message: Option<&str>) -> Response {
    let token = new_token();
    with_cookie(
        html(status, login_page(ctx, &token, email, message)),
        &ctx.cookie(LOGIN_CSRF_COOKIE, &token, 3600),
    )
}

/// `GET /console/login`: the form (a signed-in member goes to the overview).
pub async fn login_form(ctx: Ctx) -> Response {
    if ctx.member.is_some() {
        return see_other("/console");
    }
    form_response(&ctx, StatusCode::OK, "", None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub email: String,
    pub password: String,
}

/// `POST /console/login`: the API's password check and throttle; a session cookie.
pub async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientAddr(client): ClientAddr,
    Form(f): Form<LoginForm>,
) -> Response {
    match state
        .platform()
        .sessions
        .sign_in(&f.email, &f.password, &client)
        .await
    {
        Ok(opened) => {
            let r = see_other("/console");
            let r = with_cookie(r, &ctx.cookie(LOGIN_CSRF_COOKIE, "", 0));
            with_cookie(
                r,
                &ctx.cookie(SESSION_COOKIE, &opened.secret, opened.max_age_s),
            )
        }
        Err(CoreError::Unauthenticated(AuthFailure::InvalidCredentials)) => form_response(
            &ctx,
            StatusCode::UNAUTHORIZED,
            &f.email,
            Some(ctx.t(T::BadCredentials)),
        ),
        Err(CoreError::RateLimited { .. }) => form_response(
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            &f.email,
            Some(ctx.t(T::TooManyAttempts)),
        ),
        Err(e) => ctx.fail(e).into_response(),
    }
}

/// `POST /console/logout`: the session ends (its row is deleted, so on every replica).
pub async fn logout(
    State(state): State<AppState>,
    Signed(ctx, _): Signed,
    headers: HeaderMap,
) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = state.platform().sessions.sign_out(secret).await {
            return ctx.fail(e).into_response();
        }
    }
    let page = layout::bare_with(
        &ctx,
        ctx.t(T::SignOut),
        html! {
            p class="notice" role="status" { (ctx.t(T::SignedOut)) }
            p { a href="/console/login" { (ctx.t(T::SignIn)) } }
        },
    );
    with_cookie(
        html(StatusCode::OK, page),
        &ctx.cookie(SESSION_COOKIE, "", 0),
    )
}

#[derive(Deserialize)]
pub struct LangQuery {
    pub to: String,
    pub back: Option<String>,
}

/// `GET /console/lang?to=ja&back=/console/jobs`: remembers the language for a year and
/// goes back (only to a console path).
pub async fn set_lang(ctx: Ctx, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::parse(&q.to).unwrap_or(ctx.lang);
    let back = super::ctx::console_path(q.back);
    let mut c = ctx.cookie(LANG_COOKIE, lang.code(), 365 * 24 * 3600);
    // Not a secret: HttpOnly is harmless, SameSite=Lax lets a link from elsewhere keep it.
    c = c.replace("SameSite=Strict", "SameSite=Lax");
    with_cookie(see_other(&back), &c)
}
