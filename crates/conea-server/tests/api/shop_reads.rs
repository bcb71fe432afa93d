//! The read API (`GET /v1/shop/…`) on a small fixture of two shops: each filter, each sort,
//! keyset pages that stay whole while orders are inserted between them, records by id with
//! their children and figures, another organization's 404, 400s naming the parameter, and
//! the CSV and NDJSON exports (header, quoting, exact money, every matching row).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_core::clock::Clock;
use conea_core::ids::{OrgId, ShopId};
use conea_core::permissions::Permission;
use conea_shopdata::fields::time;
use conea_shopdata::{Customer, LineItem, Money, Order, Product, Shop, ShopKind, Variant};
use conea_testkit::{backend_tests, Backend, Client, Resp, TestApp};
use serde_json::{json, Value};
use std::collections::HashSet;

struct Fixture {
    org: OrgId,
    manual: ShopId,
    other: ShopId,
}

fn at(text: &str) -> i64 {
    time("t", text).unwrap()
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn order(id: i64, created: &str, total: &str, currency: &str) -> Order {
    Order {
        source_id: id,
        name: Some(format!("#{id}")),
        email: Some(format!("buyer{id}@example.com")),
        customer_id: None,
        currency: currency.into(),
        total_price: money(total),
        subtotal_price: Some(money(total)),
        financial_status: Some("paid".into()),
        fulfillment_status: None,
        created_at: at(created),
        updated_at: at(created),
        cancelled_at: None,
        closed_at: None,
        total_discounts: Money::ZERO,
        total_refunded: Money::ZERO,
        line_items: Vec::new(),
    }
}

fn line(id: i64, product: i64, title: &str, quantity: i64, price: &str) -> LineItem {
    LineItem {
        source_id: id,
        product_id: Some(product),
        variant_id: Some(product * 10),
        title: title.into(),
        sku: Some(format!("SKU-{product}")),
        quantity,
        price: money(price),
    }
}

fn customer(id: i64, email: &str, first: &str, created: &str) -> Customer {
    Customer {
        source_id: id,
        email: Some(email.into()),
        first_name: Some(first.into()),
        last_name: Some("Doe".into()),
        orders_count: None,
        total_spent: None,
        created_at: Some(at(created)),
        updated_at: at(created),
    }
}

fn product(id: i64, title: &str, created: &str, variants: &[(i64, &str, Option<i64>)]) -> Product {
    Product {
        source_id: id,
        title: title.into(),
        vendor: Some("Acme".into()),
        product_type: Some("Kitchen".into()),
        status: Some("active".into()),
        created_at: Some(at(created)),
        updated_at: at(created),
        variants: variants
            .iter()
            .map(|(vid, price, stock)| Variant {
                source_id: *vid,
                title: Some(format!("V{vid}")),
                sku: Some(format!("SKU-{vid}")),
                price: Some(money(price)),
                inventory_quantity: *stock,
            })
            .collect(),
    }
}

async fn org_of(app: &TestApp, key: &str) -> OrgId {
    let r = app.client.get("/v1/auth/verify", Some(key)).await;
    OrgId::parse(r.body["organization_id"].as_str().unwrap()).unwrap()
}

async fn put_orders(app: &TestApp, f: &Fixture, shop: &ShopId, orders: &[Order]) {
    let store = app.state.platform().data.store();
    store
        .upsert_orders(&f.org, shop, orders, app.clock.now_ms())
        .await
        .unwrap();
}

/// Two shops: the manual one (USD, no shop currency) and `b.myshopify.com` (a JPY shop
/// with JPY and EUR orders).
async fn fixture(app: &TestApp) -> Fixture {
    let org = org_of(app, app.owner()).await;
    let store = app.state.platform().data.store().clone();
    let now = app.clock.now_ms();
    let manual = store.default_shop(&org, now).await.unwrap().id;
    let other = ShopId::generate();
    store
        .insert_shop(&Shop {
            id: other.clone(),
            org_id: org.clone(),
            domain: Some("b.myshopify.com".into()),
            name: "B".into(),
            kind: ShopKind::Shopify,
            currency: Some("JPY".into()),
            created_at: now,
        })
        .await
        .unwrap();
    let f = Fixture {
        org,
        manual: manual.clone(),
        other: other.clone(),
    };
    let mut o1 = order(1001, "2026-03-01T10:00:00Z", "100.00", "USD");
    o1.customer_id = Some(42);
    o1.email = Some("ann@example.com".into());
    o1.fulfillment_status = Some("fulfilled".into());
    o1.total_discounts = money("5.5");
    o1.line_items = vec![line(1, 1, "Mug", 2, "30.00"), line(2, 2, "Tea", 1, "40.00")];
    let mut o2 = order(1002, "2026-03-01T15:30:00Z", "50.50", "USD");
    o2.customer_id = Some(43);
    o2.financial_status = Some("pending".into());
    o2.line_items = vec![line(3, 2, "Tea", 1, "50.50")];
    let mut o3 = order(1003, "2026-03-02T09:00:00Z", "20.00", "USD");
    o3.customer_id = Some(42);
    o3.email = Some("ann@example.com".into());
    o3.financial_status = Some("refunded".into());
    o3.cancelled_at = Some(at("2026-03-02T10:00:00Z"));
    o3.total_refunded = money("20");
    o3.updated_at = at("2026-03-10T00:00:00Z");
    o3.line_items = vec![line(4, 1, "Mug", 1, "20.00")];
    let mut o4 = order(1004, "2026-03-03T12:00:00Z", "9.99", "USD");
    o4.email = Some("Zed@Example.com".into());
    o4.fulfillment_status = Some("fulfilled".into());
    o4.line_items = vec![line(5, 3, "Spoon", 3, "3.33")];
    put_orders(app, &f, &manual, &[o1, o2, o3, o4]).await;
    let mut o5 = order(2001, "2026-03-04T08:00:00Z", "1500", "JPY");
    o5.customer_id = Some(42);
    o5.line_items = vec![line(6, 1, "Mug B", 1, "1500")];
    let mut o6 = order(2002, "2026-03-05T08:00:00Z", "12.3456", "EUR");
    o6.customer_id = Some(44);
    o6.line_items = vec![line(7, 7, "Cup", 1, "12.3456")];
    let mut o7 = order(2003, "2026-03-06T08:00:00Z", "7.50", "EUR");
    o7.customer_id = Some(44);
    put_orders(app, &f, &other, &[o5, o6, o7]).await;
    let now = app.clock.now_ms();
    store
        .upsert_customers(
            &f.org,
            &manual,
            &[
                customer(42, "ann@example.com", "Ann", "2026-01-01T00:00:00Z"),
                customer(43, "bob@example.com", "Bob", "2026-02-01T00:00:00Z"),
            ],
            now,
        )
        .await
        .unwrap();
    store
        .upsert_customers(
            &f.org,
            &other,
            &[
                customer(42, "carla@example.com", "Carla", "2026-01-15T00:00:00Z"),
                customer(
                    44,
                    "dan@example.com",
                    "Dan, \"the\" buyer",
                    "2026-02-15T00:00:00Z",
                ),
            ],
            now,
        )
        .await
        .unwrap();
    store
        .upsert_products(
            &f.org,
            &manual,
            &[
                product(
                    1,
                    "Mug",
                    "2025-01-01T00:00:00Z",
                    &[(10, "30.00", Some(5)), (11, "32.50", Some(7))],
                ),
                product(2, "Tea", "2025-02-01T00:00:00Z", &[(20, "40.00", None)]),
                product(3, "Spoon", "2025-03-01T00:00:00Z", &[(30, "3.33", Some(0))]),
            ],
            now,
        )
        .await
        .unwrap();
    let mut draft = product(1, "Mug B", "2025-04-01T00:00:00Z", &[(12, "1500", Some(2))]);
    draft.status = Some("draft".into());
    draft.vendor = Some("Other".into());
    draft.product_type = Some("Mugs".into());
    store
        .upsert_products(&f.org, &other, &[draft], now)
        .await
        .unwrap();
    f
}

async fn get(app: &TestApp, path: &str) -> Resp {
    app.client.get(path, Some(app.owner())).await
}

fn ids(r: &Resp) -> Vec<i64> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

async fn order_ids(app: &TestApp, query: &str) -> Vec<i64> {
    ids(&get(app, &format!("/v1/shop/orders?{query}")).await)
}

async fn raw(app: &TestApp, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut req = app
        .client
        .http()
        .get(app.client.url(path))
        .bearer_auth(app.owner());
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, r.text().await.unwrap())
}

