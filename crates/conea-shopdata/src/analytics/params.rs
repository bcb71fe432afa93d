//! The parameters every report takes, as they come (query string or job arguments) and
//! parsed once into [`ReportParams`]; a bad one is an [`ArgError`] naming it.

use super::calendar::{self, Granularity};
use crate::reports::ArgError;
use conea_core::clock::EpochMs;
use conea_core::ids::ShopId;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// Longest range a report covers.
pub const MAX_RANGE_DAYS: i64 = 3660;
/// The range when `from` is not given: this many days up to `to`.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

/// The parameters as given. `from`/`to`: a `YYYY-MM-DD` local date (`to` included) or an
/// RFC 3339 instant (`to` excluded); default the last 30 days up to today, local.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// An IANA time zone name; default UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `day` (default), `week` or `month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<String>,
    /// `previous_period` or `previous_year`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<String>,
    /// `product_performance` only: the ranking, `revenue` (default), `units`, `orders` or
    /// `refund_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// `product_performance` only: products listed per currency, 1–500 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<NumberOrText>,
}

/// A number given as JSON (`2`) or as a query string's text (`"2"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    Number(u64),
    Text(String),
}

/// How `product_performance` ranks its products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    Revenue,
    Units,
    Orders,
    RefundRate,
}

pub const DEFAULT_PRODUCT_LIMIT: usize = 50;
pub const MAX_PRODUCT_LIMIT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    PreviousPeriod,
    PreviousYear,
}

/// Parsed parameters: the range `[from, to)` in UTC ms and its local days.
#[derive(Debug, Clone)]
pub struct ReportParams {
    pub from: EpochMs,
    pub to: EpochMs,
    pub timezone_name: String,
    pub timezone: TimeZone,
    pub granularity: Granularity,
    pub compare: Option<Compare>,
    pub shop_id: Option<ShopId>,
    /// Given as `sort`/`limit`; only `product_performance` takes them.
    pub sort: Option<ProductSort>,
    pub limit: Option<usize>,
}

impl RawParams {
    pub fn parse(&self, now: EpochMs) -> Result<ReportParams, ArgError> {
        let bad = |param: &'static str, message: String| ArgError { param, message };
        let timezone_name = self
            .timezone
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("UTC")
            .to_string();
        let timezone = TimeZone::get(&timezone_name).map_err(|_| {
            bad(
                "timezone",
                format!("`{timezone_name}` is not an IANA time zone name (e.g. Asia/Tokyo, UTC)"),
            )
        })?;
        let granularity = match self.granularity.as_deref() {
            None => Granularity::Day,
            Some(g) => Granularity::parse(g).map_err(|m| bad("granularity", m))?,
        };
        let compare = match self.compare.as_deref() {
            None => None,
            Some("previous_period") => Some(Compare::PreviousPeriod),
            Some("previous_year") => Some(Compare::PreviousYear),
            Some(other) => {
                return Err(bad(
                    "compare",
                    format!("`{other}` is not one of previous_period, previous_year"),
                ))
            }
        };
        let shop_id = self
            .shop_id
            .as_deref()
            .map(|s| ShopId::parse(s).map_err(|e| bad("shop_id", e.to_string())))
            .transpose()?;
        let to = match self.to.as_deref() {
            Some(t) => bound(&timezone, t, true).map_err(|m| bad("to", m))?,
            None => {
                let today = calendar::date_at(&timezone, now);
                let tomorrow = today.checked_add(1.day()).unwrap_or(today);
                calendar::start_of(&timezone, tomorrow).map_err(|m| bad("to", m))?
            }
        };
        let from = match self.from.as_deref() {
            Some(f) => bound(&timezone, f, false).map_err(|m| bad("from", m))?,
            None => {
                let last = calendar::date_at(&timezone, to.saturating_sub(1));
                let first = last
                    .checked_sub((DEFAULT_RANGE_DAYS - 1).days())
                    .unwrap_or(last);
                calendar::start_of(&timezone, first).map_err(|m| bad("from", m))?
            }
        };
        let sort = match self.sort.as_deref() {
            None => None,
            Some("revenue") => Some(ProductSort::Revenue),
            Some("units") => Some(ProductSort::Units),
            Some("orders") => Some(ProductSort::Orders),
            Some("refund_rate") => Some(ProductSort::RefundRate),
            Some(other) => {
                return Err(bad(
                    "sort",
                    format!("`{other}` is not one of revenue, units, orders, refund_rate"),
                ))
            }
        };
        let limit = match &self.limit {
            None => None,
            Some(given) => {
                let n = match given {
                    NumberOrText::Number(n) => Some(*n),
                    NumberOrText::Text(t) => t.trim().parse::<u64>().ok(),
                };
                match n {
                    Some(n) if (1..=MAX_PRODUCT_LIMIT as u64).contains(&n) => Some(n as usize),
                    _ => {
                        return Err(bad(
                            "limit",
                            format!("`limit` must be a whole number from 1 to {MAX_PRODUCT_LIMIT}"),
                        ))
                    }
                }
            }
        };
        if from >= to {
            return Err(bad("from", "`from` must be before `to`".into()));
        }
        if to - from > MAX_RANGE_DAYS * calendar::DAY_MS {
            return Err(bad(
                "to",
                format!("a report covers at most {MAX_RANGE_DAYS} days"),
            ));
        }
        Ok(ReportParams {
            from,
            to,
            timezone_name,
            timezone,
            granularity,
            compare,
            shop_id,
            sort,
            limit,
        })
    }
}

