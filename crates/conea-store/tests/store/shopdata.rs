//! Shop data on both backends: Shopify fixtures, idempotent and out-of-order upserts, bad-line
//! reporting, the two reports against hand-computed figures, and the job handlers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use conea_core::clock::{Clock, FakeClock};
use conea_core::ids::{OrgId, ShopId};
use conea_jobs::{JobContext, JobHandler, JobStore, NewJob, Typed};
use conea_shopdata::reports::{orders_summary, product_performance, DayTotals, Period};
use conea_shopdata::{
    parse_ndjson_line, run_import, ImportArgs, ImportFormat, ImportHandler, ImportReport,
    ImportTurns, ProcessHandler, Quiet, Record, RecordKind, Shop, ShopDataStore, ShopKind,
};
use conea_store::{with_pool, SqlStore};
use conea_testkit::{backend_tests, Backend, TestDb};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

struct Env {
    store: SqlStore,
    org: OrgId,
    _db: Arc<TestDb>,
}

impl Env {
    fn shared(&self) -> Arc<dyn ShopDataStore> {
        Arc::new(self.store.clone())
    }

    async fn manual_shop(&self) -> ShopId {
        self.store
            .default_shop(&self.org, 1)
            .await
            .expect("manual shop")
            .id
    }

    async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        with_pool!(self.store.db(), |p| conea_store::sqlx::query_scalar::<
            DB,
            i64,
        >(&sql)
        .fetch_one(p)
        .await)
        .expect("count")
    }

    /// Stores `data` as an upload in chunks of `chunk` bytes and imports it.
    async fn import(
        &self,
        shop: &ShopId,
        kind: RecordKind,
        format: ImportFormat,
        data: &str,
        chunk: usize,
    ) -> ImportReport {
        let args = self.upload(shop, kind, format, data, chunk).await;
        run_import(self.shared(), &self.org, &args, 2, &Quiet)
            .await
            .expect("import runs")
    }

    async fn upload(
        &self,
        shop: &ShopId,
        kind: RecordKind,
        format: ImportFormat,
        data: &str,
        chunk: usize,
    ) -> ImportArgs {
        let upload_id = conea_shopdata::new_upload_id();
        for (seq, part) in data.as_bytes().chunks(chunk).enumerate() {
            self.store
                .append_upload_chunk(&self.org, &upload_id, seq as i64, part, 1)
                .await
                .expect("chunk stored");
        }
        ImportArgs {
            upload_id,
            kind,
            shop_id: shop.clone(),
            format,
        }
    }
}

