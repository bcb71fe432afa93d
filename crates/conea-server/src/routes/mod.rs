//! The HTTP surface: every route, its middleware, and the OpenAPI document built from the
//! handlers' annotations. The `/v1` routes also answer under `/api/v1`.

pub mod admin;
pub mod ai;
pub mod analytics;
pub mod auth;
pub mod contract;
pub mod data;
pub mod docs;
pub mod embeddings;
pub mod health;
pub mod incidents;
pub mod insights;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod messages;
pub mod orgs;
pub mod pagination;
pub mod schedules;
pub mod schemas;
pub mod shop;
pub mod shopify;
pub mod shopify_app;
pub mod users;

use crate::http::error::ErrorBody;
use crate::http::{self, fallback};
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Conea API", description = "Conea integration platform: one authenticated, rate-limited API over shop data, AI providers and background jobs. Every 4xx/5xx body is `ErrorBody`."),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or conea_ API key")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The versioned API (paths relative to `/v1`).
fn v1(state: &AppState) -> OpenApiRouter<AppState> {
    let public = OpenApiRouter::new()
        .routes(routes!(auth::login))
        .routes(routes!(incidents::link_show, incidents::link_act))
        .routes(routes!(shopify_app::callback))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::auth::limit_by_address,
        ));
    let webhooks = OpenApiRouter::new()
        .routes(routes!(shopify::webhook))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            shopify::limit_webhooks_by_address,
        ));
    // A member's install, or a merchant opening a signed install link.
    let install = OpenApiRouter::new()
        .routes(routes!(shopify_app::install))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::auth::require_auth_unless_install_link,
        ));
    let peek = OpenApiRouter::new()
        .routes(routes!(limits::current))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::auth::require_auth_only,
        ));
    let protected = OpenApiRouter::new()
        .routes(routes!(auth::verify))
        .routes(routes!(orgs::create))
        .routes(routes!(orgs::get))
        .routes(routes!(orgs::members))
        .routes(routes!(orgs::set_role, orgs::remove_member))
        .routes(routes!(users::create))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
        .routes(routes!(limits::set_key))
        .routes(routes!(limits::set_org))
        .routes(routes!(ai::models))
        .routes(routes!(ai::completions))
        .routes(routes!(ai::chat_completions))
        .routes(routes!(ai::openai_models))
        .routes(routes!(ai::openai_model_get))
        .routes(routes!(embeddings::create))
        .routes(routes!(messages::create))
        .routes(routes!(ai::usage))
        .routes(routes!(ai::set_budget))
        .routes(routes!(data::import))
        .routes(routes!(data::process))
        .routes(routes!(analytics::report))
        .routes(routes!(insights::ask))
        .routes(routes!(insights::create_thread))
        .routes(routes!(insights::follow_up))
        .routes(routes!(insights::get_thread))
        .routes(routes!(schedules::create, schedules::list))
        .routes(routes!(schedules::get, schedules::patch, schedules::delete))
        .routes(routes!(schedules::run_now))
        .routes(routes!(shop::list_orders))
        .routes(routes!(shop::get_order))
        .routes(routes!(shop::list_products))
        .routes(routes!(shop::get_product))
        .routes(routes!(shop::list_customers))
        .routes(routes!(shop::get_customer))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::cancel))
        .routes(routes!(jobs::retry))
        .routes(routes!(incidents::open, incidents::list))
        .routes(routes!(incidents::get, incidents::patch))
        .routes(routes!(incidents::acknowledge))
        .routes(routes!(incidents::resolve))
        .routes(routes!(incidents::escalate))
        .routes(routes!(incidents::note))
        .routes(routes!(incidents::postmortem))
        .routes(routes!(incidents::alertmanager))
        .routes(routes!(shopify::connect, shopify::list))
        .routes(routes!(shopify::get, shopify::update, shopify::disconnect))
        .routes(routes!(shopify::sync))
        .routes(routes!(shopify::refresh))
        .routes(routes!(shopify::reconcile))
        .routes(routes!(shopify_app::create_install_link))
        .routes(routes!(shopify_app::webhooks))
        .routes(routes!(shopify_app::repair_webhooks))
        .routes(routes!(admin::profile))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::auth::require_auth,
        ));
    public
        .merge(webhooks)
        .merge(install)
        .merge(peek)
        .merge(protected)
}

