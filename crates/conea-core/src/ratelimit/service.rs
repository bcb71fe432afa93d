//! Rate-limit decisions for principals and client addresses: which policy applies
//! (API key override, else organization override, else the configured default), which
//! backend decides (Redis when configured, else memory), and what happens when the backend
//! fails (`open`: decide in memory and count the fallback; `closed`: refuse with 503).
//!
//! Overrides are few (one row per key or organization an operator changed), so each
//! replica holds all of them in one snapshot, read again at most every [`POLICY_TTL`] by
//! the first request that finds it stale; a change made through this replica drops the
//! snapshot at once. The request path is two hash lookups, no cache bookkeeping.

use super::memory::MemoryLimiter;
use super::{Decision, Limiter, LimiterBackend, Policy, PolicySource};
use crate::clock::{Clock, EpochMs};
use crate::error::ErrorCode;
use crate::error::{CoreError, CoreResult};
use crate::ids::{KeyId, OrgId};
use crate::permissions::Permission;
use crate::principal::{Principal, PrincipalKind};
use crate::store::{AccountsStore, LimitOverride, LimitScope, RateLimitStore};
use arc_swap::ArcSwapOption;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a replica keeps the overrides before reading them again.
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
    pub backend: LimiterBackend,
    pub fell_back: bool,
}

/// Every override, as read at one moment.
struct Overrides {
    keys: HashMap<String, Policy>,
    orgs: HashMap<String, Policy>,
    fresh_until: Instant,
}

impl Overrides {
    fn read(rows: Vec<LimitOverride>) -> Self {
        let mut keys = HashMap::new();
        let mut orgs = HashMap::new();
        for o in rows {
            match o.scope {
                LimitScope::ApiKey => {
                    keys.insert(o.subject_id.clone(), o.policy(PolicySource::ApiKey))
                }
                LimitScope::Organization => {
                    orgs.insert(o.subject_id.clone(), o.policy(PolicySource::Organization))
                }
            };
        }
        Overrides {
            keys,
            orgs,
            fresh_until: Instant::now() + POLICY_TTL,
        }
    }

    fn policy_for(&self, p: &Principal, default: Policy) -> Policy {
        let own = match p.kind {
            PrincipalKind::ApiKey => self.keys.get(&p.subject),
            _ => None,
        };
        own.or_else(|| self.orgs.get(p.org_id.as_str()))
            .copied()
            .unwrap_or(default)
    }
}

/// An organization's rate limits as [`RateLimitService::limits_of`] reads them.
#[derive(Debug, Clone)]
pub struct OrgLimits {
    /// `source` says whether it is the organization's override or the default.
    pub org: Policy,
    /// The overrides of the organization's keys.
    pub keys: Vec<LimitOverride>,
}

pub struct RateLimitService {
    overrides: Arc<dyn RateLimitStore>,
    accounts: Arc<dyn AccountsStore>,
    clock: Arc<dyn Clock>,
    defaults: Defaults,
    /// Redis when configured; None: the in-process limiter decides.
    primary: Option<Arc<dyn Limiter>>,
    memory: Arc<MemoryLimiter>,
    failure_mode: FailureMode,
    policies: ArcSwapOption<Overrides>,
    /// One reader of the overrides at a time.
    reading: tokio::sync::Mutex<()>,
    fallbacks: AtomicU64,
    last_fallback_log: AtomicI64,
}

impl RateLimitService {
    pub fn new(
        overrides: Arc<dyn RateLimitStore>,
        accounts: Arc<dyn AccountsStore>,
        clock: Arc<dyn Clock>,
        defaults: Defaults,
        primary: Option<Arc<dyn Limiter>>,
        memory: Arc<MemoryLimiter>,
        failure_mode: FailureMode,
    ) -> Self {
        Self {
            overrides,
            accounts,
            clock,
            defaults,
            primary,
            memory,
            failure_mode,
            policies: ArcSwapOption::empty(),
            reading: tokio::sync::Mutex::new(()),
            fallbacks: AtomicU64::new(0),
            last_fallback_log: AtomicI64::new(i64::MIN),
        }
    }

    pub fn backend(&self) -> LimiterBackend {
        self.primary
            .as_ref()
            .map_or(self.memory.backend(), |p| p.backend())
    }

    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Buckets in the in-process limiter.
    pub fn memory_buckets(&self) -> u64 {
        self.memory.len()
    }