async fn env(backend: Backend) -> Option<Env> {
    let (store, org, db) = common::env(backend).await?;
    Some(Env {
        store,
        org,
        _db: db,
    })
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/shopify/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    // One NDJSON line: the pretty-printed fixture compacted.
    serde_json::from_str::<Value>(&text)
        .expect("fixture is JSON")
        .to_string()
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

// ---- parsing ------------------------------------------------------------------------

#[test]
fn shopify_webhook_order_fixture_parses_with_line_items_and_customer() {
    let Record::Order(o) =
        parse_ndjson_line(RecordKind::Orders, &fixture("orders_create.json")).expect("parses")
    else {
        panic!("not an order")
    };
    assert_eq!(o.source_id, 820_982_911_946_154_508);
    assert_eq!(o.name.as_deref(), Some("#9999"));
    assert_eq!(o.currency, "USD");
    assert_eq!(o.total_price.format(Some("USD")), "398.00");
    assert_eq!(
        o.subtotal_price.map(|m| m.format(Some("USD"))).as_deref(),
        Some("388.00")
    );
    assert_eq!(o.financial_status.as_deref(), Some("voided"));
    assert_eq!(o.customer_id, Some(115_310_627_314_723_954));
    // 2021-12-31T19:00:00-05:00 is 2022-01-01T00:00:00Z.
    assert_eq!(o.created_at, 1_640_995_200_000);
    assert_eq!(o.cancelled_at, Some(1_640_995_200_000));
    assert_eq!(o.status().as_str(), "cancelled");
    assert_eq!(o.line_items.len(), 3);
    let li = &o.line_items[0];
    assert_eq!(
        (li.source_id, li.product_id, li.variant_id),
        (487_817_672_276_298_554, Some(788_032_119_674_292_922), None)
    );
    assert_eq!(
        (li.title.as_str(), li.sku.as_deref(), li.quantity),
        ("Aviator sunglasses", Some("SKU2006-001"), 1)
    );
    assert_eq!(li.price.format(Some("USD")), "89.99");
}

#[test]
fn shopify_product_and_customer_fixtures_parse() {
    let Record::Product(p) =
        parse_ndjson_line(RecordKind::Products, &fixture("product.json")).expect("parses")
    else {
        panic!("not a product")
    };
    assert_eq!(
        (p.source_id, p.title.as_str()),
        (788_032_119_674_292_922, "Example T-Shirt")
    );
    assert_eq!(
        (p.vendor.as_deref(), p.status.as_deref()),
        (Some("Acme"), Some("active"))
    );
    assert_eq!(p.created_at, None);
    assert_eq!(p.updated_at, 1_640_995_200_000);
    assert_eq!(p.variants.len(), 2);
    assert_eq!(p.variants[1].sku.as_deref(), Some("example-shirt-m"));
    assert_eq!(p.variants[1].inventory_quantity, Some(50));
    let Record::Customer(c) =
        parse_ndjson_line(RecordKind::Customers, &fixture("customer.json")).expect("parses")
    else {
        panic!("not a customer")
    };
    assert_eq!(c.source_id, 706_405_506_930_370_084);
    assert_eq!(
        (c.email.as_deref(), c.first_name.as_deref()),
        (Some("bob@biller.com"), Some("Bob"))
    );
    assert_eq!(
        (c.orders_count, c.total_spent.map(|m| m.units())),
        (Some(0), Some(0))
    );
}

// ---- shops --------------------------------------------------------------------------

async fn manual_shop_is_created_once_and_shops_are_found_by_id_or_domain(b: Backend) {
    let Some(env) = env(b).await else { return };
    let first = env.store.default_shop(&env.org, 5).await.expect("created");
    let again = env.store.default_shop(&env.org, 9).await.expect("found");
    assert_eq!(first, again);
    assert_eq!(
        (first.kind, first.domain.as_deref()),
        (ShopKind::Manual, None)
    );
    let shopify = Shop {
        id: ShopId::generate(),
        org_id: env.org.clone(),
        domain: Some("Example.myshopify.com".into()),
        name: "Example".into(),
        kind: ShopKind::Shopify,
        currency: Some("EUR".into()),
        created_at: 3,
    };
    env.store.insert_shop(&shopify).await.expect("inserted");
    let by_domain = env
        .store
        .find_shop(&env.org, "EXAMPLE.myshopify.com")
        .await
        .expect("query");
    assert_eq!(by_domain.map(|s| s.id), Some(shopify.id.clone()));
    let by_id = env
        .store
        .find_shop(&env.org, shopify.id.as_str())
        .await
        .expect("query");
    assert_eq!(
        by_id.and_then(|s| s.domain).as_deref(),
        Some("example.myshopify.com")
    );
    let dup = Shop {
        id: ShopId::generate(),
        ..shopify.clone()
    };
    assert!(
        env.store.insert_shop(&dup).await.is_err(),
        "same domain twice in one organization"
    );
    let other_org = common::new_org(&env.store, "other").await;
    assert_eq!(
        env.store
            .find_shop(&other_org, shopify.id.as_str())
            .await
            .expect("query"),
        None
    );
}

// ---- imports ------------------------------------------------------------------------

/// A title with what CSV and SQL quoting must survive.
const PEN: &str = "Pen \"Deluxe\", 0.5\\mm\nblue";

fn order(id: i64, updated: &str, financial: &str, qty: i64) -> Value {
    json!({
        "id": id, "name": format!("#{id}"), "created_at": "2024-05-01T10:00:00Z", "updated_at": updated,
        "currency": "EUR", "total_price": "20.00", "financial_status": financial,
        "line_items": [
            {"id": id * 10 + 1, "product_id": 7, "title": PEN, "sku": "P-1", "quantity": qty, "price": "10.00"},
            {"id": id * 10 + 2, "title": "Wrap", "quantity": 1, "price": "0.00"}
        ]
    })
}

async fn reimporting_the_same_file_updates_and_inserts_nothing(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let data = ndjson(&[
        order(1, "2024-05-01T10:00:00Z", "paid", 1),
        order(2, "2024-05-01T10:00:00Z", "paid", 1),
        order(3, "2024-05-01T10:00:00Z", "pending", 2),
    ]) + &fixture("orders_create.json");
    let first = env
        .import(
            &shop,
            RecordKind::Orders,
            ImportFormat::Ndjson,
            &data,
            1 << 20,
        )
        .await;
    assert_eq!(
        (first.rows, first.inserted, first.updated, first.rejected),
        (4, 4, 0, 0)
    );
    let counts = (
        env.count("orders").await,
        env.count("order_line_items").await,
    );
    assert_eq!(counts, (4, 9));
    // Again, in small chunks that split lines.
    let second = env
        .import(&shop, RecordKind::Orders, ImportFormat::Ndjson, &data, 7)
        .await;
    assert_eq!(
        (second.rows, second.inserted, second.updated, second.skipped),
        (4, 0, 4, 0)
    );
    assert_eq!(
        (
            env.count("orders").await,
            env.count("order_line_items").await
        ),
        counts
    );
    assert_eq!(
        env.count("import_uploads").await,
        0,
        "uploads are deleted after import"
    );
}

async fn an_older_version_never_overwrites_a_newer_one(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let newer = ndjson(&[order(1, "2024-05-02T10:00:00Z", "refunded", 5)]);
    let older = ndjson(&[order(1, "2024-05-01T12:00:00Z", "paid", 1)]);
    env.import(&shop, RecordKind::Orders, ImportFormat::Ndjson, &newer, 64)
        .await;
    let late = env
        .import(&shop, RecordKind::Orders, ImportFormat::Ndjson, &older, 64)
        .await;
    assert_eq!((late.inserted, late.updated, late.skipped), (0, 0, 1));
    let summary = orders_summary(&env.store, &env.org, Some(&shop), Period::default())
        .await
        .expect("report");
    assert_eq!(summary.by_financial_status.get("refunded"), Some(&1));
    let perf = product_performance(&env.store, &env.org, Some(&shop), Period::default(), 10)
        .await
        .expect("report");
    assert_eq!(
        perf.total_units_sold, 6,
        "line items of the newer version stay"
    );
    assert_eq!(perf.top_products[0].title, PEN);
    // Within one batch the newest copy wins too, whatever its position.
    let both = ndjson(&[
        order(9, "2024-05-03T00:00:00Z", "paid", 1),
        order(9, "2024-05-02T00:00:00Z", "pending", 1),
    ]);
    let r = env
        .import(
            &shop,
            RecordKind::Orders,
            ImportFormat::Ndjson,
            &both,
            1 << 20,
        )
        .await;
    assert_eq!((r.inserted, r.updated, r.skipped), (1, 0, 1));
    let summary = orders_summary(&env.store, &env.org, Some(&shop), Period::default())
        .await
        .expect("report");
    assert_eq!(summary.by_financial_status.get("pending"), None);
}

async fn a_newer_version_replaces_the_line_items_and_variants(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let v1 = ndjson(&[order(1, "2024-05-01T10:00:00Z", "paid", 1)]);
    env.import(
        &shop,
        RecordKind::Orders,
        ImportFormat::Ndjson,
        &v1,
        1 << 20,
    )
    .await;
    assert_eq!(env.count("order_line_items").await, 2);
    // The wrap was removed from the order and the pen's quantity changed.
    let mut v2 = order(1, "2024-05-02T10:00:00Z", "paid", 3);
    v2["line_items"].as_array_mut().expect("items").truncate(1);
    let r = env
        .import(
            &shop,
            RecordKind::Orders,
            ImportFormat::Ndjson,
            &ndjson(&[v2]),
            1 << 20,
        )
        .await;
    assert_eq!(r.updated, 1);
    assert_eq!(env.count("order_line_items").await, 1);
    let perf = product_performance(&env.store, &env.org, Some(&shop), Period::default(), 10)
        .await
        .expect("report");
    assert_eq!(perf.total_units_sold, 3);
    let product = |variants: Value, updated: &str| {
        ndjson(&[json!({"id": 5, "title": "Tee", "updated_at": updated, "variants": variants})])
    };
    let two = json!([{"id": 51, "price": "9.00"}, {"id": 52, "price": "9.00"}]);
    env.import(
        &shop,
        RecordKind::Products,
        ImportFormat::Ndjson,
        &product(two, "2024-01-01T00:00:00Z"),
        1 << 20,
    )
    .await;
    let one = json!([{"id": 52, "price": "8.00"}]);
    env.import(
        &shop,
        RecordKind::Products,
        ImportFormat::Ndjson,
        &product(one, "2024-01-02T00:00:00Z"),
        1 << 20,
    )
    .await;
    assert_eq!(env.count("product_variants").await, 1);
}

async fn a_record_repeated_in_later_batches_keeps_its_newest_version(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    // 2000 orders, then the first 500 again with a newer version: the batches (of 1000) are
    // written concurrently, in whatever order.
    let mut lines: Vec<Value> = (1..=2000)
        .map(|id| order(id, "2024-05-01T10:00:00Z", "pending", 1))
        .collect();
    lines.extend((1..=500).map(|id| order(id, "2024-05-02T10:00:00Z", "paid", 2)));
    let r = env
        .import(
            &shop,
            RecordKind::Orders,
            ImportFormat::Ndjson,
            &ndjson(&lines),
            1 << 16,
        )
        .await;
    assert_eq!(r.rows, 2500);
    assert_eq!(r.inserted + r.updated + r.skipped, 2500);
    assert_eq!(env.count("orders").await, 2000);
    assert_eq!(env.count("order_line_items").await, 4000);
    let summary = orders_summary(&env.store, &env.org, Some(&shop), Period::default())
        .await
        .expect("report");
    assert_eq!(summary.by_financial_status.get("paid"), Some(&500));
    let perf = product_performance(&env.store, &env.org, Some(&shop), Period::default(), 10)
        .await
        .expect("report");
    assert_eq!(perf.total_units_sold, 500 * 3 + 1500 * 2);
}

async fn deleting_a_shop_deletes_its_data(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let data = ndjson(&[order(1, "2024-05-01T10:00:00Z", "paid", 1)]);
    env.import(
        &shop,
        RecordKind::Orders,
        ImportFormat::Ndjson,
        &data,
        1 << 20,
    )
    .await;
    env.import(
        &shop,
        RecordKind::Products,
        ImportFormat::Ndjson,
        &fixture("product.json"),
        1 << 20,
    )
    .await;
    env.import(
        &shop,
        RecordKind::Customers,
        ImportFormat::Ndjson,
        &fixture("customer.json"),
        1 << 20,
    )
    .await;
    let sql = "DELETE FROM shops WHERE id = $1";
    with_pool!(env.store.db(), |p| conea_store::sqlx::query::<DB>(sql)
        .bind(shop.as_str())
        .execute(p)
        .await
        .map(drop))
    .expect("shop deleted");
    for table in [
        "orders",
        "order_line_items",
        "products",
        "product_variants",
        "customers",
    ] {
        assert_eq!(env.count(table).await, 0, "{table}");
    }
}

async fn bad_lines_are_listed_with_line_numbers_and_good_lines_still_imported(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let good = |id| order(id, "2024-05-01T10:00:00Z", "paid", 1).to_string();
    let data = [
        good(1),
        "{not json".to_owned(),
        r#"{"id": 5, "currency": "EUR", "total_price": "1.00"}"#.to_owned(),
        good(2),
        String::new(),
        r#"{"id": 6, "created_at": "2024-05-01T10:00:00Z", "currency": "EUR", "total_price": "1.005001"}"#.to_owned(),
        good(3),
    ]
    .join("\n");
    let r = env
        .import(&shop, RecordKind::Orders, ImportFormat::Ndjson, &data, 50)
        .await;
    assert_eq!((r.rows, r.inserted, r.rejected), (6, 3, 3));
    let lines: Vec<u64> = r.bad_lines.iter().map(|b| b.line).collect();
    assert_eq!(lines, [2, 3, 6]);
    assert!(
        r.bad_lines[0].reason.starts_with("invalid JSON"),
        "{:?}",
        r.bad_lines[0]
    );
    assert_eq!(r.bad_lines[1].reason, "created_at is required");
    assert!(
        r.bad_lines[2].reason.starts_with("total_price:"),
        "{:?}",
        r.bad_lines[2]
    );
    assert_eq!(env.count("orders").await, 3);
}

async fn only_the_first_hundred_bad_lines_are_listed_but_all_are_counted(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    // One good record at the end: an import that rejects every row fails instead.
    let data = "nope\n".repeat(150)
        + &json!({"id": 1, "created_at": "2024-01-01T00:00:00Z", "currency": "USD", "total_price": "1.00"})
            .to_string();
    let r = env
        .import(
            &shop,
            RecordKind::Orders,
            ImportFormat::Ndjson,
            &data,
            1 << 20,
        )
        .await;
    assert_eq!((r.rows, r.rejected, r.bad_lines.len()), (151, 150, 100));
    assert_eq!(r.bad_lines.last().map(|b| b.line), Some(100));
}

async fn csv_orders_group_line_items_and_reject_bad_rows(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let csv = "order_id,name,created_at,currency,total_price,financial_status,line_item_id,product_id,title,quantity,price\n\
        1,#1,2024-05-01 10:00:00 +0000,EUR,25.00,paid,11,7,\"Pen, blue\",2,10.00\n\
        1,,,,,,12,,Wrap,1,5.00\n\
        2,#2,2024-05-01T11:00:00Z,EUR,abc,paid,21,7,Pen,1,10.00\n\
        3,#3,2024-05-02T11:00:00Z,EUR,10.00,pending,31,7,Pen,1,10.00\n";
    let r = env
        .import(&shop, RecordKind::Orders, ImportFormat::Csv, csv, 16)
        .await;
    assert_eq!((r.rows, r.inserted, r.rejected), (3, 2, 1));
    assert_eq!(r.bad_lines[0].line, 4);
    assert!(r.bad_lines[0].reason.starts_with("total_price:"));
    assert_eq!(env.count("order_line_items").await, 3);
    let again = env
        .import(&shop, RecordKind::Orders, ImportFormat::Csv, csv, 1 << 20)
        .await;
    assert_eq!((again.inserted, again.updated), (0, 2));
}

async fn products_and_customers_import_with_variants(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let p = env
        .import(
            &shop,
            RecordKind::Products,
            ImportFormat::Ndjson,
            &fixture("product.json"),
            100,
        )
        .await;
    assert_eq!((p.inserted, p.rejected), (1, 0));
    assert_eq!(env.count("product_variants").await, 2);
    let csv = "customer_id,email,first_name,total_spent,updated_at\n5,a@example.com,Ann,10.50,2024-01-01T00:00:00Z\n6,,,,\n";
    let c = env
        .import(
            &shop,
            RecordKind::Customers,
            ImportFormat::Csv,
            csv,
            1 << 20,
        )
        .await;
    assert_eq!((c.inserted, c.rejected), (2, 0));
    let c = env
        .import(
            &shop,
            RecordKind::Customers,
            ImportFormat::Ndjson,
            &fixture("customer.json"),
            1 << 20,
        )
        .await;
    assert_eq!(c.inserted, 1);
    assert_eq!(env.count("customers").await, 3);
}

async fn csv_without_required_columns_fails_the_import_permanently(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let args = env
        .upload(
            &shop,
            RecordKind::Orders,
            ImportFormat::Csv,
            "id,total\n1,2\n",
            1 << 20,
        )
        .await;
    let err = run_import(env.shared(), &env.org, &args, 2, &Quiet)
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("order_id"), "{}", err.message);
    // An upload that is gone (already imported) is permanent too, and so is another
    // organization's shop.
    let gone = ImportArgs {
        upload_id: "upl_missing".into(),
        ..args.clone()
    };
    assert!(
        !run_import(env.shared(), &env.org, &gone, 2, &Quiet)
            .await
            .unwrap_err()
            .retryable
    );
    let other = common::new_org(&env.store, "other").await;
    assert!(
        !run_import(env.shared(), &other, &args, 2, &Quiet)
            .await
            .unwrap_err()
            .retryable
    );
}

