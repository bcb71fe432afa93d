//! `conea data import FILE` and `conea data export KIND`, against a running server.
//!
//! An import is sent in parts (`--part-size`, default 64 MiB) that end on a record boundary
//! (a newline; in CSV, one outside quotes), each its own `POST /v1/data/imports` and so its
//! own import job; a CSV part starts with the file's header line. Imports upsert by source
//! id, so the parts may run in any order and sending one twice changes nothing. Each part
//! the server acknowledged (202) is written at once to a state file beside the file
//! (`orders.csv.conea-import`, or `--state`), removed when the import is done: an
//! interrupted upload run again with the same arguments skips those parts and sends the
//! rest. Then the jobs are followed to the end and their results summed (rejected lines
//! numbered as lines of the file). A progress bar on a terminal (bytes, then rows).
//!
//! An export streams `GET /v1/shop/{kind}?format=csv|ndjson` to standard output or a file.

use crate::cli::{DataExportArgs, DataImportArgs};
use anyhow::{anyhow, bail, Context, Result};
use futures::{Stream, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{IsTerminal, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes read from the file at a time.
const READ_SIZE: usize = 256 * 1024;
/// Rejected lines printed at most.
const SHOWN_REASONS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    Ndjson,
    Csv,
}

impl Format {
    fn of(given: Option<&str>, file: &Path) -> Result<Format> {
        match given {
            Some("csv") => Ok(Format::Csv),
            Some("ndjson") | Some("jsonl") => Ok(Format::Ndjson),
            Some(other) => bail!("--format `{other}`: use ndjson or csv"),
            None => match file.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("csv") => Ok(Format::Csv),
                _ => Ok(Format::Ndjson),
            },
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv",
        }
    }
}

/// A part the server acknowledged: bytes `[start, end)` of the file, its first line's
/// number in the file, and its import job.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Part {
    start: u64,
    end: u64,
    first_line: u64,
    job: String,
}

/// What an upload has done so far, kept between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    /// What the state belongs to: the file (path, size, modification time), the server,
    /// the kind and the shop.
    identity: String,
    format: Format,
    /// CSV: the header line's length (it starts every part).
    header_len: u64,
    parts: Vec<Part>,
}

/// The state file: `--state`, else beside the file (`orders.csv` → `orders.csv.conea-import`).
fn state_path(a: &DataImportArgs) -> PathBuf {
    a.state.clone().unwrap_or_else(|| {
        let mut name = a.file.as_os_str().to_owned();
        name.push(".conea-import");
        PathBuf::from(name)
    })
}

impl State {
    fn load(path: &Path, identity: &str) -> Option<State> {
        let text = std::fs::read_to_string(path).ok()?;
        let state: State = serde_json::from_str(&text).ok()?;
        (state.identity == identity).then_some(state)
    }

    /// Written to a temporary file and renamed over the old one: never half written.
    fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    fn sent(&self) -> u64 {
        self.parts.last().map_or(self.header_len, |p| p.end)
    }
}

/// Where a record ends: after a newline that is not inside a quoted CSV field.
#[derive(Debug, Clone, Copy)]
struct Boundary {
    csv: bool,
    in_quotes: bool,
}

impl Boundary {
    /// The index just past the first record end in `bytes`, if any; tracks quotes across
    /// calls.
    fn find(&mut self, bytes: &[u8]) -> Option<usize> {
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'"' if self.csv => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => return Some(i + 1),
                _ => {}
            }
        }
        None
    }
}

/// The CSV header's length (through its newline).
async fn header_len(file: &Path) -> Result<u64> {
    let mut f = tokio::fs::File::open(file).await?;
    let mut boundary = Boundary {
        csv: true,
        in_quotes: false,
    };
    let mut buf = vec![0u8; READ_SIZE];
    let mut offset = 0u64;
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            bail!("{}: the CSV file has no header line", file.display());
        }
        if let Some(end) = boundary.find(&buf[..n]) {
            return Ok(offset + end as u64);
        }
        offset += n as u64;
    }
}

