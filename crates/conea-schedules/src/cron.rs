//! A schedule's cron expression evaluated in its IANA time zone. Parsing and matching are
//! croner's (five fields, `MON`/`JAN` names, ranges, steps, `L`, `#`; day of month and day
//! of week combine with OR as in Vixie cron); the wall clock is jiff's (the workspace's one
//! tz database), adapted here through croner's `CronDateTime` trait. A local time that a
//! daylight-saving gap skips fires at the first instant after the gap (as Vixie cron runs
//! such jobs); one that a fold repeats fires once (the earlier instant).

use conea_core::clock::EpochMs;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use std::cmp::Ordering;

/// A parsed expression and the zone it runs in.
#[derive(Debug, Clone)]
pub struct CronSpec {
    cron: Cron,
    tz: TimeZone,
}

/// An IANA time zone by name, or a message saying what is expected.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name.trim())
        .map_err(|_| format!("`{name}` is not an IANA time zone name (e.g. Asia/Tokyo, UTC)"))
}

/// Five fields (`minute hour day-of-month month day-of-week`), or a message naming the
/// problem.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "`{expr}` has {fields} fields; a cron expression has five: minute hour day-of-month month day-of-week (e.g. `0 9 * * MON`)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr.trim())
        .map_err(|e| format!("`{expr}` is not a valid cron expression: {e}"))
}

impl CronSpec {
    pub fn new(cron: Cron, tz: TimeZone) -> Self {
        CronSpec { cron, tz }
    }

    /// Parses both; the error names the bad one (`cron` or `timezone`).
    pub fn parse(expr: &str, zone: &str) -> Result<Self, (&'static str, String)> {
        let cron = parse_cron(expr).map_err(|m| ("cron", m))?;
        let tz = time_zone(zone).map_err(|m| ("timezone", m))?;
        Ok(CronSpec { cron, tz })
    }

    fn local(&self, ms: EpochMs) -> Option<Local> {
        let ts = Timestamp::from_millisecond(ms).ok()?;
        Some(Local(ts.to_zoned_datetime(self.tz.clone())))
    }

    /// The first slot strictly after `ms`.
    pub fn next_after(&self, ms: EpochMs) -> Option<EpochMs> {
        let start = self.local(ms)?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(next.0.timestamp().as_millisecond())
    }

    /// The latest slot at or before `ms`.
    pub fn latest_at_or_before(&self, ms: EpochMs) -> Option<EpochMs> {
        let start = self.local(ms)?;
        let prev = self.cron.find_previous_occurrence(&start, true).ok()?;
        Some(prev.0.timestamp().as_millisecond())
    }

    /// The next `n` slots after `ms`.
    pub fn upcoming(&self, ms: EpochMs, n: usize) -> Vec<EpochMs> {
        let mut out = Vec::with_capacity(n);
        let mut at = ms;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }

    /// How many slots lie in `[from, to)`, counting at most `cap`.
    pub fn count_between(&self, from: EpochMs, to: EpochMs, cap: u64) -> u64 {
        let mut n = 0;
        let mut at = from - 1;
        while n < cap {
            match self.next_after(at) {
                Some(s) if s < to => {
                    n += 1;
                    at = s;
                }
                _ => break,
            }
        }
        n
    }

    /// A slot as RFC 3339 with the zone's offset at that instant (`2026-06-08T09:00:00+09:00`).
    pub fn format(&self, ms: EpochMs) -> String {
        match self.local(ms) {
            Some(z) => z.0.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            None => conea_core::clock::rfc3339(ms),
        }
    }
}

/// A jiff zoned time as croner sees it.
#[derive(Debug, Clone)]
struct Local(ZonedDateTime);

fn to_jiff(c: CivilDateTime) -> Result<jiff::civil::DateTime, CronError> {
    let year = i16::try_from(c.year()).map_err(|_| CronError::InvalidDate)?;
    let small = |v: u32| i8::try_from(v).map_err(|_| CronError::InvalidDate);
    jiff::civil::DateTime::new(
        year,
        small(c.month())?,
        small(c.day())?,
        small(c.hour())?,
        small(c.minute())?,
        small(c.second())?,
        0,
    )
    .map_err(|_| CronError::InvalidDate)
}

