//! `GET /console/operations` ([org:manage]): the health of the database, Redis, the read
//! replica, the pool, the job queue and the AI providers — what `/health` and the queue
//! statistics compute — and a finding with what to do for each that is not well.

use crate::console::ctx::{html, Ctx, Failure, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::health::{self, Status};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use conea_core::permissions::Permission;
use conea_jobs::JobState;
use maud::{html, Markup};

fn status(ctx: &Ctx, s: Status) -> Markup {
    let (class, key) = match s {
        Status::Ok => ("status-ok", T::StatusOk),
        Status::Degraded => ("status-degraded", T::StatusDegraded),
        Status::Down => ("status-down", T::StatusDown),
        Status::Disabled => ("muted", T::StatusDisabled),
    };
    html! { strong class=(class) { (ctx.t(key)) } }
}

pub async fn show(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
) -> Result<Response, Failure> {
    m.principal.require(Permission::OrgManage).or_fail(&ctx)?;
    let report = health::report(&state).await;
    let stats = state.platform().jobs.stats().await.or_fail(&ctx)?;
    let c = &report.checks;
    let db = &c.database;
    let reads = serde_json::to_value(&db.reads).unwrap_or_default();
    let replica_configured = reads["replica_configured"].as_bool().unwrap_or(false);
    let replica_reason = reads["reason"].as_str().unwrap_or("").to_owned();
    let lag_ms = reads["lag_ms"].as_i64();
    let replica_status = if !replica_configured {
        Status::Disabled
    } else if replica_reason == "replica_fresh" {
        Status::Ok
    } else {
        Status::Degraded
    };
    let pool_status = if db.pool.max > 0 && db.pool.size >= db.pool.max && db.pool.idle == 0 {
        Status::Degraded
    } else {
        Status::Ok
    };
    let depth: i64 = stats
        .counts
        .iter()
        .filter(|(_, s, _)| matches!(s, JobState::Available | JobState::Retryable))
        .map(|(_, _, n)| n)
        .sum();
    let oldest_ms = stats.oldest_available_age_ms.unwrap_or(0);
    let queue_threshold = state.config().incidents.queue_age_threshold.as_millis() as i64;
    let queue_status = if oldest_ms > queue_threshold {
        Status::Degraded
    } else {
        Status::Ok
    };
    let ai_trouble = c
        .ai_providers
        .iter()
        .any(|p| p.status == "circuit_open" || p.status == "misconfigured");
    let mut findings: Vec<(T, String, T)> = Vec::new();
    if db.status != Status::Ok {
        findings.push((
            T::Database,
            db.error.clone().unwrap_or_default(),
            T::FixDatabase,
        ));
    }
    if c.redis.status == Status::Down {
        findings.push((
            T::Redis,
            c.redis.error.clone().unwrap_or_default(),
            T::FixRedis,
        ));
    }
    if c.rate_limiter.fallback_active {
        findings.push((T::RateLimiter, String::new(), T::FixLimiter));
    }
    if replica_status == Status::Degraded {
        findings.push((T::Replica, replica_reason.clone(), T::FixReplica));
    }
    if pool_status != Status::Ok {
        findings.push((
            T::Pool,
            format!("{}/{}", db.pool.size, db.pool.max),
            T::FixPool,
        ));
    }
    if queue_status != Status::Ok {
        findings.push((T::Queue, format!("{} s", oldest_ms / 1000), T::FixQueue));
    }
    if ai_trouble {
        let names: Vec<String> = c
            .ai_providers
            .iter()
            .filter(|p| p.status != "ok")
            .map(|p| format!("{} ({})", p.name, p.status))
            .collect();
        findings.push((T::AiProviders, names.join(", "), T::FixAi));
    }
    let body = html! {
        section aria-labelledby="findings" {
            h2 id="findings" { (ctx.t(T::Findings)) }
            @if findings.is_empty() {
                p class="notice" role="status" { (ctx.t(T::NoFindings)) }
            } @else {
                ul {
                    @for (what, detail, fix) in &findings {
                        li { strong { (ctx.t(*what)) } @if !detail.is_empty() { ": " (detail) } br; (ctx.t(*fix)) }
                    }
                }
            }
        }
        section aria-labelledby="health" {
            h2 id="health" { (ctx.t(T::Health)) " " (status(&ctx, report.status)) }
            div class="scroll" { table {
                thead { tr {
                    th scope="col" { (ctx.t(T::Component)) }
                    th scope="col" { (ctx.t(T::Status)) }
                    th scope="col" { (ctx.t(T::Detail)) }
                } }
                tbody {
                    tr { th scope="row" { (ctx.t(T::Database)) } td { (status(&ctx, db.status)) }
                         td { (db.backend) @if let Some(l) = db.latency_ms { ", " (format!("{l:.1} ms")) } @if let Some(e) = &db.error { ", " (e) } } }
                    tr { th scope="row" { (ctx.t(T::Pool)) } td { (status(&ctx, pool_status)) }
                         td { (db.pool.size) " / " (db.pool.max) " (idle " (db.pool.idle) ")" } }
                    tr { th scope="row" { (ctx.t(T::Replica)) } td { (status(&ctx, replica_status)) }
                         td { (replica_reason) @if let Some(l) = lag_ms { ", lag " (i18n::int(l)) " ms" } } }
                    tr { th scope="row" { (ctx.t(T::Redis)) } td { (status(&ctx, c.redis.status)) }
                         td { @if let Some(l) = c.redis.latency_ms { (format!("{l:.1} ms")) } @if let Some(e) = &c.redis.error { (e) } } }
                    tr { th scope="row" { (ctx.t(T::RateLimiter)) }
                         td { (status(&ctx, if c.rate_limiter.fallback_active { Status::Degraded } else { Status::Ok })) }
                         td { (c.rate_limiter.backend) ", fallbacks " (i18n::int(c.rate_limiter.fallbacks as i64)) } }
                    tr { th scope="row" { (ctx.t(T::Queue)) } td { (status(&ctx, queue_status)) }
                         td { (i18n::int(depth)) } }
                    tr { th scope="row" { (ctx.t(T::OldestJob)) } td { (status(&ctx, queue_status)) }
                         td { (i18n::int(oldest_ms / 1000)) " s" } }
                    @for p in &c.ai_providers {
                        tr { th scope="row" { (ctx.t(T::AiProviders)) ": " (p.name) }
                             td { (status(&ctx, if p.status == "ok" { Status::Ok } else { Status::Degraded })) }
                             td { (p.status) @if let Some(e) = &p.last_error { ", " (e) } } }
                    }
                }
            } }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page_with(&ctx, &m, ctx.t(T::NavOperations), Some(30), body),
    ))
}
