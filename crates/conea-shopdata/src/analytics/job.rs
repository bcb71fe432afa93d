//! The job kind `analytics.report`: a report run as a durable job (`POST /v1/data/process`
//! with a report's name as `operation`); its result is the report. Defaults that depend on
//! "now" (the range) are taken at the job's creation, so a retry answers the same range.

use super::params::RawParams;
use super::store::AnalyticsStore;
use super::{run, Report};
use conea_jobs::{JobContext, JobError, JobKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

pub const REPORT_KIND: &str = "analytics.report";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportJobArgs {
    pub report: Report,
    #[serde(default)]
    pub params: RawParams,
}

pub struct ReportJob {
    store: Arc<dyn AnalyticsStore>,
}

impl ReportJob {
    pub fn new(store: Arc<dyn AnalyticsStore>) -> Self {
        ReportJob { store }
    }
}

#[async_trait::async_trait]
impl JobKind for ReportJob {
    const KIND: &'static str = REPORT_KIND;
    type Args = ReportJobArgs;

    async fn run(&self, args: ReportJobArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let params = args
            .params
            .parse(ctx.job.created_at)
            .map_err(|e| JobError::permanent(format!("{}: {}", e.param, e.message)))?;
        args.report
            .check(&params)
            .map_err(|e| JobError::permanent(format!("{}: {}", e.param, e.message)))?;
        run(self.store.as_ref(), &ctx.job.org_id, args.report, &params)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))
    }
}