// ---- reports ------------------------------------------------------------------------

fn item(id: i64, product: Option<i64>, title: &str, qty: i64, price: &str) -> Value {
    json!({"id": id, "product_id": product, "title": title, "quantity": qty, "price": price})
}

/// The report fixture (USD, March 2024):
///
/// | order | created (UTC)      | status    | financial | total  | line items                           |
/// |-------|--------------------|-----------|-----------|--------|--------------------------------------|
/// | 1001  | 03-01 09:00        | closed    | paid      | 100.00 | Alpha 2×30.00, Beta 1×40.00          |
/// | 1002  | 03-02 04:30 (-05)  | open      | paid      | 55.50  | Alpha 1×30.00, Gamma 1×25.50         |
/// | 1003  | 03-02 12:00        | open      | pending   | 19.99  | Gift wrap 1×4.99, Delta 3×5.00       |
/// | 1004  | 03-03 10:00        | cancelled | voided    | 80.00  | Beta 2×40.00                         |
/// | 1005  | 02-28 10:00        | open      | paid      | 500.00 | Beta 10×50.00 (outside the period)   |
/// | 1006  | 03-31 23:59:59     | closed    | refunded  | 30.00  | Alpha 1×30.00                        |
fn report_fixture() -> String {
    let o = |id: i64,
             created: &str,
             fin: &str,
             total: &str,
             closed: bool,
             cancelled: bool,
             items: Vec<Value>| {
        json!({
            "id": id, "name": format!("#{id}"), "created_at": created, "updated_at": created,
            "closed_at": if closed { json!(created) } else { Value::Null },
            "cancelled_at": if cancelled { json!("2024-03-03T12:00:00Z") } else { Value::Null },
            "currency": "USD", "total_price": total, "financial_status": fin, "line_items": items
        })
    };
    ndjson(&[
        o(
            1001,
            "2024-03-01T09:00:00Z",
            "paid",
            "100.00",
            true,
            false,
            vec![
                item(10011, Some(501), "Alpha Tee", 2, "30.00"),
                item(10012, Some(502), "Beta Mug", 1, "40.00"),
            ],
        ),
        o(
            1002,
            "2024-03-01T23:30:00-05:00",
            "paid",
            "55.50",
            false,
            false,
            vec![
                item(10021, Some(501), "Alpha Tee", 1, "30.00"),
                item(10022, Some(503), "Gamma Cap", 1, "25.50"),
            ],
        ),
        o(
            1003,
            "2024-03-02T12:00:00Z",
            "pending",
            "19.99",
            false,
            false,
            vec![
                item(10031, None, "Gift wrap", 1, "4.99"),
                item(10032, Some(504), "Delta Socks", 3, "5.00"),
            ],
        ),
        o(
            1004,
            "2024-03-03T10:00:00Z",
            "voided",
            "80.00",
            false,
            true,
            vec![item(10041, Some(502), "Beta Mug", 2, "40.00")],
        ),
        o(
            1005,
            "2024-02-28T10:00:00Z",
            "paid",
            "500.00",
            false,
            false,
            vec![item(10051, Some(502), "Beta Mug", 10, "50.00")],
        ),
        o(
            1006,
            "2024-03-31T23:59:59Z",
            "refunded",
            "30.00",
            true,
            false,
            vec![item(10061, Some(501), "Alpha Tee", 1, "30.00")],
        ),
    ])
}

