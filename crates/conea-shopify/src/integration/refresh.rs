//! The `shopify.refresh` job: reads one object again from the Admin API. Found, it is
//! upserted (an older `updated_at` never overwrites newer data); a 404 means the merchant
//! deleted it, so Conea deletes its copy (a product with its variants, an order with its
//! line items) instead of failing or retrying. 401/403 marks the shop `unauthorized`.

use super::access::ShopAccess;
use super::sync::write_objects;
use super::RefreshArgs;
use crate::integration::store::REFRESH_KIND;
use crate::resources::Resource;
use conea_jobs::{JobContext, JobError, JobKind};
use conea_shopdata::ShopDataStore;
use serde_json::{json, Value};
use std::sync::Arc;

pub struct RefreshHandler {
    access: ShopAccess,
    data: Arc<dyn ShopDataStore>,
}

impl RefreshHandler {
    pub fn new(access: ShopAccess, data: Arc<dyn ShopDataStore>) -> Self {
        RefreshHandler { access, data }
    }
}

#[async_trait::async_trait]
impl JobKind for RefreshHandler {
    const KIND: &'static str = REFRESH_KIND;
    type Args = RefreshArgs;

    async fn run(&self, args: RefreshArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let (shop, client) = self.access.open(&args.shop_id).await?;
        let fetched = match client.get_one(Resource::of(args.resource), args.id).await {
            Ok(fetched) => fetched,
            Err(e) => return Err(self.access.failed(&shop, e, ctx.clock.now_ms()).await),
        };
        let now = ctx.clock.now_ms();
        let resource = args.resource.as_str();
        match fetched {
            Some(object) => {
                let (counts, bad) =
                    write_objects(self.data.as_ref(), &shop, args.resource, &[object], now).await?;
                if bad > 0 {
                    return Err(JobError::permanent(format!(
                        "Shopify's {resource} {} does not parse (see the warning log)",
                        args.id
                    )));
                }
                Ok(json!({ "resource": resource, "id": args.id, "found": true, "upsert": counts }))
            }
            None => {
                let erased = self
                    .access
                    .store()
                    .delete_object(&shop.shop_id, args.resource, args.id)
                    .await
                    .map_err(|e| JobError::retryable(e.to_string()))?;
                tracing::info!(shop = %shop.domain, resource, id = args.id, "Shopify answered 404: deleted the local copy");
                Ok(
                    json!({ "resource": resource, "id": args.id, "found": false, "deleted": erased }),
                )
            }
        }
    }
}
