//! `GET /v1/analytics/{report}` (sales and customer reports) against a generated data set (fixed seed; three currencies;
//! discounts, refunds and cancellations; orders all over the clock), each figure checked
//! against a plain fold over the same orders computed here, in several time zones and
//! granularities, before and after a re-import that changes, cancels and moves orders. Bad
//! parameters answer 400 naming the parameter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_core::Clock;
use conea_testkit::{backend_tests, Backend, Client, Resp, TestApp};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A small deterministic generator (a 64-bit LCG): the data set is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// One generated order, in the figures the reports use (money in ten-thousandths).
#[derive(Debug, Clone)]
struct Gen {
    id: u64,
    created_ms: i64,
    updated_ms: i64,
    currency: &'static str,
    cancelled: bool,
    /// (quantity, unit price e4)
    lines: Vec<(i64, i64)>,
    discounts_e4: i64,
    refunded_e4: i64,
    tax_e4: i64,
}

impl Gen {
    fn gross(&self) -> i64 {
        self.lines.iter().map(|(q, p)| q * p).sum()
    }

    fn total(&self) -> i64 {
        self.gross() - self.discounts_e4 + self.tax_e4
    }

    fn json(&self) -> Value {
        let money = |e4: i64| format!("{}.{:04}", e4 / 10_000, e4 % 10_000);
        let time = |ms: i64| Timestamp::from_millisecond(ms).unwrap().to_string();
        json!({
            "id": self.id, "name": format!("#{}", self.id), "email": format!("c{}@example.com", self.id % 37),
            "created_at": time(self.created_ms), "updated_at": time(self.updated_ms),
            "cancelled_at": self.cancelled.then(|| time(self.updated_ms)),
            "currency": self.currency,
            "total_price": money(self.total()),
            "subtotal_price": money(self.gross() - self.discounts_e4),
            "total_discounts": money(self.discounts_e4),
            "refunds": if self.refunded_e4 > 0 {
                json!([{"transactions": [
                    {"kind": "refund", "status": "success", "amount": money(self.refunded_e4)},
                    {"kind": "refund", "status": "failure", "amount": "999.00"}
                ]}])
            } else { json!([]) },
            "financial_status": if self.refunded_e4 > 0 { "partially_refunded" } else { "paid" },
            "line_items": self.lines.iter().enumerate().map(|(i, (q, p))| json!({
                "id": self.id * 10 + i as u64, "product_id": product_of(self.id, i),
                "variant_id": variant_of(self.id, i),
                "title": format!("Item {}", i), "quantity": q, "price": money(*p)
            })).collect::<Vec<_>>(),
            "customer": {"id": 1 + self.id % 37}
        })
    }
}

/// The product of an order's `i`th line, and its variant (two per product).
fn product_of(order: u64, i: usize) -> u64 {
    1 + (order + i as u64) % 7
}

fn variant_of(order: u64, i: usize) -> u64 {
    product_of(order, i) * 10 + order % 2
}

const START_MS: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const SPAN_MS: i64 = 182 * 86_400_000; // to 2024-07-01

fn generate(n: u64) -> Vec<Gen> {
    let mut r = Lcg(42);
    (1..=n)
        .map(|id| {
            let currency = ["USD", "JPY", "EUR"][r.next(3) as usize];
            // JPY has no minor unit: whole yen.
            let unit = if currency == "JPY" { 10_000 } else { 100 };
            let lines = (0..1 + r.next(3))
                .map(|_| (1 + r.next(4) as i64, (100 + r.next(9_900) as i64) * unit))
                .collect::<Vec<_>>();
            let gross: i64 = lines.iter().map(|(q, p)| q * p).sum();
            let discounts_e4 = if r.next(4) == 0 {
                gross / 10 / unit * unit
            } else {
                0
            };
            let created_ms = START_MS + (r.next(SPAN_MS as u64 / 60_000) as i64) * 60_000;
            Gen {
                id,
                created_ms,
                updated_ms: created_ms + 3_600_000,
                currency,
                cancelled: r.next(10) == 0,
                refunded_e4: if r.next(6) == 0 {
                    (gross - discounts_e4) / 2 / unit * unit
                } else {
                    0
                },
                tax_e4: gross / 20 / unit * unit,
                discounts_e4,
                lines,
            }
        })
        .collect()
}