/// A bound: a local date (its first moment; for `to`, the next day's), or an instant.
fn bound(tz: &TimeZone, text: &str, end: bool) -> Result<EpochMs, String> {
    let t = text.trim();
    if let Ok(date) = t.parse::<Date>() {
        let date = if end {
            date.checked_add(1.day()).map_err(|e| e.to_string())?
        } else {
            date
        };
        return calendar::start_of(tz, date);
    }
    t.parse::<Timestamp>()
        .map(|ts| ts.as_millisecond())
        .map_err(|_| format!("`{t}` is not a YYYY-MM-DD date or an RFC 3339 time"))
}

impl ReportParams {
    /// The local dates of the first and the last day of the range.
    pub fn local_days(&self) -> (Date, Date) {
        (
            calendar::date_at(&self.timezone, self.from),
            calendar::date_at(&self.timezone, self.to.saturating_sub(1)),
        )
    }

    /// The earlier range the figures are compared with, if asked: the same length right
    /// before, or the same local dates a year earlier.
    pub fn previous(&self) -> Option<(EpochMs, EpochMs)> {
        match self.compare? {
            Compare::PreviousPeriod => Some((self.from - (self.to - self.from), self.from)),
            Compare::PreviousYear => {
                let shift = |ms: EpochMs| -> Option<EpochMs> {
                    let local = self
                        .timezone
                        .to_datetime(Timestamp::from_millisecond(ms).ok()?);
                    let earlier = local.checked_sub(1.year()).ok()?;
                    self.timezone
                        .to_ambiguous_timestamp(earlier)
                        .compatible()
                        .ok()
                        .map(|t| t.as_millisecond())
                };
                Some((shift(self.from)?, shift(self.to)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawParams {
        let mut r = RawParams::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "from" => r.from = v,
                "to" => r.to = v,
                "timezone" => r.timezone = v,
                "granularity" => r.granularity = v,
                "compare" => r.compare = v,
                "shop_id" => r.shop_id = v,
                "sort" => r.sort = v,
                "limit" => r.limit = v.map(NumberOrText::Text),
                _ => unreachable!(),
            }
        }
        r
    }

    const NOW: EpochMs = 1_717_200_000_000; // 2024-06-01T00:00:00Z

    #[test]
    fn dates_are_local_days_and_to_includes_its_day() {
        let p = raw(&[
            ("from", "2024-01-01"),
            ("to", "2024-01-31"),
            ("timezone", "Asia/Tokyo"),
        ])
        .parse(NOW)
        .expect("valid");
        // 2024-01-01T00:00+09:00 and 2024-02-01T00:00+09:00.
        assert_eq!(p.from, 1_704_034_800_000);
        assert_eq!(p.to, 1_706_713_200_000);
        assert_eq!(
            p.local_days(),
            (Date::constant(2024, 1, 1), Date::constant(2024, 1, 31))
        );
    }

    #[test]
    fn defaults_are_the_last_30_local_days_in_utc_by_day() {
        let p = RawParams::default().parse(NOW).expect("valid");
        assert_eq!(p.timezone_name, "UTC");
        assert_eq!(p.granularity, Granularity::Day);
        assert_eq!(
            p.local_days(),
            (Date::constant(2024, 5, 3), Date::constant(2024, 6, 1))
        );
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let cases = [
            (raw(&[("timezone", "Mars/Olympus")]), "timezone"),
            (raw(&[("granularity", "hour")]), "granularity"),
            (raw(&[("compare", "last_week")]), "compare"),
            (raw(&[("from", "2024-02-01"), ("to", "2024-01-01")]), "from"),
            (raw(&[("from", "yesterday")]), "from"),
            (raw(&[("to", "2024-13-01")]), "to"),
            (raw(&[("shop_id", "shop_1")]), "shop_id"),
            (raw(&[("from", "2000-01-01"), ("to", "2024-01-01")]), "to"),
            (raw(&[("sort", "price")]), "sort"),
            (raw(&[("limit", "0")]), "limit"),
            (raw(&[("limit", "501")]), "limit"),
            (raw(&[("limit", "ten")]), "limit"),
        ];
        for (r, param) in cases {
            assert_eq!(r.parse(NOW).expect_err(param).param, param, "{r:?}");
        }
    }

    #[test]
    fn limit_is_read_from_json_numbers_and_query_text_alike() {
        let json: RawParams =
            serde_json::from_str(r#"{"limit": 7, "sort": "units"}"#).expect("json");
        let text = raw(&[("limit", "7"), ("sort", "units")]);
        for r in [json, text] {
            let p = r.parse(NOW).expect("valid");
            assert_eq!((p.limit, p.sort), (Some(7), Some(ProductSort::Units)));
        }
    }

    #[test]
    fn previous_year_shifts_local_dates_and_previous_period_the_length() {
        let p = raw(&[
            ("from", "2024-03-01"),
            ("to", "2024-03-31"),
            ("compare", "previous_year"),
        ])
        .parse(NOW)
        .expect("valid");
        let (f, t) = p.previous().expect("asked");
        assert_eq!(
            (
                calendar::date_at(&p.timezone, f),
                calendar::date_at(&p.timezone, t)
            ),
            (Date::constant(2023, 3, 1), Date::constant(2023, 4, 1))
        );
        let p = raw(&[
            ("from", "2024-03-01"),
            ("to", "2024-03-10"),
            ("compare", "previous_period"),
        ])
        .parse(NOW)
        .expect("valid");
        assert_eq!(p.previous(), Some((p.from - 10 * calendar::DAY_MS, p.from)));
    }
}
