//! The GraphQL client against the fake Shopify: waits exactly `(cost − available) /
//! restoreRate` before a query, waits out `THROTTLED`, follows `pageInfo` to the end, and
//! reports GraphQL errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_testkit::fake_shopify as fake;

use conea_shopify::{Connection, ErrorKind};
use fake::{Counts, Setup};
use serde_json::json;
use std::time::Duration;

const SHOP_QUERY: &str = "query { shop { name myshopifyDomain } }";
const PRODUCTS_QUERY: &str = "query Products($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    edges { cursor node { id title updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}";

#[tokio::test]
async fn a_query_waits_exactly_cost_minus_available_over_restore_rate() {
    let s = Setup::new(Counts::of(500)).await;
    s.fake.set_graphql_available(101.0);
    // A cheap query (cost 1) tells the client the bucket: 100 of 1000, restoring 50/s.
    let shop = s.client.graphql(SHOP_QUERY, json!({}), 1).await.unwrap();
    assert_eq!(shop.data["shop"]["name"], "Fake Shop");
    let status = shop.cost.unwrap().throttle_status.unwrap();
    assert_eq!(status.currently_available, 100.0);
    assert!(s.sleeper.waits().is_empty());

    // 248 products cost 250: (250 − 100) / 50 = 3 s, then the query fits.
    let r = s
        .client
        .graphql(PRODUCTS_QUERY, json!({"first": 248}), 250)
        .await
        .unwrap();
    assert_eq!(s.sleeper.waits(), vec![Duration::from_secs(3)]);
    assert_eq!(s.fake.graphql_throttled(), 0);
    let page = Connection::at(&r.data, "/products").unwrap();
    assert_eq!(page.nodes.len(), 248);
    assert_eq!(r.cost.unwrap().actual_query_cost, Some(250.0));
}

#[tokio::test]
async fn a_throttled_answer_is_waited_out_for_the_requested_cost_then_retried() {
    let s = Setup::new(Counts::of(500)).await;
    s.fake.set_graphql_available(100.0);
    // The client knows nothing yet and underestimates: the fake requests 202.
    let r = s
        .client
        .graphql(PRODUCTS_QUERY, json!({"first": 200}), 10)
        .await
        .unwrap();
    assert_eq!(s.fake.graphql_throttled(), 1);
    // (202 − 100) / 50 = 2.04 s.
    assert_eq!(s.sleeper.waits(), vec![Duration::from_millis(2_040)]);
    assert_eq!(
        Connection::at(&r.data, "/products").unwrap().nodes.len(),
        200
    );
}

#[tokio::test]
async fn graphql_pagination_follows_page_info_to_the_end_without_throttling() {
    let s = Setup::new(Counts::of(1_000)).await;
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let r = s
            .client
            .graphql(PRODUCTS_QUERY, json!({"first": 150, "after": after}), 152)
            .await
            .unwrap();
        let page = Connection::at(&r.data, "/products").unwrap();
        ids.extend(
            page.nodes
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        after = page.next_cursor().map(str::to_owned);
        if after.is_none() {
            break;
        }
    }
    assert_eq!(pages, 7);
    assert_eq!(ids.len(), 1_000);
    ids.dedup();
    assert_eq!(ids.len(), 1_000);
    assert_eq!(s.fake.graphql_throttled(), 0);
    // 7 × 152 requested from a full 1000: the client waited only for the points it lacked.
    let waited: Duration = s.sleeper.total();
    assert!(
        waited > Duration::ZERO && waited <= Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn graphql_errors_fail_with_shopifys_message_and_request_id() {
    let s = Setup::new(Counts::of(1)).await;
    let e = s
        .client
        .graphql("{ nope }", json!({}), 1)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::GraphQl);
    assert!(e.message.contains("doesn't exist"), "{e}");
    assert_eq!(e.request_id.as_deref(), Some("fake-req-0001"));
}

#[tokio::test]
async fn a_query_costlier_than_the_whole_bucket_fails_without_waiting() {
    let s = Setup::new(Counts::of(1)).await;
    s.client.graphql(SHOP_QUERY, json!({}), 1).await.unwrap();
    let e = s
        .client
        .graphql(PRODUCTS_QUERY, json!({"first": 250}), 1_500)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Throttled);
    assert!(e.message.contains("1000"), "{e}");
    assert!(s.sleeper.waits().is_empty());
    assert_eq!(s.fake.requests(), 1);
}

#[tokio::test]
async fn graphql_unauthorized_is_not_retried_and_429_waits_retry_after() {
    let s = Setup::new(Counts::of(1)).await;
    s.fake.force_429s(1);
    s.client.graphql(SHOP_QUERY, json!({}), 1).await.unwrap();
    assert_eq!(s.sleeper.waits(), vec![Duration::from_secs(2)]);

    s.fake.answer_401(true);
    let e = s
        .client
        .graphql(SHOP_QUERY, json!({}), 1)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert_eq!(s.fake.requests(), 3);
}

#[tokio::test]
async fn mutations_are_not_retried_after_a_server_error() {
    let s = Setup::new(Counts::of(1)).await;
    s.fake.answer_500s(1);
    let e = s
        .client
        .graphql("mutation { shop { name } }", json!({}), 10)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    assert_eq!(s.fake.requests(), 1);
    // A query is retried past the same failure.
    s.fake.answer_500s(1);
    s.client.graphql(SHOP_QUERY, json!({}), 1).await.unwrap();
    assert_eq!(s.fake.requests(), 3);
}
