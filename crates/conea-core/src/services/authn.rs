//! Authentication: turns a presented credential into a [`Principal`].
//!
//! API keys are looked up by their SHA-256 digest and JWT users by (user, organization);
//! both results are cached in a bounded LRU so a request does not hit the database. Every
//! change that can invalidate a cached credential bumps the store's auth epoch; each replica
//! polls the epoch ([`Authenticator::refresh_epoch`]) and clears its cache when it moves, so
//! a revocation is effective everywhere within one poll interval (250 ms by default) and at
//! once on the replica that made it.

use crate::auth::{api_key, jwt, AuthFailure};
use crate::clock::{Clock, EpochMs};
use crate::error::{CoreError, CoreResult};
use crate::ids::{OrgId, UserId};
use crate::model::ApiKey;
use crate::permissions::{PermissionSet, Role};
use crate::principal::{Principal, PrincipalKind};
use crate::store::AccountsStore;
use moka::future::Cache;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// last_used_at is written at most this often per key.
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Clone)]
enum CachedKey {
    Known {
        key: Arc<ApiKey>,
        last_touch: Arc<AtomicI64>,
    },
    Unknown,
}

#[derive(Clone)]
struct CachedMember {
    role: Role,
    permissions: PermissionSet,
}

/// A JWT whose signature was checked, with the ids its claims name (parsed once).
struct VerifiedToken {
    claims: jwt::Claims,
    user_id: UserId,
    org_id: OrgId,
}

pub struct Authenticator {
    store: Arc<dyn AccountsStore>,
    clock: Arc<dyn Clock>,
    jwt: jwt::JwtSettings,
    keys: Cache<String, CachedKey>,
    members: Cache<(String, String), Option<CachedMember>>,
    /// Tokens whose signature and claims were verified, by their exact text: a hit skips
    /// the HMAC and the JSON parsing (12 % of a JWT request's CPU), and re-checks only the
    /// times. Only what verified is kept, so a forged or altered token always meets the
    /// full check.
    /// Verified tokens with their parsed subject and organization.
    tokens: moka::sync::Cache<Box<str>, Arc<VerifiedToken>>,
    epoch: AtomicI64,
}

impl Authenticator {
    pub fn new(
        store: Arc<dyn AccountsStore>,
        clock: Arc<dyn Clock>,
        jwt: jwt::JwtSettings,
        capacity: u64,
    ) -> Self {
        let ttl = Duration::from_secs(300);
        Self {
            store,
            clock,
            jwt,
            keys: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            members: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            tokens: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            epoch: AtomicI64::new(i64::MIN),
        }
    }

    pub fn jwt_settings(&self) -> &jwt::JwtSettings {
        &self.jwt
    }

    /// Authenticates an `Authorization: Bearer` value or an `X-API-Key` value.
    pub async fn authenticate(&self, credential: &str) -> CoreResult<Principal> {
        let credential = credential.trim();
        if credential.is_empty() {
            return Err(CoreError::Unauthenticated(AuthFailure::MissingCredentials));
        }
        if credential.starts_with(api_key::KEY_PREFIX) {
            return self.authenticate_key(credential).await;
        }
        if jwt::looks_like_jwt(credential) {
            return self.authenticate_jwt(credential).await;
        }
        Err(CoreError::Unauthenticated(AuthFailure::MalformedToken {
            reason: "it is neither a JWT (three base64url parts) nor a key starting with `conea_`"
                .into(),
        }))
    }

    async fn authenticate_key(&self, secret: &str) -> CoreResult<Principal> {
        if !api_key::looks_like_key(secret) {
            return Err(CoreError::Unauthenticated(AuthFailure::MalformedToken {
                reason: "a Conea key is `conea_` followed by at least 32 letters or digits".into(),
            }));
        }
        let digest = api_key::digest(secret);
        let cached = match self.keys.get(&digest).await {
            Some(hit) => hit,
            None => self.load_key(digest).await?,
        };
        self.key_principal(cached)
    }

    async fn load_key(&self, digest: String) -> CoreResult<CachedKey> {
        let store = self.store.clone();
        self.keys
            .try_get_with(digest.clone(), async move {
                let found = store.get_key_by_digest(&digest).await?;
                Ok::<_, crate::store::StoreError>(match found {
                    Some(key) => CachedKey::Known {
                        key: Arc::new(key),
                        last_touch: Arc::new(AtomicI64::new(i64::MIN)),
                    },
                    None => CachedKey::Unknown,
                })
            })
            .await
            .map_err(|e| CoreError::from((*e).clone()))
    }

    fn key_principal(&self, cached: CachedKey) -> CoreResult<Principal> {
        let CachedKey::Known { key, last_touch } = cached else {
            return Err(CoreError::Unauthenticated(AuthFailure::UnknownApiKey));
        };
        let now = self.clock.now_ms();
        if let Some(revoked_at) = key.revoked_at {
            return Err(CoreError::Unauthenticated(AuthFailure::RevokedApiKey {
                revoked_at,
            }));
        }
        if let Some(expired_at) = key.expires_at.filter(|e| *e <= now) {
            return Err(CoreError::Unauthenticated(AuthFailure::ExpiredApiKey {
                expired_at,
            }));
        }
        self.touch_later(&key, &last_touch, now);
        Ok(Principal {
            kind: PrincipalKind::ApiKey,
            subject: key.id.to_string(),
            org_id: key.org_id.clone(),
            role: None,
            permissions: key.permissions,
            issued_at: Some(key.created_at),
            expires_at: key.expires_at,
        })
    }

