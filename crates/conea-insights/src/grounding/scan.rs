//! Finding the numbers in a text, in English and Japanese spellings: `1,234.5`, `1234`,
//! `12.5%`, `$1,234.50`, `¥1,234`, `1,234円`, `1.2万`, `3億`, `1.2k`, `$3M`, full-width
//! digits (`１２３`, `１２．５％`), and the shapes that are not figures (dates, times,
//! identifiers, list markers).

/// What a number in a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A figure: a count, an amount, a ratio.
    Figure,
    /// A year: a bare `2026` (1900 to 2100) or `2026年`.
    Year,
    /// A date or a time (`2026-03-01`, `3/1`, `10:30`, `3月1日`); its value is the year it
    /// names, if any.
    Date { year: Option<i64> },
    /// Not a figure at all: part of an identifier (`gpt4`, `v1`, `3rd`, `100ms`) or a
    /// Markdown list marker (`12. `).
    Skip,
}

/// One number as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The text as written (currency sign and suffix included).
    pub text: String,
    /// Its value, scale applied (`1.2万` → 12000), without sign.
    pub value: f64,
    /// Half a unit of the last shown digit, scaled (`1.2万` → 500, `12.5` → 0.05).
    pub tolerance: f64,
    /// Written with a decimal part.
    pub decimals: u32,
    pub percent: bool,
    /// Behind a currency sign or before `円`.
    pub money: bool,
    /// Scaled by a suffix (`万`, `億`, `千`, `k`, `M`, `B`).
    pub scaled: bool,
    pub kind: Kind,
    /// Every number of a date or time token (`2026-03-01` → 2026, 3, 1); the value alone
    /// otherwise.
    pub parts: Vec<f64>,
}

/// Full-width digits and signs as their ASCII twins; one char for one char, so positions
/// stay those of the original text.
fn normalize(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        '．' => '.',
        '，' => ',',
        '％' => '%',
        '￥' => '¥',
        '＄' => '$',
        '：' => ':',
        '／' => '/',
        '－' => '-',
        _ => c,
    }
}

