//! One resource's sync pass by GraphQL bulk operation: start `bulkOperationRunQuery` (its id
//! saved in the sync state first, so a re-run polls the same operation rather than starting
//! another), poll it until it ends (a `bulk_operations/finish` webhook ends the wait between
//! two polls at once), then read its JSONL result as a stream: lines joined into
//! records ([`BulkRows`]), upserted [`BATCH`] at a time. After each batch the number of lines
//! committed is saved; a run that dies mid-file reads the file again and skips them (every
//! record before that line was written, the line after it begins a parent), so nothing is
//! written twice and the counts stay exact. Memory: one download chunk and one batch.

use super::access::ShopAccess;
use crate::bulk::{bulk_query, BulkRows, Joined};
use crate::client::ShopifyClient;
use crate::integration::store::{ShopifyShop, SyncState};
use crate::resources::Resource;
use conea_jobs::{JobContext, JobError};
use conea_shopdata::lines::{Line, LineSplitter};
use conea_shopdata::{ProgressNote, Record, RecordKind, ShopDataStore, UpsertCounts};
use std::time::Duration;

/// Records per upsert batch.
pub const BATCH: usize = 1000;
/// Between two status checks of a running bulk operation.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Longest line accepted in a result file.
const MAX_LINE: usize = 8 * 1024 * 1024;

/// What a bulk pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BulkPass {
    pub operation: String,
    /// Records read (good and rejected) by this run.
    pub records: u64,
    pub counts: UpsertCounts,
    pub rejected: u64,
    /// Lines an earlier run had committed: this one skipped them.
    pub resumed_after_lines: i64,
    pub lines: u64,
}

fn store_err(e: impl std::fmt::Display) -> JobError {
    JobError::retryable(e.to_string())
}

/// Writes a batch of records of one kind.
async fn write(
    data: &dyn ShopDataStore,
    shop: &ShopifyShop,
    batch: &mut Vec<Record>,
    now: i64,
) -> Result<UpsertCounts, JobError> {
    let (mut orders, mut products, mut customers) = (Vec::new(), Vec::new(), Vec::new());
    for r in batch.drain(..) {
        match r {
            Record::Order(o) => orders.push(o),
            Record::Product(p) => products.push(p),
            Record::Customer(c) => customers.push(c),
        }
    }
    let (org, id) = (&shop.org_id, &shop.shop_id);
    let mut total = UpsertCounts::default();
    if !orders.is_empty() {
        total.add(
            data.upsert_orders(org, id, &orders, now)
                .await
                .map_err(store_err)?,
        );
    }
    if !products.is_empty() {
        total.add(
            data.upsert_products(org, id, &products, now)
                .await
                .map_err(store_err)?,
        );
    }
    if !customers.is_empty() {
        total.add(
            data.upsert_customers(org, id, &customers, now)
                .await
                .map_err(store_err)?,
        );
    }
    Ok(total)
}

