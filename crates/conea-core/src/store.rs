//! The storage traits. `conea-store` implements them for SQLite and PostgreSQL; services
//! hold them as `Arc<dyn …>` so tests and backends are interchangeable.

use crate::clock::EpochMs;
use crate::error::CoreError;
use crate::error::ErrorCode;
use crate::ids::{KeyId, OrgId, UserId};
use crate::model::{ApiKey, ConsoleSession, Membership, NewKeyRecord, Organization, User};
use crate::permissions::{Permission, Role};
use async_trait::async_trait;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint refused the write; the field is the constraint's subject.
    #[error("{0} already exists")]
    Duplicate(&'static str),
    /// The database cannot be reached or refused the connection.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(what) => CoreError::Conflict {
                code: ErrorCode::AlreadyExists,
                message: format!("A {what} with these values already exists."),
            },
            StoreError::Unavailable(msg) => CoreError::Unavailable {
                code: ErrorCode::DatabaseUnavailable,
                message: format!("The database is not reachable ({msg}). Retry shortly; operators: check /health."),
            },
            StoreError::Other(msg) => CoreError::Internal(msg),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Organizations, users, memberships, grants and API keys.
#[async_trait]
pub trait AccountsStore: Send + Sync + 'static {
    async fn count_orgs(&self) -> StoreResult<i64>;
    async fn insert_org(&self, org: &Organization) -> StoreResult<()>;
    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Organization>>;
    async fn get_org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>>;
    async fn list_orgs(&self) -> StoreResult<Vec<Organization>>;

    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>>;
    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    /// Inserts or updates a membership; returns true when it existed before.
    async fn upsert_member(
        &self,
        org: &OrgId,
        user: &UserId,
        role: Role,
        at: EpochMs,
    ) -> StoreResult<bool>;
    async fn remove_member(&self, org: &OrgId, user: &UserId) -> StoreResult<bool>;
    async fn get_member(&self, org: &OrgId, user: &UserId) -> StoreResult<Option<Membership>>;
    async fn list_members(&self, org: &OrgId) -> StoreResult<Vec<Membership>>;
    /// The oldest membership of a user (the organization a login acts in by default).
    async fn first_membership(&self, user: &UserId) -> StoreResult<Option<Membership>>;
    async fn grant_user_permission(
        &self,
        org: &OrgId,
        user: &UserId,
        permission: Permission,
        at: EpochMs,
    ) -> StoreResult<()>;

    async fn insert_key(&self, key: &NewKeyRecord) -> StoreResult<()>;
    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<ApiKey>>;
    async fn get_key_by_digest(&self, digest: &str) -> StoreResult<Option<ApiKey>>;
    async fn list_keys(&self, org: &OrgId) -> StoreResult<Vec<ApiKey>>;
    /// Marks a key revoked; returns false when it was unknown or already revoked.
    async fn revoke_key(&self, id: &KeyId, at: EpochMs) -> StoreResult<bool>;
    async fn grant_key_permission(&self, id: &KeyId, permission: Permission) -> StoreResult<()>;
    async fn touch_key(&self, id: &KeyId, at: EpochMs) -> StoreResult<()>;

    /// A counter bumped by every change that can invalidate a cached credential (revocation,
    /// role change, grant). Every replica polls it and clears its cache when it moves.
    async fn auth_epoch(&self) -> StoreResult<i64>;
    async fn bump_auth_epoch(&self) -> StoreResult<()>;

    /// Replaces a user's password hash; true when the user exists.
    async fn set_password_hash(&self, user: &UserId, hash: &str) -> StoreResult<bool>;

    // Web console sessions (migration 0017), by the digest of their secret.
    async fn insert_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    /// The session with its user's current password hash (`None` inside when the user has
    /// none).
    async fn get_session(
        &self,
        digest: &str,
    ) -> StoreResult<Option<(ConsoleSession, Option<String>)>>;
    async fn touch_session(
        &self,
        digest: &str,
        last_seen_at: EpochMs,
        idle_expires_at: EpochMs,
    ) -> StoreResult<()>;
    async fn delete_session(&self, digest: &str) -> StoreResult<bool>;
    /// Ends every session of the user (in `org` only, when given); returns how many.
    async fn delete_user_sessions(&self, user: &UserId, org: Option<&OrgId>) -> StoreResult<u64>;
    /// Deletes sessions past their idle or absolute expiry.
    async fn prune_sessions(&self, now: EpochMs) -> StoreResult<u64>;
}

/// What a rate-limit override applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    Organization,
    ApiKey,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Organization => "organization",
            LimitScope::ApiKey => "api_key",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "organization" => Some(LimitScope::Organization),
            "api_key" => Some(LimitScope::ApiKey),
            _ => None,
        }
    }
}

/// A stored per-organization or per-key limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitOverride {
    pub scope: LimitScope,
    /// The organization id or the key id.
    pub subject_id: String,
    pub org_id: OrgId,
    pub per_minute: u32,
    /// None: the same as `per_minute`.
    pub burst: Option<u32>,
    pub updated_at: EpochMs,
}

/// Rate-limit overrides.
#[async_trait]
pub trait RateLimitStore: Send + Sync + 'static {
    async fn get_override(
        &self,
        scope: LimitScope,
        subject: &str,
    ) -> StoreResult<Option<LimitOverride>>;
    async fn set_override(&self, o: &LimitOverride) -> StoreResult<()>;
    async fn list_overrides(&self) -> StoreResult<Vec<LimitOverride>>;
}

/// The stored answer to a request made with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    /// Response headers worth replaying (e.g. `Location`), as (name, value).
    pub headers: Vec<(String, String)>,
}

/// What `begin` found for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// This request owns the key now and must `complete` or `abandon` it.
    Started,
    /// The same key and body are being processed by an earlier request.
    InProgress,
    /// The same key was used with a different body.
    Mismatch,
    /// The first response, to replay.
    Done(StoredResponse),
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for a request with body hash `hash`. An expired key, or one stuck
    /// in progress since before `stale_before` (its request died), is taken over.
    async fn begin(
        &self,
        org: &OrgId,
        key: &str,
        hash: &str,
        now: EpochMs,
        expires_at: EpochMs,
        stale_before: EpochMs,
    ) -> StoreResult<IdempotencyBegin>;
    async fn complete(&self, org: &OrgId, key: &str, response: &StoredResponse) -> StoreResult<()>;
    /// Forgets the key (the request failed; a retry with the same key runs again).
    async fn abandon(&self, org: &OrgId, key: &str) -> StoreResult<()>;
}
