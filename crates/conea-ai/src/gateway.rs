//! The gateway as the API sees it: permission (`ai:use`), the organization's monthly token
//! budget (checked before any provider is called), the router, and usage recorded exactly
//! once per successful call — after a completion, or when a stream's one `Usage` event
//! passes — through the batching [`UsageWriter`].
//!
//! Budgets are read through a small per-replica cache ([`BUDGET_TTL`]): a change made on
//! this replica applies at once, one made on another replica within that time.

use crate::embedding::{EmbeddingRequest, EmbeddingResponse};
use crate::router::{Attempt, ModelList, RoutableModel, RoutedStream, Router};
use crate::types::{ChatRequest, ChatResponse, StreamEvent};
use crate::usage::{month_start, AiUsageStore, UsageGroup, UsageRow};
use crate::usage_writer::{Call, UsageWriter};
use conea_core::clock::{rfc3339, Clock};
use conea_core::ids::OrgId;
use conea_core::permissions::Permission;
use conea_core::principal::{Principal, PrincipalKind};
use conea_core::ErrorCode;
use conea_core::{CoreError, CoreResult};
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How long a replica uses an organization's budget before reading it again.
pub const BUDGET_TTL: Duration = Duration::from_secs(2);
/// Organizations whose budget a replica keeps (most recently used).
const BUDGET_CACHE_ORGS: u64 = 10_000;

/// An organization's AI budget as [`Gateway::budget`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    /// Tokens (input + output) per calendar month (UTC); `None`: no budget.
    pub monthly_tokens: Option<i64>,
    pub used_this_month: i64,
}

pub struct Gateway {
    router: Router,
    usage: Arc<dyn AiUsageStore>,
    writer: UsageWriter,
    budgets: moka::sync::Cache<OrgId, Option<i64>>,
    clock: Arc<dyn Clock>,
}

impl Gateway {
    /// Starts the usage writer on the current Tokio runtime.
    pub fn new(router: Router, usage: Arc<dyn AiUsageStore>, clock: Arc<dyn Clock>) -> Self {
        let writer = UsageWriter::start(usage.clone(), router.config().usage_flush);
        Gateway {
            router,
            writer,
            usage,
            budgets: moka::sync::Cache::builder()
                .max_capacity(BUDGET_CACHE_ORGS)
                .time_to_live(BUDGET_TTL)
                .build(),
            clock,
        }
    }

    /// Writes the usage still held in memory (at shutdown, and before usage is read).
    pub async fn flush_usage(&self) -> CoreResult<()> {
        Ok(self.writer.flush().await?)
    }

