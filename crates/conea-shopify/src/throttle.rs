//! [`Throttles`]: the process-wide registry of every shop's rate-limit state, shared by all
//! clients and tasks (Shopify limits per app and shop, so two tasks syncing the same shop
//! share one bucket). Build one per process, keep it in the application state, and pass it
//! to every [`ShopifyClient`](crate::ShopifyClient).
//!
//! Each shop has a REST leaky bucket ([`rest`]) and a GraphQL cost bucket ([`graphql`]).
//! A request first takes a [`Reservation`], which books its share and says how long to
//! wait; the answer's headers or cost extension then correct the model; dropping the
//! reservation releases it. Time comes from the registry's [`Clock`].
//!
//! The map is bounded: past `capacity` shops, shops whose buckets have fully drained are
//! forgotten (they are equivalent to new ones), then the least recently used.

pub mod graphql;
pub mod rest;

pub use graphql::ThrottleStatus;

use crate::error::{ErrorKind, ShopifyApiError};
use conea_core::clock::EpochMs;
use conea_core::Clock;
use graphql::CostBucket;
use rest::RestBucket;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Default number of shops kept.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// REST limits of the shops' plan and the safety margin kept below the bucket's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestLimits {
    /// Requests leaked per second: 2 on standard plans (Advanced 4, Plus 20).
    pub leak_per_second: f64,
    /// Requests kept free at the top of the bucket (for other processes of the app, and
    /// for answers that come back out of order).
    pub margin: f64,
    /// The bucket size assumed until a `X-Shopify-Shop-Api-Call-Limit` header says.
    pub default_size: f64,
}

impl Default for RestLimits {
    fn default() -> Self {
        Self {
            leak_per_second: 2.0,
            margin: 4.0,
            default_size: 40.0,
        }
    }
}

/// Whole milliseconds needed to wait `secs` (rounded up; tiny float noise ignored).
pub(crate) fn ceil_ms(secs: f64) -> u64 {
    if secs.is_nan() || secs <= 0.0 {
        return 0;
    }
    let ms = (secs * 1000.0 - 1e-6).ceil();
    if ms >= u64::MAX as f64 {
        u64::MAX
    } else {
        ms as u64
    }
}

/// A snapshot of one shop's REST bucket, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestSnapshot {
    /// The modelled level now (booked requests included).
    pub level: f64,
    pub size: f64,
}

struct ShopState {
    rest: RestBucket,
    graphql: CostBucket,
    last_used: EpochMs,
}

struct Registry {
    clock: Arc<dyn Clock>,
    capacity: usize,
    shops: Mutex<HashMap<String, ShopState>>,
}

/// The process-wide throttle registry. Clones share the same state.
#[derive(Clone)]
pub struct Throttles {
    inner: Arc<Registry>,
}

impl std::fmt::Debug for Throttles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttles")
            .field("shops", &self.len())
            .field("capacity", &self.inner.capacity)
            .finish()
    }
}

impl Throttles {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(clock, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Registry {
                clock,
                capacity: capacity.max(1),
                shops: Mutex::default(),
            }),
        }
    }

    /// Shops currently tracked (export it as a gauge).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The modelled REST bucket of `shop`, if tracked.
    pub fn rest_snapshot(&self, shop: &str, limits: &RestLimits) -> Option<RestSnapshot> {
        let now = self.now();
        self.lock().get(shop).map(|s| RestSnapshot {
            level: s.rest.level_at(now, limits.leak_per_second),
            size: s.rest.size(),
        })
    }

    /// The modelled GraphQL points available to `shop` now, once an answer told them.
    pub fn graphql_available(&self, shop: &str) -> Option<f64> {
        let now = self.now();
        self.lock().get(shop)?.graphql.available_at(now)
    }

    fn now(&self) -> EpochMs {
        self.inner.clock.now_ms()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, ShopState>> {
        self.inner
            .shops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn with_shop<T>(
        &self,
        shop: &str,
        limits: &RestLimits,
        f: impl FnOnce(&mut ShopState, EpochMs) -> T,
    ) -> T {
        let now = self.now();
        let mut shops = self.lock();
        if !shops.contains_key(shop) && shops.len() >= self.inner.capacity {
            evict(&mut shops, now, limits, self.inner.capacity);
        }
        let state = shops.entry(shop.to_owned()).or_insert_with(|| ShopState {
            rest: RestBucket::new(now, limits.default_size),
            graphql: CostBucket::new(now),
            last_used: now,
        });
        state.last_used = now;
        f(state, now)
    }

    /// Books one REST request for `shop`.
    pub(crate) fn reserve_rest(&self, shop: &str, limits: RestLimits) -> Reservation {
        let wait = self.with_shop(shop, &limits, |s, now| s.rest.reserve(now, &limits));
        Reservation {
            throttles: self.clone(),
            shop: shop.to_owned(),
            lane: Lane::Rest(limits),
            wait,
        }
    }

    /// Books one GraphQL query of `cost` points for `shop`.
    pub(crate) fn reserve_graphql(
        &self,
        shop: &str,
        cost: f64,
        limits: RestLimits,
    ) -> Result<Reservation, ShopifyApiError> {
        let wait = self
            .with_shop(shop, &limits, |s, now| s.graphql.reserve(now, cost))
            .map_err(|e| {
                ShopifyApiError::new(
                    ErrorKind::Throttled,
                    format!(
                        "the query's estimated cost {cost} exceeds the shop's maximum of {} points",
                        e.maximum
                    ),
                )
            })?;
        Ok(Reservation {
            throttles: self.clone(),
            shop: shop.to_owned(),
            lane: Lane::Graphql { cost, limits },
            wait,
        })
    }
}

/// Frees room for one more shop: drops idle shops, then the least recently used ones.
fn evict(shops: &mut HashMap<String, ShopState>, now: EpochMs, limits: &RestLimits, cap: usize) {
    shops.retain(|_, s| !(s.rest.is_idle(now, limits.leak_per_second) && s.graphql.is_idle(now)));
    while shops.len() >= cap {
        let oldest = shops
            .iter()
            .min_by_key(|(_, s)| s.last_used)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(key) => shops.remove(&key),
            None => break,
        };
    }
}

