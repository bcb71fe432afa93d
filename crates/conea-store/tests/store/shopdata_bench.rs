//! Import throughput of the `data.import` pipeline on PostgreSQL (not a test: ignored, never
//! fails on a timing). Run it by hand:
//!
//! ```sh
//! python3 bench/gen_orders.py 1000000 --out /tmp/orders.ndjson
//! CONEA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//! CONEA_BENCH_ORDERS=/tmp/orders.ndjson \
//!   cargo test --release -p conea-store --test store shopdata_bench -- --ignored --nocapture
//! ```
//!
//! It stores the file as an upload (1 MiB chunks), imports it with `run_import`, runs
//! `orders_summary` over everything, and prints the figures and the peak RSS of the process.

// disallowed_methods: the bench takes its input file from CONEA_BENCH_ORDERS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use conea_core::config::{Backend as DbBackend, DatabaseConfig};
use conea_shopdata::import::UPLOAD_CHUNK_BYTES;
use conea_shopdata::reports::{orders_summary, product_performance, Period};
use conea_shopdata::{run_import, ImportArgs, ImportFormat, Quiet, RecordKind, ShopDataStore};
use conea_store::SqlStore;
use conea_testkit::TestSchema;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn sqlx_count(pg: &conea_store::sqlx::PgPool, sql: &str) -> i64 {
    conea_store::sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pg)
        .await
        .expect("count")
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand with CONEA_BENCH_ORDERS"]
async fn import_one_file_and_summarise() {
    let Ok(path) = std::env::var("CONEA_BENCH_ORDERS") else {
        eprintln!("skipping: CONEA_BENCH_ORDERS is not set");
        return;
    };
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let cfg = DatabaseConfig {
        replica_url: None,
        max_replica_lag: std::time::Duration::from_secs(5),
        url: schema.url(),
        backend: DbBackend::Postgres,
        max_connections: 5,
        idle_timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(10),
        slow_statement: Duration::from_secs(60),
    };
    let db = conea_store::connect(&cfg).await.expect("database");
    conea_store::migrate::run(&db).await.expect("migrations");
    let store = SqlStore::new(db, Duration::from_secs(60));
    let org = crate::common::new_org(&store, "bench").await;
    let shop = store.default_shop(&org, 1).await.expect("shop");

    let started = Instant::now();
    let mut file = std::fs::File::open(&path).expect("orders file");
    let upload_id = conea_shopdata::new_upload_id();
    let mut buf = vec![0u8; UPLOAD_CHUNK_BYTES];
    let (mut seq, mut bytes) = (0i64, 0usize);
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).expect("read");
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        store
            .append_upload_chunk(&org, &upload_id, seq, &buf[..filled], 1)
            .await
            .expect("chunk");
        seq += 1;
        bytes += filled;
    }
    let upload_s = started.elapsed().as_secs_f64();
    println!(
        "upload: {seq} chunks, {:.0} MB in {upload_s:.1} s",
        bytes as f64 / 1e6
    );

    let args = ImportArgs {
        upload_id,
        kind: RecordKind::Orders,
        shop_id: shop.id.clone(),
        format: ImportFormat::Ndjson,
    };
    let shared: Arc<dyn ShopDataStore> = Arc::new(store.clone());
    let started = Instant::now();
    let report = run_import(shared, &org, &args, 2, &Quiet)
        .await
        .expect("import");
    let import_s = started.elapsed().as_secs_f64();
    println!(
        "import: {} rows ({} inserted, {} rejected) in {import_s:.1} s = {:.0} rows/s",
        report.rows,
        report.inserted,
        report.rejected,
        report.rows as f64 / import_s
    );

    // Baseline at the same moment: the database's raw insert rate for as many orders and
    // line items (INSERT … SELECT generate_series into tables shaped and indexed alike).
    let pg = store.db().as_postgres().expect("PostgreSQL").clone();
    let orders = report.inserted as i64;
    let items: i64 = sqlx_count(&pg, "SELECT COUNT(*) FROM order_line_items").await;
    for ddl in [
        "CREATE TABLE raw_orders (LIKE orders INCLUDING ALL)",
        "CREATE TABLE raw_items (LIKE order_line_items INCLUDING ALL)",
    ] {
        conea_store::sqlx::query(ddl)
            .execute(&pg)
            .await
            .expect("ddl");
    }
    let started = Instant::now();
    conea_store::sqlx::query(
        "INSERT INTO raw_orders SELECT 'shop_0192f0c1a2b37c8d9e0f1a2b3c4d5e6f', g, \
         'org_0192f0c1a2b37c8d9e0f1a2b3c4d5e6f', '#' || g, 'c' || g || '@example.com', g, 'USD', \
         1082000, 1082000, 'open', 'paid', NULL, 1700000000000 + g, NULL, NULL, 1700000000000 + g, 2 \
         FROM generate_series(1, $1::int8) g",
    )
    .bind(orders)
    .execute(&pg)
    .await
    .expect("raw orders");
    conea_store::sqlx::query(
        "INSERT INTO raw_items SELECT 'shop_0192f0c1a2b37c8d9e0f1a2b3c4d5e6f', g, \
         'org_0192f0c1a2b37c8d9e0f1a2b3c4d5e6f', g / 3, 7000000000 + g % 500, 8000000000 + g % 500, \
         'Product ' || g % 500, 'SKU-' || g % 500, 1 + g % 3, 1082000, 1700000000000, 2 \
         FROM generate_series(1, $1::int8) g",
    )
    .bind(items)
    .execute(&pg)
    .await
    .expect("raw items");
    let raw_s = started.elapsed().as_secs_f64();
    println!(
        "baseline: raw insert of {orders} orders + {items} line items in {raw_s:.1} s = {:.0} orders/s; \
         import/raw time ratio {:.2}",
        orders as f64 / raw_s,
        import_s / raw_s
    );

    for _ in 0..3 {
        let started = Instant::now();
        let s = orders_summary(&store, &org, Some(&shop.id), Period::default())
            .await
            .expect("summary");
        println!(
            "orders_summary: {} orders, revenue {} {} in {:.2} s",
            s.total_orders,
            s.total_revenue,
            s.currency.unwrap_or_default(),
            started.elapsed().as_secs_f64()
        );
    }
    let started = Instant::now();
    let p = product_performance(&store, &org, Some(&shop.id), Period::default(), 10)
        .await
        .expect("performance");
    println!(
        "product_performance: {} units in {:.2} s",
        p.total_units_sold,
        started.elapsed().as_secs_f64()
    );
    println!("peak RSS of this process: {:.0} MB", peak_rss_mb());
}