const CURRENCY_SIGNS: [char; 5] = ['$', '¥', '€', '£', '₩'];

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every number of `text`, in order.
pub fn numbers(text: &str) -> Vec<Token> {
    let orig: Vec<char> = text.chars().collect();
    let s: Vec<char> = orig.iter().map(|c| normalize(*c)).collect();
    let n = s.len();
    let at = |i: usize| -> Option<char> { s.get(i).copied() };
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if !s[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        // Digits glued to a word (`gpt4`, `v1.2`, `shop_01J…`) are part of an identifier.
        if start > 0
            && (is_word(s[start - 1])
                || (s[start - 1] == '.' && start > 1 && is_word(s[start - 2])))
        {
            while i < n && (is_word(s[i]) || s[i] == '.' && at(i + 1).is_some_and(is_word)) {
                i += 1;
            }
            continue;
        }
        // The integer part, with `,` groups of exactly three digits.
        let mut int_digits = String::new();
        while i < n && s[i].is_ascii_digit() {
            int_digits.push(s[i]);
            i += 1;
        }
        let mut grouped = false;
        while at(i) == Some(',')
            && (1..=3).all(|k| at(i + k).is_some_and(|c| c.is_ascii_digit()))
            && !at(i + 4).is_some_and(|c| c.is_ascii_digit())
        {
            int_digits.extend(&s[i + 1..i + 4]);
            grouped = true;
            i += 4;
        }
        // A date or a time: digits joined by `-`, `/` or `:` (`2026-03-01`, `3/1`, `10:30`).
        if !grouped
            && matches!(at(i), Some('-' | '/' | ':'))
            && at(i + 1).is_some_and(|c| c.is_ascii_digit())
        {
            let mut parts = vec![int_digits.parse::<f64>().unwrap_or(0.0)];
            let first_len = int_digits.len();
            while matches!(at(i), Some('-' | '/' | ':' | 'T' | '.'))
                && at(i + 1).is_some_and(|c| c.is_ascii_digit())
            {
                i += 1;
                let mut part = String::new();
                while i < n && s[i].is_ascii_digit() {
                    part.push(s[i]);
                    i += 1;
                }
                parts.push(part.parse::<f64>().unwrap_or(0.0));
            }
            // A trailing `Z` or offset belongs to the date too.
            while i < n && (s[i] == 'Z' || s[i] == '+') {
                i += 1;
            }
            let year = (first_len == 4).then(|| parts[0] as i64);
            out.push(Token {
                text: orig[start..i].iter().collect(),
                value: year.map_or(0.0, |y| y as f64),
                tolerance: 0.0,
                decimals: 0,
                percent: false,
                money: false,
                scaled: false,
                kind: Kind::Date { year },
                parts,
            });
            continue;
        }
        let mut decimals = 0u32;
        let mut frac = String::new();
        if at(i) == Some('.') && at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
            while i < n && s[i].is_ascii_digit() {
                frac.push(s[i]);
                i += 1;
            }
            decimals = frac.len() as u32;
        }
        let number = if frac.is_empty() {
            int_digits.clone()
        } else {
            format!("{int_digits}.{frac}")
        };
        let mut value: f64 = number.parse().unwrap_or(0.0);
        let mut tolerance = 0.5 * 10f64.powi(-(decimals as i32));
        // Prefix: a currency sign right before (or before one space).
        let mut text_start = start;
        let mut money = false;
        for back in [1usize, 2] {
            if start >= back {
                let c = s[start - back];
                if CURRENCY_SIGNS.contains(&c) {
                    money = true;
                    text_start = start - back;
                    break;
                }
                if c != ' ' {
                    break;
                }
            }
        }
        // Suffixes: a scale, then `%` or `円`, then Japanese date units.
        let mut scaled = false;
        let mut percent = false;
        let mut kind = Kind::Figure;
        let scale = match at(i) {
            Some('万') => Some((1e4, 1)),
            Some('億') => Some((1e8, 1)),
            Some('千') => Some((1e3, 1)),
            Some('k' | 'K') if !at(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) => {
                Some((1e3, 1))
            }
            Some('M') if !at(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) => Some((1e6, 1)),
            Some('B') if !at(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) => Some((1e9, 1)),
            Some('b')
                if at(i + 1) == Some('n')
                    && !at(i + 2).is_some_and(|c| c.is_ascii_alphabetic()) =>
            {
                Some((1e9, 2))
            }
            _ => None,
        };
        if let Some((factor, len)) = scale {
            value *= factor;
            tolerance *= factor;
            scaled = true;
            i += len;
        }
        if at(i) == Some('%') || (at(i) == Some(' ') && at(i + 1) == Some('%')) {
            i += if at(i) == Some('%') { 1 } else { 2 };
            percent = true;
        } else if at(i) == Some('円') {
            i += 1;
            money = true;
        } else if !scaled && decimals == 0 && !grouped && !money {
            match at(i) {
                Some('年') => {
                    kind = Kind::Year;
                    i += 1;
                }
                Some('月') if (1.0..=12.0).contains(&value) => {
                    // `3月1日`: one date.
                    let mut j = i + 1;
                    let mut day = String::new();
                    while j < n && s[j].is_ascii_digit() {
                        day.push(s[j]);
                        j += 1;
                    }
                    if !day.is_empty() && at(j) == Some('日') {
                        i = j + 1;
                    } else {
                        i += 1;
                    }
                    kind = Kind::Date { year: None };
                }
                Some('日') if (1.0..=31.0).contains(&value) => {
                    kind = Kind::Date { year: None };
                    i += 1;
                }
                _ => {}
            }
        }
        if kind == Kind::Figure
            && !scaled
            && !percent
            && !money
            && decimals == 0
            && !grouped
            && int_digits.len() == 4
            && (1900.0..=2100.0).contains(&value)
        {
            kind = Kind::Year;
        }
        // Glued to letters after it (`3rd`, `100ms`, `4o`): not a figure.
        if !percent && at(i).is_some_and(|c| c.is_ascii_alphabetic()) {
            kind = Kind::Skip;
            while i < n && is_word(s[i]) {
                i += 1;
            }
        }
        // A Markdown list marker: `12. ` or `12) ` first on its line.
        if kind == Kind::Figure
            && decimals == 0
            && !grouped
            && !money
            && !percent
            && !scaled
            && matches!(at(i), Some('.' | ')'))
            && at(i + 1).is_none_or(|c| c == ' ')
            && s[..start]
                .iter()
                .rev()
                .take_while(|c| **c != '\n')
                .all(|c| c.is_whitespace())
        {
            kind = Kind::Skip;
        }
        out.push(Token {
            text: orig[text_start..i].iter().collect(),
            value,
            tolerance,
            decimals,
            percent,
            money,
            scaled,
            kind,
            parts: vec![value],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, f64, Kind)> {
        numbers(text)
            .into_iter()
            .map(|t| (t.text, t.value, t.kind))
            .collect()
    }

    fn one(text: &str) -> Token {
        let mut all = numbers(text);
        assert_eq!(all.len(), 1, "{text}: {all:?}");
        all.remove(0)
    }

    #[test]
    fn grouped_decimals_and_plain_integers_are_read_with_their_precision() {
        let t = one("Revenue was 1,234.5 last week");
        assert_eq!((t.value, t.decimals, t.tolerance), (1234.5, 1, 0.05));
        let t = one("1234 orders");
        assert_eq!((t.value, t.tolerance, t.kind), (1234.0, 0.5, Kind::Figure));
        let t = one("12,345,678");
        assert_eq!(t.value, 12_345_678.0);
    }

    #[test]
    fn money_signs_and_yen_suffix_are_money() {
        let t = one("revenue $1,234.50.");
        assert_eq!(
            (t.text.as_str(), t.value, t.money),
            ("$1,234.50", 1234.5, true)
        );
        let t = one("売上は¥1,234でした");
        assert_eq!(
            (t.text.as_str(), t.value, t.money),
            ("¥1,234", 1234.0, true)
        );
        let t = one("売上は1,234円です");
        assert_eq!(
            (t.text.as_str(), t.value, t.money),
            ("1,234円", 1234.0, true)
        );
        let t = one("€ 99.9");
        assert_eq!((t.text.as_str(), t.value), ("€ 99.9", 99.9));
    }

    #[test]
    fn percentages_keep_their_precision() {
        let t = one("down 12.5% on the week");
        assert!(t.percent);
        assert_eq!((t.value, t.tolerance), (12.5, 0.05));
        let t = one("返品率は３．２％でした");
        assert!(t.percent);
        assert_eq!((t.text.as_str(), t.value), ("３．２％", 3.2));
    }

    #[test]
    fn japanese_and_english_scales_multiply_and_widen_the_tolerance() {
        let t = one("売上は1.2万円");
        assert_eq!((t.value, t.tolerance, t.money), (12_000.0, 500.0, true));
        let t = one("3億");
        assert_eq!((t.value, t.tolerance), (300_000_000.0, 5e7));
        let t = one("$1.2k in refunds");
        assert_eq!((t.value, t.tolerance), (1200.0, 50.0));
        let t = one("about $3M");
        assert_eq!(t.value, 3_000_000.0);
        let t = one("5千個");
        assert_eq!(t.value, 5000.0);
    }

    #[test]
    fn full_width_digits_are_read_and_shown_as_written() {
        let t = one("注文数は１，２３４件");
        assert_eq!((t.text.as_str(), t.value), ("１，２３４", 1234.0));
    }

    #[test]
    fn dates_times_and_years_are_not_figures() {
        let v = values("On 2026-03-01 at 10:30, and on 3/14, 2025年 and 3月1日 and 15日");
        assert_eq!(
            v,
            vec![
                ("2026-03-01".into(), 2026.0, Kind::Date { year: Some(2026) }),
                ("10:30".into(), 0.0, Kind::Date { year: None }),
                ("3/14".into(), 0.0, Kind::Date { year: None }),
                ("2025年".into(), 2025.0, Kind::Year),
                ("3月1日".into(), 3.0, Kind::Date { year: None }),
                ("15日".into(), 15.0, Kind::Date { year: None }),
            ]
        );
        assert_eq!(one("in 2026 sales grew").kind, Kind::Year);
        assert_eq!(
            one("2026-03-01T10:00:00Z").kind,
            Kind::Date { year: Some(2026) }
        );
    }

    #[test]
    fn identifiers_units_and_list_markers_are_skipped() {
        for text in [
            "gpt4 said",
            "v1.2",
            "shop_01JD",
            "the 3rd week",
            "took 100ms",
            "model 4o",
        ] {
            assert!(
                numbers(text).iter().all(|t| t.kind == Kind::Skip),
                "{text}: {:?}",
                numbers(text)
            );
        }
        let v = values("11. Mug: 1,234\n12) Tea");
        assert_eq!(v[0].2, Kind::Skip);
        assert_eq!((v[1].1, v[1].2), (1234.0, Kind::Figure));
        assert_eq!(v[2].2, Kind::Skip);
    }

    #[test]
    fn a_comma_list_is_not_a_grouped_number() {
        let v: Vec<f64> = numbers("1,2,3 and 1,23").iter().map(|t| t.value).collect();
        assert_eq!(v, vec![1.0, 2.0, 3.0, 1.0, 23.0]);
    }

    #[test]
    fn order_names_and_bold_markdown_are_figures() {
        let v: Vec<f64> = numbers("**#1001** and **¥12,000**")
            .iter()
            .map(|t| t.value)
            .collect();
        assert_eq!(v, vec![1001.0, 12_000.0]);
    }
}
