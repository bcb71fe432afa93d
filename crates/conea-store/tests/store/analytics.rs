//! The maintained sales sums (`order_sales_15m`, `order_sales_1h`) and product sums
//! (`product_sales_months`) stay exact under every write on both backends: inserts, a newer
//! version of an order (moved to another quarter hour, cancelled, refunded, a line removed),
//! the deletion of an order (Shopify's `orders/delete`) and of its shop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use conea_core::ids::ShopId;
use conea_shopdata::analytics::calendar::{OffsetSpan, DAY_MS};
use conea_shopdata::analytics::store::{
    AnalyticsStore, ProductQuery, ProductSales, SalesSums, SlotQuery,
};
use conea_shopdata::{LineItem, Money, Order, RecordKind, ShopDataStore};
use conea_shopify::integration::store::ShopifyStore;
use conea_testkit::{backend_tests, Backend};

const DAY0: i64 = 1_717_200_000_000; // 2024-06-01T00:00:00Z

fn order(id: i64, created_at: i64, updated_at: i64, qty: i64, price: i64) -> Order {
    Order {
        source_id: id,
        name: Some(format!("#{id}")),
        email: None,
        customer_id: None,
        currency: "USD".into(),
        total_price: Money::from_units(qty * price),
        subtotal_price: None,
        financial_status: Some("paid".into()),
        fulfillment_status: None,
        created_at,
        updated_at,
        cancelled_at: None,
        closed_at: None,
        total_discounts: Money::ZERO,
        total_refunded: Money::ZERO,
        line_items: vec![LineItem {
            source_id: id * 10,
            product_id: Some(1),
            variant_id: None,
            title: "Hat".into(),
            sku: None,
            quantity: qty,
            price: Money::from_units(price),
        }],
    }
}

/// The sums per UTC day of the organization's orders in June 2024, the same from the
/// quarter-hour and the hourly sums.
async fn days(store: &dyn AnalyticsStore, q: &SlotQuery) -> Vec<(i64, SalesSums)> {
    let mut both = Vec::new();
    for hourly in [false, true] {
        let q = SlotQuery {
            hourly,
            ..q.clone()
        };
        let mut rows: Vec<(i64, SalesSums)> = store
            .sales_slots(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.slot - DAY0 / DAY_MS, r.sums))
            .filter(|(_, s)| *s != SalesSums::default())
            .collect();
        rows.sort_by_key(|(d, _)| *d);
        both.push(rows);
    }
    assert_eq!(both[0], both[1], "hourly and quarter-hour sums agree");
    both.remove(0)
}

/// Deletes a shop as its removal does (its data goes by the shops' trigger).
async fn delete_shop(store: &conea_store::SqlStore, shop: &ShopId) {
    conea_store::with_pool!(store.db(), |p| conea_store::sqlx::query::<DB>(
        "DELETE FROM shops WHERE id = $1"
    )
    .bind(shop.as_str())
    .execute(p)
    .await
    .map(drop))
    .unwrap();
}

fn sums(orders: i64, gross: i64, units: i64) -> SalesSums {
    SalesSums {
        orders,
        gross: Money::from_units(gross),
        units,
        total: Money::from_units(gross),
        ..SalesSums::default()
    }
}

backend_tests!(sales_sums_stay_exact_under_updates_and_deletions);

async fn sales_sums_stay_exact_under_updates_and_deletions(b: Backend) {
    let Some((store, org, _db)) = common::env(b).await else {
        return;
    };
    let shop: ShopId = store.default_shop(&org, 1).await.unwrap().id;
    let q = SlotQuery {
        org_id: org.clone(),
        shop_id: None,
        from: DAY0,
        to: DAY0 + 30 * DAY_MS,
        spans: vec![OffsetSpan {
            until: DAY0 + 30 * DAY_MS,
            offset_ms: 0,
        }],
        slot_ms: DAY_MS,
        hour_of_week: false,
        hourly: false,
    };
    let t = |day: i64| DAY0 + day * DAY_MS + 3_600_000;
    let first = vec![
        order(1, t(0), t(0), 2, 50_000),
        order(2, t(0), t(0), 1, 70_000),
        order(3, t(2), t(2), 3, 10_000),
    ];
    store.upsert_orders(&org, &shop, &first, 1).await.unwrap();
    assert_eq!(
        days(&store, &q).await,
        vec![(0, sums(2, 170_000, 3)), (2, sums(1, 30_000, 3))]
    );

    // A newer version moves order 2 to day 1 and doubles it; order 3 is cancelled and
    // refunded; an older version of order 1 changes nothing.
    let mut moved = order(2, t(1), t(5), 2, 70_000);
    moved.total_discounts = Money::from_units(10_000);
    let mut cancelled = order(3, t(2), t(5), 3, 10_000);
    cancelled.cancelled_at = Some(t(5));
    let stale = order(1, t(9), t(0) - 1, 9, 1);
    store
        .upsert_orders(&org, &shop, &[moved, cancelled, stale], 2)
        .await
        .unwrap();
    let mut day1 = sums(1, 140_000, 2);
    day1.discounts = Money::from_units(10_000);
    let day2 = SalesSums {
        cancelled_orders: 1,
        cancelled: Money::from_units(30_000),
        ..SalesSums::default()
    };
    assert_eq!(
        days(&store, &q).await,
        vec![(0, sums(1, 100_000, 2)), (1, day1), (2, day2)]
    );

    // Shopify deletes order 1; then the shop goes with everything in it.
    ShopifyStore::delete_object(&store, &shop, RecordKind::Orders, 1)
        .await
        .unwrap();
    assert_eq!(days(&store, &q).await, vec![(1, day1), (2, day2)]);
    delete_shop(&store, &shop).await;
    assert_eq!(
        days(&store, &q).await,
        vec![],
        "nothing is left of a deleted shop"
    );
}

