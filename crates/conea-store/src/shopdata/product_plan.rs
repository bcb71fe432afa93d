//! How `product_performance` reads a range: from the sums per UTC year and month that the
//! triggers of migration 0027 keep (`product_sales_years`, `product_sales_months`) and
//! from the line items of the orders at the range's ends. Sums are additive and orders are
//! disjoint in time, so a part can be added or taken out (sign −1) and distinct-order counts
//! stay exact: each end of the range is corrected from the nearest year or month boundary,
//! with whatever lies between the boundary and the end added or taken out.
//!
//! A year in Asia/Tokyo is the sums of UTC 2025, plus the line items of the nine hours of
//! 2024 inside the range, less those of the nine hours of 2025 after it. Of the candidate
//! plans (line items alone, months, a year) the cheapest by a rough cost is read.

use conea_core::clock::EpochMs;

/// A signed part of a plan: the orders created in `[from, to)` (epoch ms, read from the line
/// items), or the sums of the UTC months or years `[from, to)`; added (`sign` 1) or taken
/// out (-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) from: i64,
    pub(super) to: i64,
    pub(super) sign: i64,
}

impl Span {
    const NONE: Span = Span {
        from: 0,
        to: 0,
        sign: 1,
    };

    fn len(&self) -> i64 {
        self.to - self.from
    }

    fn times(self, sign: i64) -> Span {
        Span {
            sign: self.sign * sign,
            ..self
        }
    }
}

/// What one report's range is read from: at most one span of years, two of months and four
/// edges of line items (the SQL has one place for each; unused ones are empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) years: Span,
    pub(super) months: [Span; 2],
    pub(super) lines: [Span; 4],
}

const DAY_MS: i64 = 86_400_000;

impl Plan {
    /// Months and two edges of line items, no years.
    fn monthly((months, lines): (Span, [Span; 2])) -> Plan {
        Plan {
            years: Span::NONE,
            months: [months, Span::NONE],
            lines: [lines[0], lines[1], Span::NONE, Span::NONE],
        }
    }

    /// Rough cost in "months of sums": a year of sums holds about as many rows as a month
    /// (every product sells in most months), a day of line items about half as many.
    fn cost(&self) -> f64 {
        let lines: i64 = self.lines.iter().map(Span::len).sum();
        let months: i64 = self.months.iter().map(Span::len).sum();
        1.2 * self.years.len() as f64 + months as f64 + 0.5 * lines as f64 / DAY_MS as f64
    }
}

/// The UTC month (year * 12 + month - 1) of an instant.
fn utc_month(at: EpochMs) -> Option<i64> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000).ok()?;
    Some(i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1)
}

/// The first millisecond of a UTC month.
fn month_start(month: i64) -> Option<EpochMs> {
    let year = i32::try_from(month.div_euclid(12)).ok()?;
    let m = time::Month::try_from(u8::try_from(month.rem_euclid(12) + 1).ok()?).ok()?;
    let day = time::Date::from_calendar_date(year, m, 1).ok()?;
    i64::try_from(day.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000).ok()
}

/// The period boundary nearest to `at` (periods of `months` months: 1 or 12), and the range
/// between it and `at` with the sign that corrects the sums for an end of the range at `at`
/// (`is_start`: the range's start).
fn nearest_boundary(at: EpochMs, months: i64, is_start: bool) -> Option<(i64, Span)> {
    let p = utc_month(at)?.div_euclid(months);
    let (start, next) = (month_start(p * months)?, month_start((p + 1) * months)?);
    // Before `at` inside the period: taken out at the start of the range, added at its end.
    let before = if is_start { -1 } else { 1 };
    Some(if at - start <= next - at {
        (
            p,
            Span {
                from: start,
                to: at,
                sign: before,
            },
        )
    } else {
        (
            p + 1,
            Span {
                from: at,
                to: next,
                sign: -before,
            },
        )
    })
}

/// `[from, to)` times `sign` from months and two edges of line items, or from the line
/// items alone, whichever is cheaper.
fn by_months(from: EpochMs, to: EpochMs, sign: i64) -> (Span, [Span; 2]) {
    let lines_only = (Span::NONE, [Span { from, to, sign }, Span::NONE]);
    let with_months = || {
        let (first, head) = nearest_boundary(from, 1, true)?;
        let (end, tail) = nearest_boundary(to, 1, false)?;
        (first < end).then_some((
            Span {
                from: first,
                to: end,
                sign,
            },
            [head.times(sign), tail.times(sign)],
        ))
    };
    match with_months() {
        Some(p) if Plan::monthly(p).cost() < Plan::monthly(lines_only).cost() => p,
        _ => lines_only,
    }
}

/// `[from, to)` from the sums of the UTC years nearest its ends, each end corrected by
/// months and line items; `None` when no whole year lies between those boundaries.
fn by_years(from: EpochMs, to: EpochMs) -> Option<Plan> {
    let (first, head) = nearest_boundary(from, 12, true)?;
    let (end, tail) = nearest_boundary(to, 12, false)?;
    if first >= end {
        return None;
    }
    let (head_months, head_lines) = by_months(head.from, head.to, head.sign);
    let (tail_months, tail_lines) = by_months(tail.from, tail.to, tail.sign);
    Some(Plan {
        years: Span {
            from: first,
            to: end,
            sign: 1,
        },
        months: [head_months, tail_months],
        lines: [head_lines[0], head_lines[1], tail_lines[0], tail_lines[1]],
    })
}

