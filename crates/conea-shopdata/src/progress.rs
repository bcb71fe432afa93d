//! What a shop-data job (an import, a Shopify sync or reconciliation) says about its
//! progress: one typed note per step. A note is stored as the job's progress message in
//! English (the API's `progress_message`, the same text as before notes were typed) and
//! read back from that text by [`ProgressNote::parse`], so the console can say it in the
//! member's language. Each note's English wording lives once, in [`ProgressNote::parts`].

use std::fmt;

use crate::model::RecordKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressNote {
    /// An import waits for the imports of this process that started before it.
    WaitingForTurn,
    /// An import restarted after a crash skips the rows it had committed.
    ImportResuming { rows: u64 },
    /// An import is reading its file.
    ImportReading { rows: u64, rejected: u64 },
    /// An import is done.
    ImportDone { imported: u64, rejected: u64 },
    /// A Shopify bulk operation has been read for one kind of record.
    SyncedInBulk { kind: RecordKind, records: u64 },
    /// A Shopify sync pass has written this many records of a kind so far.
    Synced { kind: RecordKind, records: i64 },
    /// A Shopify bulk operation's state (Shopify's status, lower case).
    BulkOperation { kind: RecordKind, status: String },
    /// Lines of a bulk operation's result read so far.
    LinesRead { kind: RecordKind, lines: u64 },
    /// A reconciliation of one kind: ids compared, records removed and fetched.
    Reconciled {
        kind: RecordKind,
        checked: i64,
        removed: i64,
        fetched: i64,
    },
}

/// The English text around a note's values: `pieces[0] value pieces[1] value … pieces[n]`.
type Pieces = &'static [&'static str];

const WAITING: Pieces = &["waiting for the imports before it in this process"];
const RESUMING: Pieces = &["resuming after ", " rows committed earlier"];
const READING: Pieces = &["", " rows read, ", " rejected"];
const DONE: Pieces = &["", " rows imported, ", " rejected"];
const SYNCED_IN_BULK: Pieces = &["", ": ", " synced in bulk"];
const SYNCED: Pieces = &["", ": ", " synced"];
const BULK_OPERATION: Pieces = &["", ": bulk operation ", ""];
const LINES_READ: Pieces = &["", ": ", " lines read"];
const RECONCILED: Pieces = &["", ": ", " checked, ", " removed, ", " fetched"];

impl ProgressNote {
    /// The note's English pieces and its values, in order.
    fn parts(&self) -> (Pieces, Vec<String>) {
        match self {
            ProgressNote::WaitingForTurn => (WAITING, vec![]),
            ProgressNote::ImportResuming { rows } => (RESUMING, vec![rows.to_string()]),
            ProgressNote::ImportReading { rows, rejected } => {
                (READING, vec![rows.to_string(), rejected.to_string()])
            }
            ProgressNote::ImportDone { imported, rejected } => {
                (DONE, vec![imported.to_string(), rejected.to_string()])
            }
            ProgressNote::SyncedInBulk { kind, records } => (
                SYNCED_IN_BULK,
                vec![kind.as_str().to_owned(), records.to_string()],
            ),
            ProgressNote::Synced { kind, records } => {
                (SYNCED, vec![kind.as_str().to_owned(), records.to_string()])
            }
            ProgressNote::BulkOperation { kind, status } => (
                BULK_OPERATION,
                vec![kind.as_str().to_owned(), status.clone()],
            ),
            ProgressNote::LinesRead { kind, lines } => (
                LINES_READ,
                vec![kind.as_str().to_owned(), lines.to_string()],
            ),
            ProgressNote::Reconciled {
                kind,
                checked,
                removed,
                fetched,
            } => (
                RECONCILED,
                vec![
                    kind.as_str().to_owned(),
                    checked.to_string(),
                    removed.to_string(),
                    fetched.to_string(),
                ],
            ),
        }
    }

