//! `GET /console/data/import` [data:write]: the import form (a file of orders, products or
//! customers, NDJSON or CSV); `POST /console/data/import` streams the upload into the same
//! import service as `POST /v1/data/imports` and goes to `GET /console/data/import/{job}`,
//! the import's status page: a `<progress>` of the import job that reloads itself without
//! script (`<noscript>` refresh) and, with the console's script, follows
//! `GET /console/data/import/{job}/status` (the job as JSON) without reloading.
//!
//! The upload is `multipart/form-data`, too large for the session middleware's buffered
//! CSRF check: that middleware lets this one path through unread, and [`upload`] checks
//! the token, which must be the form's first field, before it reads anything else.

use crate::console::ctx::{
    html, see_other, Ctx, Failure, Member, OrFail, Signed, CSRF_FIELD, UPLOAD_PATH,
};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::console::session::csrf_refused;
use crate::state::AppState;
use axum::extract::{Multipart, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conea_core::permissions::Permission;
use conea_core::services::sessions::csrf_matches;
use conea_core::CoreError;
use conea_jobs::Job;
use maud::{html, Markup};
use serde_json::json;

fn form(ctx: &Ctx, m: &Member, top: Markup) -> Markup {
    let body = html! {
        (top)
        p { a href="/console/data/orders" { "← " (ctx.t(T::NavData)) } }
        form class="stack card" method="post" action=(UPLOAD_PATH) enctype="multipart/form-data" aria-label=(ctx.t(T::ImportData)) {
            (layout::csrf(m))
            label for="import-kind" { (ctx.t(T::Kind))
                select id="import-kind" name="kind" {
                    option value="orders" { (ctx.t(T::Orders)) }
                    option value="products" { (ctx.t(T::Products)) }
                    option value="customers" { (ctx.t(T::Customers)) }
                }
            }
            label for="import-file" { (ctx.t(T::ImportFile))
                input id="import-file" name="file" type="file" required accept=".ndjson,.jsonl,.json,.csv,application/x-ndjson,text/csv";
            }
            p class="muted" { (ctx.t(T::ImportHint)) }
            button type="submit" { (ctx.t(T::Import)) }
        }
    };
    layout::page(ctx, m, ctx.t(T::ImportData), body)
}

/// `GET /console/data/import` [data:write].
pub async fn show(Signed(ctx, m): Signed) -> Result<Response, Failure> {
    m.principal.require(Permission::DataWrite).or_fail(&ctx)?;
    Ok(html(StatusCode::OK, form(&ctx, &m, html! {})))
}

fn field_error(e: axum::extract::multipart::MultipartError) -> CoreError {
    CoreError::invalid(
        "file",
        format!("The upload could not be read: {}", e.body_text()),
    )
}

/// `POST /console/data/import` (multipart: `csrf` first, then `kind`, then `file`).
pub async fn upload(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    mut parts: Multipart,
) -> Result<Response, Failure> {
    let first = parts
        .next_field()
        .await
        .map_err(|e| ctx.fail(field_error(e)))?;
    let token = match first {
        Some(f) if f.name() == Some(CSRF_FIELD) => f.text().await.unwrap_or_default(),
        _ => String::new(),
    };
    if token.is_empty() || !csrf_matches(&m.csrf, &token) {
        return Ok(csrf_refused(&ctx));
    }
    m.principal.require(Permission::DataWrite).or_fail(&ctx)?;
    let mut kind = None;
    let service = state.platform().data.clone();
    while let Some(mut field) = parts
        .next_field()
        .await
        .map_err(|e| ctx.fail(field_error(e)))?
    {
        match field.name() {
            Some("kind") => kind = Some(field.text().await.map_err(|e| ctx.fail(field_error(e)))?),
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_ascii_lowercase();
                let content_type = if name.ends_with(".csv") {
                    "text/csv"
                } else {
                    "application/x-ndjson"
                };
                let mut session = service
                    .begin_import(
                        &m.principal,
                        kind.as_deref(),
                        None,
                        Some(content_type),
                        state.config().max_import_bytes,
                    )
                    .await
                    .or_fail(&ctx)?;
                loop {
                    match field.chunk().await {
                        Ok(Some(bytes)) => {
                            service.write(&mut session, &bytes).await.or_fail(&ctx)?
                        }
                        Ok(None) => break,
                        Err(e) => {
                            service.abort(&session).await;
                            return Err(ctx.fail(field_error(e)));
                        }
                    }
                }
                let job = match service.finish(session).await {
                    Ok(job) => job,
                    Err(e @ CoreError::InvalidInput { .. }) => {
                        let top = html! { p class="notice error" role="alert" { (i18n::error_message(ctx.lang, &e)) } };
                        return Ok(html(StatusCode::BAD_REQUEST, form(&ctx, &m, top)));
                    }
                    Err(e) => return Err(ctx.fail(e)),
                };
                return Ok(see_other(&format!("{UPLOAD_PATH}/{}", job.id)));
            }
            _ => {}
        }
    }
    Err(ctx.fail(CoreError::invalid("file", "Choose a file to import.")))
}

