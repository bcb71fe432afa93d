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

use crate::errors::map;
use crate::{with_pool, Db, SqlStore};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::{StoreError, StoreResult};
use conea_shopdata::store::{
    latest_by_source_id, OrderGroup, ProductSales, ProductSalesRow, ReportScope, ShopDataStore,
    UploadInfo, UpsertCounts,
};
use conea_shopdata::{Customer, Money, Order, Product, RecordKind, Shop, ShopKind};
use sqlx::{PgConnection, QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashSet;

/// A cell of a row to write. The first cell of a top-level row is its `source_id`; the
/// second cell of a child row is its parent's `source_id`.
#[derive(Clone, Copy)]
enum V<'a> {
    I(Option<i64>),
    T(Option<&'a str>),
}

type Rows<'a> = Vec<Vec<V<'a>>>;

/// Statements of a top-level table; rows carry its columns after the common
/// `shop_id, organization_id, imported_at`.
struct Table {
    name: &'static str,
    /// The table whose rows belong to these and are replaced with them.
    child: Option<&'static Child>,
    pg_upsert: &'static str,
    pg_copy: &'static str,
    sqlite_insert: &'static str,
    sqlite_on_new: &'static str,
    sqlite_on_update: &'static str,
}

/// Statements of a child table (line items, variants), replaced with their parent.
struct Child {
    pg_copy: &'static str,
    pg_delete: &'static str,
    sqlite_insert: &'static str,
    /// `DELETE … WHERE shop_id = ` then `$bind AND parent IN (…)` is appended.
    sqlite_delete: &'static str,
    sqlite_parent_in: &'static str,
}

/// Bound parameters per SQLite statement (its limit is 32766).
const SQLITE_MAX_PARAMS: usize = 30_000;

macro_rules! top_table {
    ($table:literal, child: $child:expr, cols: $cols:literal, pg_types: $types:literal, set: $set:literal) => {
        Table {
            name: $table,
            child: $child,
            pg_upsert: concat!(
                "INSERT INTO ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") ",
                "SELECT $1, $2, $3, u.* FROM UNNEST(",
                $types,
                ") AS u ",
                "ON CONFLICT (shop_id, source_id) DO UPDATE SET ",
                $set,
                ", imported_at = excluded.imported_at",
                " WHERE excluded.source_updated_at >= ",
                $table,
                ".source_updated_at",
                " RETURNING source_id, (xmax = 0) AS inserted"
            ),
            pg_copy: concat!(
                "COPY ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") ",
                "FROM STDIN WITH (FORMAT csv)"
            ),
            sqlite_insert: concat!(
                "INSERT INTO ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") "
            ),
            sqlite_on_new: " ON CONFLICT (shop_id, source_id) DO NOTHING RETURNING source_id",
            sqlite_on_update: concat!(
                " ON CONFLICT (shop_id, source_id) DO UPDATE SET ",
                $set,
                ", imported_at = excluded.imported_at",
                " WHERE excluded.source_updated_at >= ",
                $table,
                ".source_updated_at",
                " RETURNING source_id"
            ),
        }
    };
}

macro_rules! child_table {
    ($table:literal, parent: $parent:literal, cols: $cols:literal, pg_types: $types:literal) => {
        Child {
            pg_copy: concat!(
                "COPY ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") ",
                "FROM STDIN WITH (FORMAT csv)"
            ),
            pg_delete: concat!(
                "DELETE FROM ",
                $table,
                " WHERE shop_id = $1 AND ",
                $parent,
                " = ANY($2)"
            ),
            sqlite_insert: concat!(
                "INSERT INTO ",
                $table,
                " (shop_id, organization_id, imported_at, ",
                $cols,
                ") "
            ),
            sqlite_delete: concat!("DELETE FROM ", $table, " WHERE shop_id = "),
            sqlite_parent_in: concat!(" AND ", $parent, " IN ("),
        }
    };
}