backend_tests!(
    each_order_filter_selects_exactly_the_matching_orders,
    each_order_sort_orders_by_its_key_newest_first_by_default,
    pages_neither_repeat_nor_skip_rows_while_rows_are_inserted_between_them,
    an_order_by_id_has_its_line_items_and_its_customer_summary,
    products_carry_their_variants_and_stock_and_filter_and_sort,
    customers_carry_order_count_spending_per_currency_and_first_and_last_order,
    another_organizations_ids_and_shops_answer_404_and_a_reader_needs_data_read,
    bad_parameters_answer_400_naming_the_parameter,
    csv_export_has_a_header_quotes_cells_keeps_money_exact_and_has_every_matching_row,
    ndjson_export_streams_every_matching_row_past_one_export_page,
);

async fn each_order_filter_selects_exactly_the_matching_orders(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let f = fixture(&app).await;
    let all = order_ids(&app, "").await;
    assert_eq!(all, vec![2003, 2002, 2001, 1004, 1003, 1002, 1001]);
    let cases: Vec<(String, Vec<i64>)> = vec![
        (
            "created_from=2026-03-02".into(),
            vec![2003, 2002, 2001, 1004, 1003],
        ),
        ("created_to=2026-03-01".into(), vec![1002, 1001]),
        (
            "created_from=2026-03-01T12:00:00Z&created_to=2026-03-03T12:00:00Z".into(),
            vec![1003, 1002],
        ),
        ("updated_since=2026-03-07".into(), vec![1003]),
        ("financial_status=pending".into(), vec![1002]),
        ("financial_status=REFUNDED".into(), vec![1003]),
        ("fulfillment_status=fulfilled".into(), vec![1004, 1001]),
        ("customer_id=42".into(), vec![2001, 1003, 1001]),
        ("customer_id=44".into(), vec![2003, 2002]),
        ("product_id=1".into(), vec![2001, 1003, 1001]),
        ("product_id=2".into(), vec![1002, 1001]),
        (format!("shop_id={}", f.other), vec![2003, 2002, 2001]),
        ("shop_id=B.myshopify.com".into(), vec![2003, 2002, 2001]),
        (
            format!("shop_id={}", f.manual),
            vec![1004, 1003, 1002, 1001],
        ),
        ("q=%231002".into(), vec![1002]),
        ("q=100".into(), vec![1004, 1003, 1002, 1001]),
        ("q=ann".into(), vec![1003, 1001]),
        ("q=zed%40".into(), vec![1004]),
        ("q=%25".into(), vec![]),
        ("customer_id=42&shop_id=b.myshopify.com".into(), vec![2001]),
        (
            "product_id=1&financial_status=paid".into(),
            vec![2001, 1001],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(order_ids(&app, &query).await, expected, "{query}");
    }
    // The list item: exact money in the order's currency, RFC 3339 times, derived status.
    let r = get(&app, "/v1/shop/orders?q=%231003").await;
    let o = &r.body["data"][0];
    assert_eq!(o["total_price"], "20.00");
    assert_eq!(o["total_refunded"], "20.00");
    assert_eq!(o["total_discounts"], "0.00");
    assert_eq!(o["status"], "cancelled");
    assert_eq!(o["created_at"], "2026-03-02T09:00:00Z");
    assert_eq!(o["shop_id"], f.manual.as_str());
    assert!(o.get("line_items").is_none());
}

async fn each_order_sort_orders_by_its_key_newest_first_by_default(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let f = fixture(&app).await;
    // A tie on created_at and on total_price: broken by (shop, id), in the sort's direction.
    put_orders(
        &app,
        &f,
        &f.manual,
        &[order(1005, "2026-03-01T10:00:00Z", "50.50", "USD")],
    )
    .await;
    assert_eq!(
        order_ids(&app, "sort=created_at").await,
        vec![1001, 1005, 1002, 1003, 1004, 2001, 2002, 2003]
    );
    assert_eq!(
        order_ids(&app, "sort=-created_at").await,
        vec![2003, 2002, 2001, 1004, 1003, 1002, 1005, 1001]
    );
    assert_eq!(
        order_ids(&app, "").await,
        order_ids(&app, "sort=-created_at").await
    );
    // Amounts compare as stored (ten-thousandths), whatever the currency.
    assert_eq!(
        order_ids(&app, &format!("sort=total_price&shop_id={}", f.manual)).await,
        vec![1004, 1003, 1002, 1005, 1001]
    );
    assert_eq!(
        order_ids(&app, &format!("sort=-total_price&shop_id={}", f.manual)).await,
        vec![1001, 1005, 1002, 1003, 1004]
    );
}

/// Follows `next_cursor` with `limit` rows a page, calling `between` after each page.
async fn walk(
    app: &TestApp,
    list: &str,
    query: &str,
    limit: u32,
    mut between: impl AsyncFnMut(usize),
) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let mut path = format!("/v1/shop/{list}?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = get(app, &path).await;
        let got = ids(&r);
        assert!(got.len() <= limit as usize);
        seen.extend(got);
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        between(page).await;
        assert!(page < 100, "the pages never end");
    }
    seen
}

