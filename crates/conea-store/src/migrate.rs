//! Migrations for both backends, embedded in the binary.

use crate::Db;
use sqlx::migrate::Migrator;

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

fn migrator(db: &Db) -> &'static Migrator {
    match db {
        Db::Postgres(_) => &POSTGRES,
        Db::Sqlite(_) => &SQLITE,
    }
}

/// Applies every pending migration.
pub async fn run(db: &Db) -> Result<usize, sqlx::migrate::MigrateError> {
    let before = status(db).await.map(|s| s.applied).unwrap_or(0);
    crate::with_pool!(db, |p| migrator(db).run(p).await)?;
    Ok(status(db)
        .await
        .map(|s| s.applied)
        .unwrap_or(0)
        .saturating_sub(before))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: usize,
    pub known: usize,
}

impl MigrationStatus {
    pub fn current(&self) -> bool {
        self.applied >= self.known
    }
}

/// How many of the binary's migrations the database has applied.
pub async fn status(db: &Db) -> Result<MigrationStatus, sqlx::Error> {
    let known = migrator(db).iter().count();
    let applied: Result<i64, sqlx::Error> = crate::with_pool!(db, |p| {
        sqlx::query_scalar::<DB, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(p)
            .await
    });
    match applied {
        Ok(n) => Ok(MigrationStatus {
            applied: n as usize,
            known,
        }),
        // No migrations table yet: nothing applied.
        Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => {
            Ok(MigrationStatus { applied: 0, known })
        }
        Err(e) => Err(e),
    }
}