fn line(id: i64, product: Option<i64>, variant: Option<i64>, title: &str, qty: i64) -> LineItem {
    LineItem {
        source_id: id,
        product_id: product,
        variant_id: variant,
        title: title.into(),
        sku: None,
        quantity: qty,
        price: Money::from_units(10_000),
    }
}

/// (product, variant, units, orders, refunded orders) of every product and variant sold in
/// June 2024, read four ways that hold every order here and must agree: over the whole
/// month (the monthly sums), over its first three days (the line items alone), over 2024
/// (the yearly sums) and over 2024 in Asia/Tokyo (the yearly sums corrected by the line
/// items of nine hours at each end).
async fn product_rows(
    store: &dyn AnalyticsStore,
    org: &conea_core::ids::OrgId,
) -> Vec<(Option<i64>, Option<i64>, i64, i64, i64)> {
    let mut both = Vec::new();
    const YEAR_2024: i64 = 1_704_067_200_000;
    const YEAR_2025: i64 = 1_735_689_600_000;
    const NINE_HOURS: i64 = 9 * 3_600_000;
    for (from, to) in [
        (DAY0, DAY0 + 30 * DAY_MS),
        (DAY0, DAY0 + 3 * DAY_MS),
        (YEAR_2024, YEAR_2025),
        (YEAR_2024 - NINE_HOURS, YEAR_2025 - NINE_HOURS),
    ] {
        let q = ProductQuery {
            org_id: org.clone(),
            shop_id: None,
            from,
            to,
        };
        let mut rows: Vec<_> = store
            .product_sales(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|r: ProductSales| {
                assert_eq!(r.revenue.units(), r.units * 10_000, "{r:?}");
                (
                    r.product_id,
                    r.variant_id,
                    r.units,
                    r.orders,
                    r.refunded_orders,
                )
            })
            .collect();
        rows.sort();
        both.push(rows);
    }
    for other in &both[1..] {
        assert_eq!(&both[0], other, "the sums and the line items agree");
    }
    both.remove(0)
}

backend_tests!(product_sums_stay_exact_under_updates_and_deletions);

async fn product_sums_stay_exact_under_updates_and_deletions(b: Backend) {
    let Some((store, org, _db)) = common::env(b).await else {
        return;
    };
    let shop: ShopId = store.default_shop(&org, 1).await.unwrap().id;
    let t = |day: i64| DAY0 + day * DAY_MS + 3_600_000;
    let with_lines = |id: i64, day: i64, updated: i64, lines: Vec<LineItem>| Order {
        line_items: lines,
        ..order(id, t(day), t(updated), 1, 10_000)
    };
    // Order 1 holds product 1 twice (variants 11 and 12, one of them on two lines); order 2
    // holds variant 11 once; order 3 a line without a product.
    let first = vec![
        with_lines(
            1,
            0,
            0,
            vec![
                line(10, Some(1), Some(11), "Hat", 2),
                line(11, Some(1), Some(12), "Hat", 1),
                line(12, Some(1), Some(11), "Hat", 1),
            ],
        ),
        with_lines(2, 1, 1, vec![line(20, Some(1), Some(11), "Hat", 1)]),
        with_lines(3, 2, 2, vec![line(30, None, None, "Gift wrap", 1)]),
    ];
    store.upsert_orders(&org, &shop, &first, 1).await.unwrap();
    assert_eq!(
        product_rows(&store, &org).await,
        vec![
            (None, None, 1, 1, 0),
            (Some(1), None, 5, 2, 0),
            (Some(1), Some(11), 4, 2, 0),
            (Some(1), Some(12), 1, 1, 0),
        ]
    );

    // A newer order 1 drops its line of variant 12 and is refunded; order 2 is cancelled.
    let mut refunded = with_lines(
        1,
        0,
        5,
        vec![
            line(10, Some(1), Some(11), "Hat", 2),
            line(12, Some(1), Some(11), "Hat", 1),
        ],
    );
    refunded.total_refunded = Money::from_units(10_000);
    let mut cancelled = with_lines(2, 1, 5, vec![line(20, Some(1), Some(11), "Hat", 1)]);
    cancelled.cancelled_at = Some(t(5));
    store
        .upsert_orders(&org, &shop, &[refunded, cancelled], 2)
        .await
        .unwrap();
    assert_eq!(
        product_rows(&store, &org).await,
        vec![
            (None, None, 1, 1, 0),
            (Some(1), None, 3, 1, 1),
            (Some(1), Some(11), 3, 1, 1),
        ]
    );

    // Shopify deletes order 1; then the shop goes with everything in it.
    ShopifyStore::delete_object(&store, &shop, RecordKind::Orders, 1)
        .await
        .unwrap();
    assert_eq!(
        product_rows(&store, &org).await,
        vec![(None, None, 1, 1, 0)]
    );
    delete_shop(&store, &shop).await;
    assert_eq!(product_rows(&store, &org).await, vec![]);
}
