//! The REST client against the fake Shopify: the leaky bucket is respected on the fake
//! clock (no 429s, exact waits), 429s are waited out for `Retry-After` seconds, `Link`
//! pagination is followed to the end, and failures are classified and retried as they
//! should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_testkit::fake_shopify as fake;

use conea_core::Clock;
use conea_shopdata::{parse_ndjson_line, Record, RecordKind};
use conea_shopify::{ErrorKind, Page, Resource, ShopifyClient, ShopifyClientBuilder};
use fake::{data, Counts, Setup};
use std::collections::HashSet;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Every page of products, following the cursor.
async fn all_products(client: &ShopifyClient, updated_at_min: Option<i64>) -> Vec<Page> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .list_products(updated_at_min, cursor.as_deref())
            .await
            .unwrap();
        cursor = page.next_page_info.clone();
        pages.push(page);
        if cursor.is_none() {
            return pages;
        }
    }
}

fn small_pages(n: u32) -> impl FnOnce(ShopifyClientBuilder) -> ShopifyClientBuilder {
    move |b| b.page_size(n)
}

#[tokio::test]
async fn listing_3000_products_gets_no_429_and_keeps_the_margin_below_the_bucket_size() {
    let s = Setup::with(Counts::of(3000), small_pages(10)).await;
    let start = s.clock.now_ms();
    let pages = all_products(&s.client, None).await;

    let items: Vec<_> = pages.iter().flat_map(|p| p.items.iter()).collect();
    assert_eq!(items.len(), 3000);
    let ids: HashSet<_> = items.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 3000, "no product twice");
    for item in &items {
        let record = parse_ndjson_line(RecordKind::Products, &item.to_string()).unwrap();
        assert!(matches!(record, Record::Product(_)));
    }

    assert_eq!(s.fake.requests(), 300);
    assert_eq!(
        s.fake.rest_429s(),
        0,
        "the client never overflowed the bucket"
    );
    assert!(
        s.fake.max_fill() <= 36.0,
        "the bucket was kept 4 below its size of 40, reached {}",
        s.fake.max_fill()
    );
    // 36 requests at once, then one every leak step (0.5 s at 2/s).
    let waits = s.sleeper.waits();
    assert_eq!(waits.len(), 264);
    assert!(waits.iter().all(|w| *w == ms(500)), "{waits:?}");
    assert_eq!(s.clock.now_ms() - start, 132_000);
}

#[tokio::test]
async fn a_bucket_prefilled_by_another_app_makes_the_client_wait_at_the_leak_rate() {
    let s = Setup::with(Counts::of(50), small_pages(5)).await;
    s.fake.prefill_rest(38.0);
    let pages = all_products(&s.client, None).await;
    assert_eq!(pages.len(), 10);
    assert_eq!(s.fake.rest_429s(), 0);
    assert!(s.fake.max_fill() <= 40.0);
    // After the first answer says 39/40, the next request waits for 39 + 1 to leak down
    // to 36 (2 s at 2/s), then each request one leak step.
    let mut expected = vec![ms(2_000)];
    expected.extend([ms(500); 8]);
    assert_eq!(s.sleeper.waits(), expected);
}

#[tokio::test]
async fn a_429_with_retry_after_2_0_waits_two_seconds_then_succeeds() {
    let s = Setup::new(Counts::of(10)).await;
    s.fake.force_429s(1);
    let start = s.clock.now_ms();
    let page = s.client.list_products(None, None).await.unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(s.fake.rest_429s(), 1);
    assert_eq!(s.fake.requests(), 2);
    assert_eq!(s.sleeper.waits(), vec![Duration::from_secs(2)]);
    assert_eq!(s.clock.now_ms() - start, 2_000);
}

