//! `GET /console/incidents` ([incidents:manage]): open and recent incidents with their
//! severity and state; acknowledge and resolve (`POST /console/incidents/{id}/…`, the
//! incident service's checks and timeline entries, as the API's). `GET
//! /console/incidents/{id}`: one incident with its timeline, a note form, escalation and
//! the postmortem draft (the same service calls as `/v1/incidents/{id}/…`).

use crate::console::ctx::{html, see_other, Ctx, Failure, Member, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use conea_incidents::postmortem::EntryKind;
use conea_incidents::store::{Incident, Status};
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
        @if i.status != Status::Resolved {
            form class="inline-form" method="post" action={ "/console/incidents/" (id) "/escalate" } data-confirm=(ctx.t(T::ConfirmEscalate)) {
                (layout::csrf(m))
                button type="submit" class="danger" aria-label={ (ctx.t(T::Escalate)) " " (id) } { (ctx.t(T::Escalate)) }
            }
        }
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
    let tz = ctx.tz.clone();
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
                        option value=(s.as_str()) selected[wanted == Some(s.as_str())] { (ctx.t(status_label(s))) }
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
                            td { (ctx.t(severity_label(i.severity))) }
                            td { a href={ "/console/incidents/" (i.id.to_string()) } { (i.title) } @if !i.summary.is_empty() { br; span class="muted" { (i.summary) } } }
                            td class="incident-status" data-status=(i.status.as_str()) { (ctx.t(status_label(i.status))) }
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

/// A status in the member's language.
pub fn status_label(s: Status) -> T {
    match s {
        Status::Open => T::StateOpen,
        Status::Acknowledged => T::Acknowledged,
        Status::Resolved => T::Resolved,
    }
}

/// A severity in the member's language.
pub fn severity_label(s: conea_incidents::Severity) -> T {
    use conea_incidents::Severity;
    match s {
        Severity::Critical => T::SevCritical,
        Severity::High => T::SevHigh,
        Severity::Medium => T::SevMedium,
        Severity::Low => T::SevLow,
    }
}

/// The label of a timeline entry's kind in the member's language.
fn kind_label(kind: EntryKind) -> T {
    match kind {
        EntryKind::Detected => T::EntryDetected,
        EntryKind::SeverityChanged => T::EntrySeverityChanged,
        EntryKind::Notified => T::EntryNotified,
        EntryKind::Paged => T::EntryPaged,
        EntryKind::CommanderSummoned => T::EntryCommander,
        EntryKind::WarRoomOpened => T::EntryWarRoom,
        EntryKind::StakeholdersNotified => T::EntryStakeholders,
        EntryKind::StepSkipped => T::EntryStepSkipped,
        EntryKind::Acknowledged => T::Acknowledged,
        EntryKind::Resolved => T::Resolved,
        EntryKind::Note => T::Note,
    }
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    pub done: Option<String>,
}

/// `GET /console/incidents/{id}`: the incident, its actions, a note form, the timeline
/// (oldest first) and the Markdown postmortem draft.
pub async fn show(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, Failure> {
    let incidents = &state.platform().incidents;
    let view = incidents.get(&m.principal, &id).await.or_fail(&ctx)?;
    let draft = incidents
        .postmortem(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    let i = &view.incident;
    let tz = ctx.tz.clone();
    let notice = match q.done.as_deref() {
        Some("escalated") => Some(T::IncidentEscalated),
        Some("noted") => Some(T::NoteAdded),
        Some("acknowledged") => Some(T::IncidentAcknowledged),
        Some("resolved") => Some(T::IncidentResolved),
        _ => None,
    };
    let at = |ms: Option<i64>| ms.map(|ms| i18n::instant(ctx.lang, &tz, ms));
    let body = html! {
        @if let Some(n) = notice { p class="notice" role="status" { (ctx.t(n)) } }
        p { a href="/console/incidents" { "← " (ctx.t(T::NavIncidents)) } }
        section aria-labelledby="incident-facts" {
            h2 id="incident-facts" { (ctx.t(T::Details)) }
            dl class="facts" {
                dt { (ctx.t(T::Severity)) } dd { (ctx.t(severity_label(i.severity))) }
                dt { (ctx.t(T::Status)) } dd id="incident-status" data-status=(i.status.as_str()) { (ctx.t(status_label(i.status))) }
                dt { (ctx.t(T::Opened)) } dd { (i18n::instant(ctx.lang, &tz, i.opened_at)) }
                @if let Some(a) = at(i.acknowledged_at) {
                    dt { (ctx.t(T::Acknowledged)) } dd { (a) " " (i.acknowledged_by.as_deref().unwrap_or("")) }
                }
                @if let Some(r) = at(i.resolved_at) {
                    dt { (ctx.t(T::Resolved)) } dd { (r) " " (i.resolved_by.as_deref().unwrap_or("")) }
                }
                @if !i.summary.is_empty() { dt { (ctx.t(T::Summary)) } dd { (i.summary) } }
            }
            p { (actions(&ctx, &m, i)) }
        }
        section aria-labelledby="incident-note" {
            h2 id="incident-note" { (ctx.t(T::AddNote)) }
            form class="stack" method="post" action={ "/console/incidents/" (i.id.to_string()) "/notes" } {
                (layout::csrf(&m))
                label for="note-text" { (ctx.t(T::Note))
                    textarea id="note-text" name="text" rows="3" required maxlength="4000" {}
                }
                button type="submit" { (ctx.t(T::AddNote)) }
            }
        }
        section aria-labelledby="incident-timeline" {
            h2 id="incident-timeline" { (ctx.t(T::Timeline)) }
            ol class="timeline" {
                @for e in &view.timeline {
                    li {
                        time { (i18n::instant(ctx.lang, &tz, e.at)) }
                        " "
                        b { (ctx.t(kind_label(e.kind))) }
                        @if let Some(a) = &e.actor { " · " span class="muted" { (a) } }
                        br;
                        span class="entry-message" { (e.message) }
                        @if let Some(o) = &e.outcome { " " span class="muted" { "(" (o) ")" } }
                    }
                }
            }
        }
        section aria-labelledby="incident-postmortem" {
            h2 id="incident-postmortem" { (ctx.t(T::PostmortemDraft)) }
            p class="muted" { (ctx.t(T::PostmortemHint)) }
            pre id="postmortem" class="draft" { (draft) }
        }
    };
    Ok(html(StatusCode::OK, layout::page(&ctx, &m, &i.title, body)))
}

pub async fn escalate(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let i = state
        .platform()
        .incidents
        .escalate(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    Ok(see_other(&format!(
        "/console/incidents/{}?done=escalated",
        i.id
    )))
}

#[derive(Deserialize)]
pub struct NoteForm {
    pub text: String,
}

pub async fn note(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Result<Response, Failure> {
    state
        .platform()
        .incidents
        .note(&m.principal, &id, &f.text)
        .await
        .or_fail(&ctx)?;
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    Ok(see_other(&format!("/console/incidents/{id}?done=noted")))
}
