//! `GET /console/operations` ([org:manage]): the operations guide's symptoms from the
//! product's own signals — the health of the database, Redis, the read replica, the pool,
//! the job queue and the AI providers (what `/health` and the queue statistics compute), the
//! rate limiter's decisions, CPU against its limit, memory against the container's, open
//! files against `ulimit -n`, slow statements, incident notifications and the member's
//! Shopify shops whose token is refused — and a finding with what to do for each that is
//! not well: the checks `conea diagnose --url` makes from `/health` and `/metrics`, taken
//! in the process.

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
    let process = Process::read();
    let (allowed, limited) = state.metrics().limit_decisions();
    let stats = state.store().stats();
    let slow = stats.recent_slow();
    let slow_ms = state.config().database.slow_statement.as_millis();
    let cpu = &c.cpu;
    let cpu_hot = cpu
        .utilization
        .is_some_and(|u| u * 100.0 >= f64::from(cpu.threshold_percent));
    let refused_shops: Vec<&str> = c
        .shopify_unauthorized
        .iter()
        .filter(|s| s.organization_id == m.principal.org_id.as_str())
        .map(|s| s.shop_id.as_str())
        .collect();
    let mut findings: Vec<(T, String, T)> = Vec::new();
    if process.memory_near_limit() {
        findings.push((T::Memory, process.memory_text(&ctx), T::FixMemory));
    }
    if process.files_near_limit() {
        findings.push((T::OpenFiles, process.files_text(), T::FixFiles));
    }
    if cpu_hot {
        findings.push((T::Cpu, cpu_text(&ctx, cpu), T::FixCpu));
    }
    if !slow.is_empty() {
        findings.push((
            T::SlowStatements,
            format!("{} > {slow_ms} ms", i18n::int(slow.len() as i64)),
            T::FixSlow,
        ));
    }
    if c.escalation.warning.is_some() {
        // The fix says it in the member's language (the health report's text is English).
        findings.push((T::Escalation, String::new(), T::FixEscalation));
    }
    if !refused_shops.is_empty() {
        findings.push((
            T::ShopifyTokens,
            refused_shops.join(", "),
            T::FixShopifyTokens,
        ));
    }
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
                         td { (db.pool.size) " / " (db.pool.max) " (" (ctx.t(T::Idle)) " " (db.pool.idle) ")" } }
                    tr { th scope="row" { (ctx.t(T::Replica)) } td { (status(&ctx, replica_status)) }
                         td { (replica_reason) @if let Some(l) = lag_ms { ", " (ctx.t(T::Lag)) " " (i18n::int(l)) " ms" } } }
                    tr { th scope="row" { (ctx.t(T::Redis)) } td { (status(&ctx, c.redis.status)) }
                         td { @if let Some(l) = c.redis.latency_ms { (format!("{l:.1} ms")) } @if let Some(e) = &c.redis.error { (e) } } }
                    tr { th scope="row" { (ctx.t(T::RateLimiter)) }
                         td { (status(&ctx, if c.rate_limiter.fallback_active { Status::Degraded } else { Status::Ok })) }
                         td id="limiter-usage" { (c.rate_limiter.backend) ", " (ctx.t(T::Allowed)) " " (int(allowed)) ", " (ctx.t(T::Limited)) " " (int(limited)) ", " (ctx.t(T::Fallbacks)) " " (int(c.rate_limiter.fallbacks)) " (" (ctx.t(T::SinceStart)) ")" } }
                    tr { th scope="row" { (ctx.t(T::Cpu)) } td { (status(&ctx, if cpu_hot { Status::Degraded } else { Status::Ok })) }
                         td id="cpu" { (cpu_text(&ctx, cpu)) } }
                    tr { th scope="row" { (ctx.t(T::Memory)) } td { (status(&ctx, if process.memory_near_limit() { Status::Degraded } else { Status::Ok })) }
                         td id="memory" { (process.memory_text(&ctx)) } }
                    tr { th scope="row" { (ctx.t(T::OpenFiles)) } td { (status(&ctx, if process.files_near_limit() { Status::Degraded } else { Status::Ok })) }
                         td id="open-files" { (process.files_text()) } }
                    tr { th scope="row" { (ctx.t(T::SlowStatements)) } td { (status(&ctx, if slow.is_empty() { Status::Ok } else { Status::Degraded })) }
                         td id="slow-count" { (int(stats.slow())) " > " (slow_ms) " ms (" (ctx.t(T::SinceStart)) ")" } }
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
        @if !slow.is_empty() {
            section aria-labelledby="slow" {
                h2 id="slow" { (ctx.t(T::SlowStatements)) }
                div class="scroll" { table id="slow-statements" {
                    thead { tr {
                        th scope="col" { (ctx.t(T::Statement)) }
                        th scope="col" class="num" { (ctx.t(T::Duration)) }
                    } }
                    tbody {
                        @for s in slow.iter().rev().take(20) {
                            tr { td { code { (s.name) } br; span class="muted" { (s.statement) } }
                                 td class="num" { (i18n::int(s.duration.as_millis() as i64)) " ms" } }
                        }
                    }
                } }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page_with(&ctx, &m, ctx.t(T::NavOperations), Some(30), body),
    ))
}

fn int(n: u64) -> String {
    i18n::int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn cpu_text(ctx: &Ctx, cpu: &health::CpuReport) -> String {
    let used = cpu.utilization.map_or_else(|| "—".to_owned(), i18n::ratio);
    let busy: Vec<String> = cpu
        .runtime_workers_busy
        .iter()
        .map(|b| i18n::ratio(*b))
        .collect();
    // The limit's source when it is a quota (`cores`: the machine's, said by the unit).
    let source = match cpu.limit_source {
        "cores" => String::new(),
        s => format!(" ({s})"),
    };
    format!(
        "{used} / {:.1} {}{source}, {} {} %, {} {}",
        cpu.limit_cores,
        ctx.t(T::Cores),
        ctx.t(T::Threshold),
        cpu.threshold_percent,
        ctx.t(T::WorkersBusy),
        busy.join(" ")
    )
}

/// This process's memory and open files against their limits.
struct Process {
    rss: Option<u64>,
    memory_limit: Option<u64>,
    files: Option<u64>,
    files_limit: Option<u64>,
}

const MIB: u64 = 1 << 20;

impl Process {
    fn read() -> Process {
        Process {
            rss: crate::process::rss_bytes(),
            memory_limit: crate::process::memory_limit_bytes(),
            files: crate::process::open_files(),
            files_limit: crate::process::open_files_limit(),
        }
    }

    /// At 90 % of the container's limit.
    fn memory_near_limit(&self) -> bool {
        matches!((self.rss, self.memory_limit), (Some(r), Some(l)) if r * 10 >= l * 9)
    }

    /// At 80 % of `ulimit -n`.
    fn files_near_limit(&self) -> bool {
        matches!((self.files, self.files_limit), (Some(n), Some(l)) if n * 10 >= l * 8)
    }

    fn memory_text(&self, ctx: &Ctx) -> String {
        let mib = |b: u64| format!("{} MiB", int(b / MIB));
        match (self.rss, self.memory_limit) {
            (Some(r), Some(l)) => format!("RSS {} / {}", mib(r), mib(l)),
            (Some(r), None) => format!("RSS {} ({})", mib(r), ctx.t(T::NoMemoryLimit)),
            _ => "—".to_owned(),
        }
    }

    fn files_text(&self) -> String {
        match (self.files, self.files_limit) {
            (Some(n), Some(l)) => format!("{} / {}", int(n), int(l)),
            (Some(n), None) => int(n),
            _ => "—".to_owned(),
        }
    }
}
