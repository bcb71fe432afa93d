//! Credentials: API keys, passwords and JWTs, and the reasons a credential is refused.

pub mod api_key;
pub mod jwt;
pub mod password;

/// Lives with the errors (it is one: `CoreError::Unauthenticated`); named here too.
pub use crate::error::AuthFailure;
