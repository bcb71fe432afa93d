//! `GET /console/jobs` ([jobs:read]): the organization's jobs with state, progress and the
//! last error, reloading itself every 5 s; cancel and retry buttons for members with
//! [jobs:write] (`POST /console/jobs/{id}/cancel|retry`, the job service's checks).

use crate::console::ctx::{html, see_other, Ctx, Failure, Member, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use conea_core::permissions::Permission;
use conea_jobs::{Job, JobState};
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct JobsQuery {
    pub state: Option<String>,
    pub done: Option<String>,
}

fn actions(ctx: &Ctx, m: &Member, job: &Job) -> Markup {
    if !m.principal.has(Permission::JobsWrite) {
        return html! {};
    }
    let id = job.id.as_str();
    html! {
        @if !job.state.is_final() {
            form class="inline-form" method="post" action={ "/console/jobs/" (id) "/cancel" } data-confirm=(ctx.t(T::ConfirmCancel)) {
                (layout::csrf(m))
                button type="submit" class="danger" aria-label={ (ctx.t(T::Cancel)) " " (id) } { (ctx.t(T::Cancel)) }
            }
        }
        @if matches!(job.state, JobState::Discarded | JobState::Cancelled) {
            form class="inline-form" method="post" action={ "/console/jobs/" (id) "/retry" } {
                (layout::csrf(m))
                button type="submit" class="secondary" aria-label={ (ctx.t(T::Retry)) " " (id) } { (ctx.t(T::Retry)) }
            }
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(q): Query<JobsQuery>,
) -> Result<Response, Failure> {
    let wanted = q.state.as_deref().filter(|s| !s.is_empty());
    let jobs = state
        .platform()
        .jobs
        .list(&m.principal, wanted, None, None, 50)
        .await
        .or_fail(&ctx)?;
    let tz = ctx.tz.clone();
    let notice = match q.done.as_deref() {
        Some("cancelled") => Some(T::JobCancelled),
        Some("retried") => Some(T::JobRetried),
        _ => None,
    };
    let body = html! {
        @if let Some(n) = notice { p class="notice" role="status" { (ctx.t(n)) } }
        form class="filters card" method="get" action="/console/jobs" aria-label=(ctx.t(T::Filter)) {
            label for="state" { (ctx.t(T::Status))
                select id="state" name="state" data-autosubmit {
                    option value="" { (ctx.t(T::AllStates)) }
                    @for s in JobState::ALL {
                        option value=(s.as_str()) selected[wanted == Some(s.as_str())] { (ctx.t(i18n::job_state(s))) }
                    }
                }
            }
            button type="submit" { (ctx.t(T::Filter)) }
        }
        @if jobs.is_empty() {
            p class="muted" { (ctx.t(T::NoJobs)) }
        } @else {
            section { div class="scroll" { table {
                thead { tr {
                    th scope="col" { "ID" }
                    th scope="col" { (ctx.t(T::Kind)) }
                    th scope="col" { (ctx.t(T::Status)) }
                    th scope="col" { (ctx.t(T::Progress)) }
                    th scope="col" class="hide-narrow" { (ctx.t(T::Attempt)) }
                    th scope="col" class="hide-narrow" { (ctx.t(T::LastError)) }
                    th scope="col" class="hide-narrow" { (ctx.t(T::Created)) }
                    th scope="col" { (ctx.t(T::Actions)) }
                } }
                tbody {
                    @for j in &jobs {
                        tr data-job=(j.id.as_str()) {
                            td { code { (j.id.as_str()) } }
                            td { (j.kind) }
                            td class="job-state" data-state=(j.state.as_str()) { (ctx.t(i18n::job_state(j.state))) }
                            td {
                                progress max="100" value=(j.progress) aria-label=(ctx.t(T::Progress)) { (j.progress) "%" }
                                " " (j.progress) "%"
                                @if let Some(msg) = &j.progress_message { br; span class="muted" { (i18n::progress_message(ctx.lang, msg)) } }
                            }
                            td class="hide-narrow num" { (j.attempt) "/" (j.max_attempts) }
                            td class="hide-narrow" { @if let Some(e) = j.errors.last() { (e.error) } }
                            td class="hide-narrow" { (i18n::instant(ctx.lang, &tz, j.created_at)) }
                            td { (actions(&ctx, &m, j)) }
                        }
                    }
                }
            } } }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page_with(&ctx, &m, ctx.t(T::NavJobs), Some(5), body),
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    state
        .platform()
        .jobs
        .cancel(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/jobs?done=cancelled"))
}

pub async fn retry(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    state
        .platform()
        .jobs
        .retry(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/jobs?done=retried"))
}
