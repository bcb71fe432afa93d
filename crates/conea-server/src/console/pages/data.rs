//! `GET /console/data/{orders|products|customers}`: the read API's lists as tables with
//! filters and keyset pages, `GET /console/data/{kind}/{id}` one record, and
//! `GET /console/export/{kind}` the same filters as CSV ([data:read]; `DataService`'s reads).

use crate::console::ctx::{html, Ctx, Failure, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use conea_core::CoreError;
use conea_shopdata::reads::{ListParams, ReadFormat};
use futures::StreamExt;
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Orders,
    Products,
    Customers,
}

impl Kind {
    fn parse(text: &str) -> Option<Kind> {
        match text {
            "orders" => Some(Kind::Orders),
            "products" => Some(Kind::Products),
            "customers" => Some(Kind::Customers),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Orders => "orders",
            Kind::Products => "products",
            Kind::Customers => "customers",
        }
    }

    fn label(self) -> T {
        match self {
            Kind::Orders => T::Orders,
            Kind::Products => T::Products,
            Kind::Customers => T::Customers,
        }
    }
}

fn kind_of(ctx: &Ctx, text: &str) -> Result<Kind, Failure> {
    Kind::parse(text).ok_or_else(|| ctx.fail(CoreError::not_found("page", text)))
}

/// The first millisecond of a `YYYY-MM-DD` day (or of the day after it, `next`) in `tz`.
fn local_midnight(day: &str, next: bool, tz: &jiff::tz::TimeZone) -> Option<i64> {
    let date: jiff::civil::Date = day.parse().ok()?;
    let date = if next { date.tomorrow().ok()? } else { date };
    conea_shopdata::analytics::calendar::start_of(tz, date).ok()
}

/// The filters the console's form offers (empty fields are no filter).
#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    pub q: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub financial_status: Option<String>,
    pub status: Option<String>,
    pub segment: Option<String>,
    pub cursor: Option<String>,
}