const ORDERS: Table = top_table!("orders",
    child: Some(&LINE_ITEMS),
    cols: "source_id, name, email, customer_source_id, currency, total_price_e4, subtotal_price_e4, \
           status, financial_status, fulfillment_status, created_at, cancelled_at, closed_at, source_updated_at",
    pg_types: "$4::int8[], $5::text[], $6::text[], $7::int8[], $8::text[], $9::int8[], $10::int8[], \
               $11::text[], $12::text[], $13::text[], $14::int8[], $15::int8[], $16::int8[], $17::int8[]",
    set: "name = excluded.name, email = excluded.email, customer_source_id = excluded.customer_source_id, \
          currency = excluded.currency, total_price_e4 = excluded.total_price_e4, \
          subtotal_price_e4 = excluded.subtotal_price_e4, status = excluded.status, \
          financial_status = excluded.financial_status, fulfillment_status = excluded.fulfillment_status, \
          created_at = excluded.created_at, cancelled_at = excluded.cancelled_at, closed_at = excluded.closed_at, \
          source_updated_at = excluded.source_updated_at");

fn order_row(o: &Order) -> Vec<V<'_>> {
    vec![
        V::I(Some(o.source_id)),
        V::T(o.name.as_deref()),
        V::T(o.email.as_deref()),
        V::I(o.customer_id),
        V::T(Some(&o.currency)),
        V::I(Some(o.total_price.units())),
        V::I(o.subtotal_price.map(Money::units)),
        V::T(Some(o.status().as_str())),
        V::T(o.financial_status.as_deref()),
        V::T(o.fulfillment_status.as_deref()),
        V::I(Some(o.created_at)),
        V::I(o.cancelled_at),
        V::I(o.closed_at),
        V::I(Some(o.updated_at)),
    ]
}

const LINE_ITEMS: Child = child_table!("order_line_items",
    parent: "order_source_id",
    cols: "source_id, order_source_id, product_source_id, variant_source_id, title, sku, quantity, price_e4, source_updated_at",
    pg_types: "$4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::int8[]");

fn line_item_rows<'a>(orders: &[&'a Order], written: &HashSet<i64>) -> Rows<'a> {
    let mut rows = Vec::new();
    for o in orders.iter().filter(|o| written.contains(&o.source_id)) {
        let mut seen = HashSet::new();
        // The last copy of a line item id in an order wins.
        for li in o.line_items.iter().rev() {
            if seen.insert(li.source_id) {
                rows.push(vec![
                    V::I(Some(li.source_id)),
                    V::I(Some(o.source_id)),
                    V::I(li.product_id),
                    V::I(li.variant_id),
                    V::T(Some(&li.title)),
                    V::T(li.sku.as_deref()),
                    V::I(Some(li.quantity)),
                    V::I(Some(li.price.units())),
                    V::I(Some(o.updated_at)),
                ]);
            }
        }
    }
    rows
}

const PRODUCTS: Table = top_table!("products",
    child: Some(&VARIANTS),
    cols: "source_id, title, vendor, product_type, status, created_at, source_updated_at",
    pg_types: "$4::int8[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int8[], $10::int8[]",
    set: "title = excluded.title, vendor = excluded.vendor, product_type = excluded.product_type, \
          status = excluded.status, created_at = excluded.created_at, source_updated_at = excluded.source_updated_at");

fn product_row(p: &Product) -> Vec<V<'_>> {
    vec![
        V::I(Some(p.source_id)),
        V::T(Some(&p.title)),
        V::T(p.vendor.as_deref()),
        V::T(p.product_type.as_deref()),
        V::T(p.status.as_deref()),
        V::I(p.created_at),
        V::I(Some(p.updated_at)),
    ]
}

const VARIANTS: Child = child_table!("product_variants",
    parent: "product_source_id",
    cols: "source_id, product_source_id, title, sku, price_e4, inventory_quantity, source_updated_at",
    pg_types: "$4::int8[], $5::int8[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::int8[]");

