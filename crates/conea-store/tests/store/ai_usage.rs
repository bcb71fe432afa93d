//! Batched AI usage: deltas add to their (organization, key, provider, model, day) rows, a
//! batch counts all or nothing, and the report and budget reads see the sums.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::env;
use conea_ai::usage::{day, AiUsageStore, UsageDelta, UsageGroup};
use conea_core::ids::OrgId;
use conea_testkit::{backend_tests, Backend};

const DAY: i64 = 86_400_000;

fn delta(org: &OrgId, model: &str, day_start: i64, requests: i64, tokens: i64) -> UsageDelta {
    UsageDelta {
        org: org.clone(),
        api_key: "key_1".into(),
        provider: "openai".into(),
        model: model.into(),
        day_start,
        requests,
        input_tokens: tokens,
        output_tokens: 1,
    }
}

async fn deltas_add_to_their_rows_and_a_failed_batch_counts_nothing(backend: Backend) {
    let Some((store, org, _db)) = env(backend).await else {
        return;
    };
    let d0 = 20_000 * DAY;
    store
        .add_usage(&[delta(&org, "a", d0, 3, 30), delta(&org, "b", d0, 1, 10)])
        .await
        .unwrap();
    store
        .add_usage(&[
            delta(&org, "a", d0, 2, 20),
            delta(&org, "a", d0 + DAY, 1, 5),
        ])
        .await
        .unwrap();
    // An unknown organization breaks the foreign key: the batch's other delta is not counted.
    let err = store
        .add_usage(&[
            delta(&org, "a", d0, 100, 1000),
            delta(&OrgId::generate(), "a", d0, 1, 1),
        ])
        .await;
    assert!(err.is_err(), "a delta of an unknown organization fails");

    let by_model = store
        .usage_report(&org, d0, d0 + 2 * DAY, UsageGroup::Model)
        .await
        .unwrap();
    let rows: Vec<(String, i64, i64, i64)> = by_model
        .into_iter()
        .map(|r| (r.group, r.requests, r.input_tokens, r.output_tokens))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("openai/a".to_owned(), 6, 55, 3),
            ("openai/b".to_owned(), 1, 10, 1)
        ]
    );
    // Each row is stored under its UTC day (`day` of the delta's day start).
    let by_day: Vec<(String, i64)> = store
        .usage_report(&org, d0, d0 + 2 * DAY, UsageGroup::Day)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.group, r.requests))
        .collect();
    assert_eq!(by_day, vec![(day(d0), 6), (day(d0 + DAY), 1)]);
    // Input + output since the second day.
    assert_eq!(store.tokens_since(&org, d0 + DAY).await.unwrap(), 6);
    assert_eq!(store.tokens_since(&org, d0).await.unwrap(), 65 + 4);
    store.add_usage(&[]).await.unwrap();
}

backend_tests!(deltas_add_to_their_rows_and_a_failed_batch_counts_nothing);
