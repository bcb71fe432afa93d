//! `GET /console/shopify` ([integrations:manage]): the connected Shopify shops with their
//! status, last sync and webhook figures; "Sync now" (`POST /console/shopify/{id}/sync`)
//! enqueues a sync job as `POST /v1/integrations/shopify/shops/{id}/sync` does.

use crate::console::ctx::{html, see_other, Failure, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct ShopifyQuery {
    pub done: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(q): Query<ShopifyQuery>,
) -> Result<Response, Failure> {
    let shops = state
        .platform()
        .shopify
        .list(&m.principal)
        .await
        .or_fail(&ctx)?;
    let tz = ctx.tz.clone();
    let body = html! {
        @if q.done.as_deref() == Some("sync") { p class="notice" role="status" { (ctx.t(T::SyncQueued)) } }
        @if shops.is_empty() {
            p class="muted" { (ctx.t(T::NoShops)) }
        } @else {
            section { div class="scroll" { table {
                thead { tr {
                    th scope="col" { (ctx.t(T::Domain)) }
                    th scope="col" { (ctx.t(T::Status)) }
                    th scope="col" class="hide-narrow" { (ctx.t(T::LastSync)) }
                    th scope="col" class="hide-narrow num" { (ctx.t(T::Webhooks)) }
                    th scope="col" { (ctx.t(T::Actions)) }
                } }
                tbody {
                    @for s in &shops {
                        tr {
                            td { (s.domain) }
                            td class="shop-status" data-state=(s.status.as_str()) { (ctx.t(i18n::shop_status(s.status))) @if let Some(msg) = &s.status_message { br; span class="muted" { (msg) } } }
                            td class="hide-narrow" { (s.last_sync_at.map(|t| i18n::instant(ctx.lang, &tz, t)).unwrap_or_else(|| ctx.t(T::Never).to_owned())) }
                            td class="hide-narrow num" { (i18n::int(s.webhooks_received)) " / " (i18n::int(s.webhooks_rejected)) }
                            td {
                                form class="inline-form" method="post" action={ "/console/shopify/" (s.shop_id.as_str()) "/sync" } {
                                    (layout::csrf(&m))
                                    button type="submit" class="secondary" { (ctx.t(T::SyncNow)) }
                                }
                            }
                        }
                    }
                }
            } } }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&ctx, &m, ctx.t(T::NavShopify), body),
    ))
}

pub async fn sync(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    state
        .platform()
        .shopify
        .sync(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/shopify?done=sync"))
}
