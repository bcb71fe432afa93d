//! The web console: server-rendered HTML pages (maud) under `/console`, served by the same
//! router as the API and calling the same services with the signed-in member's
//! `Principal`; nothing is fetched from elsewhere at run time. One stylesheet and one
//! small script are embedded ([`assets`]).
//!
//! - [`ctx`] what handlers know of the request (language, member) and [`failure`] the
//!   error page; [`session`] the middleware that builds it and checks CSRF;
//! - [`i18n`] the message catalogue and formatting in English and Japanese;
//! - [`layout`] the page shell; [`chart`] the inline SVG chart;
//! - [`auth`] sign-in, sign-out, language; [`pages`] one module per page.

pub mod assets;
pub mod auth;
pub mod chart;
pub mod ctx;
pub mod failure;
pub mod i18n;
pub mod layout;
pub mod pages;
pub mod session;

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::CompressionLayer;

/// The console's routes (with their middleware) and `/` for browsers.
pub fn router(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/console", get(pages::overview::show))
        .route("/console/login", get(auth::login_form).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console/lang", get(auth::set_lang))
        .route(
            pages::time_zone::PATH,
            get(pages::time_zone::show).post(pages::time_zone::pick),
        )
        .route(
            ctx::UPLOAD_PATH,
            get(pages::import::show)
                .post(pages::import::upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/console/data/import/{id}", get(pages::import::status_page))
        .route(
            "/console/data/import/{id}/status",
            get(pages::import::status_json),
        )
        .route("/console/data/{kind}", get(pages::data::list))
        .route("/console/data/{kind}/{id}", get(pages::data::detail))
        .route("/console/export/{kind}", get(pages::data::export))
        .route("/console/jobs", get(pages::jobs::list))
        .route("/console/jobs/{id}/cancel", post(pages::jobs::cancel))
        .route("/console/jobs/{id}/retry", post(pages::jobs::retry))
        .route("/console/incidents", get(pages::incidents::list))
        .route("/console/incidents/{id}", get(pages::incidents::show))
        .route(
            "/console/incidents/{id}/escalate",
            post(pages::incidents::escalate),
        )
        .route(
            "/console/incidents/{id}/notes",
            post(pages::incidents::note),
        )
        .route(
            "/console/incidents/{id}/acknowledge",
            post(pages::incidents::acknowledge),
        )
        .route(
            "/console/incidents/{id}/resolve",
            post(pages::incidents::resolve),
        )
        .route("/console/ask", get(pages::ask::show).post(pages::ask::ask))
        .route(pages::ask::STREAM_PATH, post(pages::ask::stream))
        .route(
            "/console/ask/threads/{id}/stream",
            post(pages::ask::follow_up_stream),
        )
        .route(
            "/console/ask/threads/{id}",
            get(pages::ask::thread).post(pages::ask::follow_up),
        )
        .route("/console/reports", get(pages::reports::show))
        .route("/console/schedules", post(pages::reports::create))
        .route(
            "/console/schedules/{id}",
            get(pages::reports::edit).post(pages::reports::update),
        )
        .route(
            "/console/schedules/{id}/enabled",
            post(pages::reports::set_enabled),
        )
        .route("/console/shopify", get(pages::shopify::list))
        .route(pages::shopify::CONNECT_PATH, post(pages::shopify::connect))
        .route("/console/shopify/{id}/sync", post(pages::shopify::sync))
        .route("/console/operations", get(pages::operations::show))
        .route(
            "/console/settings/keys",
            get(pages::keys::list).post(pages::keys::create),
        )
        .route(pages::limits::PATH, get(pages::limits::show))
        .route("/console/settings/limits/org", post(pages::limits::set_org))
        .route(
            "/console/settings/limits/keys",
            post(pages::limits::set_key),
        )
        .route(
            "/console/settings/limits/budget",
            post(pages::limits::set_budget),
        )
        .route("/console/settings/members", get(pages::members::list))
        .route(
            "/console/settings/members/{user}/role",
            post(pages::members::set_role),
        )
        .route(
            "/console/settings/members/{user}/remove",
            post(pages::members::remove),
        )
        .route(
            "/console/settings/keys/{id}/revoke",
            post(pages::keys::revoke),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::context,
        ));
    Router::new()
        .route("/console/assets/{name}", get(assets::serve))
        .merge(pages)
        .layer(middleware::from_fn(session::headers))
        .layer(CompressionLayer::new())
        .route("/", get(root))
}

/// `GET /`: a browser (asking for HTML) goes to the console; anything else gets the API's
/// 404 body.
async fn root(headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        ctx::see_other("/console")
    } else {
        crate::http::fallback::not_found(uri).await.into_response()
    }
}
