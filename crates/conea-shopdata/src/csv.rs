//! CSV imports. The first row names the columns (any order, case-insensitive, unknown
//! columns ignored); the README's "Data imports" section lists them per kind. Orders take
//! one row per line item and products one row per variant: consecutive rows with the same
//! `order_id` (`product_id`) form one record, whose order-level (product-level) fields come
//! from its first row. Input arrives in chunks; records may span chunks (and quoted fields
//! may hold newlines), memory stays bounded by the chunk and record size.

use super::fields::{self as f, opt_text};
use super::model::Parsed;
use super::model::{Customer, LineItem, Order, Product, Record, RecordKind, Variant};
use super::money::Money;
use std::collections::HashMap;

pub const ORDER_COLUMNS: &[&str] = &[
    "order_id",
    "name",
    "email",
    "customer_id",
    "created_at",
    "updated_at",
    "cancelled_at",
    "closed_at",
    "currency",
    "total_price",
    "subtotal_price",
    "total_discounts",
    "total_refunded",
    "financial_status",
    "fulfillment_status",
    "line_item_id",
    "product_id",
    "variant_id",
    "title",
    "sku",
    "quantity",
    "price",
];
const ORDER_REQUIRED: &[&str] = &["order_id", "created_at", "currency", "total_price"];

pub const PRODUCT_COLUMNS: &[&str] = &[
    "product_id",
    "title",
    "vendor",
    "product_type",
    "status",
    "created_at",
    "updated_at",
    "variant_id",
    "variant_title",
    "sku",
    "price",
    "inventory_quantity",
];
const PRODUCT_REQUIRED: &[&str] = &["product_id", "title"];

pub const CUSTOMER_COLUMNS: &[&str] = &[
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "orders_count",
    "total_spent",
    "created_at",
    "updated_at",
];
const CUSTOMER_REQUIRED: &[&str] = &["customer_id"];

/// The documented columns of a kind.
pub fn columns(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Orders => ORDER_COLUMNS,
        RecordKind::Products => PRODUCT_COLUMNS,
        RecordKind::Customers => CUSTOMER_COLUMNS,
    }
}

fn required_columns(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Orders => ORDER_REQUIRED,
        RecordKind::Products => PRODUCT_REQUIRED,
        RecordKind::Customers => CUSTOMER_REQUIRED,
    }
}

/// A quoted field may span at most this many lines; one still open after that is taken for
/// an unterminated quote.
pub const MAX_QUOTED_LINES: u32 = 1000;

/// Where the splitter stands inside the current record, as the `csv` crate reads it: a quote
/// opens a quoted field only at the start of a field (elsewhere it is an ordinary character),
/// and `""` inside a quoted field is an escaped quote.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: it closes the field unless another quote follows.
    QuoteInQuoted,
}

type Emit<'e> = dyn FnMut(Result<(u64, csv::StringRecord), (u64, String)>) + 'e;

/// Finds complete CSV records in a chunked byte stream (a newline outside quotes ends a
/// record) and parses them with the `csv` crate.
///
/// An unterminated quote would otherwise swallow every following row into one quoted field.
/// A record whose quoted field spans lines is taken for one when its quote is still open at
/// the end of the input, after [`MAX_QUOTED_LINES`] lines or past the record size limit, or
/// when, once closed, the record has more fields than the header (the quote ran into the
/// following rows). Its first line is then reported as a bad line and reading resumes at the
/// next line, as if the quote had not been there.
struct CsvSplitter {
    buf: Vec<u8>,
    scanned: usize,
    state: Scan,
    /// Where the record being scanned starts in `buf`.
    record_start: usize,
    /// Fields of the record being scanned so far.
    fields: usize,
    /// Newlines inside quotes in the record being scanned.
    quoted_newlines: u32,
    /// Fields of the header row, once seen.
    header_fields: Option<usize>,
    /// Lines consumed before `buf` starts.
    line_base: u64,
    max_record: usize,
    skipping: bool,
    /// Bytes of the stream were consumed: a UTF-8 BOM is now a character of a field, no
    /// longer the stream's byte-order mark.
    started: bool,
}

impl CsvSplitter {
    fn new(max_record: usize) -> Self {
        CsvSplitter {
            buf: Vec::new(),
            scanned: 0,
            state: Scan::FieldStart,
            record_start: 0,
            fields: 1,
            quoted_newlines: 0,
            header_fields: None,
            line_base: 0,
            max_record,
            skipping: false,
            started: false,
        }
    }

