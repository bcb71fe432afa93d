//! Rate-limit decisions for principals and client addresses: which policy applies
//! (API key override, else organization override, else the configured default), which
//! backend decides (Redis when configured, else memory), and what happens when the backend
//! fails (`open`: decide in memory and count the fallback; `closed`: refuse with 503).

use super::memory::MemoryLimiter;
use super::{Decision, Limiter, Policy, PolicySource};
use crate::clock::{Clock, EpochMs};
use crate::error::{CoreError, CoreResult};
use crate::ids::{KeyId, OrgId};
use crate::permissions::Permission;
use crate::principal::{Principal, PrincipalKind};
use crate::store::{AccountsStore, LimitOverride, LimitScope, RateLimitStore};
use moka::future::Cache;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a replica keeps an override before reading it again.
pub const POLICY_TTL: Duration = Duration::from_secs(2);
pub const MAX_LIMIT: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub per_minute: u32,
    pub burst: u32,
    pub per_address_per_minute: u32,
}

/// A decision and the backend that made it.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub decision: Decision,
    pub backend: &'static str,
    pub fell_back: bool,
}

pub struct RateLimitService {
    overrides: Arc<dyn RateLimitStore>,
    accounts: Arc<dyn AccountsStore>,
    clock: Arc<dyn Clock>,
    defaults: Defaults,
    primary: Arc<dyn Limiter>,
    memory: Arc<MemoryLimiter>,
    failure_mode: FailureMode,
    policies: Cache<String, Policy>,
    fallbacks: AtomicU64,
    last_fallback_log: AtomicI64,
}