#[tokio::test]
async fn a_full_bucket_costs_one_429_then_the_client_waits_for_retry_after_and_room() {
    let s = Setup::new(Counts::of(10)).await;
    s.fake.prefill_rest(40.0);
    s.client.list_products(None, None).await.unwrap();
    assert_eq!(s.fake.rest_429s(), 1);
    // Retry-After 2.0 s, but 40/40 needs 2.5 s to leak to 35 so that one more fits under 36.
    assert_eq!(s.sleeper.waits(), vec![ms(2_500)]);
}

#[tokio::test]
async fn pagination_follows_link_to_the_end_sending_only_limit_beside_page_info() {
    let s = Setup::with(Counts::of(95), small_pages(10)).await;
    let pages = all_products(&s.client, None).await;
    let sizes: Vec<_> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    let log = s.fake.log();
    assert_eq!(log[0], "GET products.json?limit=10");
    for line in &log[1..] {
        let (_, query) = line.split_once('?').unwrap();
        let mut keys: Vec<_> = query
            .split('&')
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        keys.sort();
        assert_eq!(keys, ["limit", "page_info"], "{line}");
    }
}

#[tokio::test]
async fn updated_at_min_filters_and_travels_inside_the_cursor() {
    let s = Setup::with(Counts::of(100), small_pages(20)).await;
    let since = data::updated_at_ms(60);
    let pages = all_products(&s.client, Some(since)).await;
    let titles: Vec<_> = pages
        .iter()
        .flat_map(|p| p.items.iter())
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles.len(), 40);
    assert_eq!(titles[0], "Product 60");
    assert!(s.fake.log()[0].contains("updated_at_min=2024-01-01T02:00:00Z"));
}

#[tokio::test]
async fn orders_of_every_status_and_customers_are_listed() {
    let s = Setup::with(Counts::of(100), small_pages(50)).await;
    let mut orders = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = s.client.list_orders(None, cursor.as_deref()).await.unwrap();
        orders.extend(page.items);
        cursor = page.next_page_info;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(
        orders.len(),
        100,
        "status=any includes closed and cancelled orders"
    );
    assert!(s.fake.log()[0].contains("status=any"));
    let mut statuses = HashSet::new();
    for o in &orders {
        match parse_ndjson_line(RecordKind::Orders, &o.to_string()).unwrap() {
            Record::Order(order) => statuses.insert(order.status().as_str()),
            other => panic!("not an order: {other:?}"),
        };
    }
    assert_eq!(statuses.len(), 3, "{statuses:?}");

    let customers = s.client.list_customers(None, None).await.unwrap();
    assert_eq!(customers.items.len(), 50);
    assert!(customers.next_page_info.is_some());
    for c in &customers.items {
        parse_ndjson_line(RecordKind::Customers, &c.to_string()).unwrap();
    }
}