async fn pages_neither_repeat_nor_skip_rows_while_rows_are_inserted_between_them(b: Backend) {
    // Over a hundred pages: past the default rate limit.
    let Some(app) = TestApp::spawn_with(b, &[("RATE_LIMIT_ENABLED", "false")]).await else {
        return;
    };
    let f = fixture(&app).await;
    let base = at("2026-05-01T00:00:00Z");
    let originals: Vec<Order> = (0..40)
        .map(|i| {
            let mut o = order(5000 + i, "2026-05-01T00:00:00Z", "1.00", "USD");
            // Pairs share a creation time and a price, so ties cross page boundaries.
            o.created_at = base + (i / 2) * 60_000;
            o.total_price = Money::from_units(10_000 * (1 + (i % 7)));
            o
        })
        .collect();
    put_orders(&app, &f, &f.manual, &originals).await;
    let wanted: HashSet<i64> = originals.iter().map(|o| o.source_id).collect();
    let mut next_id = 9000;
    for sort in ["-created_at", "created_at", "total_price", "-total_price"] {
        let app_ref = &app;
        let f_ref = &f;
        let query = format!("shop_id={}&created_from=2026-05-01&sort={sort}", f.manual);
        let seen = walk(app_ref, "orders", &query, 6, async |_page| {
            // Inserted between pages: one sorting before everything, one after, one tying
            // with the originals.
            let mut new = Vec::new();
            for (k, created, cents) in [
                (0, "2026-05-01T00:00:00Z", 1),
                (1, "2026-05-01T12:00:00Z", 999_999),
                (2, "2026-05-01T00:05:00Z", 30_000),
            ] {
                let mut o = order(next_id + k, created, "1.00", "USD");
                o.total_price = Money::from_units(cents);
                new.push(o);
            }
            next_id += 3;
            put_orders(app_ref, f_ref, &f_ref.manual, &new).await;
        })
        .await;
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{sort}: a row came twice: {seen:?}"
        );
        assert!(
            wanted.is_subset(&unique),
            "{sort}: rows were skipped: {seen:?}"
        );
    }
    // Products: some without a creation time (they sort as the earliest), and products
    // inserted between pages, for both record sorts.
    let store = app.state.platform().data.store().clone();
    let products: Vec<Product> = (0..15)
        .map(|i| {
            let mut p = product(700 + i, "P", "2025-06-01T00:00:00Z", &[]);
            p.created_at = (i % 3 != 0).then_some(at("2025-06-01T00:00:00Z") + (i / 2) * 1000);
            p
        })
        .collect();
    store
        .upsert_products(&f.org, &f.manual, &products, app.clock.now_ms())
        .await
        .unwrap();
    let mut next_product = 800;
    for sort in ["created_at", "-created_at", "updated_at", "-updated_at"] {
        let query = format!("shop_id={}&q=p&sort={sort}", f.manual);
        let (store, f_ref) = (&store, &f);
        let seen = walk(&app, "products", &query, 4, async |_page| {
            let mut early = product(next_product, "P new", "2025-06-01T00:00:00Z", &[]);
            early.created_at = None;
            let late = product(next_product + 1, "P new", "2027-01-01T00:00:00Z", &[]);
            next_product += 2;
            store
                .upsert_products(&f_ref.org, &f_ref.manual, &[early, late], 0)
                .await
                .unwrap();
        })
        .await;
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{sort}: a product came twice: {seen:?}"
        );
        assert!(
            (700..715).all(|id| unique.contains(&id)),
            "{sort}: products were skipped: {seen:?}"
        );
    }
    // A cursor continues the sort it came from, whatever `sort` the next request names;
    // text that is not a cursor is refused.
    let r = get(&app, "/v1/shop/orders?limit=1&sort=created_at").await;
    let c = r.body["next_cursor"].as_str().unwrap().to_owned();
    let same = get(
        &app,
        &format!("/v1/shop/orders?limit=1&sort=created_at&cursor={c}"),
    )
    .await;
    let other = get(
        &app,
        &format!("/v1/shop/orders?limit=1&sort=total_price&cursor={c}"),
    )
    .await;
    assert_eq!(other.status.as_u16(), 200, "{}", other.body);
    assert_eq!(other.body["data"], same.body["data"]);
    assert_eq!(other.body["next_cursor"], same.body["next_cursor"]);
    get(&app, "/v1/shop/orders?limit=1&cursor=bm90IGEgY3Vyc29y")
        .await
        .assert_error(400, "invalid_parameter");
}