/// Runs (or resumes) the pass's bulk operation and imports its result. `state` is the
/// resource's sync state with the pass started (`pass_started_at`, `pass_min` set); it is
/// saved as the pass goes; the caller ends the pass.
pub async fn run(
    access: &ShopAccess,
    data: &dyn ShopDataStore,
    client: &ShopifyClient,
    shop: &ShopifyShop,
    kind: RecordKind,
    state: &mut SyncState,
    ctx: &JobContext,
) -> Result<BulkPass, JobError> {
    let store = access.store();
    let failed = |e| access.failed(shop, e, ctx.clock.now_ms());
    let id = match state.bulk_operation.clone() {
        Some(id) => id,
        None => {
            let query = bulk_query(Resource::of(kind), state.pass_min);
            let op = match client.run_bulk_query(&query).await {
                Ok(op) => op,
                Err(e) => return Err(failed(e).await),
            };
            state.bulk_operation = Some(op.id.clone());
            state.bulk_lines = 0;
            store
                .save_sync_state(&shop.shop_id, kind, state, ctx.clock.now_ms())
                .await
                .map_err(store_err)?;
            op.id
        }
    };
    let op = loop {
        if ctx.is_cancelled() {
            return Err(JobError::permanent("cancelled"));
        }
        let op = match client.bulk_operation(&id).await {
            Ok(op) => op,
            Err(e) => return Err(failed(e).await),
        };
        if !op.is_running() {
            break op;
        }
        ctx.progress(
            0,
            &ProgressNote::BulkOperation {
                kind,
                status: op.status.to_ascii_lowercase(),
            }
            .to_string(),
        )
        .await;
        // The next check after the poll interval, or as soon as Shopify's
        // `bulk_operations/finish` webhook for it arrives.
        let options = access.options();
        tokio::select! {
            _ = options.bulk_finishes.wait(&id) => {
                tracing::info!(shop = %shop.domain, operation = %id, "bulk operation finished (webhook)");
            }
            _ = options.bulk_sleeper.sleep(options.bulk_poll) => {}
        }
    };
    access.options().bulk_finishes.forget(&id);
    if op.status != "COMPLETED" {
        // A new operation next time.
        state.bulk_operation = None;
        state.bulk_lines = 0;
        store
            .save_sync_state(&shop.shop_id, kind, state, ctx.clock.now_ms())
            .await
            .map_err(store_err)?;
        return Err(JobError::retryable(format!(
            "the bulk operation {id} ended {} ({})",
            op.status,
            op.error_code.as_deref().unwrap_or("no error code")
        )));
    }
    let mut pass = BulkPass {
        operation: id,
        resumed_after_lines: state.bulk_lines,
        ..BulkPass::default()
    };
    let Some(url) = op.url else {
        // The query matched nothing.
        return Ok(pass);
    };
    let mut file = match client.open_bulk_file(&url).await {
        Ok(f) => f,
        Err(e) => return Err(failed(e).await),
    };
    let skip = u64::try_from(state.bulk_lines).unwrap_or(0);
    let mut lines = LineSplitter::new(MAX_LINE);
    let mut rows = BulkRows::new(kind);
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let mut last_line = 0u64;
    let take = |r: Result<Record, (u64, String)>, batch: &mut Vec<Record>, pass: &mut BulkPass| {
        pass.records += 1;
        match r {
            Ok(record) => batch.push(record),
            Err((line, reason)) => {
                pass.rejected += 1;
                tracing::warn!(shop = %shop.domain, kind = kind.as_str(), line, %reason, "skipped a bulk result record that does not parse");
            }
        }
    };
    loop {
        if ctx.is_cancelled() {
            return Err(JobError::permanent("cancelled"));
        }
        let chunk = file
            .chunk()
            .await
            .map_err(|e| JobError::retryable(format!("reading the bulk result failed: {e}")))?;
        let Some(chunk) = chunk else { break };
        lines.push(&chunk, |line| {
            let (n, text) = match line {
                Line::Text(n, t) => (n, t),
                Line::Bad(n, reason) => {
                    last_line = n;
                    if n > skip {
                        take(Err((n, reason)), &mut batch, &mut pass);
                    }
                    return;
                }
            };
            last_line = n;
            if n <= skip {
                return;
            }
            if let Joined::Complete(r) = rows.push(n, text) {
                take(r, &mut batch, &mut pass);
            }
        });
        if batch.len() >= BATCH {
            let now = ctx.clock.now_ms();
            pass.counts.add(write(data, shop, &mut batch, now).await?);
            // Every record that began before the one still open is written.
            let committed = rows.open_since().map_or(last_line, |l| l - 1);
            state.bulk_lines = i64::try_from(committed).unwrap_or(i64::MAX);
            state.pass_synced =
                i64::try_from(pass.counts.inserted + pass.counts.updated + pass.counts.skipped)
                    .unwrap_or(0);
            store
                .save_sync_state(&shop.shop_id, kind, state, now)
                .await
                .map_err(store_err)?;
            let note = ProgressNote::LinesRead {
                kind,
                lines: last_line,
            };
            ctx.progress(50, &note.to_string()).await;
        }
    }
    lines.finish(|line| {
        if let Line::Text(n, text) = line {
            last_line = n;
            if n > skip {
                if let Joined::Complete(r) = rows.push(n, text) {
                    take(r, &mut batch, &mut pass);
                }
            }
        }
    });
    if let Some(r) = rows.finish() {
        take(r, &mut batch, &mut pass);
    }
    if !batch.is_empty() {
        pass.counts
            .add(write(data, shop, &mut batch, ctx.clock.now_ms()).await?);
    }
    pass.lines = last_line;
    state.bulk_operation = None;
    state.bulk_lines = 0;
    Ok(pass)
}
