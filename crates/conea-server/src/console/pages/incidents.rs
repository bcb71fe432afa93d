//! `GET /console/incidents` ([incidents:manage]): open and recent incidents with their
//! severity and state; acknowledge and resolve (`POST /console/incidents/{id}/…`, the
//! incident service's checks and timeline entries, as the API's).

use crate::console::ctx::{html, see_other, Ctx, Failure, Member, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use conea_incidents::store::{Incident, Status};
use jiff::tz::TimeZone;
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct IncidentsQuery {
    pub status: Option<String>,
    pub done: Option<String>,
}

fn actions(ctx: &Ctx, m: &Member, i: &Incident) -> Markup {
    let id = i.id.to_string();
    html! {
        @if i.status == Status::Open {
            form class="inline-form" method="post" action={ "/console/incidents/" (id) "/acknowledge" } {
                (layout::csrf(m))
                button type="submit" class="secondary" aria-label={ (ctx.t(T::Acknowledge)) " " (id) } { (ctx.t(T::Acknowledge)) }
            }
        }
        @if i.status != Status::Resolved {
            form class="inline-form" method="post" action={ "/console/incidents/" (id) "/resolve" } {
                (layout::csrf(m))
                button type="submit" class="secondary" aria-label={ (ctx.t(T::Resolve)) " " (id) } { (ctx.t(T::Resolve)) }
            }
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(q): Query<IncidentsQuery>,
) -> Result<Response, Failure> {
    let wanted = q.status.as_deref().filter(|s| !s.is_empty());
    let incidents = state
        .platform()
        .incidents
        .list(&m.principal, wanted, None, 50)
        .await
        .or_fail(&ctx)?;
    let tz = TimeZone::UTC;
    let notice = match q.done.as_deref() {
        Some("acknowledged") => Some(T::IncidentAcknowledged),
        Some("resolved") => Some(T::IncidentResolved),
        _ => None,
    };
    let body = html! {
        @if let Some(n) = notice { p class="notice" role="status" { (ctx.t(n)) } }
        form class="filters card" method="get" action="/console/incidents" aria-label=(ctx.t(T::Filter)) {
            label for="status" { (ctx.t(T::Status))
                select id="status" name="status" data-autosubmit {
                    option value="" { (ctx.t(T::AllStates)) }
                    @for s in [Status::Open, Status::Acknowledged, Status::Resolved] {
                        option value=(s.as_str()) selected[wanted == Some(s.as_str())] { (s.as_str()) }
                    }
                }
            }
            button type="submit" { (ctx.t(T::Filter)) }
        }
        @if incidents.is_empty() {
            p class="muted" { (ctx.t(T::NoIncidents)) }
        } @else {
            section { div class="scroll" { table {
                thead { tr {
                    th scope="col" { (ctx.t(T::Severity)) }
                    th scope="col" { (ctx.t(T::Title)) }
                    th scope="col" { (ctx.t(T::Status)) }
                    th scope="col" class="hide-narrow" { (ctx.t(T::Opened)) }
                    th scope="col" { (ctx.t(T::Actions)) }
                } }
                tbody {
                    @for i in &incidents {
                        tr data-incident=(i.id.to_string()) {
                            td { (i.severity.as_str()) }
                            td { (i.title) @if !i.summary.is_empty() { br; span class="muted" { (i.summary) } } }
                            td class="incident-status" { (i.status.as_str()) }
                            td class="hide-narrow" { (i18n::instant(ctx.lang, &tz, i.opened_at)) }
                            td { (actions(&ctx, &m, i)) }
                        }
                    }
                }
            } } }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page_with(&ctx, &m, ctx.t(T::NavIncidents), Some(30), body),
    ))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    state
        .platform()
        .incidents
        .acknowledge(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/incidents?done=acknowledged"))
}

pub async fn resolve(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    state
        .platform()
        .incidents
        .resolve(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/incidents?done=resolved"))
}
