//! Shopify wired into Conea: the [`ShopifyService`] the HTTP routes and the CLI call, and
//! the three job kinds, `shopify.webhook` ([`WebhookHandler`]), `shopify.sync`
//! ([`SyncHandler`]) and `shopify.refresh` ([`RefreshHandler`]); the last two reach the
//! Admin API through one [`ShopAccess`]. Storage is [`store::ShopifyStore`] (this crate's own trait, implemented
//! in conea-store; plus the shop data store); the records go through `conea_shopdata`'s parser.

pub mod access;
pub mod bulk_finishes;
pub mod bulk_sync;
pub mod deprecations;
pub mod install;
pub mod interval;
pub mod lifecycle;
pub mod reconcile;
pub mod refresh;
pub mod registration;
pub mod service;
pub mod signals;
pub mod store;
pub mod sync;
pub mod webhooks;

use crate::DeliveryKey;
use conea_core::ids::ShopId;
use conea_shopdata::RecordKind;
use serde::{Deserialize, Serialize};

pub use access::{ApiOptions, OAuthApp, ShopAccess};
pub use install::ShopifyModule;
pub use reconcile::ReconcileHandler;
pub use refresh::RefreshHandler;
pub use registration::Registration;
pub use service::{ConnectRequest, Received, ShopUpdate, ShopifyService};
pub use signals::{Delivered, SignatureFailures, WebhookAccepted, WebhookOutcome};
pub use sync::SyncHandler;
pub use webhooks::WebhookHandler;

/// Arguments of a `shopify.webhook` job: the stored delivery to process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookArgs {
    pub shop_id: ShopId,
    pub dedup_key: DeliveryKey,
    pub topic: String,
}

/// Arguments of a `shopify.sync` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncArgs {
    pub shop_id: ShopId,
}

/// Arguments of a `shopify.reconcile` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReconcileArgs {
    pub shop_id: ShopId,
}

/// Arguments of a `shopify.refresh` job: one object to read again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshArgs {
    pub shop_id: ShopId,
    pub resource: RecordKind,
    /// The object's Shopify id.
    pub id: i64,
}
