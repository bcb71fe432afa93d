//! The one query path of the store. A statement is its name (for the statement statistics
//! and the slow-statement log), its SQL (`$n` placeholders, portable) and its binds
//! ([`Value`]); running it on a [`Target`] (a pool plus what the rows are about) times it
//! ([`crate::stats`]), picks the backend ([`with_pool!`]) and maps its error
//! ([`crate::errors`]):
//!
//! ```text
//! q("get_org", SQL).bind(id.as_str()).fetch_optional::<OrgRow>(&self.primary("organization")).await?
//! ```
//!
//! Transactions: [`Target::timed`] times and maps a block that opens a [`Tx`] and runs
//! statements in it with the `*_in` methods. Backend-specific SQL is chosen by matching on
//! [`Db`] (or [`Tx`]) before building the statement.

use crate::errors::map;
use crate::stats::StatementStats;
use crate::{with_pool, Db, SqlStore};
use conea_core::store::StoreResult;
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;
use std::borrow::Cow;
use std::future::Future;

/// One bound value (also a cell of a bulk-written row).
#[derive(Clone, Debug)]
pub(crate) enum Value<'a> {
    Int(Option<i64>),
    Int32(Option<i32>),
    Bool(Option<bool>),
    Text(Option<Cow<'a, str>>),
    Bytes(Option<Cow<'a, [u8]>>),
    /// Serialized once; bound as `jsonb` on PostgreSQL and as text on SQLite.
    Json(Option<Box<RawValue>>),
}

impl Value<'_> {
    /// The integer, when this is one.
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => *v,
            Value::Int32(v) => v.map(i64::from),
            _ => None,
        }
    }
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl<'a> From<$t> for Value<'a> {
            fn from($v: $t) -> Self {
                $e
            }
        })*
    };
}

value_from! {
    i64 => |v| Value::Int(Some(v)),
    Option<i64> => |v| Value::Int(v),
    i32 => |v| Value::Int32(Some(v)),
    Option<i32> => |v| Value::Int32(v),
    bool => |v| Value::Bool(Some(v)),
    Option<bool> => |v| Value::Bool(v),
    &'a str => |v| Value::Text(Some(Cow::Borrowed(v))),
    &'a String => |v| Value::Text(Some(Cow::Borrowed(v.as_str()))),
    Option<&'a str> => |v| Value::Text(v.map(Cow::Borrowed)),
    String => |v| Value::Text(Some(Cow::Owned(v))),
    Option<String> => |v| Value::Text(v.map(Cow::Owned)),
    &'a [u8] => |v| Value::Bytes(Some(Cow::Borrowed(v))),
}

/// Binds `$values` (a `&[Value]`) in order onto the sqlx query `$q`.
macro_rules! bind_values {
    ($q:expr, $values:expr) => {{
        let mut q = $q;
        for v in $values {
            q = match v {
                Value::Int(x) => q.bind(*x),
                Value::Int32(x) => q.bind(*x),
                Value::Bool(x) => q.bind(*x),
                Value::Text(x) => q.bind(x.as_deref()),
                Value::Bytes(x) => q.bind(x.as_deref()),
                Value::Json(x) => q.bind(x.as_deref().map(sqlx::types::Json)),
            };
        }
        q
    }};
}

/// Rows a statement can return on both backends.
pub(crate) trait Rows:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Rows for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// Where a statement runs: a pool, the statistics it feeds, and what its rows are about
/// (the subject of `StoreError::Duplicate`).
pub(crate) struct Target<'a> {
    db: &'a Db,
    stats: &'a StatementStats,
    subject: &'static str,
}

impl SqlStore {
    /// The primary database.
    pub(crate) fn primary(&self, subject: &'static str) -> Target<'_> {
        self.on(&self.db, subject)
    }

    /// The database a routable read uses ([`SqlStore::routed_db`]).
    pub(crate) fn routed(&self, subject: &'static str) -> Target<'_> {
        self.on(self.routed_db(), subject)
    }

    pub(crate) fn on<'a>(&'a self, db: &'a Db, subject: &'static str) -> Target<'a> {
        Target {
            db,
            stats: &self.stats,
            subject,
        }
    }
}

impl Target<'_> {
    pub(crate) fn db(&self) -> &Db {
        self.db
    }

    /// Times `work` (a transaction, or a statement built by hand) as the statement `name`
    /// and maps its error.
    pub(crate) async fn timed<T, F>(
        &self,
        name: &'static str,
        logged: &'static str,
        work: F,
    ) -> StoreResult<T>
    where
        F: Future<Output = Result<T, sqlx::Error>>,
    {
        self.stats
            .time(name, logged, work)
            .await
            .map_err(|e| map(e, self.subject))
    }

    /// Opens a transaction on this target's database.
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Tx::begin(self.db).await
    }
}

/// A statement to run: see the module documentation.
#[must_use = "a statement does nothing until it is run"]
pub(crate) struct Query<'q> {
    name: &'static str,
    logged: &'static str,
    sql: Cow<'q, str>,
    binds: Vec<Value<'q>>,
    encode_error: Option<String>,
}

/// A statement whose text is fixed (and is what the slow-statement log shows).
pub(crate) fn q<'q>(name: &'static str, sql: &'static str) -> Query<'q> {
    Query {
        name,
        logged: sql,
        sql: Cow::Borrowed(sql),
        binds: Vec::new(),
        encode_error: None,
    }
}

