//! The `shopify.webhook` job: one stored delivery, processed by topic. Record topics upsert
//! through `conea_shopdata`'s parser and store (an older `updated_at` never overwrites
//! a newer row, so out-of-order deliveries are harmless); `products/delete`,
//! `orders/delete` and `customers/delete` delete once Shopify confirms the object is gone
//! (see [`WebhookHandler::delete`]);
//! `app/uninstalled` marks the shop once Shopify confirms it (see [`WebhookHandler::uninstall`]);
//! the compliance topics produce or erase a customer's
//! data (the customer and the orders the request names), or erase the shop's (only once it
//! is uninstalled). Each body is parsed as its topic's payload ([`TopicPayload`]) first.

use super::access::ShopAccess;
use super::signals::SignatureFailures;
use super::WebhookArgs;
use crate::error::ErrorKind;
use crate::integration::store::{Delivery, ShopifyStatus, ShopifyStore, WEBHOOK_KIND};
use crate::resources::Resource;
use crate::topics::TopicPayload;
use conea_jobs::{JobContext, JobError, JobKind};
use conea_shopdata::{Record, RecordKind, ShopDataStore};
use serde_json::{json, Value};
use std::sync::Arc;

pub struct WebhookHandler {
    store: Arc<dyn ShopifyStore>,
    access: ShopAccess,
    data: Arc<dyn ShopDataStore>,
    failures: Arc<SignatureFailures>,
}

impl WebhookHandler {
    pub fn new(
        access: ShopAccess,
        data: Arc<dyn ShopDataStore>,
        failures: Arc<SignatureFailures>,
    ) -> Self {
        WebhookHandler {
            store: access.store().clone(),
            access,
            data,
            failures,
        }
    }