/// The cheapest way to read `[from, to)`.
pub(super) fn plan(from: EpochMs, to: EpochMs) -> Plan {
    let monthly = Plan::monthly(by_months(from, to, 1));
    match by_years(from, to) {
        Some(yearly) if yearly.cost() < monthly.cost() => yearly,
        _ => monthly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_2025: EpochMs = 1_735_689_600_000;
    const FEB_2025: EpochMs = 1_738_368_000_000;
    const JAN_2026: EpochMs = JAN_2025 + 365 * DAY_MS;
    const HOUR: EpochMs = 3_600_000;

    /// Every UTC hour of 2024–2026 with its month.
    fn hours() -> Vec<(EpochMs, i64)> {
        let (mut hour, end) = (
            month_start(2024 * 12).unwrap(),
            month_start(2027 * 12).unwrap(),
        );
        let mut all = Vec::new();
        while hour < end {
            all.push((hour, utc_month(hour).unwrap()));
            hour += HOUR;
        }
        all
    }

    /// What a plan counts, per UTC hour of 2024–2026, as the sum of its signed parts; a
    /// correct plan counts each hour of `[from, to)` once and every other hour never.
    fn covers(p: &Plan, from: EpochMs, to: EpochMs, hours: &[(EpochMs, i64)]) {
        let inside = |x: &Span, month: i64, per: i64| {
            if (x.from..x.to).contains(&month.div_euclid(per)) {
                x.sign
            } else {
                0
            }
        };
        for &(hour, month) in hours {
            let mut n = inside(&p.years, month, 12);
            n += p.months.iter().map(|m| inside(m, month, 1)).sum::<i64>();
            n += p
                .lines
                .iter()
                .filter(|e| (e.from..e.to).contains(&hour))
                .map(|e| e.sign)
                .sum::<i64>();
            let want = i64::from((from..to).contains(&hour));
            assert_eq!(n, want, "hour {hour} counted {n} times by {p:?}");
        }
    }

    fn coverage(p: &Plan, from: EpochMs, to: EpochMs) {
        covers(p, from, to, &hours());
    }

    fn lines(p: &Plan) -> i64 {
        p.lines.iter().map(Span::len).sum()
    }

    #[test]
    fn a_tokyo_year_is_a_utc_year_of_sums_and_eighteen_hours_of_line_items() {
        let (from, to) = (JAN_2025 - 9 * HOUR, JAN_2026 - 9 * HOUR);
        let p = plan(from, to);
        assert_eq!((p.years.from, p.years.to), (2025, 2026));
        assert_eq!(p.months.iter().map(Span::len).sum::<i64>(), 0);
        assert_eq!(lines(&p), 18 * HOUR);
        coverage(&p, from, to);
    }

    #[test]
    fn a_utc_year_reads_its_year_of_sums_alone() {
        let p = plan(JAN_2025, JAN_2026);
        assert_eq!((p.years.from, p.years.to), (2025, 2026));
        assert_eq!(lines(&p), 0);
        coverage(&p, JAN_2025, JAN_2026);
    }

    #[test]
    fn most_of_a_year_is_the_year_less_the_months_and_days_outside_it() {
        // 2025-02-03 to 2025-11-20: the year 2025 less January, two days of February, the
        // ten days of November after the range and December.
        let (from, to) = (FEB_2025 + 2 * DAY_MS, JAN_2026 - 41 * DAY_MS);
        let p = plan(from, to);
        assert_eq!((p.years.from, p.years.to), (2025, 2026));
        assert_eq!(lines(&p), 12 * DAY_MS);
        coverage(&p, from, to);
    }

    #[test]
    fn a_few_months_are_months_corrected_by_the_days_at_either_end() {
        let (from, to) = (JAN_2025 + 2 * DAY_MS, JAN_2025 + 100 * DAY_MS);
        let p = plan(from, to);
        assert_eq!(p.years.len(), 0);
        assert_eq!(
            (p.months[0].from, p.months[0].to),
            (2025 * 12, 2025 * 12 + 3)
        );
        assert_eq!(lines(&p), 12 * DAY_MS);
        coverage(&p, from, to);
    }

    #[test]
    fn a_short_range_is_read_from_the_line_items_alone() {
        let (from, to) = (JAN_2025 + 10 * DAY_MS, JAN_2025 + 20 * DAY_MS);
        let p = plan(from, to);
        assert_eq!(p.years.len() + p.months[0].len() + p.months[1].len(), 0);
        assert_eq!(p.lines[0], Span { from, to, sign: 1 });
        coverage(&p, from, to);
        let p = plan(JAN_2025, FEB_2025);
        assert_eq!(p.months[0].len(), 1, "exactly a month is a month of sums");
        coverage(&p, JAN_2025, FEB_2025);
    }

    #[test]
    fn every_range_between_whole_days_of_2025_is_covered_exactly_once() {
        // A coarse sweep: starts and ends 17 days apart over the year, in Asia/Kolkata's
        // half hours (each hour here is counted by where it starts).
        let offset = 5 * HOUR + HOUR / 2;
        let hours = hours();
        for start in (0..365).step_by(17) {
            for end in (start + 1..=400).step_by(23) {
                let (from, to) = (
                    JAN_2025 + start * DAY_MS - offset,
                    JAN_2025 + end * DAY_MS - offset,
                );
                covers(&plan(from, to), from, to, &hours);
            }
        }
    }

    #[test]
    fn instants_before_1970_fall_in_their_own_months() {
        assert_eq!(utc_month(-1), Some(1969 * 12 + 11));
        assert_eq!(month_start(1969 * 12 + 11), Some(-31 * DAY_MS));
    }
}
