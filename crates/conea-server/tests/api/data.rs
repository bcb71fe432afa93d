//! Data imports and processing through the API: 202 + Location + a job that completes;
//! idempotent re-import; bad lines reported; both reports on a hand-computed fixture;
//! Idempotency-Key replay and misuse; validation errors naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_testkit::{backend_tests, Backend, Client, Resp, TestApp};
use serde_json::{json, Value};

fn order(
    id: u64,
    created: &str,
    total: &str,
    status: Option<&str>,
    lines: &[(u64, &str, u32, &str)],
) -> Value {
    json!({
        "id": id, "name": format!("#{id}"), "email": "buyer@example.com",
        "created_at": created, "updated_at": created,
        "cancelled_at": status.filter(|s| *s == "cancelled").map(|_| created),
        "currency": "USD", "total_price": total, "subtotal_price": total,
        "financial_status": "paid", "fulfillment_status": null,
        "line_items": lines.iter().enumerate().map(|(i, (pid, title, qty, price))| json!({
            "id": id * 100 + i as u64, "product_id": pid, "variant_id": pid * 10, "title": title,
            "sku": format!("SKU-{pid}"), "quantity": qty, "price": price
        })).collect::<Vec<_>>(),
        "customer": {"id": 42}
    })
}

fn ndjson(orders: &[Value]) -> String {
    orders
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

async fn upload(app: &TestApp, path: &str, ct: &str, body: String, key: Option<&str>) -> Resp {
    let mut req = app
        .client
        .http()
        .post(app.client.url(path))
        .bearer_auth(app.owner())
        .header("content-type", ct)
        .body(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    Client::read(req.send().await.unwrap()).await
}

fn fixture() -> Vec<Value> {
    vec![
        order(
            1001,
            "2026-03-01T10:00:00Z",
            "100.00",
            None,
            &[(1, "Mug", 2, "30.00"), (2, "Tea", 1, "40.00")],
        ),
        order(
            1002,
            "2026-03-01T15:30:00Z",
            "50.50",
            None,
            &[(2, "Tea", 1, "50.50")],
        ),
        order(
            1003,
            "2026-03-02T09:00:00Z",
            "20.00",
            Some("cancelled"),
            &[(1, "Mug", 1, "20.00")],
        ),
        order(
            1004,
            "2026-03-03T12:00:00Z",
            "9.99",
            None,
            &[(3, "Spoon", 3, "3.33")],
        ),
        // Outside the period of the reports below.
        order(
            1005,
            "2026-04-10T12:00:00Z",
            "999.00",
            None,
            &[(1, "Mug", 10, "99.90")],
        ),
    ]
}

backend_tests!(
    import_answers_202_and_its_job_upserts_idempotently,
    bad_lines_are_reported_and_do_not_abort_the_import,
    reports_match_hand_computed_figures,
    idempotency_key_replays_the_first_response_and_refuses_another_body,
    bad_requests_name_the_field,
    idempotency_key_on_an_import_replays_its_202_and_a_non_text_key_is_refused,
    an_import_that_rejects_every_row_fails_with_the_first_reasons,
    a_stray_csv_quote_rejects_one_line_and_the_rest_is_imported,
);

async fn import_answers_202_and_its_job_upserts_idempotently(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let body = ndjson(&fixture());
    let first = app
        .job_result(
            &upload(
                &app,
                "/v1/data/imports?kind=orders",
                "application/x-ndjson",
                body.clone(),
                None,
            )
            .await,
        )
        .await;
    assert_eq!(
        (first["inserted"].as_u64(), first["rejected"].as_u64()),
        (Some(5), Some(0)),
        "{first}"
    );
    let again = app
        .job_result(
            &upload(
                &app,
                "/v1/data/imports?kind=orders",
                "application/x-ndjson",
                body,
                None,
            )
            .await,
        )
        .await;
    assert_eq!(again["inserted"], 0, "{again}");
    // Counts did not change: the summary over everything still sees five orders.
    let r = upload(
        &app,
        "/v1/data/process",
        "application/json",
        json!({"operation": "orders_summary"}).to_string(),
        None,
    )
    .await;
    assert_eq!(app.job_result(&r).await["total_orders"], 5);
}

async fn bad_lines_are_reported_and_do_not_abort_the_import(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let mut lines: Vec<String> = fixture().iter().take(2).map(|o| o.to_string()).collect();
    lines.insert(1, "{not json".into());
    lines.push(json!({"id": "abc"}).to_string());
    let body = lines.join("\n") + "\n";
    let result = app
        .job_result(
            &upload(
                &app,
                "/v1/data/imports?kind=orders",
                "application/x-ndjson",
                body,
                None,
            )
            .await,
        )
        .await;
    assert_eq!(result["inserted"], 2, "{result}");
    assert_eq!(result["rejected"], 2);
    let bad = result["bad_lines"].as_array().unwrap();
    assert_eq!(bad[0]["line"], 2);
    assert_eq!(bad[1]["line"], 4);
    assert!(bad
        .iter()
        .all(|l| !l["reason"].as_str().unwrap().is_empty()));
}

async fn reports_match_hand_computed_figures(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    app.job_result(
        &upload(
            &app,
            "/v1/data/imports?kind=orders",
            "application/x-ndjson",
            ndjson(&fixture()),
            None,
        )
        .await,
    )
    .await;
    let period = json!({"from": "2026-03-01", "to": "2026-03-31"});
    let r = upload(
        &app,
        "/v1/data/process",
        "application/json",
        json!({"operation": "orders_summary", "period": period}).to_string(),
        None,
    )
    .await;
    let s = app.job_result(&r).await;
    // Orders 1001-1004 are in March; 1003 is cancelled.
    assert_eq!(s["total_orders"], 4, "{s}");
    assert_eq!(s["total_revenue"], "160.49"); // 100.00 + 50.50 + 9.99
    assert_eq!(s["average_order_value"], "53.50"); // 160.49 / 3 = 53.4966…
    assert_eq!(s["currency"], "USD");
    assert_eq!(s["by_financial_status"]["paid"], 4);
    assert_eq!(s["by_day"]["2026-03-01"]["orders"], 2);
    let r = upload(
        &app,
        "/v1/data/process",
        "application/json",
        json!({"operation": "product_performance", "period": period, "params": {"limit": 2}})
            .to_string(),
        None,
    )
    .await;
    let p = app.job_result(&r).await;
    let top = p["top_products"].as_array().unwrap();
    assert_eq!(top.len(), 2, "{p}");
    // Tea: 40.00 + 50.50 = 90.50 (2 units); Mug: 2 × 30.00 = 60.00 (the cancelled order's mug does not count); Spoon 9.99.
    assert_eq!(
        (
            top[0]["title"].as_str(),
            top[0]["revenue"].as_str(),
            top[0]["units_sold"].as_i64()
        ),
        (Some("Tea"), Some("90.50"), Some(2))
    );
    assert_eq!(
        (
            top[1]["title"].as_str(),
            top[1]["revenue"].as_str(),
            top[1]["units_sold"].as_i64()
        ),
        (Some("Mug"), Some("60.00"), Some(2))
    );
    assert_eq!(p["total_revenue"], "160.49");
    assert_eq!(p["total_units_sold"], 7);
}

async fn idempotency_key_replays_the_first_response_and_refuses_another_body(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let body = json!({"operation": "orders_summary"}).to_string();
    let first = upload(
        &app,
        "/v1/data/process",
        "application/json",
        body.clone(),
        Some("key-1"),
    )
    .await;
    assert_eq!(first.status, 202, "{}", first.text);
    let replay = upload(
        &app,
        "/v1/data/process",
        "application/json",
        body,
        Some("key-1"),
    )
    .await;
    assert_eq!(replay.status, 202);
    assert_eq!(
        replay.body["job_id"], first.body["job_id"],
        "same job, not a second one"
    );
    assert_eq!(replay.header("location"), first.header("location"));
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let other = upload(
        &app,
        "/v1/data/process",
        "application/json",
        json!({"operation": "product_performance"}).to_string(),
        Some("key-1"),
    )
    .await;
    other.assert_error(422, "idempotency_key_reused");
    let jobs = app
        .client
        .get("/v1/jobs?kind=data.process", Some(app.owner()))
        .await;
    assert_eq!(jobs.body["data"].as_array().unwrap().len(), 1);
    // A failed request does not burn its key.
    let bad = upload(
        &app,
        "/v1/data/process",
        "application/json",
        json!({"operation": "nope"}).to_string(),
        Some("key-2"),
    )
    .await;
    bad.assert_error(400, "invalid_parameter");
    let good = upload(
        &app,
        "/v1/data/process",
        "application/json",
        json!({"operation": "nope"}).to_string(),
        Some("key-2"),
    )
    .await;
    assert_eq!(good.status, 400, "runs again, not replayed or refused");
}

async fn bad_requests_name_the_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let r = upload(
        &app,
        "/v1/data/process",
        "application/json",
        json!({"operation": "forecast"}).to_string(),
        None,
    )
    .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "operation");
    let r = upload(
        &app,
        "/v1/data/process",
        "application/json",
        json!({"operation": "orders_summary", "period": {"from": "yesterday"}}).to_string(),
        None,
    )
    .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "period");
    let r = upload(
        &app,
        "/v1/data/imports",
        "application/x-ndjson",
        "{}\n".into(),
        None,
    )
    .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "kind");
    upload(
        &app,
        "/v1/data/imports?kind=orders",
        "application/pdf",
        "x".into(),
        None,
    )
    .await
    .assert_error(415, "unsupported_media_type");
    let r = upload(
        &app,
        "/v1/data/imports?kind=orders",
        "application/x-ndjson",
        String::new(),
        None,
    )
    .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "body");
    upload(
        &app,
        "/v1/data/imports?kind=orders&shop=nope.myshopify.com",
        "application/x-ndjson",
        "{}\n".into(),
        None,
    )
    .await
    .assert_error(404, "not_found");
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "r", "permissions": ["data:read"]}),
        )
        .await;
    let reader = r.body["secret"].as_str().unwrap().to_owned();
    let r = Client::read(
        app.client
            .http()
            .post(app.client.url("/v1/data/process"))
            .bearer_auth(&reader)
            .json(&json!({"operation": "orders_summary"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(403, "insufficient_permissions");
}

async fn idempotency_key_on_an_import_replays_its_202_and_a_non_text_key_is_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ndjson = |rows: &[Value]| {
        rows.iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    let body = ndjson(&fixture());
    let path = "/v1/data/imports?kind=orders";
    let first = upload(
        &app,
        path,
        "application/x-ndjson",
        body.clone(),
        Some("imp-1"),
    )
    .await;
    assert_eq!(first.status, 202, "{}", first.text);
    let again = upload(
        &app,
        path,
        "application/x-ndjson",
        body.clone(),
        Some("imp-1"),
    )
    .await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(
        again.body["job_id"], first.body["job_id"],
        "one job for one key"
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = ndjson(&fixture()[..1]);
    upload(&app, path, "application/x-ndjson", other, Some("imp-1"))
        .await
        .assert_error(422, "idempotency_key_reused");
    app.job_result(&first).await;
    let uploads =
        conea_store::with_pool!(app.state.store().db(), |p| sqlx::query_scalar::<DB, i64>(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'data.import'"
        )
        .fetch_one(p)
        .await
        .unwrap());
    assert_eq!(uploads, 1, "the replays enqueued nothing");

    // A key that is not text is refused, not ignored.
    for path in ["/v1/data/imports?kind=orders", "/v1/data/process"] {
        let (ct, body) = if path.contains("imports") {
            ("application/x-ndjson", ndjson(&fixture()))
        } else {
            (
                "application/json",
                json!({"operation": "orders_summary"}).to_string(),
            )
        };
        let resp = app
            .client
            .http()
            .post(app.client.url(path))
            .bearer_auth(app.owner())
            .header("content-type", ct)
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(b"k\xff\xfe").unwrap(),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let r = Client::read(resp).await;
        r.assert_error(400, "invalid_idempotency_key");
        assert_eq!(r.body["error"]["details"]["param"], "Idempotency-Key");
    }
}

/// Polls the job an accepted request started until it is final; answers its JSON.
async fn final_job(app: &TestApp, accepted: &Resp) -> Value {
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let location = accepted.header("location").unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = app.client.get(&location, Some(app.owner())).await;
        if matches!(
            r.body["status"].as_str(),
            Some("completed" | "discarded" | "cancelled")
        ) {
            return r.body;
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

async fn an_import_that_rejects_every_row_fails_with_the_first_reasons(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let body = "customer_id,email\nx,a@example.com\n-,b@example.com\n".to_owned();
    let r = upload(
        &app,
        "/v1/data/imports?kind=customers",
        "text/csv",
        body,
        None,
    )
    .await;
    let job = final_job(&app, &r).await;
    assert_eq!(job["status"], "discarded", "{job}");
    assert_eq!(job["attempts"], 1, "a rejected file is not retried: {job}");
    let error = job["errors"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("every row was rejected (2 of 2)"),
        "{error}"
    );
    assert!(
        error.contains("line 2: customer_id") && error.contains("line 3: customer_id"),
        "{error}"
    );
}

async fn a_stray_csv_quote_rejects_one_line_and_the_rest_is_imported(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let mut body = String::from("customer_id,email,first_name\n");
    for i in 1..=300 {
        let name = if i == 7 { "\"Ann" } else { "\"Ann, B.\"" };
        body.push_str(&format!("{i},c{i}@example.com,{name}\n"));
    }
    let r = upload(
        &app,
        "/v1/data/imports?kind=customers",
        "text/csv",
        body,
        None,
    )
    .await;
    let result = app.job_result(&r).await;
    assert_eq!(
        (result["inserted"].as_u64(), result["rejected"].as_u64()),
        (Some(299), Some(1)),
        "{result}"
    );
    assert_eq!(result["bad_lines"][0]["line"], 8, "{result}");
    assert!(result["bad_lines"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("unterminated quoted field"));
}
