//! Conea's HTTP edge and process wiring: the axum router, extractors and middleware, the
//! one error mapping, health and metrics, and the platform that the CLI shares.

pub mod app;
pub mod connections;
pub mod console;
pub mod cpu;
pub mod detectors;
pub mod health;
pub mod http;
pub mod metrics;
mod parse_refusals;
pub mod platform;
pub mod process;
pub mod profiler;
pub mod routes;
pub mod state;

pub use app::{Application, Options};
pub use platform::{Platform, StartupError};
