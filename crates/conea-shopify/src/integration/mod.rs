//! Shopify wired into Conea: the [`ShopifyService`] the HTTP routes and the CLI call, and
//! the two job kinds, `shopify.webhook` ([`WebhookHandler`]) and `shopify.sync`
//! ([`SyncHandler`]). Storage is `conea_core::shopify::ShopifyStore` (plus the shop data
//! store); the records go through conea-core's `shopdata` parser.

pub mod service;
pub mod sync;
pub mod webhooks;

use conea_core::ids::ShopId;
use serde::{Deserialize, Serialize};

pub use service::{ConnectRequest, ShopifyService, WebhookAccepted};
pub use sync::{SyncHandler, SyncOptions};
pub use webhooks::WebhookHandler;

/// Arguments of a `shopify.webhook` job: the stored delivery to process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookArgs {
    pub shop_id: ShopId,
    pub dedup_key: String,
    pub topic: String,
}

/// Arguments of a `shopify.sync` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncArgs {
    pub shop_id: ShopId,
}
