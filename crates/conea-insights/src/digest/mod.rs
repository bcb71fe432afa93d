//! The digest's statistics: anomalies found in the daily figures, as a pure function (no
//! clock, no store), so the schedules' digest and its tests see the same rules.
//!
//! - A day is anomalous when its revenue or its order count falls outside the robust band
//!   `median ± k · MAD` of the same weekday over the previous weeks (MAD scaled by 1.4826,
//!   so it estimates a standard deviation for normal data). Robust: one earlier outlier
//!   (a sale day) does not widen the band. With fewer than `min_history` same-weekday days
//!   there is no band and no verdict. A MAD of zero (identical history) is floored at
//!   `mad_floor` of the median, so a flat history does not flag every cent of change.
//! - A product's sales stopped when it sold on at least `min_active_days` of the history
//!   days and on none of the period's days.

pub mod report;
pub mod stats;

pub use report::{Digest, DigestRequest, DigestService, DigestSettings, Period};
pub use stats::{anomalies, Anomalies, Band, DayAnomaly, DayFigures, Rules, StoppedProduct};
