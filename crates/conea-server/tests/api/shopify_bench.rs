//! Benchmarks of issue 21's Shopify bulk path, run by `bench/shopify_bulk.sh` in release
//! mode (ignored in the normal suite: they take minutes and measure, they pin nothing):
//!
//! - `bulk_import_rate_and_peak_rss`: a bulk result file of `BENCH_BULK_ORDERS` orders
//!   (default 1,000,000; each with its line item as a `__parentId` child line) written once
//!   to disk, served by the fake Shopify, and imported by a shop's first sync through the
//!   bulk path (download stream → `BulkRows` → batches of 1,000 upserts). Prints orders/s,
//!   lines/s, and the process's RSS and peak RSS (`VmHWM`, reset after the file was
//!   written, so it covers the import only). The process holds the server, the fake and,
//!   on SQLite, the database engine.
//! - `first_sync_requests_bulk_vs_pages`: the Admin API requests the fake Shopify receives
//!   for a full first sync of a shop of `BENCH_SYNC_ORDERS` orders (default 100,000),
//!   by bulk operation and by REST pages of 250.
//!
//! The backend: `BENCH_BACKEND` = `sqlite` (default) or `postgres`.

// The knobs are environment variables of the benchmark script, not settings.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods
)]

use conea_testkit::fake_shopify::{self as fake, Counts, FakeShopify};
use conea_testkit::{Backend, TestApp};
use serde_json::json;
use std::time::{Duration, Instant};

const DOMAIN: &str = "fake-shop.myshopify.com";