/// A re-import: every fifth order changes (a newer version): some are cancelled or revived,
/// refunds and discounts change, and some move to another day.
fn revise(orders: &[Gen]) -> Vec<Gen> {
    let mut r = Lcg(7);
    orders
        .iter()
        .filter(|o| o.id % 5 == 0)
        .map(|o| {
            let mut o = o.clone();
            o.updated_ms += 86_400_000;
            match r.next(4) {
                0 => o.cancelled = !o.cancelled,
                1 => o.refunded_e4 = (o.gross() - o.discounts_e4) / 4 / 100 * 100,
                2 => {
                    o.created_ms =
                        (o.created_ms + 3 * 86_400_000 + 1_800_000).min(START_MS + SPAN_MS - 1)
                }
                _ => {
                    o.lines.push((2, 50_000));
                    o.discounts_e4 = 0;
                }
            }
            o
        })
        .collect()
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Sums {
    orders: i64,
    gross: i64,
    discounts: i64,
    refunds: i64,
    units: i64,
    cancelled: i64,
    cancelled_amount: i64,
}

impl Sums {
    fn add(&mut self, o: &Gen) {
        if o.cancelled {
            self.cancelled += 1;
            self.cancelled_amount += o.total();
        } else {
            self.orders += 1;
            self.gross += o.gross();
            self.discounts += o.discounts_e4;
            self.refunds += o.refunded_e4;
            self.units += o.lines.iter().map(|(q, _)| q).sum::<i64>();
        }
    }
}

fn local_date(tz: &TimeZone, ms: i64) -> Date {
    tz.to_datetime(Timestamp::from_millisecond(ms).unwrap())
        .date()
}

fn bucket_of(date: Date, granularity: &str) -> Date {
    match granularity {
        "day" => date,
        "week" => date
            .checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())
            .unwrap(),
        _ => date.first_of_month(),
    }
}

/// The fold: per currency, per bucket start (`YYYY-MM-DD`), over the orders created in
/// `[from, to)` local days.
fn fold(
    orders: &[Gen],
    tz: &TimeZone,
    granularity: &str,
    from: Date,
    to: Date,
) -> BTreeMap<String, BTreeMap<String, Sums>> {
    let mut out: BTreeMap<String, BTreeMap<String, Sums>> = BTreeMap::new();
    for o in orders {
        let d = local_date(tz, o.created_ms);
        if d < from || d > to {
            continue;
        }
        out.entry(o.currency.to_string())
            .or_default()
            .entry(bucket_of(d, granularity).to_string())
            .or_default()
            .add(o);
    }
    out
}

/// A decimal string as ten-thousandths.
fn e4(text: &str) -> i64 {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let neg = int.starts_with('-');
    let int: i64 = int.trim_start_matches('-').parse().unwrap();
    let frac: i64 = format!("{frac:0<4}")[..4].parse().unwrap();
    let v = int * 10_000 + frac;
    if neg {
        -v
    } else {
        v
    }
}

/// The current version of every order: the first import with the revisions applied.
fn current(first: &[Gen], revised: &[Gen]) -> Vec<Gen> {
    let by_id: BTreeMap<u64, &Gen> = revised.iter().map(|o| (o.id, o)).collect();
    first
        .iter()
        .map(|o| by_id.get(&o.id).map_or_else(|| o.clone(), |r| (*r).clone()))
        .collect()
}

/// Each customer's lifetime figures per currency, from the orders that are not cancelled:
/// (orders, net, first order time, first order id, first order net, last order time).
#[derive(Debug, Clone, Copy, Default)]
struct Lifetime {
    orders: i64,
    net: i64,
    first_at: i64,
    first_id: u64,
    first_net: i64,
    last_at: i64,
}

fn lifetimes(orders: &[Gen]) -> BTreeMap<(String, u64), Lifetime> {
    let mut out: BTreeMap<(String, u64), Lifetime> = BTreeMap::new();
    for o in orders.iter().filter(|o| !o.cancelled) {
        let net = o.gross() - o.discounts_e4 - o.refunded_e4;
        let l = out
            .entry((o.currency.to_string(), 1 + o.id % 37))
            .or_insert(Lifetime {
                first_at: i64::MAX,
                ..Lifetime::default()
            });
        l.orders += 1;
        l.net += net;
        if (o.created_ms, o.id) < (l.first_at, l.first_id) {
            l.first_at = o.created_ms;
            l.first_id = o.id;
            l.first_net = net;
        }
        l.last_at = l.last_at.max(o.created_ms);
    }
    out
}