fn march() -> Period {
    conea_shopdata::PeriodArg {
        from: Some(conea_shopdata::reports::Bound::Text("2024-03-01".into())),
        to: Some(conea_shopdata::reports::Bound::Text("2024-03-31".into())),
    }
    .resolve()
    .expect("valid period")
}

async fn report_env(b: Backend) -> Option<(Env, ShopId)> {
    let env = env(b).await?;
    let shop = env.manual_shop().await;
    let r = env
        .import(
            &shop,
            RecordKind::Orders,
            ImportFormat::Ndjson,
            &report_fixture(),
            1 << 20,
        )
        .await;
    assert_eq!((r.inserted, r.rejected), (6, 0));
    // The product table's title wins over the line item's.
    let products = ndjson(&[
        json!({"id": 502, "title": "Beta Mug 350ml", "updated_at": "2024-01-01T00:00:00Z"}),
    ]);
    env.import(
        &shop,
        RecordKind::Products,
        ImportFormat::Ndjson,
        &products,
        1 << 20,
    )
    .await;
    // Noise that must stay out of the manual shop's reports: another shop of the same
    // organization, and another organization reusing the same order id.
    let other_shop = Shop {
        id: ShopId::generate(),
        org_id: env.org.clone(),
        domain: Some("other.myshopify.com".into()),
        name: "Other".into(),
        kind: ShopKind::Shopify,
        currency: Some("USD".into()),
        created_at: 1,
    };
    env.store.insert_shop(&other_shop).await.expect("shop");
    let noise = ndjson(&[
        json!({"id": 1001, "created_at": "2024-03-05T00:00:00Z", "currency": "USD",
        "total_price": "999.00", "financial_status": "paid",
        "line_items": [{"id": 99, "product_id": 501, "title": "Alpha Tee", "quantity": 1, "price": "999.00"}]}),
    ]);
    env.import(
        &other_shop.id,
        RecordKind::Orders,
        ImportFormat::Ndjson,
        &noise,
        1 << 20,
    )
    .await;
    let other_org = common::new_org(&env.store, "other-org").await;
    let foreign_shop = env.store.default_shop(&other_org, 1).await.expect("shop");
    let foreign = ImportArgs {
        upload_id: conea_shopdata::new_upload_id(),
        kind: RecordKind::Orders,
        shop_id: foreign_shop.id,
        format: ImportFormat::Ndjson,
    };
    env.store
        .append_upload_chunk(&other_org, &foreign.upload_id, 0, noise.as_bytes(), 1)
        .await
        .expect("chunk");
    run_import(env.shared(), &other_org, &foreign, 2, &Quiet)
        .await
        .expect("import");
    Some((env, shop))
}

