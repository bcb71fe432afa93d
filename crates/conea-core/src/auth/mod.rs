//! Credentials: API keys, passwords and JWTs, and the reasons a credential is refused.

pub mod api_key;
pub mod failure;
pub mod jwt;
pub mod password;

pub use failure::AuthFailure;
