//! Shopify's deprecation warnings recorded on the shop: every client a job or the service
//! opens for a connected shop carries a [`Recorder`], which writes the shop's latest
//! `X-Shopify-API-Deprecated-Reason` to the store — once per new notice, and again at most
//! every [`REWRITE_AFTER_MS`] while Shopify keeps sending it (a sync makes hundreds of calls:
//! one write, not hundreds). The shop's status, `/health` and `conea diagnose` read it.

use super::store::{DeprecationNotice, ShopifyStore};
use crate::deprecation::{Deprecation, DeprecationObserver};
use conea_core::clock::{Clock, EpochMs};
use conea_core::ids::ShopId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A notice seen again is written again (its `seen_at` moved on) after this long.
pub const REWRITE_AFTER_MS: i64 = 60 * 60 * 1000;
/// Shops remembered by the process (the oldest are forgotten past it: written again).
const MAX_REMEMBERED: usize = 10_000;

/// What the process last wrote per shop: (reason, endpoint, version, when).
#[derive(Default)]
pub struct Written {
    by_shop: Mutex<HashMap<ShopId, (String, String, String, EpochMs)>>,
}

impl Written {
    /// Whether `notice` needs writing for `shop` at `now`; remembers it when so.
    fn claim(&self, shop: &ShopId, n: &Deprecation, now: EpochMs) -> bool {
        let mut map = self.by_shop.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = map
            .get(shop)
            .is_some_and(|(reason, endpoint, version, at)| {
                *reason == n.reason
                    && *endpoint == n.endpoint
                    && *version == n.api_version
                    && now - at < REWRITE_AFTER_MS
            });
        if fresh {
            return false;
        }
        if map.len() >= MAX_REMEMBERED {
            map.clear();
        }
        map.insert(
            shop.clone(),
            (
                n.reason.clone(),
                n.endpoint.clone(),
                n.api_version.clone(),
                now,
            ),
        );
        true
    }

    /// Forgets the shop (its write failed: the next notice tries again).
    fn forget(&self, shop: &ShopId) {
        self.by_shop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(shop);
    }
}

/// Records one shop's deprecation notices in the store.
pub struct Recorder {
    pub store: Arc<dyn ShopifyStore>,
    pub shop_id: ShopId,
    pub clock: Arc<dyn Clock>,
    pub written: Arc<Written>,
}

#[async_trait::async_trait]
impl DeprecationObserver for Recorder {
    async fn deprecated(&self, n: Deprecation) {
        let now = self.clock.now_ms();
        if !self.written.claim(&self.shop_id, &n, now) {
            return;
        }
        let notice = DeprecationNotice {
            reason: n.reason,
            endpoint: n.endpoint,
            api_version: n.api_version,
            seen_at: now,
        };
        if let Err(e) = self.store.record_deprecation(&self.shop_id, &notice).await {
            self.written.forget(&self.shop_id);
            tracing::warn!(shop = %n.shop, error = %e, "could not record Shopify's deprecation notice");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(reason: &str) -> Deprecation {
        Deprecation {
            shop: "a.myshopify.com".into(),
            api_version: "2025-01".into(),
            reason: reason.into(),
            endpoint: "/admin/api/2025-01/orders.json".into(),
        }
    }

    #[test]
    fn a_notice_is_written_once_then_again_only_when_it_changes_or_an_hour_passed() {
        let w = Written::default();
        let shop = ShopId::generate();
        assert!(w.claim(&shop, &notice("r1"), 0));
        assert!(!w.claim(&shop, &notice("r1"), 1_000));
        assert!(w.claim(&shop, &notice("r2"), 2_000), "another reason");
        assert!(!w.claim(&shop, &notice("r2"), 2_000 + REWRITE_AFTER_MS - 1));
        assert!(w.claim(&shop, &notice("r2"), 2_000 + REWRITE_AFTER_MS));
        w.forget(&shop);
        assert!(w.claim(&shop, &notice("r2"), 2_000 + REWRITE_AFTER_MS));
    }
}