fn variant_rows<'a>(products: &[&'a Product], written: &HashSet<i64>) -> Rows<'a> {
    let mut rows = Vec::new();
    for p in products.iter().filter(|p| written.contains(&p.source_id)) {
        let mut seen = HashSet::new();
        // The last copy of a variant id in a product wins.
        for v in p.variants.iter().rev() {
            if seen.insert(v.source_id) {
                rows.push(vec![
                    V::I(Some(v.source_id)),
                    V::I(Some(p.source_id)),
                    V::T(v.title.as_deref()),
                    V::T(v.sku.as_deref()),
                    V::I(v.price.map(Money::units)),
                    V::I(v.inventory_quantity),
                    V::I(Some(p.updated_at)),
                ]);
            }
        }
    }
    rows
}

const CUSTOMERS: Table = top_table!("customers",
    child: None,
    cols: "source_id, email, first_name, last_name, orders_count, total_spent_e4, created_at, source_updated_at",
    pg_types: "$4::int8[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::int8[], $11::int8[]",
    set: "email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name, \
          orders_count = excluded.orders_count, total_spent_e4 = excluded.total_spent_e4, \
          created_at = excluded.created_at, source_updated_at = excluded.source_updated_at");

fn customer_row(c: &Customer) -> Vec<V<'_>> {
    vec![
        V::I(Some(c.source_id)),
        V::T(c.email.as_deref()),
        V::T(c.first_name.as_deref()),
        V::T(c.last_name.as_deref()),
        V::I(c.orders_count),
        V::I(c.total_spent.map(Money::units)),
        V::I(c.created_at),
        V::I(Some(c.updated_at)),
    ]
}

/// Source ids a statement inserted and updated (rows it skipped are in neither).
#[derive(Default)]
struct Written {
    inserted: Vec<i64>,
    updated: Vec<i64>,
}

impl Written {
    fn ids(&self) -> HashSet<i64> {
        self.inserted.iter().chain(&self.updated).copied().collect()
    }

    fn counts(&self, batch_len: usize) -> UpsertCounts {
        let inserted = self.inserted.len() as u64;
        let updated = self.updated.len() as u64;
        UpsertCounts {
            inserted,
            updated,
            skipped: (batch_len as u64).saturating_sub(inserted + updated),
        }
    }
}

/// Who a batch belongs to.
struct Owner<'a> {
    org: &'a str,
    shop: &'a str,
    now: EpochMs,
}

/// The integer in column `i` of a row (0 when it is not one).
fn cell(row: &[V<'_>], i: usize) -> i64 {
    match row.get(i) {
        Some(V::I(Some(v))) => *v,
        _ => 0,
    }
}

/// Binds the owner and then each column of `rows` as one PostgreSQL array.
fn pg_rows<'q>(
    sql: &'q str,
    owner: &Owner<'q>,
    rows: &'q [Vec<V<'q>>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query::<sqlx::Postgres>(sql)
        .bind(owner.shop)
        .bind(owner.org)
        .bind(owner.now);
    let width = rows.first().map_or(0, Vec::len);
    for j in 0..width {
        q = match rows.first().and_then(|r| r.get(j)) {
            Some(V::T(_)) => q.bind(
                rows.iter()
                    .map(|r| match r.get(j) {
                        Some(V::T(v)) => *v,
                        _ => None,
                    })
                    .collect::<Vec<Option<&str>>>(),
            ),
            _ => q.bind(
                rows.iter()
                    .map(|r| match r.get(j) {
                        Some(V::I(v)) => *v,
                        _ => None,
                    })
                    .collect::<Vec<Option<i64>>>(),
            ),
        };
    }
    q
}

