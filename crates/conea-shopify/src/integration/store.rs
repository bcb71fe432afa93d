//! Shopify connections as Conea keeps them: the connection of a shop (its sealed
//! credentials, status and counters), webhook deliveries, and where each resource's sync
//! stands. The store trait is implemented by `conea-store`; the service, the webhook and
//! sync jobs live in `conea-shopify` (the crate that knows Shopify's wire format).

use crate::DeliveryKey;
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, OrgId, ShopId};
use conea_core::store::StoreResult;
use conea_jobs::NewJob;
use conea_shopdata::RecordKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The job kind that processes one webhook delivery.
pub const WEBHOOK_KIND: &str = "shopify.webhook";
/// The job kind that syncs a shop through the Admin API.
pub const SYNC_KIND: &str = "shopify.sync";
/// The job kind that re-reads one object from the Admin API (deleting it on a 404).
pub const REFRESH_KIND: &str = "shopify.refresh";
/// The job kind that reconciles a shop's ids with Shopify's.
pub const RECONCILE_KIND: &str = "shopify.reconcile";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShopifyStatus {
    /// Connected; syncs and webhooks are processed.
    Active,
    /// Shopify answered 401/403: the token was revoked or lacks a scope. Reconnect.
    Unauthorized,
    /// The merchant uninstalled the app (`app/uninstalled`).
    Uninstalled,
    /// Disconnected through the API; credentials are erased.
    Disconnected,
}

impl ShopifyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShopifyStatus::Active => "active",
            ShopifyStatus::Unauthorized => "unauthorized",
            ShopifyStatus::Uninstalled => "uninstalled",
            ShopifyStatus::Disconnected => "disconnected",
        }
    }

    pub fn parse(text: &str) -> Option<ShopifyStatus> {
        [
            ShopifyStatus::Active,
            ShopifyStatus::Unauthorized,
            ShopifyStatus::Uninstalled,
            ShopifyStatus::Disconnected,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A connected (or formerly connected) Shopify shop, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyShop {
    pub shop_id: ShopId,
    pub org_id: OrgId,
    /// `name.myshopify.com`
    pub domain: String,
    pub api_version: String,
    pub status: ShopifyStatus,
    /// Why the status is what it is (Shopify's error text and request id on `unauthorized`).
    pub status_message: Option<String>,
    pub last_sync_at: Option<EpochMs>,
    /// Deliveries stored (duplicates not counted; pruned ones neither). 0 on the
    /// credential lookups, which skip counting.
    pub webhooks_received: i64,
    /// Deliveries refused for a bad signature.
    pub webhooks_rejected: i64,
    pub last_webhook_at: Option<EpochMs>,
    pub created_at: EpochMs,
    /// Shopify's latest deprecation warning for the API version the shop uses now (`None`
    /// when none was seen, or it was for a version the shop no longer uses).
    pub deprecation: Option<DeprecationNotice>,
    /// The shop's own interval between scheduled syncs; `None`: the server's
    /// `SHOPIFY_SYNC_INTERVAL`.
    pub sync_interval_ms: Option<i64>,
    /// The last reconciliation's counts; `None` before the first.
    pub reconciliation: Option<Reconciled>,
}

/// What a reconciliation found (every resource together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    pub at: EpochMs,
    /// Ids Shopify listed.
    pub checked: i64,
    /// Objects Conea held that Shopify no longer has: deleted here.
    pub removed: i64,
    /// Objects Shopify has that Conea lacked: fetched.
    pub fetched: i64,
}

/// An answer of the shop's Admin API carried `X-Shopify-API-Deprecated-Reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeprecationNotice {
    /// The header's value (a URL of Shopify's notice, or the deprecated fields used).
    pub reason: String,
    /// The path called (`/admin/api/2025-01/orders.json`).
    pub endpoint: String,
    /// The API version the call used.
    pub api_version: String,
    /// When it was last seen.
    pub seen_at: EpochMs,
}

/// Credentials as stored: each sealed by `SecretBox` (never plaintext here).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredentials {
    pub access_token: String,
    pub api_secret: String,
    pub previous_api_secret: Option<String>,
}

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedCredentials(..)")
    }
}

/// A connection to create (or to re-activate, for a shop of the organization that was
/// disconnected or uninstalled).
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// Used when the organization has no shop with this domain yet.
    pub new_shop_id: ShopId,
    pub org_id: OrgId,
    pub domain: String,
    pub api_version: String,
    /// Sealed with [`secret_context`] of this organization and domain.
    pub credentials: SealedCredentials,
    /// The shop's own sync interval; `None`: the server's.
    pub sync_interval_ms: Option<i64>,
}

/// A verified delivery to store.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub shop_id: ShopId,
    pub org_id: OrgId,
    /// `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`.
    pub dedup_key: DeliveryKey,
    pub topic: String,
    pub webhook_id: Option<String>,
    pub event_id: Option<String>,
    pub api_version: Option<String>,
    pub triggered_at: Option<EpochMs>,
    /// The raw body (UTF-8 JSON).
    pub payload: String,
}