fn keep(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

impl Filters {
    /// The days as typed in the page's language, as `YYYY-MM-DD` (the service's form).
    fn in_days(mut self, lang: i18n::Lang) -> Self {
        for d in [&mut self.created_from, &mut self.created_to]
            .into_iter()
            .flatten()
        {
            *d = i18n::day_from_field(lang, d);
        }
        self
    }

    /// The list's parameters; the days are the member's (midnight to midnight in their time
    /// zone), given to the service as instants (epoch milliseconds). A day that is not one
    /// goes as typed, for the service to refuse by name.
    fn params(&self, kind: Kind, with_cursor: bool, tz: &jiff::tz::TimeZone) -> ListParams {
        let day_start = |v: &Option<String>, next: bool| {
            keep(v).map(|text| {
                local_midnight(&text, next, tz)
                    .map(|ms| ms.to_string())
                    .unwrap_or(text)
            })
        };
        ListParams {
            limit: with_cursor.then(|| "25".to_owned()),
            cursor: if with_cursor {
                keep(&self.cursor)
            } else {
                None
            },
            q: keep(&self.q),
            created_from: day_start(&self.created_from, false),
            created_to: day_start(&self.created_to, true),
            financial_status: (kind == Kind::Orders)
                .then(|| keep(&self.financial_status))
                .flatten(),
            status: (kind == Kind::Products)
                .then(|| keep(&self.status))
                .flatten(),
            segment: (kind == Kind::Customers)
                .then(|| keep(&self.segment))
                .flatten(),
            ..ListParams::default()
        }
    }

    /// The filters as a query string (without the cursor).
    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("created_from", &self.created_from),
            ("created_to", &self.created_to),
            ("financial_status", &self.financial_status),
            ("status", &self.status),
            ("segment", &self.segment),
        ] {
            if let Some(v) = keep(v) {
                q.append_pair(k, &v);
            }
        }
        q.finish()
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn tabs(ctx: &Ctx, current: Kind) -> Markup {
    html! {
        p {
            @for k in [Kind::Orders, Kind::Products, Kind::Customers] {
                @if k == current {
                    strong aria-current="page" { (ctx.t(k.label())) }
                } @else {
                    a href={ "/console/data/" (k.as_str()) } { (ctx.t(k.label())) }
                }
                " "
            }
            @if ctx.member.as_ref().is_some_and(|m| m.principal.has(conea_core::permissions::Permission::DataWrite)) {
                " · " a href=(crate::console::ctx::UPLOAD_PATH) { (ctx.t(T::ImportData)) }
            }
        }
    }
}

fn filter_form(ctx: &Ctx, kind: Kind, f: &Filters) -> Markup {
    html! {
        form class="filters card" method="get" action={ "/console/data/" (kind.as_str()) } aria-label=(ctx.t(T::Filter)) {
            label for="q" { (ctx.t(T::Search)) input id="q" name="q" type="search" value=(opt(&f.q)); }
            (layout::date_field(ctx, "created_from", "created_from", T::CreatedFrom, opt(&f.created_from)))
            (layout::date_field(ctx, "created_to", "created_to", T::CreatedTo, opt(&f.created_to)))
            @match kind {
                Kind::Orders => {
                    label for="financial_status" { (ctx.t(T::FinancialStatus))
                        select id="financial_status" name="financial_status" {
                            option value="" { "—" }
                            @for (s, label) in i18n::FINANCIAL_STATUSES {
                                option value=(s) selected[opt(&f.financial_status) == s] { (ctx.t(label)) }
                            }
                        }
                    }
                }
                Kind::Products => {
                    label for="status" { (ctx.t(T::Status))
                        select id="status" name="status" {
                            option value="" { "—" }
                            @for s in ["active", "draft", "archived"] {
                                option value=(s) selected[opt(&f.status) == s] { (s) }
                            }
                        }
                    }
                }
                Kind::Customers => {
                    label for="segment" { (ctx.t(T::Segment))
                        select id="segment" name="segment" {
                            option value="" { "—" }
                            @for s in conea_shopdata::segments::SEGMENTS {
                                option value=(s) selected[opt(&f.segment) == s] { (i18n::segment(ctx.lang, s)) }
                            }
                        }
                    }
                }
            }
            button type="submit" { (ctx.t(T::Filter)) }
            a href={ "/console/export/" (kind.as_str()) "?" (f.query()) } download { (ctx.t(T::ExportCsv)) }
        }
    }
}

fn pager(ctx: &Ctx, kind: Kind, f: &Filters, next: Option<&str>) -> Markup {
    let base = format!("/console/data/{}?{}", kind.as_str(), f.query());
    html! {
        p {
            @if keep(&f.cursor).is_some() { a href=(base) { (ctx.t(T::FirstPage)) } " " }
            @if let Some(n) = next {
                @let c: String = url::form_urlencoded::byte_serialize(n.as_bytes()).collect();
                a href={ (base) "&cursor=" (c) } rel="next" { (ctx.t(T::NextPage)) }
            }
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(kind): Path<String>,
    Query(f): Query<Filters>,
) -> Result<Response, Failure> {
    let f = f.in_days(ctx.lang);
    let kind = kind_of(&ctx, &kind)?;
    let p = &m.principal;
    let data = &state.platform().data;
    let params = f.params(kind, true, &ctx.tz);
    let tz = ctx.tz.clone();
    let when = |t: &Option<String>| {
        t.as_deref()
            .map(|t| i18n::instant_text(ctx.lang, &tz, t))
            .unwrap_or_default()
    };
    let (table, next) = match kind {
        Kind::Orders => {
            let q = params.orders().map_err(|e| ctx.fail(e.into()))?;
            let page = data.list_orders(p, &q).await.or_fail(&ctx)?;
            let t = html! {
                table {
                    thead { tr {
                        th scope="col" { (ctx.t(T::Name)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Email)) }
                        th scope="col" class="num" { (ctx.t(T::Total)) }
                        th scope="col" { (ctx.t(T::FinancialStatus)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Created)) }
                    } }
                    tbody {
                        @for o in &page.data {
                            tr {
                                td { a href={ "/console/data/orders/" (o.id) "?shop_id=" (o.shop_id) } { (o.name.clone().unwrap_or_else(|| o.id.to_string())) } }
                                td class="hide-narrow" { (opt(&o.email)) }
                                td class="num" { (i18n::money(&o.total_price, &o.currency)) }
                                td data-state=(opt(&o.financial_status)) { (i18n::financial_status(ctx.lang, opt(&o.financial_status))) }
                                td class="hide-narrow" { (i18n::instant_text(ctx.lang, &tz, &o.created_at)) }
                            }
                        }
                    }
                }
            };
            (t, page.next_cursor)
        }
        Kind::Products => {
            let q = params.products().map_err(|e| ctx.fail(e.into()))?;
            let page = data.list_products(p, &q).await.or_fail(&ctx)?;
            let t = html! {
                table {
                    thead { tr {
                        th scope="col" { (ctx.t(T::Product)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Vendor)) }
                        th scope="col" { (ctx.t(T::Status)) }
                        th scope="col" class="num" { (ctx.t(T::Stock)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Updated)) }
                    } }
                    tbody {
                        @for x in &page.data {
                            tr {
                                td { a href={ "/console/data/products/" (x.id) "?shop_id=" (x.shop_id) } { (x.title) } }
                                td class="hide-narrow" { (opt(&x.vendor)) }
                                td { (opt(&x.status)) }
                                td class="num" { @if let Some(n) = x.inventory_quantity { (i18n::int(n)) } }
                                td class="hide-narrow" { (i18n::instant_text(ctx.lang, &tz, &x.updated_at)) }
                            }
                        }
                    }
                }
            };
            (t, page.next_cursor)
        }
        Kind::Customers => {
            let q = params.customers().map_err(|e| ctx.fail(e.into()))?;
            let page = data.list_customers(p, &q).await.or_fail(&ctx)?;
            let t = html! {
                table {
                    thead { tr {
                        th scope="col" { (ctx.t(T::Name)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Email)) }
                        th scope="col" class="num" { (ctx.t(T::Orders)) }
                        th scope="col" class="num" { (ctx.t(T::Total)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Created)) }
                    } }
                    tbody {
                        @for c in &page.data {
                            tr {
                                td { a href={ "/console/data/customers/" (c.id) "?shop_id=" (c.shop_id) } {
                                    (format!("{} {}", opt(&c.first_name), opt(&c.last_name)).trim().to_owned())
                                    @if c.first_name.is_none() && c.last_name.is_none() { (c.id) }
                                } }
                                td class="hide-narrow" { (opt(&c.email)) }
                                td class="num" { (i18n::int(c.order_count)) }
                                td class="num" {
                                    @for a in &c.total_spent { (i18n::money(&a.amount, &a.currency)) " " }
                                }
                                td class="hide-narrow" { (when(&c.created_at)) }
                            }
                        }
                    }
                }
            };
            (t, page.next_cursor)
        }
    };
    let body = html! {
        (tabs(&ctx, kind))
        (filter_form(&ctx, kind, &f))
        section { div class="scroll" { (table) } }
        (pager(&ctx, kind, &f, next.as_deref()))
    };
    Ok(html(
        StatusCode::OK,
        layout::page(
            &ctx,
            &m,
            &format!("{} · {}", ctx.t(T::NavData), ctx.t(kind.label())),
            body,
        ),
    ))
}

