//! Local time for reports: a time zone's offsets over a range as spans the store can apply
//! to its UTC quarter-hour buckets, local day numbers, and the day/week/month grid of a
//! report.

use conea_core::clock::EpochMs;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;
/// The width of the stored buckets: every offset in use is a whole number of quarter hours.
pub const BUCKET_MS: i64 = 900_000;

/// Until `until` (exclusive, UTC ms), local time is UTC + `offset_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetSpan {
    pub until: EpochMs,
    pub offset_ms: i64,
}

/// The offsets of `tz` over `[from, to)`, in order; the last span ends at `to`.
pub fn offset_spans(tz: &TimeZone, from: EpochMs, to: EpochMs) -> Vec<OffsetSpan> {
    let offset_at = |ms: EpochMs| {
        Timestamp::from_millisecond(ms)
            .map(|t| i64::from(tz.to_offset(t).seconds()) * 1000)
            .unwrap_or(0)
    };
    let mut spans = Vec::new();
    let mut offset = offset_at(from);
    if let Ok(start) = Timestamp::from_millisecond(from) {
        for t in tz.following(start) {
            let at = t.timestamp().as_millisecond();
            if at >= to {
                break;
            }
            let next = i64::from(t.offset().seconds()) * 1000;
            if next != offset {
                spans.push(OffsetSpan {
                    until: at,
                    offset_ms: offset,
                });
                offset = next;
            }
        }
    }
    spans.push(OffsetSpan {
        until: to,
        offset_ms: offset,
    });
    spans
}

/// The civil date of a local day number (days since 1970-01-01 in local time).
pub fn date_of_day(day: i64) -> Date {
    let epoch = Date::constant(1970, 1, 1);
    epoch.checked_add(day.days()).unwrap_or(epoch)
}

/// The local day number of a civil date.
pub fn day_of_date(date: Date) -> i64 {
    let epoch = Date::constant(1970, 1, 1);
    epoch
        .until(date)
        .map(|span| i64::from(span.get_days()))
        .unwrap_or(0)
}

/// The start instant (UTC ms) of a civil date's first moment in `tz`.
pub fn start_of(tz: &TimeZone, date: Date) -> Result<EpochMs, String> {
    tz.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        .map(|t| t.as_millisecond())
        .map_err(|e| format!("{date} has no start in this time zone: {e}"))
}

/// The civil date of an instant in `tz`.
pub fn date_at(tz: &TimeZone, ms: EpochMs) -> Date {
    Timestamp::from_millisecond(ms)
        .map(|t| tz.to_datetime(t).date())
        .unwrap_or(Date::constant(1970, 1, 1))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "day" => Ok(Granularity::Day),
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            other => Err(format!("`{other}` is not one of day, week, month")),
        }
    }

    /// The first day of the bucket `date` falls in (weeks start on Monday).
    pub fn bucket_start(self, date: Date) -> Date {
        match self {
            Granularity::Day => date,
            Granularity::Week => {
                let back = i64::from(date.weekday().since(Weekday::Monday));
                date.checked_sub(back.days()).unwrap_or(date)
            }
            Granularity::Month => date.first_of_month(),
        }
    }

    fn next(self, start: Date) -> Option<Date> {
        match self {
            Granularity::Day => start.checked_add(1.day()).ok(),
            Granularity::Week => start.checked_add(1.week()).ok(),
            Granularity::Month => start.checked_add(1.month()).ok(),
        }
    }

    /// The starts of the buckets covering the local days `[first, last]`.
    pub fn grid(self, first: Date, last: Date) -> Vec<Date> {
        let mut out = Vec::new();
        let mut at = Some(self.bucket_start(first));
        while let Some(d) = at {
            if d > last {
                break;
            }
            out.push(d);
            at = self.next(d);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_the_zone_s_transitions_inside_the_range_only() {
        let tz = TimeZone::get("America/New_York").expect("tzdb");
        let from = start_of(&tz, Date::constant(2024, 1, 1)).expect("start");
        let to = start_of(&tz, Date::constant(2025, 1, 1)).expect("start");
        let spans = offset_spans(&tz, from, to);
        let offsets: Vec<i64> = spans.iter().map(|s| s.offset_ms / HOUR_MS).collect();
        assert_eq!(
            offsets,
            vec![-5, -4, -5],
            "EST, EDT from March, EST from November"
        );
        assert_eq!(spans.last().map(|s| s.until), Some(to));
        let tokyo = TimeZone::get("Asia/Tokyo").expect("tzdb");
        assert_eq!(
            offset_spans(&tokyo, from, to),
            vec![OffsetSpan {
                until: to,
                offset_ms: 9 * HOUR_MS
            }]
        );
    }

    #[test]
    fn day_numbers_round_trip_and_grids_start_on_mondays_and_firsts() {
        let d = Date::constant(2024, 2, 29);
        assert_eq!(date_of_day(day_of_date(d)), d);
        assert_eq!(day_of_date(Date::constant(1970, 1, 2)), 1);
        assert_eq!(
            Granularity::Week.grid(Date::constant(2024, 1, 3), Date::constant(2024, 1, 15)),
            vec![
                Date::constant(2024, 1, 1),
                Date::constant(2024, 1, 8),
                Date::constant(2024, 1, 15)
            ]
        );
        assert_eq!(
            Granularity::Month
                .grid(Date::constant(2024, 1, 31), Date::constant(2024, 3, 1))
                .len(),
            3
        );
        assert!(Granularity::parse("hour").is_err());
    }
}
