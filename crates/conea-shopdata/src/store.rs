//! The storage trait for shop data; `conea-store` implements it for SQLite and PostgreSQL.

use super::model::{Customer, Order, Product, RecordKind, Shop};
use super::money::Money;
use super::reads::query::{
    CustomerFilter, CustomerOrders, CustomerSort, Keyset, Listed, OrderFilter, OrderSort,
    ProductFilter, ProductSort, ReadScope,
};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::StoreResult;
use serde::{Deserialize, Serialize};

/// What an upsert batch did, per top-level record (an order with its line items is one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertCounts {
    /// New records.
    pub inserted: u64,
    /// Existing records written again (the incoming version was as new or newer).
    pub updated: u64,
    /// Records not written: the stored version is newer, or a newer copy of the same
    /// record came later in the same batch.
    pub skipped: u64,
}

impl UpsertCounts {
    pub fn add(&mut self, other: UpsertCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.skipped += other.skipped;
    }
}

/// Which orders a report covers: one organization, one shop or all its shops, and the
/// orders created in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportScope {
    pub org_id: OrgId,
    pub shop_id: Option<ShopId>,
    pub from: EpochMs,
    pub to: EpochMs,
}

/// Orders of one (UTC day, status, financial status, currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderGroup {
    /// Days since 1970-01-01 (UTC) of `created_at`.
    pub day: i64,
    /// `open`, `closed` or `cancelled`.
    pub status: String,
    pub financial_status: Option<String>,
    pub currency: String,
    pub orders: i64,
    /// Orders that are not cancelled.
    pub live_orders: i64,
    /// Sum of `total_price` over the orders that are not cancelled.
    pub revenue: Money,
}