#[derive(Deserialize)]
pub struct ShopQuery {
    pub shop_id: Option<String>,
}

fn row(label: &str, value: Markup) -> Markup {
    html! { tr { th scope="row" { (label) } td { (value) } } }
}

pub async fn detail(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path((kind, id)): Path<(String, String)>,
    Query(s): Query<ShopQuery>,
) -> Result<Response, Failure> {
    let kind = kind_of(&ctx, &kind)?;
    let p = &m.principal;
    let data = &state.platform().data;
    let shop = s.shop_id.as_deref().filter(|s| !s.is_empty());
    let tz = ctx.tz.clone();
    let (title, body) = match kind {
        Kind::Orders => {
            let d = data.get_order(p, &id, shop).await.or_fail(&ctx)?;
            let o = &d.order;
            let body = html! {
                section { table {
                    (row(ctx.t(T::Name), html! { (opt(&o.name)) }))
                    (row(ctx.t(T::Email), html! { (opt(&o.email)) }))
                    (row(ctx.t(T::Total), html! { (i18n::money(&o.total_price, &o.currency)) }))
                    (row(ctx.t(T::FinancialStatus), html! { (i18n::financial_status(ctx.lang, opt(&o.financial_status))) }))
                    (row(ctx.t(T::Created), html! { (i18n::instant_text(ctx.lang, &tz, &o.created_at)) }))
                } }
                section {
                    h2 { (ctx.t(T::LineItems)) }
                    div class="scroll" { table {
                        thead { tr {
                            th scope="col" { (ctx.t(T::Product)) }
                            th scope="col" class="num" { (ctx.t(T::Quantity)) }
                            th scope="col" class="num" { (ctx.t(T::Price)) }
                            th scope="col" class="num" { (ctx.t(T::Total)) }
                        } }
                        tbody { @for li in &d.line_items { tr {
                            td { (li.title) }
                            td class="num" { (i18n::int(li.quantity)) }
                            td class="num" { (i18n::money(&li.price, &o.currency)) }
                            td class="num" { (i18n::money(&li.total, &o.currency)) }
                        } } }
                    } }
                }
            };
            (o.name.clone().unwrap_or_else(|| id.clone()), body)
        }
        Kind::Products => {
            let x = data.get_product(p, &id, shop).await.or_fail(&ctx)?;
            let body = html! {
                section { table {
                    (row(ctx.t(T::Vendor), html! { (opt(&x.vendor)) }))
                    (row(ctx.t(T::Status), html! { (opt(&x.status)) }))
                    (row(ctx.t(T::Stock), html! { @if let Some(n) = x.inventory_quantity { (i18n::int(n)) } }))
                    (row(ctx.t(T::Updated), html! { (i18n::instant_text(ctx.lang, &tz, &x.updated_at)) }))
                } }
                section {
                    h2 { (ctx.t(T::Variants)) }
                    div class="scroll" { table {
                        thead { tr {
                            th scope="col" { (ctx.t(T::Name)) }
                            th scope="col" { "SKU" }
                            th scope="col" class="num" { (ctx.t(T::Price)) }
                            th scope="col" class="num" { (ctx.t(T::Stock)) }
                        } }
                        tbody { @for v in &x.variants { tr {
                            td { (opt(&v.title)) }
                            td { (opt(&v.sku)) }
                            td class="num" { (opt(&v.price)) }
                            td class="num" { @if let Some(n) = v.inventory_quantity { (i18n::int(n)) } }
                        } } }
                    } }
                }
            };
            (x.title.clone(), body)
        }
        Kind::Customers => {
            let c = data.get_customer(p, &id, shop).await.or_fail(&ctx)?;
            let name = format!("{} {}", opt(&c.first_name), opt(&c.last_name))
                .trim()
                .to_owned();
            let body = html! {
                section { table {
                    (row(ctx.t(T::Email), html! { (opt(&c.email)) }))
                    (row(ctx.t(T::Orders), html! { (i18n::int(c.order_count)) }))
                    (row(ctx.t(T::Total), html! { @for a in &c.total_spent { (i18n::money(&a.amount, &a.currency)) " " } }))
                    (row(ctx.t(T::Created), html! { @if let Some(t) = &c.created_at { (i18n::instant_text(ctx.lang, &tz, t)) } }))
                } }
                p { a href={ "/console/data/orders?q=" (url::form_urlencoded::byte_serialize(opt(&c.email).as_bytes()).collect::<String>()) } { (ctx.t(T::Orders)) } }
            };
            (if name.is_empty() { id.clone() } else { name }, body)
        }
    };
    let body = html! {
        p { a href={ "/console/data/" (kind.as_str()) } { (ctx.t(T::Back)) } }
        (body)
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&ctx, &m, &format!("{} · {title}", ctx.t(T::Details)), body),
    ))
}

