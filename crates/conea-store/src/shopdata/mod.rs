//! `ShopDataStore` on SQL: shops, batched idempotent upserts of shop records, upload chunks
//! and the report aggregates.
//!
//! A batch is written in one transaction. Top-level records (orders, products, customers)
//! are upserted with a guard: a stored row is only overwritten when
//! `excluded.source_updated_at >= source_updated_at`. The children of the records written
//! (line items, variants) then replace the stored ones: those of updated records are deleted,
//! and all are inserted with a plain `INSERT` (cheaper than an upsert, and an item removed
//! from an order disappears). Records that were skipped keep their children.
//!
//! PostgreSQL: `INSERT … SELECT FROM UNNEST(arrays)` (one parameter per column, one prepared
//! statement whatever the batch size), `RETURNING (xmax = 0)` tells inserted rows from updated
//! ones. SQLite: multi-row `VALUES`, first `ON CONFLICT DO NOTHING RETURNING` (the inserted
//! rows), then the rest with `ON CONFLICT DO UPDATE … WHERE` (the updated rows); both start
//! with a write, so the transaction holds the write lock from its first statement.

mod analytics;
mod catalog_reads;
mod customer_analytics;
mod inventory;
mod product_analytics;
mod product_plan;
mod read_sql;
mod reads;
mod reports;
mod tables;
mod write;

use crate::query::q;
use crate::{Db, SqlStore};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::{StoreError, StoreResult};
use conea_shopdata::reads::query::{
    CustomerFilter, CustomerOrders, CustomerSort, Keyset, Listed, OrderFilter, OrderSort,
    ProductFilter, ProductSort, ReadScope,
};
use conea_shopdata::store::{
    OrderGroup, ProductSales, ReportScope, ShopDataStore, UploadInfo, UpsertCounts,
};
use conea_shopdata::{Customer, Order, Product, RecordKind, Shop, ShopKind};
use tables::{
    customer_row, line_item_rows, order_row, product_row, variant_rows, CUSTOMERS, ORDERS, PRODUCTS,
};
use write::Owner;

#[derive(sqlx::FromRow)]
struct ShopRow {
    id: String,
    organization_id: String,
    domain: Option<String>,
    name: String,
    kind: String,
    currency: Option<String>,
    created_at: i64,
}

impl ShopRow {
    fn into_model(self) -> StoreResult<Shop> {
        let corrupt = |what: &str| StoreError::Other(format!("corrupt {what} in shops row"));
        Ok(Shop {
            id: ShopId::parse(&self.id).map_err(|_| corrupt("id"))?,
            org_id: OrgId::parse(&self.organization_id).map_err(|_| corrupt("organization id"))?,
            domain: self.domain,
            name: self.name,
            kind: ShopKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            currency: self.currency,
            created_at: self.created_at,
        })
    }
}

const SHOP: &str = "shop";
const UPLOAD: &str = "upload";

#[async_trait]
impl ShopDataStore for SqlStore {
    async fn insert_shop(&self, shop: &Shop) -> StoreResult<()> {
        const SQL: &str =
            "INSERT INTO shops (id, organization_id, domain, name, kind, currency, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let domain = shop.domain.as_deref().map(str::to_ascii_lowercase);
        q("insert_shop", SQL)
            .bind(shop.id.as_str())
            .bind(shop.org_id.as_str())
            .bind(domain.as_deref())
            .bind(&shop.name)
            .bind(shop.kind.as_str())
            .bind(shop.currency.as_deref())
            .bind(shop.created_at)
            .execute(&self.primary(SHOP))
            .await
            .map(drop)
    }

