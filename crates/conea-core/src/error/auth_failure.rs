//! Why a request was not authenticated. Each variant has its own [`ErrorCode`] and a message
//! that tells the caller what to do about it.

use super::ErrorCode;
use crate::clock::{rfc3339, EpochMs};
use serde_json::{json, Value};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    MissingCredentials,
    MalformedToken {
        reason: String,
    },
    InvalidSignature,
    AlgorithmNotAllowed {
        alg: String,
        allowed: Vec<String>,
    },
    TokenExpired {
        expired_at: EpochMs,
        now: EpochMs,
    },
    TokenNotYetValid {
        valid_from: EpochMs,
        now: EpochMs,
    },
    InvalidAudience {
        expected: String,
    },
    InvalidIssuer {
        expected: String,
    },
    UnknownSubject,
    UnknownApiKey,
    RevokedApiKey {
        revoked_at: EpochMs,
    },
    ExpiredApiKey {
        expired_at: EpochMs,
    },
    InvalidCredentials,
    /// A webhook from a shop domain that is not connected.
    UnknownWebhookShop,
    /// A webhook whose HMAC matches none of the shop's secrets.
    InvalidWebhookSignature,
}

impl AuthFailure {
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthFailure::MissingCredentials => ErrorCode::MissingCredentials,
            AuthFailure::MalformedToken { .. } => ErrorCode::MalformedToken,
            AuthFailure::InvalidSignature => ErrorCode::InvalidSignature,
            AuthFailure::AlgorithmNotAllowed { .. } => ErrorCode::AlgorithmNotAllowed,
            AuthFailure::TokenExpired { .. } => ErrorCode::TokenExpired,
            AuthFailure::TokenNotYetValid { .. } => ErrorCode::TokenNotYetValid,
            AuthFailure::InvalidAudience { .. } => ErrorCode::InvalidAudience,
            AuthFailure::InvalidIssuer { .. } => ErrorCode::InvalidIssuer,
            AuthFailure::UnknownSubject => ErrorCode::UnknownSubject,
            AuthFailure::UnknownApiKey => ErrorCode::UnknownApiKey,
            AuthFailure::RevokedApiKey { .. } => ErrorCode::RevokedApiKey,
            AuthFailure::ExpiredApiKey { .. } => ErrorCode::ExpiredApiKey,
            AuthFailure::InvalidCredentials => ErrorCode::InvalidCredentials,
            AuthFailure::UnknownWebhookShop => ErrorCode::UnknownShop,
            AuthFailure::InvalidWebhookSignature => ErrorCode::InvalidWebhookSignature,
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuthFailure::MissingCredentials => "No credential was sent. Send `Authorization: Bearer <token or API key>` or `X-API-Key: <key>`.".into(),
            AuthFailure::MalformedToken { reason } => format!("The credential is not a well-formed JWT or Conea API key: {reason}. Check that the whole value was copied."),
            AuthFailure::InvalidSignature => "The token's signature does not verify: it was altered or signed with another secret. Request a new token.".into(),
            AuthFailure::AlgorithmNotAllowed { alg, allowed } => format!("The token is signed with `{alg}`, but this server only accepts {}. Request a token from this server.", allowed.join(", ")),
            AuthFailure::TokenExpired { expired_at, now } => format!("The token expired at {} (server time {}). Request a new token.", rfc3339(*expired_at), rfc3339(*now)),
            AuthFailure::TokenNotYetValid { valid_from, now } => format!("The token is not valid before {} (server time {}). The issuer's clock is probably ahead of the server's: check time synchronisation (NTP).", rfc3339(*valid_from), rfc3339(*now)),
            AuthFailure::InvalidAudience { expected } => format!("The token's audience is not `{expected}`. Request a token for this server."),
            AuthFailure::InvalidIssuer { expected } => format!("The token was not issued by `{expected}`. Request a token from this server."),
            AuthFailure::UnknownSubject => "The token's user no longer exists or is no longer a member of the token's organization. Log in again.".into(),
            AuthFailure::UnknownApiKey => "This API key is not known. Check the key, or create a new one.".into(),
            AuthFailure::RevokedApiKey { revoked_at } => format!("This API key was revoked at {}. Create a new key.", rfc3339(*revoked_at)),
            AuthFailure::ExpiredApiKey { expired_at } => format!("This API key expired at {}. Create a new key.", rfc3339(*expired_at)),
            AuthFailure::InvalidCredentials => "The email or password is wrong.".into(),
            AuthFailure::UnknownWebhookShop => "No connected Shopify shop has this X-Shopify-Shop-Domain. Connect the shop with POST /v1/integrations/shopify/shops first.".into(),
            AuthFailure::InvalidWebhookSignature => "X-Shopify-Hmac-Sha256 does not match the raw body under the shop's API secret (or its previous one). Check the secret stored for the shop.".into(),
        }
    }

    pub fn details(&self) -> Option<Value> {
        match self {
            AuthFailure::TokenExpired { expired_at, now } => Some(json!({
                "expired_at": rfc3339(*expired_at), "server_time": rfc3339(*now)})),
            AuthFailure::TokenNotYetValid { valid_from, now } => Some(json!({
                "valid_from": rfc3339(*valid_from), "server_time": rfc3339(*now)})),
            AuthFailure::AlgorithmNotAllowed { alg, allowed } => {
                Some(json!({"alg": alg, "allowed": allowed}))
            }
            AuthFailure::RevokedApiKey { revoked_at } => {
                Some(json!({"revoked_at": rfc3339(*revoked_at)}))
            }
            AuthFailure::ExpiredApiKey { expired_at } => {
                Some(json!({"expired_at": rfc3339(*expired_at)}))
            }
            _ => None,
        }
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}