/// `GET /console/export/{kind}`: every row matching the filters, streamed as CSV.
pub async fn export(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(kind): Path<String>,
    Query(f): Query<Filters>,
) -> Result<Response, Failure> {
    let f = f.in_days(ctx.lang);
    let kind = kind_of(&ctx, &kind)?;
    let p = &m.principal;
    let data = &state.platform().data;
    let params = f.params(kind, false, &ctx.tz);
    let fmt = ReadFormat::Csv;
    let rows = match kind {
        Kind::Orders => {
            let q = params.orders().map_err(|e| ctx.fail(e.into()))?;
            data.export_orders(p, &q, fmt).await
        }
        Kind::Products => {
            let q = params.products().map_err(|e| ctx.fail(e.into()))?;
            data.export_products(p, &q, fmt).await
        }
        Kind::Customers => {
            let q = params.customers().map_err(|e| ctx.fail(e.into()))?;
            data.export_customers(p, &q, fmt).await
        }
    }
    .or_fail(&ctx)?;
    let span = tracing::Span::current();
    let body = Body::from_stream(rows.map(move |chunk| {
        chunk.map(Bytes::from).inspect_err(|e| {
            span.in_scope(|| tracing::error!(error = %e, "console export stopped before its end"));
        })
    }));
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(fmt.content_type()));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}.csv\"", kind.as_str()))
    {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