impl CronDateTime for Local {
    fn to_civil(&self) -> CivilDateTime {
        let d = self.0.datetime();
        let part = |v: i8| u32::try_from(v).unwrap_or(0);
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(i32::from(d.year()), part(d.month()), part(d.day())),
            CivilTime::from_parts_unchecked(part(d.hour()), part(d.minute()), part(d.second())),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        let days = u32::try_from(self.0.weekday().to_sunday_zero_offset()).unwrap_or(0);
        Weekday::from_days_from_sunday(days)
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        let ambiguous = self
            .0
            .time_zone()
            .to_ambiguous_zoned_datetime(to_jiff(civil)?);
        Ok(match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } => Resolution::Single(Local(
                ambiguous
                    .unambiguous()
                    .map_err(|_| CronError::InvalidTime)?,
            )),
            AmbiguousOffset::Fold { .. } => {
                let earlier = ambiguous
                    .clone()
                    .earlier()
                    .map_err(|_| CronError::InvalidTime)?;
                let later = ambiguous.later().map_err(|_| CronError::InvalidTime)?;
                Resolution::Ambiguous(Local(earlier), Local(later))
            }
            AmbiguousOffset::Gap { .. } => Resolution::Gap,
        })
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add(SignedDuration::from_secs(seconds))
            .ok()
            .map(Local)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.timestamp().cmp(&other.0.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-06-03T01:00:00Z, a Wednesday (10:00 in Tokyo).
    const WED: EpochMs = 1_780_448_400_000;

    #[test]
    fn monday_nine_in_tokyo_is_midnight_utc_on_monday() {
        let s = CronSpec::parse("0 9 * * MON", "Asia/Tokyo").expect("valid");
        let next = s.upcoming(WED, 3);
        let shown: Vec<String> = next.iter().map(|&ms| s.format(ms)).collect();
        assert_eq!(
            shown,
            [
                "2026-06-08T09:00:00+09:00",
                "2026-06-15T09:00:00+09:00",
                "2026-06-22T09:00:00+09:00"
            ]
        );
        assert_eq!(conea_core::clock::rfc3339(next[0]), "2026-06-08T00:00:00Z");
    }

    #[test]
    fn latest_slot_at_or_before_includes_the_instant_itself() {
        let s = CronSpec::parse("0 * * * *", "UTC").expect("valid");
        assert_eq!(s.latest_at_or_before(WED), Some(WED));
        assert_eq!(s.latest_at_or_before(WED + 59 * 60_000), Some(WED));
        assert_eq!(s.next_after(WED), Some(WED + 3_600_000));
        assert_eq!(s.count_between(WED, WED + 5 * 3_600_000, 100), 5);
        assert_eq!(s.count_between(WED, WED + 5 * 3_600_000, 3), 3);
    }

    #[test]
    fn a_local_time_in_the_spring_gap_fires_when_the_gap_ends() {
        // New York skips 02:00-03:00 on 2026-03-08.
        let s = CronSpec::parse("30 2 * * *", "America/New_York").expect("valid");
        let before = 1_772_928_000_000; // 2026-03-08T00:00:00Z (7 March, 19:00 local)
        let next: Vec<String> = s.upcoming(before, 2).iter().map(|&m| s.format(m)).collect();
        assert_eq!(
            next,
            ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
        );
    }

    #[test]
    fn bad_expressions_and_zones_name_their_field() {
        for bad in [
            "0 9 * *",
            "0 9 * * MON 2026",
            "61 9 * * *",
            "0 9 * * FUNDAY",
            "",
        ] {
            assert_eq!(
                CronSpec::parse(bad, "UTC").expect_err(bad).0,
                "cron",
                "{bad}"
            );
        }
        assert_eq!(
            CronSpec::parse("0 9 * * *", "Mars/Olympus")
                .expect_err("zone")
                .0,
            "timezone"
        );
    }
}