/// Sales of one product (line items without a product are grouped by title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSalesRow {
    pub product_id: Option<i64>,
    pub title: String,
    pub units_sold: i64,
    /// Sum of `price × quantity`.
    pub revenue: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductSales {
    /// Best first, by revenue.
    pub top: Vec<ProductSalesRow>,
    pub total_units: i64,
    pub total_revenue: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadInfo {
    pub chunks: i64,
    pub bytes: i64,
}

/// Shops, their data (upserted by source id) and streamed uploads waiting for import.
///
/// Upserts are idempotent: a record is keyed by (shop, source id), and a version whose
/// `updated_at` is older than the stored one is skipped, so re-importing the same data, or
/// receiving webhooks out of order, never moves data backwards. A batch may hold the same
/// source id more than once: the newest (the later one on a tie) is written.
#[async_trait]
pub trait ShopDataStore: Send + Sync + 'static {
    /// Adds a shop; a second shop with the same domain in the organization is
    /// `StoreError::Duplicate`.
    async fn insert_shop(&self, shop: &Shop) -> StoreResult<()>;
    /// The organization's manual shop, created on first use.
    async fn default_shop(&self, org: &OrgId, now: EpochMs) -> StoreResult<Shop>;
    /// A shop of the organization by id (`shop_…`) or domain (case-insensitive).
    async fn find_shop(&self, org: &OrgId, id_or_domain: &str) -> StoreResult<Option<Shop>>;

    /// Upserts orders and their line items in one transaction.
    async fn upsert_orders(
        &self,
        org: &OrgId,
        shop: &ShopId,
        orders: &[Order],
        now: EpochMs,
    ) -> StoreResult<UpsertCounts>;
    /// Upserts products and their variants in one transaction.
    async fn upsert_products(
        &self,
        org: &OrgId,
        shop: &ShopId,
        products: &[Product],
        now: EpochMs,
    ) -> StoreResult<UpsertCounts>;
    async fn upsert_customers(
        &self,
        org: &OrgId,
        shop: &ShopId,
        customers: &[Customer],
        now: EpochMs,
    ) -> StoreResult<UpsertCounts>;

    /// Refreshes the query planner's statistics of the tables of `kind` after a large import,
    /// so reports right after it get good plans.
    async fn refresh_statistics(&self, kind: RecordKind) -> StoreResult<()>;

    /// Stores chunk `seq` (0, 1, 2, …) of an upload; writing the same chunk again replaces it.
    async fn append_upload_chunk(
        &self,
        org: &OrgId,
        upload_id: &str,
        seq: i64,
        data: &[u8],
        now: EpochMs,
    ) -> StoreResult<()>;
    /// Number of chunks and bytes of an upload; `None` when it has none.
    async fn upload_info(&self, org: &OrgId, upload_id: &str) -> StoreResult<Option<UploadInfo>>;
    async fn read_upload_chunk(
        &self,
        org: &OrgId,
        upload_id: &str,
        seq: i64,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// Deletes an upload's chunks and its checkpoint; returns how many chunks there were.
    async fn delete_upload(&self, org: &OrgId, upload_id: &str) -> StoreResult<u64>;
    /// Ends an upload's import in one transaction: its checkpoint becomes `checkpoint` (the
    /// finished one, with the import's report) and its chunks are deleted. The checkpoint
    /// stays until the retention prunes it, so an attempt run again because its completion
    /// was never recorded (a crash, or a failed write, after this) answers the same report
    /// instead of finding no data. Returns how many chunks there were.
    async fn finish_upload(
        &self,
        org: &OrgId,
        upload_id: &str,
        checkpoint: &str,
        now: EpochMs,
    ) -> StoreResult<u64>;
    /// Stores (replaces) the checkpoint of an upload's import. The first one seals the
    /// upload: it is complete and its import job is being enqueued.
    async fn save_import_checkpoint(
        &self,
        org: &OrgId,
        upload_id: &str,
        checkpoint: &str,
        now: EpochMs,
    ) -> StoreResult<()>;
    /// The last checkpoint stored for an upload's import.
    async fn import_checkpoint(&self, org: &OrgId, upload_id: &str) -> StoreResult<Option<String>>;
    /// Deletes chunks (and checkpoints) written before `before` (the job retention: their
    /// jobs are long final), and orphans: chunks of uploads that were never sealed and whose
    /// newest chunk was written before `orphaned_before` (the request receiving them died).
    /// Returns how many chunks went.
    async fn prune_uploads(&self, before: EpochMs, orphaned_before: EpochMs) -> StoreResult<u64>;

    /// Orders created in the scope, grouped by day, status, financial status and currency.
    async fn order_groups(&self, scope: &ReportScope) -> StoreResult<Vec<OrderGroup>>;
    /// Orders in the scope that are not cancelled, counted per currency.
    async fn order_currencies(&self, scope: &ReportScope) -> StoreResult<Vec<(String, i64)>>;
    /// Line-item sales of the orders in the scope that are not cancelled and are in
    /// `currency`: the top `limit` products by revenue, and totals over all of them.
    async fn product_sales(
        &self,
        scope: &ReportScope,
        currency: &str,
        limit: u32,
    ) -> StoreResult<ProductSales>;

    /// A keyset page of the orders matching `filter` (without line items), in `page.sort`
    /// order with ties broken by (shop id, source id), after `page.after`.
    async fn list_orders(
        &self,
        scope: &ReadScope,
        filter: &OrderFilter,
        page: &Keyset<OrderSort>,
    ) -> StoreResult<Vec<Listed<Order>>>;
    /// The orders with this source id in the scope (one per shop holding it), with their
    /// line items.
    async fn get_orders(&self, scope: &ReadScope, id: i64) -> StoreResult<Vec<Listed<Order>>>;
    /// A keyset page of the products matching `filter`, with their variants.
    async fn list_products(
        &self,
        scope: &ReadScope,
        filter: &ProductFilter,
        page: &Keyset<ProductSort>,
    ) -> StoreResult<Vec<Listed<Product>>>;
    async fn get_products(&self, scope: &ReadScope, id: i64) -> StoreResult<Vec<Listed<Product>>>;
    /// A keyset page of the customers matching `filter`.
    async fn list_customers(
        &self,
        scope: &ReadScope,
        filter: &CustomerFilter,
        page: &Keyset<CustomerSort>,
    ) -> StoreResult<Vec<Listed<Customer>>>;
    async fn get_customers(&self, scope: &ReadScope, id: i64)
        -> StoreResult<Vec<Listed<Customer>>>;
    /// The orders that are not cancelled of these customers (shop, customer source id),
    /// per customer and currency.
    async fn customer_orders(
        &self,
        org: &OrgId,
        customers: &[(ShopId, i64)],
    ) -> StoreResult<Vec<CustomerOrders>>;
}

/// Indexes of the records of a batch to write: for each source id, the one with the
/// greatest `updated_at` (the later one on a tie), in batch order. The others are skipped.
pub fn latest_by_source_id<T>(items: &[T], key: impl Fn(&T) -> (i64, EpochMs)) -> Vec<usize> {
    let mut best: std::collections::HashMap<i64, usize> =
        std::collections::HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (id, updated) = key(item);
        match best.get(&id) {
            Some(&j) if key(&items[j]).1 > updated => {}
            _ => {
                best.insert(id, i);
            }
        }
    }
    let mut keep: Vec<usize> = best.into_values().collect();
    keep.sort_unstable();
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_copy_of_a_record_in_a_batch_wins_and_later_wins_ties() {
        let items = [(1, 10), (2, 5), (1, 30), (1, 20), (2, 5)];
        assert_eq!(latest_by_source_id(&items, |x| *x), vec![2, 4]);
    }
}
