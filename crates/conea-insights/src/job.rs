//! Questions as jobs: `POST /v1/insights/ask` with `"async": true` checks the question and
//! the caller as a direct question would (403, 400, 404 answer before anything is queued),
//! then enqueues an `insights.ask` job under the job engine and answers 202 with its check
//! URL. The job asks the question as the caller (their organization, subject and the
//! permissions they had when asking) and its result is the answer document. The engine
//! keeps it durable: an acknowledged job survives a restart and is retried with backoff
//! when a provider or the store fails.

use crate::ask::{InsightsService, Question};
use conea_core::error::{CoreError, CoreResult};
use conea_core::permissions::{Permission, PermissionSet};
use conea_core::principal::{Principal, PrincipalKind};
use conea_core::ErrorCode;
use conea_jobs::service::JobService;
use conea_jobs::{Job, JobContext, JobError, JobKind, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

pub const ASK_KIND: &str = "insights.ask";

/// Who asked: the job runs as them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// `user` or `api_key`.
    pub kind: String,
    pub subject: String,
    pub permissions: Vec<String>,
}

/// The question as asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskArgs {
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default)]
    pub strict: bool,
    pub caller: Caller,
}

impl AskArgs {
    fn question(&self) -> Question {
        Question {
            question: self.question.clone(),
            shop_id: self.shop_id.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            model: self.model.clone(),
            language: self.language.clone(),
            strict: self.strict,
        }
    }

    fn principal(&self, org: &conea_core::ids::OrgId) -> Principal {
        let mut permissions = PermissionSet::EMPTY;
        for p in self
            .caller
            .permissions
            .iter()
            .filter_map(|p| Permission::parse(p))
        {
            permissions.insert(p);
        }
        Principal {
            kind: if self.caller.kind == PrincipalKind::ApiKey.as_str() {
                PrincipalKind::ApiKey
            } else {
                PrincipalKind::User
            },
            subject: self.caller.subject.clone(),
            org_id: org.clone(),
            role: None,
            permissions,
            issued_at: None,
            expires_at: None,
        }
    }
}

/// The insights service a job asks through, set once the platform has built it (the job
/// kinds are registered before the services that need the job engine exist). Weak: the
/// service reaches the job engine (through the data service), whose registry holds this
/// job kind, so a strong reference would be a cycle that keeps the platform and its
/// database pool alive after shutdown.
pub type ServiceSlot = Arc<OnceLock<Weak<InsightsService>>>;

pub struct AskJob {
    service: ServiceSlot,
}

impl AskJob {
    pub fn new(service: ServiceSlot) -> Self {
        AskJob { service }
    }
}

/// Whether a failed question may succeed on a later attempt (a provider, the store or a
/// budget), or never will (the caller, the question, the tool-call limit).
fn job_error(e: CoreError) -> JobError {
    let message = e.to_string();
    match e {
        CoreError::Upstream {
            code: ErrorCode::ToolCallLimitExceeded,
            ..
        } => JobError::permanent(message),
        CoreError::Upstream { .. }
        | CoreError::Unavailable { .. }
        | CoreError::RateLimited { .. }
        | CoreError::Internal(_) => JobError::retryable(message),
        _ => JobError::permanent(message),
    }
}

#[async_trait::async_trait]
impl JobKind for AskJob {
    const KIND: &'static str = ASK_KIND;
    type Args = AskArgs;

    fn max_attempts(&self) -> u32 {
        3
    }

    /// The question's own budget (`CONEA_INSIGHTS_TIMEOUT`) ends it first.
    fn timeout(&self) -> Duration {
        match self.service.get().and_then(Weak::upgrade) {
            Some(s) => s.settings().timeout + Duration::from_secs(30),
            None => Duration::from_secs(600),
        }
    }

    async fn run(&self, args: AskArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let service = self
            .service
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| JobError::retryable("the insights service is not ready yet"))?;
        let by = args.principal(&ctx.job.org_id);
        let answer = service
            .ask(&by, &args.question())
            .await
            .map_err(job_error)?;
        serde_json::to_value(answer).map_err(|e| JobError::permanent(e.to_string()))
    }
}

impl InsightsService {
    /// Checks the caller and the question as [`InsightsService::ask`] would, then queues it
    /// as an `insights.ask` job [ai:use and data:read]; the job's result is the answer.
    pub async fn submit(&self, by: &Principal, q: &Question, jobs: &JobService) -> CoreResult<Job> {
        self.prepare(by, q).await?;
        let args = AskArgs {
            question: q.question.trim().to_owned(),
            shop_id: q.shop_id.clone(),
            from: q.from.clone(),
            to: q.to.clone(),
            model: q.model.clone(),
            language: q.language.clone(),
            strict: q.strict,
            caller: Caller {
                kind: by.kind.as_str().to_owned(),
                subject: by.subject.clone(),
                permissions: by
                    .permissions
                    .names()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            },
        };
        let job = NewJob::of::<AskJob>(by.org_id.clone(), &args).map_err(CoreError::internal)?;
        Ok(jobs.enqueue(job).await?.job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::ids::OrgId;

    #[test]
    fn the_job_asks_as_the_caller_with_the_permissions_they_had() {
        let args = AskArgs {
            question: "Revenue?".into(),
            shop_id: None,
            from: None,
            to: None,
            model: None,
            language: None,
            strict: false,
            caller: Caller {
                kind: "api_key".into(),
                subject: "key_1".into(),
                permissions: vec!["ai:use".into(), "data:read".into(), "bogus".into()],
            },
        };
        let org = OrgId::generate();
        let p = args.principal(&org);
        assert_eq!(
            (p.kind, p.subject.as_str()),
            (PrincipalKind::ApiKey, "key_1")
        );
        assert_eq!(p.org_id, org);
        assert!(p.permissions.contains(Permission::AiUse));
        assert!(p.permissions.contains(Permission::DataRead));
        assert!(!p.permissions.contains(Permission::DataWrite));
    }

    #[test]
    fn provider_failures_are_retried_and_the_tool_call_limit_is_not() {
        let limit = CoreError::Upstream {
            code: ErrorCode::ToolCallLimitExceeded,
            message: "too many".into(),
            details: Value::Null,
        };
        assert!(!job_error(limit).retryable);
        let failed = CoreError::Upstream {
            code: ErrorCode::AllProvidersFailed,
            message: "down".into(),
            details: Value::Null,
        };
        assert!(job_error(failed).retryable);
        assert!(!job_error(CoreError::invalid("question", "empty")).retryable);
    }
}
