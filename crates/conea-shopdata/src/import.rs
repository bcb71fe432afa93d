//! The import pipeline behind `data.import`: read an upload chunk by chunk, parse records,
//! upsert them in batches while the next chunk is parsed, report progress, and summarise.
//! Memory is bounded by one chunk, one batch being parsed and a few being written, whatever
//! the file size. Running it again on the same upload is safe: upserts are idempotent.
//!
//! Resuming: after each batch is committed (and every batch before it), the report as of
//! that batch is stored as the upload's checkpoint. An attempt that finds a checkpoint (the
//! previous one crashed or failed) counts from it and writes only the records after it: the
//! file is parsed again from its start (CPU only), but nothing before the checkpoint is
//! written or counted again.

use super::model::Parsed;
use super::model::{Customer, ImportFormat, Order, Product, Record, RecordKind};
use super::progress::ProgressNote;
use super::reader::RecordReader;
use super::store::{ShopDataStore, UpsertCounts};
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::StoreError;
use conea_jobs::JobError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Records per upsert batch.
pub const BATCH_SIZE: usize = 1000;
/// Batches written at once (each on its own connection).
pub const WRITERS: usize = 2;
/// Bad lines listed in the result (all are counted).
pub const MAX_BAD_LINES: usize = 100;
/// Imports that insert at least this many records refresh the planner statistics.
pub const ANALYZE_AFTER_INSERTS: u64 = 10_000;
/// Suggested size of upload chunks (the reader accepts any size).
pub const UPLOAD_CHUNK_BYTES: usize = 1024 * 1024;

/// Arguments of a `data.import` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportArgs {
    pub upload_id: String,
    pub kind: RecordKind,
    pub shop_id: ShopId,
    pub format: ImportFormat,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLine {
    pub line: u64,
    pub reason: String,
}

/// The result of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Records read (good and bad): orders, products or customers.
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Valid records not written because a newer version was already stored.
    pub skipped: u64,
    pub rejected: u64,
    /// The first [`MAX_BAD_LINES`] rejected lines, in file order.
    pub bad_lines: Vec<BadLine>,
    /// Records an earlier attempt had committed: this one resumed after them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resumed_after: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The checkpoint an upload starts with when it is sealed (nothing committed yet).
pub fn initial_checkpoint() -> String {
    checkpoint_text(&ImportReport::default())
}

fn checkpoint_text(report: &ImportReport) -> String {
    // A struct of numbers and strings always serializes.
    serde_json::to_string(report).unwrap_or_default()
}

/// A stored checkpoint: the report as of the last committed batch, and whether the import
/// finished (its chunks are then gone and the report is the job's result).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    #[serde(flatten)]
    report: ImportReport,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    finished: bool,
}

fn finished_checkpoint_text(report: &ImportReport) -> String {
    let checkpoint = Checkpoint {
        report: report.clone(),
        finished: true,
    };
    serde_json::to_string(&checkpoint).unwrap_or_default()
}

/// Where the pipeline reports to; the job context in production, [`Quiet`] in tests.
#[async_trait::async_trait]
pub trait ImportProgress: Send + Sync {
    async fn progress(&self, percent: u8, note: &ProgressNote);
    fn is_cancelled(&self) -> bool;
}

/// Reports nothing and is never cancelled.
pub struct Quiet;

#[async_trait::async_trait]
impl ImportProgress for Quiet {
    async fn progress(&self, _percent: u8, _note: &ProgressNote) {}
    fn is_cancelled(&self) -> bool {
        false
    }
}

fn store_error(e: StoreError) -> JobError {
    JobError::retryable(format!("storage failed: {e}"))
}

enum Records {
    Orders(Vec<Order>),
    Products(Vec<Product>),
    Customers(Vec<Customer>),
}

