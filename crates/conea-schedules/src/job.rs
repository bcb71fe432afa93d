//! The job kind `schedules.run`: one run of a schedule (a slot, or run-now). It computes the
//! report as the schedule's organization (the same typed function as
//! `GET /v1/analytics/{report}`), then delivers it to each destination. A destination that
//! failed is tried again by the job engine's retry with backoff; one already delivered (or
//! failed for good) by an earlier attempt of the same run is not sent again. Each attempt
//! records the run's state on the schedule.

use crate::deliver::{Outgoing, Sender};
use crate::model::{
    secret_context, shown_target, DeliveryStatus, RunState, Schedule, ScheduleReport,
};
use crate::render;
use crate::store::ScheduleStore;
use conea_core::clock::EpochMs;
use conea_core::error::CoreError;
use conea_core::ids::ScheduleId;
use conea_core::secretbox::SecretBox;
use conea_incidents::policy::WebhookSecret;
use conea_insights::digest::{DigestRequest, DigestService, Period};
use conea_jobs::{JobContext, JobError, JobKind};
use conea_shopdata::analytics::{self, AnalyticsStore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

pub const RUN_KIND: &str = "schedules.run";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunArgs {
    pub schedule_id: String,
    /// The slot (epoch ms) this run is for; `None` for run-now. Report ranges that default
    /// to "the last 30 days" end at the slot, so a retry reports the same range.
    pub slot: Option<EpochMs>,
}

pub struct RunJob {
    store: Arc<dyn ScheduleStore>,
    analytics: Arc<dyn AnalyticsStore>,
    sender: Arc<Sender>,
    secrets: SecretBox,
    digests: Arc<DigestService>,
}

impl RunJob {
    pub fn new(
        store: Arc<dyn ScheduleStore>,
        analytics: Arc<dyn AnalyticsStore>,
        sender: Arc<Sender>,
        secrets: SecretBox,
        digests: Arc<DigestService>,
    ) -> Self {
        RunJob {
            store,
            analytics,
            sender,
            secrets,
            digests,
        }
    }
}

/// The digest's request from a schedule: its period (`granularity` day or week, default
/// week), its days' zone (`params.timezone`, else the schedule's), its shop and language.
fn digest_request(s: &Schedule, at: EpochMs) -> Result<DigestRequest, JobError> {
    let mut raw = s.params.clone();
    if raw.timezone.is_none() {
        raw.timezone = Some(s.timezone.clone());
    }
    let period = match raw.granularity.as_deref() {
        Some("day") => Period::Day,
        _ => Period::Week,
    };
    raw.granularity = None;
    let parsed = raw
        .parse(at)
        .map_err(|e| JobError::permanent(format!("params.{}: {}", e.param, e.message)))?;
    Ok(DigestRequest {
        org_id: s.org_id.clone(),
        shop_id: parsed.shop_id,
        timezone: parsed.timezone_name,
        period,
        language: s.language.as_str().to_string(),
        at,
        on_behalf_of: s.id.to_string(),
    })
}

impl RunJob {
    /// The report and the signing secret, or why the run cannot deliver.
    async fn prepare(
        &self,
        s: &Schedule,
        args: &RunArgs,
        ctx: &JobContext,
        last_attempt: bool,
    ) -> Result<(Value, WebhookSecret), JobError> {
        let at = args.slot.unwrap_or(ctx.job.created_at);
        let report = match s.report {
            ScheduleReport::Analytics(report) => {
                let params = s.params.parse(at).map_err(|e| {
                    JobError::permanent(format!("params.{}: {}", e.param, e.message))
                })?;
                analytics::run(self.analytics.as_ref(), &s.org_id, report, &params).await
            }
            ScheduleReport::Digest => {
                let request = digest_request(s, at)?;
                self.digests
                    .digest(&request)
                    .await
                    .and_then(|d| serde_json::to_value(d).map_err(CoreError::internal))
            }
        };
        let report = report.map_err(|e| {
            let message = format!("report: {e}");
            if last_attempt {
                JobError::permanent(message)
            } else {
                JobError::retryable(message)
            }
        })?;
        let secret = self
            .secrets
            .decrypt(&secret_context(&s.id), &s.webhook_secret_sealed)
            .ok()
            .and_then(|t| WebhookSecret::parse(&t).ok())
            .ok_or_else(|| JobError::permanent("the schedule's webhook secret cannot be opened"))?;
        Ok((report, secret))
    }
}

fn done(status: &DeliveryStatus) -> bool {
    status.status == "delivered" || status.status == "gave_up"
}

#[async_trait::async_trait]
impl JobKind for RunJob {
    const KIND: &'static str = RUN_KIND;
    type Args = RunArgs;

    /// Ten attempts: the engine's backoff (2 s doubling, ±25 %) spreads them over about
    /// 17 minutes, long enough for a receiver's brief outage.
    fn max_attempts(&self) -> u32 {
        10
    }

    async fn run(&self, args: RunArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let id = ScheduleId::parse(&args.schedule_id)
            .map_err(|e| JobError::permanent(format!("schedule_id: {e}")))?;
        let Some(s) = self
            .store
            .get_schedule(&id)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?
        else {
            return Ok(json!({"skipped": "the schedule was deleted"}));
        };
        let now = ctx.clock.now_ms();
        let last_attempt = ctx.job.attempt >= ctx.job.max_attempts;
        let prepared = self.prepare(&s, &args, ctx, last_attempt).await;
        let (report, secret) = match prepared {
            Ok(ready) => ready,
            Err(e) => {
                // A run that fails before delivering is visible on the schedule too.
                let run = RunState {
                    job_id: ctx.job.id.to_string(),
                    slot: args.slot,
                    at: now,
                    status: if e.retryable { "failed" } else { "gave_up" }.into(),
                    error: Some(e.message.clone()),
                    deliveries: Vec::new(),
                };
                if let Err(err) = self.store.record_run(&s.id, &run).await {
                    tracing::warn!(schedule = %s.id, error = %err, "could not record the run's state");
                }
                return Err(e);
            }
        };
        let name = s.report.as_str();
        let rendered = match s.report {
            ScheduleReport::Digest => render::render_digest(&report, args.slot),
            ScheduleReport::Analytics(_) => render::render(name, &report, args.slot),
        };
        let slack = render::slack_message(&rendered);
        let body = render::webhook_body(s.id.as_str(), name, args.slot, &report, now);
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let earlier: Vec<DeliveryStatus> = s
            .last_run
            .filter(|r| r.job_id == ctx.job.id.as_str())
            .map(|r| r.deliveries)
            .unwrap_or_default();
        let mut deliveries = Vec::with_capacity(s.deliver.len());
        for (i, d) in s.deliver.iter().enumerate() {
            if let Some(prev) = earlier
                .iter()
                .find(|p| p.channel == d.channel && p.target == d.target && done(p))
            {
                deliveries.push(prev.clone());
                continue;
            }
            let out = Outgoing {
                rendered: &rendered,
                slack: &slack,
                webhook_body: &body,
                secret: &secret,
                message_key: format!("schedule:{}:{}:{i}", s.id, ctx.job.id),
                now,
            };
            let (status, error) = match self.sender.send(d, &out).await {
                Ok(_) => ("delivered", None),
                Err(e) if e.retryable && !last_attempt => ("failed", Some(e.message)),
                Err(e) => ("gave_up", Some(e.message)),
            };
            deliveries.push(DeliveryStatus {
                channel: d.channel,
                target: d.target.clone(),
                status: status.into(),
                error,
                attempt: ctx.job.attempt,
                at: now,
            });
        }
        let failed: Vec<String> = deliveries
            .iter()
            .filter(|d| d.status != "delivered")
            .map(|d| {
                format!(
                    "{} {}: {}",
                    d.channel.as_str(),
                    shown_target(d.channel, &d.target),
                    d.error.as_deref().unwrap_or("")
                )
            })
            .collect();
        let retry = deliveries.iter().any(|d| d.status == "failed");
        let status = match (failed.is_empty(), retry) {
            (true, _) => "delivered",
            (false, true) => "failed",
            (false, false) => "gave_up",
        };
        let run = RunState {
            job_id: ctx.job.id.to_string(),
            slot: args.slot,
            at: now,
            status: status.into(),
            error: (!failed.is_empty()).then(|| failed.join("; ")),
            deliveries,
        };
        if let Err(e) = self.store.record_run(&s.id, &run).await {
            tracing::warn!(schedule = %s.id, error = %e, "could not record the run's state");
        }
        match status {
            "delivered" => Ok(json!({"delivered": run.deliveries.len()})),
            "failed" => Err(JobError::retryable(failed.join("; "))),
            _ => Err(JobError::permanent(failed.join("; "))),
        }
    }
}