    fn new_record(&mut self, start: usize) {
        self.state = Scan::FieldStart;
        self.record_start = start;
        self.fields = 1;
        self.quoted_newlines = 0;
    }

    fn push(&mut self, mut chunk: &[u8], emit: &mut Emit<'_>) {
        if self.skipping {
            match chunk.iter().position(|b| *b == b'\n') {
                Some(p) => {
                    chunk = &chunk[p + 1..];
                    self.line_base += 1;
                    self.skipping = false;
                }
                None => return,
            }
        }
        self.buf.extend_from_slice(chunk);
        self.scan(emit);
        if self.buf.len() > self.max_record {
            if self.quoted_newlines > 0 {
                self.resynchronise(emit);
                return self.push(&[], emit);
            }
            self.parse(self.record_start, emit);
            emit(Err((
                self.line_base + 1,
                format!("record is longer than {} bytes", self.max_record),
            )));
            self.line_base += self.buf.iter().filter(|b| **b == b'\n').count() as u64;
            self.buf.clear();
            self.scanned = 0;
            self.started = true;
            self.new_record(0);
            self.skipping = true;
        }
    }

    /// Scans the new bytes, parsing the complete records they end and resynchronising after
    /// unterminated quotes.
    fn scan(&mut self, emit: &mut Emit<'_>) {
        let mut i = self.scanned;
        while i < self.buf.len() {
            let b = self.buf[i];
            i += 1;
            self.state = match (self.state, b) {
                (Scan::Quoted, b'"') => Scan::QuoteInQuoted,
                (Scan::Quoted, b'\n') => {
                    self.quoted_newlines += 1;
                    if self.quoted_newlines > MAX_QUOTED_LINES {
                        self.resynchronise(emit);
                        i = 0;
                        continue;
                    }
                    Scan::Quoted
                }
                (Scan::Quoted, _) => Scan::Quoted,
                (Scan::QuoteInQuoted, b'"') => Scan::Quoted,
                (Scan::FieldStart, b'"') => Scan::Quoted,
                (_, b',') => {
                    self.fields += 1;
                    Scan::FieldStart
                }
                // The `csv` crate ends a record at a lone `\r` too: a quote after it opens a field.
                (_, b'\n' | b'\r') => {
                    if self.quoted_newlines > 0
                        && self.header_fields.is_some_and(|h| self.fields > h)
                    {
                        self.resynchronise(emit);
                        i = 0;
                        continue;
                    }
                    let blank = self.buf[self.record_start..i]
                        .iter()
                        .all(u8::is_ascii_whitespace);
                    if self.header_fields.is_none() && !blank {
                        self.header_fields = Some(self.fields);
                    }
                    self.new_record(i);
                    Scan::FieldStart
                }
                _ => Scan::Unquoted,
            };
        }
        self.scanned = self.buf.len();
        if self.record_start > 0 {
            self.parse(self.record_start, emit);
        }
    }

    /// The quote opened on the current record's first line is unterminated: parse what
    /// precedes the record, report its first line, and rescan from the line after it.
    fn resynchronise(&mut self, emit: &mut Emit<'_>) {
        let start = self.record_start;
        self.parse(start, emit);
        let line = self.line_base + 1;
        let end = self
            .buf
            .iter()
            .position(|b| *b == b'\n')
            .map_or(self.buf.len(), |p| p + 1);
        emit(Err((
            line,
            "unterminated quoted field: the quote opened on this line is never closed \
             (the line is skipped; reading resumes on the next line)"
                .to_owned(),
        )));
        self.buf.drain(..end);
        self.line_base += 1;
        self.scanned = 0;
        self.started = true;
        self.new_record(0);
    }

    fn finish(&mut self, emit: &mut Emit<'_>) {
        while !self.skipping
            && self.quoted_newlines > 0
            && (self.state == Scan::Quoted || self.header_fields.is_some_and(|h| self.fields > h))
        {
            self.resynchronise(emit);
            self.scan(emit);
        }
        if !self.skipping && !self.buf.is_empty() {
            self.parse(self.buf.len(), emit);
        }
        self.new_record(0);
    }