impl Records {
    fn new(kind: RecordKind) -> Records {
        match kind {
            RecordKind::Orders => Records::Orders(Vec::with_capacity(BATCH_SIZE)),
            RecordKind::Products => Records::Products(Vec::with_capacity(BATCH_SIZE)),
            RecordKind::Customers => Records::Customers(Vec::with_capacity(BATCH_SIZE)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Records::Orders(v) => v.len(),
            Records::Products(v) => v.len(),
            Records::Customers(v) => v.len(),
        }
    }

    /// Adds a record of the batch's kind (readers only produce their own kind).
    fn push(&mut self, record: Record) {
        match (self, record) {
            (Records::Orders(v), Record::Order(o)) => v.push(o),
            (Records::Products(v), Record::Product(p)) => v.push(p),
            (Records::Customers(v), Record::Customer(c)) => v.push(c),
            _ => {}
        }
    }

    async fn write(
        &self,
        store: &dyn ShopDataStore,
        org: &OrgId,
        shop: &ShopId,
        now: EpochMs,
    ) -> Result<UpsertCounts, StoreError> {
        match self {
            Records::Orders(v) => store.upsert_orders(org, shop, v, now).await,
            Records::Products(v) => store.upsert_products(org, shop, v, now).await,
            Records::Customers(v) => store.upsert_customers(org, shop, v, now).await,
        }
    }
}

/// A batch of records with its place in the file: `through` is the report as of its last
/// record (rows, rejected and bad lines; not the write counts).
struct Batch {
    seq: u64,
    records: Records,
    through: ImportReport,
}

/// Stores the checkpoint once a batch and every batch before it are committed (batches
/// finish out of order on the writers).
struct Checkpointer {
    store: Arc<dyn ShopDataStore>,
    org: OrgId,
    upload_id: String,
    now: EpochMs,
    /// The next batch not yet committed.
    next: u64,
    /// Committed batches after a gap.
    done: std::collections::BTreeMap<u64, (UpsertCounts, ImportReport)>,
    committed: ImportReport,
}

impl Checkpointer {
    async fn committed(
        &mut self,
        seq: u64,
        counts: UpsertCounts,
        through: ImportReport,
    ) -> Result<(), StoreError> {
        self.done.insert(seq, (counts, through));
        let mut advanced = false;
        while let Some((counts, through)) = self.done.remove(&self.next) {
            let c = &self.committed;
            self.committed = ImportReport {
                inserted: c.inserted + counts.inserted,
                updated: c.updated + counts.updated,
                skipped: c.skipped + counts.skipped,
                ..through
            };
            self.next += 1;
            advanced = true;
        }
        if advanced {
            self.store
                .save_import_checkpoint(
                    &self.org,
                    &self.upload_id,
                    &checkpoint_text(&self.committed),
                    self.now,
                )
                .await?;
        }
        Ok(())
    }
}

/// Writes batches on tasks of their own (each with its own connection), so parsing the
/// next batch overlaps the database and the database works on several batches at once.
struct Writer {
    tx: Option<mpsc::Sender<Batch>>,
    tasks: Vec<tokio::task::JoinHandle<Result<UpsertCounts, StoreError>>>,
}

impl Writer {
    fn start(
        store: Arc<dyn ShopDataStore>,
        org: OrgId,
        shop: ShopId,
        now: EpochMs,
        checkpoints: Checkpointer,
    ) -> Writer {
        let (tx, rx) = mpsc::channel::<Batch>(WRITERS);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let checkpoints = Arc::new(tokio::sync::Mutex::new(checkpoints));
        let tasks = (0..WRITERS)
            .map(|_| {
                let (store, org, shop, rx) = (store.clone(), org.clone(), shop.clone(), rx.clone());
                let checkpoints = checkpoints.clone();
                tokio::spawn(async move {
                    let mut total = UpsertCounts::default();
                    loop {
                        let next = rx.lock().await.recv().await;
                        let Some(batch) = next else { break };
                        let counts = batch
                            .records
                            .write(store.as_ref(), &org, &shop, now)
                            .await?;
                        total.add(counts);
                        checkpoints
                            .lock()
                            .await
                            .committed(batch.seq, counts, batch.through)
                            .await?;
                    }
                    Ok(total)
                })
            })
            .collect();
        Writer {
            tx: Some(tx),
            tasks,
        }
    }