/// A batch is first `COPY`ed (bulk loads are mostly new rows, and `COPY` writes whole
/// pages); when a row already exists the `COPY` fails on the key, is rolled back to its
/// savepoint, and the batch is upserted instead.
async fn pg_upsert(
    conn: &mut PgConnection,
    t: &Table,
    owner: &Owner<'_>,
    rows: &[Vec<V<'_>>],
) -> Result<Written, sqlx::Error> {
    let mut w = Written::default();
    if rows.is_empty() {
        return Ok(w);
    }
    if copy_new(conn, t.pg_copy, owner, rows).await? {
        w.inserted.extend(rows.iter().map(|r| cell(r, 0)));
        return Ok(w);
    }
    for row in pg_rows(t.pg_upsert, owner, rows)
        .fetch_all(&mut *conn)
        .await?
    {
        let id: i64 = row.try_get(0)?;
        if row.try_get::<bool, _>(1)? {
            w.inserted.push(id);
        } else {
            w.updated.push(id);
        }
    }
    Ok(w)
}

/// `COPY`s rows under a savepoint; `false` (rolled back) when one of them exists already.
async fn copy_new(
    conn: &mut PgConnection,
    sql: &str,
    owner: &Owner<'_>,
    rows: &[Vec<V<'_>>],
) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    let mut savepoint = conn.begin().await?;
    let copied = async {
        let mut copy = savepoint.copy_in_raw(sql).await?;
        copy.send(csv_rows(owner, rows.iter())).await?;
        copy.finish().await
    }
    .await;
    match copied {
        Ok(_) => savepoint.commit().await.map(|()| true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            savepoint.rollback().await.map(|()| false)
        }
        Err(e) => Err(e),
    }
}

async fn pg_replace_children(
    conn: &mut PgConnection,
    c: &Child,
    owner: &Owner<'_>,
    updated_parents: &[i64],
    rows: &[Vec<V<'_>>],
) -> Result<(), sqlx::Error> {
    if !updated_parents.is_empty() {
        sqlx::query::<sqlx::Postgres>(c.pg_delete)
            .persistent(false)
            .bind(owner.shop)
            .bind(updated_parents)
            .execute(&mut *conn)
            .await?;
    }
    if !rows.is_empty() {
        let mut copy = conn.copy_in_raw(c.pg_copy).await?;
        copy.send(csv_rows(owner, rows.iter())).await?;
        copy.finish().await?;
    }
    Ok(())
}

/// Rows as `COPY … (FORMAT csv)` input: text always quoted (an unquoted empty field is NULL).
fn csv_rows<'r, 'v: 'r>(
    owner: &Owner<'_>,
    rows: impl ExactSizeIterator<Item = &'r Vec<V<'v>>>,
) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(rows.len() * 160);
    for row in rows {
        push_text(&mut out, owner.shop);
        out.push(b',');
        push_text(&mut out, owner.org);
        let _ = write!(out, ",{}", owner.now);
        for cell in row {
            out.push(b',');
            match cell {
                V::I(Some(v)) => {
                    let _ = write!(out, "{v}");
                }
                V::T(Some(t)) => push_text(&mut out, t),
                V::I(None) | V::T(None) => {}
            }
        }
        out.push(b'\n');
    }
    out
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Multi-row insert of `rows` with the owner's columns first; `suffix` follows the values.
fn sqlite_values<'q>(
    prefix: &'q str,
    suffix: &'q str,
    owner: &Owner<'q>,
    rows: &[&'q Vec<V<'q>>],
) -> QueryBuilder<'q, Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new(prefix);
    qb.push_values(rows, |mut b, row| {
        b.push_bind(owner.shop)
            .push_bind(owner.org)
            .push_bind(owner.now);
        for cell in row.iter() {
            match cell {
                V::I(v) => b.push_bind(*v),
                V::T(v) => b.push_bind(*v),
            };
        }
    });
    qb.push(suffix);
    qb
}

