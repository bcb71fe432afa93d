//! Migration numbering across branches: 0006 (Shopify) and 0007 (incidents) were written on
//! parallel branches, so a database may have applied 0007 before it ever saw 0006. A gap is
//! no problem, and a lower-numbered migration that lands later is applied on the next
//! `migrate` (sqlx applies every known version not yet applied, in order; it does not require
//! versions to be contiguous or newer than the last applied one).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_store::sqlx;
use conea_testkit::{backend_tests, Backend, TestDb};
use sqlx::migrate::Migrator;
use std::path::Path;

/// Copies the migrations up to 0007 except those whose name starts with `skip` (the later
/// ones came after both branches met, and may use what 0006 made).
fn copy_dir_without(from: &Path, to: &Path, skip: &str) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let version: i64 = name.split('_').next().unwrap().parse().unwrap();
        if version <= 7 && !name.starts_with(skip) {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Copies every migration.
fn copy_dir(from: &Path, to: &Path) {
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
    let shopify = std::fs::read_dir(&shipped)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("0006_")
        })
        .expect("0006 ships");
    // Every shipped version ends up applied (0001 … the latest).
    let mut shipped_versions: Vec<i64> = std::fs::read_dir(&shipped)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.split('_').next().and_then(|v| v.parse().ok())
        })
        .collect();
    shipped_versions.sort_unstable();
    assert_eq!(shipped_versions[..7], [1, 2, 3, 4, 5, 6, 7]);
    let dir = tempfile::tempdir().unwrap();
    copy_dir_without(&shipped, dir.path(), "0006_");
    let check = "SELECT COUNT(*) FROM shopify_shops";
    macro_rules! go {
        ($pool:expr, $db:ty) => {{
            // With the gap: 0001..0005 and 0007 apply.
            Migrator::new(dir.path())
                .await
                .unwrap()
                .run($pool)
                .await
                .unwrap();
            // 0006 lands later (with the migrations written after both).
            copy_dir(&shipped, dir.path());
            assert!(dir.path().join(shopify.file_name().unwrap()).exists());
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
            assert_eq!(versions, shipped_versions);
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
