//! One module per console page; each handler calls the same service function as the API
//! route with the member's principal, and renders the result.

pub mod ask;
pub mod data;
pub mod import;
pub mod incidents;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod members;
pub mod operations;
pub mod overview;
pub mod reports;
pub mod shopify;
pub mod time_zone;