fn sqlite_chunk(rows: &[Vec<V<'_>>]) -> usize {
    (SQLITE_MAX_PARAMS / (rows.first().map_or(0, Vec::len) + 3)).max(1)
}

async fn sqlite_upsert(
    conn: &mut SqliteConnection,
    t: &Table,
    owner: &Owner<'_>,
    rows: &[Vec<V<'_>>],
) -> Result<Written, sqlx::Error> {
    let mut w = Written::default();
    for part in rows.chunks(sqlite_chunk(rows)) {
        let all: Vec<&Vec<V<'_>>> = part.iter().collect();
        let inserted: Vec<i64> = sqlite_values(t.sqlite_insert, t.sqlite_on_new, owner, &all)
            .build_query_scalar()
            .fetch_all(&mut *conn)
            .await?;
        let new: HashSet<i64> = inserted.iter().copied().collect();
        let rest: Vec<&Vec<V<'_>>> = part.iter().filter(|r| !new.contains(&cell(r, 0))).collect();
        if !rest.is_empty() {
            let updated: Vec<i64> =
                sqlite_values(t.sqlite_insert, t.sqlite_on_update, owner, &rest)
                    .build_query_scalar()
                    .fetch_all(&mut *conn)
                    .await?;
            w.updated.extend(updated);
        }
        w.inserted.extend(inserted);
    }
    Ok(w)
}

async fn sqlite_replace_children(
    conn: &mut SqliteConnection,
    c: &Child,
    owner: &Owner<'_>,
    updated_parents: &[i64],
    rows: &[Vec<V<'_>>],
) -> Result<(), sqlx::Error> {
    for ids in updated_parents.chunks(SQLITE_MAX_PARAMS) {
        let mut qb = QueryBuilder::<Sqlite>::new(c.sqlite_delete);
        qb.push_bind(owner.shop).push(c.sqlite_parent_in);
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        list.push_unseparated(")");
        qb.build().execute(&mut *conn).await?;
    }
    for part in rows.chunks(sqlite_chunk(rows)) {
        let all: Vec<&Vec<V<'_>>> = part.iter().collect();
        sqlite_values(c.sqlite_insert, "", owner, &all)
            .build()
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A transaction on either backend.
enum Tx {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Tx {
    async fn begin(db: &Db) -> Result<Tx, sqlx::Error> {
        Ok(match db {
            Db::Postgres(p) => Tx::Pg(p.begin().await?),
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        })
    }

    async fn upsert(
        &mut self,
        t: &Table,
        owner: &Owner<'_>,
        rows: &[Vec<V<'_>>],
    ) -> Result<Written, sqlx::Error> {
        match self {
            Tx::Pg(tx) => pg_upsert(tx, t, owner, rows).await,
            Tx::Sqlite(tx) => sqlite_upsert(tx, t, owner, rows).await,
        }
    }

    async fn replace_children(
        &mut self,
        c: &Child,
        owner: &Owner<'_>,
        updated_parents: &[i64],
        rows: &[Vec<V<'_>>],
    ) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => pg_replace_children(tx, c, owner, updated_parents, rows).await,
            Tx::Sqlite(tx) => sqlite_replace_children(tx, c, owner, updated_parents, rows).await,
        }
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }
}

impl SqlStore {
    /// Upserts top-level records (deduplicated, newest wins) and replaces the children of
    /// those written, in one transaction.
    async fn upsert_family<'a, P>(
        &self,
        parent: &'static Table,
        owner: Owner<'_>,
        items: &'a [P],
        key: impl Fn(&P) -> (i64, EpochMs),
        row: impl Fn(&'a P) -> Vec<V<'a>>,
        children: impl Fn(&[&'a P], &HashSet<i64>) -> Rows<'a>,
    ) -> StoreResult<UpsertCounts> {
        if items.is_empty() {
            return Ok(UpsertCounts::default());
        }
        let mut kept: Vec<&'a P> = latest_by_source_id(items, &key)
            .into_iter()
            .map(|i| &items[i])
            .collect();
        // Rows in key order: concurrent batches lock rows in the same order, so a record that
        // is in both cannot deadlock them; the later one waits for the earlier.
        kept.sort_by_key(|p| key(p).0);
        let rows: Rows<'a> = kept.iter().map(|p| row(p)).collect();
        let written = self
            .stats
            .time(parent.name, parent.pg_upsert, async {
                let mut tx = Tx::begin(&self.db).await?;
                let mut w = tx.upsert(parent, &owner, &rows).await?;
                if let Some(child) = parent.child {
                    w.updated.sort_unstable();
                    let child_rows = children(&kept, &w.ids());
                    tx.replace_children(child, &owner, &w.updated, &child_rows)
                        .await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(w)
            })
            .await
            .map_err(|e| map(e, parent.name))?;
        Ok(written.counts(items.len()))
    }
}

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

#[derive(sqlx::FromRow)]
struct GroupRow {
    day: i64,
    status: String,
    financial_status: Option<String>,
    currency: String,
    orders: i64,
    live_orders: i64,
    revenue: i64,
}

#[derive(sqlx::FromRow)]
struct SalesRow {
    product_source_id: Option<i64>,
    title: String,
    units: i64,
    revenue: i64,
}

/// `$1` organization, `$2` shop or NULL for all, `[$3, $4)` creation period.
macro_rules! scope_filter {
    ($alias:literal) => {
        concat!(
            $alias,
            "organization_id = $1 AND ($2 IS NULL OR ",
            $alias,
            "shop_id = $2) AND ",
            $alias,
            "created_at >= $3 AND ",
            $alias,
            "created_at < $4"
        )
    };
}

const ORDER_GROUPS_SQL: &str = concat!(
    "SELECT created_at / 86400000 AS day, status, financial_status, currency, COUNT(*) AS orders, ",
    "CAST(SUM(CASE WHEN cancelled_at IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS live_orders, ",
    "CAST(SUM(CASE WHEN cancelled_at IS NULL THEN total_price_e4 ELSE 0 END) AS BIGINT) AS revenue ",
    "FROM orders WHERE ",
    scope_filter!(""),
    " GROUP BY 1, 2, 3, 4"
);

const ORDER_CURRENCIES_SQL: &str = concat!(
    "SELECT currency, COUNT(*) FROM orders WHERE ",
    scope_filter!(""),
    " AND cancelled_at IS NULL GROUP BY currency"
);

macro_rules! sales_from {
    () => {
        concat!(
            " FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id WHERE ",
            scope_filter!("o."),
            " AND o.cancelled_at IS NULL AND o.currency = $5"
        )
    };
}

const TOP_PRODUCTS_SQL: &str = concat!(
    "SELECT s.product_source_id, COALESCE(p.title, s.title) AS title, s.units, s.revenue FROM (",
    "SELECT li.shop_id, li.product_source_id, MAX(li.title) AS title, ",
    "CAST(SUM(li.quantity) AS BIGINT) AS units, CAST(SUM(li.quantity * li.price_e4) AS BIGINT) AS revenue",
    sales_from!(),
    " GROUP BY li.shop_id, li.product_source_id, CASE WHEN li.product_source_id IS NULL THEN li.title END",
    ") s LEFT JOIN products p ON p.shop_id = s.shop_id AND p.source_id = s.product_source_id ",
    "ORDER BY s.revenue DESC, title, s.product_source_id LIMIT $6"
);

const SALES_TOTALS_SQL: &str = concat!(
    "SELECT CAST(COALESCE(SUM(li.quantity), 0) AS BIGINT), ",
    "CAST(COALESCE(SUM(li.quantity * li.price_e4), 0) AS BIGINT)",
    sales_from!()
);

#[async_trait]
impl ShopDataStore for SqlStore {
    async fn insert_shop(&self, shop: &Shop) -> StoreResult<()> {
        const SQL: &str =
            "INSERT INTO shops (id, organization_id, domain, name, kind, currency, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let domain = shop.domain.as_deref().map(str::to_ascii_lowercase);
        self.stats
            .time("insert_shop", SQL, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
                    .bind(shop.id.as_str())
                    .bind(shop.org_id.as_str())
                    .bind(domain.as_deref())
                    .bind(&shop.name)
                    .bind(shop.kind.as_str())
                    .bind(shop.currency.as_deref())
                    .bind(shop.created_at)
                    .execute(p)
                    .await
                    .map(drop))
            })
            .await
            .map_err(|e| map(e, "shop"))
            .map(drop)
    }

    async fn default_shop(&self, org: &OrgId, now: EpochMs) -> StoreResult<Shop> {
        const FIND: &str = "SELECT id, organization_id, domain, name, kind, currency, created_at \
             FROM shops WHERE organization_id = $1 AND kind = 'manual'";
        const CREATE: &str =
            "INSERT INTO shops (id, organization_id, domain, name, kind, currency, created_at) \
             VALUES ($1, $2, NULL, 'Manual imports', 'manual', NULL, $3) ON CONFLICT DO NOTHING";
        let find = || async {
            self.stats
                .time("default_shop", FIND, async {
                    with_pool!(&self.db, |p| sqlx::query_as::<DB, ShopRow>(FIND)
                        .bind(org.as_str())
                        .fetch_optional(p)
                        .await)
                })
                .await
                .map_err(|e| map(e, "shop"))
        };
        if let Some(row) = find().await? {
            return row.into_model();
        }
        let id = ShopId::generate();
        self.stats
            .time("create_default_shop", CREATE, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(CREATE)
                    .bind(id.as_str())
                    .bind(org.as_str())
                    .bind(now)
                    .execute(p)
                    .await
                    .map(drop))
            })
            .await
            .map_err(|e| map(e, "shop"))?;
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
        let row = self
            .stats
            .time("find_shop", sql, async {
                with_pool!(&self.db, |p| sqlx::query_as::<DB, ShopRow>(sql)
                    .bind(org.as_str())
                    .bind(&value)
                    .fetch_optional(p)
                    .await)
            })
            .await
            .map_err(|e| map(e, "shop"))?;
        row.map(ShopRow::into_model).transpose()
    }

    async fn upsert_orders(
        &self,
        org: &OrgId,
        shop: &ShopId,
        orders: &[Order],
        now: EpochMs,
    ) -> StoreResult<UpsertCounts> {
        let owner = Owner {
            org: org.as_str(),
            shop: shop.as_str(),
            now,
        };
        self.upsert_family(
            &ORDERS,
            owner,
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
        let owner = Owner {
            org: org.as_str(),
            shop: shop.as_str(),
            now,
        };
        self.upsert_family(
            &PRODUCTS,
            owner,
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
        let owner = Owner {
            org: org.as_str(),
            shop: shop.as_str(),
            now,
        };
        self.upsert_family(
            &CUSTOMERS,
            owner,
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
        self.stats
            .time("refresh_statistics", sql, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(sql)
                    .execute(p)
                    .await
                    .map(drop))
            })
            .await
            .map_err(|e| map(e, "statistics"))
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
        self.stats
            .time("append_upload_chunk", SQL, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
                    .bind(upload_id)
                    .bind(org.as_str())
                    .bind(seq)
                    .bind(data)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(drop))
            })
            .await
            .map_err(|e| map(e, "upload"))
            .map(drop)
    }

    async fn upload_info(&self, org: &OrgId, upload_id: &str) -> StoreResult<Option<UploadInfo>> {
        const SQL: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(data)), 0) AS BIGINT) \
             FROM import_uploads WHERE organization_id = $1 AND upload_id = $2";
        let (chunks, bytes) = self
            .stats
            .time("upload_info", SQL, async {
                with_pool!(&self.db, |p| sqlx::query_as::<DB, (i64, i64)>(SQL)
                    .bind(org.as_str())
                    .bind(upload_id)
                    .fetch_one(p)
                    .await)
            })
            .await
            .map_err(|e| map(e, "upload"))?;
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
        self.stats
            .time("read_upload_chunk", SQL, async {
                with_pool!(&self.db, |p| sqlx::query_scalar::<DB, Vec<u8>>(SQL)
                    .bind(org.as_str())
                    .bind(upload_id)
                    .bind(seq)
                    .fetch_optional(p)
                    .await)
            })
            .await
            .map_err(|e| map(e, "upload"))
    }

    async fn delete_upload(&self, org: &OrgId, upload_id: &str) -> StoreResult<u64> {
        const SQL: &str =
            "DELETE FROM import_uploads WHERE organization_id = $1 AND upload_id = $2";
        self.stats
            .time("delete_upload", SQL, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
                    .bind(org.as_str())
                    .bind(upload_id)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()))
            })
            .await
            .map_err(|e| map(e, "upload"))
    }

    async fn prune_uploads(&self, before: EpochMs) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM import_uploads WHERE created_at < $1";
        self.stats
            .time("prune_uploads", SQL, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
                    .bind(before)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()))
            })
            .await
            .map_err(|e| map(e, "upload"))
    }

    async fn order_groups(&self, scope: &ReportScope) -> StoreResult<Vec<OrderGroup>> {
        let shop = scope.shop_id.as_ref().map(ShopId::as_str);
        let rows = self
            .stats
            .time("order_groups", ORDER_GROUPS_SQL, async {
                with_pool!(self.routed_db(), |p| sqlx::query_as::<DB, GroupRow>(
                    ORDER_GROUPS_SQL
                )
                .bind(scope.org_id.as_str())
                .bind(shop)
                .bind(scope.from)
                .bind(scope.to)
                .fetch_all(p)
                .await)
            })
            .await
            .map_err(|e| map(e, "order"))?;
        Ok(rows
            .into_iter()
            .map(|r| OrderGroup {
                day: r.day,
                status: r.status,
                financial_status: r.financial_status,
                currency: r.currency,
                orders: r.orders,
                live_orders: r.live_orders,
                revenue: Money::from_units(r.revenue),
            })
            .collect())
    }

    async fn order_currencies(&self, scope: &ReportScope) -> StoreResult<Vec<(String, i64)>> {
        let shop = scope.shop_id.as_ref().map(ShopId::as_str);
        self.stats
            .time("order_currencies", ORDER_CURRENCIES_SQL, async {
                with_pool!(self.routed_db(), |p| sqlx::query_as::<DB, (String, i64)>(
                    ORDER_CURRENCIES_SQL
                )
                .bind(scope.org_id.as_str())
                .bind(shop)
                .bind(scope.from)
                .bind(scope.to)
                .fetch_all(p)
                .await)
            })
            .await
            .map_err(|e| map(e, "order"))
    }

    async fn product_sales(
        &self,
        scope: &ReportScope,
        currency: &str,
        limit: u32,
    ) -> StoreResult<ProductSales> {
        let shop = scope.shop_id.as_ref().map(ShopId::as_str);
        let top = self
            .stats
            .time("top_products", TOP_PRODUCTS_SQL, async {
                with_pool!(self.routed_db(), |p| sqlx::query_as::<DB, SalesRow>(
                    TOP_PRODUCTS_SQL
                )
                .bind(scope.org_id.as_str())
                .bind(shop)
                .bind(scope.from)
                .bind(scope.to)
                .bind(currency)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await)
            })
            .await
            .map_err(|e| map(e, "order"))?;
        let (total_units, total_revenue) = self
            .stats
            .time("sales_totals", SALES_TOTALS_SQL, async {
                with_pool!(self.routed_db(), |p| sqlx::query_as::<DB, (i64, i64)>(
                    SALES_TOTALS_SQL
                )
                .bind(scope.org_id.as_str())
                .bind(shop)
                .bind(scope.from)
                .bind(scope.to)
                .bind(currency)
                .fetch_one(p)
                .await)
            })
            .await
            .map_err(|e| map(e, "order"))?;
        Ok(ProductSales {
            top: top
                .into_iter()
                .map(|r| ProductSalesRow {
                    product_id: r.product_source_id,
                    title: r.title,
                    units_sold: r.units,
                    revenue: Money::from_units(r.revenue),
                })
                .collect(),
            total_units,
            total_revenue: Money::from_units(total_revenue),
        })
    }
}