    fn touch_later(&self, key: &Arc<ApiKey>, last_touch: &AtomicI64, now: EpochMs) {
        let prev = last_touch.load(Ordering::Relaxed);
        if now.saturating_sub(prev) < TOUCH_EVERY_MS {
            return;
        }
        if last_touch
            .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let store = self.store.clone();
        let id = key.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_key(&id, now).await {
                tracing::warn!(key_id = %id, error = %e, "could not record key last use");
            }
        });
    }

    async fn authenticate_jwt(&self, token: &str) -> CoreResult<Principal> {
        let now = self.clock.now_ms();
        let token = match self.tokens.get(token) {
            Some(t) => {
                jwt::check_times(&self.jwt, &t.claims, now).map_err(CoreError::Unauthenticated)?;
                t
            }
            None => {
                let claims =
                    jwt::verify(&self.jwt, token, now).map_err(CoreError::Unauthenticated)?;
                let unknown = || CoreError::Unauthenticated(AuthFailure::UnknownSubject);
                let verified = Arc::new(VerifiedToken {
                    user_id: UserId::parse(&claims.sub).map_err(|_| unknown())?,
                    org_id: OrgId::parse(&claims.org).map_err(|_| unknown())?,
                    claims,
                });
                self.tokens.insert(token.into(), verified.clone());
                verified
            }
        };
        let unknown = || CoreError::Unauthenticated(AuthFailure::UnknownSubject);
        let (claims, user_id, org_id) = (&token.claims, &token.user_id, token.org_id.clone());
        let cache_key = (claims.sub.clone(), claims.org.clone());
        let member = match self.members.get(&cache_key).await {
            Some(hit) => hit,
            None => {
                self.load_member(cache_key, user_id.clone(), org_id.clone())
                    .await?
            }
        }
        .ok_or_else(unknown)?;
        Ok(Principal {
            kind: PrincipalKind::User,
            subject: user_id.to_string(),
            org_id,
            role: Some(member.role),
            permissions: member.permissions,
            issued_at: Some(claims.iat * 1000),
            expires_at: Some(claims.exp * 1000),
        })
    }

    /// The principal of a signed-in member (a console session): the member's role and
    /// grants, from the same cache as the JWTs' (cleared when credentials change).
    /// `unknown_subject` when the membership is gone.
    pub async fn member_principal(
        &self,
        user: &UserId,
        org: &OrgId,
        issued_at: EpochMs,
        expires_at: EpochMs,
    ) -> CoreResult<Principal> {
        let cache_key = (user.to_string(), org.to_string());
        let member = match self.members.get(&cache_key).await {
            Some(hit) => hit,
            None => {
                self.load_member(cache_key, user.clone(), org.clone())
                    .await?
            }
        }
        .ok_or(CoreError::Unauthenticated(AuthFailure::UnknownSubject))?;
        Ok(Principal {
            kind: PrincipalKind::User,
            subject: user.to_string(),
            org_id: org.clone(),
            role: Some(member.role),
            permissions: member.permissions,
            issued_at: Some(issued_at),
            expires_at: Some(expires_at),
        })
    }

    async fn load_member(
        &self,
        cache_key: (String, String),
        u: UserId,
        o: OrgId,
    ) -> CoreResult<Option<CachedMember>> {
        let store = self.store.clone();
        self.members
            .try_get_with(cache_key, async move {
                let m = store.get_member(&o, &u).await?;
                Ok::<_, crate::store::StoreError>(m.map(|m| CachedMember {
                    role: m.role,
                    permissions: m.role.permissions().union(m.grants),
                }))
            })
            .await
            .map_err(|e| CoreError::from((*e).clone()))
    }

    /// Clears every cached credential on this replica.
    pub fn invalidate_all(&self) {
        self.keys.invalidate_all();
        self.members.invalidate_all();
        self.tokens.invalidate_all();
    }

    /// Reads the store's auth epoch; when it moved since the last call, clears the cache.
    /// Returns true when the cache was cleared.
    pub async fn refresh_epoch(&self) -> CoreResult<bool> {
        let current = self.store.auth_epoch().await?;
        let previous = self.epoch.swap(current, Ordering::SeqCst);
        if previous != current && previous != i64::MIN {
            self.invalidate_all();
            return Ok(true);
        }
        Ok(false)
    }

    /// Called after a local change: bumps the shared epoch and clears the local cache.
    pub async fn credentials_changed(&self) -> CoreResult<()> {
        self.store.bump_auth_epoch().await?;
        self.invalidate_all();
        Ok(())
    }

    /// Number of cached entries (exported as a metric).
    pub fn cache_entries(&self) -> u64 {
        self.keys.entry_count() + self.members.entry_count() + self.tokens.entry_count()
    }
}
