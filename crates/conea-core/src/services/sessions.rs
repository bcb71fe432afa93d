//! Web console sessions: a member signs in with e-mail and password (the API's login check
//! and throttle) and gets a random secret for a cookie. Only the secret's SHA-256 digest is
//! stored (migration 0017), so a session lives in the database and any replica serves it;
//! deleting the row ends it everywhere at once (sign-out, a password change, removal from
//! the organization).
//!
//! A session ends when idle for [`IDLE_TIMEOUT`] or [`MAX_AGE`] after sign-in, when its
//! user's password hash changed since sign-in, or when the membership is gone. Its CSRF
//! token is derived from the secret (never equal to the stored digest), so it needs no
//! column and changes with every session.

use super::accounts::AccountsService;
use crate::auth::api_key;
use crate::clock::Clock;
use crate::error::{CoreError, CoreResult};
use crate::ids::UserId;
use crate::model::ConsoleSession;
use crate::principal::Principal;
use crate::store::AccountsStore;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// A session unused this long ends.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
/// A session ends this long after sign-in, however active.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_MS: i64 = 60_000;

pub struct SessionService {
    store: Arc<dyn AccountsStore>,
    clock: Arc<dyn Clock>,
    accounts: Arc<AccountsService>,
}

/// A session just opened: the secret goes into the cookie and is not kept.
pub struct OpenedSession {
    pub secret: String,
    pub principal: Principal,
    /// Seconds until the absolute expiry (the cookie's `Max-Age`).
    pub max_age_s: i64,
}

/// A session that is still valid, with its member's principal.
pub struct ActiveSession {
    pub principal: Principal,
    pub user_id: UserId,
    pub csrf_token: String,
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// The digest of a password hash that a session remembers.
fn stamp(password_hash: Option<&str>) -> String {
    api_key::digest(&format!("console-stamp\0{}", password_hash.unwrap_or("")))
}

/// The CSRF token of the session whose secret this is.
pub fn csrf_token(secret: &str) -> String {
    let d = Sha256::digest(format!("conea-console-csrf\0{secret}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

/// Compares a presented CSRF token with the session's without an early exit on the first
/// differing byte.
pub fn csrf_matches(expected: &str, presented: &str) -> bool {
    let (a, b) = (
        Sha256::digest(expected.as_bytes()),
        Sha256::digest(presented.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl SessionService {
    pub fn new(
        store: Arc<dyn AccountsStore>,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountsService>,
    ) -> Self {
        SessionService {
            store,
            clock,
            accounts,
        }
    }

    /// Signs a member in: the same password check and throttle as `POST /v1/auth/login`.
    pub async fn sign_in(&self, email: &str, pw: &str, client: &str) -> CoreResult<OpenedSession> {
        let (user, member) = self.accounts.check_password(email, pw, client).await?;
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = self.clock.now_ms();
        let session = ConsoleSession {
            id_digest: api_key::digest(&secret),
            org_id: member.org_id.clone(),
            user_id: user.id.clone(),
            credential_stamp: stamp(user.password_hash.as_deref()),
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + ms(IDLE_TIMEOUT),
            expires_at: now + ms(MAX_AGE),
        };
        self.store.insert_session(&session).await?;
        let principal = self
            .accounts
            .authenticator()
            .member_principal(&user.id, &member.org_id, now, session.expires_at)
            .await?;
        Ok(OpenedSession {
            secret,
            principal,
            max_age_s: MAX_AGE.as_secs() as i64,
        })
    }

    /// The session of a cookie's secret, or `None` when there is none or it ended (an
    /// ended one is deleted). Records activity at most once a minute.
    pub async fn resume(&self, secret: &str) -> CoreResult<Option<ActiveSession>> {
        if secret.is_empty() || secret.len() > 128 {
            return Ok(None);
        }
        let digest = api_key::digest(secret);
        let Some((session, password_hash)) = self.store.get_session(&digest).await? else {
            return Ok(None);
        };
        let now = self.clock.now_ms();
        let ended = now >= session.idle_expires_at
            || now >= session.expires_at
            || session.credential_stamp != stamp(password_hash.as_deref());
        if ended {
            self.store.delete_session(&digest).await?;
            return Ok(None);
        }
        let principal = match self
            .accounts
            .authenticator()
            .member_principal(
                &session.user_id,
                &session.org_id,
                session.created_at,
                session.expires_at,
            )
            .await
        {
            Ok(p) => p,
            Err(CoreError::Unauthenticated(_)) => {
                self.store.delete_session(&digest).await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            self.store
                .touch_session(&digest, now, now + ms(IDLE_TIMEOUT))
                .await?;
        }
        Ok(Some(ActiveSession {
            principal,
            user_id: session.user_id,
            csrf_token: csrf_token(secret),
        }))
    }

    /// Ends the session of this secret (sign-out).
    pub async fn sign_out(&self, secret: &str) -> CoreResult<()> {
        self.store.delete_session(&api_key::digest(secret)).await?;
        Ok(())
    }

    /// Deletes ended sessions (housekeeping).
    pub async fn prune(&self) -> CoreResult<u64> {
        Ok(self.store.prune_sessions(self.clock.now_ms()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_differs_per_session_and_from_the_stored_digest() {
        let (a, b) = ("secret-a", "secret-b");
        assert_ne!(csrf_token(a), csrf_token(b));
        assert_ne!(csrf_token(a), api_key::digest(a));
        assert!(csrf_matches(&csrf_token(a), &csrf_token(a)));
        assert!(!csrf_matches(&csrf_token(a), &csrf_token(b)));
        assert!(!csrf_matches(&csrf_token(a), ""));
    }

    #[test]
    fn a_changed_password_hash_changes_the_stamp() {
        assert_ne!(stamp(Some("$argon2id$one")), stamp(Some("$argon2id$two")));
        assert_eq!(stamp(Some("$argon2id$one")), stamp(Some("$argon2id$one")));
    }
}
