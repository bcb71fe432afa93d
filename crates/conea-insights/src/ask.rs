//! The ask loop: a question, the tools offered, the model's calls run as the caller until
//! it answers (at most [`MAX_TOOL_CALLS`] calls, within the configured time budget), then
//! the grounding check of every number of the answer, and under `strict` one request to
//! correct it. Each model turn goes through the gateway's router with the whole transcript,
//! so a fallback target continues the same conversation.

use crate::conversation::{Call, Model, ToolDef, Turn, Usage};
use crate::grounding::{Checker, Grounding, Known};
use crate::prompt;
use crate::tools::summary::{for_model, MAX_RESULT_BYTES};
use crate::tools::{catalogue, Executor, Scope};
use conea_core::clock::{rfc3339, Clock};
use conea_core::error::{CoreError, CoreResult};
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::ErrorCode;
use conea_shopdata::analytics::RawParams;
use serde::{Deserialize, Serialize};
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub tool: String,
    pub arguments: Value,
    pub result: Value,
}

/// A call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub name: String,
    /// As the model gave them.
    pub arguments: Value,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer with everything it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub id: String,
    /// Markdown.
    pub answer: String,
    pub figures: Vec<Figure>,
    pub tool_calls: Vec<CallRecord>,
    pub grounding: Grounding,
    /// Under `strict`: whether the model was asked to correct ungrounded numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected: Option<bool>,
    pub model: String,
    pub provider: String,
    pub attempts: Vec<Value>,
    pub usage: Usage,
}

/// A question checked and ready to ask ([`InsightsService::prepare`]).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub question: String,
    pub scope: Scope,
    /// The alias or `provider/model` asked for (or the configured default).
    pub model: String,
    system: String,
    years: std::ops::RangeInclusive<i64>,
    strict: bool,
}

impl Prepared {
    /// The same question for another model (multi-model comparison).
    pub fn with_model(&self, model: &str) -> Prepared {
        Prepared {
            model: model.to_owned(),
            ..self.clone()
        }
    }
}

/// An earlier question of a thread, with what its answer rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub question: String,
    pub answer: String,
    pub figures: Vec<Figure>,
}

/// What a question reports while it runs (the stream of `stream: true`).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A tool call that just completed (or failed).
    ToolCall(CallRecord),
    /// A piece of the model's text as the provider streams it (not under `strict`, whose
    /// answer may be rewritten).
    Delta(String),
    /// The answer's whole text when no piece was streamed (under `strict`, or a model that
    /// does not stream).
    Text(String),
}

/// Where progress goes.
pub type Events = tokio::sync::mpsc::UnboundedSender<Progress>;

/// The insights settings (`CONEA_INSIGHTS_MODEL`, `CONEA_INSIGHTS_TIMEOUT`,
/// `CONEA_INSIGHTS_PRICES`).
#[derive(Debug, Clone)]
pub struct InsightsSettings {
    pub model: String,
    pub timeout: Duration,
    /// The comparison's `cost`: the built-in table with the configured prices over it.
    pub prices: crate::prices::Prices,
}

