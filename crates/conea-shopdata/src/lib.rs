//! Shop data: shops, products, variants, customers, orders and line items, keyed by
//! organization, shop and source id; file imports (NDJSON in the shape of Shopify's Admin
//! REST resources, or CSV) and the merchant reports. Shopify exports, webhook payloads and
//! imports share one parser ([`parse_ndjson_line`]).
//!
//! - [`model`] the records, [`money`] exact amounts and currency digits;
//! - [`shopify`] Shopify's JSON shapes, [`csv`] the CSV columns, [`reader`] both over chunks;
//! - [`store`] the `ShopDataStore` trait; [`import`] and [`reports`] the two operations;
//! - [`jobs`] the job kinds `data.import` and `data.process`, [`progress`] what they say;
//! - [`analytics`] the reports computed from the sums the store maintains;
//! - [`reads`] the data read back: lists, records by id, exports.

pub mod analytics;
pub mod csv;
pub mod fields;
pub mod import;
pub mod install;
pub mod jobs;
pub mod lines;
pub mod model;
pub mod money;
pub mod progress;
pub mod reader;
pub mod reads;
pub mod reports;
pub mod segments;
pub mod service;
pub mod shopify;
pub mod store;
pub mod writes;

pub use import::{
    initial_checkpoint, run_import, BadLine, ImportArgs, ImportProgress, ImportReport, Quiet,
};
pub use install::ShopDataModule;
pub use jobs::{ImportHandler, ImportTurns, ProcessHandler, IMPORT_KIND, PROCESS_KIND};
pub use model::{
    Customer, ImportFormat, LineItem, Order, OrderStatus, Parsed, Product, Record, RecordKind,
    Shop, ShopKind, Variant,
};
pub use money::Money;
pub use progress::ProgressNote;
pub use reader::RecordReader;
pub use reports::{
    OrdersSummary, Period, PeriodArg, ProcessArgs, ProcessRequest, ProductPerformance,
};
pub use service::{DataService, ORPHAN_UPLOAD_AFTER, PRUNE_UPLOADS_EVERY};
pub use shopify::parse_ndjson_line;
pub use store::{ReportScope, ShopDataStore, UpsertCounts};
pub use writes::WritesShopData;

/// A new upload id (`upl_` + a UUIDv7).
pub fn new_upload_id() -> String {
    format!("upl_{}", uuid::Uuid::now_v7().simple())
}
