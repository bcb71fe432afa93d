//! Business hours in a time zone: "is it open at t?" and "when does it next open?".
//!
//! The time zone database is bundled into the binary (jiff's `tzdb-bundle-always`), so the
//! answer is the same on a machine without `/usr/share/zoneinfo`. The window is one
//! interval per enabled weekday, `start <= local time < end`, with `start < end` (no
//! overnight windows). Local times that fall into a DST gap move forward past the gap (the
//! "compatible" rule), so an opening at 02:30 on a spring-forward night opens at 03:30.

use conea_core::clock::EpochMs;
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use std::fmt;

/// Days are indexed Monday = 0 .. Sunday = 6.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A validated business-hours window. Build it with [`BusinessHours::new`].
#[derive(Clone)]
pub struct BusinessHours {
    zone_name: String,
    tz: TimeZone,
    days: [bool; 7],
    start: Time,
    end: Time,
}

impl fmt::Debug for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusinessHours")
            .field("timezone", &self.zone_name)
            .field("days", &self.day_names())
            .field("start", &self.start)
            .field("end", &self.end)
            .finish()
    }
}

impl PartialEq for BusinessHours {
    fn eq(&self, other: &Self) -> bool {
        self.zone_name == other.zone_name
            && self.days == other.days
            && self.start == other.start
            && self.end == other.end
    }
}

/// Why a business-hours window is invalid; each names the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoursProblem {
    Timezone(String),
    Day { index: usize, message: String },
    NoDays,
    Start(String),
    End(String),
    StartNotBeforeEnd,
}

impl BusinessHours {
    /// Validates and builds a window: an IANA zone name, day names (`mon`..`sun`), and
    /// `HH:MM` start and end. Returns every problem found.
    pub fn new(
        timezone: &str,
        days: &[String],
        start: &str,
        end: &str,
    ) -> Result<Self, Vec<HoursProblem>> {
        let mut problems = Vec::new();
        let tz = match TimeZone::get(timezone.trim()) {
            Ok(tz) => Some(tz),
            Err(_) => {
                problems.push(HoursProblem::Timezone(format!(
                    "unknown time zone `{timezone}` (use an IANA name such as Asia/Tokyo)"
                )));
                None
            }
        };
        let mut set = [false; 7];
        for (index, day) in days.iter().enumerate() {
            match parse_day(day) {
                Some(i) => set[i] = true,
                None => problems.push(HoursProblem::Day {
                    index,
                    message: format!("unknown day `{day}` (use mon, tue, wed, thu, fri, sat, sun)"),
                }),
            }
        }
        if days.is_empty() {
            problems.push(HoursProblem::NoDays);
        }
        let start_t = parse_hhmm(start).map_err(HoursProblem::Start);
        let end_t = parse_hhmm(end).map_err(HoursProblem::End);
        if let (Ok(s), Ok(e)) = (&start_t, &end_t) {
            if s >= e {
                problems.push(HoursProblem::StartNotBeforeEnd);
            }
        }
        let start_t = start_t.map_err(|p| problems.push(p)).ok();
        let end_t = end_t.map_err(|p| problems.push(p)).ok();
        match (tz, start_t, end_t) {
            (Some(tz), Some(start), Some(end)) if problems.is_empty() => Ok(Self {
                zone_name: timezone.trim().to_string(),
                tz,
                days: set,
                start,
                end,
            }),
            _ => Err(problems),
        }
    }

    /// The default window of the operations guide: Asia/Tokyo, Monday to Friday, 09:00-18:00.
    pub fn tokyo_office() -> Self {
        let days: Vec<String> = DAY_NAMES[..5].iter().map(|d| d.to_string()).collect();
        match Self::new("Asia/Tokyo", &days, "09:00", "18:00") {
            Ok(hours) => hours,
            // The bundled database always has Asia/Tokyo; fall back to a fixed +09:00.
            Err(_) => Self {
                zone_name: "Asia/Tokyo".into(),
                tz: TimeZone::fixed(jiff::tz::offset(9)),
                days: [true, true, true, true, true, false, false],
                start: jiff::civil::time(9, 0, 0, 0),
                end: jiff::civil::time(18, 0, 0, 0),
            },
        }
    }

