//! Shop domains and API versions, checked before they reach a URL or a throttle key.

/// The suffix every shop's permanent domain ends with.
const SUFFIX: &str = ".myshopify.com";

/// Whether `s` is a shop's permanent domain: `name.myshopify.com`, where `name` is 1 to 63
/// lowercase ASCII letters, digits and hyphens that neither starts nor ends with a hyphen.
/// Anchored at both ends: `evil.com/x.myshopify.com` and `x.myshopify.com.evil.test` fail.
pub fn is_valid_shop_domain(s: &str) -> bool {
    let Some(name) = s.strip_suffix(SUFFIX) else {
        return false;
    };
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// Whether `s` names an Admin API version: `YYYY-MM` (month 01–12) or `unstable`.
pub fn is_valid_api_version(s: &str) -> bool {
    if s == "unstable" {
        return true;
    }
    let b = s.as_bytes();
    if b.len() != 7 || b[4] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !digits(0..4) || !digits(5..7) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    (1..=12).contains(&month)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_year_dash_month_or_unstable() {
        for ok in ["2025-01", "2024-10", "unstable"] {
            assert!(is_valid_api_version(ok), "{ok}");
        }
        for bad in [
            "2025-13", "2025-00", "2025-1", "25-01", "2025/01", "", "latest",
        ] {
            assert!(!is_valid_api_version(bad), "{bad}");
        }
    }
}
