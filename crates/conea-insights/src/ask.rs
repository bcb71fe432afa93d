//! The ask loop: a question, the tools offered, the model's calls run as the caller until
//! it answers (at most [`MAX_TOOL_CALLS`] calls, within the configured time budget), then
//! the grounding check of every number of the answer, and under `strict` one request to
//! correct it. Each model turn goes through the gateway's router with the whole transcript,
//! so a fallback target continues the same conversation.

use crate::conversation::{Model, ToolDef, Turn, Usage};
use crate::grounding::{Checker, Grounding, Known};
use crate::prompt;
use crate::tools::summary::{for_model, MAX_RESULT_BYTES};
use crate::tools::{catalogue, Scope, Tools};
use conea_core::clock::{rfc3339, Clock};
use conea_core::error::{CoreError, CoreResult};
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::ErrorCode;
use conea_shopdata::analytics::RawParams;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tool calls one question may make (a `strict` correction included).
pub const MAX_TOOL_CALLS: usize = 8;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 4000;

/// A question as asked.
#[derive(Debug, Clone, Default)]
pub struct Question {
    pub question: String,
    pub shop_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// An alias or `provider/model`; default the configured insights alias.
    pub model: Option<String>,
    pub language: Option<String>,
    pub strict: bool,
}

/// A figure the answer could use: the call and its full result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub tool: String,
    pub arguments: Value,
    pub result: Value,
}

/// A call the model made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    pub name: String,
    /// As the model gave them.
    pub arguments: Value,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer with everything it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub id: String,
    /// Markdown.
    pub answer: String,
    pub figures: Vec<Figure>,
    pub tool_calls: Vec<CallRecord>,
    pub grounding: Grounding,
    /// Under `strict`: whether the model was asked to correct ungrounded numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected: Option<bool>,
    pub model: String,
    pub provider: String,
    pub attempts: Vec<Value>,
    pub usage: Usage,
}

/// The insights settings (`CONEA_INSIGHTS_MODEL`, `CONEA_INSIGHTS_TIMEOUT`).
#[derive(Debug, Clone)]
pub struct InsightsSettings {
    pub model: String,
    pub timeout: Duration,
}

pub struct InsightsService {
    tools: Tools,
    model: Arc<dyn Model>,
    clock: Arc<dyn Clock>,
    settings: InsightsSettings,
    catalogue: Vec<ToolDef>,
}

/// What one question gathered so far.
#[derive(Default)]
struct Gathered {
    calls: Vec<CallRecord>,
    figures: Vec<Figure>,
    known: Known,
    usage: Usage,
    attempts: Vec<Value>,
    provider: String,
    model: String,
}

fn too_many(calls: &[CallRecord], asked: usize) -> CoreError {
    CoreError::Upstream {
        code: ErrorCode::ToolCallLimitExceeded,
        message: format!(
            "The model asked for more than {MAX_TOOL_CALLS} tool calls for one question ({} made, {asked} more asked); nothing was answered. Ask a narrower question.",
            calls.len()
        ),
        details: json!({"limit": MAX_TOOL_CALLS, "tool_calls": calls}),
    }
}

impl InsightsService {
    pub fn new(
        tools: Tools,
        model: Arc<dyn Model>,
        clock: Arc<dyn Clock>,
        settings: InsightsSettings,
    ) -> Self {
        InsightsService {
            tools,
            model,
            clock,
            settings,
            catalogue: catalogue(),
        }
    }

    pub fn settings(&self) -> &InsightsSettings {
        &self.settings
    }

