//! The fake's own rate-limit accounting, on the shared fake clock: a REST leaky bucket and
//! a GraphQL cost bucket, written independently of the client's model.

use conea_core::clock::EpochMs;

/// REST: `size` requests, leaking `leak_per_s`.
#[derive(Debug)]
pub struct LeakyBucket {
    pub size: f64,
    pub leak_per_s: f64,
    level: f64,
    at: EpochMs,
    /// The highest level ever reached.
    pub max_fill: f64,
}

impl LeakyBucket {
    pub fn new(size: f64, leak_per_s: f64, now: EpochMs) -> Self {
        Self {
            size,
            leak_per_s,
            level: 0.0,
            at: now,
            max_fill: 0.0,
        }
    }

    pub fn level(&mut self, now: EpochMs) -> f64 {
        let elapsed = (now - self.at) as f64 / 1000.0;
        self.level = (self.level - elapsed * self.leak_per_s).max(0.0);
        self.at = now;
        self.level
    }

    /// Pours one request if it fits.
    pub fn try_pour(&mut self, now: EpochMs) -> bool {
        if self.level(now) + 1.0 > self.size {
            return false;
        }
        self.level += 1.0;
        self.max_fill = self.max_fill.max(self.level);
        true
    }

    /// Another app of the same shop used it up to `level` (not counted in `max_fill`).
    pub fn set_level(&mut self, now: EpochMs, level: f64) {
        self.level(now);
        self.level = level;
    }

    /// `used/size` as Shopify's header writes it.
    pub fn header(&mut self, now: EpochMs) -> String {
        format!("{}/{}", self.level(now).ceil(), self.size)
    }
}

/// GraphQL: `max` points, restored at `restore_per_s`.
#[derive(Debug)]
pub struct CostBucket {
    pub max: f64,
    pub restore_per_s: f64,
    available: f64,
    at: EpochMs,
}

impl CostBucket {
    pub fn new(max: f64, restore_per_s: f64, now: EpochMs) -> Self {
        Self {
            max,
            restore_per_s,
            available: max,
            at: now,
        }
    }

    pub fn available(&mut self, now: EpochMs) -> f64 {
        let elapsed = (now - self.at) as f64 / 1000.0;
        self.available = (self.available + elapsed * self.restore_per_s).min(self.max);
        self.at = now;
        self.available
    }

    pub fn set_available(&mut self, now: EpochMs, available: f64) {
        self.available(now);
        self.available = available;
    }

    /// Charges `requested`, refunds down to `actual`; `false` (nothing charged) when
    /// `requested` is more than is available.
    pub fn try_charge(&mut self, now: EpochMs, requested: f64, actual: f64) -> bool {
        if requested > self.available(now) {
            return false;
        }
        self.available -= actual;
        true
    }
}