/// Parsing alone (no database), to split the import time between CPU and storage.
#[test]
#[ignore = "benchmark: run by hand with CONEA_BENCH_ORDERS"]
fn parse_only() {
    let Ok(path) = std::env::var("CONEA_BENCH_ORDERS") else {
        eprintln!("skipping: CONEA_BENCH_ORDERS is not set");
        return;
    };
    let mut file = std::fs::File::open(&path).expect("orders file");
    let mut reader = conea_shopdata::RecordReader::new(RecordKind::Orders, ImportFormat::Ndjson);
    let mut buf = vec![0u8; UPLOAD_CHUNK_BYTES];
    let mut out = Vec::new();
    let (mut records, mut bad) = (0u64, 0u64);
    let started = Instant::now();
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        reader.push(&buf[..n], &mut out).expect("readable");
        for p in out.drain(..) {
            match p {
                conea_shopdata::Parsed::Record(..) => records += 1,
                conea_shopdata::Parsed::Bad(..) => bad += 1,
            }
        }
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "parse: {records} records, {bad} bad in {s:.2} s = {:.0} records/s",
        records as f64 / s
    );
}

/// Upserts alone: the file parsed into memory first, then written batch by batch on one
/// connection (splits the import time between the pipeline and the statements).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand with CONEA_BENCH_ORDERS"]
async fn upserts_only() {
    let Ok(path) = std::env::var("CONEA_BENCH_ORDERS") else {
        eprintln!("skipping: CONEA_BENCH_ORDERS is not set");
        return;
    };
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let cfg = DatabaseConfig {
        replica_url: None,
        max_replica_lag: std::time::Duration::from_secs(5),
        url: schema.url(),
        backend: DbBackend::Postgres,
        max_connections: 5,
        idle_timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(10),
        slow_statement: Duration::from_secs(60),
    };
    let db = conea_store::connect(&cfg).await.expect("database");
    conea_store::migrate::run(&db).await.expect("migrations");
    let store = SqlStore::new(db, Duration::from_secs(60));
    let org = crate::common::new_org(&store, "bench").await;
    let shop = store.default_shop(&org, 1).await.expect("shop");
    let text = std::fs::read_to_string(&path).expect("orders file");
    let orders: Vec<conea_shopdata::Order> = text
        .lines()
        .filter_map(
            |l| match conea_shopdata::parse_ndjson_line(RecordKind::Orders, l) {
                Ok(conea_shopdata::Record::Order(o)) => Some(o),
                _ => None,
            },
        )
        .collect();
    drop(text);
    for size in [1000usize, 4000] {
        conea_store::sqlx::query("TRUNCATE orders, order_line_items")
            .execute(store.db().as_postgres().expect("pg"))
            .await
            .expect("truncate");
        let started = Instant::now();
        for batch in orders.chunks(size) {
            store
                .upsert_orders(&org, &shop.id, batch, 2)
                .await
                .expect("upsert");
        }
        let s = started.elapsed().as_secs_f64();
        println!(
            "upserts (batch {size}): {} orders in {s:.1} s = {:.0} orders/s",
            orders.len(),
            orders.len() as f64 / s
        );
    }
}