async fn an_order_by_id_has_its_line_items_and_its_customer_summary(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let f = fixture(&app).await;
    let r = get(&app, "/v1/shop/orders/1001").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let o = &r.body;
    assert_eq!(
        (o["id"].as_i64(), o["name"].as_str()),
        (Some(1001), Some("#1001"))
    );
    assert_eq!(o["financial_status"], "paid");
    assert_eq!(o["total_discounts"], "5.50");
    assert_eq!(o["total_refunded"], "0.00");
    let items = o["line_items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["title"], "Mug");
    assert_eq!(items[0]["price"], "30.00");
    assert_eq!(items[0]["total"], "60.00");
    assert_eq!(items[0]["quantity"], 2);
    let c = &o["customer"];
    assert_eq!(c["id"], 42);
    assert_eq!(c["email"], "ann@example.com");
    // 1003 is cancelled: not counted.
    assert_eq!(c["order_count"], 1);
    assert_eq!(
        c["total_spent"],
        json!([{"currency": "USD", "amount": "100.00"}])
    );
    // An order without a customer, and one in the other shop.
    assert_eq!(
        get(&app, "/v1/shop/orders/1004").await.body["customer"],
        Value::Null
    );
    let r = get(&app, &format!("/v1/shop/orders/2002?shop_id={}", f.other)).await;
    assert_eq!(r.body["total_price"], "12.3456");
    assert_eq!(r.body["customer"]["first_name"], "Dan, \"the\" buyer");
    assert_eq!(
        r.body["customer"]["total_spent"],
        json!([{"currency": "EUR", "amount": "19.8456"}])
    );
    get(&app, "/v1/shop/orders/999999")
        .await
        .assert_error(404, "not_found");
    get(&app, "/v1/shop/orders/abc")
        .await
        .assert_error(404, "not_found");
    // The order exists, but not in that shop.
    get(&app, &format!("/v1/shop/orders/1001?shop_id={}", f.other))
        .await
        .assert_error(404, "not_found");
}

async fn products_carry_their_variants_and_stock_and_filter_and_sort(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let f = fixture(&app).await;
    let r = get(&app, "/v1/shop/products").await;
    assert_eq!(ids(&r), vec![1, 3, 2, 1]);
    let mug = &r.body["data"][3];
    assert_eq!(mug["shop_id"], f.manual.as_str());
    assert_eq!(mug["inventory_quantity"], 12);
    assert_eq!(mug["variants"].as_array().unwrap().len(), 2);
    assert_eq!(mug["variants"][1]["price"], "32.50");
    assert_eq!(r.body["data"][2]["inventory_quantity"], Value::Null);
    let products = |q: &'static str| {
        let app = &app;
        async move { ids(&get(app, &format!("/v1/shop/products?{q}")).await) }
    };
    assert_eq!(products("sort=created_at").await, vec![1, 2, 3, 1]);
    assert_eq!(products("status=draft").await, vec![1]);
    assert_eq!(products("product_type=Mugs").await, vec![1]);
    assert_eq!(products("vendor=Acme&sort=created_at").await, vec![1, 2, 3]);
    assert_eq!(products("q=mu&sort=created_at").await, vec![1, 1]);
    assert_eq!(products("q=sku-3").await, vec![3]);
    assert_eq!(
        products("created_from=2025-02-01&created_to=2025-03-01").await,
        vec![3, 2]
    );
    // Product 1 is in both shops: by id, the shop must be named.
    get(&app, "/v1/shop/products/1")
        .await
        .assert_error(400, "invalid_parameter");
    let r = get(&app, "/v1/shop/products/1?shop_id=b.myshopify.com").await;
    assert_eq!(r.body["title"], "Mug B", "{}", r.text);
    assert_eq!(r.body["inventory_quantity"], 2);
    // Variant prices use the shop's currency digits when it has one.
    assert_eq!(r.body["variants"][0]["price"], "1500");
    // Product 2 changes later: first by the last change, newest first.
    let mut tea = product(2, "Tea", "2025-02-01T00:00:00Z", &[(20, "40.00", None)]);
    tea.updated_at = at("2026-01-01T00:00:00Z");
    app.state
        .platform()
        .data
        .store()
        .upsert_products(&f.org, &f.manual, &[tea], 0)
        .await
        .unwrap();
    assert_eq!(products("sort=-updated_at").await, vec![2, 1, 3, 1]);
    assert_eq!(products("sort=updated_at").await, vec![1, 3, 1, 2]);
    assert_eq!(products("updated_since=2025-12-01").await, vec![2]);
    let r = get(&app, "/v1/shop/products/3").await;
    assert_eq!(r.body["variants"][0]["inventory_quantity"], 0);
}

