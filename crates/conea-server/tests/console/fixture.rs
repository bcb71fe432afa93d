//! What every console test starts from: a running app (conea-testkit's `TestApp`) with an
//! admin and a viewer who sign in with passwords, a few orders of the last days imported
//! through the API, and a job scheduled for tomorrow (so it can be cancelled); and a small
//! cookie-keeping HTTP client for the tests that need no browser.

use conea_core::ids::OrgId;
use conea_core::Clock;
use conea_jobs::NewJob;
use conea_testkit::{Backend, Client, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const PASSWORD: &str = "correct horse battery";
pub const ADMIN: &str = "admin@example.com";
pub const VIEWER: &str = "viewer@example.com";

pub struct Seeded {
    pub app: TestApp,
    pub job_id: String,
    pub viewer_id: String,
    pub org: OrgId,
}

fn day(app: &TestApp, days_ago: i64, hour: i64) -> String {
    let ms = app.clock.now_ms() - days_ago * 86_400_000;
    let day_start = ms - ms.rem_euclid(86_400_000);
    jiff::Timestamp::from_millisecond(day_start + hour * 3_600_000)
        .unwrap()
        .to_string()
}

pub fn order(app: &TestApp, id: u64, days_ago: i64, total: &str, customer: u64) -> Value {
    let created = day(app, days_ago, 10);
    json!({
        "id": id, "name": format!("#{id}"), "email": format!("buyer{customer}@example.com"),
        "created_at": created, "updated_at": created, "cancelled_at": null,
        "currency": "JPY", "total_price": total, "subtotal_price": total,
        "financial_status": "paid", "fulfillment_status": null,
        "line_items": [{"id": id * 100, "product_id": 7, "variant_id": 70, "title": "Matcha bowl",
                        "sku": "BOWL-1", "quantity": 1, "price": total}],
        "customer": {"id": customer, "email": format!("buyer{customer}@example.com"),
                     "first_name": "Hanako", "last_name": "Yamada"}
    })
}

async fn user(app: &TestApp, email: &str, role: &str) -> String {
    let r = app
        .client
        .post(
            "/v1/users",
            Some(app.owner()),
            json!({"email": email, "password": PASSWORD, "role": role}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

pub async fn import(app: &TestApp, kind: &str, body: String) {
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

pub async fn seeded(b: Backend) -> Option<Seeded> {
    seeded_with(b, &[]).await
}

/// An escalation policy with on-call contacts and a chain but no channels (so a manual
/// escalation has a step to take; its delivery is recorded as skipped). Keep the directory
/// while the app runs; `CONEA_ESCALATION_CONFIG` is its `escalation.yaml`.
pub fn escalation_policy() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escalation.yaml");
    std::fs::write(
        &path,
        "contacts:\n  on_call_sre: {primary: \"+1-555-0100\", secondary: \"+1-555-0101\"}\n  \
         escalation_chain: [{role: \"SRE Lead\", contact: \"lead@example.com\"}]\n",
    )
    .unwrap();
    let path = path.display().to_string();
    (dir, path)
}

/// As [`seeded`], with settings.
pub async fn seeded_with(b: Backend, overrides: &[(&str, &str)]) -> Option<Seeded> {
    let app = TestApp::spawn_with(b, overrides).await?;
    user(&app, ADMIN, "admin").await;
    let viewer_id = user(&app, VIEWER, "viewer").await;
    let orders: Vec<String> = [
        (5001, 1, "1200", 1),
        (5002, 2, "3400", 2),
        (5003, 3, "560", 1),
        (5004, 8, "7800", 3),
    ]
    .iter()
    .map(|(id, ago, total, c)| order(&app, *id, *ago, total, *c).to_string())
    .collect();
    import(&app, "orders", orders.join("\n") + "\n").await;
    let product = json!({"id": 7, "title": "Matcha bowl", "vendor": "Kyoto Kiln", "status": "active",
        "created_at": day(&app, 40, 9), "updated_at": day(&app, 40, 9),
        "variants": [{"id": 70, "title": "Default", "sku": "BOWL-1", "price": "1200", "inventory_quantity": 12}]});
    import(&app, "products", product.to_string() + "\n").await;
    let customers: Vec<String> = (1..=3)
        .map(|c| {
            json!({"id": c, "email": format!("buyer{c}@example.com"), "first_name": "Hanako",
                   "last_name": format!("Yamada {c}"), "created_at": day(&app, 20, 9),
                   "updated_at": day(&app, 20, 9)})
            .to_string()
        })
        .collect();
    import(&app, "customers", customers.join("\n") + "\n").await;
    let org_text = app
        .client
        .get("/v1/auth/verify", Some(app.owner()))
        .await
        .body["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let org = OrgId::parse(&org_text).unwrap();
    let mut job = NewJob::new("noop", org.clone(), json!({}));
    job.scheduled_at = Some(app.clock.now_ms() + 86_400_000);
    let job_id = app
        .state
        .platform()
        .jobs
        .enqueue(job)
        .await
        .unwrap()
        .job
        .id
        .to_string();
    Some(Seeded {
        app,
        job_id,
        viewer_id,
        org,
    })
}

/// An HTTP client that keeps cookies and does not follow redirects (a browser without
/// script, for the tests that look at headers and status codes).
pub struct Web {
    http: reqwest::Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden `csrf` field of the page.
    pub fn csrf(&self) -> String {
        let at = self
            .text
            .find("name=\"csrf\" value=\"")
            .expect("the page has a form with a csrf field");
        let rest = &self.text[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Web {
    pub fn new(app: &TestApp) -> Web {
        Web {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base_url.clone(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let r = req
            .header("cookie", cookie.join("; "))
            .send()
            .await
            .unwrap();
        for v in r.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Page {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.http.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// A POST with a body of its own (a multipart upload).
    pub async fn post_raw(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    /// Signs in through the form; panics unless it answers 303 to the console.
    pub async fn sign_in(&mut self, email: &str) -> Page {
        let form = self.get("/console/login").await;
        let token = form.csrf();
        let r = self
            .post(
                "/console/login",
                &[("csrf", &token), ("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.text);
        assert_eq!(r.header("location"), "/console");
        r
    }
}
