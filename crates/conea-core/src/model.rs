//! Records of the accounts domain, as the store hands them over. Wire DTOs live in
//! `conea-server`; rows live in `conea-store`; these are the domain's own types.

use crate::clock::EpochMs;
use crate::ids::{KeyId, OrgId, UserId};
use crate::permissions::{PermissionSet, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub created_at: EpochMs,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: EpochMs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub grants: PermissionSet,
    pub created_at: EpochMs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: KeyId,
    pub org_id: OrgId,
    pub name: String,
    pub prefix: String,
    pub permissions: PermissionSet,
    pub created_by: Option<String>,
    pub created_at: EpochMs,
    pub expires_at: Option<EpochMs>,
    pub revoked_at: Option<EpochMs>,
    pub last_used_at: Option<EpochMs>,
}

/// A new key with the digest that the store keeps in place of the secret.
#[derive(Debug, Clone)]
pub struct NewKeyRecord {
    pub key: ApiKey,
    pub digest: String,
}

/// Validates an organization slug: 2 to 63 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn validate_slug(slug: &str) -> Result<(), String> {
    let ok_chars = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if (2..=63).contains(&slug.len()) && ok_chars && !slug.starts_with('-') && !slug.ends_with('-')
    {
        Ok(())
    } else {
        Err(format!(
            "`{slug}` is not a valid slug: use 2 to 63 lowercase letters, digits or dashes, not starting or ending with a dash"
        ))
    }
}

/// A light check of an email address: one `@`, something before it, a dot after it.
pub fn validate_email(email: &str) -> Result<String, String> {
    let e = email.trim().to_ascii_lowercase();
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.contains(char::is_whitespace)
                && e.chars().count() <= 254 =>
        {
            Ok(e)
        }
        _ => Err(format!("`{email}` is not a valid email address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_documented_rule() {
        assert!(validate_slug("default").is_ok());
        assert!(validate_slug("shop-42").is_ok());
        assert!(validate_slug("-x").is_err());
        assert!(validate_slug("Upper").is_err());
        assert!(validate_slug("a").is_err());
    }

    #[test]
    fn emails_are_normalised_to_lowercase() {
        assert_eq!(
            validate_email(" Ann@Example.COM ").as_deref(),
            Ok("ann@example.com")
        );
        assert!(validate_email("ann@example").is_err());
        assert!(validate_email("@example.com").is_err());
    }
}

/// A web console session as stored: the cookie's secret is never stored, only its SHA-256
/// digest (`id_digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id_digest: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    /// A digest of the user's password hash at sign-in: when the password changes, the
    /// stored hash no longer matches it and the session ends.
    pub credential_stamp: String,
    pub created_at: EpochMs,
    pub last_seen_at: EpochMs,
    /// `last_seen_at` plus the idle timeout.
    pub idle_expires_at: EpochMs,
    /// The absolute end, whatever the activity.
    pub expires_at: EpochMs,
}
