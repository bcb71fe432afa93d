//! The rows the Shopify statements read.

use conea_core::ids::{OrgId, ShopId};
use conea_core::store::{StoreError, StoreResult};
use conea_shopify::integration::store::{
    DeprecationNotice, Reconciled, SealedCredentials, ShopifyShop, ShopifyStatus,
};

#[derive(sqlx::FromRow)]
pub(super) struct ShopifyRow {
    pub(super) shop_id: String,
    pub(super) organization_id: String,
    pub(super) domain: String,
    pub(super) api_version: String,
    pub(super) status: String,
    pub(super) status_message: Option<String>,
    pub(super) last_sync_at: Option<i64>,
    pub(super) webhooks_received: i64,
    pub(super) webhooks_rejected: i64,
    pub(super) last_webhook_at: Option<i64>,
    pub(super) created_at: i64,
    pub(super) deprecation_reason: Option<String>,
    pub(super) deprecation_endpoint: Option<String>,
    pub(super) deprecation_api_version: Option<String>,
    pub(super) deprecation_seen_at: Option<i64>,
    pub(super) sync_interval_ms: Option<i64>,
    pub(super) reconciled_at: Option<i64>,
    pub(super) reconcile_checked: Option<i64>,
    pub(super) reconcile_removed: Option<i64>,
    pub(super) reconcile_fetched: Option<i64>,
}

impl ShopifyRow {
    pub(super) fn into_model(self) -> StoreResult<ShopifyShop> {
        let bad = |what: &str| StoreError::Other(format!("corrupt {what} in shopify_shops row"));
        // A notice for a version the shop no longer uses is history.
        let deprecation = match (
            self.deprecation_reason,
            self.deprecation_endpoint,
            self.deprecation_api_version,
            self.deprecation_seen_at,
        ) {
            (Some(reason), Some(endpoint), Some(api_version), Some(seen_at))
                if api_version == self.api_version =>
            {
                Some(DeprecationNotice {
                    reason,
                    endpoint,
                    api_version,
                    seen_at,
                })
            }
            _ => None,
        };
        Ok(ShopifyShop {
            shop_id: ShopId::parse(&self.shop_id).map_err(|_| bad("shop id"))?,
            org_id: OrgId::parse(&self.organization_id).map_err(|_| bad("organization id"))?,
            domain: self.domain,
            api_version: self.api_version,
            status: ShopifyStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            status_message: self.status_message,
            last_sync_at: self.last_sync_at,
            webhooks_received: self.webhooks_received,
            webhooks_rejected: self.webhooks_rejected,
            last_webhook_at: self.last_webhook_at,
            created_at: self.created_at,
            deprecation,
            sync_interval_ms: self.sync_interval_ms,
            reconciliation: self.reconciled_at.map(|at| Reconciled {
                at,
                checked: self.reconcile_checked.unwrap_or(0),
                removed: self.reconcile_removed.unwrap_or(0),
                fetched: self.reconcile_fetched.unwrap_or(0),
            }),
        })
    }
}

/// A shop whose reconciliation is due, with the `next_reconcile_at` read.
#[derive(sqlx::FromRow)]
pub(super) struct DueReconcileRow {
    #[sqlx(flatten)]
    pub(super) shop: ShopifyRow,
    pub(super) next_reconcile_at: Option<i64>,
}

/// A shop whose scheduled sync is due, with the `next_sync_at` read.
#[derive(sqlx::FromRow)]
pub(super) struct DueRow {
    #[sqlx(flatten)]
    pub(super) shop: ShopifyRow,
    pub(super) next_sync_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    #[sqlx(flatten)]
    pub(super) shop: ShopifyRow,
    pub(super) access_token: Option<String>,
    pub(super) api_secret: Option<String>,
    pub(super) previous_api_secret: Option<String>,
}

impl CredentialRow {
    pub(super) fn into_model(self) -> StoreResult<Option<(ShopifyShop, SealedCredentials)>> {
        let (Some(access_token), Some(api_secret)) = (self.access_token, self.api_secret) else {
            return Ok(None);
        };
        Ok(Some((
            self.shop.into_model()?,
            SealedCredentials {
                access_token,
                api_secret,
                previous_api_secret: self.previous_api_secret,
            },
        )))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DeliveryRow {
    pub(super) shop_id: String,
    pub(super) organization_id: String,
    pub(super) dedup_key: String,
    pub(super) topic: String,
    pub(super) payload: String,
    pub(super) job_id: String,
    pub(super) received_at: i64,
    pub(super) processed_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct SyncRow {
    pub(super) cursor: Option<String>,
    pub(super) pass_min: Option<i64>,
    pub(super) pass_started_at: Option<i64>,
    pub(super) pass_synced: i64,
    pub(super) updated_at_min: Option<i64>,
    pub(super) bulk_operation: Option<String>,
    pub(super) bulk_lines: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct CustomerRow {
    pub(super) source_id: i64,
    pub(super) email: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) orders_count: Option<i64>,
    pub(super) total_spent_e4: Option<i64>,
    pub(super) created_at: Option<i64>,
    pub(super) source_updated_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct OrderRow {
    pub(super) source_id: i64,
    pub(super) name: Option<String>,
    pub(super) email: Option<String>,
    pub(super) customer_source_id: Option<i64>,
    pub(super) currency: String,
    pub(super) total_price_e4: i64,
    pub(super) status: String,
    pub(super) financial_status: Option<String>,
    pub(super) created_at: i64,
    pub(super) source_updated_at: i64,
}

/// `%text%` for a LIKE that matches `text` literally (`%`, `_` and `\` escaped).
pub(super) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