async fn customers_carry_order_count_spending_per_currency_and_first_and_last_order(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let f = fixture(&app).await;
    // Ann also buys in EUR: two currencies, never added.
    let mut eur = order(1010, "2026-04-01T00:00:00Z", "5.25", "EUR");
    eur.customer_id = Some(42);
    put_orders(&app, &f, &f.manual, &[eur]).await;
    let r = get(
        &app,
        &format!("/v1/shop/customers?shop_id={}&sort=created_at", f.manual),
    )
    .await;
    assert_eq!(ids(&r), vec![42, 43]);
    let ann = &r.body["data"][0];
    assert_eq!(ann["order_count"], 2);
    assert_eq!(
        ann["total_spent"],
        json!([{"currency": "EUR", "amount": "5.25"}, {"currency": "USD", "amount": "100.00"}])
    );
    assert_eq!(ann["first_order_at"], "2026-03-01T10:00:00Z");
    assert_eq!(ann["last_order_at"], "2026-04-01T00:00:00Z");
    let r = get(&app, &format!("/v1/shop/customers/42?shop_id={}", f.other)).await;
    assert_eq!(r.body["first_name"], "Carla", "{}", r.text);
    assert_eq!(
        r.body["total_spent"],
        json!([{"currency": "JPY", "amount": "1500"}])
    );
    get(&app, "/v1/shop/customers/42")
        .await
        .assert_error(400, "invalid_parameter");
    let r = get(&app, "/v1/shop/customers/43").await;
    assert_eq!(r.body["order_count"], 1);
    assert_eq!(ids(&get(&app, "/v1/shop/customers?q=DAN").await), vec![44]);
    let mut bob = customer(43, "bob@example.com", "Bob", "2026-02-01T00:00:00Z");
    bob.updated_at = at("2026-05-01T00:00:00Z");
    app.state
        .platform()
        .data
        .store()
        .upsert_customers(&f.org, &f.manual, &[bob], 0)
        .await
        .unwrap();
    assert_eq!(
        ids(&get(&app, "/v1/shop/customers?sort=-updated_at").await),
        vec![43, 44, 42, 42]
    );
    assert_eq!(
        ids(&get(&app, "/v1/shop/customers?sort=updated_at").await),
        vec![42, 42, 44, 43]
    );
    assert_eq!(
        ids(&get(&app, "/v1/shop/customers?updated_since=2026-04-01").await),
        vec![43]
    );
    assert_eq!(
        ids(&get(&app, "/v1/shop/customers?q=doe&sort=created_at").await),
        vec![42, 42, 43, 44]
    );
    assert_eq!(
        ids(&get(&app, "/v1/shop/customers?created_from=2026-02-01").await),
        vec![44, 43]
    );
}