/// A statement whose text is built at run time; the slow-statement log shows `logged`.
pub(crate) fn q_built<'q>(
    name: &'static str,
    logged: &'static str,
    sql: impl Into<Cow<'q, str>>,
) -> Query<'q> {
    Query {
        name,
        logged,
        sql: sql.into(),
        binds: Vec::new(),
        encode_error: None,
    }
}

impl<'q> Query<'q> {
    pub(crate) fn bind(mut self, v: impl Into<Value<'q>>) -> Self {
        self.binds.push(v.into());
        self
    }

    /// Binds `v` as JSON (`jsonb` on PostgreSQL, text on SQLite).
    pub(crate) fn bind_json(mut self, v: &impl serde::Serialize) -> Self {
        match serde_json::value::to_raw_value(v) {
            Ok(raw) => self.binds.push(Value::Json(Some(raw))),
            Err(e) => {
                self.encode_error.get_or_insert(e.to_string());
                self.binds.push(Value::Json(None));
            }
        }
        self
    }

    fn checked(&self) -> Result<(), sqlx::Error> {
        match &self.encode_error {
            Some(e) => Err(sqlx::Error::Encode(e.clone().into())),
            None => Ok(()),
        }
    }

    /// Runs the statement; the number of rows it changed.
    pub(crate) async fn execute(self, t: &Target<'_>) -> StoreResult<u64> {
        let (name, logged) = (self.name, self.logged);
        t.timed(name, logged, async {
            self.checked()?;
            let (sql, binds) = (&*self.sql, &self.binds);
            with_pool!(t.db, |p| bind_values!(sqlx::query::<DB>(sql), binds)
                .execute(p)
                .await
                .map(|r| r.rows_affected()))
        })
        .await
    }

    pub(crate) async fn fetch_all<R: Rows>(self, t: &Target<'_>) -> StoreResult<Vec<R>> {
        let (name, logged) = (self.name, self.logged);
        t.timed(name, logged, async {
            self.checked()?;
            let (sql, binds) = (&*self.sql, &self.binds);
            with_pool!(t.db, |p| bind_values!(sqlx::query_as::<DB, R>(sql), binds)
                .fetch_all(p)
                .await)
        })
        .await
    }

    pub(crate) async fn fetch_optional<R: Rows>(self, t: &Target<'_>) -> StoreResult<Option<R>> {
        let (name, logged) = (self.name, self.logged);
        t.timed(name, logged, async {
            self.checked()?;
            let (sql, binds) = (&*self.sql, &self.binds);
            with_pool!(t.db, |p| bind_values!(sqlx::query_as::<DB, R>(sql), binds)
                .fetch_optional(p)
                .await)
        })
        .await
    }

    pub(crate) async fn fetch_one<R: Rows>(self, t: &Target<'_>) -> StoreResult<R> {
        let (name, logged) = (self.name, self.logged);
        t.timed(name, logged, async {
            self.checked()?;
            let (sql, binds) = (&*self.sql, &self.binds);
            with_pool!(t.db, |p| bind_values!(sqlx::query_as::<DB, R>(sql), binds)
                .fetch_one(p)
                .await)
        })
        .await
    }

    /// Runs the statement in `tx` (untimed: the enclosing [`Target::timed`] times it).
    pub(crate) async fn execute_in(self, tx: &mut Tx) -> Result<u64, sqlx::Error> {
        self.checked()?;
        let (sql, binds) = (&*self.sql, &self.binds);
        match tx {
            Tx::Pg(c) => bind_values!(sqlx::query::<sqlx::Postgres>(sql), binds)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected()),
            Tx::Sqlite(c) => bind_values!(sqlx::query::<sqlx::Sqlite>(sql), binds)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected()),
        }
    }

    pub(crate) async fn fetch_one_in<R: Rows>(self, tx: &mut Tx) -> Result<R, sqlx::Error> {
        self.fetch_optional_in(tx)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    pub(crate) async fn fetch_optional_in<R: Rows>(
        self,
        tx: &mut Tx,
    ) -> Result<Option<R>, sqlx::Error> {
        self.checked()?;
        let (sql, binds) = (&*self.sql, &self.binds);
        match tx {
            Tx::Pg(c) => {
                bind_values!(sqlx::query_as::<sqlx::Postgres, R>(sql), binds)
                    .fetch_optional(&mut **c)
                    .await
            }
            Tx::Sqlite(c) => {
                bind_values!(sqlx::query_as::<sqlx::Sqlite, R>(sql), binds)
                    .fetch_optional(&mut **c)
                    .await
            }
        }
    }
}

/// A transaction on either backend.
pub(crate) enum Tx {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl Tx {
    pub(crate) async fn begin(db: &Db) -> Result<Tx, sqlx::Error> {
        Ok(match db {
            Db::Postgres(p) => Tx::Pg(p.begin().await?),
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        })
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.rollback().await,
            Tx::Sqlite(tx) => tx.rollback().await,
        }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }
}

/// `($1, $2, …), (…)`: the `VALUES` list of a multi-row insert of `rows` rows of `width`
/// columns.
pub(crate) fn values_list(rows: usize, width: usize) -> String {
    let mut out = String::with_capacity(rows * width * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * width + c + 1).to_string());
        }
        out.push(')');
    }
    out
}