async fn import_job(state: &AppState, ctx: &Ctx, m: &Member, id: &str) -> Result<Job, Failure> {
    let job = state
        .platform()
        .jobs
        .get(&m.principal, id)
        .await
        .or_fail(ctx)?;
    if job.kind != "data.import" {
        return Err(ctx.fail(CoreError::not_found("import", id)));
    }
    Ok(job)
}

/// `GET /console/data/import/{job}` [jobs:read]: the import's progress and, once done, its
/// counts.
pub async fn status_page(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let job = import_job(&state, &ctx, &m, &id).await?;
    let done = job.state.is_final();
    let result = job.result.clone().unwrap_or_default();
    let count = |k: &str| {
        result
            .get(k)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "0".into())
    };
    let body = html! {
        @if !done {
            noscript { meta http-equiv="refresh" content="2"; }
        }
        section aria-labelledby="import-state" data-import-status={ (UPLOAD_PATH) "/" (id) "/status" } {
            h2 id="import-state" { (ctx.t(T::Progress)) }
            p {
                label for="import-progress" class="inline" {
                    progress id="import-progress" max="100" value=(job.progress) { (job.progress) "%" }
                    span id="import-percent" { (job.progress) "%" }
                }
            }
            p { (ctx.t(T::Status)) ": " b id="import-job-state" data-state=(job.state.as_str()) { (ctx.t(i18n::job_state(job.state))) } }
            p class="muted" id="import-message" aria-live="polite" {
                @if let Some(msg) = &job.progress_message { (i18n::progress_message(ctx.lang, msg)) }
            }
            @if done {
                dl class="facts" id="import-result" {
                    dt { (ctx.t(T::RowsRead)) } dd { (count("rows")) }
                    dt { (ctx.t(T::Inserted)) } dd id="import-inserted" { (count("inserted")) }
                    dt { (ctx.t(T::UpdatedRows)) } dd { (count("updated")) }
                    dt { (ctx.t(T::Rejected)) } dd { (count("rejected")) }
                }
                @if let Some(e) = job.errors.last() { p class="notice error" role="alert" { (e.error) } }
                p { a href="/console/data/orders" { (ctx.t(T::NavData)) } " · " a href=(UPLOAD_PATH) { (ctx.t(T::ImportAnother)) } }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&ctx, &m, ctx.t(T::ImportData), body),
    ))
}

/// `GET /console/data/import/{job}/status` [jobs:read]: the job's state and progress as
/// JSON, for the status page's script.
pub async fn status_json(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let job = import_job(&state, &ctx, &m, &id).await?;
    let body = json!({
        "state": job.state.as_str(),
        "label": ctx.t(i18n::job_state(job.state)),
        "progress": job.progress,
        "message": job
            .progress_message
            .as_deref()
            .map(|m| i18n::progress_message(ctx.lang, m)),
        "final": job.state.is_final(),
    });
    let mut r = body.to_string().into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}
