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

/// One line of the health table: a component, its state, what it says, and what to do —
/// set when the line is a finding.
struct Check {
    label: String,
    status: Status,
    detail: String,
    /// The detail cell's id, for scripts and tests.
    id: Option<&'static str>,
    fix: Option<T>,
}

impl Check {
    fn new(label: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            label: label.into(),
            status,
            detail: detail.into(),
            id: None,
            fix: None,
        }
    }

    fn id(mut self, id: &'static str) -> Check {
        self.id = Some(id);
        self
    }

    /// A finding with `fix` when `when` holds.
    fn fix_when(mut self, when: bool, fix: T) -> Check {
        self.fix = when.then_some(fix);
        self
    }
}

fn ok_unless(degraded: bool) -> Status {
    if degraded {
        Status::Degraded
    } else {
        Status::Ok
    }
}

/// What the page shows: the overall health, every check, and the recent slow statements.
struct Operations {
    health: Status,
    checks: Vec<Check>,
    slow: Vec<conea_store::SlowStatement>,
}

/// Reads the signals once and assesses each: the health report, the queue statistics, the
/// rate limiter's decisions, the statement statistics and the process's readings.
async fn assess(
    state: &AppState,
    ctx: &Ctx,
    org: &conea_core::ids::OrgId,
) -> Result<Operations, conea_core::CoreError> {
    let report = health::report(state).await;
    let queue = state.platform().jobs.stats().await?;
    let c = &report.checks;
    let db = &c.database;
    let reads = &db.reads;
    let t = |k: T| ctx.t(k).to_owned();
    let mut checks = Vec::new();

    let mut detail = db.backend.to_owned();
    if let Some(l) = db.latency_ms {
        detail.push_str(&format!(", {l:.1} ms"));
    }
    if let Some(e) = &db.error {
        detail.push_str(&format!(", {e}"));
    }
    checks.push(
        Check::new(t(T::Database), db.status, detail)
            .fix_when(db.status != Status::Ok, T::FixDatabase),
    );
    let pool_full = db.pool.max > 0 && db.pool.size >= db.pool.max && db.pool.idle == 0;
    checks.push(
        Check::new(
            t(T::Pool),
            ok_unless(pool_full),
            format!(
                "{} / {} ({} {})",
                db.pool.size,
                db.pool.max,
                ctx.t(T::Idle),
                db.pool.idle
            ),
        )
        .fix_when(pool_full, T::FixPool),
    );
    let replica_status = if !reads.replica_configured {
        Status::Disabled
    } else {
        ok_unless(reads.reason != "replica_fresh")
    };
    let mut detail = reads.reason.to_owned();
    if let Some(l) = reads.lag_ms {
        detail.push_str(&format!(", {} {} ms", ctx.t(T::Lag), int(l)));
    }
    checks.push(
        Check::new(t(T::Replica), replica_status, detail)
            .fix_when(replica_status == Status::Degraded, T::FixReplica),
    );
    let redis = &c.redis;
    let detail = [
        redis.latency_ms.map(|l| format!("{l:.1} ms")),
        redis.error.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    checks.push(
        Check::new(t(T::Redis), redis.status, detail)
            .fix_when(redis.status == Status::Down, T::FixRedis),
    );
    let limiter = &c.rate_limiter;
    let (allowed, limited) = state.metrics().limit_decisions();
    checks.push(
        Check::new(
            t(T::RateLimiter),
            ok_unless(limiter.fallback_active),
            format!(
                "{}, {} {}, {} {}, {} {} ({})",
                limiter.backend,
                ctx.t(T::Allowed),
                int(allowed),
                ctx.t(T::Limited),
                int(limited),
                ctx.t(T::Fallbacks),
                int(limiter.fallbacks),
                ctx.t(T::SinceStart)
            ),
        )
        .id("limiter-usage")
        .fix_when(limiter.fallback_active, T::FixLimiter),
    );
    let cpu = &c.cpu;
    let cpu_hot = cpu
        .utilization
        .is_some_and(|u| u * 100.0 >= f64::from(cpu.threshold_percent));
    checks.push(
        Check::new(t(T::Cpu), ok_unless(cpu_hot), cpu_text(ctx, cpu))
            .id("cpu")
            .fix_when(cpu_hot, T::FixCpu),
    );
    let process = Process::read();
    let memory_high = process.memory_near_limit();
    checks.push(
        Check::new(
            t(T::Memory),
            ok_unless(memory_high),
            process.memory_text(ctx),
        )
        .id("memory")
        .fix_when(memory_high, T::FixMemory),
    );
    let files_high = process.files_near_limit();
    checks.push(
        Check::new(t(T::OpenFiles), ok_unless(files_high), process.files_text())
            .id("open-files")
            .fix_when(files_high, T::FixFiles),
    );
    let statements = state.store().stats();
    let slow = statements.recent_slow();
    checks.push(
        Check::new(
            t(T::SlowStatements),
            ok_unless(!slow.is_empty()),
            format!(
                "{} > {} ms ({})",
                int(statements.slow()),
                state.config().database.slow_statement.as_millis(),
                ctx.t(T::SinceStart)
            ),
        )
        .id("slow-count")
        .fix_when(!slow.is_empty(), T::FixSlow),
    );
    let depth: i64 = queue
        .counts
        .iter()
        .filter(|(_, s, _)| matches!(s, JobState::Available | JobState::Retryable))
        .map(|(_, _, n)| n)
        .sum();
    let oldest_ms = queue.oldest_available_age_ms.unwrap_or(0);
    let queue_late = oldest_ms > state.config().incidents.queue_age_threshold.as_millis() as i64;
    checks.push(Check::new(
        t(T::Queue),
        ok_unless(queue_late),
        i18n::int(depth),
    ));
    checks.push(
        Check::new(
            t(T::OldestJob),
            ok_unless(queue_late),
            format!("{} s", i18n::int(oldest_ms / 1000)),
        )
        .fix_when(queue_late, T::FixQueue),
    );
    for p in &c.ai_providers {
        let detail = match &p.last_error {
            Some(e) => format!("{}, {e}", p.status),
            None => p.status.clone(),
        };
        let trouble = p.status == "circuit_open" || p.status == "misconfigured";
        checks.push(
            Check::new(
                format!("{}: {}", ctx.t(T::AiProviders), p.name),
                ok_unless(p.status != "ok"),
                detail,
            )
            .fix_when(trouble, T::FixAi),
        );
    }
    // The health report's warning is English; the fix says it in the member's language.
    let nobody = c.escalation.warning.is_some();
    checks.push(
        Check::new(
            t(T::Escalation),
            ok_unless(nobody),
            c.escalation.channels.join(", "),
        )
        .fix_when(nobody, T::FixEscalation),
    );
    // `/health` lists every organization's shops; the member sees their own.
    let refused: Vec<&str> = c
        .shopify_unauthorized
        .iter()
        .filter(|s| s.organization_id == org.as_str())
        .map(|s| s.shop_id.as_str())
        .collect();
    checks.push(
        Check::new(
            t(T::ShopifyTokens),
            ok_unless(!refused.is_empty()),
            refused.join(", "),
        )
        .fix_when(!refused.is_empty(), T::FixShopifyTokens),
    );
    Ok(Operations {
        health: report.status,
        checks,
        slow,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
) -> Result<Response, Failure> {
    m.principal.require(Permission::OrgManage).or_fail(&ctx)?;
    let ops = assess(&state, &ctx, &m.principal.org_id)
        .await
        .or_fail(&ctx)?;
    Ok(html(
        StatusCode::OK,
        layout::page_with(
            &ctx,
            &m,
            ctx.t(T::NavOperations),
            Some(30),
            view(&ctx, &ops),
        ),
    ))
}

fn view(ctx: &Ctx, ops: &Operations) -> Markup {
    let findings: Vec<(&Check, T)> = ops
        .checks
        .iter()
        .filter_map(|c| c.fix.map(|f| (c, f)))
        .collect();
    html! {
        section aria-labelledby="findings" {
            h2 id="findings" { (ctx.t(T::Findings)) }
            @if findings.is_empty() {
                p class="notice" role="status" { (ctx.t(T::NoFindings)) }
            } @else {
                ul {
                    @for (c, fix) in &findings {
                        li { strong { (c.label) } @if !c.detail.is_empty() { ": " (c.detail) } br; (ctx.t(*fix)) }
                    }
                }
            }
        }
        section aria-labelledby="health" {
            h2 id="health" { (ctx.t(T::Health)) " " (status(ctx, ops.health)) }
            div class="scroll" { table {
                thead { tr {
                    th scope="col" { (ctx.t(T::Component)) }
                    th scope="col" { (ctx.t(T::Status)) }
                    th scope="col" { (ctx.t(T::Detail)) }
                } }
                tbody {
                    @for c in &ops.checks {
                        tr { th scope="row" { (c.label) } td { (status(ctx, c.status)) } td id=[c.id] { (c.detail) } }
                    }
                }
            } }
        }
        @if !ops.slow.is_empty() {
            section aria-labelledby="slow" {
                h2 id="slow" { (ctx.t(T::SlowStatements)) }
                div class="scroll" { table id="slow-statements" {
                    thead { tr {
                        th scope="col" { (ctx.t(T::Statement)) }
                        th scope="col" class="num" { (ctx.t(T::Duration)) }
                    } }
                    tbody {
                        @for s in ops.slow.iter().rev().take(20) {
                            tr { td { code { (s.name) } br; span class="muted" { (s.statement) } }
                                 td class="num" { (i18n::int(s.duration.as_millis() as i64)) " ms" } }
                        }
                    }
                } }
            }
        }
    }
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
