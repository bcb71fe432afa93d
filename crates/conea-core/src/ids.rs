//! Typed, prefixed identifiers (`org_…`, `usr_…`, `key_…`, `sch_…`): a UUIDv7 in lowercase hex behind
//! a short prefix. They are built by parsing, so an id of the wrong kind cannot exist.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Accepts `prefix_` followed by 32 lowercase hex digits.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let rest = text
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or(IdError { expected: $prefix })?;
                if rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(IdError { expected: $prefix })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an id of the form {expected}_<32 hex digits>")]
pub struct IdError {
    pub expected: &'static str,
}

prefixed_id!(
    /// An organization (tenant).
    OrgId, "org");
prefixed_id!(
    /// A user (a person who logs in).
    UserId, "usr");
prefixed_id!(
    /// An API key.
    KeyId, "key");

prefixed_id!(
    /// A background job.
    JobId, "job");
prefixed_id!(
    /// A shop (a Shopify store or the organization's manual shop).
    ShopId, "shop");
prefixed_id!(
    /// An incident.
    IncidentId, "inc");
prefixed_id!(
    /// A report schedule.
    ScheduleId, "sch");
prefixed_id!(
    /// A conversation of insights questions (`POST /v1/insights/threads`).
    ThreadId, "thr");

/// A request id: either the client's sane `X-Request-Id` or a generated `req_…`.
pub fn new_request_id() -> String {
    format!("req_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_carry_their_prefix() {
        let id = OrgId::generate();
        assert!(id.as_str().starts_with("org_"));
        assert_eq!(OrgId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn id_of_another_kind_or_malformed_is_rejected() {
        let user = UserId::generate();
        assert!(OrgId::parse(user.as_str()).is_err());
        assert!(OrgId::parse("org_xyz").is_err());
        assert!(OrgId::parse("org_0123456789ABCDEF0123456789abcdef").is_err());
    }
}
