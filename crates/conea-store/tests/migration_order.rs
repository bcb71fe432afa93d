//! Migration numbering: this branch ships 0007 while 0006 is another branch's. A gap is no
//! problem, and a 0006 that lands later on a database that already applied 0007 is applied
//! on the next `migrate` (sqlx applies every known version not yet applied, in order; it
//! does not require versions to be contiguous or newer than the last applied one).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_store::sqlx;
use conea_testkit::{backend_tests, Backend, TestDb};
use sqlx::migrate::Migrator;
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

backend_tests!(a_later_0006_is_applied_after_0007_without_error);

async fn a_later_0006_is_applied_after_0007_without_error(b: Backend) {
    let Some(db) = TestDb::create(b).await else {
        return;
    };
    let sub = match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(sub);
    assert!(
        !std::fs::read_dir(&shipped).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("0006_")),
        "0006 belongs to another branch"
    );
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&shipped, dir.path());
    let later = "CREATE TABLE later_0006 (id TEXT PRIMARY KEY);\n";
    let check = "SELECT COUNT(*) FROM later_0006";
    macro_rules! go {
        ($pool:expr, $db:ty) => {{
            // With the gap: 0001..0005 and 0007 apply.
            Migrator::new(dir.path())
                .await
                .unwrap()
                .run($pool)
                .await
                .unwrap();
            // 0006 lands later.
            std::fs::write(dir.path().join("0006_later.sql"), later).unwrap();
            Migrator::new(dir.path())
                .await
                .unwrap()
                .run($pool)
                .await
                .unwrap();
            let n: i64 = sqlx::query_scalar::<$db, i64>(check)
                .fetch_one($pool)
                .await
                .unwrap();
            assert_eq!(n, 0, "0006 was applied");
            let versions: Vec<i64> = sqlx::query_scalar::<$db, i64>(
                "SELECT version FROM _sqlx_migrations ORDER BY version",
            )
            .fetch_all($pool)
            .await
            .unwrap();
            assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7]);
        }};
    }
    match b {
        Backend::Sqlite => {
            let opts: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(opts.create_if_missing(true))
                .await
                .unwrap();
            go!(&pool, sqlx::Sqlite);
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            go!(&pool, sqlx::Postgres);
        }
    }
}
