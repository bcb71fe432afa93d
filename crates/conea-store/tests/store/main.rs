//! conea-store's integration tests, one test binary: the stores on SQLite and PostgreSQL
//! (`common` makes a migrated store with one organization), and the ignored import benchmark.

mod common;

mod ai_usage;
mod analytics;
mod incidents;
mod jobs_bulk;
mod jobs_listing;
mod migration_order;
mod schedules;
mod shopdata;
mod shopdata_bench;
mod sqlite_wal;