pub struct InsightsService {
    tools: Arc<dyn Executor>,
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
    events: Option<Events>,
    /// Hand text deltas to `events` as the provider streams them.
    stream_text: bool,
    /// Whether any delta was handed on.
    streamed: bool,
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
        tools: Arc<dyn Executor>,
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
        let prepared = self.prepare(by, q).await?;
        self.answer(by, &prepared, &[], None).await
    }

    /// Checks the caller and the question before anything is asked of a model
    /// [ai:use and data:read]: every error a client must see as a status code (403, 400,
    /// 404 for the shop) answers here, so a stream or a job starts only for a question
    /// that can run.
    pub async fn prepare(&self, by: &Principal, q: &Question) -> CoreResult<Prepared> {
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
        Ok(Prepared {
            question: question.to_owned(),
            scope,
            model,
            system,
            years,
            strict: q.strict,
        })
    }

    /// Answers a prepared question after the earlier exchanges of its thread (oldest
    /// first): each earlier question, the calls behind its figures with their results, and
    /// its answer go into the transcript, so the model can build on them, and the earlier
    /// figures count as known numbers for the grounding check. Progress goes to `events`
    /// as it happens (each tool call as it completes, then the answer's text).
    pub async fn answer(
        &self,
        by: &Principal,
        p: &Prepared,
        history: &[Exchange],
        events: Option<&Events>,
    ) -> CoreResult<Answer> {
        let mut turns = vec![Turn::System(p.system.clone())];
        let mut g = Gathered {
            events: events.cloned(),
            stream_text: events.is_some() && !p.strict,
            ..Gathered::default()
        };
        for (i, past) in history.iter().enumerate() {
            g.known.add_text(&past.question);
            turns.push(Turn::User(past.question.clone()));
            if !past.figures.is_empty() {
                let calls: Vec<Call> = past
                    .figures
                    .iter()
                    .enumerate()
                    .map(|(j, f)| Call {
                        id: format!("history_{i}_{j}"),
                        name: f.tool.clone(),
                        arguments: f.arguments.clone(),
                    })
                    .collect();
                turns.push(Turn::Assistant {
                    text: String::new(),
                    calls: calls.clone(),
                });
                for (call, f) in calls.into_iter().zip(&past.figures) {
                    g.known.add_json(&f.result);
                    turns.push(Turn::ToolResult {
                        call_id: call.id,
                        name: call.name,
                        content: for_model(&f.result, MAX_RESULT_BYTES),
                    });
                }
            }
            turns.push(Turn::Assistant {
                text: past.answer.clone(),
                calls: Vec::new(),
            });
        }
        turns.push(Turn::User(p.question.clone()));
        g.known.add_text(&p.question);
        let (model, scope, years) = (&p.model, &p.scope, &p.years);
        let budget = self.settings.timeout;
        let work = async {
            let mut answer = self.converse(by, model, scope, &mut turns, &mut g).await?;
            let mut grounding = Checker::new(g.known.clone(), years.clone()).check(&answer);
            let mut corrected = None;
            if p.strict {
                corrected = Some(false);
                if !grounding.ungrounded.is_empty() {
                    turns.push(Turn::User(prompt::correction(&grounding.ungrounded)));
                    answer = self.converse(by, model, scope, &mut turns, &mut g).await?;
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
        if let (Some(tx), false) = (events, g.streamed) {
            // The receiver may be gone (the client left); the answer is still returned.
            let _ = tx.send(Progress::Text(answer.clone()));
        }
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
            let reply = match (g.events.clone(), g.stream_text) {
                (Some(tx), true) => {
                    let sent = std::sync::atomic::AtomicBool::new(false);
                    let hand_on = |piece: &str| {
                        sent.store(true, std::sync::atomic::Ordering::Relaxed);
                        let _ = tx.send(Progress::Delta(piece.to_owned()));
                    };
                    let reply = self
                        .model
                        .reply_streamed(by, model, turns, &self.catalogue, &hand_on)
                        .await?;
                    g.streamed |= sent.load(std::sync::atomic::Ordering::Relaxed);
                    reply
                }
                _ => self.model.reply(by, model, turns, &self.catalogue).await?,
            };
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
                let record = CallRecord {
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                    latency_ms,
                    error,
                };
                if let Some(tx) = &g.events {
                    let _ = tx.send(Progress::ToolCall(record.clone()));
                }
                g.calls.push(record);
                turns.push(Turn::ToolResult {
                    call_id: call.id,
                    name: call.name,
                    content,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Reply;
    use crate::tools::{Ran, ToolError};
    use conea_core::clock::FakeClock;
    use conea_core::ids::OrgId;
    use conea_core::principal::PrincipalKind;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A model whose next reply is computed from the transcript it is handed.
    struct Scripted {
        calls: AtomicUsize,
        seen: Mutex<Vec<Vec<Turn>>>,
        script: fn(&[Turn]) -> (String, Vec<Call>),
    }

    #[async_trait::async_trait]
    impl Model for Scripted {
        async fn reply(
            &self,
            _: &Principal,
            _: &str,
            turns: &[Turn],
            tools: &[ToolDef],
        ) -> CoreResult<Reply> {
            assert_eq!(tools.len(), 14);
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.seen.lock().unwrap().push(turns.to_vec());
            let (text, calls) = (self.script)(turns);
            Ok(Reply {
                text,
                calls,
                provider: "fake".into(),
                model: "fake-1".into(),
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 2,
                },
                attempts: vec![json!({"provider": "fake"})],
            })
        }
    }

    /// Tools that answer one fixed report and refuse everything else.
    struct FixedTools;

    #[async_trait::async_trait]
    impl Executor for FixedTools {
        async fn shop(&self, _: &Principal, shop: &str) -> CoreResult<String> {
            Err(CoreError::not_found("shop", shop))
        }

        async fn run(
            &self,
            _: &Principal,
            scope: &Scope,
            name: &str,
            _: &Value,
        ) -> CoreResult<Result<Ran, ToolError>> {
            Ok(match name {
                "sales_over_time" => Ok(Ran {
                    arguments: json!({"from": scope.from, "to": scope.to}),
                    result: json!({"revenue": "1234.50", "orders": 37, "series": (0..30).collect::<Vec<_>>()}),
                }),
                other => Err(ToolError::new(format!("`{other}` is not a tool"))),
            })
        }
    }

    fn call(id: &str, name: &str) -> Call {
        Call {
            id: id.into(),
            name: name.into(),
            arguments: json!({}),
        }
    }

    fn results(turns: &[Turn]) -> usize {
        turns
            .iter()
            .filter(|t| matches!(t, Turn::ToolResult { .. }))
            .count()
    }

    fn service(script: fn(&[Turn]) -> (String, Vec<Call>)) -> (InsightsService, Arc<Scripted>) {
        let model = Arc::new(Scripted {
            calls: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            script,
        });
        let s = InsightsService::new(
            Arc::new(FixedTools),
            model.clone(),
            Arc::new(FakeClock::new(1_772_323_200_000)),
            InsightsSettings {
                model: "default".into(),
                timeout: Duration::from_secs(60),
                prices: Default::default(),
            },
        );
        (s, model)
    }

    fn caller(perms: &[Permission]) -> Principal {
        Principal {
            kind: PrincipalKind::ApiKey,
            subject: "key_test".into(),
            org_id: OrgId::generate(),
            role: None,
            permissions: perms.iter().copied().collect(),
            issued_at: None,
            expires_at: None,
        }
    }

    fn question(text: &str) -> Question {
        Question {
            question: text.into(),
            from: Some("2026-02-01".into()),
            to: Some("2026-02-28".into()),
            ..Question::default()
        }
    }

    const BOTH: [Permission; 2] = [Permission::AiUse, Permission::DataRead];

    #[tokio::test]
    async fn both_permissions_are_required_before_the_model_is_called() {
        let (s, model) = service(|_| ("never".into(), vec![]));
        for perms in [
            &[Permission::AiUse][..],
            &[Permission::DataRead][..],
            &[][..],
        ] {
            let e = s
                .ask(&caller(perms), &question("Revenue?"))
                .await
                .unwrap_err();
            assert!(matches!(e, CoreError::Forbidden { .. }), "{e:?}");
        }
        let e = s.ask(&caller(&BOTH), &question("  ")).await.unwrap_err();
        assert!(matches!(e, CoreError::InvalidInput { .. }));
        assert_eq!(model.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn results_go_back_under_their_call_ids_and_figures_keep_the_whole_result() {
        let (s, model) = service(|turns| match results(turns) {
            0 => (
                String::new(),
                vec![call("c1", "sales_over_time"), call("c2", "nope")],
            ),
            _ => ("Revenue was $1,234.50 from 37 orders.".into(), vec![]),
        });
        let a = s
            .ask(&caller(&BOTH), &question("Revenue in February?"))
            .await
            .unwrap();
        assert_eq!(a.answer, "Revenue was $1,234.50 from 37 orders.");
        assert_eq!(
            a.grounding,
            Grounding {
                checked: 2,
                ungrounded: vec![]
            }
        );
        assert_eq!(a.figures.len(), 1);
        assert_eq!(
            a.figures[0].arguments,
            json!({"from": "2026-02-01", "to": "2026-02-28"})
        );
        assert_eq!(a.figures[0].result["series"].as_array().unwrap().len(), 30);
        assert_eq!(a.tool_calls.len(), 2);
        assert_eq!(
            a.tool_calls[1].error.as_deref(),
            Some("`nope` is not a tool")
        );
        assert_eq!((a.usage.input_tokens, a.usage.output_tokens), (20, 4));
        assert_eq!((a.attempts.len(), a.provider.as_str()), (2, "fake"));
        let seen = model.seen.lock().unwrap();
        let Turn::System(prompt) = &seen[0][0] else {
            panic!("the system prompt first");
        };
        assert!(prompt.contains("2026-02-01 to 2026-02-28"));
        let handed: Vec<(String, String)> = seen[1]
            .iter()
            .filter_map(|t| match t {
                Turn::ToolResult {
                    call_id, content, ..
                } => Some((call_id.clone(), content.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(handed[0].0, "c1");
        // The model is shown a summary: the long series as its first rows and its count.
        assert!(handed[0].1.contains("\"total_rows\":30"), "{}", handed[0].1);
        assert_eq!(
            handed[1],
            (
                "c2".into(),
                json!({"error": "`nope` is not a tool"}).to_string()
            )
        );
    }

    #[tokio::test]
    async fn a_ninth_tool_call_fails_the_question_with_the_calls_made() {
        let (s, model) = service(|turns| {
            (
                String::new(),
                vec![call(&format!("c{}", results(turns)), "sales_over_time")],
            )
        });
        let e = s
            .ask(&caller(&BOTH), &question("Everything"))
            .await
            .unwrap_err();
        let CoreError::Upstream { code, details, .. } = e else {
            panic!("{e:?}");
        };
        assert_eq!(code, ErrorCode::ToolCallLimitExceeded);
        assert_eq!(
            details["tool_calls"].as_array().unwrap().len(),
            MAX_TOOL_CALLS
        );
        assert_eq!(model.calls.load(Ordering::SeqCst), MAX_TOOL_CALLS + 1);
    }

    #[tokio::test]
    async fn strict_asks_once_to_correct_ungrounded_numbers() {
        let (s, model) = service(|turns| {
            let corrected = turns
                .iter()
                .any(|t| matches!(t, Turn::User(u) if u.contains("not in any tool result")));
            match (results(turns), corrected) {
                (0, _) => (String::new(), vec![call("c1", "sales_over_time")]),
                (_, false) => (
                    "Revenue was $1,234.50; March will bring $5,000.".into(),
                    vec![],
                ),
                (_, true) => ("Revenue was $1,234.50.".into(), vec![]),
            }
        });
        let mut q = question("Revenue?");
        let a = s.ask(&caller(&BOTH), &q).await.unwrap();
        assert_eq!(a.grounding.ungrounded.len(), 1);
        assert_eq!(a.grounding.ungrounded[0].text, "$5,000");
        assert_eq!(a.corrected, None);
        q.strict = true;
        let a = s.ask(&caller(&BOTH), &q).await.unwrap();
        assert_eq!(a.answer, "Revenue was $1,234.50.");
        assert_eq!(
            a.grounding,
            Grounding {
                checked: 1,
                ungrounded: vec![]
            }
        );
        assert_eq!(a.corrected, Some(true));
        // 2 turns for the first question, 3 for the strict one.
        assert_eq!(model.calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_shop_of_another_organization_is_not_found_before_the_model_is_called() {
        let (s, model) = service(|_| ("never".into(), vec![]));
        let mut q = question("Revenue?");
        q.shop_id = Some("shop_elsewhere".into());
        let e = s.ask(&caller(&BOTH), &q).await.unwrap_err();
        assert!(matches!(e, CoreError::NotFound { .. }));
        assert_eq!(model.calls.load(Ordering::SeqCst), 0);
    }
}