    /// Parses the complete records in `buf[..end]` and drops them from the buffer.
    fn parse(&mut self, end: usize, emit: &mut Emit<'_>) {
        if end == 0 {
            return;
        }
        let region = &self.buf[..end];
        // The `csv` crate drops a BOM at the start of what it reads. Past the start of the
        // stream a BOM is a field's character (as when read in one piece), so such a region
        // is read after a newline, which the reader skips as a blank line; positions are
        // then one byte ahead of `region`.
        let shift = u64::from(self.started && region.starts_with(b"\xef\xbb\xbf"));
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::Read::chain(&b"\n"[..shift as usize], region));
        let mut record = csv::StringRecord::new();
        // The line a record starts on, counted here: after a CRLF the `csv` crate's position
        // is still on the line the `\n` ends (its line number one short), which made the
        // numbers depend on how the input was chunked. Records come in byte order, so the
        // newlines are counted once, from the previous record on.
        let (mut counted_to, mut newlines) = (0usize, 0u64);
        let mut line_of = |byte: u64| {
            let mut start = usize::try_from(byte.saturating_sub(shift))
                .unwrap_or(region.len())
                .min(region.len());
            while matches!(region.get(start), Some(b'\r' | b'\n')) {
                start += 1;
            }
            if start >= counted_to {
                newlines += region[counted_to..start]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64;
            } else {
                newlines = region[..start].iter().filter(|b| **b == b'\n').count() as u64;
            }
            counted_to = start;
            self.line_base + 1 + newlines
        };
        loop {
            let line = line_of(reader.position().byte());
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let at = record.position().map_or(line, |p| line_of(p.byte()));
                    emit(Ok((at, record.clone())));
                }
                Err(e) => {
                    let at = e.position().map_or(line, |p| line_of(p.byte()));
                    let reason = match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
                        _ => format!("unreadable CSV record: {e}"),
                    };
                    emit(Err((at, reason)));
                }
            }
        }
        self.line_base += region.iter().filter(|b| **b == b'\n').count() as u64;
        // `end` is a record boundary: the scan state belongs to the rest.
        self.buf.drain(..end);
        self.started = true;
        self.scanned = self.scanned.saturating_sub(end);
        self.record_start = self.record_start.saturating_sub(end);
    }
}

/// Column positions from the header row.
struct Columns(HashMap<String, usize>);

impl Columns {
    fn get<'r>(&self, row: &'r csv::StringRecord, name: &str) -> &'r str {
        self.0.get(name).and_then(|i| row.get(*i)).unwrap_or("")
    }
}

/// A record being assembled from consecutive rows.
struct Pending {
    key: i64,
    line: u64,
    result: Result<Record, (u64, String)>,
}

/// Turns CSV chunks into records of one kind.
pub struct CsvRecords {
    kind: RecordKind,
    splitter: CsvSplitter,
    columns: Option<Columns>,
    pending: Option<Pending>,
    fatal: Option<String>,
}

impl CsvRecords {
    pub fn new(kind: RecordKind, max_record: usize) -> Self {
        CsvRecords {
            kind,
            splitter: CsvSplitter::new(max_record),
            columns: None,
            pending: None,
            fatal: None,
        }
    }

    /// Feeds a chunk, appending finished records to `out`. An error is fatal (the header
    /// lacks a required column): the file cannot be read at all.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Parsed>) -> Result<(), String> {
        let mut rows = Vec::new();
        self.splitter.push(chunk, &mut |r| rows.push(r));
        self.take_rows(rows, out)
    }

    pub fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), String> {
        let mut rows = Vec::new();
        self.splitter.finish(&mut |r| rows.push(r));
        self.take_rows(rows, out)?;
        if self.columns.is_none() {
            return Err("the CSV file is empty: it needs a header row".into());
        }
        self.flush(out);
        Ok(())
    }

    fn take_rows(
        &mut self,
        rows: Vec<Result<(u64, csv::StringRecord), (u64, String)>>,
        out: &mut Vec<Parsed>,
    ) -> Result<(), String> {
        for row in rows {
            if let Some(e) = &self.fatal {
                return Err(e.clone());
            }
            match row {
                Err((line, reason)) => {
                    // Keep file order: the record before the bad line is complete.
                    self.flush(out);
                    out.push(Parsed::Bad(line, reason));
                }
                Ok((line, record)) => match &self.columns {
                    None => self.header(&record)?,
                    Some(_) => self.row(line, &record, out),
                },
            }
        }
        Ok(())
    }

    fn header(&mut self, record: &csv::StringRecord) -> Result<(), String> {
        let map: HashMap<String, usize> = record
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.trim()
                        .trim_start_matches('\u{feff}')
                        .to_ascii_lowercase(),
                    i,
                )
            })
            .collect();
        let missing: Vec<&str> = required_columns(self.kind)
            .iter()
            .filter(|c| !map.contains_key(**c))
            .copied()
            .collect();
        if !missing.is_empty() {
            let e = format!(
                "the CSV header lacks the required column(s) {} for {}",
                missing.join(", "),
                self.kind.as_str()
            );
            self.fatal = Some(e.clone());
            return Err(e);
        }
        self.columns = Some(Columns(map));
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<Parsed>) {
        if let Some(p) = self.pending.take() {
            out.push(match p.result {
                Ok(r) => Parsed::Record(p.line, r),
                Err((line, reason)) => Parsed::Bad(line, reason),
            });
        }
    }

    fn row(&mut self, line: u64, row: &csv::StringRecord, out: &mut Vec<Parsed>) {
        let Some(cols) = &self.columns else { return };
        let key_column = match self.kind {
            RecordKind::Orders => "order_id",
            RecordKind::Products => "product_id",
            RecordKind::Customers => "customer_id",
        };
        let key = match f::id(key_column, cols.get(row, key_column)) {
            Ok(k) => k,
            Err(reason) => {
                self.flush(out);
                out.push(Parsed::Bad(line, reason));
                return;
            }
        };
        let continues = self.pending.as_ref().is_some_and(|p| p.key == key)
            && self.kind != RecordKind::Customers;
        if continues {
            if let Some(p) = &mut self.pending {
                if let Ok(record) = &mut p.result {
                    if let Err(reason) = add_child(cols, row, record) {
                        p.result = Err((line, reason));
                    }
                }
            }
            return;
        }
        let result = start_record(self.kind, cols, row).map_err(|reason| (line, reason));
        self.flush(out);
        self.pending = Some(Pending { key, line, result });
    }
}