/// What storing a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStored {
    /// False: a delivery with the same dedup key was stored before; no job was enqueued.
    pub created: bool,
    /// The job of the delivery (the earlier one's for a duplicate).
    pub job_id: JobId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub shop_id: ShopId,
    pub org_id: OrgId,
    pub dedup_key: DeliveryKey,
    pub topic: String,
    pub payload: String,
    pub job_id: JobId,
    pub received_at: EpochMs,
    pub processed_at: Option<EpochMs>,
}

/// Where one resource's sync stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The `page_info` of the next page of the pass in progress; `None` between passes.
    pub cursor: Option<String>,
    /// The `updated_at_min` of the pass in progress.
    pub pass_min: Option<EpochMs>,
    /// When the pass in progress started (becomes the watermark when it ends).
    pub pass_started_at: Option<EpochMs>,
    /// Objects written by the pass in progress.
    pub pass_synced: i64,
    /// Watermark: the next pass asks for objects updated at or after this.
    pub updated_at_min: Option<EpochMs>,
    /// The bulk operation the pass in progress waits for or reads; `None`: it reads pages.
    pub bulk_operation: Option<String>,
    /// Lines of the bulk operation's result committed (skipped when the pass resumes).
    pub bulk_lines: i64,
}

/// An install by OAuth in flight: what its `state` was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallState {
    pub org_id: OrgId,
    /// The shop the install was started for.
    pub domain: String,
    pub created_at: EpochMs,
    pub expires_at: EpochMs,
}

/// What taking an install `state` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakenState {
    /// Issued and not used before: it is now marked used (check its expiry).
    Taken(InstallState),
    /// Issued, but a callback used it before.
    Used(InstallState),
    /// Never issued here (or deleted long after it expired).
    Unknown,
}

/// What a customer's data request finds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerData {
    pub customer: Option<Value>,
    pub orders: Vec<Value>,
}

/// What erasing did, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub customers: u64,
    pub orders: u64,
    pub line_items: u64,
    pub products: u64,
    pub variants: u64,
    pub deliveries: u64,
}

