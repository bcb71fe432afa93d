//! The grounding check: every number in an answer must be one the tool results (or the
//! question) hold, allowing for rounding to the precision shown and for a percentage
//! written as a ratio (12.5% ↔ 0.125) or the other way. The rest are `ungrounded`.
//!
//! What is checked and what is not:
//! - checked: counts, amounts, percentages and ratios, in every spelling [`scan`] reads
//!   (`1,234.5`, `$1,234.50`, `¥1,234`, `1,234円`, `1.2万`, `12.5%`, full-width digits);
//!   signs are ignored (a drop of 12.5% matches a change of -12.5);
//! - exempt: whole numbers from 0 to 10 written bare (no decimals, sign, `%` or scale:
//!   "3 products", "top 5"); years within the question's period (and the year before it,
//!   for comparisons with the previous year), alone (`2026`, `2026年`) or in a date; dates
//!   and times without a year (`3/14`, `10:30`, `3月1日`); identifiers (`gpt4`, `3rd`) and
//!   Markdown list markers (`12. `). A year outside the period is checked like a figure.
//!
//! The answer's numbers are compared with every number of the full tool results (JSON
//! numbers, and the numbers inside strings: money is a decimal string), not only the part
//! the model was shown.

pub mod scan;

pub use scan::{numbers, Kind, Token};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::ops::RangeInclusive;

/// A number of the answer that no tool result holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ungrounded {
    /// As written in the answer.
    pub text: String,
    /// Its value, scale applied.
    pub value: f64,
}

/// The check's outcome: how many numbers were checked and which were found nowhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Grounding {
    pub checked: usize,
    pub ungrounded: Vec<Ungrounded>,
}

/// The numbers an answer may use: those of the tool results and of the question.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Absolute values, sorted.
    values: Vec<f64>,
}

impl Known {
    pub fn new() -> Self {
        Known::default()
    }

    fn push(&mut self, v: f64) {
        if v.is_finite() {
            self.values.push(v.abs());
        }
    }

    /// Every number of a text (a string value of a result, or the question), dates and
    /// times part by part; `12.5%` also as 0.125.
    pub fn add_text(&mut self, text: &str) {
        for t in numbers(text) {
            for p in &t.parts {
                self.push(*p);
            }
            if t.percent {
                self.push(t.value / 100.0);
            }
        }
    }

    /// Every number of a JSON value: its numbers, and the numbers inside its strings.
    pub fn add_json(&mut self, v: &Value) {
        match v {
            Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    self.push(f);
                }
            }
            Value::String(s) => self.add_text(s),
            Value::Array(items) => items.iter().for_each(|i| self.add_json(i)),
            Value::Object(map) => map.values().for_each(|i| self.add_json(i)),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn sort(&mut self) {
        self.values.sort_by(f64::total_cmp);
    }

    /// Whether a known number lies within `tolerance` of `v`.
    fn holds(&self, v: f64, tolerance: f64) -> bool {
        // A relative slack for amounts that went through binary floating point.
        let tol = tolerance + v.abs() * 1e-9;
        let lo = v - tol;
        let i = self.values.partition_point(|k| *k < lo);
        self.values.get(i).is_some_and(|k| *k <= v + tol)
    }
}

/// The check, for a question whose period covers `years`.
#[derive(Debug, Clone)]
pub struct Checker {
    known: Known,
    years: RangeInclusive<i64>,
}

impl Checker {
    pub fn new(mut known: Known, years: RangeInclusive<i64>) -> Self {
        known.sort();
        Checker { known, years }
    }

    fn exempt(&self, t: &Token) -> bool {
        match t.kind {
            Kind::Skip => true,
            Kind::Date { year: None } => true,
            Kind::Date { year: Some(y) } => self.years.contains(&y),
            Kind::Year => self.years.contains(&(t.value as i64)),
            Kind::Figure => {
                !t.percent
                    && !t.money
                    && !t.scaled
                    && t.decimals == 0
                    && t.value <= 10.0
                    && !t.text.contains(',')
            }
        }
    }

    fn grounded(&self, t: &Token) -> bool {
        if self.known.holds(t.value, t.tolerance) {
            return true;
        }
        // 12.5% ↔ 0.125, and a ratio written for a percentage the results hold.
        if t.percent {
            return self.known.holds(t.value / 100.0, t.tolerance / 100.0);
        }
        t.decimals > 0 && t.value < 1.0 && self.known.holds(t.value * 100.0, t.tolerance * 100.0)
    }