    async fn default_shop(&self, org: &OrgId, now: EpochMs) -> StoreResult<Shop> {
        const FIND: &str = "SELECT id, organization_id, domain, name, kind, currency, created_at \
             FROM shops WHERE organization_id = $1 AND kind = 'manual'";
        const CREATE: &str =
            "INSERT INTO shops (id, organization_id, domain, name, kind, currency, created_at) \
             VALUES ($1, $2, NULL, 'Manual imports', 'manual', NULL, $3) ON CONFLICT DO NOTHING";
        let find = || async {
            q("default_shop", FIND)
                .bind(org.as_str())
                .fetch_optional::<ShopRow>(&self.primary(SHOP))
                .await
        };
        if let Some(row) = find().await? {
            return row.into_model();
        }
        let id = ShopId::generate();
        q("create_default_shop", CREATE)
            .bind(id.as_str())
            .bind(org.as_str())
            .bind(now)
            .execute(&self.primary(SHOP))
            .await?;
        // Another caller may have won the race: read whichever row exists.
        find()
            .await?
            .ok_or_else(|| StoreError::Other("manual shop vanished after creation".into()))?
            .into_model()
    }

    async fn find_shop(&self, org: &OrgId, id_or_domain: &str) -> StoreResult<Option<Shop>> {
        const BY_ID: &str = "SELECT id, organization_id, domain, name, kind, currency, created_at \
             FROM shops WHERE organization_id = $1 AND id = $2";
        const BY_DOMAIN: &str =
            "SELECT id, organization_id, domain, name, kind, currency, created_at \
             FROM shops WHERE organization_id = $1 AND domain = $2";
        let key = id_or_domain.trim();
        let (sql, value) = match ShopId::parse(key) {
            Ok(id) => (BY_ID, id.as_str().to_owned()),
            Err(_) => (BY_DOMAIN, key.to_ascii_lowercase()),
        };
        let row = q("find_shop", sql)
            .bind(org.as_str())
            .bind(value)
            .fetch_optional::<ShopRow>(&self.primary(SHOP))
            .await?;
        row.map(ShopRow::into_model).transpose()
    }

    async fn upsert_orders(
        &self,
        org: &OrgId,
        shop: &ShopId,
        orders: &[Order],
        now: EpochMs,
    ) -> StoreResult<UpsertCounts> {
        self.upsert_family(
            &ORDERS,
            Owner::new(org, shop, now),
            orders,
            |o| (o.source_id, o.updated_at),
            order_row,
            line_item_rows,
        )
        .await
    }

    async fn upsert_products(
        &self,
        org: &OrgId,
        shop: &ShopId,
        products: &[Product],
        now: EpochMs,
    ) -> StoreResult<UpsertCounts> {
        self.upsert_family(
            &PRODUCTS,
            Owner::new(org, shop, now),
            products,
            |p| (p.source_id, p.updated_at),
            product_row,
            variant_rows,
        )
        .await
    }

    async fn upsert_customers(
        &self,
        org: &OrgId,
        shop: &ShopId,
        customers: &[Customer],
        now: EpochMs,
    ) -> StoreResult<UpsertCounts> {
        self.upsert_family(
            &CUSTOMERS,
            Owner::new(org, shop, now),
            customers,
            |c| (c.source_id, c.updated_at),
            customer_row,
            |_, _| Vec::new(),
        )
        .await
    }

    async fn refresh_statistics(&self, kind: RecordKind) -> StoreResult<()> {
        let sql = match (&self.db, kind) {
            (Db::Postgres(_), RecordKind::Orders) => "ANALYZE orders, order_line_items",
            (Db::Postgres(_), RecordKind::Products) => "ANALYZE products, product_variants",
            (Db::Postgres(_), RecordKind::Customers) => "ANALYZE customers",
            (Db::Sqlite(_), _) => "PRAGMA optimize",
        };
        q("refresh_statistics", sql)
            .execute(&self.primary("statistics"))
            .await
            .map(drop)
    }

