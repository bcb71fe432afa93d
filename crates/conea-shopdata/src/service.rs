//! Data imports and processing requests: validate, resolve the shop, make the upload
//! durable, and enqueue the job — the caller answers 202 with the job.

mod reads;
pub use reads::{ExportStream, Listing};

use crate::import::UPLOAD_CHUNK_BYTES;
use crate::{
    new_upload_id, ImportArgs, ImportFormat, ImportHandler, ProcessArgs, ProcessHandler,
    RecordKind, Shop, ShopDataStore,
};
use conea_core::clock::Clock;
use conea_core::error::{CoreError, CoreResult, ErrorCode};
use conea_core::ids::OrgId;
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_jobs::service::JobService;
use conea_jobs::{Job, NewJob};
use std::sync::Arc;

pub struct DataService {
    store: Arc<dyn ShopDataStore>,
    /// The customer list's `segment` filter reads the customers' scores from here.
    analytics: Arc<dyn crate::analytics::AnalyticsStore>,
    jobs: Arc<JobService>,
    clock: Arc<dyn Clock>,
}

/// An unsealed upload whose newest chunk is this old is an orphan: a live upload writes a
/// chunk every MiB, and the upload timeout is shorter. Housekeeping runs every
/// [`PRUNE_UPLOADS_EVERY`], so orphans go within the hour.
pub const ORPHAN_UPLOAD_AFTER: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// How often housekeeping prunes uploads.
pub const PRUNE_UPLOADS_EVERY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// An upload being received: bytes are appended in chunks, then `finish` enqueues the import.
pub struct ImportSession {
    pub upload_id: String,
    org: OrgId,
    shop: Shop,
    kind: RecordKind,
    format: ImportFormat,
    buffer: Vec<u8>,
    seq: i64,
    pub bytes: u64,
    max_bytes: u64,
}

impl DataService {
    pub fn new(
        store: Arc<dyn ShopDataStore>,
        analytics: Arc<dyn crate::analytics::AnalyticsStore>,
        jobs: Arc<JobService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        DataService {
            store,
            analytics,
            jobs,
            clock,
        }
    }

    pub fn store(&self) -> &Arc<dyn ShopDataStore> {
        &self.store
    }