    pub fn timezone(&self) -> &str {
        &self.zone_name
    }

    pub fn day_names(&self) -> Vec<&'static str> {
        (0..7)
            .filter(|i| self.days[*i])
            .map(|i| DAY_NAMES[i])
            .collect()
    }

    /// Opening and closing local times as `HH:MM`.
    pub fn window_text(&self) -> (String, String) {
        let f = |t: Time| format!("{:02}:{:02}", t.hour(), t.minute());
        (f(self.start), f(self.end))
    }

    /// Whether `at` falls inside business hours.
    pub fn is_open(&self, at: EpochMs) -> bool {
        let Ok(ts) = Timestamp::from_millisecond(at) else {
            return false;
        };
        let date = self.tz.to_datetime(ts).date();
        match self.window(date) {
            Some((open, close)) => open <= at && at < close,
            None => false,
        }
    }

    /// `at` itself when open, otherwise the next opening instant. `None` only for instants
    /// outside the supported calendar range.
    pub fn next_opening(&self, at: EpochMs) -> Option<EpochMs> {
        let ts = Timestamp::from_millisecond(at).ok()?;
        let mut date = self.tz.to_datetime(ts).date();
        // At most one week ahead, plus one day for a window already closed today.
        for _ in 0..8 {
            if let Some((open, close)) = self.window(date) {
                if at < close {
                    return Some(open.max(at));
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// Opening and closing instants of `date`, when it is a business day.
    fn window(&self, date: Date) -> Option<(EpochMs, EpochMs)> {
        if !self.days[weekday_index(date.weekday())] {
            return None;
        }
        let open = self.instant(date.to_datetime(self.start))?;
        let close = self.instant(date.to_datetime(self.end))?;
        Some((open, close))
    }

    fn instant(&self, local: DateTime) -> Option<EpochMs> {
        self.tz
            .to_ambiguous_timestamp(local)
            .compatible()
            .ok()
            .map(|t| t.as_millisecond())
    }
}

fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

fn parse_day(text: &str) -> Option<usize> {
    let t = text.trim().to_ascii_lowercase();
    DAY_NAMES.iter().position(|d| *d == t)
}

fn parse_hhmm(text: &str) -> Result<Time, String> {
    let bad = || format!("`{text}` is not a time of day (use HH:MM, e.g. 09:00)");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::clock::parse_rfc3339;

    fn ms(text: &str) -> EpochMs {
        parse_rfc3339(text).expect("test timestamp")
    }

    fn weekdays() -> Vec<String> {
        ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    fn hours(tz: &str, days: &[String], start: &str, end: &str) -> BusinessHours {
        BusinessHours::new(tz, days, start, end).expect("valid hours")
    }

    // 2026-06-03 is a Wednesday. Tokyo is UTC+9 all year.
    #[test]
    fn before_opening_is_closed_and_opens_at_nine_local() {
        let h = BusinessHours::tokyo_office();
        let at = ms("2026-06-02T23:30:00Z"); // Wed 08:30 JST
        assert!(!h.is_open(at));
        assert_eq!(h.next_opening(at), Some(ms("2026-06-03T00:00:00Z")));
    }

    #[test]
    fn during_hours_is_open_and_next_opening_is_now() {
        let h = BusinessHours::tokyo_office();
        assert_eq!(h.window_text(), ("09:00".to_string(), "18:00".to_string()));
        let at = ms("2026-06-03T03:00:00Z"); // Wed 12:00 JST
        assert!(h.is_open(at));
        assert_eq!(h.next_opening(at), Some(at));
    }

    #[test]
    fn closing_time_itself_is_closed_and_opens_next_morning() {
        let h = BusinessHours::tokyo_office();
        let at = ms("2026-06-03T09:00:00Z"); // Wed 18:00 JST
        assert!(!h.is_open(at));
        assert_eq!(h.next_opening(at), Some(ms("2026-06-04T00:00:00Z")));
    }

    #[test]
    fn after_hours_on_friday_opens_on_monday() {
        let h = BusinessHours::tokyo_office();
        let at = ms("2026-06-05T12:00:00Z"); // Fri 21:00 JST
        assert!(!h.is_open(at));
        assert_eq!(h.next_opening(at), Some(ms("2026-06-08T00:00:00Z"))); // Mon 09:00 JST
    }

    #[test]
    fn weekend_is_closed_all_day() {
        let h = BusinessHours::tokyo_office();
        let sat_noon = ms("2026-06-06T03:00:00Z");
        assert!(!h.is_open(sat_noon));
        assert_eq!(h.next_opening(sat_noon), Some(ms("2026-06-08T00:00:00Z")));
    }

    #[test]
    fn another_timezone_uses_its_own_local_time() {
        let h = hours("Europe/London", &weekdays(), "09:00", "17:00");
        // Wed 2026-06-03 10:00 UTC = 11:00 BST: open in London; 19:00 JST: closed in Tokyo.
        let at = ms("2026-06-03T10:00:00Z");
        assert!(h.is_open(at));
        assert!(!BusinessHours::tokyo_office().is_open(at));
        // 16:30 UTC = 17:30 BST: closed.
        assert!(!h.is_open(ms("2026-06-03T16:30:00Z")));
    }

    #[test]
    fn opening_moves_with_daylight_saving_time() {
        // New York: DST starts Sunday 2026-03-08. Friday opens 09:00 EST (14:00Z),
        // Monday opens 09:00 EDT (13:00Z).
        let h = hours("America/New_York", &weekdays(), "09:00", "17:00");
        assert_eq!(
            h.next_opening(ms("2026-03-06T06:00:00Z")),
            Some(ms("2026-03-06T14:00:00Z"))
        );
        assert_eq!(
            h.next_opening(ms("2026-03-07T12:00:00Z")),
            Some(ms("2026-03-09T13:00:00Z"))
        );
        assert!(h.is_open(ms("2026-03-09T13:00:00Z")));
        assert!(!h.is_open(ms("2026-03-09T12:59:59Z")));
    }

    #[test]
    fn opening_inside_a_dst_gap_moves_past_the_gap() {
        // 02:30 does not exist in New York on 2026-03-08 (02:00 -> 03:00); it opens at 03:30 EDT.
        let days = vec!["sun".to_string()];
        let h = hours("America/New_York", &days, "02:30", "05:00");
        assert_eq!(
            h.next_opening(ms("2026-03-08T05:00:00Z")), // 00:00 EST
            Some(ms("2026-03-08T07:30:00Z"))
        );
    }

    #[test]
    fn invalid_windows_name_every_problem() {
        let days = vec!["mon".to_string(), "funday".to_string()];
        let problems = BusinessHours::new("Mars/Olympus", &days, "18:00", "09:00").unwrap_err();
        assert!(problems
            .iter()
            .any(|p| matches!(p, HoursProblem::Timezone(m) if m.contains("Mars/Olympus"))));
        assert!(problems.iter().any(
            |p| matches!(p, HoursProblem::Day { index: 1, message } if message.contains("funday"))
        ));
        assert!(problems.contains(&HoursProblem::StartNotBeforeEnd));
    }

    #[test]
    fn malformed_times_and_empty_days_are_rejected() {
        let problems = BusinessHours::new("Asia/Tokyo", &[], "9am", "25:00").unwrap_err();
        assert!(problems.contains(&HoursProblem::NoDays));
        assert!(problems
            .iter()
            .any(|p| matches!(p, HoursProblem::Start(m) if m.contains("9am"))));
        assert!(problems
            .iter()
            .any(|p| matches!(p, HoursProblem::End(m) if m.contains("25:00"))));
    }
}