fn backend() -> Backend {
    match std::env::var("BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets `VmHWM` to the current RSS (Linux: `5` to `/proc/self/clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The bulk path's own work on the file, without HTTP or the store: read in 256 KiB
/// chunks, split into lines, joined into records by `BulkRows`. Answers (records, rejected).
fn parse_only(path: &std::path::Path) -> (u64, u64) {
    use conea_shopdata::lines::{Line, LineSplitter};
    use conea_shopify::bulk::{BulkRows, Joined};
    use std::io::Read;
    let mut file = std::fs::File::open(path).unwrap();
    let mut lines = LineSplitter::new(8 * 1024 * 1024);
    let mut rows = BulkRows::new(conea_shopdata::RecordKind::Orders);
    let (mut ok, mut bad) = (0u64, 0u64);
    let mut count = |r: Result<conea_shopdata::Record, (u64, String)>| match r {
        Ok(_) => ok += 1,
        Err(_) => bad += 1,
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        lines.push(&buf[..n], |line| {
            if let Line::Text(n, text) = line {
                if let Joined::Complete(r) = rows.push(n, text) {
                    count(r);
                }
            }
        });
    }
    lines.finish(|line| {
        if let Line::Text(n, text) = line {
            if let Joined::Complete(r) = rows.push(n, text) {
                count(r);
            }
        }
    });
    if let Some(r) = rows.finish() {
        count(r);
    }
    (ok, bad)
}

async fn start(b: Backend, counts: Counts, threshold: &str) -> Option<(TestApp, FakeShopify)> {
    let clock = conea_core::FakeClock::starting_now();
    let fake = FakeShopify::start(clock.clone(), counts).await;
    let db = conea_testkit::TestDb::create(b).await?;
    let app = TestApp::start(
        db,
        &[
            ("CONEA_JOB_LEASE", "1h"),
            ("SHOPIFY_BASE_URL", fake.base_url.as_str()),
            ("SHOPIFY_BULK_THRESHOLD", threshold),
            ("CONEA_LOG", "warn"),
        ],
        clock,
    )
    .await;
    Some((app, fake))
}

async fn connect(app: &TestApp) -> String {
    let r = app
        .client
        .post(
            "/v1/integrations/shopify/shops",
            Some(app.owner()),
            json!({"shop_domain": DOMAIN, "access_token": fake::TOKEN, "api_secret": "shpss_bench"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Starts the shop's sync and waits for its job to end (moving the fake clock, so bulk
/// polls come due); the job's result. Any failed attempt fails the benchmark.
async fn sync(app: &TestApp, shop: &str) -> serde_json::Value {
    let r = app
        .client
        .post(
            &format!("/v1/integrations/shopify/shops/{shop}/sync"),
            Some(app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_owned();
    loop {
        let job = app.state.platform().jobs.get_any(&id).await.unwrap();
        if job.state.is_final() {
            assert!(job.errors.is_empty(), "{job:?}");
            return job.result.unwrap();
        }
        // Slowly (20 s of fake time per second): bulk polls come due, and the worker's
        // heartbeats (real time) keep its lease (1 h of fake time) long before it expires.
        app.clock.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/shopify_bulk.sh"]
async fn bulk_import_rate_and_peak_rss() {
    let orders = env_count("BENCH_BULK_ORDERS", 1_000_000);
    let path = std::env::temp_dir().join(format!("conea-bench-bulk-orders-{orders}.jsonl"));
    let started = Instant::now();
    let lines = {
        let file = std::fs::File::create(&path).unwrap();
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let n = fake::bulk::write_file("orders", orders, &mut out).unwrap();
        std::io::Write::flush(&mut out).unwrap();
        n
    };
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "bench: wrote {} ({orders} orders, {lines} lines, {:.1} MB) in {:.1?}",
        path.display(),
        bytes as f64 / 1e6,
        started.elapsed()
    );
    reset_peak_rss();
    let t = Instant::now();
    let (parsed, rejected) = parse_only(&path);
    let parse_s = t.elapsed().as_secs_f64();
    assert_eq!((parsed, rejected), (orders as u64, 0));
    println!(
        "bench: parse only (file → lines → BulkRows → records, no HTTP, no store): {parsed} orders in {parse_s:.2} s: \
         {:.0} orders/s, {:.0} lines/s; peak RSS (VmHWM) {} MiB",
        parsed as f64 / parse_s,
        lines as f64 / parse_s,
        rss_kib().1 / 1024
    );
    let counts = Counts {
        orders,
        products: 0,
        customers: 0,
    };
    let Some((app, fake)) = start(backend(), counts, "10000").await else {
        panic!("no database for the benchmark");
    };
    fake.serve_bulk_file("orders", &path);
    let shop = connect(&app).await;
    let (rss_before, _) = rss_kib();
    reset_peak_rss();
    let t = Instant::now();
    let result = sync(&app, &shop).await;
    let elapsed = t.elapsed().as_secs_f64();
    let (rss_after, peak) = rss_kib();
    let o = &result["orders"];
    assert!(
        o["bulk_operation"].is_string(),
        "through the bulk path: {result}"
    );
    let inserted = o["inserted"].as_u64().unwrap();
    assert_eq!(inserted, orders as u64, "{result}");
    assert_eq!(o["lines"].as_u64().unwrap(), lines, "{result}");
    println!(
        "bench: backend {:?}: {inserted} orders ({lines} lines) imported by bulk in {elapsed:.2} s: \
         {:.0} orders/s, {:.0} lines/s; RSS before {} MiB, after {} MiB, peak (VmHWM) {} MiB",
        backend(),
        inserted as f64 / elapsed,
        lines as f64 / elapsed,
        rss_before / 1024,
        rss_after / 1024,
        peak / 1024
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/shopify_bulk.sh"]
async fn first_sync_requests_bulk_vs_pages() {
    let orders = env_count("BENCH_SYNC_ORDERS", 100_000);
    let counts = || Counts {
        orders,
        products: 0,
        customers: 0,
    };
    let mut figures = Vec::new();
    for (how, threshold) in [("bulk", "10000"), ("pages", "off")] {
        let Some((app, fake)) = start(backend(), counts(), threshold).await else {
            panic!("no database for the benchmark");
        };
        let shop = connect(&app).await;
        let before = fake.log().len();
        let t = Instant::now();
        let result = sync(&app, &shop).await;
        let log = fake.log();
        let requests = &log[before..];
        assert_eq!(result["orders"]["inserted"], orders, "{result}");
        let orders_requests = requests.iter().filter(|l| l.contains("orders")).count();
        println!(
            "bench: first sync of {orders} orders by {how}: {} Admin API requests ({} naming orders) in {:.1?}",
            requests.len(),
            orders_requests,
            t.elapsed()
        );
        if std::env::var("BENCH_SHOW_LOG").is_ok() {
            let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
            for l in requests {
                let key: String = l.split('?').next().unwrap_or(l).to_owned();
                *kinds.entry(key).or_default() += 1;
            }
            println!("bench: {how}: {kinds:?}");
        }
        figures.push((how, requests.len()));
    }
    println!("bench: requests bulk vs pages: {figures:?}");
}
