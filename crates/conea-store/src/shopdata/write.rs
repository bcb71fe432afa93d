//! Writing a batch of shop records in one transaction: PostgreSQL `COPY` (falling back to an
//! `UNNEST` upsert when a row exists) or SQLite multi-row `VALUES`, then the children of the
//! records written.

use super::tables::{Child, Rows, Table};
use crate::query::{Tx, Value};
use crate::SqlStore;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::StoreResult;
use conea_shopdata::store::{latest_by_source_id, UpsertCounts};
use sqlx::{PgConnection, QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashSet;

/// Bound parameters per SQLite statement (its limit is 32766).
const SQLITE_MAX_PARAMS: usize = 30_000;

// The SQLite statements below are built for their batch: their text depends on how many rows
// (and, for the children, how many ids) they carry, so nearly every batch of an import has a
// text of its own, and each is a prepared statement of up to 30,000 parameters (megabytes
// of SQLite's memory: the program and one value cell per parameter). sqlx keeps 100
// prepared statements per connection by default, so these filled every pooled connection's
// cache with statements that are never run again: RSS grew by hundreds of MiB over a few
// 200,000-order imports (docs/operations.md, `bench/sqlite_rss.sh`). They run unprepared
// for the cache (`persistent(false)`): sqlx keeps only the connection's last such statement
// and finalizes it when the next one comes. PostgreSQL's statements here have fixed texts
// (arrays, `COPY`), so caching them is right.

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
pub(super) struct Owner<'a> {
    pub(super) org: &'a str,
    pub(super) shop: &'a str,
    pub(super) now: EpochMs,
}

impl<'a> Owner<'a> {
    pub(super) fn new(org: &'a OrgId, shop: &'a ShopId, now: EpochMs) -> Self {
        Owner {
            org: org.as_str(),
            shop: shop.as_str(),
            now,
        }
    }
}

/// The integer in column `i` of a row (0 when it is not one).
fn cell(row: &[Value<'_>], i: usize) -> i64 {
    row.get(i).and_then(Value::as_int).unwrap_or(0)
}

/// Binds the owner and then each column of `rows` as one PostgreSQL array.
fn pg_rows<'q>(
    sql: &'q str,
    owner: &Owner<'q>,
    rows: &'q [Vec<Value<'q>>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query::<sqlx::Postgres>(sql)
        .bind(owner.shop)
        .bind(owner.org)
        .bind(owner.now);
    let width = rows.first().map_or(0, Vec::len);
    for j in 0..width {
        q = match rows.first().and_then(|r| r.get(j)) {
            Some(Value::Text(_)) => q.bind(
                rows.iter()
                    .map(|r| match r.get(j) {
                        Some(Value::Text(v)) => v.as_deref(),
                        _ => None,
                    })
                    .collect::<Vec<Option<&str>>>(),
            ),
            _ => q.bind(
                rows.iter()
                    .map(|r| r.get(j).and_then(Value::as_int))
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
    rows: &[Vec<Value<'_>>],
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
    rows: &[Vec<Value<'_>>],
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
    rows: &[Vec<Value<'_>>],
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
    rows: impl ExactSizeIterator<Item = &'r Vec<Value<'v>>>,
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
                Value::Text(Some(t)) => push_text(&mut out, t),
                other => {
                    if let Some(v) = other.as_int() {
                        let _ = write!(out, "{v}");
                    }
                }
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
    rows: &[&'q Vec<Value<'q>>],
) -> QueryBuilder<'q, Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new(prefix);
    qb.push_values(rows, |mut b, row| {
        b.push_bind(owner.shop)
            .push_bind(owner.org)
            .push_bind(owner.now);
        for cell in row.iter() {
            match cell {
                Value::Text(v) => b.push_bind(v.as_deref()),
                other => b.push_bind(other.as_int()),
            };
        }
    });
    qb.push(suffix);
    qb
}

fn sqlite_chunk(rows: &[Vec<Value<'_>>]) -> usize {
    (SQLITE_MAX_PARAMS / (rows.first().map_or(0, Vec::len) + 3)).max(1)
}

async fn sqlite_upsert(
    conn: &mut SqliteConnection,
    t: &Table,
    owner: &Owner<'_>,
    rows: &[Vec<Value<'_>>],
) -> Result<Written, sqlx::Error> {
    let mut w = Written::default();
    for part in rows.chunks(sqlite_chunk(rows)) {
        let all: Vec<&Vec<Value<'_>>> = part.iter().collect();
        let inserted: Vec<i64> = sqlite_values(t.sqlite_insert, t.sqlite_on_new, owner, &all)
            .build_query_scalar()
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
        let new: HashSet<i64> = inserted.iter().copied().collect();
        let rest: Vec<&Vec<Value<'_>>> =
            part.iter().filter(|r| !new.contains(&cell(r, 0))).collect();
        if !rest.is_empty() {
            let updated: Vec<i64> =
                sqlite_values(t.sqlite_insert, t.sqlite_on_update, owner, &rest)
                    .build_query_scalar()
                    .persistent(false)
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
    rows: &[Vec<Value<'_>>],
) -> Result<(), sqlx::Error> {
    for ids in updated_parents.chunks(SQLITE_MAX_PARAMS) {
        let mut qb = QueryBuilder::<Sqlite>::new(c.sqlite_delete);
        qb.push_bind(owner.shop).push(c.sqlite_parent_in);
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        list.push_unseparated(")");
        qb.build().persistent(false).execute(&mut *conn).await?;
    }
    for part in rows.chunks(sqlite_chunk(rows)) {
        let all: Vec<&Vec<Value<'_>>> = part.iter().collect();
        sqlite_values(c.sqlite_insert, "", owner, &all)
            .build()
            .persistent(false)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn upsert(
    tx: &mut Tx,
    t: &Table,
    owner: &Owner<'_>,
    rows: &[Vec<Value<'_>>],
) -> Result<Written, sqlx::Error> {
    match tx {
        Tx::Pg(tx) => pg_upsert(tx, t, owner, rows).await,
        Tx::Sqlite(tx) => sqlite_upsert(tx, t, owner, rows).await,
    }
}

async fn replace_children(
    tx: &mut Tx,
    c: &Child,
    owner: &Owner<'_>,
    updated_parents: &[i64],
    rows: &[Vec<Value<'_>>],
) -> Result<(), sqlx::Error> {
    match tx {
        Tx::Pg(tx) => pg_replace_children(tx, c, owner, updated_parents, rows).await,
        Tx::Sqlite(tx) => sqlite_replace_children(tx, c, owner, updated_parents, rows).await,
    }
}

impl SqlStore {
    /// Upserts top-level records (deduplicated, newest wins) and replaces the children of
    /// those written, in one transaction.
    pub(super) async fn upsert_family<'a, P>(
        &self,
        parent: &'static Table,
        owner: Owner<'_>,
        items: &'a [P],
        key: impl Fn(&P) -> (i64, EpochMs),
        row: impl Fn(&'a P) -> Vec<Value<'a>>,
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
        let db = self.primary(parent.name);
        let written = db
            .timed(parent.name, parent.pg_upsert, async {
                let mut tx = db.begin().await?;
                let mut w = upsert(&mut tx, parent, &owner, &rows).await?;
                if let Some(child) = parent.child {
                    w.updated.sort_unstable();
                    let child_rows = children(&kept, &w.ids());
                    replace_children(&mut tx, child, &owner, &w.updated, &child_rows).await?;
                }
                tx.commit().await?;
                Ok(w)
            })
            .await?;
        Ok(written.counts(items.len()))
    }
}
