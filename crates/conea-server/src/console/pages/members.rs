//! `GET /console/settings/members` [members:read]: the organization's members with their
//! roles; with [members:manage], a role form per member (`POST …/{user}/role`, the
//! accounts service's `set_member_role`, which refuses conferring more than one has) and
//! removal (`POST …/{user}/remove`, `remove_member`, which ends the member's console
//! sessions in this organization).

use crate::console::ctx::{html, see_other, Failure, OrFail, Signed};
use crate::console::i18n::{self, role_label, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use conea_core::permissions::{Permission, Role};
use conea_core::CoreError;
use maud::html;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct MembersQuery {
    pub done: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(q): Query<MembersQuery>,
) -> Result<Response, Failure> {
    let p = &m.principal;
    let members = state
        .accounts()
        .list_members(p, p.org_id.as_str())
        .await
        .or_fail(&ctx)?;
    let manage = p.has(Permission::MembersManage);
    let tz = ctx.tz.clone();
    let notice = match q.done.as_deref() {
        Some("role") => Some(T::RoleChanged),
        Some("removed") => Some(T::MemberRemoved),
        _ => None,
    };
    let body = html! {
        @if let Some(n) = notice { p class="notice" role="status" { (ctx.t(n)) } }
        section { div class="scroll" { table {
            thead { tr {
                th scope="col" { (ctx.t(T::Email)) }
                th scope="col" { (ctx.t(T::Role)) }
                th scope="col" class="hide-narrow" { (ctx.t(T::Created)) }
                @if manage { th scope="col" { (ctx.t(T::Actions)) } }
            } }
            tbody {
                @for mem in &members {
                    @let id = mem.user_id.to_string();
                    @let me = id == p.subject;
                    tr data-member=(id) {
                        td { (mem.email) @if me { " " span class="muted" { "(" (ctx.t(T::You)) ")" } } }
                        td class="member-role" { (ctx.t(role_label(mem.role))) }
                        td class="hide-narrow" { (i18n::instant(ctx.lang, &tz, mem.created_at)) }
                        @if manage {
                            td {
                                @if !me {
                                    form class="inline-form" method="post" action={ "/console/settings/members/" (id) "/role" } {
                                        (layout::csrf(&m))
                                        label class="inline" for={ "role-" (id) } { span class="muted" { (ctx.t(T::Role)) }
                                            select id={ "role-" (id) } name="role" {
                                                @for r in Role::ALL {
                                                    @if r.permissions().is_subset_of(p.permissions) {
                                                        option value=(r.as_str()) selected[r == mem.role] { (ctx.t(role_label(r))) }
                                                    }
                                                }
                                            }
                                        }
                                        " "
                                        button type="submit" class="secondary" aria-label={ (ctx.t(T::ChangeRole)) " " (mem.email) } { (ctx.t(T::ChangeRole)) }
                                    }
                                    " "
                                    form class="inline-form" method="post" action={ "/console/settings/members/" (id) "/remove" } data-confirm=(ctx.t(T::ConfirmRemove)) {
                                        (layout::csrf(&m))
                                        button type="submit" class="danger" aria-label={ (ctx.t(T::Remove)) " " (mem.email) } { (ctx.t(T::Remove)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } } }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&ctx, &m, ctx.t(T::NavMembers), body),
    ))
}

#[derive(Deserialize)]
pub struct RoleForm {
    pub role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(user): Path<String>,
    Form(f): Form<RoleForm>,
) -> Result<Response, Failure> {
    let p = &m.principal;
    let role = Role::parse(&f.role)
        .ok_or_else(|| ctx.fail(CoreError::invalid("role", "Unknown role.")))?;
    state
        .accounts()
        .set_member_role(Some(p), p.org_id.as_str(), &user, role)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/settings/members?done=role"))
}

pub async fn remove(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(user): Path<String>,
) -> Result<Response, Failure> {
    let p = &m.principal;
    state
        .accounts()
        .remove_member(p, p.org_id.as_str(), &user)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/settings/members?done=removed"))
}