    /// The note a progress message says, if it is one (a message written before notes, or
    /// by another kind of job, is `None`).
    pub fn parse(text: &str) -> Option<ProgressNote> {
        let kind = |v: &str| RecordKind::parse(v);
        let with = |pieces: Pieces| values(text, pieces);
        if with(WAITING).is_some() {
            return Some(ProgressNote::WaitingForTurn);
        }
        (|| {
            let v = with(RESUMING)?;
            Some(ProgressNote::ImportResuming {
                rows: v[0].parse().ok()?,
            })
        })()
        .or_else(|| {
            let v = with(READING)?;
            Some(ProgressNote::ImportReading {
                rows: v[0].parse().ok()?,
                rejected: v[1].parse().ok()?,
            })
        })
        .or_else(|| {
            let v = with(DONE)?;
            Some(ProgressNote::ImportDone {
                imported: v[0].parse().ok()?,
                rejected: v[1].parse().ok()?,
            })
        })
        .or_else(|| {
            let v = with(SYNCED_IN_BULK)?;
            Some(ProgressNote::SyncedInBulk {
                kind: kind(v[0])?,
                records: v[1].parse().ok()?,
            })
        })
        .or_else(|| {
            let v = with(SYNCED)?;
            Some(ProgressNote::Synced {
                kind: kind(v[0])?,
                records: v[1].parse().ok()?,
            })
        })
        .or_else(|| {
            let v = with(BULK_OPERATION)?;
            Some(ProgressNote::BulkOperation {
                kind: kind(v[0])?,
                status: v[1].to_owned(),
            })
        })
        .or_else(|| {
            let v = with(LINES_READ)?;
            Some(ProgressNote::LinesRead {
                kind: kind(v[0])?,
                lines: v[1].parse().ok()?,
            })
        })
        .or_else(|| {
            let v = with(RECONCILED)?;
            Some(ProgressNote::Reconciled {
                kind: kind(v[0])?,
                checked: v[1].parse().ok()?,
                removed: v[2].parse().ok()?,
                fetched: v[3].parse().ok()?,
            })
        })
    }
}

/// The values between `pieces` in `text`, each up to the first occurrence of the piece that
/// follows it (the last value runs to the final piece, which ends the text).
fn values(text: &str, pieces: Pieces) -> Option<Vec<&str>> {
    let (first, rest) = pieces.split_first()?;
    let mut text = text.strip_prefix(first)?;
    let Some((last, middle)) = rest.split_last() else {
        return text.is_empty().then(Vec::new);
    };
    let mut out = Vec::with_capacity(rest.len());
    for piece in middle {
        let at = text.find(piece)?;
        out.push(&text[..at]);
        text = &text[at + piece.len()..];
    }
    out.push(text.strip_suffix(last)?);
    Some(out)
}

impl fmt::Display for ProgressNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (pieces, values) = self.parts();
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                f.write_str(&values[i - 1])?;
            }
            f.write_str(piece)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds_of_note() -> Vec<ProgressNote> {
        let mut notes = vec![
            ProgressNote::WaitingForTurn,
            ProgressNote::ImportResuming { rows: 1200 },
            ProgressNote::ImportReading {
                rows: 10,
                rejected: 0,
            },
            ProgressNote::ImportDone {
                imported: 999_999,
                rejected: 3,
            },
        ];
        for kind in [
            RecordKind::Orders,
            RecordKind::Products,
            RecordKind::Customers,
        ] {
            notes.extend([
                ProgressNote::SyncedInBulk { kind, records: 7 },
                ProgressNote::Synced { kind, records: 250 },
                ProgressNote::BulkOperation {
                    kind,
                    status: "running".into(),
                },
                ProgressNote::LinesRead { kind, lines: 0 },
                ProgressNote::Reconciled {
                    kind,
                    checked: 5,
                    removed: 1,
                    fetched: 2,
                },
            ]);
        }
        notes
    }

    #[test]
    fn every_note_reads_back_from_its_english_text() {
        for note in all_kinds_of_note() {
            assert_eq!(
                ProgressNote::parse(&note.to_string()),
                Some(note.clone()),
                "{note}"
            );
        }
    }

    #[test]
    fn the_english_text_is_the_message_jobs_wrote_before_notes_were_typed() {
        let kind = RecordKind::Orders;
        for (note, text) in [
            (
                ProgressNote::ImportReading {
                    rows: 10,
                    rejected: 1,
                },
                "10 rows read, 1 rejected",
            ),
            (
                ProgressNote::ImportDone {
                    imported: 9,
                    rejected: 1,
                },
                "9 rows imported, 1 rejected",
            ),
            (
                ProgressNote::SyncedInBulk { kind, records: 4 },
                "orders: 4 synced in bulk",
            ),
            (
                ProgressNote::BulkOperation {
                    kind,
                    status: "completed".into(),
                },
                "orders: bulk operation completed",
            ),
            (
                ProgressNote::Reconciled {
                    kind,
                    checked: 5,
                    removed: 0,
                    fetched: 2,
                },
                "orders: 5 checked, 0 removed, 2 fetched",
            ),
        ] {
            assert_eq!(note.to_string(), text);
        }
    }

    #[test]
    fn other_messages_are_no_note() {
        for text in [
            "",
            "orders: many synced",
            "coupons: 4 synced",
            "10 rows read, 1 rejected!",
            "resuming after -1 rows committed earlier",
            "report computed",
        ] {
            assert_eq!(ProgressNote::parse(text), None, "{text}");
        }
    }
}