/// The RFM segment of each (currency, customer) who had ordered before `at`, by a plain
/// fold: quintile scores (one more than five times the share strictly worse) of recency
/// (whole days since the last order) and frequency, named by the segment table.
fn rfm_fold(
    life: &BTreeMap<(String, u64), Lifetime>,
    at: i64,
) -> BTreeMap<(String, u64), &'static str> {
    let mut out = BTreeMap::new();
    let currencies: std::collections::BTreeSet<&String> = life.keys().map(|(c, _)| c).collect();
    for currency in currencies {
        let mine: Vec<(&(String, u64), &Lifetime)> = life
            .iter()
            .filter(|((c, _), l)| c == currency && l.first_at < at)
            .collect();
        let score = |values: Vec<i64>| -> Vec<i64> {
            values
                .iter()
                .map(|v| {
                    (1 + 5 * values.iter().filter(|x| *x < v).count() as i64 / values.len() as i64)
                        .min(5)
                })
                .collect()
        };
        let rs = score(
            mine.iter()
                .map(|(_, l)| -((at - l.last_at) / 86_400_000))
                .collect(),
        );
        let fs = score(mine.iter().map(|(_, l)| l.orders).collect());
        for (i, (key, _)) in mine.iter().enumerate() {
            let name = match (rs[i], fs[i]) {
                (4..=5, 4..=5) => "champions",
                (3..=5, 3..=5) => "loyal",
                (4..=5, 1) => "new",
                (3..=5, _) => "promising",
                (_, 3..=5) => "at_risk",
                _ => "hibernating",
            };
            out.insert((*key).clone(), name);
        }
    }
    out
}

