//! One reader over both import formats: bytes in (in chunks of any size), numbered records
//! or bad lines out.

use super::csv::CsvRecords;
use super::lines::{Line, LineSplitter};
use super::model::{ImportFormat, Parsed, RecordKind};
use super::shopify::parse_ndjson_line;

/// Longest NDJSON line or CSV record accepted (a larger one is a bad line, not a crash).
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

// One reader per import; its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum RecordReader {
    Ndjson {
        kind: RecordKind,
        lines: LineSplitter,
    },
    Csv(CsvRecords),
}

impl RecordReader {
    pub fn new(kind: RecordKind, format: ImportFormat) -> Self {
        match format {
            ImportFormat::Ndjson => RecordReader::Ndjson {
                kind,
                lines: LineSplitter::new(MAX_RECORD_BYTES),
            },
            ImportFormat::Csv => RecordReader::Csv(CsvRecords::new(kind, MAX_RECORD_BYTES)),
        }
    }

    /// Parses what `chunk` completes into `out`. An error means the whole input is unusable
    /// (a CSV header without the required columns).
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Parsed>) -> Result<(), String> {
        match self {
            RecordReader::Ndjson { kind, lines } => {
                let kind = *kind;
                lines.push(chunk, |l| out.push(parse_line(kind, l)));
                Ok(())
            }
            RecordReader::Csv(c) => c.push(chunk, out),
        }
    }

    /// Ends the input.
    pub fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), String> {
        match self {
            RecordReader::Ndjson { kind, lines } => {
                let kind = *kind;
                lines.finish(|l| out.push(parse_line(kind, l)));
                Ok(())
            }
            RecordReader::Csv(c) => c.finish(out),
        }
    }
}

fn parse_line(kind: RecordKind, line: Line<'_>) -> Parsed {
    match line {
        // A byte order mark may open the file.
        Line::Text(1, text) if text.starts_with('\u{feff}') => {
            parse_line(kind, Line::Text(1, &text['\u{feff}'.len_utf8()..]))
        }
        Line::Text(n, text) => match parse_ndjson_line(kind, text) {
            Ok(r) => Parsed::Record(n, r),
            Err(reason) => Parsed::Bad(n, reason),
        },
        Line::Bad(n, reason) => Parsed::Bad(n, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_may_start_with_a_byte_order_mark() {
        let mut r = RecordReader::new(RecordKind::Customers, ImportFormat::Ndjson);
        let mut out = Vec::new();
        r.push("\u{feff}{\"id\": 1}\n{\"id\": 2}".as_bytes(), &mut out)
            .expect("readable");
        r.finish(&mut out).expect("readable");
        assert!(
            matches!(out.as_slice(), [Parsed::Record(1, _), Parsed::Record(2, _)]),
            "{out:?}"
        );
    }
}