impl RateLimitService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        overrides: Arc<dyn RateLimitStore>,
        accounts: Arc<dyn AccountsStore>,
        clock: Arc<dyn Clock>,
        defaults: Defaults,
        primary: Option<Arc<dyn Limiter>>,
        memory: Arc<MemoryLimiter>,
        failure_mode: FailureMode,
        policy_cache_size: u64,
    ) -> Self {
        let primary = primary.unwrap_or_else(|| memory.clone() as Arc<dyn Limiter>);
        Self {
            overrides,
            accounts,
            clock,
            defaults,
            primary,
            memory,
            failure_mode,
            policies: Cache::builder()
                .max_capacity(policy_cache_size)
                .time_to_live(POLICY_TTL)
                .build(),
            fallbacks: AtomicU64::new(0),
            last_fallback_log: AtomicI64::new(i64::MIN),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        self.primary.name()
    }

    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Buckets in the in-process limiter.
    pub fn memory_buckets(&self) -> u64 {
        self.memory.len()
    }

    pub fn policy_cache_entries(&self) -> u64 {
        self.policies.entry_count()
    }

    pub fn defaults(&self) -> Defaults {
        self.defaults
    }

    fn default_policy(&self) -> Policy {
        Policy::per_minute(
            self.defaults.per_minute,
            self.defaults.burst,
            PolicySource::Default,
        )
    }

    /// The policy that applies to a principal (cached per replica for [`POLICY_TTL`]).
    pub async fn policy_for(&self, p: &Principal) -> CoreResult<Policy> {
        if let Some(policy) = self.policies.get(&p.subject).await {
            return Ok(policy);
        }
        let overrides = self.overrides.clone();
        let default = self.default_policy();
        let key = (p.kind == PrincipalKind::ApiKey).then(|| p.subject.clone());
        let org = p.org_id.to_string();
        self.policies
            .try_get_with(p.subject.clone(), async move {
                if let Some(k) = key {
                    if let Some(o) = overrides.get_override(LimitScope::ApiKey, &k).await? {
                        return Ok(o.policy(PolicySource::ApiKey));
                    }
                }
                Ok::<_, crate::store::StoreError>(
                    match overrides
                        .get_override(LimitScope::Organization, &org)
                        .await?
                    {
                        Some(o) => o.policy(PolicySource::Organization),
                        None => default,
                    },
                )
            })
            .await
            .map_err(|e| CoreError::from((*e).clone()))
    }

    /// Consumes one request of the principal's quota.
    pub async fn check(&self, p: &Principal) -> CoreResult<Verdict> {
        let policy = self.policy_for(p).await?;
        self.decide(&format!("p:{}", p.subject), &policy, true)
            .await
    }

    /// The principal's current state, without consuming.
    pub async fn peek(&self, p: &Principal) -> CoreResult<Verdict> {
        let policy = self.policy_for(p).await?;
        self.decide(&format!("p:{}", p.subject), &policy, false)
            .await
    }

    /// Consumes one request of a client address's quota (unauthenticated routes).
    pub async fn check_address(&self, address: &str) -> CoreResult<Verdict> {
        let n = self.defaults.per_address_per_minute;
        let policy = Policy::per_minute(n, n, PolicySource::ClientAddress);
        self.decide(&format!("a:{address}"), &policy, true).await
    }

    /// Consumes one request of a client address's quota on a route with its own limit
    /// (`route` names the bucket, so it does not share the login quota).
    pub async fn check_address_on(
        &self,
        route: &str,
        address: &str,
        per_minute: u32,
    ) -> CoreResult<Verdict> {
        let policy = Policy::per_minute(per_minute, per_minute, PolicySource::ClientAddress);
        self.decide(&format!("a:{route}:{address}"), &policy, true)
            .await
    }

    async fn decide(&self, bucket: &str, policy: &Policy, consume: bool) -> CoreResult<Verdict> {
        let now = self.clock.now_ms();
        match self.primary.decide(bucket, policy, now, consume).await {
            Ok(decision) => Ok(Verdict {
                decision,
                backend: self.primary.name(),
                fell_back: false,
            }),
            Err(e) => match self.failure_mode {
                FailureMode::Closed => Err(CoreError::Unavailable {
                    code: "rate_limiter_unavailable",
                    message: format!("The rate limiter's backend is unavailable ({}), and this server refuses requests it cannot count (CONEA_RATE_LIMIT_FAILURE_MODE=closed). Retry shortly.", e.0),
                }),
                FailureMode::Open => {
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                    self.log_fallback(now, &e.0);
                    Ok(Verdict {
                        decision: self.memory.decide_now(bucket, policy, now, consume),
                        backend: self.memory.name(),
                        fell_back: true,
                    })
                }
            },
        }
    }

    fn log_fallback(&self, now: EpochMs, error: &str) {
        let last = self.last_fallback_log.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60_000
            && self
                .last_fallback_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(error, "rate limiter backend unavailable; counting in memory on this replica until it returns (logged once a minute)");
        }
    }

    // ----- overrides -----

    fn validate(per_minute: u32, burst: Option<u32>) -> CoreResult<()> {
        if !(1..=MAX_LIMIT).contains(&per_minute) {
            return Err(CoreError::unprocessable(
                "invalid_limit",
                "per_minute",
                format!("per_minute must be between 1 and {MAX_LIMIT}."),
            ));
        }
        if burst.is_some_and(|b| !(1..=MAX_LIMIT).contains(&b)) {
            return Err(CoreError::unprocessable(
                "invalid_limit",
                "burst",
                format!("burst must be between 1 and {MAX_LIMIT}."),
            ));
        }
        Ok(())
    }

    /// Sets an API key's own limit: `admin`, or `keys:manage` for a key of one's organization.
    pub async fn set_key_limit(
        &self,
        by: Option<&Principal>,
        key: &str,
        per_minute: u32,
        burst: Option<u32>,
    ) -> CoreResult<LimitOverride> {
        Self::validate(per_minute, burst)?;
        let id = KeyId::parse(key).map_err(|_| CoreError::not_found("api key", key))?;
        let k = self
            .accounts
            .get_key(&id)
            .await?
            .ok_or_else(|| CoreError::not_found("api key", key))?;
        if let Some(p) = by {
            if !p.can_see_org(&k.org_id) {
                return Err(CoreError::not_found("api key", key));
            }
            if !p.has(Permission::Admin) {
                p.require(Permission::KeysManage)?;
            }
        }
        self.save(LimitScope::ApiKey, key, &k.org_id, per_minute, burst)
            .await
    }

    /// Sets an organization's limit [admin].
    pub async fn set_org_limit(
        &self,
        by: Option<&Principal>,
        org: &str,
        per_minute: u32,
        burst: Option<u32>,
    ) -> CoreResult<LimitOverride> {
        Self::validate(per_minute, burst)?;
        let id = OrgId::parse(org).map_err(|_| CoreError::not_found("organization", org))?;
        if let Some(p) = by {
            if !p.can_see_org(&id) {
                return Err(CoreError::not_found("organization", org));
            }
            p.require(Permission::Admin)?;
        }
        if self.accounts.get_org(&id).await?.is_none() {
            return Err(CoreError::not_found("organization", org));
        }
        self.save(LimitScope::Organization, org, &id, per_minute, burst)
            .await
    }

    async fn save(
        &self,
        scope: LimitScope,
        subject: &str,
        org: &OrgId,
        per_minute: u32,
        burst: Option<u32>,
    ) -> CoreResult<LimitOverride> {
        let o = LimitOverride {
            scope,
            subject_id: subject.to_owned(),
            org_id: org.clone(),
            per_minute,
            burst,
            updated_at: self.clock.now_ms(),
        };
        self.overrides.set_override(&o).await?;
        self.policies.invalidate_all();
        Ok(o)
    }

    pub async fn list_overrides(&self) -> CoreResult<Vec<LimitOverride>> {
        Ok(self.overrides.list_overrides().await?)
    }
}

impl LimitOverride {
    pub fn policy(&self, source: PolicySource) -> Policy {
        Policy::per_minute(
            self.per_minute,
            self.burst.unwrap_or(self.per_minute),
            source,
        )
    }
}