    async fn shop(&self, org: &OrgId, shop: Option<&str>) -> CoreResult<Shop> {
        match shop.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(self.store.default_shop(org, self.clock.now_ms()).await?),
            Some(s) => self
                .store
                .find_shop(org, s)
                .await?
                .ok_or_else(|| CoreError::not_found("shop", s)),
        }
    }

    /// Starts an import: checks permission, kind, format and shop.
    pub async fn begin_import(
        &self,
        by: &Principal,
        kind: Option<&str>,
        shop: Option<&str>,
        content_type: Option<&str>,
        max_bytes: u64,
    ) -> CoreResult<ImportSession> {
        by.require(Permission::DataWrite)?;
        let kind = match kind {
            Some("orders") => RecordKind::Orders,
            Some("products") => RecordKind::Products,
            Some("customers") => RecordKind::Customers,
            Some(other) => {
                return Err(CoreError::invalid(
                    "kind",
                    format!("`{other}` is not an import kind: use orders, products or customers."),
                ))
            }
            None => {
                return Err(CoreError::invalid(
                    "kind",
                    "Add `?kind=orders`, `products` or `customers`.",
                ))
            }
        };
        let ct = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let format = match ct.as_str() {
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => ImportFormat::Ndjson,
            "text/csv" => ImportFormat::Csv,
            _ => {
                return Err(CoreError::InvalidInput {
                    code: ErrorCode::UnsupportedMediaType,
                    message: "Send the file as `Content-Type: application/x-ndjson` (one Shopify-shaped JSON object per line) or `text/csv`.".into(),
                    param: Some("Content-Type".into()),
                })
            }
        };
        let shop = self.shop(&by.org_id, shop).await?;
        Ok(ImportSession {
            upload_id: new_upload_id(),
            org: by.org_id.clone(),
            shop,
            kind,
            format,
            buffer: Vec::with_capacity(UPLOAD_CHUNK_BYTES),
            seq: 0,
            bytes: 0,
            max_bytes,
        })
    }

    /// Appends received bytes, storing full chunks.
    pub async fn write(&self, s: &mut ImportSession, mut data: &[u8]) -> CoreResult<()> {
        s.bytes += data.len() as u64;
        if s.bytes > s.max_bytes {
            self.abort(s).await;
            return Err(CoreError::InvalidInput {
                code: ErrorCode::PayloadTooLarge,
                message: format!(
                    "The upload is larger than {} bytes (CONEA_MAX_IMPORT_BYTES). Split the file.",
                    s.max_bytes
                ),
                param: None,
            });
        }
        while !data.is_empty() {
            let room = UPLOAD_CHUNK_BYTES - s.buffer.len();
            let take = room.min(data.len());
            s.buffer.extend_from_slice(&data[..take]);
            data = &data[take..];
            if s.buffer.len() == UPLOAD_CHUNK_BYTES {
                self.flush(s).await?;
            }
        }
        Ok(())
    }

    async fn flush(&self, s: &mut ImportSession) -> CoreResult<()> {
        if s.buffer.is_empty() {
            return Ok(());
        }
        self.store
            .append_upload_chunk(&s.org, &s.upload_id, s.seq, &s.buffer, self.clock.now_ms())
            .await?;
        s.seq += 1;
        s.buffer.clear();
        Ok(())
    }

    /// Stores the rest and enqueues the `data.import` job. The upload is durable before this
    /// returns, so the 202 that follows loses nothing.
    pub async fn finish(&self, mut s: ImportSession) -> CoreResult<Job> {
        if s.bytes == 0 {
            return Err(CoreError::invalid(
                "body",
                "The upload is empty: send the file as the request body.",
            ));
        }
        self.flush(&mut s).await?;
        // Sealed: from now on the upload belongs to its job, not an orphan.
        self.store
            .save_import_checkpoint(
                &s.org,
                &s.upload_id,
                &crate::import::initial_checkpoint(),
                self.clock.now_ms(),
            )
            .await?;
        // An upload idle for longer than ORPHAN_UPLOAD_AFTER between two chunks may have
        // lost its first chunks to housekeeping: refuse it rather than import a part.
        let stored = self.store.upload_info(&s.org, &s.upload_id).await?;
        if stored.map_or(0, |i| i.chunks) != s.seq {
            self.abort(&s).await;
            return Err(CoreError::invalid(
                "body",
                "The upload stalled for too long and was discarded: send the file again.",
            ));
        }
        let args = ImportArgs {
            upload_id: s.upload_id.clone(),
            kind: s.kind,
            shop_id: s.shop.id.clone(),
            format: s.format,
        };
        let job = NewJob::of::<ImportHandler>(s.org.clone(), &args).map_err(CoreError::internal)?;
        Ok(self.jobs.enqueue(job).await?.job)
    }

    /// Drops what was stored of a failed upload.
    pub async fn abort(&self, s: &ImportSession) {
        if let Err(e) = self.store.delete_upload(&s.org, &s.upload_id).await {
            tracing::warn!(upload_id = %s.upload_id, error = %e, "could not delete an aborted upload");
        }
    }

    /// Deletes upload chunks older than `retention` (their jobs are long final; a discarded
    /// import keeps its upload until then, so it can be retried) and orphans: chunks of an
    /// upload never sealed (its request died, or the process with it) whose newest chunk is
    /// older than [`ORPHAN_UPLOAD_AFTER`]. Returns how many chunks went.
    pub async fn prune_uploads(&self, retention: std::time::Duration) -> CoreResult<u64> {
        let now = self.clock.now_ms();
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Ok(self
            .store
            .prune_uploads(
                now.saturating_sub(ms(retention)),
                now.saturating_sub(ms(ORPHAN_UPLOAD_AFTER)),
            )
            .await?)
    }

    /// An analytics report as a job: the period gives `from`/`to`, `params` the other report
    /// parameters (`timezone`, `granularity`, `compare`); checked before the 202.
    async fn enqueue_report(
        &self,
        by: &Principal,
        report: crate::analytics::Report,
        shop_id: Option<conea_core::ids::ShopId>,
        period: Option<serde_json::Value>,
        params: Option<serde_json::Value>,
    ) -> CoreResult<Job> {
        use crate::analytics::job::{ReportJob, ReportJobArgs};
        use crate::analytics::RawParams;
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        let period = period.unwrap_or_default();
        let mut raw: RawParams = match params {
            None | Some(serde_json::Value::Null) => RawParams::default(),
            Some(p) => serde_json::from_value(p)
                .map_err(|e| CoreError::invalid("params", format!("`params`: {e}")))?,
        };
        raw.from = raw.from.or(text(period.get("from")));
        raw.to = raw.to.or(text(period.get("to")));
        raw.shop_id = raw.shop_id.or(shop_id.map(String::from));
        let parsed = raw
            .parse(self.clock.now_ms())
            .map_err(|e| CoreError::invalid(e.param, e.message))?;
        report
            .check(&parsed)
            .map_err(|e| CoreError::invalid(e.param, e.message))?;
        let args = ReportJobArgs {
            report,
            params: raw,
        };
        let job = NewJob::of::<ReportJob>(by.org_id.clone(), &args).map_err(CoreError::internal)?;
        Ok(self.jobs.enqueue(job).await?.job)
    }

    /// Validates a processing request and enqueues `data.process`.
    pub async fn process(
        &self,
        by: &Principal,
        operation: &str,
        shop: Option<&str>,
        period: Option<serde_json::Value>,
        params: Option<serde_json::Value>,
    ) -> CoreResult<Job> {
        by.require(Permission::DataWrite)?;
        let shop_id = match shop {
            Some(s) => Some(self.shop(&by.org_id, Some(s)).await?.id),
            None => None,
        };
        // `orders_summary` and `product_performance` keep their original answers here;
        // `analytics.<report>` names any report, the extended `product_performance` too.
        let report = match operation.strip_prefix("analytics.") {
            Some(name) => Some(crate::analytics::Report::parse(name).ok_or_else(|| {
                CoreError::invalid(
                    "operation",
                    format!("`{operation}`: `{name}` is not a report"),
                )
            })?),
            None if operation == "product_performance" => None,
            None => crate::analytics::Report::parse(operation),
        };
        if let Some(report) = report {
            return self
                .enqueue_report(by, report, shop_id, period, params)
                .await;
        }
        let invalid = |e: crate::reports::ArgError| {
            let param = e.param;
            let reports = crate::analytics::Report::ALL.map(|r| r.as_str()).join(", ");
            CoreError::invalid(param, format!("`{param}`: {e}. Operations: orders_summary, product_performance (its original answer), the reports {reports} (also as `analytics.<report>`); a period is {{\"from\": \"2026-01-01\", \"to\": \"2026-01-31\"}} (dates or RFC 3339 times)."))
        };
        let args = ProcessArgs::parse(operation, shop_id, period, params).map_err(invalid)?;
        args.check()
            .map_err(|e| CoreError::invalid(e.param, e.message))?;
        let job =
            NewJob::of::<ProcessHandler>(by.org_id.clone(), &args).map_err(CoreError::internal)?;
        Ok(self.jobs.enqueue(job).await?.job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphan_uploads_go_within_the_hour() {
        // Idle for the horizon, then found by the next prune at the latest.
        assert!(ORPHAN_UPLOAD_AFTER + PRUNE_UPLOADS_EVERY <= std::time::Duration::from_secs(3600));
    }
}
