//! Property-based fuzzing of the import readers (NDJSON and CSV), on the stable toolchain
//! with proptest. Each property runs `PROPTEST_CASES` generated inputs (256 by default, the
//! bounded run of the normal test suite; raise it for a longer campaign) after the committed
//! regression corpus under `tests/corpus/` (inputs that once broke a reader or pin a rule).
//! A failing case proptest finds is saved in `fuzz_readers.proptest-regressions` and replayed first
//! on every later run; commit it with the fix.
//!
//! What must hold for any input, cut into chunks anywhere:
//! - no panic, and the same records and bad lines however the bytes are chunked;
//! - NDJSON: each non-blank line yields exactly one record or one bad line, numbered as the
//!   line, in order;
//! - CSV: line numbers only grow; a stray quote opening a field is one bad line and reading
//!   resumes at the next line (every other row is still a record).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_shopdata::{ImportFormat, Parsed, RecordKind, RecordReader};
use proptest::prelude::*;

/// What a reader made of an input: each entry's line and its record (as text) or reason.
type Entries = Vec<(u64, Result<String, String>)>;

/// Reads `input` cut at `cuts` (positions, any order, out of range ones ignored).
fn read(
    kind: RecordKind,
    format: ImportFormat,
    input: &[u8],
    cuts: &[usize],
) -> Result<Entries, String> {
    let mut positions: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    positions.sort_unstable();
    positions.dedup();
    let mut reader = RecordReader::new(kind, format);
    let mut out = Vec::new();
    let mut start = 0;
    for p in positions.into_iter().chain([input.len()]) {
        reader.push(&input[start..p], &mut out)?;
        start = p;
    }
    reader.finish(&mut out)?;
    Ok(out
        .into_iter()
        .map(|p| match p {
            Parsed::Record(n, r) => (n, Ok(format!("{r:?}"))),
            Parsed::Bad(n, reason) => (n, Err(reason)),
        })
        .collect())
}

fn kinds() -> impl Strategy<Value = RecordKind> {
    prop_oneof![
        Just(RecordKind::Orders),
        Just(RecordKind::Products),
        Just(RecordKind::Customers)
    ]
}

/// Bytes that look like import data often enough to reach deep into the parsers.
fn importish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..8),
        4 => prop::sample::select(vec![
            &b"\n"[..], b"\r\n", b",", b"\"", b"\"\"", b"{", b"}", b"[", b"]", b":", b"\"id\"",
            b"\"id\": 1", b"123", b"-1", b"1e400", b"null", b"true", b"\xef\xbb\xbf", b"\xff",
            b"order_id", b"customer_id", b"product_id", b"title", b"2026-01-02T10:00:00Z",
            b"EUR", b"19.99", b"line_items", b"variants", b" ", b"\t", b"\0",
        ])
        .prop_map(|s| s.to_vec()),
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<usize>(), 0..8)
}

/// The committed corpus files of one reader.
fn corpus(dir: &str) -> Vec<(String, Vec<u8>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", path.display());
    files
        .into_iter()
        .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
        .collect()
}

/// NDJSON's line rule, checked on one input: one entry per non-blank line, in order.
fn check_ndjson_lines(kind: RecordKind, input: &[u8], cuts: &[usize]) {
    let whole = read(kind, ImportFormat::Ndjson, input, &[]).unwrap();
    let chunked = read(kind, ImportFormat::Ndjson, input, cuts).unwrap();
    assert_eq!(whole, chunked, "chunking changed the result");
    let expected: Vec<u64> = input
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            !l.iter().all(u8::is_ascii_whitespace)
        })
        .map(|(i, _)| i as u64 + 1)
        .collect();
    let got: Vec<u64> = whole.iter().map(|(n, _)| *n).collect();
    assert_eq!(got, expected, "one entry per non-blank line");
}

#[test]
fn ndjson_corpus_keeps_the_line_rule() {
    for (name, input) in corpus("ndjson") {
        for kind in [
            RecordKind::Orders,
            RecordKind::Products,
            RecordKind::Customers,
        ] {
            let cuts: Vec<usize> = (0..input.len()).step_by(7).collect();
            let result = std::panic::catch_unwind(|| check_ndjson_lines(kind, &input, &cuts));
            assert!(result.is_ok(), "{name} ({kind:?})");
        }
    }
}