    /// Usage rows not written yet, and organizations whose budget is cached (for metrics).
    pub fn memory_held(&self) -> (usize, u64) {
        (self.writer.pending_rows(), self.budgets.entry_count())
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Refuses with 429 `budget_exceeded` when the organization used its monthly tokens.
    async fn check_budget(&self, org: &OrgId) -> CoreResult<()> {
        let budget = match self.budgets.get(org) {
            Some(b) => b,
            None => {
                let b = self.usage.budget(org).await?;
                self.budgets.insert(org.clone(), b);
                b
            }
        };
        let Some(budget) = budget else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        let start = month_start(now);
        let used =
            self.usage.tokens_since(org, start).await? + self.writer.pending_tokens(org, start);
        if used < budget {
            return Ok(());
        }
        // The budget renews at the start of next month.
        let next = month_start(start + 32 * 86_400_000);
        let retry_after_s = ((next - now) / 1000).max(1) as u64;
        Err(CoreError::RateLimited {
            code: ErrorCode::BudgetExceeded,
            message: format!("This organization used {used} of its {budget} monthly AI tokens. The budget renews at {}; an admin can raise it with PUT /v1/ai/budgets/{org}.", rfc3339(next)),
            retry_after_s,
            details: json!({"used": used, "budget": budget, "renews_at": rfc3339(next)}),
        })
    }

    fn record(&self, by: &Principal, provider: &str, model: &str, input: u64, output: u64) {
        let api_key = if by.kind == PrincipalKind::ApiKey {
            by.subject.as_str()
        } else {
            ""
        };
        self.writer.record(Call {
            org: &by.org_id,
            api_key,
            provider,
            model,
            input_tokens: input,
            output_tokens: output,
            at: self.clock.now_ms(),
        });
    }

    pub async fn complete(
        &self,
        by: &Principal,
        req: &ChatRequest,
    ) -> CoreResult<(ChatResponse, Vec<Attempt>)> {
        by.require(Permission::AiUse)?;
        self.check_budget(&by.org_id).await?;
        let (resp, attempts) = self.router.complete(req).await?;
        self.record(
            by,
            &resp.provider,
            &resp.model,
            resp.usage.input_tokens,
            resp.usage.output_tokens,
        );
        Ok((resp, attempts))
    }

    /// Embeddings, with the same permission, budget and usage accounting as completions.
    pub async fn embed(
        &self,
        by: &Principal,
        req: &EmbeddingRequest,
    ) -> CoreResult<(EmbeddingResponse, Vec<Attempt>)> {
        by.require(Permission::AiUse)?;
        self.check_budget(&by.org_id).await?;
        let (resp, attempts) = self.router.embed(req).await?;
        self.record(by, &resp.provider, &resp.model, resp.input_tokens, 0);
        Ok((resp, attempts))
    }

    /// A stream whose usage is recorded when its `Usage` event passes. Errors before the
    /// first event (all targets failed) come back as `Err`, so the caller can still answer
    /// with a status code.
    pub async fn stream(
        self: &Arc<Self>,
        by: &Principal,
        req: &ChatRequest,
    ) -> CoreResult<RoutedStream> {
        by.require(Permission::AiUse)?;
        self.check_budget(&by.org_id).await?;
        let mut routed = self.router.stream(req).await?;
        let me = self.clone();
        let by = by.clone();
        let (provider, model) = (routed.provider.clone(), routed.model.clone());
        routed.events = routed
            .events
            .inspect(move |e| {
                if let StreamEvent::Usage(u) = e {
                    me.record(&by, &provider, &model, u.input_tokens, u.output_tokens);
                }
            })
            .boxed();
        Ok(routed)
    }

    pub fn models(&self, by: &Principal) -> CoreResult<ModelList> {
        by.require(Permission::AiUse)?;
        Ok(self.router.models())
    }

    /// Every model name a request can use (OpenAI's `GET /v1/models`).
    pub fn routable_models(&self, by: &Principal) -> CoreResult<Vec<RoutableModel>> {
        by.require(Permission::AiUse)?;
        Ok(self.router.routable_models())
    }

    /// One routable model, or `None` when the name routes nowhere.
    pub fn routable_model(&self, by: &Principal, id: &str) -> CoreResult<Option<RoutableModel>> {
        by.require(Permission::AiUse)?;
        Ok(self.router.routable_model(id))
    }

    /// Reads every provider's model list again (the server does this every
    /// `models_refresh`).
    pub async fn refresh_models(&self) {
        self.router.refresh_models().await;
    }

    pub async fn usage(
        &self,
        by: &Principal,
        from: i64,
        to: i64,
        group: UsageGroup,
    ) -> CoreResult<Vec<UsageRow>> {
        by.require(Permission::AiUse)?;
        // This replica's own calls are in the report as soon as they are answered.
        self.writer.flush().await?;
        Ok(self.usage.usage_report(&by.org_id, from, to, group).await?)
    }

    /// An organization's monthly token budget and the tokens it used this month (UTC)
    /// [admin], as [`Self::set_budget`] checks who may see them.
    pub async fn budget(&self, by: &Principal, org: &str) -> CoreResult<BudgetStatus> {
        let org_id = OrgId::parse(org).map_err(|_| CoreError::not_found("organization", org))?;
        if !by.can_see_org(&org_id) {
            return Err(CoreError::not_found("organization", org));
        }
        by.require(Permission::Admin)?;
        let start = month_start(self.clock.now_ms());
        let used = self.usage.tokens_since(&org_id, start).await?
            + self.writer.pending_tokens(&org_id, start);
        Ok(BudgetStatus {
            monthly_tokens: self.usage.budget(&org_id).await?,
            used_this_month: used,
        })
    }

    /// Sets (or with `None` removes) an organization's monthly token budget [admin].
    pub async fn set_budget(
        &self,
        by: Option<&Principal>,
        org: &str,
        monthly_tokens: Option<i64>,
    ) -> CoreResult<()> {
        let org_id = OrgId::parse(org).map_err(|_| CoreError::not_found("organization", org))?;
        if let Some(p) = by {
            if !p.can_see_org(&org_id) {
                return Err(CoreError::not_found("organization", org));
            }
            p.require(Permission::Admin)?;
        }
        if monthly_tokens.is_some_and(|t| t < 0) {
            return Err(CoreError::unprocessable(
                ErrorCode::InvalidBudget,
                "monthly_tokens",
                "monthly_tokens must be 0 or more (null removes the budget).",
            ));
        }
        self.usage
            .set_budget(&org_id, monthly_tokens, self.clock.now_ms())
            .await?;
        self.budgets.invalidate(&org_id);
        Ok(())
    }
}
