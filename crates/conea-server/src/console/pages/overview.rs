//! `GET /console`: the key figures of a period (default the last 30 days) against the
//! previous one, daily sales and orders as a chart, top products, segments and cohorts —
//! the typed analytics reports ([data:read]).

use crate::console::chart::{self, Point};
use crate::console::ctx::{html, Failure, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout::{self, figure};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use conea_shopdata::analytics::sales::{Change, SalesSeries};
use conea_shopdata::analytics::RawParams;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
pub struct PeriodQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn pct(change: &Option<BTreeMap<&'static str, Change>>, key: &str) -> Option<f64> {
    change.as_ref()?.get(key)?.percent
}

/// `YYYY-MM-DD` of an RFC 3339 instant; `exclusive` moves back one millisecond (a range's
/// end).
fn day_of(tz: &jiff::tz::TimeZone, rfc3339: &str, exclusive: bool) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => {
            let t = if exclusive {
                jiff::Timestamp::from_millisecond(t.as_millisecond() - 1).unwrap_or(t)
            } else {
                t
            };
            tz.to_datetime(t).date().to_string()
        }
        Err(_) => rfc3339.get(..10).unwrap_or("").to_owned(),
    }
}

/// `today` (the member's, `YYYY-MM-DD`) is not over: its point is drawn as partial.
fn series_section(ctx: &crate::console::ctx::Ctx, s: &SalesSeries, today: &str) -> Markup {
    let c = &s.currency;
    let t = &s.totals;
    let points: Vec<Point> = s
        .buckets
        .iter()
        .map(|b| {
            let partial = b.start.as_str() >= today;
            let day = i18n::day_text(ctx.lang, &b.start);
            Point {
                label: if partial {
                    format!("{day} ({})", ctx.t(T::SoFar))
                } else {
                    day
                },
                bar: b.figures.net_sales.parse().unwrap_or(0.0),
                line: b.figures.orders as f64,
                partial,
            }
        })
        .collect();
    html! {
        section aria-labelledby={ "sales-" (c) } {
            h2 id={ "sales-" (c) } { (ctx.t(T::Currency)) ": " (c) " " span class="muted" { "(" (ctx.t(T::ComparedWith)) ")" } }
            div class="figures" {
                (figure(ctx.t(T::NetSales), &i18n::money(&t.net_sales, c), pct(&s.change, "net_sales")))
                (figure(ctx.t(T::GrossSales), &i18n::money(&t.gross_sales, c), pct(&s.change, "gross_sales")))
                (figure(ctx.t(T::Orders), &i18n::int(t.orders), pct(&s.change, "orders")))
                (figure(ctx.t(T::AverageOrder), &i18n::money(&t.average_order_value, c), pct(&s.change, "average_order_value")))
                (figure(ctx.t(T::Units), &i18n::int(t.units), pct(&s.change, "units")))
                (figure(ctx.t(T::Refunds), &i18n::money(&t.refunds, c), pct(&s.change, "refunds")))
            }
            h2 { (ctx.t(T::SalesAndOrders)) }
            p class="muted" { (ctx.t(T::ChartLabel)) }
            (layout::svg(chart::bars_and_line(ctx.t(T::SalesAndOrders), &points)))
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, Failure> {
    let p = &m.principal;
    let analytics = &state.platform().analytics;
    let base = RawParams {
        from: nonempty(q.from).map(|d| i18n::day_from_field(ctx.lang, &d)),
        to: nonempty(q.to).map(|d| i18n::day_from_field(ctx.lang, &d)),
        // The period's days are the member's.
        timezone: Some(ctx.tz_name.clone()),
        ..RawParams::default()
    };
    // The four reports at once, kept warm for a while (CONEA_CONSOLE_OVERVIEW_TTL).
    let overview = analytics.overview(p, &base).await.or_fail(&ctx)?;
    let (sales, top, segments, cohorts) = (
        &overview.sales,
        &overview.top,
        &overview.segments,
        &overview.cohorts,
    );
    let (from, to) = (
        day_of(&ctx.tz, &sales.from, false),
        day_of(&ctx.tz, &sales.to, true),
    );
    let now = jiff::Timestamp::from_millisecond(state.platform().clock.now_ms())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let today = ctx.tz.to_datetime(now).date().to_string();
    let body = html! {
        form class="filters card" method="get" action="/console" aria-label=(ctx.t(T::Period)) {
            (layout::date_field(&ctx, "from", "from", T::From, &from))
            (layout::date_field(&ctx, "to", "to", T::To, &to))
            button type="submit" { (ctx.t(T::Apply)) }
            span class="muted" { (i18n::day_text(ctx.lang, &from)) " – " (i18n::day_text(ctx.lang, &to)) }
        }
        @if sales.currencies.is_empty() {
            p class="notice" { (ctx.t(T::NoData)) }
        }
        @for s in &sales.currencies {
            (series_section(&ctx, s, &today))
        }
        section aria-labelledby="top" {
            h2 id="top" { (ctx.t(T::TopProducts)) }
            @for cur in &top.currencies {
                div class="scroll" {
                    table {
                        thead { tr {
                            th scope="col" { (ctx.t(T::Product)) }
                            th scope="col" class="num" { (ctx.t(T::Revenue)) }
                            th scope="col" class="num" { (ctx.t(T::Units)) }
                            th scope="col" class="num" { (ctx.t(T::Share)) }
                        } }
                        tbody {
                            @for item in &cur.items {
                                tr {
                                    td { (item.title) }
                                    td class="num" { (i18n::money(&item.figures.revenue, &cur.currency)) }
                                    td class="num" { (i18n::int(item.figures.units)) }
                                    td class="num" { @if let Some(s) = item.share_of_revenue { (format!("{s:.1}%")) } }
                                }
                            }
                        }
                    }
                }
            }
            @if top.currencies.is_empty() { p class="muted" { (ctx.t(T::NoData)) } }
        }
        section aria-labelledby="segments" {
            h2 id="segments" { (ctx.t(T::Segments)) }
            @for cur in &segments.currencies {
                div class="scroll" {
                    table {
                        thead { tr {
                            th scope="col" { (ctx.t(T::Segment)) }
                            th scope="col" class="num" { (ctx.t(T::Customers)) }
                            th scope="col" class="num" { (ctx.t(T::Revenue)) }
                        } }
                        tbody {
                            @for seg in &cur.segments {
                                tr {
                                    td { a href={ "/console/data/customers?segment=" (seg.segment) } { (i18n::segment(ctx.lang, seg.segment)) } }
                                    td class="num" { (i18n::int(seg.customers)) }
                                    td class="num" { (i18n::money(&seg.revenue, &cur.currency)) }
                                }
                            }
                        }
                    }
                }
            }
            @if segments.currencies.is_empty() { p class="muted" { (ctx.t(T::NoData)) } }
        }
        section aria-labelledby="cohorts" {
            h2 id="cohorts" { (ctx.t(T::Cohorts)) }
            @for cur in &cohorts.currencies {
                @let width = cur.cohorts.iter().map(|c| c.months.len()).max().unwrap_or(0).min(6);
                div class="scroll" {
                    table {
                        thead { tr {
                            th scope="col" { (ctx.t(T::Cohort)) }
                            th scope="col" class="num" { (ctx.t(T::Customers)) }
                            @for i in 0..width { th scope="col" class="num" { (ctx.t(T::MonthN)) " " (i) } }
                        } }
                        tbody {
                            @for c in &cur.cohorts {
                                tr {
                                    td { (c.cohort) }
                                    td class="num" { (i18n::int(c.customers)) }
                                    @for i in 0..width {
                                        td class="num" {
                                            @if let Some(r) = c.months.get(i).and_then(|m| m.retention) { (format!("{r:.1}%")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if cohorts.currencies.is_empty() { p class="muted" { (ctx.t(T::NoData)) } }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&ctx, &m, ctx.t(T::NavOverview), body),
    ))
}
