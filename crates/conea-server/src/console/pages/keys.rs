//! `GET/POST /console/settings/keys` ([keys:manage]): the organization's API keys, a form
//! to create one (its secret shown once, on the answer to the POST, never stored), and
//! revocation. The accounts service checks the permission and that nobody hands out more
//! than they hold.

use crate::console::ctx::{html, see_other, Ctx, Failure, Member, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use conea_core::model::ApiKey;
use conea_core::permissions::{Permission, PermissionSet};
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct KeysQuery {
    pub done: Option<String>,
}

fn page(ctx: &Ctx, m: &Member, keys: &[ApiKey], top: Markup) -> Response {
    let tz = ctx.tz.clone();
    let mine = m.principal.permissions;
    let body = html! {
        (top)
        section aria-labelledby="new-key" {
            h2 id="new-key" { (ctx.t(T::NewKey)) }
            form method="post" action="/console/settings/keys" {
                (layout::csrf(m))
                p { label for="key-name" { (ctx.t(T::KeyName)) input id="key-name" name="name" type="text" required maxlength="200"; } }
                fieldset {
                    legend { (ctx.t(T::Permissions)) }
                    @for perm in Permission::ALL {
                        @if mine.contains(perm) && perm != Permission::Admin {
                            label class="inline" {
                                input type="checkbox" name="permission" value=(perm.as_str()) checked[perm == Permission::DataRead];
                                code { (perm.as_str()) }
                            }
                        }
                    }
                }
                p { button type="submit" { (ctx.t(T::Create)) } }
            }
        }
        section aria-labelledby="keys" {
            h2 id="keys" { (ctx.t(T::Keys)) }
            @if keys.is_empty() {
                p class="muted" { (ctx.t(T::NoKeys)) }
            } @else {
                div class="scroll" { table {
                    thead { tr {
                        th scope="col" { (ctx.t(T::Name)) }
                        th scope="col" { (ctx.t(T::Prefix)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Permissions)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Created)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::LastUsed)) }
                        th scope="col" { (ctx.t(T::Status)) }
                        th scope="col" { (ctx.t(T::Actions)) }
                    } }
                    tbody {
                        @for k in keys {
                            tr data-key=(k.id.as_str()) {
                                td { (k.name) }
                                td { code { (k.prefix) "…" } }
                                td class="hide-narrow" { (k.permissions.names().join(", ")) }
                                td class="hide-narrow" { (i18n::instant(ctx.lang, &tz, k.created_at)) }
                                td class="hide-narrow" { (k.last_used_at.map(|t| i18n::instant(ctx.lang, &tz, t)).unwrap_or_else(|| ctx.t(T::Never).to_owned())) }
                                td { @if k.revoked_at.is_some() { (ctx.t(T::Revoked)) } @else { (ctx.t(T::Active)) } }
                                td {
                                    @if k.revoked_at.is_none() && k.permissions.is_subset_of(mine) {
                                        form class="inline-form" method="post" action={ "/console/settings/keys/" (k.id.as_str()) "/revoke" } data-confirm=(ctx.t(T::ConfirmRevoke)) {
                                            (layout::csrf(m))
                                            button type="submit" class="danger" aria-label={ (ctx.t(T::Revoke)) " " (k.name) } { (ctx.t(T::Revoke)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
    };
    html(
        StatusCode::OK,
        layout::page(ctx, m, ctx.t(T::NavSettings), body),
    )
}

pub async fn list(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(q): Query<KeysQuery>,
) -> Result<Response, Failure> {
    let keys = state
        .accounts()
        .list_keys(&m.principal)
        .await
        .or_fail(&ctx)?;
    let top = html! {
        @if q.done.as_deref() == Some("revoked") { p class="notice" role="status" { (ctx.t(T::KeyRevoked)) } }
    };
    Ok(page(&ctx, &m, &keys, top))
}

/// `POST /console/settings/keys` (`name`, `permission` repeated): the new key's secret is
/// on this answer only (`Cache-Control: no-store`, as every console page).
pub async fn create(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut name = String::new();
    let mut permissions = PermissionSet::EMPTY;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "name" => name = v.into_owned(),
            "permission" => {
                if let Some(p) = Permission::parse(&v) {
                    permissions.insert(p);
                }
            }
            _ => {}
        }
    }
    let p = &m.principal;
    let created = state
        .accounts()
        .create_key(Some(p), &p.org_id, &name, permissions, None)
        .await
        .or_fail(&ctx)?;
    let keys = state.accounts().list_keys(p).await.or_fail(&ctx)?;
    let top = html! {
        div class="notice" role="status" {
            p { (ctx.t(T::KeyCreated)) }
            p { strong { (ctx.t(T::Secret)) ": " } span id="new-secret" class="secret" { (created.secret) } }
            button type="button" class="secondary" data-copy="new-secret" hidden { (ctx.t(T::Copy)) }
        }
    };
    Ok(page(&ctx, &m, &keys, top))
}

pub async fn revoke(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    state
        .accounts()
        .revoke_key(Some(&m.principal), &id)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/settings/keys?done=revoked"))
}
