//! A shop's own interval between scheduled syncs: `30s`-style text as
//! `SHOPIFY_SYNC_INTERVAL` takes it — 1 to 6 digits (no leading zero) and a unit `s`, `m`,
//! `h` or `d` — of at least one minute. [`PATTERN`] is the same rule as a regular expression
//! (the OpenAPI document's).

use conea_core::error::{CoreError, CoreResult};

/// The shortest interval a shop may have.
pub const MIN_MS: i64 = 60_000;

/// The accepted texts, exactly: `[1-9]` then up to 5 digits with `m`, `h` or `d`; or 60 to
/// 999999 with `s`.
pub const PATTERN: &str = "^([1-9][0-9]{0,5}[mhd]|([6-9][0-9]|[1-9][0-9]{2,5})s)$";

/// The interval in milliseconds, or 400 naming `field`.
pub fn parse(field: &str, text: &str) -> CoreResult<i64> {
    let refuse = || {
        CoreError::invalid(
            field,
            format!("`{text}` is not a sync interval: use a whole number and a unit (s, m, h or d) of at least 1 minute, such as 15m or 1h."),
        )
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() || digits.len() > 6 || digits.starts_with('0') {
        return Err(refuse());
    }
    let n: i64 = digits.parse().map_err(|_| refuse())?;
    let ms = match unit {
        "s" => n * 1_000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return Err(refuse()),
    };
    if ms < MIN_MS {
        return Err(refuse());
    }
    Ok(ms)
}

/// The shortest text for an interval (`90s`, `15m`, `2h`, `1d`).
pub fn format(ms: i64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}s", ms / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_of_a_minute_or_more_parse_and_shorter_ones_name_the_field() {
        assert_eq!(parse("sync_interval", "1m").unwrap(), 60_000);
        assert_eq!(parse("sync_interval", "60s").unwrap(), 60_000);
        assert_eq!(parse("sync_interval", "2h").unwrap(), 7_200_000);
        assert_eq!(
            parse("sync_interval", "999999d").unwrap(),
            999_999 * 86_400_000
        );
        for bad in [
            "59s", "0m", "01m", "15", "m", "1w", "1000000m", " 5m", "-5m", "5 m",
        ] {
            match parse("sync_interval", bad) {
                Err(CoreError::InvalidInput { param, .. }) => {
                    assert_eq!(param.as_deref(), Some("sync_interval"), "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn formatting_is_the_shortest_exact_text() {
        assert_eq!(format(60_000), "1m");
        assert_eq!(format(90_000), "90s");
        assert_eq!(format(86_400_000), "1d");
        assert_eq!(format(5_400_000), "90m");
    }
}
