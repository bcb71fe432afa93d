//! The `shopify.webhook` job: one stored delivery, processed by topic. Record topics upsert
//! through `conea_shopdata`'s parser and store (an older `updated_at` never overwrites
//! a newer row, so out-of-order deliveries are harmless); `products/delete`,
//! `orders/delete` and `customers/delete` delete;
//! `app/uninstalled` marks the shop; the compliance topics produce or erase a customer's
//! data, or erase the shop's.

use super::WebhookArgs;
use crate::integration::store::{Delivery, ShopifyStatus, ShopifyStore, WEBHOOK_KIND};
use conea_jobs::{JobContext, JobError, JobKind};
use conea_shopdata::{parse_ndjson_line, Record, RecordKind, ShopDataStore};
use serde_json::{json, Value};
use std::sync::Arc;

pub struct WebhookHandler {
    store: Arc<dyn ShopifyStore>,
    data: Arc<dyn ShopDataStore>,
}

impl WebhookHandler {
    pub fn new(store: Arc<dyn ShopifyStore>, data: Arc<dyn ShopDataStore>) -> Self {
        WebhookHandler { store, data }
    }

    async fn upsert(&self, d: &Delivery, kind: RecordKind, now: i64) -> Result<Value, JobError> {
        let record = parse_ndjson_line(kind, &d.payload).map_err(|e| {
            JobError::permanent(format!("the {} payload does not parse: {e}", d.topic))
        })?;
        let counts = match record {
            Record::Order(o) => {
                self.data
                    .upsert_orders(&d.org_id, &d.shop_id, &[o], now)
                    .await
            }
            Record::Product(p) => {
                self.data
                    .upsert_products(&d.org_id, &d.shop_id, &[p], now)
                    .await
            }
            Record::Customer(c) => {
                self.data
                    .upsert_customers(&d.org_id, &d.shop_id, &[c], now)
                    .await
            }
        }
        .map_err(retry)?;
        Ok(json!({ "topic": d.topic, "upsert": counts }))
    }

    /// `{resource}/delete`: the payload is `{"id": …}`.
    async fn delete(&self, d: &Delivery, kind: RecordKind, p: &Value) -> Result<Value, JobError> {
        let id = p["id"]
            .as_i64()
            .ok_or_else(|| JobError::permanent(format!("the {} payload has no id", d.topic)))?;
        let erased = self
            .store
            .delete_object(&d.shop_id, kind, id)
            .await
            .map_err(retry)?;
        Ok(json!({ "topic": d.topic, "deleted": erased }))
    }

    async fn process(&self, d: &Delivery, now: i64) -> Result<Value, JobError> {
        let payload = || -> Result<Value, JobError> {
            serde_json::from_str(&d.payload).map_err(|e| {
                JobError::permanent(format!("the {} payload is not JSON: {e}", d.topic))
            })
        };
        let customer = |p: &Value| -> Result<(i64, Option<String>), JobError> {
            let c = &p["customer"];
            let id = c["id"].as_i64().ok_or_else(|| {
                JobError::permanent(format!("the {} payload has no customer.id", d.topic))
            })?;
            Ok((id, c["email"].as_str().map(str::to_owned)))
        };
        match d.topic.as_str() {
            "orders/create" | "orders/updated" | "orders/paid" | "orders/cancelled"
            | "orders/fulfilled" | "orders/edited" => self.upsert(d, RecordKind::Orders, now).await,
            "products/create" | "products/update" => {
                self.upsert(d, RecordKind::Products, now).await
            }
            "customers/create" | "customers/update" | "customers/enable" | "customers/disable" => {
                self.upsert(d, RecordKind::Customers, now).await
            }
            "products/delete" => self.delete(d, RecordKind::Products, &payload()?).await,
            "orders/delete" => self.delete(d, RecordKind::Orders, &payload()?).await,
            "customers/delete" => self.delete(d, RecordKind::Customers, &payload()?).await,
            "app/uninstalled" => {
                self.store
                    .set_status(
                        &d.shop_id,
                        ShopifyStatus::Uninstalled,
                        Some("the app was uninstalled from the shop (app/uninstalled)"),
                        now,
                    )
                    .await
                    .map_err(retry)?;
                Ok(json!({ "topic": d.topic, "status": "uninstalled" }))
            }
            "customers/data_request" => {
                let p = payload()?;
                let (id, email) = customer(&p)?;
                let data = self
                    .store
                    .customer_data(&d.shop_id, id, email.as_deref())
                    .await
                    .map_err(retry)?;
                Ok(json!({
                    "topic": d.topic,
                    "data_request_id": p["data_request"]["id"],
                    "customer": data.customer,
                    "orders": data.orders,
                }))
            }
            "customers/redact" => {
                let p = payload()?;
                let (id, email) = customer(&p)?;
                let listed: Vec<i64> = p["orders_to_redact"]
                    .as_array()
                    .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                let erased = self
                    .store
                    .redact_customer(&d.shop_id, id, email.as_deref(), &listed)
                    .await
                    .map_err(retry)?;
                Ok(json!({ "topic": d.topic, "erased": erased }))
            }
            "shop/redact" => {
                let erased = self
                    .store
                    .redact_shop(&d.shop_id, now)
                    .await
                    .map_err(retry)?;
                Ok(json!({ "topic": d.topic, "erased": erased }))
            }
            other => Ok(json!({ "topic": other, "ignored": true })),
        }
    }
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::retryable(e.to_string())
}

#[async_trait::async_trait]
impl JobKind for WebhookHandler {
    const KIND: &'static str = WEBHOOK_KIND;
    type Args = WebhookArgs;

    fn max_attempts(&self) -> u32 {
        8
    }

    async fn run(&self, args: WebhookArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let Some(delivery) = self
            .store
            .delivery(&args.shop_id, &args.dedup_key)
            .await
            .map_err(retry)?
        else {
            // The shop was deleted with its deliveries.
            return Ok(json!({ "topic": args.topic, "skipped": "the delivery no longer exists" }));
        };
        let now = ctx.clock.now_ms();
        let result = self.process(&delivery, now).await?;
        self.store
            .mark_delivery_processed(&args.shop_id, &args.dedup_key, now)
            .await
            .map_err(retry)?;
        Ok(result)
    }
}