async fn orders_summary_matches_hand_computed_figures(b: Backend) {
    let Some((env, shop)) = report_env(b).await else {
        return;
    };
    let s = orders_summary(&env.store, &env.org, Some(&shop), march())
        .await
        .expect("report");
    assert_eq!(
        s.total_orders, 5,
        "1005 is outside the period; 1004 counts although cancelled"
    );
    // 100.00 + 55.50 + 19.99 + 30.00 over 4 orders that are not cancelled.
    assert_eq!(s.total_revenue, "205.49");
    assert_eq!(s.average_order_value, "51.37");
    assert_eq!(s.currency.as_deref(), Some("USD"));
    let map = |pairs: &[(&str, i64)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    assert_eq!(
        s.by_status,
        map(&[("cancelled", 1), ("closed", 2), ("open", 2)])
    );
    assert_eq!(
        s.by_financial_status,
        map(&[("paid", 2), ("pending", 1), ("refunded", 1), ("voided", 1)])
    );
    let day = |orders, revenue: &str| DayTotals {
        orders,
        revenue: revenue.into(),
    };
    let expected: std::collections::BTreeMap<String, DayTotals> = [
        ("2024-03-01", day(1, "100.00")),
        ("2024-03-02", day(2, "75.49")),
        ("2024-03-03", day(1, "0.00")),
        ("2024-03-31", day(1, "30.00")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(s.by_day, expected);
    assert_eq!(s.period.from.as_deref(), Some("2024-03-01T00:00:00Z"));
    assert_eq!(s.period.to.as_deref(), Some("2024-04-01T00:00:00Z"));
    // All shops of the organization: the other shop's order joins; the other
    // organization's never does.
    let all = orders_summary(&env.store, &env.org, None, march())
        .await
        .expect("report");
    assert_eq!(
        (all.total_orders, all.total_revenue.as_str()),
        (6, "1204.49")
    );
}

async fn product_performance_matches_hand_computed_figures(b: Backend) {
    let Some((env, shop)) = report_env(b).await else {
        return;
    };
    let p = product_performance(&env.store, &env.org, Some(&shop), march(), 10)
        .await
        .expect("report");
    let rows: Vec<(Option<&str>, &str, i64, &str)> = p
        .top_products
        .iter()
        .map(|r| {
            (
                r.product_id.as_deref(),
                r.title.as_str(),
                r.units_sold,
                r.revenue.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (Some("501"), "Alpha Tee", 4, "120.00"),
            (Some("502"), "Beta Mug 350ml", 1, "40.00"),
            (Some("503"), "Gamma Cap", 1, "25.50"),
            (Some("504"), "Delta Socks", 3, "15.00"),
            (None, "Gift wrap", 1, "4.99"),
        ]
    );
    assert_eq!(
        (p.total_units_sold, p.total_revenue.as_str()),
        (10, "205.49")
    );
    let top2 = product_performance(&env.store, &env.org, Some(&shop), march(), 2)
        .await
        .expect("report");
    assert_eq!(top2.top_products.len(), 2);
    assert_eq!(
        top2.total_revenue, "205.49",
        "totals cover every product, not only the top"
    );
}

// ---- job handlers -------------------------------------------------------------------

async fn context(env: &Env, kind: &str, args: Value) -> (JobContext, Arc<dyn JobStore>) {
    // The sender may go: the receiver keeps reading "not cancelled".
    let (ctx, jobs, _) = cancellable_context(env, kind, args).await;
    (ctx, jobs)
}

async fn cancellable_context(
    env: &Env,
    kind: &str,
    args: Value,
) -> (
    JobContext,
    Arc<dyn JobStore>,
    tokio::sync::watch::Sender<bool>,
) {
    let jobs: Arc<dyn JobStore> = Arc::new(env.store.clone());
    let clock = FakeClock::new(1_700_000_000_000);
    let now = clock.now_ms();
    jobs.enqueue(&NewJob::new(kind, env.org.clone(), args), now)
        .await
        .expect("enqueued");
    let job = jobs
        .claim("worker-1", 1, 1, now, Duration::from_secs(60))
        .await
        .expect("claimed")
        .pop()
        .expect("one job");
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let ctx = JobContext::new(
        job,
        Arc::new(clock),
        jobs.clone(),
        "worker-1".into(),
        cancel,
    );
    (ctx, jobs, cancel_tx)
}

/// Polls the job until its progress message is `message` (a bounded number of times).
async fn until_progress_says(jobs: &Arc<dyn JobStore>, ctx: &JobContext, message: &str) {
    for _ in 0..500 {
        let job = jobs.get(&ctx.job.id).await.expect("read").expect("job");
        if job.progress_message.as_deref() == Some(message) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the job never said `{message}`");
}

/// An import of the report fixture whose handler waits for its turn: the test holds the
/// process's only turn (as another import would) and the import has said it waits.
struct WaitingImport {
    turns: ImportTurns,
    running: conea_shopdata::jobs::ImportTurn,
    cancel: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<Value, conea_jobs::JobError>>,
}

async fn waiting_import(env: &Env) -> WaitingImport {
    let shop = env.manual_shop().await;
    let args = env
        .upload(
            &shop,
            RecordKind::Orders,
            ImportFormat::Ndjson,
            &report_fixture(),
            100,
        )
        .await;
    let (ctx, jobs, cancel) = cancellable_context(
        env,
        "data.import",
        serde_json::to_value(&args).expect("json"),
    )
    .await;
    let turns = ImportTurns::new(1);
    let running = turns.try_take().expect("a free turn");
    let handler = Arc::new(Typed(ImportHandler::with_turns(
        env.shared(),
        turns.clone(),
    )));
    let ctx = Arc::new(ctx);
    let task = tokio::spawn({
        let (handler, ctx) = (handler.clone(), ctx.clone());
        async move { handler.run(&ctx).await }
    });
    until_progress_says(
        &jobs,
        &ctx,
        &conea_shopdata::ProgressNote::WaitingForTurn.to_string(),
    )
    .await;
    WaitingImport {
        turns,
        running,
        cancel,
        task,
    }
}

async fn an_import_waits_for_its_turn_while_another_runs_in_the_process_and_then_imports(
    b: Backend,
) {
    let Some(env) = env(b).await else { return };
    let w = waiting_import(&env).await;
    assert!(
        !w.task.is_finished(),
        "it waits while the other import runs"
    );
    assert_eq!(
        env.count("orders").await,
        0,
        "nothing imported before its turn"
    );
    drop(w.running);
    let result = w
        .task
        .await
        .expect("joined")
        .expect("imports once its turn came");
    assert_eq!(result["inserted"], 6);
    assert_eq!(env.count("orders").await, 6);
    assert_eq!(w.turns.available(), 1, "its turn is given back");
}

async fn an_import_cancelled_while_waiting_for_its_turn_stops_without_importing(b: Backend) {
    let Some(env) = env(b).await else { return };
    let w = waiting_import(&env).await;
    w.cancel.send(true).expect("the job listens");
    let error = w.task.await.expect("joined").expect_err("stopped");
    assert!(!error.retryable, "{}", error.message);
    assert_eq!(env.count("orders").await, 0);
}

async fn import_handler_runs_through_a_job_context_and_reports_progress(b: Backend) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let args = env
        .upload(
            &shop,
            RecordKind::Orders,
            ImportFormat::Ndjson,
            &report_fixture(),
            100,
        )
        .await;
    let (ctx, jobs) = context(
        &env,
        "data.import",
        serde_json::to_value(&args).expect("json"),
    )
    .await;
    let handler = Typed(ImportHandler::new(env.shared()));
    assert_eq!(handler.kind(), "data.import");
    let result = handler.run(&ctx).await.expect("import succeeds");
    assert_eq!(result["inserted"], 6);
    assert_eq!(result["rows"], 6);
    assert_eq!(result["bad_lines"], json!([]));
    let job = jobs.get(&ctx.job.id).await.expect("read").expect("job");
    assert_eq!(job.progress, 100);
    assert_eq!(env.count("import_uploads").await, 0);
    let bad = context(&env, "data.import", json!({"upload_id": 1}))
        .await
        .0;
    assert!(!handler.run(&bad).await.unwrap_err().retryable);
}

async fn process_handler_returns_the_report_as_its_result(b: Backend) {
    let Some((env, shop)) = report_env(b).await else {
        return;
    };
    let handler = Typed(ProcessHandler::new(env.shared()));
    let args = json!({"operation": "orders_summary", "shop_id": shop,
                      "period": {"from": "2024-03-01T00:00:00Z", "to": 1_711_929_600_000i64}});
    let (ctx, _) = context(&env, "data.process", args).await;
    let result = handler.run(&ctx).await.expect("report");
    assert_eq!(result["total_orders"], 5);
    assert_eq!(result["total_revenue"], "205.49");
    assert_eq!(
        result["by_day"]["2024-03-02"],
        json!({"orders": 2, "revenue": "75.49"})
    );
    let args = json!({"operation": "product_performance", "shop_id": shop,
                      "period": {"from": "2024-03-01", "to": "2024-03-31"}, "params": {"limit": 1}});
    let (ctx, _) = context(&env, "data.process", args).await;
    let result = handler.run(&ctx).await.expect("report");
    assert_eq!(
        result["top_products"],
        json!([{"product_id": "501", "title": "Alpha Tee", "units_sold": 4, "revenue": "120.00"}])
    );
    assert_eq!(result["total_units_sold"], 10);
    let (bad, _) = context(
        &env,
        "data.process",
        json!({"operation": "orders_summary", "params": {"limit": -1}}),
    )
    .await;
    assert!(!handler.run(&bad).await.unwrap_err().retryable);
}

backend_tests!(
    manual_shop_is_created_once_and_shops_are_found_by_id_or_domain,
    reimporting_the_same_file_updates_and_inserts_nothing,
    an_older_version_never_overwrites_a_newer_one,
    a_newer_version_replaces_the_line_items_and_variants,
    deleting_a_shop_deletes_its_data,
    a_record_repeated_in_later_batches_keeps_its_newest_version,
    bad_lines_are_listed_with_line_numbers_and_good_lines_still_imported,
    only_the_first_hundred_bad_lines_are_listed_but_all_are_counted,
    csv_orders_group_line_items_and_reject_bad_rows,
    products_and_customers_import_with_variants,
    csv_without_required_columns_fails_the_import_permanently,
    orders_summary_matches_hand_computed_figures,
    product_performance_matches_hand_computed_figures,
    import_handler_runs_through_a_job_context_and_reports_progress,
    an_import_waits_for_its_turn_while_another_runs_in_the_process_and_then_imports,
    an_import_cancelled_while_waiting_for_its_turn_stops_without_importing,
    process_handler_returns_the_report_as_its_result,
    an_interrupted_import_resumes_after_its_last_committed_batch_and_a_finished_one_answers_its_report_again,
    orphan_upload_chunks_are_pruned_and_sealed_uploads_kept,
    batches_of_new_sizes_add_nothing_to_the_connections_statement_cache,
);

/// A batch's SQLite statements (multi-row `VALUES`, `IN` lists) have a text of their own for
/// each batch size, and each can hold tens of thousands of parameters: kept in a pooled
/// connection's statement cache (sqlx keeps 100 per connection), an import's batches filled
/// every connection's cache and RSS grew with each import (bench/sqlite_rss.sh). Batches of
/// 40 new sizes, inserted and then updated (children deleted and inserted again), leave the
/// connection's cache as the first batch left it, on both backends.
async fn batches_of_new_sizes_add_nothing_to_the_connections_statement_cache(b: Backend) {
    let Some((store, org, _db)) = common::env_with(b, 1).await else {
        return;
    };
    let shop = store.default_shop(&org, 1).await.expect("shop").id;
    let orders = |first: i64, n: i64, updated: &str| -> Vec<conea_shopdata::Order> {
        (first..first + n)
            .map(|id| {
                match parse_ndjson_line(
                    RecordKind::Orders,
                    &order(id, updated, "paid", 1).to_string(),
                ) {
                    Ok(Record::Order(o)) => o,
                    other => panic!("not an order: {other:?}"),
                }
            })
            .collect()
    };
    let write = |first: i64, n: i64| {
        let (store, org, shop) = (&store, &org, &shop);
        async move {
            let new = orders(first, n, "2024-05-01T10:00:00Z");
            let counts = store
                .upsert_orders(org, shop, &new, 2)
                .await
                .expect("insert");
            assert_eq!(counts.inserted, n as u64);
            let newer = orders(first, n, "2024-05-02T10:00:00Z");
            let counts = store
                .upsert_orders(org, shop, &newer, 3)
                .await
                .expect("update");
            assert_eq!(counts.updated, n as u64);
        }
    };
    let cached = || async {
        with_pool!(store.db(), |p| {
            use conea_store::sqlx::Connection;
            let conn = p.acquire().await.expect("the pool's connection");
            conn.cached_statements_size()
        })
    };
    write(1, 1).await;
    let after_first = cached().await;
    let mut next = 2;
    for n in 2..=40 {
        write(next, n).await;
        next += n;
    }
    assert_eq!(
        cached().await,
        after_first,
        "the statement cache grew with the batch sizes"
    );
    // Counted after: this query is cached like any fixed statement.
    assert_eq!(env_count(&store, "orders").await, next - 1);
}

async fn env_count(store: &SqlStore, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    with_pool!(store.db(), |p| conea_store::sqlx::query_scalar::<DB, i64>(
        &sql
    )
    .fetch_one(p)
    .await)
    .expect("count")
}

/// Cancels the import once it has read `after` chunks: the interruption of a crash (the
/// writers stop; what they committed stays).
struct StopAfter {
    after: u32,
    seen: std::sync::atomic::AtomicU32,
}

#[async_trait::async_trait]
impl conea_shopdata::ImportProgress for StopAfter {
    async fn progress(&self, _percent: u8, _note: &conea_shopdata::ProgressNote) {}
    fn is_cancelled(&self) -> bool {
        self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= self.after
    }
}

async fn an_interrupted_import_resumes_after_its_last_committed_batch_and_a_finished_one_answers_its_report_again(
    b: Backend,
) {
    let Some(env) = env(b).await else { return };
    let shop = env.manual_shop().await;
    let total = 8000u64;
    let mut csv = String::from("customer_id,email\n");
    for i in 1..=total {
        csv.push_str(&format!("{i},c{i}@example.com\n"));
    }
    let args = env
        .upload(&shop, RecordKind::Customers, ImportFormat::Csv, &csv, 4096)
        .await;
    let stop = StopAfter {
        after: 35,
        seen: Default::default(),
    };
    let err = run_import(env.shared(), &env.org, &args, 2, &stop)
        .await
        .unwrap_err();
    assert!(err.message.contains("cancelled"), "{}", err.message);
    let checkpoint: ImportReport = serde_json::from_str(
        &env.store
            .import_checkpoint(&env.org, &args.upload_id)
            .await
            .unwrap()
            .expect("a checkpoint after the committed batches"),
    )
    .unwrap();
    let done = checkpoint.rows;
    assert!(
        done >= 1000 && done.is_multiple_of(1000) && done < total,
        "{checkpoint:?}"
    );
    assert_eq!(checkpoint.inserted, done);
    // Batches in flight when it stopped may be stored without being in the checkpoint.
    let stored = env.count("customers").await as u64;
    assert!(stored >= done, "{stored} < {done}");

    let report = run_import(env.shared(), &env.org, &args, 3, &Quiet)
        .await
        .expect("the resumed import completes");
    assert_eq!(report.resumed_after, done, "{report:?}");
    assert_eq!((report.rows, report.rejected), (total, 0));
    // Nothing before the checkpoint was written again (it would count as updated), nothing
    // is lost or counted twice.
    assert_eq!(report.updated, stored - done, "{report:?}");
    assert_eq!(report.inserted + report.updated, total, "{report:?}");
    assert_eq!(env.count("customers").await as u64, total);
    // The finished import took its chunks with it.
    assert!(env
        .store
        .upload_info(&env.org, &args.upload_id)
        .await
        .unwrap()
        .is_none());
    // Run again, as a retry is when the job's completion was never recorded (the process
    // died, or the write failed, after the import ended): the same report, not "no data",
    // and nothing written twice.
    let again = run_import(env.shared(), &env.org, &args, 4, &Quiet)
        .await
        .expect("a finished import answers its report again");
    assert_eq!(again, report);
    assert_eq!(env.count("customers").await as u64, total);
    // Only within its own organization.
    let other = common::new_org(&env.store, "other-retry").await;
    assert!(
        !run_import(env.shared(), &other, &args, 4, &Quiet)
            .await
            .unwrap_err()
            .retryable
    );
}

async fn orphan_upload_chunks_are_pruned_and_sealed_uploads_kept(b: Backend) {
    let Some(env) = env(b).await else { return };
    let minute = 60_000;
    let store = &env.store;
    // Never sealed, idle since minute 10: its request died.
    for (seq, at) in [(0, 5), (1, 10)] {
        store
            .append_upload_chunk(&env.org, "upl_orphan", seq, b"x", at * minute)
            .await
            .unwrap();
    }
    // Never sealed but still receiving (a chunk at minute 35).
    for (seq, at) in [(0, 1), (1, 35)] {
        store
            .append_upload_chunk(&env.org, "upl_live", seq, b"x", at * minute)
            .await
            .unwrap();
    }
    // Sealed at minute 1: its job owns it, however long the queue.
    store
        .append_upload_chunk(&env.org, "upl_sealed", 0, b"x", minute)
        .await
        .unwrap();
    store
        .save_import_checkpoint(
            &env.org,
            "upl_sealed",
            &conea_shopdata::initial_checkpoint(),
            minute,
        )
        .await
        .unwrap();
    let org = &env.org;
    let info = |id: &'static str| async move {
        store.upload_info(org, id).await.unwrap().map(|i| i.chunks)
    };
    // At minute 40, with a 30-minute orphan horizon and a 7-day retention.
    let pruned = store.prune_uploads(-1, 10 * minute).await.unwrap();
    assert_eq!(pruned, 0, "idle exactly 30 minutes is not yet an orphan");
    let pruned = store.prune_uploads(-1, 10 * minute + 1).await.unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(info("upl_orphan").await, None);
    assert_eq!(info("upl_live").await, Some(2));
    assert_eq!(info("upl_sealed").await, Some(1));
    // Past the retention everything goes, checkpoints too.
    store.prune_uploads(100 * minute, 0).await.unwrap();
    assert_eq!(info("upl_sealed").await, None);
    assert!(store
        .import_checkpoint(&env.org, "upl_sealed")
        .await
        .unwrap()
        .is_none());
}
