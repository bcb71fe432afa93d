//! Reading the shop data back: the order, product and customer lists (filters, sorts,
//! keyset pages), one record by id, and exports (CSV, NDJSON) streamed in constant memory.
//! Typed functions on [`crate::DataService`], called by the HTTP routes and by whatever
//! else needs the data (the AI analyst, the console):
//!
//! - [`query`] what a read asks for (filters, sorts, cursors), [`params`] the same from a
//!   query string, each error naming its parameter;
//! - [`views`] what a read answers; [`export`] the CSV columns and NDJSON lines.
//!
//! The functions themselves are `DataService`'s (`service/reads.rs`): this module is their
//! vocabulary, which the store trait uses too, so it depends on neither.

pub mod export;
pub mod params;
pub mod query;
pub mod views;

pub use params::{ListParams, ParamError, ReadFormat};
pub use query::{
    CustomerFilter, CustomerQuery, CustomerSort, Keyset, Listed, OrderFilter, OrderQuery,
    OrderSort, ProductFilter, ProductQuery, ProductSort, ReadScope, RecordSort,
};
pub use views::{CustomerView, OrderDetail, OrderView, Page, ProductView};