#[test]
fn csv_corpus_reads_the_same_in_any_chunks() {
    for (name, input) in corpus("csv") {
        for kind in [
            RecordKind::Orders,
            RecordKind::Products,
            RecordKind::Customers,
        ] {
            let whole = read(kind, ImportFormat::Csv, &input, &[]);
            let cuts: Vec<usize> = (0..input.len()).collect();
            let bytewise = read(kind, ImportFormat::Csv, &input, &cuts);
            assert_eq!(whole, bytewise, "{name} ({kind:?})");
        }
    }
}

/// The corpus case of the issue: one stray quote no longer swallows the rows after it.
#[test]
fn csv_corpus_stray_quote_is_one_bad_line() {
    let input = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/csv/stray_quote.csv"),
    )
    .unwrap();
    let out = read(RecordKind::Customers, ImportFormat::Csv, &input, &[]).unwrap();
    let bad: Vec<u64> = out
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(bad, vec![3], "{out:?}");
    assert_eq!(out.iter().filter(|(_, r)| r.is_ok()).count(), 4, "{out:?}");
}

proptest! {
    #[test]
    fn ndjson_yields_one_entry_per_non_blank_line_in_any_chunks(
        kind in kinds(),
        input in importish_bytes(),
        cuts in cuts(),
    ) {
        check_ndjson_lines(kind, &input, &cuts);
    }

    #[test]
    fn ndjson_reads_any_json_value_without_panicking(
        kind in kinds(),
        values in proptest::collection::vec(json_value(), 1..6),
    ) {
        let input: String = values.iter().map(|v| format!("{v}\n")).collect();
        let out = read(kind, ImportFormat::Ndjson, input.as_bytes(), &[]).unwrap();
        prop_assert_eq!(out.len(), values.len());
    }

    #[test]
    fn csv_reads_the_same_in_any_chunks_and_numbers_lines_in_order(
        kind in kinds(),
        header in prop::sample::select(vec![
            "order_id,created_at,currency,total_price,line_item_id,quantity,price\n",
            "product_id,title,variant_id,price\n",
            "customer_id,email,first_name\n",
            "\u{feff}Customer_ID,EMAIL\r\n",
        ]),
        body in importish_bytes(),
        cuts in cuts(),
    ) {
        let mut input = header.as_bytes().to_vec();
        input.extend_from_slice(&body);
        let whole = read(kind, ImportFormat::Csv, &input, &[]);
        let chunked = read(kind, ImportFormat::Csv, &input, &cuts);
        prop_assert_eq!(&whole, &chunked);
        if let Ok(out) = whole {
            let lines = input.iter().filter(|b| **b == b'\n').count() as u64 + 1;
            for pair in out.windows(2) {
                prop_assert!(pair[0].0 <= pair[1].0, "line numbers go back: {:?}", out);
            }
            for (n, _) in &out {
                prop_assert!(*n >= 2 && *n <= lines, "line {} of {}", n, lines);
            }
        }
    }

    #[test]
    fn csv_stray_quote_is_one_bad_line_and_reading_resumes_at_the_next(
        rows in proptest::collection::vec(("[a-z]{1,8}", "[A-Za-z ]{0,8}"), 1..40),
        stray in any::<prop::sample::Index>(),
        column in 1usize..3,
        crlf in any::<bool>(),
        cuts in cuts(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let k = stray.index(rows.len());
        let mut input = format!("customer_id,email,first_name{eol}");
        for (i, (user, name)) in rows.iter().enumerate() {
            let mut fields = [format!("{}", i + 1), format!("{user}@example.test"), name.clone()];
            if i == k {
                fields[column].insert(0, '"');
            }
            input.push_str(&fields.join(","));
            input.push_str(eol);
        }
        let out = read(RecordKind::Customers, ImportFormat::Csv, input.as_bytes(), &cuts).unwrap();
        let stray_line = k as u64 + 2;
        for (i, _) in rows.iter().enumerate() {
            let line = i as u64 + 2;
            let entries: Vec<_> = out.iter().filter(|(n, _)| *n == line).collect();
            prop_assert_eq!(entries.len(), 1, "line {}: {:?}", line, out);
            if line == stray_line {
                prop_assert!(entries[0].1.is_err(), "the stray quote's line is bad: {:?}", entries);
            } else {
                prop_assert!(entries[0].1.is_ok(), "line {} is a record: {:?}", line, entries);
            }
        }
        prop_assert_eq!(out.len(), rows.len());
    }
}

/// Any JSON value, records-shaped often enough (an `id`, nested objects and arrays).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "email",
                    "created_at",
                    "updated_at",
                    "currency",
                    "total_price",
                    "line_items",
                    "variants",
                    "title",
                    "price",
                    "quantity",
                    "customer",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..8,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