    /// `app/uninstalled`, confirmed with Shopify before the shop is marked. Its body is the
    /// shop object, the same Shopify signs for `shop/update`, so a signed `shop/update` body
    /// re-sent under this topic passes every check of the body. An uninstall revokes the
    /// app's token, so `GET shop.json` with the shop's token decides: refused (401/403) or
    /// the shop gone (404) is a real uninstall; an answer means the app is still installed
    /// and the delivery is rejected (counted on the shop and as a signature failure, the
    /// shop untouched); Shopify unreachable is retried.
    async fn uninstall(&self, d: &Delivery, now: i64) -> Result<Value, JobError> {
        let Some((shop, sealed)) = self.store.credentials(&d.shop_id).await.map_err(retry)? else {
            return Ok(json!({ "topic": d.topic, "skipped": "the shop is not connected" }));
        };
        let client = self
            .access
            .client(&shop, &sealed)
            .map_err(JobError::permanent)?;
        match client.shop().await {
            Err(e) if matches!(e.kind, ErrorKind::Unauthorized | ErrorKind::NotFound) => {
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
            Err(e) => Err(JobError::retryable(format!(
                "could not confirm the uninstall with Shopify: {e}"
            ))),
            Ok(_) => Ok(self
                .reject(
                    d,
                    &shop.domain,
                    "Shopify still accepts the shop's access token: the app is installed, so this body (a shop object, as shop/update sends) is not an uninstall".into(),
                    now,
                )
                .await),
        }
    }

    /// A delivery whose body Shopify contradicts (a signed body replayed under another
    /// topic): counted as rejected on the shop and as a signature failure, nothing changed.
    async fn reject(&self, d: &Delivery, domain: &str, reason: String, now: i64) -> Value {
        if let Err(e) = self.store.count_rejected_webhook(&d.shop_id, now).await {
            tracing::warn!(error = %e, "could not count a rejected webhook");
        }
        self.failures.record(now);
        tracing::warn!(
            shop = %domain,
            topic = %d.topic,
            outcome = "topic_mismatch",
            reason = %reason,
            "refused a Shopify webhook"
        );
        json!({ "topic": d.topic, "rejected": reason })
    }

    /// `products/delete`, `orders/delete`, `customers/delete`, confirmed with Shopify
    /// before anything is erased. The three bodies are the same `{"id": N}`, so a signed
    /// `products/delete` body re-sent as `orders/delete` (with a new event id) passes every
    /// check of the body and names an order by a product's id. Shopify decides: `GET
    /// {resource}/{id}.json` answering 404 confirms the deletion; an answer with the object
    /// means it still exists, so the delivery is rejected (counted on the shop and as a
    /// signature failure, nothing erased). Shopify unreachable (transport, 5xx, throttled
    /// past the client's retries) is retried with the job's backoff: the delivery is
    /// stored, so nothing acknowledged is lost. A refused token (401/403: the app was
    /// uninstalled, or the token revoked) confirms nothing: the job fails for good with the
    /// reason and erases nothing (an uninstalled shop's data goes with `shop/redact`; after
    /// connecting the shop again, the job can be retried).
    async fn delete(
        &self,
        d: &Delivery,
        kind: RecordKind,
        id: i64,
        now: i64,
    ) -> Result<Value, JobError> {
        let Some((shop, sealed)) = self.store.credentials(&d.shop_id).await.map_err(retry)? else {
            return Ok(json!({ "topic": d.topic, "skipped": "the shop is not connected" }));
        };
        let client = self
            .access
            .client(&shop, &sealed)
            .map_err(JobError::permanent)?;
        let resource = Resource::of(kind);
        let what = resource.singular();
        match client.get_one(resource, id).await {
            Ok(None) => {
                let erased = self
                    .store
                    .delete_object(&d.shop_id, kind, id)
                    .await
                    .map_err(retry)?;
                Ok(json!({ "topic": d.topic, "deleted": erased }))
            }
            Ok(Some(_)) => {
                let reason = format!(
                    "Shopify still has the {what} {id}: this body is not its deletion (a deletion notice replayed under another topic?)"
                );
                Ok(self.reject(d, &shop.domain, reason, now).await)
            }
            Err(e) if e.kind == ErrorKind::Unauthorized => Err(JobError::permanent(format!(
                "Shopify refuses the access token of {}, so the deletion of {what} {id} cannot be confirmed: nothing erased ({e}). Connect the shop again, then retry this job.",
                shop.domain
            ))),
            Err(e) => Err(JobError::retryable(format!(
                "could not confirm the deletion of {what} {id} with Shopify: {e}"
            ))),
        }
    }

    async fn upsert(&self, d: &Delivery, record: Record, now: i64) -> Result<Value, JobError> {
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

    /// The delivery's body as its topic's payload (checked again here: a delivery stored
    /// before the check existed, or a shop whose status changed since, erases nothing).
    async fn process(&self, d: &Delivery, now: i64) -> Result<Value, JobError> {
        let Some(shop) = self
            .store
            .get_shopify_shop(&d.org_id, &d.shop_id)
            .await
            .map_err(retry)?
        else {
            return Ok(json!({ "topic": d.topic, "skipped": "the shop no longer exists" }));
        };
        let payload = TopicPayload::parse(&d.topic, &shop.domain, &d.payload)
            .map_err(|m| JobError::permanent(m.to_string()))?;
        match payload {
            TopicPayload::Upsert(record) => self.upsert(d, record, now).await,
            TopicPayload::Delete { kind, id } => self.delete(d, kind, id, now).await,
            TopicPayload::Uninstalled => self.uninstall(d, now).await,
            TopicPayload::DataRequest(r) => {
                let data = self
                    .store
                    .customer_data(&d.shop_id, r.customer_id, r.email.as_deref())
                    .await
                    .map_err(retry)?;
                Ok(json!({
                    "topic": d.topic,
                    "data_request_id": r.data_request_id,
                    "customer": data.customer,
                    "orders": data.orders,
                }))
            }
            TopicPayload::CustomerRedact(r) => {
                let erased = self
                    .store
                    .redact_customer(&d.shop_id, r.customer_id, r.email.as_deref(), &r.orders)
                    .await
                    .map_err(retry)?;
                Ok(json!({ "topic": d.topic, "erased": erased }))
            }
            TopicPayload::ShopRedact if shop.status != ShopifyStatus::Uninstalled => Ok(json!({
                "topic": d.topic,
                "skipped": format!("the shop is {}, not uninstalled: nothing erased", shop.status.as_str()),
            })),
            TopicPayload::ShopRedact => {
                let erased = self
                    .store
                    .redact_shop(&d.shop_id, now)
                    .await
                    .map_err(retry)?;
                Ok(json!({ "topic": d.topic, "erased": erased }))
            }
            TopicPayload::BulkFinished(f) => {
                // The receiver woke this process's waiting sync already; a sync of another
                // replica that runs this job is woken here (else its poll finds the end).
                self.access.options().bulk_finishes.signal(&f.id);
                Ok(
                    json!({ "topic": d.topic, "bulk_operation": f.id, "status": f.status,
                           "error_code": f.error_code }),
                )
            }
            TopicPayload::Ignored => Ok(json!({ "topic": d.topic, "ignored": true })),
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

    /// 15 attempts: with the engine's backoff (2 s doubling, capped at an hour) the last
    /// runs about four hours after the first, as long as Shopify itself retries a delivery:
    /// a deletion or an uninstall waiting for Shopify's confirmation survives an outage that
    /// long. A job that still fails is discarded with its errors; its delivery stays stored
    /// and `POST /v1/jobs/{id}/retry` runs it again.
    fn max_attempts(&self) -> u32 {
        15
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