    async fn append_upload_chunk(
        &self,
        org: &OrgId,
        upload_id: &str,
        seq: i64,
        data: &[u8],
        now: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO import_uploads (upload_id, organization_id, seq, data, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (upload_id, seq) DO UPDATE SET data = excluded.data \
             WHERE import_uploads.organization_id = excluded.organization_id";
        q("append_upload_chunk", SQL)
            .bind(upload_id)
            .bind(org.as_str())
            .bind(seq)
            .bind(data)
            .bind(now)
            .execute(&self.primary(UPLOAD))
            .await
            .map(drop)
    }

    async fn upload_info(&self, org: &OrgId, upload_id: &str) -> StoreResult<Option<UploadInfo>> {
        const SQL: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(data)), 0) AS BIGINT) \
             FROM import_uploads WHERE organization_id = $1 AND upload_id = $2";
        let (chunks, bytes): (i64, i64) = q("upload_info", SQL)
            .bind(org.as_str())
            .bind(upload_id)
            .fetch_one(&self.primary(UPLOAD))
            .await?;
        Ok((chunks > 0).then_some(UploadInfo { chunks, bytes }))
    }

    async fn read_upload_chunk(
        &self,
        org: &OrgId,
        upload_id: &str,
        seq: i64,
    ) -> StoreResult<Option<Vec<u8>>> {
        const SQL: &str = "SELECT data FROM import_uploads \
             WHERE organization_id = $1 AND upload_id = $2 AND seq = $3";
        let chunk: Option<(Vec<u8>,)> = q("read_upload_chunk", SQL)
            .bind(org.as_str())
            .bind(upload_id)
            .bind(seq)
            .fetch_optional(&self.primary(UPLOAD))
            .await?;
        Ok(chunk.map(|(data,)| data))
    }

    async fn delete_upload(&self, org: &OrgId, upload_id: &str) -> StoreResult<u64> {
        const SQL: &str =
            "DELETE FROM import_uploads WHERE organization_id = $1 AND upload_id = $2";
        const CHECKPOINT: &str =
            "DELETE FROM import_checkpoints WHERE organization_id = $1 AND upload_id = $2";
        let chunks = q("delete_upload", SQL)
            .bind(org.as_str())
            .bind(upload_id)
            .execute(&self.primary(UPLOAD))
            .await?;
        q("delete_upload_checkpoint", CHECKPOINT)
            .bind(org.as_str())
            .bind(upload_id)
            .execute(&self.primary(UPLOAD))
            .await?;
        Ok(chunks)
    }

    async fn finish_upload(
        &self,
        org: &OrgId,
        upload_id: &str,
        checkpoint: &str,
        now: EpochMs,
    ) -> StoreResult<u64> {
        const CHECKPOINT: &str =
            "INSERT INTO import_checkpoints (upload_id, organization_id, checkpoint, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (upload_id) DO UPDATE \
             SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at \
             WHERE import_checkpoints.organization_id = excluded.organization_id";
        const CHUNKS: &str =
            "DELETE FROM import_uploads WHERE organization_id = $1 AND upload_id = $2";
        let db = self.primary(UPLOAD);
        db.timed("finish_upload", CHUNKS, async {
            let mut tx = db.begin().await?;
            q("finish_upload_checkpoint", CHECKPOINT)
                .bind(upload_id)
                .bind(org.as_str())
                .bind(checkpoint)
                .bind(now)
                .execute_in(&mut tx)
                .await?;
            let chunks = q("finish_upload", CHUNKS)
                .bind(org.as_str())
                .bind(upload_id)
                .execute_in(&mut tx)
                .await?;
            tx.commit().await?;
            Ok(chunks)
        })
        .await
    }

    async fn save_import_checkpoint(
        &self,
        org: &OrgId,
        upload_id: &str,
        checkpoint: &str,
        now: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str =
            "INSERT INTO import_checkpoints (upload_id, organization_id, checkpoint, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (upload_id) DO UPDATE \
             SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at \
             WHERE import_checkpoints.organization_id = excluded.organization_id";
        q("save_import_checkpoint", SQL)
            .bind(upload_id)
            .bind(org.as_str())
            .bind(checkpoint)
            .bind(now)
            .execute(&self.primary(UPLOAD))
            .await
            .map(drop)
    }

    async fn import_checkpoint(&self, org: &OrgId, upload_id: &str) -> StoreResult<Option<String>> {
        const SQL: &str = "SELECT checkpoint FROM import_checkpoints \
             WHERE organization_id = $1 AND upload_id = $2";
        let row: Option<(String,)> = q("import_checkpoint", SQL)
            .bind(org.as_str())
            .bind(upload_id)
            .fetch_optional(&self.primary(UPLOAD))
            .await?;
        Ok(row.map(|(c,)| c))
    }

    async fn prune_uploads(&self, before: EpochMs, orphaned_before: EpochMs) -> StoreResult<u64> {
        const OLD: &str = "DELETE FROM import_uploads WHERE created_at < $1";
        const ORPHANS: &str = "DELETE FROM import_uploads WHERE upload_id IN ( \
             SELECT u.upload_id FROM import_uploads u \
             WHERE NOT EXISTS (SELECT 1 FROM import_checkpoints c WHERE c.upload_id = u.upload_id) \
             GROUP BY u.upload_id HAVING MAX(u.created_at) < $1)";
        const CHECKPOINTS: &str = "DELETE FROM import_checkpoints WHERE updated_at < $1";
        let old = q("prune_uploads", OLD)
            .bind(before)
            .execute(&self.primary(UPLOAD))
            .await?;
        let orphans = q("prune_orphan_uploads", ORPHANS)
            .bind(orphaned_before)
            .execute(&self.primary(UPLOAD))
            .await?;
        q("prune_import_checkpoints", CHECKPOINTS)
            .bind(before)
            .execute(&self.primary(UPLOAD))
            .await?;
        Ok(old + orphans)
    }

    async fn order_groups(&self, scope: &ReportScope) -> StoreResult<Vec<OrderGroup>> {
        SqlStore::order_groups(self, scope).await
    }

    async fn order_currencies(&self, scope: &ReportScope) -> StoreResult<Vec<(String, i64)>> {
        SqlStore::order_currencies(self, scope).await
    }

    async fn product_sales(
        &self,
        scope: &ReportScope,
        currency: &str,
        limit: u32,
    ) -> StoreResult<ProductSales> {
        SqlStore::product_sales(self, scope, currency, limit).await
    }

    async fn list_orders(
        &self,
        scope: &ReadScope,
        filter: &OrderFilter,
        page: &Keyset<OrderSort>,
    ) -> StoreResult<Vec<Listed<Order>>> {
        self.read_orders(scope, filter, page).await
    }

    async fn get_orders(&self, scope: &ReadScope, id: i64) -> StoreResult<Vec<Listed<Order>>> {
        self.read_orders_by_id(scope, id).await
    }

    async fn list_products(
        &self,
        scope: &ReadScope,
        filter: &ProductFilter,
        page: &Keyset<ProductSort>,
    ) -> StoreResult<Vec<Listed<Product>>> {
        self.read_products(scope, filter, page).await
    }

    async fn get_products(&self, scope: &ReadScope, id: i64) -> StoreResult<Vec<Listed<Product>>> {
        self.read_products_by_id(scope, id).await
    }

    async fn list_customers(
        &self,
        scope: &ReadScope,
        filter: &CustomerFilter,
        page: &Keyset<CustomerSort>,
    ) -> StoreResult<Vec<Listed<Customer>>> {
        self.read_customers(scope, filter, page).await
    }

    async fn get_customers(
        &self,
        scope: &ReadScope,
        id: i64,
    ) -> StoreResult<Vec<Listed<Customer>>> {
        self.read_customers_by_id(scope, id).await
    }

    async fn customer_orders(
        &self,
        org: &OrgId,
        customers: &[(ShopId, i64)],
    ) -> StoreResult<Vec<CustomerOrders>> {
        self.read_customer_orders(org, customers).await
    }
}