#[tokio::test]
async fn unauthorized_fails_at_once_without_retry() {
    let s = Setup::new(Counts::of(10)).await;
    s.fake.answer_401(true);
    let e = s.client.list_products(None, None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert_eq!(e.status, Some(401));
    assert!(e.message.contains("Invalid API key"), "{e}");
    assert_eq!(e.request_id.as_deref(), Some("fake-req-0001"));
    assert_eq!(s.fake.requests(), 1);
    assert!(s.sleeper.waits().is_empty());
    let text = e.to_string();
    assert!(
        text.contains("unauthorized") && text.contains("401") && text.contains("fake-req-0001"),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_the_token_is_never_in_the_error() {
    let s = Setup::new(Counts::of(10)).await;
    let wrong = ShopifyClient::builder(
        fake::SHOP,
        "shpat_wrong",
        fake::VERSION,
        s.throttles.clone(),
    )
    .base_url(s.fake.base_url.clone())
    .build()
    .unwrap();
    let e = wrong.list_customers(None, None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(!e.to_string().contains("shpat_wrong"));
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_reported_with_the_request_id() {
    let s = Setup::new(Counts::of(10)).await;
    s.fake.answer_500s(100);
    let e = s.client.list_products(None, None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    assert_eq!(e.status, Some(500));
    assert_eq!(e.message, "Internal Server Error");
    assert_eq!(
        e.request_id.as_deref(),
        Some("fake-req-0004"),
        "the last attempt's id"
    );
    assert_eq!(s.fake.requests(), 4, "4 attempts in all");
    let waits = s.sleeper.waits();
    assert_eq!(waits.len(), 3);
    for (w, step) in waits.iter().zip([500u64, 1_000, 2_000]) {
        assert!(
            *w >= ms(step / 2) && *w <= ms(step),
            "{w:?} for step {step}"
        );
    }
}

#[tokio::test]
async fn a_transient_server_error_is_retried_to_success() {
    let s = Setup::new(Counts::of(10)).await;
    s.fake.answer_500s(2);
    let page = s.client.list_products(None, None).await.unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(s.fake.requests(), 3);
}

#[tokio::test]
async fn a_missing_resource_is_not_found() {
    let s = Setup::new(Counts::of(1)).await;
    let e = s.client.get_json("nope.json", &[]).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.status, Some(404));
    assert_eq!(s.fake.requests(), 1);
}

#[tokio::test]
async fn fetching_one_object_returns_it_and_a_deleted_one_is_none_not_an_error() {
    let s = Setup::new(Counts::of(5)).await;
    let id = data::product(3)["id"].as_i64().unwrap();
    let product = s.client.get_one(Resource::Products, id).await.unwrap();
    assert_eq!(product, Some(data::product(3)));
    let order_id = data::order(2)["id"].as_i64().unwrap();
    let order = s.client.get_one(Resource::Orders, order_id).await.unwrap();
    assert_eq!(order, Some(data::order(2)));

    s.fake.delete_object(id as u64);
    let gone = s.client.get_one(Resource::Products, id).await.unwrap();
    assert_eq!(gone, None, "a 404 of a deleted object means: deleted");
    let listed = s.client.list_products(None, None).await.unwrap();
    assert_eq!(
        listed.items.len(),
        4,
        "the deleted product left the listing too"
    );
    let one = format!("GET products/{id}.json?");
    assert_eq!(
        s.fake.log(),
        vec![
            one.clone(),
            format!("GET orders/{order_id}.json?"),
            one,
            "GET products.json?limit=250".to_owned()
        ],
        "one request for the deleted product: a 404 is not retried"
    );
}

#[tokio::test]
async fn fetching_one_object_still_reports_unauthorized() {
    let s = Setup::new(Counts::of(5)).await;
    s.fake.answer_401(true);
    let id = data::customer(1)["id"].as_i64().unwrap();
    let e = s.client.get_one(Resource::Customers, id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "only 404 becomes None");
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported_as_transport_errors() {
    let s = Setup::new(Counts::of(1)).await;
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let client = fake::client_builder(&s.fake, &s.throttles, &s.sleeper)
        .base_url(format!("http://{closed}"))
        .build()
        .unwrap();
    let e = client.list_products(None, None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert_eq!(e.status, None);
    assert_eq!(s.sleeper.waits().len(), 3);
}

#[tokio::test]
async fn concurrent_tasks_share_one_bucket_per_shop() {
    let s = Setup::new(Counts::of(400)).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = fake::client_builder(&s.fake, &s.throttles, &s.sleeper)
            .page_size(5)
            .build()
            .unwrap();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            let mut cursor: Option<String> = None;
            loop {
                let page = client
                    .list_customers(None, cursor.as_deref())
                    .await
                    .unwrap();
                n += page.items.len();
                cursor = page.next_page_info;
                if cursor.is_none() {
                    return n;
                }
            }
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 400);
    }
    assert_eq!(s.fake.requests(), 320);
    assert_eq!(s.fake.rest_429s(), 0);
    assert!(s.fake.max_fill() <= 40.0);
    assert_eq!(s.throttles.len(), 1);
}