#[async_trait]
pub trait ShopifyStore: Send + Sync + 'static {
    /// Creates the shop (kind `shopify`) and its connection in one transaction, or
    /// re-activates the organization's existing shop of that domain with new credentials.
    /// Other organizations' connections of the domain are their own (the caller checked
    /// the token against the shop first).
    async fn connect(&self, c: &NewConnection, now: EpochMs) -> StoreResult<ShopifyShop>;
    async fn list_shopify_shops(&self, org: &OrgId) -> StoreResult<Vec<ShopifyShop>>;
    async fn get_shopify_shop(
        &self,
        org: &OrgId,
        shop: &ShopId,
    ) -> StoreResult<Option<ShopifyShop>>;
    /// Shops of every organization in a status (for `/health` and `conea diagnose`).
    async fn shopify_shops_with_status(
        &self,
        status: ShopifyStatus,
    ) -> StoreResult<Vec<ShopifyShop>>;
    /// The connections of a domain that are not disconnected (one per organization that
    /// connected it, oldest first), with their sealed credentials.
    async fn credentials_by_domain(
        &self,
        domain: &str,
    ) -> StoreResult<Vec<(ShopifyShop, SealedCredentials)>>;
    async fn credentials(
        &self,
        shop: &ShopId,
    ) -> StoreResult<Option<(ShopifyShop, SealedCredentials)>>;
    /// Erases the credentials and marks the connection disconnected; false when unknown.
    async fn disconnect(&self, org: &OrgId, shop: &ShopId, now: EpochMs) -> StoreResult<bool>;
    async fn set_status(
        &self,
        shop: &ShopId,
        status: ShopifyStatus,
        message: Option<&str>,
        now: EpochMs,
    ) -> StoreResult<()>;
    async fn count_rejected_webhook(&self, shop: &ShopId, now: EpochMs) -> StoreResult<()>;
    /// Records Shopify's latest deprecation warning for the shop (replacing the one before).
    async fn record_deprecation(
        &self,
        shop: &ShopId,
        notice: &DeprecationNotice,
    ) -> StoreResult<()>;
    /// Active shops of every organization whose API version Shopify flagged as deprecated
    /// (at most 100; for `/health` and `conea diagnose`).
    async fn shopify_deprecations(&self) -> StoreResult<Vec<ShopifyShop>>;
    /// Records a finished sync and when the next one is due (`None`: none scheduled).
    async fn set_last_sync(
        &self,
        shop: &ShopId,
        now: EpochMs,
        next_sync_at: Option<EpochMs>,
    ) -> StoreResult<()>;
    /// The Shopify ids of a shop's objects of one kind held here.
    async fn source_ids(&self, shop: &ShopId, kind: RecordKind) -> StoreResult<Vec<i64>>;
    /// Records a finished reconciliation and when the next is due (`None`: none scheduled).
    async fn record_reconciliation(
        &self,
        shop: &ShopId,
        done: &Reconciled,
        next: Option<EpochMs>,
    ) -> StoreResult<()>;
    /// Active shops whose reconciliation is due at `now`: `next_reconcile_at`, or (never
    /// reconciled) their last sync + `first_after`; with the `next_reconcile_at` read.
    async fn due_reconciles(
        &self,
        now: EpochMs,
        first_after: i64,
        limit: i64,
    ) -> StoreResult<Vec<(ShopifyShop, Option<EpochMs>)>>;
    /// Moves a due shop's `next_reconcile_at` from `read` to `next`; false when another
    /// replica moved it first.
    async fn claim_reconcile(
        &self,
        shop: &ShopId,
        read: Option<EpochMs>,
        next: EpochMs,
    ) -> StoreResult<bool>;
    /// Changes a connection's API version and sync interval (`None`: the server's), and
    /// when its next scheduled sync is due (`None`: none scheduled).
    async fn update_settings(
        &self,
        shop: &ShopId,
        api_version: &str,
        sync_interval_ms: Option<i64>,
        next_sync_at: Option<EpochMs>,
        now: EpochMs,
    ) -> StoreResult<()>;
    /// Active shops whose scheduled sync is due at `now`, with the `next_sync_at` read
    /// (at most `limit`, the most overdue first).
    async fn due_syncs(&self, now: EpochMs, limit: i64)
        -> StoreResult<Vec<(ShopifyShop, EpochMs)>>;
    /// Moves a due shop's `next_sync_at` from `read` to `next`; false when another replica
    /// (or a finished sync) moved it first.
    async fn claim_sync(&self, shop: &ShopId, read: EpochMs, next: EpochMs) -> StoreResult<bool>;

    /// Stores an install's `state` (its SHA-256, never the state itself); deletes states
    /// that expired more than a day before `now`.
    async fn save_install_state(&self, state_hash: &str, state: &InstallState) -> StoreResult<()>;
    /// Marks the `state` used, once (atomically: of two callbacks with the same state,
    /// one takes it, the other finds it used).
    async fn take_install_state(&self, state_hash: &str, now: EpochMs) -> StoreResult<TakenState>;

    /// Stores a verified delivery and inserts its job in ONE transaction (a duplicate
    /// dedup key inserts neither). No per-shop counter is written (it would serialize the
    /// shop's deliveries on one row); counts are read from the deliveries.
    async fn store_delivery(
        &self,
        d: &NewDelivery,
        job: &NewJob,
        now: EpochMs,
    ) -> StoreResult<DeliveryStored>;
    async fn delivery(
        &self,
        shop: &ShopId,
        dedup_key: &DeliveryKey,
    ) -> StoreResult<Option<Delivery>>;
    /// Deletes processed deliveries received before `before` (older duplicates are then no
    /// longer recognised; Shopify retries for 48 hours); returns how many went.
    async fn prune_deliveries(&self, before: EpochMs) -> StoreResult<u64>;
    async fn mark_delivery_processed(
        &self,
        shop: &ShopId,
        dedup_key: &DeliveryKey,
        now: EpochMs,
    ) -> StoreResult<()>;

    async fn sync_state(&self, shop: &ShopId, resource: RecordKind) -> StoreResult<SyncState>;
    async fn save_sync_state(
        &self,
        shop: &ShopId,
        resource: RecordKind,
        state: &SyncState,
        now: EpochMs,
    ) -> StoreResult<()>;

    /// Deletes one object deleted in the shop (`products/delete`, `orders/delete`,
    /// `customers/delete`, or a 404 when fetching it): a product with its variants, an
    /// order with its line items, a customer (their orders stay, as in Shopify).
    async fn delete_object(
        &self,
        shop: &ShopId,
        kind: RecordKind,
        source_id: i64,
    ) -> StoreResult<Erased>;
    /// A customer's stored data (`customers/data_request`): the customer row and the
    /// orders placed by that customer id or e-mail.
    async fn customer_data(
        &self,
        shop: &ShopId,
        customer_id: i64,
        email: Option<&str>,
    ) -> StoreResult<CustomerData>;
    /// Erases a customer's personal data (`customers/redact`): the customer row, the
    /// e-mail and customer id on their orders (by customer id, or listed in `orders`), and
    /// stored deliveries that mention them.
    async fn redact_customer(
        &self,
        shop: &ShopId,
        customer_id: i64,
        email: Option<&str>,
        orders: &[i64],
    ) -> StoreResult<Erased>;
    /// Erases every record of the shop (`shop/redact`, acted on only for an uninstalled
    /// shop): data, deliveries, sync state and credentials. The shop row stays, disconnected.
    async fn redact_shop(&self, shop: &ShopId, now: EpochMs) -> StoreResult<Erased>;
}

/// The context a credential is sealed for (bound as associated data): a sealed value moved
/// to another field, organization or domain does not decrypt.
pub fn secret_context(field: &str, org: &OrgId, domain: &str) -> String {
    format!("shopify.{field}:{org}:{domain}")
}