    /// Overrides held on this replica (0 before the first authenticated request).
    pub fn overrides_held(&self) -> u64 {
        self.policies
            .load()
            .as_ref()
            .map_or(0, |o| (o.keys.len() + o.orgs.len()) as u64)
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

    /// The policy that applies to a principal (overrides read at most [`POLICY_TTL`] ago).
    pub async fn policy_for(&self, p: &Principal) -> CoreResult<Policy> {
        if let Some(o) = self.policies.load().as_ref() {
            if Instant::now() < o.fresh_until {
                return Ok(o.policy_for(p, self.default_policy()));
            }
        }
        let o = self.read_overrides().await?;
        Ok(o.policy_for(p, self.default_policy()))
    }

    /// What an organization is granted: its override, else the default.
    async fn org_policy(&self, org: &OrgId) -> CoreResult<Policy> {
        let o = self.read_overrides().await?;
        Ok(o.orgs
            .get(org.as_str())
            .copied()
            .unwrap_or_else(|| self.default_policy()))
    }

    /// Reads the overrides again (one reader; the others wait for its snapshot).
    async fn read_overrides(&self) -> CoreResult<Arc<Overrides>> {
        let _one = self.reading.lock().await;
        if let Some(o) = self.policies.load_full() {
            if Instant::now() < o.fresh_until {
                return Ok(o);
            }
        }
        let o = Arc::new(Overrides::read(self.overrides.list_overrides().await?));
        self.policies.store(Some(o.clone()));
        Ok(o)
    }

    /// The principal's current state, without consuming.
    pub async fn peek(&self, p: &Principal) -> CoreResult<Verdict> {
        match self.decide_in_process(p, false, Instant::now()) {
            Some(v) => Ok(v),
            None => self.decide_principal(p, false).await,
        }
    }

    /// The decision for a principal by the way that may need I/O: the overrides read again
    /// when stale, Redis when configured. [`Self::decide_in_process`] is tried first.
    pub async fn decide_principal(&self, p: &Principal, consume: bool) -> CoreResult<Verdict> {
        let policy = self.policy_for(p).await?;
        self.decide(principal_bucket(p), &policy, consume).await
    }

    /// The decision for a principal when it needs no I/O: the in-process limiter decides
    /// (no Redis configured) and the overrides were read less than [`POLICY_TTL`] ago.
    /// None: call [`Self::decide_principal`]. This is the embedded default's whole request
    /// path; the HTTP layer calls it first so that it builds no future for it. `at` is the
    /// caller's reading of the monotonic clock (the overrides' freshness is checked against
    /// it; the HTTP layer times the decision from it, so it reads the clock once for both).
    pub fn decide_in_process(&self, p: &Principal, consume: bool, at: Instant) -> Option<Verdict> {
        if self.primary.is_some() {
            return None;
        }
        let held = self.policies.load();
        let overrides = held.as_ref().filter(|o| at < o.fresh_until)?;
        let policy = overrides.policy_for(p, self.default_policy());
        let now = self.clock.now_ms();
        Some(Verdict {
            decision: self
                .memory
                .decide_now(principal_bucket(p), &policy, now, consume),
            backend: self.memory.backend(),
            fell_back: false,
        })
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
        let Some(primary) = &self.primary else {
            return Ok(Verdict {
                decision: self.memory.decide_now(bucket, policy, now, consume),
                backend: self.memory.backend(),
                fell_back: false,
            });
        };
        match primary.decide(bucket, policy, now, consume).await {
            Ok(decision) => Ok(Verdict {
                decision,
                backend: primary.backend(),
                fell_back: false,
            }),
            Err(e) => match self.failure_mode {
                FailureMode::Closed => Err(CoreError::Unavailable {
                    code: ErrorCode::RateLimiterUnavailable,
                    message: format!("The rate limiter's backend is unavailable ({}), and this server refuses requests it cannot count (CONEA_RATE_LIMIT_FAILURE_MODE=closed). Retry shortly.", e.0),
                }),
                FailureMode::Open => {
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                    self.log_fallback(now, &e.0);
                    Ok(Verdict {
                        decision: self.memory.decide_now(bucket, policy, now, consume),
                        backend: self.memory.backend(),
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
                ErrorCode::InvalidLimit,
                "per_minute",
                format!("per_minute must be between 1 and {MAX_LIMIT}."),
            ));
        }
        if burst.is_some_and(|b| !(1..=MAX_LIMIT).contains(&b)) {
            return Err(CoreError::unprocessable(
                ErrorCode::InvalidLimit,
                "burst",
                format!("burst must be between 1 and {MAX_LIMIT}."),
            ));
        }
        Ok(())
    }

    /// Sets an API key's own limit: `admin`, or `keys:manage` for a key of one's organization
    /// whose permissions are a subset of the caller's, up to the organization's limit.
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
                // Only keys no stronger than the caller, and never above what the
                // organization is granted (its override, else the default).
                p.require_all(k.permissions)?;
                let ceiling = self.org_policy(&k.org_id).await?;
                if per_minute > ceiling.limit || burst.unwrap_or(per_minute) > ceiling.burst {
                    p.require(Permission::Admin)?;
                }
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
        self.policies.store(None);
        Ok(o)
    }

    /// The caller's organization's limit (its override, else the default) and its keys'
    /// overrides [`keys:manage` or `admin`: those who may set some of them].
    pub async fn limits_of(&self, by: &Principal) -> CoreResult<OrgLimits> {
        if !by.has(Permission::Admin) {
            by.require(Permission::KeysManage)?;
        }
        let org = self.org_policy(&by.org_id).await?;
        let keys = self
            .overrides
            .list_overrides()
            .await?
            .into_iter()
            .filter(|o| o.scope == LimitScope::ApiKey && o.org_id == by.org_id)
            .collect();
        Ok(OrgLimits { org, keys })
    }

    pub async fn list_overrides(&self) -> CoreResult<Vec<LimitOverride>> {
        Ok(self.overrides.list_overrides().await?)
    }
}

/// A principal's bucket is its subject, a prefixed id (`usr_…`, `key_…`) that no client
/// address bucket (`a:…`) can equal; used as is, so a decision makes no name.
fn principal_bucket(p: &Principal) -> &str {
    &p.subject
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
