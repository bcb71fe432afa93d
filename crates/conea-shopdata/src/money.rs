//! Exact money: amounts are kept as whole ten-thousandths of the currency unit (`i64`), so
//! sums in SQL are exact on both backends; `rust_decimal` parses and formats them. Amounts
//! are shown with the currency's minor digits (JPY 0, USD 2, KWD 3), or more when the amount
//! itself has more (nothing is rounded away on output, except an average).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;
use std::str::FromStr;

/// Decimal places kept: amounts are stored in units of 10^-SCALE.
pub const SCALE: u32 = 4;
const UNITS_PER_WHOLE: i64 = 10_000;

/// An amount of money in ten-thousandths of the currency unit ("199.00" is 1_990_000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_units(units: i64) -> Money {
        Money(units)
    }

    /// The amount in ten-thousandths of the currency unit.
    pub fn units(self) -> i64 {
        self.0
    }

    /// Parses a plain decimal (`"199.00"`, `"-5"`, `"0.0001"`). More than four decimal
    /// places (after dropping trailing zeros) or an amount beyond ±922 trillion is refused.
    pub fn parse(text: &str) -> Result<Money, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("empty amount".into());
        }
        let d = Decimal::from_str(trimmed)
            .map_err(|_| format!("`{trimmed}` is not a decimal amount"))?;
        Self::from_decimal(d).ok_or_else(|| {
            format!("`{trimmed}` has more than {SCALE} decimal places or is too large")
        })
    }

    /// The exact amount, or `None` when it needs more than four decimal places or overflows.
    pub fn from_decimal(d: Decimal) -> Option<Money> {
        let d = d.normalize();
        if d.scale() > SCALE {
            return None;
        }
        let scaled = d.checked_mul(Decimal::from(UNITS_PER_WHOLE))?;
        scaled.to_i64().map(Money)
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, SCALE)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// The decimal string for `currency`: at least its minor digits, more if the amount has
    /// them (`Money::parse("1.5")` in USD is `"1.50"`, in JPY `"1.5"`, `"1.0005"` stays).
    pub fn format(self, currency: Option<&str>) -> String {
        let minor = currency.map(minor_digits).unwrap_or(2);
        let mut d = self.to_decimal().normalize();
        let places = d.scale().max(minor);
        d.rescale(places);
        d.to_string()
    }

    /// `self / count` rounded half away from zero to the currency's minor digits.
    pub fn average(self, count: i64, currency: Option<&str>) -> String {
        if count <= 0 {
            return Money::ZERO.format(currency);
        }
        let minor = currency.map(minor_digits).unwrap_or(2);
        let mut avg = (self.to_decimal() / Decimal::from(count))
            .round_dp_with_strategy(minor, RoundingStrategy::MidpointAwayFromZero);
        avg.rescale(minor);
        avg.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(None))
    }
}

/// ISO 4217 minor units: the digits after the decimal point a currency is shown with.
pub fn minor_digits(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// A currency code as stored: three ASCII letters, upper case.
pub fn parse_currency(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(t.to_ascii_uppercase())
    } else {
        Err(format!("`{t}` is not an ISO 4217 currency code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly_into_ten_thousandths() {
        assert_eq!(Money::parse("199.00"), Ok(Money::from_units(1_990_000)));
        assert_eq!(Money::parse("-5"), Ok(Money::from_units(-50_000)));
        assert_eq!(Money::parse("0.0001"), Ok(Money::from_units(1)));
        assert_eq!(Money::parse("1.230000"), Ok(Money::from_units(12_300)));
    }

    #[test]
    fn amounts_needing_more_than_four_places_or_garbage_are_refused() {
        assert!(Money::parse("0.00001").is_err());
        assert!(Money::parse("abc").is_err());
        assert!(Money::parse("").is_err());
        assert!(Money::parse("99999999999999999999").is_err());
    }

    #[test]
    fn formatting_uses_the_currency_minor_digits_without_losing_precision() {
        let m = Money::parse("1234.5").expect("valid");
        assert_eq!(m.format(Some("USD")), "1234.50");
        assert_eq!(m.format(Some("KWD")), "1234.500");
        assert_eq!(
            Money::parse("1500").expect("valid").format(Some("JPY")),
            "1500"
        );
        assert_eq!(
            Money::parse("1.0005").expect("valid").format(Some("USD")),
            "1.0005"
        );
        assert_eq!(Money::ZERO.format(Some("EUR")), "0.00");
    }

    #[test]
    fn averages_round_half_away_from_zero_to_minor_digits() {
        let total = Money::parse("10.00").expect("valid");
        assert_eq!(total.average(3, Some("USD")), "3.33");
        assert_eq!(
            Money::parse("0.05").expect("valid").average(2, Some("USD")),
            "0.03"
        );
        assert_eq!(
            Money::parse("1001").expect("valid").average(2, Some("JPY")),
            "501"
        );
        assert_eq!(total.average(0, Some("USD")), "0.00");
    }

    #[test]
    fn currency_codes_are_normalised_and_checked() {
        assert_eq!(parse_currency("usd"), Ok("USD".to_owned()));
        assert!(parse_currency("US").is_err());
        assert!(parse_currency("U$D").is_err());
    }
}