fn start_record(kind: RecordKind, c: &Columns, row: &csv::StringRecord) -> Result<Record, String> {
    let g = |name: &str| c.get(row, name);
    let mut record = match kind {
        RecordKind::Orders => {
            let created_at = f::time("created_at", g("created_at"))?;
            Record::Order(Order {
                source_id: f::id("order_id", g("order_id"))?,
                name: opt_text(g("name")),
                email: opt_text(g("email")),
                customer_id: f::opt_id("customer_id", g("customer_id"))?,
                currency: f::currency("currency", g("currency"))?,
                total_price: f::money("total_price", g("total_price"))?,
                subtotal_price: f::opt_money("subtotal_price", g("subtotal_price"))?,
                financial_status: opt_text(g("financial_status")),
                fulfillment_status: opt_text(g("fulfillment_status")),
                created_at,
                updated_at: f::opt_time("updated_at", g("updated_at"))?.unwrap_or(created_at),
                cancelled_at: f::opt_time("cancelled_at", g("cancelled_at"))?,
                closed_at: f::opt_time("closed_at", g("closed_at"))?,
                total_discounts: f::opt_money("total_discounts", g("total_discounts"))?
                    .unwrap_or(Money::ZERO),
                total_refunded: f::opt_money("total_refunded", g("total_refunded"))?
                    .unwrap_or(Money::ZERO),
                line_items: Vec::new(),
            })
        }
        RecordKind::Products => {
            let created_at = f::opt_time("created_at", g("created_at"))?;
            Record::Product(Product {
                source_id: f::id("product_id", g("product_id"))?,
                title: opt_text(g("title")).ok_or("title is required")?,
                vendor: opt_text(g("vendor")),
                product_type: opt_text(g("product_type")),
                status: opt_text(g("status")),
                created_at,
                updated_at: f::opt_time("updated_at", g("updated_at"))?
                    .or(created_at)
                    .unwrap_or(0),
                variants: Vec::new(),
            })
        }
        RecordKind::Customers => {
            let created_at = f::opt_time("created_at", g("created_at"))?;
            Record::Customer(Customer {
                source_id: f::id("customer_id", g("customer_id"))?,
                email: opt_text(g("email")),
                first_name: opt_text(g("first_name")),
                last_name: opt_text(g("last_name")),
                orders_count: f::opt_int("orders_count", g("orders_count"))?,
                total_spent: f::opt_money("total_spent", g("total_spent"))?,
                created_at,
                updated_at: f::opt_time("updated_at", g("updated_at"))?
                    .or(created_at)
                    .unwrap_or(0),
            })
        }
    };
    add_child(c, row, &mut record)?;
    Ok(record)
}