    /// Hands a batch over; `false` when the writers stopped (their error comes from `finish`).
    async fn send(&self, batch: Batch) -> bool {
        match &self.tx {
            Some(tx) => tx.send(batch).await.is_ok(),
            None => false,
        }
    }

    async fn finish(mut self) -> Result<UpsertCounts, JobError> {
        self.tx = None;
        let mut total = UpsertCounts::default();
        let mut failure = None;
        for task in &mut self.tasks {
            match task.await {
                Ok(Ok(counts)) => total.add(counts),
                Ok(Err(e)) => failure = failure.or(Some(store_error(e))),
                Err(e) => {
                    failure = failure.or_else(|| {
                        Some(JobError::retryable(format!("import writer stopped: {e}")))
                    })
                }
            }
        }
        failure.map_or(Ok(total), Err)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Dropped before `finish` (error, cancellation, timeout): stop writing.
        if self.tx.is_some() {
            for task in &self.tasks {
                task.abort();
            }
        }
    }
}

/// Imports upload `args.upload_id` of organization `org` into shop `args.shop_id`, then
/// deletes the upload. Errors: a missing shop or upload, an unreadable CSV header and
/// cancellation are permanent; storage failures are retryable.
pub async fn run_import(
    store: Arc<dyn ShopDataStore>,
    org: &OrgId,
    args: &ImportArgs,
    now: EpochMs,
    progress: &dyn ImportProgress,
) -> Result<ImportReport, JobError> {
    let shop = store
        .find_shop(org, args.shop_id.as_str())
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            JobError::permanent(format!(
                "shop {} does not exist in this organization",
                args.shop_id
            ))
        })?;
    // An unreadable checkpoint (written by another version) only costs the work again.
    let checkpoint = store
        .import_checkpoint(org, &args.upload_id)
        .await
        .map_err(store_error)?
        .map(|text| serde_json::from_str::<Checkpoint>(&text).unwrap_or_default());
    if let Some(Checkpoint {
        report,
        finished: true,
    }) = checkpoint
    {
        // An earlier attempt finished this import; only its completion was not recorded
        // (the process died, or the write failed, after the upload was ended).
        return Ok(report);
    }
    let info = store
        .upload_info(org, &args.upload_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            JobError::permanent(format!(
                "upload {} has no data: it is empty or expired",
                args.upload_id
            ))
        })?;
    let resumed = checkpoint.map(|c| c.report).unwrap_or_default();
    let mut reader = RecordReader::new(args.kind, args.format);
    let checkpoints = Checkpointer {
        store: store.clone(),
        org: org.clone(),
        upload_id: args.upload_id.clone(),
        now,
        next: 0,
        done: Default::default(),
        committed: resumed.clone(),
    };
    let writer = Writer::start(
        store.clone(),
        org.clone(),
        shop.id.clone(),
        now,
        checkpoints,
    );
    let mut report = ImportReport {
        resumed_after: resumed.rows,
        ..resumed.clone()
    };
    if resumed.rows > 0 {
        progress
            .progress(0, &ProgressNote::ImportResuming { rows: resumed.rows })
            .await;
    }
    let mut batch = Batcher {
        kind: args.kind,
        records: Records::new(args.kind),
        seq: 0,
        to_skip: resumed.rows,
    };
    let mut parsed = Vec::new();
    let mut bytes_read: i64 = 0;
    let mut last_percent = 0u8;
    for seq in 0..info.chunks {
        if progress.is_cancelled() {
            // Let the batches handed over finish (and checkpoint) rather than abort them
            // mid-query, which can leave a pooled connection unusable.
            writer.finish().await?;
            return Err(JobError::permanent("import cancelled"));
        }
        let chunk = store
            .read_upload_chunk(org, &args.upload_id, seq)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                JobError::retryable(format!(
                    "chunk {seq} of upload {} is missing",
                    args.upload_id
                ))
            })?;
        bytes_read += chunk.len() as i64;
        reader
            .push(&chunk, &mut parsed)
            .map_err(JobError::permanent)?;
        drop(chunk);
        if !take(&mut parsed, &mut batch, &mut report, &writer).await {
            return Err(writer
                .finish()
                .await
                .err()
                .unwrap_or_else(|| JobError::retryable("import writer stopped")));
        }
        let percent = (bytes_read.saturating_mul(99) / info.bytes.max(1)).clamp(0, 99) as u8;
        if percent > last_percent {
            last_percent = percent;
            progress
                .progress(
                    percent,
                    &ProgressNote::ImportReading {
                        rows: report.rows,
                        rejected: report.rejected,
                    },
                )
                .await;
        }
    }
    reader.finish(&mut parsed).map_err(JobError::permanent)?;
    let flushed = take(&mut parsed, &mut batch, &mut report, &writer).await
        && (batch.records.len() == 0 || writer.send(batch.take(&report)).await);
    let counts = writer.finish().await?;
    if !flushed {
        return Err(JobError::retryable("import writer stopped"));
    }
    if let Some(e) = all_rejected(&report) {
        // Nothing to retry: the same file would be rejected again.
        store
            .delete_upload(org, &args.upload_id)
            .await
            .map_err(store_error)?;
        return Err(e);
    }
    report.inserted = resumed.inserted + counts.inserted;
    report.updated = resumed.updated + counts.updated;
    report.skipped = resumed.skipped + counts.skipped;
    if report.inserted >= ANALYZE_AFTER_INSERTS {
        if let Err(e) = store.refresh_statistics(args.kind).await {
            tracing::warn!(error = %e, kind = args.kind.as_str(), "could not refresh planner statistics after import");
        }
    }
    store
        .finish_upload(
            org,
            &args.upload_id,
            &finished_checkpoint_text(&report),
            now,
        )
        .await
        .map_err(store_error)?;
    progress
        .progress(
            100,
            &ProgressNote::ImportDone {
                imported: report.rows - report.rejected,
                rejected: report.rejected,
            },
        )
        .await;
    Ok(report)
}