async fn another_organizations_ids_and_shops_answer_404_and_a_reader_needs_data_read(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let f = fixture(&app).await;
    let acme = app
        .client
        .post(
            "/v1/organizations",
            Some(app.owner()),
            json!({"slug": "acme"}),
        )
        .await;
    let acme_id = OrgId::parse(acme.body["id"].as_str().unwrap()).unwrap();
    let key = |perms: Vec<Permission>| {
        let app = &app;
        let acme_id = acme_id.clone();
        async move {
            app.state
                .accounts()
                .create_key(None, &acme_id, "reader", perms.into_iter().collect(), None)
                .await
                .unwrap()
                .secret
        }
    };
    let reader = key(vec![Permission::DataRead]).await;
    for path in [
        "/v1/shop/orders/1001".to_owned(),
        "/v1/shop/products/2".to_owned(),
        "/v1/shop/customers/43".to_owned(),
        format!("/v1/shop/orders?shop_id={}", f.manual),
        "/v1/shop/customers?shop_id=b.myshopify.com".to_owned(),
    ] {
        app.client
            .get(&path, Some(&reader))
            .await
            .assert_error(404, "not_found");
    }
    let r = app.client.get("/v1/shop/orders", Some(&reader)).await;
    assert_eq!(
        r.body,
        json!({"data": [], "next_cursor": null}),
        "{}",
        r.text
    );
    let writer = key(vec![Permission::JobsRead]).await;
    app.client
        .get("/v1/shop/orders?format=csv", Some(&writer))
        .await
        .assert_error(403, "insufficient_permissions");
    app.client
        .get("/v1/shop/customers/1", Some(&writer))
        .await
        .assert_error(403, "insufficient_permissions");
}

