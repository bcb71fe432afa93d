//! Conea's domain: identifiers, tenancy and permissions, authentication rules, the error
//! enum, the clock, configuration and the store traits. No HTTP, no SQL, no wire formats of
//! third parties: every other crate speaks to the world in these types.

pub mod auth;
pub mod clock;
pub mod config;
pub mod cpu;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod model;
pub mod permissions;
pub mod principal;
pub mod ratelimit;
pub mod reads;
pub mod secretbox;
pub mod services;
pub mod sleep;
pub mod store;

pub use clock::{Clock, FakeClock, SystemClock};
pub use error::{CoreError, CoreResult, ErrorCode};