    /// Answers a question [ai:use and data:read, both checked before any provider call].
    pub async fn ask(&self, by: &Principal, q: &Question) -> CoreResult<Answer> {
        by.require(Permission::AiUse)?;
        by.require(Permission::DataRead)?;
        let question = q.question.trim();
        if question.is_empty() {
            return Err(CoreError::invalid(
                "question",
                "Ask a question: `question` is empty.",
            ));
        }
        if question.chars().count() > MAX_QUESTION_CHARS {
            return Err(CoreError::invalid(
                "question",
                format!("`question` is longer than {MAX_QUESTION_CHARS} characters."),
            ));
        }
        let now = self.clock.now_ms();
        let period = RawParams {
            from: q.from.clone(),
            to: q.to.clone(),
            ..RawParams::default()
        }
        .parse(now)
        .map_err(|e| CoreError::invalid(e.param, e.message))?;
        let (first, last) = period.local_days();
        let years = i64::from(first.year()) - 1..=i64::from(last.year());
        let shop_id = match q
            .shop_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => Some(self.tools.shop(by, s).await?),
        };
        let scope = Scope {
            shop_id,
            from: q.from.clone(),
            to: q.to.clone(),
        };
        let model = q
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or(&self.settings.model)
            .to_owned();
        let today = rfc3339(now);
        let system = prompt::system(&prompt::Setting {
            today: today.get(..10).unwrap_or(&today),
            from: q.from.as_deref(),
            to: q.to.as_deref(),
            shop_id: scope.shop_id.as_deref(),
            language: q
                .language
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty()),
            max_tool_calls: MAX_TOOL_CALLS,
        });
        let mut turns = vec![Turn::System(system), Turn::User(question.to_owned())];
        let mut g = Gathered::default();
        g.known.add_text(question);
        let budget = self.settings.timeout;
        let work = async {
            let mut answer = self
                .converse(by, &model, &scope, &mut turns, &mut g)
                .await?;
            let mut grounding = Checker::new(g.known.clone(), years.clone()).check(&answer);
            let mut corrected = None;
            if q.strict {
                corrected = Some(false);
                if !grounding.ungrounded.is_empty() {
                    turns.push(Turn::User(prompt::correction(&grounding.ungrounded)));
                    answer = self
                        .converse(by, &model, &scope, &mut turns, &mut g)
                        .await?;
                    grounding = Checker::new(g.known.clone(), years.clone()).check(&answer);
                    corrected = Some(true);
                }
            }
            Ok::<_, CoreError>((answer, grounding, corrected))
        };
        let (answer, grounding, corrected) = match tokio::time::timeout(budget, work).await {
            Ok(done) => done?,
            Err(_) => {
                return Err(CoreError::Upstream {
                    code: ErrorCode::InsightsTimeout,
                    message: format!(
                        "The question took longer than its time budget ({} ms, CONEA_INSIGHTS_TIMEOUT); nothing was answered. Ask a narrower question or try again.",
                        budget.as_millis()
                    ),
                    details: json!({"timeout_ms": budget.as_millis() as u64}),
                })
            }
        };
        Ok(Answer {
            id: format!("ins_{}", uuid::Uuid::now_v7().simple()),
            answer,
            figures: g.figures,
            tool_calls: g.calls,
            grounding,
            corrected,
            model: g.model,
            provider: g.provider,
            attempts: g.attempts,
            usage: g.usage,
        })
    }

    /// Turns until the model answers without calling a tool; the answer's text.
    async fn converse(
        &self,
        by: &Principal,
        model: &str,
        scope: &Scope,
        turns: &mut Vec<Turn>,
        g: &mut Gathered,
    ) -> CoreResult<String> {
        loop {
            let reply = self.model.reply(by, model, turns, &self.catalogue).await?;
            g.usage.add(reply.usage);
            g.attempts.extend(reply.attempts);
            g.provider = reply.provider;
            g.model = reply.model;
            if reply.calls.is_empty() {
                turns.push(Turn::Assistant {
                    text: reply.text.clone(),
                    calls: Vec::new(),
                });
                return Ok(reply.text);
            }
            if g.calls.len() + reply.calls.len() > MAX_TOOL_CALLS {
                return Err(too_many(&g.calls, reply.calls.len()));
            }
            turns.push(Turn::Assistant {
                text: reply.text,
                calls: reply.calls.clone(),
            });
            for call in reply.calls {
                let started = Instant::now();
                let ran = self
                    .tools
                    .run(by, scope, &call.name, &call.arguments)
                    .await?;
                let latency_ms = started.elapsed().as_millis() as u64;
                let (content, error) = match ran {
                    Ok(ran) => {
                        g.known.add_json(&ran.result);
                        let content = for_model(&ran.result, MAX_RESULT_BYTES);
                        g.figures.push(crate::ask::Figure {
                            tool: call.name.clone(),
                            arguments: ran.arguments,
                            result: ran.result,
                        });
                        (content, None)
                    }
                    Err(e) => (json!({"error": e.0}).to_string(), Some(e.0)),
                };
                g.calls.push(CallRecord {
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                    latency_ms,
                    error,
                });
                turns.push(Turn::ToolResult {
                    call_id: call.id,
                    name: call.name,
                    content,
                });
            }
        }
    }
}