    /// Checks every number of `answer`.
    pub fn check(&self, answer: &str) -> Grounding {
        let mut g = Grounding::default();
        for t in numbers(answer) {
            if self.exempt(&t) {
                continue;
            }
            g.checked += 1;
            if !self.grounded(&t) {
                g.ungrounded.push(Ungrounded {
                    text: t.text,
                    value: t.value,
                });
            }
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checker(results: Value) -> Checker {
        let mut k = Known::new();
        k.add_json(&results);
        Checker::new(k, 2025..=2026)
    }

    fn ungrounded(c: &Checker, answer: &str) -> Vec<String> {
        c.check(answer)
            .ungrounded
            .into_iter()
            .map(|u| u.text)
            .collect()
    }

    #[test]
    fn english_answer_with_the_results_figures_is_grounded() {
        let c = checker(
            json!({"totals": [{"currency": "USD", "revenue": "1234.50", "orders": 37}],
                               "refund_rate": 0.125}),
        );
        let g = c.check("Revenue was **$1,234.50** from 37 orders; 12.5% was refunded.");
        assert_eq!(
            g,
            Grounding {
                checked: 3,
                ungrounded: vec![]
            }
        );
    }

    #[test]
    fn japanese_answer_with_the_results_figures_is_grounded() {
        let c = checker(json!({"revenue": "1234567", "orders": 1234, "change": -0.032}));
        let g = c.check("先週の売上は123.5万円（注文１，２３４件）で、前週比３．２％減でした。");
        assert_eq!(g.ungrounded, vec![]);
        assert_eq!(g.checked, 3);
    }

    #[test]
    fn an_invented_number_is_ungrounded_in_both_languages() {
        let c = checker(json!({"revenue": "1234.50", "orders": 37}));
        assert_eq!(
            ungrounded(&c, "Revenue was $1,234.50 from 41 orders."),
            vec!["41"]
        );
        assert_eq!(
            ungrounded(&c, "売上は¥9,999で、注文は37件でした。"),
            vec!["¥9,999"]
        );
    }

    #[test]
    fn rounding_to_the_shown_precision_is_allowed_and_no_further() {
        let c = checker(json!({"revenue": "1234.5678", "aov": "33.3666"}));
        assert_eq!(
            ungrounded(&c, "$1,234.57, $1,235, $1.2k, 33.4"),
            Vec::<String>::new()
        );
        assert_eq!(
            ungrounded(&c, "$1,234.60 and $1,236 and 33.5"),
            vec!["$1,234.60", "$1,236", "33.5"]
        );
    }

    #[test]
    fn a_percentage_matches_its_ratio_and_a_ratio_its_percentage() {
        let c = checker(json!({"repeat_rate": 0.4167, "share": "12.5"}));
        assert_eq!(
            ungrounded(&c, "41.7% came back; 12.5% of sales; 0.125 of sales"),
            Vec::<String>::new()
        );
        assert_eq!(ungrounded(&c, "41.6% came back"), vec!["41.6%"]);
    }

    #[test]
    fn negative_changes_match_numbers_written_without_sign() {
        let c = checker(json!({"revenue_change": "-250.00", "change_pct": -12.5}));
        assert_eq!(
            ungrounded(&c, "Revenue fell by $250 (12.5%)."),
            Vec::<String>::new()
        );
    }

    #[test]
    fn small_integers_years_of_the_period_and_dates_are_exempt() {
        let c = checker(json!({"revenue": "100.00"}));
        let g = c.check("The top 3 products in 2026 (2025年 too), from 2026-03-01 to 3/7, 10:00.");
        assert_eq!(
            g,
            Grounding {
                checked: 0,
                ungrounded: vec![]
            }
        );
        // Not exempt: an 11, a year outside the period, a small percentage or amount.
        assert_eq!(
            ungrounded(&c, "11 products since 2019, 5% of $7"),
            vec!["11", "2019", "5%", "$7"]
        );
    }

    #[test]
    fn numbers_inside_result_strings_count_and_the_question_s_numbers_too() {
        let mut k = Known::new();
        k.add_json(&json!({"name": "#1001", "created_at": "2026-03-01T10:00:00Z"}));
        k.add_text("What happened to order 1001 over the last 30 days?");
        let c = Checker::new(k, 2026..=2026);
        assert_eq!(
            ungrounded(&c, "Order #1001 of the last 30 days"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_answer_without_numbers_checks_nothing() {
        let c = checker(json!({}));
        assert_eq!(c.check("売上は先週より減りました。"), Grounding::default());
    }
}