/// The OpenAPI document of every route, completed with the rules of [`contract`]: what is
/// served at `/openapi.json` and rendered at `/docs`.
pub fn openapi(state: &AppState) -> serde_json::Value {
    document(build(state).1)
}

fn document(doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    // Serialising utoipa's own types cannot fail; an empty document would show it.
    contract::complete(serde_json::to_value(doc).unwrap_or_default())
}

fn build(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (mut router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::livez))
        .routes(routes!(health::readyz))
        .routes(routes!(health::health))
        .routes(routes!(health::metrics))
        .nest("/v1", v1(state))
        .split_for_parts();
    let (v1_router, _) = v1(state).split_for_parts();
    router = router
        .route("/v1/health", get(health::health))
        .nest("/api/v1", v1_router.route("/health", get(health::health)));
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    (router, doc)
}

/// The complete application: routes, fallbacks and the middleware stack.
///
/// The stack is in two parts, for what a request costs. axum boxes a route again for every
/// layer given to [`Router::layer`], and every request clones its route's boxes, and each
/// `from_fn` layer clones the boxes below it once more: with six layers, the cloning was
/// 6.6 % of a proxied completion's instructions (the two-part stack took 4.9 % off them).
/// So the layers that need the matched route (the request log and metrics, and the
/// route's timeout, with the panic catcher and the body limit between them) are one
/// [`tower::ServiceBuilder`] stack given to [`Router::layer`] once, and those that do not
/// (the request id and the security headers) wrap the whole router from outside, where
/// nothing is boxed. The order a request meets
/// them is unchanged: request id, security headers, log and metrics, body limit, panic
/// catcher, timeout, then the route's own authentication.
pub fn router(state: AppState) -> Router {
    let (router, doc) = build(&state);
    let doc = document(doc);
    // Both are built once: the document does not change while the server runs.
    let docs_page = axum::body::Bytes::from(docs::render(&doc));
    let json = axum::body::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let per_route = tower::ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::observe::middleware,
        ))
        .layer(DefaultBodyLimit::max(state.config().max_body_bytes))
        .layer(CatchPanicLayer::custom(http::observe::panic_response))
        .layer(middleware::from_fn_with_state(
            http::observe::Timeouts(
                state.config().request_timeout,
                state.config().upload_timeout,
                // A question's own budget answers first (504 `insights_timeout`).
                state.config().insights.timeout + std::time::Duration::from_secs(5),
            ),
            http::observe::route_timeout,
        ));
    let routes = router
        .route(
            "/openapi.json",
            get(move || {
                let body = json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                }
            }),
        )
        .route(
            "/docs",
            get(move || {
                let page = docs_page.clone();
                async move { docs::response(page) }
            }),
        )
        .merge(crate::console::router(&state))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(per_route)
        .with_state(state);
    let whole = tower::ServiceBuilder::new()
        .layer(middleware::from_fn(http::request_id::middleware))
        .layer(middleware::from_fn(http::security::headers))
        .service(routes);
    Router::new().fallback_service(whole)
}

#[cfg(test)]
mod tests {
    use super::ApiDoc;
    use conea_core::ErrorCode;
    use utoipa::OpenApi;

    #[test]
    fn the_error_schema_lists_every_error_code() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON");
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["ErrorObject"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
        let listed: Vec<&str> = schemas["ErrorCode"]["enum"]
            .as_array()
            .expect("ErrorCode is an enum schema")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, all);
        let description = schemas["ErrorCode"]["description"].as_str().unwrap_or("");
        for c in ErrorCode::ALL {
            assert!(description.contains(c.description()), "{c}");
        }
    }
}
