//! The request pipeline: request ids, logging and metrics, timeouts, panics, JSON and
//! authentication extractors, protective response headers. Routes stay free of these concerns.

pub mod auth;
pub mod client_addr;
pub mod error;
pub mod fallback;
pub mod idempotency;
pub mod json;
pub mod observe;
pub mod query;
pub mod rate_limit;
pub mod reads;
pub mod request_id;
pub mod security;