/// Collects records into numbered batches.
struct Batcher {
    kind: RecordKind,
    records: Records,
    seq: u64,
    /// Records still to skip: the checkpoint covers them.
    to_skip: u64,
}

impl Batcher {
    /// The batch collected so far, as of `report`.
    fn take(&mut self, report: &ImportReport) -> Batch {
        let records = std::mem::replace(&mut self.records, Records::new(self.kind));
        self.seq += 1;
        Batch {
            seq: self.seq - 1,
            records,
            through: report.clone(),
        }
    }
}

/// Reasons quoted in the error of an import that rejected every row.
pub const FAILED_IMPORT_REASONS: usize = 5;

/// An import that read rows and rejected every one failed: the permanent error names the
/// count and the first reasons with their lines.
fn all_rejected(report: &ImportReport) -> Option<JobError> {
    if report.rows == 0 || report.rejected < report.rows {
        return None;
    }
    let reasons: Vec<String> = report
        .bad_lines
        .iter()
        .take(FAILED_IMPORT_REASONS)
        .map(|b| format!("line {}: {}", b.line, b.reason))
        .collect();
    Some(JobError::permanent(format!(
        "every row was rejected ({} of {}); first reasons: {}",
        report.rejected,
        report.rows,
        reasons.join("; ")
    )))
}

/// Moves parsed records into batches (sending full ones) and bad lines into the report.
/// `false` when the writer stopped.
/// Records (good and bad) of the checkpoint are skipped: an earlier attempt committed them.
async fn take(
    parsed: &mut Vec<Parsed>,
    batch: &mut Batcher,
    report: &mut ImportReport,
    writer: &Writer,
) -> bool {
    for p in parsed.drain(..) {
        if batch.to_skip > 0 {
            batch.to_skip -= 1;
            continue;
        }
        report.rows += 1;
        match p {
            Parsed::Record(_, record) => {
                batch.records.push(record);
                if batch.records.len() >= BATCH_SIZE && !writer.send(batch.take(report)).await {
                    return false;
                }
            }
            Parsed::Bad(line, reason) => {
                report.rejected += 1;
                if report.bad_lines.len() < MAX_BAD_LINES {
                    report.bad_lines.push(BadLine { line, reason });
                }
            }
        }
    }
    true
}
