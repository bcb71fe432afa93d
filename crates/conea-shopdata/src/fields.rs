//! Field parsers shared by the NDJSON (Shopify JSON) and CSV readers. Each error names the
//! field, so a rejected line says what to fix.

use super::money::{parse_currency, Money};
use conea_core::clock::EpochMs;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

/// A source id: a positive integer (Shopify ids are numbers; CSV gives digits).
pub fn id(field: &str, text: &str) -> Result<i64, String> {
    let t = text.trim();
    match t.parse::<i64>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(format!("{field}: `{t}` is not a positive integer id")),
    }
}

pub fn opt_id(field: &str, text: &str) -> Result<Option<i64>, String> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        id(field, text).map(Some)
    }
}

pub fn int(field: &str, text: &str) -> Result<i64, String> {
    let t = text.trim();
    t.parse::<i64>()
        .map_err(|_| format!("{field}: `{t}` is not an integer"))
}

pub fn opt_int(field: &str, text: &str) -> Result<Option<i64>, String> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        int(field, text).map(Some)
    }
}

pub fn quantity(field: &str, text: &str) -> Result<i64, String> {
    let q = int(field, text)?;
    check_quantity(field, q)
}

pub fn check_quantity(field: &str, q: i64) -> Result<i64, String> {
    if (0..=1_000_000_000).contains(&q) {
        Ok(q)
    } else {
        Err(format!("{field}: {q} is not a quantity between 0 and 10^9"))
    }
}

pub fn money(field: &str, text: &str) -> Result<Money, String> {
    Money::parse(text).map_err(|e| format!("{field}: {e}"))
}

pub fn opt_money(field: &str, text: &str) -> Result<Option<Money>, String> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        money(field, text).map(Some)
    }
}

pub fn currency(field: &str, text: &str) -> Result<String, String> {
    parse_currency(text).map_err(|e| format!("{field}: {e}"))
}

/// A point in time: RFC 3339 (`2021-12-31T19:00:00-05:00`, as in Shopify's API) or the
/// format of Shopify's CSV exports (`2021-12-31 19:00:00 -0500`).
pub fn time(field: &str, text: &str) -> Result<EpochMs, String> {
    let t = text.trim();
    parse_instant(t).ok_or_else(|| {
        format!("{field}: `{t}` is not a time (use RFC 3339, e.g. 2021-12-31T19:00:00-05:00)")
    })
}

pub fn opt_time(field: &str, text: &str) -> Result<Option<EpochMs>, String> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        time(field, text).map(Some)
    }
}

fn parse_instant(t: &str) -> Option<EpochMs> {
    let parsed = OffsetDateTime::parse(t, &Rfc3339).ok().or_else(|| {
        OffsetDateTime::parse(
            t,
            format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
            ),
        )
        .ok()
    })?;
    Some(to_ms(parsed))
}

fn to_ms(t: OffsetDateTime) -> EpochMs {
    (t.unix_timestamp_nanos() / 1_000_000) as EpochMs
}

/// A period bound: epoch milliseconds (a JSON number or digits), RFC 3339, or a date
/// `YYYY-MM-DD` (UTC midnight; with `end_of_day`, the midnight after it, so a `to` date
/// includes that whole day).
pub fn period_bound(text: &str, end_of_day: bool) -> Result<EpochMs, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .map_err(|_| format!("`{t}` is out of range"));
    }
    if let Some(ms) = parse_instant(t) {
        return Ok(ms);
    }
    let date = Date::parse(t, format_description!("[year]-[month]-[day]")).map_err(|_| {
        format!("`{t}` is not epoch milliseconds, an RFC 3339 time or a YYYY-MM-DD date")
    })?;
    let date = if end_of_day {
        date.next_day()
            .ok_or_else(|| format!("`{t}` is out of range"))?
    } else {
        date
    };
    Ok(to_ms(
        PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc(),
    ))
}

/// `YYYY-MM-DD` (UTC) of a day number (days since 1970-01-01).
pub fn day_label(day: i64) -> String {
    let seconds = day.saturating_mul(86_400);
    match OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        }
        Err(_) => format!("day {day}"),
    }
}

/// RFC 3339 (UTC) of epoch milliseconds.
pub fn rfc3339(ms: EpochMs) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Text that is `None` when empty or blank.
pub fn opt_text(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| clean(t))
}

/// Text as stored: without NUL characters, which PostgreSQL's text cannot hold (one in a
/// title would otherwise fail the whole batch).
pub fn clean(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "")
    } else {
        text.to_owned()
    }
}

/// Checks that `quantity × price` of a line item stays within what sums exactly in SQL
/// (±10^14 currency units).
pub fn line_total(field: &str, quantity: i64, price: Money) -> Result<(), String> {
    match quantity.checked_mul(price.units()) {
        Some(t) if t.abs() <= 1_000_000_000_000_000_000 => Ok(()),
        _ => Err(format!("{field}: quantity × price is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopify_api_and_csv_export_times_parse_to_the_same_instant() {
        let api = time("created_at", "2021-12-31T19:00:00-05:00").expect("rfc 3339");
        let csv = time("created_at", "2021-12-31 19:00:00 -0500").expect("csv export");
        assert_eq!(api, csv);
        assert_eq!(api, 1_640_995_200_000);
        assert!(time("created_at", "yesterday")
            .unwrap_err()
            .starts_with("created_at:"));
    }

    #[test]
    fn period_bounds_accept_millis_rfc3339_and_dates() {
        assert_eq!(period_bound("1640995200000", false), Ok(1_640_995_200_000));
        assert_eq!(
            period_bound("2022-01-01T00:00:00Z", false),
            Ok(1_640_995_200_000)
        );
        assert_eq!(period_bound("2022-01-01", false), Ok(1_640_995_200_000));
        assert_eq!(period_bound("2021-12-31", true), Ok(1_640_995_200_000));
        assert!(period_bound("01/01/2022", false).is_err());
    }

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(
            id("id", " 820982911946154508 "),
            Ok(820_982_911_946_154_508)
        );
        assert!(id("id", "0").is_err());
        assert!(id("id", "A-1").is_err());
        assert_eq!(opt_id("product_id", ""), Ok(None));
    }

    #[test]
    fn nul_characters_are_dropped_and_huge_line_totals_refused() {
        assert_eq!(opt_text(" a\0b ").as_deref(), Some("ab"));
        let price = Money::parse("1000000000").expect("valid");
        assert!(line_total("line_items[0]", 100_000, price).is_ok());
        assert!(line_total("line_items[0]", 1_000_000, price).is_err());
    }

    #[test]
    fn day_labels_are_utc_dates() {
        assert_eq!(day_label(0), "1970-01-01");
        assert_eq!(day_label(1_640_995_200_000 / 86_400_000), "2022-01-01");
    }
}