#[derive(Debug, Clone, Copy)]
enum Lane {
    Rest(RestLimits),
    Graphql { cost: f64, limits: RestLimits },
}

/// One booked request. Wait [`Reservation::wait`] before sending; report what the answer
/// said; drop it when done (that releases the booking).
pub(crate) struct Reservation {
    throttles: Throttles,
    shop: String,
    lane: Lane,
    pub(crate) wait: Duration,
}

impl Reservation {
    fn update(&self, f: impl FnOnce(&mut ShopState, EpochMs)) {
        let limits = match self.lane {
            Lane::Rest(l) | Lane::Graphql { limits: l, .. } => l,
        };
        self.throttles.with_shop(&self.shop, &limits, f);
    }

    /// A REST answer's `X-Shopify-Shop-Api-Call-Limit: used/size`.
    pub(crate) fn observe_rest(&self, used: f64, size: f64) {
        if let Lane::Rest(limits) = self.lane {
            self.update(|s, now| s.rest.observe(now, used, size, limits.leak_per_second));
        }
    }

    /// A GraphQL answer's `extensions.cost.throttleStatus`.
    pub(crate) fn observe_graphql(&self, status: ThrottleStatus) {
        if let Lane::Graphql { cost, .. } = self.lane {
            self.update(|s, now| s.graphql.observe(now, status, cost));
        }
    }

    /// A 429: nothing goes to this shop's API (this lane) for `d`.
    pub(crate) fn block_for(&self, d: Duration) {
        let lane = self.lane;
        self.update(|s, now| {
            let until = now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            match lane {
                Lane::Rest(_) => s.rest.block_until(until),
                Lane::Graphql { .. } => s.graphql.block_until(until),
            }
        });
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let lane = self.lane;
        self.update(|s, _| match lane {
            Lane::Rest(_) => s.rest.release(),
            Lane::Graphql { cost, .. } => s.graphql.release(cost),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::FakeClock;

    #[test]
    fn shops_have_separate_buckets_and_clones_share_them() {
        let clock = FakeClock::new(0);
        let t = Throttles::new(Arc::new(clock.clone()));
        let t2 = t.clone();
        let limits = RestLimits::default();
        let held: Vec<_> = (0..36)
            .map(|_| t.reserve_rest("a.myshopify.com", limits))
            .collect();
        assert!(held.iter().all(|r| r.wait.is_zero()));
        assert_eq!(
            t2.reserve_rest("a.myshopify.com", limits).wait,
            Duration::from_millis(500)
        );
        assert!(t2.reserve_rest("b.myshopify.com", limits).wait.is_zero());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn the_registry_is_bounded_and_forgets_idle_shops_first() {
        let clock = FakeClock::new(0);
        let t = Throttles::with_capacity(Arc::new(clock.clone()), 2);
        let limits = RestLimits::default();
        drop(t.reserve_rest("a.myshopify.com", limits));
        clock.advance(Duration::from_secs(1));
        let busy = t.reserve_rest("b.myshopify.com", limits);
        drop(t.reserve_rest("c.myshopify.com", limits));
        assert_eq!(t.len(), 2);
        assert!(t.rest_snapshot("a.myshopify.com", &limits).is_none());
        assert!(t.rest_snapshot("b.myshopify.com", &limits).is_some());
        drop(busy);
    }

    #[test]
    fn ceil_ms_rounds_up_without_float_noise() {
        assert_eq!(ceil_ms(0.5), 500);
        assert_eq!(ceil_ms(3.04), 3_040);
        assert_eq!(ceil_ms(0.0001), 1);
        assert_eq!(ceil_ms(-1.0), 0);
        assert_eq!(ceil_ms(f64::NAN), 0);
    }
}
