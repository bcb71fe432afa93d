//! `GET /console/reports` [data:read]: run any analytics report with its parameters (the
//! analytics service, as `GET /v1/analytics/{report}`) and see it as a chart and a table;
//! the organization's report schedules (the schedules service, as `/v1/schedules`) with a
//! form to create one, and per schedule an edit form and enable/disable [data:write].

use crate::console::chart::{self, Point};
use crate::console::ctx::{html, see_other, Ctx, Failure, Member, OrFail, Signed};
use crate::console::i18n::{self, Lang, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use conea_core::permissions::Permission;
use conea_core::CoreError;
use conea_schedules::service::ScheduleView;
use conea_schedules::validate::{DestinationDraft, ScheduleDraft};
use conea_schedules::ScheduleReport;
use conea_shopdata::analytics::{RawParams, Report};
use jiff::tz::TimeZone;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

/// Rows of a report's table at most (the CSV and the API have the whole report).
const MAX_ROWS: usize = 200;
/// Columns of a report's table at most.
const MAX_COLUMNS: usize = 10;

#[derive(Deserialize, Default)]
pub struct RunQuery {
    pub report: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub granularity: Option<String>,
    pub compare: Option<String>,
    pub timezone: Option<String>,
    pub done: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The label of a report in the member's language.
pub fn report_label(r: Report) -> T {
    match r {
        Report::SalesOverTime => T::RepSalesOverTime,
        Report::ProductPerformance => T::RepProductPerformance,
        Report::RefundsCancellations => T::RepRefunds,
        Report::SalesByHourWeekday => T::RepHourWeekday,
        Report::RepeatPurchase => T::RepRepeat,
        Report::RfmSegments => T::Segments,
        Report::CustomerCohorts => T::Cohorts,
        Report::Inventory => T::RepInventory,
    }
}

/// A schedule's report: an analytics report's label, or the digest's.
pub fn schedule_label(r: ScheduleReport) -> T {
    match r {
        ScheduleReport::Analytics(r) => report_label(r),
        ScheduleReport::Digest => T::RepDigest,
    }
}

/// A column heading: the translated name of the common figures, else the field's name.
fn column_label(lang: Lang, key: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    let t = match last {
        "net_sales" => Some(T::NetSales),
        "gross_sales" => Some(T::GrossSales),
        "orders" => Some(T::Orders),
        "units" => Some(T::Units),
        "refunds" => Some(T::Refunds),
        "revenue" => Some(T::Revenue),
        "customers" => Some(T::Customers),
        "average_order_value" => Some(T::AverageOrder),
        "start" => Some(T::From),
        "title" => Some(T::Product),
        "currency" => Some(T::Currency),
        "segment" => Some(T::Segment),
        "cohort" => Some(T::Cohort),
        "share" | "share_of_revenue" => Some(T::Share),
        "discounts" => Some(T::Discounts),
        "refund_rate" => Some(T::RefundRate),
        "refunded_orders" => Some(T::RefundedOrders),
        "cancelled" | "cancelled_orders" => Some(T::Cancelled),
        _ => None,
    };
    t.map(|t| lang.t(t).to_owned())
        .unwrap_or_else(|| key.replace('_', " "))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A list item that groups (a currency with its totals and lists, or an item of at most
/// two plain fields), not a row.
fn wrapper(item: &Value) -> bool {
    item.as_object().is_some_and(|m| {
        m.contains_key("currency") || m.values().filter(|v| scalar(v).is_some()).count() <= 2
    })
}

/// The report's largest list of objects, with the currency of the object that holds it.
/// A list inside a grouping item (see [`wrapper`]) wins a tie with its outer list; a
/// list inside a row (a product's variants) does not.
fn largest_list<'a>(
    v: &'a Value,
    currency: Option<&'a str>,
) -> Option<(&'a [Value], Option<&'a str>)> {
    type Found<'a> = Option<(&'a [Value], Option<&'a str>)>;
    let better = |c: &Found<'a>, best: &Found<'a>, ties: bool| match (c, best) {
        (Some(c), Some(b)) => c.0.len() > b.0.len() || (ties && c.0.len() == b.0.len()),
        (Some(_), None) => true,
        _ => false,
    };
    match v {
        Value::Array(items) => {
            let mut best: Found<'a> = items
                .iter()
                .any(Value::is_object)
                .then_some((items.as_slice(), currency));
            for item in items {
                let c = largest_list(item, currency);
                if better(&c, &best, wrapper(item)) {
                    best = c;
                }
            }
            best
        }
        Value::Object(map) => {
            let here = map.get("currency").and_then(Value::as_str).or(currency);
            let mut best: Found<'a> = None;
            for inner in map.values() {
                let c = largest_list(inner, here);
                if better(&c, &best, false) {
                    best = c;
                }
            }
            best
        }
        _ => None,
    }
}

/// A report as a table: the scalar fields of its largest list's objects and of their
/// nested objects (`figures.net_sales`), in order of first appearance.
pub struct Table {
    pub currency: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub fn table(report: &Value) -> Option<Table> {
    let (items, currency) = largest_list(report, None)?;
    let mut columns: Vec<String> = Vec::new();
    let mut flat: Vec<Vec<(String, String)>> = Vec::new();
    for item in items.iter().take(MAX_ROWS) {
        let Some(map) = item.as_object() else {
            continue;
        };
        let mut row = Vec::new();
        for (k, v) in map {
            if let Some(s) = scalar(v) {
                row.push((k.clone(), s));
            } else if let Some(inner) = v.as_object() {
                for (k2, v2) in inner {
                    if let Some(s) = scalar(v2) {
                        row.push((format!("{k}.{k2}"), s));
                    }
                }
            }
        }
        for (k, _) in &row {
            if !columns.contains(k) && columns.len() < MAX_COLUMNS {
                columns.push(k.clone());
            }
        }
        flat.push(row);
    }
    let rows: Vec<Vec<String>> = flat
        .into_iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    row.iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    // Text columns (names, days) first, then the figures.
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|c| numeric(&rows, *c));
    Some(Table {
        currency: currency.map(str::to_owned),
        columns: order.iter().map(|c| columns[*c].clone()).collect(),
        rows: rows
            .iter()
            .map(|r| order.iter().map(|c| r[*c].clone()).collect())
            .collect(),
    })
}

fn numeric(rows: &[Vec<String>], col: usize) -> bool {
    !rows.is_empty()
        && rows
            .iter()
            .all(|r| r[col].is_empty() || r[col].parse::<f64>().is_ok())
        && rows.iter().any(|r| !r[col].is_empty())
}

/// A chart's label for a row: a day in the page's language, else the text cut at
/// [`LABEL_CHARS`] with an ellipsis (a phone shows the chart a third of its size).
fn chart_label(lang: Lang, text: &str) -> String {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        let d = TimeZone::UTC.to_datetime(t).date();
        return i18n::date(lang, d.year(), d.month(), d.day());
    }
    if text.parse::<jiff::civil::Date>().is_ok() {
        return i18n::day_text(lang, text);
    }
    if text.chars().count() <= LABEL_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(LABEL_CHARS - 1).collect();
    // At a word's end when there is one in the second half (Japanese has none).
    if let Some(space) = cut.rfind(' ').filter(|i| *i >= LABEL_CHARS / 2) {
        cut.truncate(space);
    }
    cut.truncate(cut.trim_end_matches([' ', ',']).len());
    cut.push('…');
    cut
}

/// Characters of a chart's label at most.
const LABEL_CHARS: usize = 14;

/// The column that names a table's rows: a title or name (a product's, a segment's), else a
/// day, else the first text column that is no id (a shop id names no product).
fn label_column(t: &Table) -> Option<usize> {
    let text: Vec<usize> = (0..t.columns.len())
        .filter(|c| !numeric(&t.rows, *c))
        .collect();
    let last = |c: usize| t.columns[c].rsplit('.').next().unwrap_or("");
    [
        "title", "name", "segment", "cohort", "start", "day", "date", "weekday",
    ]
    .iter()
    .find_map(|name| text.iter().copied().find(|c| last(*c) == *name))
    .or_else(|| text.iter().copied().find(|c| !last(*c).ends_with("id")))
    .or_else(|| text.first().copied())
}

/// The chart of a table: labels from the column naming its rows ([`label_column`]), bars
/// from its first numeric column, the line from the second (each scaled to its own
/// maximum). The names of the bar and line columns come with it.
pub fn chart_of(lang: Lang, t: &Table) -> Option<(Vec<Point>, usize, Option<usize>)> {
    let n = t.columns.len();
    let label = label_column(t)?;
    let nums: Vec<usize> = (0..n)
        .filter(|c| numeric(&t.rows, *c) && !t.columns[*c].ends_with("id"))
        .collect();
    let last = |c: usize| t.columns[c].rsplit('.').next().unwrap_or("").to_owned();
    // Money first, counts on the line; else the first figures.
    let pick = |names: &[&str], not: Option<usize>| {
        names.iter().find_map(|name| {
            nums.iter()
                .copied()
                .find(|c| Some(*c) != not && last(*c) == *name)
        })
    };
    let bar = pick(
        &[
            "net_sales",
            "revenue",
            "gross_sales",
            "refunds",
            "customers",
            "orders",
            "units",
        ],
        None,
    )
    .or_else(|| nums.first().copied())?;
    let line = pick(
        &["orders", "customers", "units", "refunded_orders"],
        Some(bar),
    )
    .or_else(|| nums.iter().copied().find(|c| *c != bar));
    let num = |r: &Vec<String>, c: usize| r[c].parse::<f64>().unwrap_or(0.0);
    let points = t
        .rows
        .iter()
        .map(|r| Point {
            label: chart_label(lang, &r[label]),
            bar: num(r, bar),
            line: line.map(|l| num(r, l)).unwrap_or(0.0),
            partial: false,
        })
        .collect();
    Some((points, bar, line))
}

fn result_section(ctx: &Ctx, report: Report, value: &Value) -> Markup {
    let summary = conea_schedules::render::summary_rows(value);
    let t = table(value);
    html! {
        section aria-labelledby="result" id="report-result" {
            h2 id="result" { (ctx.t(report_label(report))) }
            @if let (Some(from), Some(to)) = (value.get("from").and_then(Value::as_str), value.get("to").and_then(Value::as_str)) {
                p class="muted" { (i18n::instant_text(ctx.lang, &ctx.tz, from)) " – " (i18n::instant_text(ctx.lang, &ctx.tz, to)) }
            }
            @if let Some(t) = &t {
                @if let Some((points, bar, line)) = chart_of(ctx.lang, t) {
                    @let title = match line {
                        Some(l) => format!("{}: {} / {}", ctx.t(report_label(report)), column_label(ctx.lang, &t.columns[bar]), column_label(ctx.lang, &t.columns[l])),
                        None => format!("{}: {}", ctx.t(report_label(report)), column_label(ctx.lang, &t.columns[bar])),
                    };
                    p class="muted" { (title) }
                    (layout::svg(chart::bars_and_line(&title, &points)))
                }
                @if let Some(c) = &t.currency { p class="muted" { (ctx.t(T::Currency)) ": " (c) } }
                div class="scroll" { table class="report-table" {
                    thead { tr { @for c in &t.columns { th scope="col" { (column_label(ctx.lang, c)) } } } }
                    tbody { @for r in &t.rows { tr { @for v in r { td { (v) } } } } }
                } }
            } @else if summary.is_empty() {
                p class="muted" { (ctx.t(T::NoData)) }
            }
            @if !summary.is_empty() {
                details {
                    summary { (ctx.t(T::Totals)) }
                    div class="scroll" { table {
                        tbody { @for (k, v) in &summary { tr { th scope="row" { (k) } td { (v) } } } }
                    } }
                }
            }
        }
    }
}

fn run_form(ctx: &Ctx, q: &RunQuery, chosen: Option<Report>) -> Markup {
    let g = q.granularity.as_deref().unwrap_or("");
    let c = q.compare.as_deref().unwrap_or("");
    html! {
        form class="filters card" method="get" action="/console/reports" aria-label=(ctx.t(T::RunReport)) {
            label for="report" { (ctx.t(T::Report))
                select id="report" name="report" {
                    @for r in Report::ALL {
                        option value=(r.as_str()) selected[chosen == Some(r)] { (ctx.t(report_label(r))) }
                    }
                }
            }
            (layout::date_field(ctx, "from", "from", T::From, q.from.as_deref().unwrap_or("")))
            (layout::date_field(ctx, "to", "to", T::To, q.to.as_deref().unwrap_or("")))
            label for="granularity" { (ctx.t(T::Granularity))
                select id="granularity" name="granularity" {
                    option value="" { "—" }
                    @for (v, t) in [("day", T::Day), ("week", T::Week), ("month", T::MonthN)] {
                        option value=(v) selected[g == v] { (ctx.t(t)) }
                    }
                }
            }
            label for="compare" { (ctx.t(T::Compare))
                select id="compare" name="compare" {
                    option value="" { "—" }
                    @for (v, t) in [("previous_period", T::PreviousPeriod), ("previous_year", T::PreviousYear)] {
                        option value=(v) selected[c == v] { (ctx.t(t)) }
                    }
                }
            }
            label for="timezone" { (ctx.t(T::TimeZone)) input id="timezone" name="timezone" type="text" placeholder=(ctx.tz_name) value=(q.timezone.as_deref().unwrap_or("")); }
            button type="submit" { (ctx.t(T::RunReport)) }
        }
    }
}

/// The fields of a schedule's form (create and edit).
fn schedule_fields(ctx: &Ctx, prefix: &str, s: Option<&ScheduleView>) -> Markup {
    let report = s.map(|v| v.schedule.report);
    let first = s.and_then(|v| v.schedule.deliver.first());
    let channel = first.map(|d| d.channel.as_str()).unwrap_or("webhook");
    html! {
        label for={ (prefix) "-report" } { (ctx.t(T::Report))
            select id={ (prefix) "-report" } name="report" {
                @for r in Report::ALL.map(ScheduleReport::Analytics).into_iter().chain([ScheduleReport::Digest]) {
                    option value=(r.as_str()) selected[report == Some(r)] { (ctx.t(schedule_label(r))) }
                }
            }
        }
        label for={ (prefix) "-cron" } { (ctx.t(T::Cron))
            input id={ (prefix) "-cron" } name="cron" type="text" required placeholder="0 9 * * 1" value=(s.map(|v| v.schedule.cron.as_str()).unwrap_or(""));
        }
        label for={ (prefix) "-timezone" } { (ctx.t(T::TimeZone))
            input id={ (prefix) "-timezone" } name="timezone" type="text" value=(s.map(|v| v.schedule.timezone.as_str()).unwrap_or("Asia/Tokyo"));
        }
        label for={ (prefix) "-channel" } { (ctx.t(T::Channel))
            select id={ (prefix) "-channel" } name="channel" {
                @for c in ["webhook", "slack", "email"] {
                    option value=(c) selected[channel == c] { (c) }
                }
            }
        }
        label for={ (prefix) "-target" } { (ctx.t(T::Target))
            input id={ (prefix) "-target" } name="target" type="text" required value=(first.map(|d| d.target.as_str()).unwrap_or(""));
        }
    }
}

fn schedules_section(ctx: &Ctx, m: &Member, list: &[ScheduleView], secret: Option<&str>) -> Markup {
    let tz = ctx.tz.clone();
    let may_write = m.principal.has(Permission::DataWrite);
    html! {
        section aria-labelledby="schedules" {
            h2 id="schedules" { (ctx.t(T::Schedules)) }
            @if let Some(s) = secret {
                div class="notice" role="status" {
                    p { (ctx.t(T::ScheduleCreated)) }
                    p { strong { (ctx.t(T::WebhookSecret)) ": " } span id="new-secret" class="secret" { (s) } }
                }
            }
            @if list.is_empty() {
                p class="muted" { (ctx.t(T::NoSchedules)) }
            } @else {
                div class="scroll" { table {
                    thead { tr {
                        th scope="col" { (ctx.t(T::Report)) }
                        th scope="col" { (ctx.t(T::Cron)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Target)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::NextRun)) }
                        th scope="col" { (ctx.t(T::Status)) }
                        th scope="col" { (ctx.t(T::Actions)) }
                    } }
                    tbody {
                        @for v in list {
                            @let s = &v.schedule;
                            @let id = s.id.to_string();
                            tr data-schedule=(id) {
                                td { (ctx.t(schedule_label(s.report))) }
                                td { code { (s.cron) } " " span class="muted" { (s.timezone) } }
                                td class="hide-narrow" {
                                    @for d in &s.deliver { (d.channel.as_str()) ": " (conea_schedules::model::shown_target(d.channel, &d.target)) br; }
                                }
                                td class="hide-narrow" { (s.next_slot_at.map(|t| i18n::instant(ctx.lang, &tz, t)).unwrap_or_else(|| "—".into())) }
                                td class="schedule-state" { @if s.enabled { (ctx.t(T::Enabled)) } @else { (ctx.t(T::Disabled)) } }
                                td {
                                    @if may_write {
                                        a href={ "/console/schedules/" (id) } aria-label={ (ctx.t(T::Edit)) " " (id) } { (ctx.t(T::Edit)) }
                                        " "
                                        form class="inline-form" method="post" action={ "/console/schedules/" (id) "/enabled" } {
                                            (layout::csrf(m))
                                            input type="hidden" name="enabled" value=(if s.enabled { "false" } else { "true" });
                                            button type="submit" class="secondary" { @if s.enabled { (ctx.t(T::Disable)) } @else { (ctx.t(T::Enable)) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            @if may_write {
                h2 id="new-schedule" { (ctx.t(T::NewSchedule)) }
                form class="filters" method="post" action="/console/schedules" aria-labelledby="new-schedule" {
                    (layout::csrf(m))
                    (schedule_fields(ctx, "new", None))
                    button type="submit" { (ctx.t(T::Create)) }
                }
            }
        }
    }
}

async fn page(
    state: &AppState,
    ctx: &Ctx,
    m: &Member,
    q: &RunQuery,
    top: Markup,
    secret: Option<&str>,
) -> Result<Response, Failure> {
    let p = &m.principal;
    let chosen = q.report.as_deref().and_then(Report::parse);
    let result = match chosen {
        Some(r) => {
            let raw = RawParams {
                from: nonempty(&q.from),
                to: nonempty(&q.to),
                granularity: nonempty(&q.granularity),
                compare: nonempty(&q.compare),
                // The member's time zone unless the form names another.
                timezone: nonempty(&q.timezone).or_else(|| Some(ctx.tz_name.clone())),
                ..RawParams::default()
            };
            match state.platform().analytics.report(p, r.as_str(), &raw).await {
                Ok(v) => result_section(ctx, r, &v),
                Err(e @ (CoreError::InvalidInput { .. } | CoreError::Unprocessable { .. })) => {
                    html! { p class="notice error" role="alert" { (i18n::error_message(ctx.lang, &e)) } }
                }
                Err(e) => return Err(ctx.fail(e)),
            }
        }
        None => html! {},
    };
    let schedules = state
        .platform()
        .schedules
        .list(p, None, 100)
        .await
        .or_fail(ctx)?;
    let body = html! {
        (top)
        (run_form(ctx, q, chosen))
        (result)
        (schedules_section(ctx, m, &schedules, secret))
    };
    Ok(html(
        StatusCode::OK,
        layout::page(ctx, m, ctx.t(T::NavReports), body),
    ))
}

fn done_notice(ctx: &Ctx, done: Option<&str>) -> Markup {
    let n = match done {
        Some("updated") => Some(T::ScheduleUpdated),
        _ => None,
    };
    html! { @if let Some(n) = n { p class="notice" role="status" { (ctx.t(n)) } } }
}

pub async fn show(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(mut q): Query<RunQuery>,
) -> Result<Response, Failure> {
    // The period as typed in the page's language, as the service reads it.
    for d in [&mut q.from, &mut q.to].into_iter().flatten() {
        *d = i18n::day_from_field(ctx.lang, d);
    }
    let top = done_notice(&ctx, q.done.as_deref());
    page(&state, &ctx, &m, &q, top, None).await
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    pub report: String,
    pub cron: String,
    pub timezone: String,
    pub channel: String,
    pub target: String,
}

impl ScheduleForm {
    fn draft(self) -> ScheduleDraft {
        ScheduleDraft {
            report: Some(self.report),
            params: None,
            cron: Some(self.cron),
            timezone: Some(self.timezone).filter(|t| !t.trim().is_empty()),
            deliver: Some(vec![DestinationDraft {
                channel: self.channel,
                target: self.target,
            }]),
            enabled: None,
            language: None,
        }
    }
}

/// A refused definition is shown above the form (400/422 with the field's message).
fn refused(ctx: &Ctx, e: &CoreError) -> Option<Markup> {
    matches!(
        e,
        CoreError::InvalidInput { .. } | CoreError::Unprocessable { .. }
    )
    .then(|| html! { p class="notice error" role="alert" { (i18n::error_message(ctx.lang, e)) } })
}

/// `POST /console/schedules` [data:write]: the new schedule's webhook signing secret is on
/// this answer only.
pub async fn create(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Form(f): Form<ScheduleForm>,
) -> Result<Response, Failure> {
    let q = RunQuery::default();
    match state
        .platform()
        .schedules
        .create(&m.principal, &f.draft())
        .await
    {
        Ok(created) => {
            page(
                &state,
                &ctx,
                &m,
                &q,
                html! {},
                Some(&created.webhook_secret),
            )
            .await
        }
        Err(e) => match refused(&ctx, &e) {
            Some(top) => {
                let mut r = page(&state, &ctx, &m, &q, top, None).await?;
                *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                Ok(r)
            }
            None => Err(ctx.fail(e)),
        },
    }
}

fn edit_page(ctx: &Ctx, m: &Member, v: &ScheduleView, top: Markup) -> Markup {
    let id = v.schedule.id.to_string();
    let body = html! {
        (top)
        p { a href="/console/reports" { "← " (ctx.t(T::NavReports)) } }
        form class="stack card" method="post" action={ "/console/schedules/" (id) } aria-label=(ctx.t(T::EditSchedule)) {
            (layout::csrf(m))
            (schedule_fields(ctx, "edit", Some(v)))
            button type="submit" { (ctx.t(T::Save)) }
        }
        @if !v.next_runs.is_empty() {
            h2 { (ctx.t(T::NextRun)) }
            ul { @for r in &v.next_runs { li { (r) } } }
        }
    };
    layout::page(ctx, m, ctx.t(T::EditSchedule), body)
}

/// `GET /console/schedules/{id}` [data:write]: the edit form.
pub async fn edit(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    m.principal.require(Permission::DataWrite).or_fail(&ctx)?;
    let v = state
        .platform()
        .schedules
        .get(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    Ok(html(StatusCode::OK, edit_page(&ctx, &m, &v, html! {})))
}

/// `POST /console/schedules/{id}` [data:write]: replaces report, timing and destination.
pub async fn update(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
    Form(f): Form<ScheduleForm>,
) -> Result<Response, Failure> {
    let schedules = &state.platform().schedules;
    match schedules.patch(&m.principal, &id, &f.draft()).await {
        Ok(_) => Ok(see_other("/console/reports?done=updated")),
        Err(e) => match refused(&ctx, &e) {
            Some(top) => {
                let v = schedules.get(&m.principal, &id).await.or_fail(&ctx)?;
                Ok(html(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    edit_page(&ctx, &m, &v, top),
                ))
            }
            None => Err(ctx.fail(e)),
        },
    }
}

#[derive(Deserialize)]
pub struct EnabledForm {
    pub enabled: String,
}

/// `POST /console/schedules/{id}/enabled` [data:write]: enables or disables.
pub async fn set_enabled(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
    Form(f): Form<EnabledForm>,
) -> Result<Response, Failure> {
    let patch = ScheduleDraft {
        enabled: Some(f.enabled == "true"),
        ..ScheduleDraft::default()
    };
    state
        .platform()
        .schedules
        .patch(&m.principal, &id, &patch)
        .await
        .or_fail(&ctx)?;
    Ok(see_other("/console/reports?done=updated").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_product_chart_is_labelled_with_product_names_cut_short_not_shop_ids() {
        let products = json!({"report": "product_performance", "currencies": [{
            "currency": "JPY", "products": 2, "truncated": false, "totals": {"revenue": "30"},
            "items": [
                {"shop_id": "shop_01HZX", "product_id": "101", "title": "Matcha bowl",
                 "revenue": "20", "units": 2},
                {"shop_id": "shop_01HZX", "product_id": "102",
                 "title": "Hand-thrown stoneware teapot, large", "revenue": "10", "units": 1}]}]});
        let t = table(&products).expect("a table");
        let (points, _, _) = chart_of(Lang::En, &t).expect("a chart");
        let labels: Vec<&str> = points.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["Matcha bowl", "Hand-thrown…"]);
        assert_eq!(
            chart_label(Lang::Ja, "抹茶碗と茶筅と茶杓の三点セット（限定）"),
            "抹茶碗と茶筅と茶杓の三点セ…"
        );
        assert!(points
            .iter()
            .all(|p| p.label.chars().count() <= LABEL_CHARS));
    }

    #[test]
    fn a_report_table_comes_from_the_rows_inside_a_currency_not_from_a_rows_own_lists() {
        let products = json!({"report": "product_performance", "currencies": [{
            "currency": "JPY", "products": 1, "truncated": false, "totals": {"revenue": "10"},
            "items": [{"title": "Bowl", "revenue": "10", "units": 2,
                       "variants": [{"title": "Default", "revenue": "10"}]}]}]});
        let t = table(&products).expect("a table");
        assert_eq!(t.currency.as_deref(), Some("JPY"));
        assert_eq!(t.rows, vec![vec!["Bowl", "10", "2"]]);
        let sales = json!({"report": "sales_over_time", "orders": 3, "currencies": [{
            "currency": "JPY", "buckets": [
                {"start": "2026-12-01", "figures": {"net_sales": "5", "orders": 1}},
                {"start": "2026-12-02", "figures": {"net_sales": "7", "orders": 2}}]}]});
        let t = table(&sales).expect("a table");
        assert_eq!(t.columns, ["start", "figures.net_sales", "figures.orders"]);
        let (points, bar, line) = chart_of(Lang::Ja, &t).expect("a chart");
        assert_eq!((bar, line), (1, Some(2)));
        assert_eq!(points[1].label, "2026年12月2日");
        assert_eq!(points[1].bar, 7.0);
        assert_eq!(points[1].line, 2.0);
    }
}
