//! `GET /console/shopify` ([integrations:manage]): the connected Shopify shops with their
//! status, last sync and webhook figures; "Sync now" (`POST /console/shopify/{id}/sync`)
//! enqueues a sync job as `POST /v1/integrations/shopify/shops/{id}/sync` does. "Connect"
//! (`POST /console/shopify/connect`) starts installing the Conea app in a shop by OAuth, as
//! `GET /v1/integrations/shopify/install` does, and answers a page whose link goes on to
//! Shopify's consent page (the console's `form-action 'self'` forbids a form's redirect to
//! another site); Shopify then returns to the install callback, which connects the shop.

use crate::console::ctx::{html, see_other, Ctx, Failure, Member, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use conea_core::{CoreError, ErrorCode};
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct ShopifyQuery {
    pub done: Option<String>,
}

#[derive(Deserialize)]
pub struct ConnectForm {
    pub shop: String,
}

pub async fn list(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(q): Query<ShopifyQuery>,
) -> Result<Response, Failure> {
    let note = html! {
        @if q.done.as_deref() == Some("sync") { p class="notice" role="status" { (ctx.t(T::SyncQueued)) } }
    };
    let body = shops_page(&state, &ctx, &m, note, "").await?;
    Ok(html(StatusCode::OK, body))
}

/// The page: `note` above the shops, the connect form with `shop` in its field.
async fn shops_page(
    state: &AppState,
    ctx: &Ctx,
    m: &Member,
    note: Markup,
    shop: &str,
) -> Result<Markup, Failure> {
    let shops = state
        .platform()
        .shopify
        .list(&m.principal)
        .await
        .or_fail(ctx)?;
    let tz = ctx.tz.clone();
    let body = html! {
        (note)
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
                                    (layout::csrf(m))
                                    button type="submit" class="secondary" { (ctx.t(T::SyncNow)) }
                                }
                            }
                        }
                    }
                }
            } } }
        }
        section aria-labelledby="connect" {
            h2 id="connect" { (ctx.t(T::ConnectShop)) }
            form class="stack card" method="post" action=(CONNECT_PATH) {
                (layout::csrf(m))
                label for="shop-domain" { (ctx.t(T::ShopDomainField))
                    input id="shop-domain" name="shop" type="text" required maxlength="255" autocomplete="off" placeholder="name.myshopify.com" value=(shop);
                }
                button type="submit" { (ctx.t(T::ConnectButton)) }
            }
        }
    };
    Ok(layout::page(ctx, m, ctx.t(T::NavShopify), body))
}

pub const CONNECT_PATH: &str = "/console/shopify/connect";

/// `POST /console/shopify/connect` [integrations:manage]: Shopify's consent URL for the
/// shop (a single-use `state` stored for the member's organization), shown as a link to
/// follow; a domain that is not a shop's, or a server without the Shopify app's settings,
/// is the page again with the reason in the member's language.
pub async fn connect(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Form(f): Form<ConnectForm>,
) -> Result<Response, Failure> {
    let shop = f.shop.trim();
    match state
        .platform()
        .shopify
        .begin_install(&m.principal, shop)
        .await
    {
        Ok(consent) => {
            let body = html! {
                p { (ctx.t(T::ConnectIntro)) }
                p { strong id="consent-shop" { (shop) } }
                p { a id="shopify-consent" class="button" href=(consent) rel="noreferrer" { (ctx.t(T::ContinueToShopify)) } }
            };
            Ok(html(
                StatusCode::OK,
                layout::page(&ctx, &m, ctx.t(T::ConnectShop), body),
            ))
        }
        Err(e @ (CoreError::InvalidInput { .. } | CoreError::Unavailable { .. })) => {
            let (status, _) = crate::http::error::classify(&e);
            let reason = match &e {
                CoreError::Unavailable {
                    code: ErrorCode::ShopifyAppNotConfigured,
                    ..
                } => ctx.t(T::ShopifyOauthOff).to_owned(),
                CoreError::InvalidInput { .. } => ctx.t(T::ShopDomainInvalid).to_owned(),
                other => i18n::error_message(ctx.lang, other),
            };
            let note = html! { p class="notice error" role="alert" { (reason) } };
            let body = shops_page(&state, &ctx, &m, note, shop).await?;
            Ok(html(status, body))
        }
        Err(e) => Err(ctx.fail(e)),
    }
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