async fn bad_parameters_answer_400_naming_the_parameter(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    fixture(&app).await;
    for (path, param) in [
        ("/v1/shop/orders?created_from=yesterday", "created_from"),
        ("/v1/shop/orders?created_to=2026-02-30", "created_to"),
        ("/v1/shop/orders?updated_since=soon", "updated_since"),
        (
            "/v1/shop/orders?created_from=2026-03-02&created_to=2026-03-01",
            "created_from",
        ),
        ("/v1/shop/orders?limit=0", "limit"),
        ("/v1/shop/orders?limit=300", "limit"),
        ("/v1/shop/products?limit=-1", "limit"),
        ("/v1/shop/orders?sort=price", "sort"),
        ("/v1/shop/customers?sort=total_price", "sort"),
        ("/v1/shop/orders?format=xml", "format"),
        ("/v1/shop/products?format=xlsx", "format"),
        ("/v1/shop/orders?cursor=nonsense", "cursor"),
        ("/v1/shop/orders?customer_id=abc", "customer_id"),
        ("/v1/shop/orders?product_id=0", "product_id"),
        (
            "/v1/shop/products?financial_status=paid",
            "financial_status",
        ),
        ("/v1/shop/customers?vendor=Acme", "vendor"),
    ] {
        let r = get(&app, path).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(
            r.body["error"]["details"]["param"], param,
            "{path}: {}",
            r.text
        );
    }
    get(&app, "/v1/shop/orders?shop_id=nowhere.myshopify.com")
        .await
        .assert_error(404, "not_found");
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn csv_export_has_a_header_quotes_cells_keeps_money_exact_and_has_every_matching_row(
    b: Backend,
) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let f = fixture(&app).await;
    let (status, ct, text) = raw(&app, "/v1/shop/orders?sort=created_at", Some("text/csv")).await;
    assert_eq!(status, 200, "{text}");
    assert!(ct.starts_with("text/csv"), "{ct}");
    let rows = csv_rows(&text);
    assert_eq!(
        rows[0],
        [
            "id",
            "shop_id",
            "name",
            "email",
            "customer_id",
            "currency",
            "total_price",
            "subtotal_price",
            "total_discounts",
            "total_refunded",
            "status",
            "financial_status",
            "fulfillment_status",
            "created_at",
            "updated_at",
            "cancelled_at",
            "closed_at"
        ]
    );
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        ids,
        ["1001", "1002", "1003", "1004", "2001", "2002", "2003"]
    );
    let eur = &rows[6];
    assert_eq!((eur[5].as_str(), eur[6].as_str()), ("EUR", "12.3456"));
    assert_eq!(rows[5][6], "1500");
    assert_eq!(rows[1][6], "100.00");
    assert_eq!(rows[4][3], "Zed@Example.com");
    assert_eq!(rows[4][4], "");
    // 1003: refunded in full; cancelled.
    assert_eq!(
        (rows[3][9].as_str(), rows[3][10].as_str()),
        ("20.00", "cancelled")
    );
    // Filters apply; `?format=` works without Accept; limit and cursor do not cut an export.
    let (_, _, text) = raw(
        &app,
        &format!(
            "/v1/shop/orders?format=csv&limit=1&shop_id={}&financial_status=paid",
            f.manual
        ),
        None,
    )
    .await;
    let ids: Vec<String> = csv_rows(&text)[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, ["1004", "1001"]);
    // Quoting: a comma and quotes in a cell come back whole.
    let (_, _, text) = raw(&app, "/v1/shop/customers?format=csv&q=dan", None).await;
    let rows = csv_rows(&text);
    assert_eq!(rows[0][3], "first_name");
    assert_eq!(rows[1][3], "Dan, \"the\" buyer");
    assert!(text.contains("\"Dan, \"\"the\"\" buyer\""), "{text}");
    assert_eq!(rows[1][8], "EUR 19.8456");
    // An export with no rows is its header.
    let (_, _, text) = raw(&app, "/v1/shop/products?format=csv&status=archived", None).await;
    assert_eq!(csv_rows(&text).len(), 1);
    let (_, _, text) = raw(&app, "/v1/shop/products?format=csv&sort=created_at", None).await;
    let rows = csv_rows(&text);
    assert_eq!(
        rows[0][8..12],
        [
            "variant_count",
            "inventory_quantity",
            "price_min",
            "price_max"
        ]
    );
    assert_eq!(rows[1][8..12], ["2", "12", "30.00", "32.50"]);
}

