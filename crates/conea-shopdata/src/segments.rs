//! The RFM segments' vocabulary, shared by the `rfm_segments` report (analytics) and the
//! customer list's `segment` filter (reads): the names, the table from (recency score,
//! frequency score) to a name, and a segment as ranges of the stored customer figures.

use conea_core::clock::EpochMs;

/// The named segment of a recency and a frequency score.
pub fn segment(r: u8, f: u8) -> &'static str {
    match (r, f) {
        (4..=5, 4..=5) => "champions",
        (3..=5, 3..=5) => "loyal",
        (4..=5, 1) => "new",
        (3..=5, _) => "promising",
        (_, 3..=5) => "at_risk",
        _ => "hibernating",
    }
}

pub const SEGMENTS: [&str; 6] = [
    "champions",
    "loyal",
    "new",
    "promising",
    "at_risk",
    "hibernating",
];

/// An RFM segment as a filter: its name as given, and the ranges of the stored customer
/// figures that make it up (filled by the service from the current scores; a customer is
/// in it when any of their currencies falls in one cell).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentFilter {
    pub name: &'static str,
    pub cells: Vec<SegmentCell>,
}

/// Customers of one currency whose last order was in `(last_after, last_until]` and whose
/// order count is in `[orders_min, orders_max]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCell {
    pub currency: String,
    pub last_after: EpochMs,
    pub last_until: EpochMs,
    pub orders_min: i64,
    pub orders_max: i64,
}