/// Where the part starting at `start` ends, and the lines it holds: at the first record
/// end at or after `start + size` (or the file's end). With `key_col` (CSV orders and
/// products, whose consecutive rows with the same id form one record), the rows after that
/// with the same id as the row that crossed the size stay in the part: a part never splits
/// an order or a product.
async fn plan_part(
    file: &Path,
    start: u64,
    size: u64,
    csv: bool,
    key_col: Option<usize>,
) -> Result<(u64, u64)> {
    let mut f = tokio::fs::File::open(file).await?;
    f.seek(SeekFrom::Start(start)).await?;
    let limit = start.saturating_add(size);
    let mut boundary = Boundary {
        csv,
        in_quotes: false,
    };
    let mut buf = vec![0u8; READ_SIZE];
    let mut pos = start;
    let mut record: Vec<u8> = Vec::new();
    let mut lines = 0u64;
    let mut closing: Option<Option<String>> = None;
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok((pos, lines));
        }
        let mut i = 0;
        while i < n {
            let Some(k) = boundary.find(&buf[i..n]) else {
                record.extend_from_slice(&buf[i..n]);
                break;
            };
            record.extend_from_slice(&buf[i..i + k]);
            let end = pos + (i + k) as u64;
            let rec_start = end - record.len() as u64;
            let newlines = record.iter().filter(|b| **b == b'\n').count() as u64;
            if end >= limit {
                match (key_col, &closing) {
                    (None, _) => return Ok((end, lines + newlines)),
                    (Some(col), None) => closing = Some(csv_field(&record, col)),
                    (Some(col), Some(key)) => {
                        if csv_field(&record, col) != *key {
                            return Ok((rec_start, lines));
                        }
                    }
                }
            }
            lines += newlines;
            record.clear();
            i += k;
        }
        pos += n as u64;
    }
}

/// Field `col` of one CSV record, unquoted; `None` past its last field.
fn csv_field(record: &[u8], col: usize) -> Option<String> {
    let mut field = 0;
    let mut in_quotes = false;
    let mut value = Vec::new();
    let mut i = 0;
    while i < record.len() {
        let b = record[i];
        i += 1;
        match b {
            // `""` inside quotes is a quote character.
            b'"' if in_quotes && record.get(i) == Some(&b'"') => {
                i += 1;
                if field == col {
                    value.push(b'"');
                }
            }
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                if field == col {
                    break;
                }
                field += 1;
            }
            b'\r' | b'\n' if !in_quotes => {}
            _ if field == col => value.push(b),
            _ => {}
        }
    }
    (field >= col).then(|| String::from_utf8_lossy(&value).trim().to_string())
}

/// The column of a CSV kind whose consecutive rows form one record: `order_id` (orders),
/// `product_id` (products).
fn key_column(kind: &str, header: &[u8]) -> Option<usize> {
    let name = match kind {
        "orders" => "order_id",
        "products" => "product_id",
        _ => return None,
    };
    (0..)
        .map_while(|i| csv_field(header, i).map(|f| (i, f)))
        .find(|(_, f)| f.eq_ignore_ascii_case(name))
        .map(|(i, _)| i)
}

/// The body of a part: the header (CSV), then bytes `[start, end)` of the file.
fn part_body(
    file: PathBuf,
    header: Vec<u8>,
    start: u64,
    end: u64,
    sent: Arc<AtomicU64>,
) -> impl Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    struct S {
        f: Option<tokio::fs::File>,
        file: PathBuf,
        header: Option<Vec<u8>>,
        pos: u64,
        end: u64,
    }
    let init = S {
        f: None,
        file,
        header: (!header.is_empty()).then_some(header),
        pos: start,
        end,
    };
    futures::stream::unfold(init, move |mut s| {
        let sent = sent.clone();
        async move {
            if let Some(h) = s.header.take() {
                return Some((Ok(h), s));
            }
            if s.pos >= s.end {
                return None;
            }
            if s.f.is_none() {
                let opened = async {
                    let mut f = tokio::fs::File::open(&s.file).await?;
                    f.seek(SeekFrom::Start(s.pos)).await?;
                    Ok::<_, std::io::Error>(f)
                }
                .await;
                match opened {
                    Ok(f) => s.f = Some(f),
                    Err(e) => {
                        s.pos = s.end;
                        return Some((Err(e), s));
                    }
                }
            }
            let f = s.f.as_mut()?;
            let want = (s.end - s.pos).min(READ_SIZE as u64) as usize;
            let mut buf = vec![0u8; want];
            match f.read(&mut buf).await {
                Ok(0) => {
                    let e = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file became shorter while it was sent",
                    );
                    s.pos = s.end;
                    Some((Err(e), s))
                }
                Ok(n) => {
                    buf.truncate(n);
                    s.pos += n as u64;
                    sent.fetch_add(n as u64, Ordering::SeqCst);
                    Some((Ok(buf), s))
                }
                Err(e) => {
                    s.pos = s.end;
                    Some((Err(e), s))
                }
            }
        }
    })
}

fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()?)
}

fn bar(total: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb
}

fn identity(a: &DataImportArgs, file: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    let path = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    Ok(format!(
        "{}|{}|{}|{}|{}|{}",
        path.display(),
        meta.len(),
        mtime,
        a.url.trim_end_matches('/'),
        a.kind,
        a.shop.as_deref().unwrap_or("")
    ))
}

pub async fn import(a: DataImportArgs) -> Result<ExitCode> {
    let file = a.file.clone();
    let format = Format::of(a.format.as_deref(), &file)?;
    let size = std::fs::metadata(&file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let part_size = parse_size(&a.part_size).ok_or_else(|| {
        anyhow!(
            "--part-size `{}`: write a size such as 64MiB, 500KiB or 1048576",
            a.part_size
        )
    })?;
    let identity = identity(&a, &file)?;
    let state_path = state_path(&a);
    let header = match format {
        Format::Csv => {
            let len = header_len(&file).await?;
            let mut h = vec![0u8; len as usize];
            let mut f = tokio::fs::File::open(&file).await?;
            f.read_exact(&mut h).await?;
            h
        }
        Format::Ndjson => Vec::new(),
    };
    let key_col = match format {
        Format::Csv => key_column(&a.kind, &header),
        Format::Ndjson => None,
    };
    let mut state = match (a.restart, State::load(&state_path, &identity)) {
        (false, Some(s)) => {
            eprintln!(
                "Resuming: {} part(s), {} of {} bytes, were accepted before; sending the rest.",
                s.parts.len(),
                s.sent(),
                size
            );
            s
        }
        _ => State {
            identity: identity.clone(),
            format,
            header_len: header.len() as u64,
            parts: Vec::new(),
        },
    };
    let terminal = std::io::stderr().is_terminal();
    let pb = bar(size, terminal);
    pb.set_message("sending");
    pb.set_position(state.sent());
    let client = http()?;
    let base = a.url.trim_end_matches('/').to_string();
    let mut query = vec![("kind", a.kind.clone())];
    if let Some(shop) = &a.shop {
        query.push(("shop", shop.clone()));
    }
    let mut sent_now = 0usize;
    let mut next_line = state
        .parts
        .last()
        .map(|p| p.first_line)
        .unwrap_or(if format == Format::Csv { 2 } else { 1 });
    let mut last_lines = 0u64;
    if let Some(last) = state.parts.last() {
        last_lines = count_lines(&file, last.start, last.end).await?;
    }
    next_line += last_lines;
    while state.sent() < size {
        if a.max_parts.is_some_and(|m| sent_now >= m) {
            pb.finish_and_clear();
            eprintln!(
                "Stopped after {sent_now} part(s) as asked (--max-parts): {} of {size} bytes accepted ({}). Run the same command again to send the rest.",
                state.sent(),
                state_path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let start = state.sent();
        let (end, lines) =
            plan_part(&file, start, part_size, format == Format::Csv, key_col).await?;
        let sent = Arc::new(AtomicU64::new(0));
        let body = part_body(file.clone(), header.clone(), start, end, sent.clone());
        let ticker = {
            let pb = pb.clone();
            let sent = sent.clone();
            tokio::spawn(async move {
                loop {
                    pb.set_position(start + sent.load(Ordering::SeqCst));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        };
        let r = client
            .post(format!("{base}/v1/data/imports"))
            .query(&query)
            .bearer_auth(&a.token)
            .header(reqwest::header::CONTENT_TYPE, format.content_type())
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await;
        ticker.abort();
        let r = r.map_err(|e| {
            anyhow!("{base} did not take part {} (from byte {start}): {e}. Run the same command again to resume.", state.parts.len() + 1)
        })?;
        if r.status() != reqwest::StatusCode::ACCEPTED {
            pb.finish_and_clear();
            return Err(super::answer::error_of(r).await);
        }
        let job: Value = r.json().await?;
        let job = job["job_id"]
            .as_str()
            .ok_or_else(|| anyhow!("{base} answered 202 without a job id"))?
            .to_string();
        state.parts.push(Part {
            start,
            end,
            first_line: next_line,
            job,
        });
        next_line += lines;
        state.save(&state_path)?;
        sent_now += 1;
        pb.set_position(end);
    }
    pb.finish_and_clear();
    let outcome = follow(&client, &base, &a.token, &state, terminal).await?;
    let _ = std::fs::remove_file(&state_path);
    print_outcome(&outcome, a.json)?;
    Ok(if outcome.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `1048576`, `512KiB`, `64MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of 1024); above 0.
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale).filter(|v| *v > 0)
}

/// Lines in `[start, end)` of the file.
async fn count_lines(file: &Path, start: u64, end: u64) -> Result<u64> {
    let mut f = tokio::fs::File::open(file).await?;
    f.seek(SeekFrom::Start(start)).await?;
    let mut left = end.saturating_sub(start);
    let mut buf = vec![0u8; READ_SIZE];
    let mut lines = 0;
    while left > 0 {
        let n = f
            .read(&mut buf[..(left.min(READ_SIZE as u64) as usize)])
            .await?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        left -= n as u64;
    }
    Ok(lines)
}

#[derive(Debug, Default, Serialize)]
struct Outcome {
    parts: usize,
    jobs: Vec<String>,
    rows: u64,
    inserted: u64,
    updated: u64,
    skipped: u64,
    rejected: u64,
    /// The first rejected lines, numbered as lines of the file.
    first_rejections: Vec<Value>,
    /// Jobs that did not complete, with their last error.
    failed: Vec<Value>,
}

/// Waits for every part's job and sums their results.
async fn follow(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    state: &State,
    terminal: bool,
) -> Result<Outcome> {
    let mut outcome = Outcome {
        parts: state.parts.len(),
        ..Outcome::default()
    };
    let pb = if terminal {
        let pb = ProgressBar::new(state.parts.len() as u64);
        pb.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} parts, {prefix} rows")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_message("importing");
        pb
    } else {
        ProgressBar::hidden()
    };
    for part in &state.parts {
        let job = loop {
            let r = client
                .get(format!("{base}/v1/jobs/{}", part.job))
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| anyhow!("{base} did not answer: {e}"))?;
            if !r.status().is_success() {
                return Err(super::answer::error_of(r).await);
            }
            let job: Value = r.json().await?;
            match job["status"].as_str() {
                Some("completed" | "discarded" | "cancelled") => break job,
                _ => {
                    if let Some(m) = job["progress_message"].as_str() {
                        pb.set_prefix(format!("{} + {m}", outcome.rows));
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        };
        outcome.jobs.push(part.job.clone());
        if job["status"] != "completed" {
            outcome.failed.push(serde_json::json!({
                "job": part.job,
                "status": job["status"],
                "error": job["errors"].as_array().and_then(|e| e.last()).map(|e| e["error"].clone()),
            }));
            pb.inc(1);
            continue;
        }
        let r = &job["result"];
        let n = |k: &str| r[k].as_u64().unwrap_or(0);
        outcome.rows += n("rows");
        outcome.inserted += n("inserted");
        outcome.updated += n("updated");
        outcome.skipped += n("skipped");
        outcome.rejected += n("rejected");
        // A part's line 1 is the CSV header it was sent with: its data lines start at 2.
        let offset = if state.format == Format::Csv { 2 } else { 1 };
        for bad in r["bad_lines"].as_array().into_iter().flatten() {
            if outcome.first_rejections.len() >= SHOWN_REASONS {
                break;
            }
            let line = bad["line"].as_u64().unwrap_or(0);
            outcome.first_rejections.push(serde_json::json!({
                "line": part.first_line + line.saturating_sub(offset),
                "reason": bad["reason"],
            }));
        }
        pb.set_prefix(outcome.rows.to_string());
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(outcome)
}

fn print_outcome(o: &Outcome, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json || !std::io::stdout().is_terminal() {
        writeln!(out, "{}", serde_json::to_string_pretty(o)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "Imported in {} part(s): {} rows read, {} inserted, {} updated, {} skipped (older than stored), {} rejected.",
        o.parts, o.rows, o.inserted, o.updated, o.skipped, o.rejected
    )?;
    for r in &o.first_rejections {
        writeln!(
            out,
            "  line {}: {}",
            r["line"],
            r["reason"].as_str().unwrap_or("")
        )?;
    }
    for f in &o.failed {
        writeln!(out, "  job {} {}: {}", f["job"], f["status"], f["error"])?;
    }
    Ok(())
}

pub async fn export(a: DataExportArgs) -> Result<ExitCode> {
    let format = match a.format.as_str() {
        "csv" | "ndjson" => a.format.as_str(),
        other => bail!("--format `{other}`: use csv or ndjson"),
    };
    let mut query: Vec<(String, String)> = vec![("format".into(), format.into())];
    for f in &a.filter {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            anyhow!("--filter `{f}`: write NAME=VALUE, e.g. created_from=2025-01-01")
        })?;
        query.push((k.trim().to_string(), v.to_string()));
    }
    let base = a.url.trim_end_matches('/');
    let r = http()?
        .get(format!("{base}/v1/shop/{}", a.kind))
        .query(&query)
        .bearer_auth(&a.token)
        .send()
        .await
        .map_err(|e| anyhow!("{base} did not answer: {e}"))?;
    if !r.status().is_success() {
        return Err(super::answer::error_of(r).await);
    }
    let mut sink: Box<dyn Write> = match &a.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut stream = r.bytes_stream();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| anyhow!("the export was interrupted after {bytes} bytes: {e}"))?;
        bytes += chunk.len() as u64;
        sink.write_all(&chunk)?;
    }
    sink.flush()?;
    if a.output.is_some() {
        eprintln!("Wrote {bytes} bytes.");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_record_ends_at_a_newline_outside_quotes_only() {
        let mut b = Boundary {
            csv: true,
            in_quotes: false,
        };
        let text = b"1,\"two\nlines\",x\n2,y\n";
        assert_eq!(b.find(text), Some(16));
        let mut b = Boundary {
            csv: false,
            in_quotes: false,
        };
        assert_eq!(b.find(text), Some(7), "NDJSON knows no quotes");
    }

    #[test]
    fn part_sizes_read_binary_units_and_refuse_zero_and_words() {
        assert_eq!(parse_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("big"), None);
    }

    #[test]
    fn csv_fields_are_unquoted_and_counted_outside_quotes() {
        let rec = b"7,\"a, \"\"b\"\"\nc\",9\r\n";
        assert_eq!(csv_field(rec, 0).as_deref(), Some("7"));
        assert_eq!(csv_field(rec, 1).as_deref(), Some("a, \"b\"\nc"));
        assert_eq!(csv_field(rec, 2).as_deref(), Some("9"));
        assert_eq!(csv_field(rec, 3), None);
        assert_eq!(key_column("orders", b"Name,ORDER_ID,price\n"), Some(1));
        assert_eq!(key_column("customers", b"customer_id\n"), None);
    }

    #[tokio::test]
    async fn a_part_ends_past_its_size_and_never_splits_an_orders_rows() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("orders.csv");
        // Rows of orders 1, 1, 2, 2, 2, 3 (10 bytes each).
        std::fs::write(
            &file,
            "order_id,x\n1,aaaaaaa\n1,bbbbbbb\n2,ccccccc\n2,ddddddd\n2,eeeeeee\n3,fffffff\n",
        )
        .expect("write");
        let header = 11;
        // 15 bytes from the first row end inside the second row of order 1: the part ends
        // after it (order 2 begins the next part).
        assert_eq!(
            plan_part(&file, header, 15, true, Some(0))
                .await
                .expect("plan"),
            (header + 20, 2)
        );
        // From order 2, 5 bytes end in its first row; its three rows stay together.
        assert_eq!(
            plan_part(&file, header + 20, 5, true, Some(0))
                .await
                .expect("plan"),
            (header + 50, 3)
        );
        // Without a key column, the part ends at the first record end past its size.
        assert_eq!(
            plan_part(&file, header + 20, 5, true, None)
                .await
                .expect("plan"),
            (header + 30, 1)
        );
        // The last part ends at the file's end.
        assert_eq!(
            plan_part(&file, header + 50, 1000, true, Some(0))
                .await
                .expect("plan"),
            (header + 60, 1)
        );
    }
}