async fn ndjson_export_streams_every_matching_row_past_one_export_page(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let f = fixture(&app).await;
    // 2,345 more orders: the export reads them in three pages of 1,000.
    let many: Vec<Order> = (0..2345)
        .map(|i| {
            let mut o = order(100_000 + i, "2026-06-01T00:00:00Z", "0.01", "USD");
            o.created_at += i % 500; // ties across page boundaries
            o.total_price = Money::from_units(100 + i);
            o
        })
        .collect();
    for chunk in many.chunks(1000) {
        put_orders(&app, &f, &f.manual, chunk).await;
    }
    let (status, ct, text) = raw(
        &app,
        "/v1/shop/orders?created_from=2026-06-01&sort=-total_price",
        Some("application/x-ndjson"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ct, "application/x-ndjson");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2345);
    let unique: HashSet<i64> = lines.iter().map(|o| o["id"].as_i64().unwrap()).collect();
    assert_eq!(unique.len(), 2345);
    assert_eq!(lines[0]["id"], 100_000 + 2344);
    assert_eq!(lines[0]["total_price"], "0.2444");
    assert_eq!(lines[2344]["total_price"], "0.01");
    // Each line is the list's object.
    let page = get(
        &app,
        "/v1/shop/orders?created_from=2026-06-01&sort=-total_price&limit=1",
    )
    .await;
    assert_eq!(page.body["data"][0], lines[0]);
    // CSV over the same rows: a header and 2,345 rows.
    let (_, _, text) = raw(
        &app,
        "/v1/shop/orders?created_from=2026-06-01&format=csv",
        None,
    )
    .await;
    assert_eq!(csv_rows(&text).len(), 2346);
}

#[tokio::test]
async fn the_openapi_document_lists_the_read_api() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let doc = Client::new(&app.base_url)
        .get("/openapi.json", None)
        .await
        .body;
    for path in [
        "/v1/shop/orders",
        "/v1/shop/orders/{id}",
        "/v1/shop/products",
        "/v1/shop/products/{id}",
        "/v1/shop/customers",
        "/v1/shop/customers/{id}",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "openapi lacks {path}"
        );
    }
}