/// `GET /v1/shop/customers?segment=` lists exactly the customers the fold puts in that
/// segment now (in any of their currencies), across pages.
async fn check_segments(app: &TestApp, orders: &[Gen]) {
    let customers: String = (1..=37)
        .map(|id| json!({"id": id, "email": format!("c{id}@example.com")}).to_string() + "\n")
        .collect();
    import_body(app, "customers", customers).await;
    let named = rfm_fold(&lifetimes(orders), app.clock.now_ms());
    for segment in [
        "champions",
        "loyal",
        "new",
        "promising",
        "at_risk",
        "hibernating",
    ] {
        let want: std::collections::BTreeSet<u64> = named
            .iter()
            .filter(|(_, n)| **n == segment)
            .map(|((_, id), _)| *id)
            .collect();
        let mut got = std::collections::BTreeSet::new();
        let mut cursor = String::new();
        loop {
            let r = get(
                app,
                &format!("/v1/shop/customers?segment={segment}&limit=5{cursor}"),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            for c in r.body["data"].as_array().unwrap() {
                assert!(got.insert(c["id"].as_u64().unwrap()), "listed once: {c}");
            }
            match r.body["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(got, want, "{segment}");
    }
    let r = get(app, "/v1/shop/customers?segment=vip").await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "segment", "{}", r.text);
    let r = get(app, "/v1/shop/orders?segment=loyal").await;
    r.assert_error(400, "invalid_parameter");
}

/// Per cohort (`YYYY-MM`), per months since: (customers, net).
type CohortFold = BTreeMap<String, BTreeMap<i64, (i64, i64)>>;

/// `YYYY-MM` (UTC) of an instant, and its month number (year * 12 + month - 1).
fn utc_month(ms: i64) -> (String, i64) {
    let d = local_date(&TimeZone::UTC, ms);
    (
        format!("{:04}-{:02}", d.year(), d.month()),
        i64::from(d.year()) * 12 + i64::from(d.month()) - 1,
    )
}

/// The customer reports against folds over the same orders.
async fn check_customers(app: &TestApp, orders: &[Gen]) {
    let life = lifetimes(orders);
    let (from, to) = (START_MS, START_MS + 120 * 86_400_000); // 2024-01-01 .. 2024-04-30
    let r = get(
        app,
        "/v1/analytics/repeat_purchase?from=2024-01-01&to=2024-04-29",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for s in r.body["currencies"].as_array().unwrap() {
        let currency = s["currency"].as_str().unwrap();
        let acquired: Vec<&Lifetime> = life
            .iter()
            .filter(|((c, _), l)| c == currency && l.first_at >= from && l.first_at < to)
            .map(|(_, l)| l)
            .collect();
        let returning: Vec<&&Lifetime> = acquired.iter().filter(|l| l.orders >= 2).collect();
        assert_eq!(
            s["customers"].as_i64().unwrap(),
            acquired.len() as i64,
            "{currency}"
        );
        assert_eq!(
            s["returning_customers"].as_i64().unwrap(),
            returning.len() as i64
        );
        assert_eq!(
            e4(s["revenue"].as_str().unwrap()),
            acquired.iter().map(|l| l.net).sum::<i64>()
        );
        assert_eq!(
            e4(s["returning_revenue"].as_str().unwrap()),
            acquired.iter().map(|l| l.net - l.first_net).sum::<i64>()
        );
        let mut gaps: Vec<f64> = returning
            .iter()
            .map(|l| (l.last_at - l.first_at) as f64 / 86_400_000.0 / (l.orders - 1) as f64)
            .collect();
        gaps.sort_by(f64::total_cmp);
        let n = gaps.len();
        let median = (n > 0).then(|| {
            if n % 2 == 1 {
                gaps[n / 2]
            } else {
                (gaps[n / 2 - 1] + gaps[n / 2]) / 2.0
            }
        });
        match (s["median_days_between_orders"].as_f64(), median) {
            (Some(got), Some(want)) => assert!((got - want).abs() <= 0.051, "{got} vs {want}"),
            (got, want) => assert_eq!(got, want),
        }
    }

    let r = get(
        app,
        "/v1/analytics/customer_cohorts?from=2024-01-01&to=2024-06-30",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut want: BTreeMap<String, CohortFold> = BTreeMap::new();
    let mut active: BTreeMap<(String, u64, i64), i64> = BTreeMap::new();
    for o in orders.iter().filter(|o| !o.cancelled) {
        *active
            .entry((
                o.currency.to_string(),
                1 + o.id % 37,
                utc_month(o.created_ms).1,
            ))
            .or_default() += o.gross() - o.discounts_e4 - o.refunded_e4;
    }
    for ((currency, customer, month), net) in &active {
        let l = life[&(currency.clone(), *customer)];
        let (label, first) = utc_month(l.first_at);
        let cell = want
            .entry(currency.clone())
            .or_default()
            .entry(label)
            .or_default()
            .entry(month - first)
            .or_default();
        cell.0 += 1;
        cell.1 += net;
    }
    for s in r.body["currencies"].as_array().unwrap() {
        let currency = s["currency"].as_str().unwrap();
        let w = &want[currency];
        let cohorts = s["cohorts"].as_array().unwrap();
        assert_eq!(
            cohorts.len(),
            w.len(),
            "{currency}: one row per first-order month"
        );
        for c in cohorts {
            let months = &w[c["cohort"].as_str().unwrap()];
            assert_eq!(c["customers"].as_i64().unwrap(), months[&0].0);
            for m in c["months"].as_array().unwrap() {
                let got = (
                    m["customers"].as_i64().unwrap(),
                    e4(m["revenue"].as_str().unwrap()),
                );
                let exp = months
                    .get(&m["month"].as_i64().unwrap())
                    .copied()
                    .unwrap_or_default();
                assert_eq!(got, exp, "{currency} {} month {}", c["cohort"], m["month"]);
            }
        }
    }

    let r = get(app, "/v1/analytics/rfm_segments?to=2024-06-30").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let at = START_MS + 182 * 86_400_000;
    let named = rfm_fold(&life, at);
    for s in r.body["currencies"].as_array().unwrap() {
        let currency = s["currency"].as_str().unwrap();
        let mine: Vec<(&Lifetime, &str)> = named
            .iter()
            .filter(|((c, _), _)| c == currency)
            .map(|(k, name)| (&life[k], *name))
            .collect();
        let mut counts: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for (l, name) in &mine {
            let e = counts.entry(name).or_default();
            e.0 += 1;
            e.1 += l.net;
        }
        assert_eq!(s["customers"].as_i64().unwrap(), mine.len() as i64);
        for seg in s["segments"].as_array().unwrap() {
            let name = seg["segment"].as_str().unwrap();
            let (n, net) = counts.get(name).copied().unwrap_or_default();
            assert_eq!(seg["customers"].as_i64().unwrap(), n, "{currency} {name}");
            assert_eq!(
                e4(seg["revenue"].as_str().unwrap()),
                net,
                "{currency} {name}"
            );
        }
    }
}

/// A product's (or variant's) figures: units, revenue e4, orders, refunded orders.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ProductSums {
    units: i64,
    revenue: i64,
    orders: std::collections::BTreeSet<u64>,
    refunded: std::collections::BTreeSet<u64>,
}

impl ProductSums {
    fn add(&mut self, o: &Gen, quantity: i64, price: i64) {
        self.units += quantity;
        self.revenue += quantity * price;
        self.orders.insert(o.id);
        if o.refunded_e4 > 0 {
            self.refunded.insert(o.id);
        }
    }

    fn matches(&self, got: &Value) -> bool {
        got["units"].as_i64() == Some(self.units)
            && got["revenue"].as_str().map(e4) == Some(self.revenue)
            && got["orders"].as_i64() == Some(self.orders.len() as i64)
            && got["refunded_orders"].as_i64() == Some(self.refunded.len() as i64)
    }
}

/// `product_performance` from `from` to `to` (inclusive days in `tz`) equals the fold per
/// currency, product and variant over the orders created then; over the first half of 2024
/// (UTC), `sort=units&limit=2` lists the two with most units. The ranges pin each way the
/// store reads: whole UTC months of sums alone, months corrected at both ends by the line
/// items of their edges (added or taken out), the line items alone, and a year of sums less
/// a month or with a few hours at each end.
async fn check_products(app: &TestApp, orders: &[Gen], from: Date, to: Date, tz: &str) {
    let zone = TimeZone::get(tz).unwrap();
    let ms = |d: Date| {
        zone.to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .unwrap()
            .as_millisecond()
    };
    let (from_ms, to_ms) = (ms(from), ms(to.tomorrow().unwrap()));
    let mut products: BTreeMap<(String, u64), ProductSums> = BTreeMap::new();
    let mut variants: BTreeMap<(String, u64, u64), ProductSums> = BTreeMap::new();
    let in_range = |o: &&Gen| !o.cancelled && o.created_ms >= from_ms && o.created_ms < to_ms;
    for o in orders.iter().filter(in_range) {
        for (i, (q, p)) in o.lines.iter().enumerate() {
            let c = o.currency.to_string();
            products
                .entry((c.clone(), product_of(o.id, i)))
                .or_default()
                .add(o, *q, *p);
            variants
                .entry((c, product_of(o.id, i), variant_of(o.id, i)))
                .or_default()
                .add(o, *q, *p);
        }
    }
    let r = get(
        app,
        &format!("/v1/analytics/product_performance?from={from}&to={to}&timezone={tz}&limit=500"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut seen = 0;
    for c in r.body["currencies"].as_array().unwrap() {
        let currency = c["currency"].as_str().unwrap().to_string();
        let mut revenue = 0;
        for item in c["items"].as_array().unwrap() {
            let id: u64 = item["product_id"].as_str().unwrap().parse().unwrap();
            let want = &products[&(currency.clone(), id)];
            assert!(
                want.matches(item),
                "{currency} product {id}: {item} vs {want:?}"
            );
            revenue += want.revenue;
            for v in item["variants"].as_array().unwrap() {
                let vid: u64 = v["variant_id"].as_str().unwrap().parse().unwrap();
                let want = &variants[&(currency.clone(), id, vid)];
                assert!(want.matches(v), "{currency} variant {vid}: {v} vs {want:?}");
                seen += 1;
            }
        }
        assert_eq!(e4(c["totals"]["revenue"].as_str().unwrap()), revenue);
    }
    assert_eq!(seen, variants.len(), "every variant is listed");
    if (from, to, tz)
        != (
            Date::constant(2024, 1, 1),
            Date::constant(2024, 6, 30),
            "UTC",
        )
    {
        return;
    }

    let r = get(
        app,
        "/v1/analytics/product_performance?from=2024-01-01&to=2024-06-30&sort=units&limit=2",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for c in r.body["currencies"].as_array().unwrap() {
        let currency = c["currency"].as_str().unwrap();
        let mut units: Vec<i64> = products
            .iter()
            .filter(|((cur, _), _)| cur == currency)
            .map(|(_, s)| s.units)
            .collect();
        units.sort_unstable_by(|a, b| b.cmp(a));
        let got: Vec<i64> = c["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["units"].as_i64().unwrap())
            .collect();
        assert_eq!(got, units[..2], "{currency}");
        assert_eq!(c["truncated"], true);
    }
}

async fn import(app: &TestApp, orders: &[Gen]) {
    let body: String = orders.iter().map(|o| o.json().to_string() + "\n").collect();
    import_body(app, "orders", body).await;
}

async fn import_body(app: &TestApp, kind: &str, body: String) {
    let r = app
        .client
        .http()
        .post(app.client.url(&format!("/v1/data/imports?kind={kind}")))
        .bearer_auth(app.owner())
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    let result = app.job_result(&Client::read(r).await).await;
    assert_eq!(result["rejected"], 0, "{result}");
}

async fn get(app: &TestApp, path: &str) -> Resp {
    app.client.get(path, Some(app.owner())).await
}

/// Every bucket of `sales_over_time` equals the fold; buckets without orders are zeros.
async fn check_sales(app: &TestApp, orders: &[Gen], tz_name: &str, granularity: &str) {
    let (from, to) = (Date::constant(2024, 1, 1), Date::constant(2024, 6, 30));
    let r = get(
        app,
        &format!("/v1/analytics/sales_over_time?from={from}&to={to}&timezone={tz_name}&granularity={granularity}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let tz = TimeZone::get(tz_name).unwrap();
    let expected = fold(orders, &tz, granularity, from, to);
    let series = r.body["currencies"].as_array().unwrap();
    assert_eq!(
        series
            .iter()
            .map(|s| s["currency"].as_str().unwrap())
            .collect::<Vec<_>>(),
        expected.keys().map(String::as_str).collect::<Vec<_>>(),
        "{tz_name} {granularity}: one series per currency"
    );
    let mut all_orders = 0;
    for s in series {
        let currency = s["currency"].as_str().unwrap();
        let want = &expected[currency];
        let mut total = Sums::default();
        let mut seen = 0;
        for b in s["buckets"].as_array().unwrap() {
            let start = b["start"].as_str().unwrap();
            let w = want.get(start).copied().unwrap_or_default();
            let got = Sums {
                orders: b["orders"].as_i64().unwrap(),
                gross: e4(b["gross_sales"].as_str().unwrap()),
                discounts: e4(b["discounts"].as_str().unwrap()),
                refunds: e4(b["refunds"].as_str().unwrap()),
                units: b["units"].as_i64().unwrap(),
                ..Sums::default()
            };
            let w_cmp = Sums {
                cancelled: 0,
                cancelled_amount: 0,
                ..w
            };
            assert_eq!(
                got, w_cmp,
                "{tz_name} {granularity} {currency} bucket {start}"
            );
            assert_eq!(
                e4(b["net_sales"].as_str().unwrap()),
                w.gross - w.discounts - w.refunds,
                "net sales of {start}"
            );
            if want.contains_key(start) {
                seen += 1;
            }
            total.orders += got.orders;
        }
        assert_eq!(seen, want.len(), "every bucket with orders is in the grid");
        assert_eq!(s["totals"]["orders"].as_i64().unwrap(), total.orders);
        all_orders += total.orders;
    }
    assert_eq!(r.body["orders"].as_i64().unwrap(), all_orders);
}

backend_tests!(
    reports_equal_a_fold_over_the_same_orders_before_and_after_a_reimport,
    bad_report_parameters_answer_400_naming_the_parameter,
);

async fn reports_equal_a_fold_over_the_same_orders_before_and_after_a_reimport(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let first = generate(400);
    import(&app, &first).await;
    check_sales(&app, &first, "UTC", "day").await;
    check_sales(&app, &first, "Asia/Tokyo", "week").await;
    check_sales(&app, &first, "America/New_York", "month").await;
    check_customers(&app, &first).await;
    let half_year = (Date::constant(2024, 1, 1), Date::constant(2024, 6, 30));
    check_products(&app, &first, half_year.0, half_year.1, "UTC").await;
    check_products(
        &app,
        &first,
        Date::constant(2024, 1, 3),
        Date::constant(2024, 5, 20),
        "Asia/Tokyo",
    )
    .await;

    let revised = revise(&first);
    import(&app, &revised).await;
    let now = current(&first, &revised);
    check_sales(&app, &now, "UTC", "day").await;
    check_sales(&app, &now, "America/New_York", "week").await;
    check_sales(&app, &now, "Asia/Tokyo", "month").await;
    check_customers(&app, &now).await;
    check_products(&app, &now, half_year.0, half_year.1, "UTC").await;
    for (from, to, tz) in [
        ((2024, 1, 3), (2024, 5, 20), "Asia/Tokyo"),
        ((2024, 1, 25), (2024, 4, 8), "America/New_York"),
        ((2024, 2, 10), (2024, 2, 20), "UTC"),
        // The yearly sums: 2024 less January; 2024 in New York (five hours at each end).
        ((2024, 2, 1), (2024, 12, 31), "UTC"),
        ((2024, 1, 1), (2024, 12, 31), "America/New_York"),
    ] {
        let day = |(y, m, d): (i16, i8, i8)| Date::constant(y, m, d);
        check_products(&app, &now, day(from), day(to), tz).await;
    }
    check_segments(&app, &now).await;

    // Hour × weekday in a half-hour zone: each cell's orders and net sales.
    let tz = TimeZone::get("Asia/Kolkata").unwrap();
    let r = get(
        &app,
        "/v1/analytics/sales_by_hour_weekday?from=2024-01-01&to=2024-06-30&timezone=Asia/Kolkata",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut cells: BTreeMap<(String, usize, usize), (i64, i64)> = BTreeMap::new();
    for o in now.iter().filter(|o| !o.cancelled) {
        let local = tz.to_datetime(Timestamp::from_millisecond(o.created_ms).unwrap());
        if local.date() > Date::constant(2024, 6, 30) {
            continue;
        }
        let day = local.date().weekday().since(Weekday::Monday) as usize;
        let c = cells
            .entry((o.currency.to_string(), day, local.hour() as usize))
            .or_default();
        c.0 += 1;
        c.1 += o.gross() - o.discounts_e4 - o.refunded_e4;
    }
    for s in r.body["currencies"].as_array().unwrap() {
        let currency = s["currency"].as_str().unwrap();
        for (day, row) in s["matrix"].as_array().unwrap().iter().enumerate() {
            for (hour, cell) in row.as_array().unwrap().iter().enumerate() {
                let want = cells
                    .get(&(currency.to_string(), day, hour))
                    .copied()
                    .unwrap_or_default();
                let got = (
                    cell["orders"].as_i64().unwrap(),
                    e4(cell["net_sales"].as_str().unwrap()),
                );
                assert_eq!(got, want, "{currency} weekday {day} hour {hour}");
            }
        }
    }

    // Refunds and cancellations: totals per currency.
    let r = get(
        &app,
        "/v1/analytics/refunds_cancellations?from=2024-01-01&to=2024-06-30&granularity=month",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let utc = TimeZone::UTC;
    let expected = fold(
        &now,
        &utc,
        "month",
        Date::constant(2024, 1, 1),
        Date::constant(2024, 6, 30),
    );
    for s in r.body["currencies"].as_array().unwrap() {
        let currency = s["currency"].as_str().unwrap();
        let mut want = Sums::default();
        for b in expected[currency].values() {
            want.orders += b.orders;
            want.refunds += b.refunds;
            want.cancelled += b.cancelled;
            want.cancelled_amount += b.cancelled_amount;
        }
        let t = &s["totals"];
        assert_eq!(t["orders"].as_i64().unwrap(), want.orders, "{currency}");
        assert_eq!(
            e4(t["refunds"].as_str().unwrap()),
            want.refunds,
            "{currency}"
        );
        assert_eq!(
            t["cancelled_orders"].as_i64().unwrap(),
            want.cancelled,
            "{currency}"
        );
        assert_eq!(
            e4(t["cancelled_amount"].as_str().unwrap()),
            want.cancelled_amount
        );
        assert_eq!(s["buckets"].as_array().unwrap().len(), 6, "January to June");
    }

    // Compared with the previous period: each bucket carries the earlier bucket's figures.
    let r = get(
        &app,
        "/v1/analytics/sales_over_time?from=2024-04-01&to=2024-04-30&compare=previous_period&granularity=week",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let usd = r.body["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["currency"] == "USD")
        .unwrap();
    let earlier: i64 = now
        .iter()
        .filter(|o| o.currency == "USD" && !o.cancelled)
        .filter(|o| {
            let d = local_date(&utc, o.created_ms);
            d >= Date::constant(2024, 3, 2) && d <= Date::constant(2024, 3, 31)
        })
        .count() as i64;
    assert_eq!(usd["previous_totals"]["orders"].as_i64().unwrap(), earlier);
    let change = usd["totals"]["orders"].as_i64().unwrap() - earlier;
    assert_eq!(
        usd["change"]["orders"]["absolute"].as_i64().unwrap(),
        change
    );

    // Inventory: the products' stock (their variants' summed) against the units sold in the
    // 30 days before `to`; product 7 reports no stock.
    let products: String = (1..=7u64)
        .map(|pid| {
            let variants: Vec<Value> = if pid == 7 {
                vec![json!({"id": pid * 10, "price": "1.00"})]
            } else {
                (0..2)
                    .map(|k| json!({"id": pid * 10 + k, "price": "1.00", "inventory_quantity": pid * 5 + k}))
                    .collect()
            };
            json!({"id": pid, "title": format!("Product {pid}"), "updated_at": "2024-01-01T00:00:00Z",
                   "variants": variants})
            .to_string()
                + "\n"
        })
        .collect();
    import_body(&app, "products", products).await;
    let r = get(&app, "/v1/analytics/inventory?to=2024-06-30").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let window = (START_MS + 152 * 86_400_000, START_MS + 182 * 86_400_000);
    let mut sold: BTreeMap<u64, i64> = BTreeMap::new();
    for o in now.iter().filter(|o| !o.cancelled) {
        if o.created_ms >= window.0 && o.created_ms < window.1 {
            for (i, (q, _)) in o.lines.iter().enumerate() {
                *sold.entry(1 + (o.id + i as u64) % 7).or_default() += q;
            }
        }
    }
    assert_eq!(r.body["products"], 7);
    assert_eq!(
        r.body["stock"].as_i64().unwrap(),
        (1..=6).map(|p| 10 * p + 1).sum::<i64>()
    );
    let mut at_risk = 0;
    for item in r.body["items"].as_array().unwrap() {
        let pid: u64 = item["product_id"].as_str().unwrap().parse().unwrap();
        let units = sold.get(&pid).copied().unwrap_or(0);
        assert_eq!(
            item["units_sold_30d"].as_i64().unwrap(),
            units,
            "product {pid}"
        );
        let stock = (pid != 7).then(|| 10 * pid as i64 + 1);
        assert_eq!(item["stock"].as_i64(), stock, "product {pid}");
        let cover = stock
            .filter(|_| units > 0)
            .map(|s| s as f64 * 30.0 / units as f64);
        match (item["days_of_cover"].as_f64(), cover) {
            (Some(got), Some(want)) => assert!((got - want).abs() <= 0.051, "{got} vs {want}"),
            (got, want) => assert_eq!(got, want, "product {pid}"),
        }
        if cover.is_some_and(|c| c < 14.0) {
            at_risk += 1;
        }
        assert_eq!(
            item["at_risk"].as_bool().unwrap(),
            cover.is_some_and(|c| c < 14.0)
        );
    }
    assert_eq!(r.body["at_risk"].as_i64().unwrap(), at_risk);

    // The same report as a durable job: its result is what the GET answers.
    let query = "from=2024-01-01&to=2024-06-30&timezone=Asia/Tokyo&granularity=month";
    let direct = get(&app, &format!("/v1/analytics/sales_over_time?{query}")).await;
    let r = app
        .client
        .post(
            "/v1/data/process",
            Some(app.owner()),
            json!({"operation": "sales_over_time", "period": {"from": "2024-01-01", "to": "2024-06-30"},
                   "params": {"timezone": "Asia/Tokyo", "granularity": "month"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.job_result(&r).await, direct.body);

    // The extended product report as a job: `analytics.product_performance` (the bare name
    // keeps the original operation's answer, pinned in tests/api/data.rs).
    let direct = get(
        &app,
        "/v1/analytics/product_performance?from=2024-01-01&to=2024-06-30&compare=previous_period",
    )
    .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    let r = app
        .client
        .post(
            "/v1/data/process",
            Some(app.owner()),
            json!({"operation": "analytics.product_performance",
                   "params": {"from": "2024-01-01", "to": "2024-06-30", "compare": "previous_period"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.job_result(&r).await, direct.body);
    // Every listed product carries its earlier figures (the range before had no orders).
    let first = &direct.body["currencies"][0]["items"][0];
    assert_eq!(first["previous"]["units"], 0, "{first}");
    assert_eq!(first["change"]["units"]["absolute"], first["units"]);
    let r = app
        .client
        .post(
            "/v1/data/process",
            Some(app.owner()),
            json!({"operation": "sales_over_time", "params": {"timezone": "Nowhere/City"}}),
        )
        .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(
        r.body["error"]["details"]["param"], "timezone",
        "{}",
        r.text
    );

    // An empty range answers zeros, not an error.
    let r = get(
        &app,
        "/v1/analytics/sales_over_time?from=2030-01-01&to=2030-01-07",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["orders"], 0);
    assert_eq!(r.body["currencies"], json!([]));
}

async fn bad_report_parameters_answer_400_naming_the_parameter(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    for (path, param) in [
        ("/v1/analytics/best_sellers", "report"),
        (
            "/v1/analytics/sales_over_time?from=2024-02-01&to=2024-01-01",
            "from",
        ),
        (
            "/v1/analytics/sales_over_time?timezone=Mars/Olympus",
            "timezone",
        ),
        (
            "/v1/analytics/sales_over_time?granularity=hour",
            "granularity",
        ),
        ("/v1/analytics/sales_over_time?compare=last_week", "compare"),
        ("/v1/analytics/sales_over_time?shop_id=nope", "shop_id"),
        ("/v1/analytics/sales_over_time?colour=red", "colour"),
        ("/v1/analytics/product_performance?sort=price", "sort"),
        ("/v1/analytics/product_performance?limit=0", "limit"),
        ("/v1/analytics/sales_over_time?limit=5", "limit"),
    ] {
        let r = get(&app, path).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(
            r.body["error"]["details"]["param"], param,
            "{path}: {}",
            r.text
        );
    }
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "jobs only", "permissions": ["jobs:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let key = r.body["secret"].as_str().unwrap().to_owned();
    let r = app
        .client
        .get("/v1/analytics/sales_over_time", Some(&key))
        .await;
    r.assert_error(403, "insufficient_permissions");
}