/// Adds the row's line item (variant), if it has one, to the record.
fn add_child(c: &Columns, row: &csv::StringRecord, record: &mut Record) -> Result<(), String> {
    let g = |name: &str| c.get(row, name);
    match record {
        Record::Order(o) => {
            if let Some(id) = f::opt_id("line_item_id", g("line_item_id"))? {
                let quantity = f::quantity("quantity", g("quantity"))?;
                let price = f::money("price", g("price"))?;
                f::line_total("line item", quantity, price)?;
                o.line_items.push(LineItem {
                    source_id: id,
                    product_id: f::opt_id("product_id", g("product_id"))?,
                    variant_id: f::opt_id("variant_id", g("variant_id"))?,
                    title: opt_text(g("title")).unwrap_or_default(),
                    sku: opt_text(g("sku")),
                    quantity,
                    price,
                });
            }
        }
        Record::Product(p) => {
            if let Some(id) = f::opt_id("variant_id", g("variant_id"))? {
                p.variants.push(Variant {
                    source_id: id,
                    title: opt_text(g("variant_title")),
                    sku: opt_text(g("sku")),
                    price: f::opt_money("price", g("price"))?,
                    inventory_quantity: f::opt_int("inventory_quantity", g("inventory_quantity"))?,
                });
            }
        }
        Record::Customer(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(kind: RecordKind, chunks: &[&str]) -> Result<Vec<Parsed>, String> {
        let mut r = CsvRecords::new(kind, 1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            r.push(c.as_bytes(), &mut out)?;
        }
        r.finish(&mut out)?;
        Ok(out)
    }

    const ORDERS: &str =
        "Order_ID,created_at,currency,total_price,line_item_id,title,quantity,price,extra\n\
        1,2024-01-01T10:00:00Z,USD,30.00,11,\"Hat, red\",1,10.00,x\n\
        1,,,,12,\"Scarf\nlong\",2,10.00,x\n\
        2,2024-01-02T10:00:00Z,USD,5.00,21,Sock,1,5.00,x\n";

    #[test]
    fn consecutive_rows_of_one_order_become_one_record_with_its_line_items() {
        // Split inside a quoted field and inside a row.
        let (a, b) = ORDERS.split_at(ORDERS.find("long").expect("marker"));
        let out = read(RecordKind::Orders, &[a, b]).expect("readable");
        assert_eq!(out.len(), 2);
        let Parsed::Record(line, Record::Order(o)) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!((*line, o.source_id, o.line_items.len()), (2, 1, 2));
        assert_eq!(o.line_items[0].title, "Hat, red");
        assert_eq!(o.line_items[1].title, "Scarf\nlong");
        let Parsed::Record(line, Record::Order(o2)) = &out[1] else {
            panic!("{out:?}")
        };
        assert_eq!((*line, o2.source_id), (5, 2));
    }

    #[test]
    fn bad_row_rejects_its_order_with_the_row_line_number() {
        let csv = "order_id,created_at,currency,total_price,line_item_id,quantity,price\n\
            1,2024-01-01T10:00:00Z,USD,1.00,11,1,1.00\n\
            1,,,,12,many,1.00\n\
            x,2024-01-01T10:00:00Z,USD,1.00,,,\n\
            3,2024-01-01T10:00:00Z,USD,1.00,,,\n";
        let out = read(RecordKind::Orders, &[csv]).expect("readable");
        assert!(
            matches!(&out[0], Parsed::Bad(3, r) if r.starts_with("quantity:")),
            "{out:?}"
        );
        assert!(
            matches!(&out[1], Parsed::Bad(4, r) if r.starts_with("order_id:")),
            "{out:?}"
        );
        assert!(
            matches!(&out[2], Parsed::Record(5, Record::Order(_))),
            "{out:?}"
        );
    }

    #[test]
    fn header_without_required_columns_is_fatal() {
        let e = read(RecordKind::Orders, &["order_id,currency\n1,USD\n"]).unwrap_err();
        assert!(e.contains("created_at, total_price"), "{e}");
        assert!(read(RecordKind::Customers, &[""]).is_err());
    }

    #[test]
    fn a_bom_is_dropped_at_the_start_of_the_file_only_however_the_input_is_chunked() {
        let csv = "\u{feff}customer_id,email\n\u{feff}\n\u{feff}2,b@example.com\n3,c@x\n";
        let whole = read(RecordKind::Customers, &[csv]).expect("readable");
        assert_eq!(lines(&whole), ["2!customer_id", "3!customer_id", "4:3"]);
        for split in 1..csv.len() {
            if !csv.is_char_boundary(split) {
                continue;
            }
            let (a, b) = csv.split_at(split);
            let out = read(RecordKind::Customers, &[a, b]).expect("readable");
            assert_eq!(lines(&out), lines(&whole), "split at {split}");
        }
    }

    #[test]
    fn a_lone_carriage_return_ends_a_record_however_the_input_is_chunked() {
        // After the `\r` a quote opens a field that spans a newline.
        let csv = "customer_id,first_name\n1,Ann\r2,\"Bo\nB.\"\n3,Cy\n";
        let whole = read(RecordKind::Customers, &[csv]).expect("readable");
        assert_eq!(lines(&whole), ["2:1", "2:2", "4:3"]);
        for split in 1..csv.len() {
            let (a, b) = csv.split_at(split);
            let out = read(RecordKind::Customers, &[a, b]).expect("readable");
            assert_eq!(lines(&out), lines(&whole), "split at {split}");
        }
    }

    fn lines(out: &[Parsed]) -> Vec<String> {
        out.iter()
            .map(|p| match p {
                Parsed::Record(n, Record::Customer(c)) => format!("{n}:{}", c.source_id),
                Parsed::Record(n, _) => format!("{n}:?"),
                Parsed::Bad(n, r) => format!("{n}!{}", r.split(':').next().unwrap_or("")),
            })
            .collect()
    }

    fn customers(rows: usize, stray_at: usize) -> String {
        let mut csv = String::from("customer_id,email,first_name\n");
        for i in 1..=rows {
            if i == stray_at {
                csv.push_str(&format!("{i},c{i}@example.com,\"Ann\n"));
            } else {
                csv.push_str(&format!("{i},c{i}@example.com,\"Ann, B.\"\n"));
            }
        }
        csv
    }

    #[test]
    fn unterminated_quote_is_a_bad_line_and_the_following_rows_are_read() {
        // The stray quote on line 3 (customer 2) would close at the next row's quote.
        let csv = customers(5, 2);
        for split in [1, 40, 61, csv.len() - 3] {
            let (a, b) = csv.split_at(split);
            let out = read(RecordKind::Customers, &[a, b]).expect("readable");
            assert_eq!(
                lines(&out),
                ["2:1", "3!unterminated quoted field", "4:3", "5:4", "6:5"],
                "split at {split}"
            );
        }
    }

    #[test]
    fn unterminated_quote_never_closed_resynchronises_at_the_next_line() {
        let csv = "customer_id,email\n1,\"a@example.com\n2,b@example.com\n3,c@example.com";
        let out = read(RecordKind::Customers, &[csv]).expect("readable");
        assert_eq!(lines(&out), ["2!unterminated quoted field", "3:2", "4:3"]);
        // A stray quote that is not at the start of a field is an ordinary character.
        let csv = "customer_id,first_name\n1,5\" screen\n2,Bo\n";
        let out = read(RecordKind::Customers, &[csv]).expect("readable");
        assert_eq!(lines(&out), ["2:1", "3:2"]);
    }

    #[test]
    fn one_stray_quote_in_many_rows_rejects_one_line() {
        let csv = customers(100_000, 10);
        let out = read(RecordKind::Customers, &[&csv]).expect("readable");
        let bad: Vec<_> = out
            .iter()
            .filter(|p| matches!(p, Parsed::Bad(..)))
            .collect();
        assert_eq!(out.len(), 100_000);
        assert!(
            matches!(bad.as_slice(), [Parsed::Bad(11, r)] if r.starts_with("unterminated")),
            "{bad:?}"
        );
    }

    #[test]
    fn quoted_fields_may_still_span_lines() {
        let csv = "customer_id,first_name,email\n1,\"Ann\nMarie\",a@example.com\n2,Bo,b@x\n";
        let out = read(RecordKind::Customers, &[csv]).expect("readable");
        assert_eq!(lines(&out), ["2:1", "4:2"]);
    }

    #[test]
    fn products_group_variants_and_customers_are_one_row_each() {
        let p = read(
            RecordKind::Products,
            &["product_id,title,variant_id,sku,price\n5,Tee,51,T-S,19.99\n5,Tee,52,T-M,19.99\n"],
        )
        .expect("readable");
        let Parsed::Record(_, Record::Product(p)) = &p[0] else {
            panic!("{p:?}")
        };
        assert_eq!(p.variants.len(), 2);
        let c = read(
            RecordKind::Customers,
            &["customer_id,email,total_spent\n7,a@example.com,10.00\n8,,\n"],
        )
        .expect("readable");
        assert_eq!(c.len(), 2);
    }
}
