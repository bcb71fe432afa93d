//! Property-based fuzzing of cron expressions and their evaluation (proptest, stable
//! toolchain). `PROPTEST_CASES` generated cases per property (256 by default: the bounded run
//! of the normal test suite), after the committed regression corpus
//! (`tests/corpus/cron.txt`: one `expression<TAB>zone` a line).
//!
//! What must hold: parsing any text never panics; for an expression that parses, in any
//! zone, the next firing is after the given instant, the latest at or before is not after
//! it, the upcoming firings strictly increase, and each of them is its own latest firing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_schedules::cron::{parse_cron, CronSpec};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "UTC",
    "Asia/Tokyo",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Chatham",
];

/// 1990 to 2100, in milliseconds.
fn instants() -> impl Strategy<Value = i64> {
    631_152_000_000i64..4_102_444_800_000i64
}

fn field(lo: u32, hi: u32, names: &'static [&'static str]) -> impl Strategy<Value = String> {
    let n = move || lo..=hi + 2;
    prop_oneof![
        Just("*".to_owned()),
        n().prop_map(|v| v.to_string()),
        (n(), n()).prop_map(|(a, b)| format!("{a}-{b}")),
        (n(), 0u32..15).prop_map(|(a, s)| format!("{a}/{s}")),
        (0u32..15).prop_map(|s| format!("*/{s}")),
        (n(), n(), 0u32..8).prop_map(|(a, b, s)| format!("{a}-{b}/{s}")),
        proptest::collection::vec(n(), 1..4).prop_map(|v| v
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")),
        prop::sample::select(names).prop_map(str::to_owned),
        prop::sample::select(vec![
            "L", "?", "5L", "MON#2", "1#5", "W", "15W", "LW", "-", ",", "/", "**"
        ])
        .prop_map(str::to_owned),
    ]
}

fn expressions() -> impl Strategy<Value = String> {
    (
        field(0, 59, &["0"]),
        field(0, 23, &["12"]),
        field(1, 31, &["L", "1W"]),
        field(1, 12, &["JAN", "feb", "DEC", "JAN-MAR"]),
        field(0, 7, &["MON", "sun", "MON-FRI", "SAT,SUN", "FRI#3", "5L"]),
    )
        .prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"))
}

fn check(expr: &str, zone: &str, at: i64) {
    let Ok(spec) = CronSpec::parse(expr, zone) else {
        return;
    };
    if let Some(next) = spec.next_after(at) {
        assert!(next > at, "`{expr}` in {zone}: next {next} not after {at}");
    }
    if let Some(latest) = spec.latest_at_or_before(at) {
        assert!(
            latest <= at,
            "`{expr}` in {zone}: latest {latest} after {at}"
        );
    }
    let upcoming = spec.upcoming(at, 4);
    for pair in upcoming.windows(2) {
        assert!(
            pair[0] < pair[1],
            "`{expr}` in {zone}: {upcoming:?} not increasing"
        );
    }
    for t in &upcoming {
        assert_eq!(
            spec.latest_at_or_before(*t),
            Some(*t),
            "`{expr}` in {zone}: a firing is its own latest"
        );
    }
    let _ = spec.count_between(at, at + 86_400_000, 100);
    let _ = spec.format(at);
}

#[test]
fn cron_corpus_keeps_the_evaluation_rules() {
    let corpus = include_str!("corpus/cron.txt");
    for line in corpus
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (expr, zone) = line.split_once('\t').unwrap_or((line, "UTC"));
        for at in [
            1_774_746_000_000, // 2026-03-29 01:00 UTC: Europe's spring gap
            1_793_494_800_000, // 2026-11-01 05:00 UTC: New York's fold
            946_684_799_999,   // the last millisecond of 1999
        ] {
            check(expr, zone, at);
        }
    }
}

proptest! {
    #[test]
    fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,40}") {
        let _ = parse_cron(&text);
    }

    #[test]
    fn a_parsed_expression_fires_after_now_in_increasing_order_in_any_zone(
        expr in expressions(),
        zone in prop::sample::select(ZONES),
        at in instants(),
    ) {
        check(&expr, zone, at);
    }
}
