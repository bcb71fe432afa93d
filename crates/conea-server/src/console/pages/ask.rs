//! `GET /console/ask` [ai:use and data:read]: the AI analyst's question form; `POST
//! /console/ask` asks the insights service (as `POST /v1/insights/ask`, not streamed) and
//! shows the answer with, beside it, the figures and tool calls it rests on and the
//! grounding check's verdict. Each question starts a thread (the thread service, as `POST
//! /v1/insights/threads`): the page lists the recent threads, and a thread's page
//! (`/console/ask/threads/{id}`) shows its messages and takes follow-up questions. With the
//! console's script, the forms post to `POST /console/ask/stream` and `POST
//! /console/ask/threads/{id}/stream` instead: server-sent events of the tool calls and the
//! answer's text as the provider streams it (the insights service's `prepare` and `answer`
//! with events, as `POST /v1/insights/ask` with `stream: true`), then the same
//! server-rendered answer.

use crate::console::ctx::{html, see_other, Ctx, Failure, Member, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::Form;
use conea_core::permissions::Permission;
use conea_core::CoreError;
use conea_insights::threads::{ThreadSummary, ThreadView};
use conea_insights::Progress;
use conea_insights::{Answer, Question};
use futures::StreamExt;
use maud::{html, Markup};
use serde::Deserialize;
use std::convert::Infallible;

/// A figure's result is shown up to this many characters (the API has all of it).
const MAX_RESULT_CHARS: usize = 4000;

#[derive(Deserialize, Default)]
pub struct AskForm {
    pub question: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl AskForm {
    /// The period's days as typed in the page's language, made ISO (`YYYY-MM-DD`).
    fn read_days(&mut self, lang: i18n::Lang) {
        for d in [&mut self.from, &mut self.to].into_iter().flatten() {
            *d = i18n::day_from_field(lang, d);
        }
    }
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn form(ctx: &Ctx, m: &Member, f: &AskForm) -> Markup {
    html! {
        form class="stack card" method="post" action="/console/ask" data-stream=(STREAM_PATH) aria-label=(ctx.t(T::NavAsk)) {
            (layout::csrf(m))
            label for="question" { (ctx.t(T::Question))
                textarea id="question" name="question" rows="3" required maxlength="2000" placeholder=(ctx.t(T::QuestionHint)) { (f.question) }
            }
            div class="filters" {
                (layout::date_field(ctx, "ask-from", "from", T::From, f.from.as_deref().unwrap_or("")))
                (layout::date_field(ctx, "ask-to", "to", T::To, f.to.as_deref().unwrap_or("")))
            }
            button type="submit" { (ctx.t(T::AskButton)) }
        }
    }
}

fn truncated(text: String) -> String {
    if text.chars().count() <= MAX_RESULT_CHARS {
        return text;
    }
    let mut t: String = text.chars().take(MAX_RESULT_CHARS).collect();
    t.push('…');
    t
}

fn answer_view(ctx: &Ctx, a: &Answer) -> Markup {
    html! {
        div class="ask-result" {
            section aria-labelledby="answer" id="answer-section" {
                h2 id="answer" { (ctx.t(T::AnswerTitle)) }
                div id="answer-text" class="answer" { (a.answer) }
                @if a.grounding.ungrounded.is_empty() {
                    p class="muted status-ok" id="grounding" { (ctx.t(T::Grounded)) " (" (a.grounding.checked) ")" }
                } @else {
                    p class="notice error" role="alert" id="grounding" {
                        (ctx.t(T::Ungrounded)) ": "
                        @for (i, u) in a.grounding.ungrounded.iter().enumerate() { @if i > 0 { ", " } code { (u.text) } }
                    }
                }
                p class="muted" { (a.provider) "/" (a.model) " · " (a.usage.input_tokens + a.usage.output_tokens) " tokens" }
            }
            aside aria-labelledby="evidence" id="evidence-section" {
                h2 id="evidence" { (ctx.t(T::Evidence)) }
                h3 { (ctx.t(T::ToolCalls)) }
                @if a.tool_calls.is_empty() {
                    p class="muted" { (ctx.t(T::NoToolCalls)) }
                } @else {
                    ol class="tool-calls" {
                        @for c in &a.tool_calls {
                            li {
                                code { (c.name) } " " span class="muted" { (c.arguments.to_string()) " · " (c.latency_ms) " ms" }
                                @if let Some(e) = &c.error { br; span class="status-down" { (e) } }
                            }
                        }
                    }
                }
                h3 { (ctx.t(T::Figures)) }
                @for f in &a.figures {
                    details class="figure-result" {
                        summary { code { (f.tool) } " " span class="muted" { (f.arguments.to_string()) } }
                        pre class="draft" { (truncated(serde_json::to_string_pretty(&f.result).unwrap_or_default())) }
                    }
                }
            }
        }
    }
}

/// The answer of a new thread and the link to continue it.
fn answered(ctx: &Ctx, t: &ThreadView) -> Markup {
    html! {
        @if let Some(last) = t.messages.last() { (answer_view(ctx, &last.answer)) }
        p { a id="continue-thread" href={ (THREADS_PATH) "/" (t.id) } { (ctx.t(T::ContinueThread)) } }
    }
}

/// The threads' pages: `GET …/{id}` shows one, `POST …/{id}` asks a follow-up.
pub const THREADS_PATH: &str = "/console/ask/threads";

fn thread_list(ctx: &Ctx, list: &[ThreadSummary]) -> Markup {
    let tz = ctx.tz.clone();
    html! {
        section aria-labelledby="threads" {
            h2 id="threads" { (ctx.t(T::RecentThreads)) }
            @if list.is_empty() {
                p class="muted" { (ctx.t(T::NoThreads)) }
            } @else {
                ul class="threads" {
                    @for t in list {
                        li data-thread=(t.id) {
                            a href={ (THREADS_PATH) "/" (t.id) } { (t.first_question.as_deref().unwrap_or("—")) }
                            " " span class="muted" { (i18n::instant(ctx.lang, &tz, t.created_at)) " · " (t.messages) " " (ctx.t(T::QuestionsCount)) }
                        }
                    }
                }
            }
        }
    }
}

fn page(ctx: &Ctx, m: &Member, f: &AskForm, below: Markup) -> Markup {
    let body = html! {
        p class="muted" { (ctx.t(T::AskIntro)) }
        (form(ctx, m, f))
        div id="ask-out" aria-live="polite" { (below) }
        (live_template(ctx))
    };
    layout::page(ctx, m, ctx.t(T::NavAsk), body)
}

/// What the script fills while an answer streams in.
fn live_template(ctx: &Ctx) -> Markup {
    html! {
        template id="ask-live" {
            section class="card" aria-labelledby="live-answer" {
                h2 id="live-answer" { (ctx.t(T::AnswerTitle)) }
                p class="muted" id="live-status" role="status" { (ctx.t(T::Answering)) }
                ol class="tool-calls" id="live-calls" {}
                div id="live-text" class="answer" {}
            }
        }
    }
}

/// Where the script posts the form for a streamed answer.
pub const STREAM_PATH: &str = "/console/ask/stream";

fn event(name: &str, data: serde_json::Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// `POST /console/ask/stream` [ai:use and data:read] (the form's fields and CSRF token):
/// `text/event-stream` of `tool_call` `{name}`, `delta` `{text}`, then `done` or `error`
/// `{html}` (the answer as the form's page shows it, or the refusal). A question refused
/// before any answering (permissions, an empty question, a bad period) is the form's page
/// with the refusal, as `POST /console/ask` answers it (the script then posts the form).
pub async fn stream(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Form(mut f): Form<AskForm>,
) -> Result<Response, Failure> {
    require(&ctx, &m)?;
    f.read_days(ctx.lang);
    let q = question(&ctx, &f);
    let threads = state.platform().threads.clone();
    match threads.insights().prepare(&m.principal, &q).await {
        Ok(_) => {}
        Err(e @ (CoreError::InvalidInput { .. } | CoreError::Unprocessable { .. })) => {
            return Ok(refused(&ctx, &m, &f, e));
        }
        Err(e) => return Err(ctx.fail(e)),
    };
    let p = m.principal.clone();
    Ok(streamed(move |tx| async move {
        match threads.create(&p, Some(&q), Some(&tx)).await {
            Ok(t) => event(
                "done",
                serde_json::json!({ "html": answered(&ctx, &t).into_string() }),
            ),
            Err(e) => failed(&ctx, &e),
        }
    }))
}

/// The `error` event of an answer that failed once streaming began.
fn failed(ctx: &Ctx, e: &CoreError) -> Event {
    let note = html! { p class="notice error" role="alert" { (i18n::error_message(ctx.lang, e)) } };
    event("error", serde_json::json!({ "html": note.into_string() }))
}

/// Server-sent events of an answer: its progress (`tool_call`, `delta`) as `answering`
/// sends it, then the event `answering` ends with.
fn streamed<F, Fut>(answering: F) -> Response
where
    F: FnOnce(conea_insights::ask::Events) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Event> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Event>();
    tokio::spawn(async move {
        // `answering` owns the sender: the progress stream ends when it returns.
        let last = answering(tx).await;
        let _ = done_tx.send(last);
    });
    let progress =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) }).map(
            |p| match p {
                Progress::ToolCall(c) => event("tool_call", serde_json::json!({ "name": c.name })),
                Progress::Delta(text) | Progress::Text(text) => {
                    event("delta", serde_json::json!({ "text": text }))
                }
            },
        );
    let last = futures::stream::once(async move {
        done_rx.await.unwrap_or_else(|_| {
            event(
                "error",
                serde_json::json!({ "html": "<p class=\"notice error\" role=\"alert\">…</p>" }),
            )
        })
    });
    Sse::new(progress.chain(last).map(Ok::<_, Infallible>)).into_response()
}

fn question(ctx: &Ctx, f: &AskForm) -> Question {
    Question {
        question: f.question.clone(),
        shop_id: None,
        from: nonempty(&f.from),
        to: nonempty(&f.to),
        model: None,
        language: Some(ctx.lang.code().to_owned()),
        strict: false,
    }
}

/// The form's page with a refusal above the form, the question kept.
fn refused(ctx: &Ctx, m: &Member, f: &AskForm, e: CoreError) -> Response {
    let (status, _) = crate::http::error::classify(&e);
    let note =
        html! { p class="notice error" role="alert" { (i18n::error_message(ctx.lang, &e)) } };
    html(status, page(ctx, m, f, note))
}

fn require(ctx: &Ctx, m: &Member) -> Result<(), Failure> {
    m.principal.require(Permission::AiUse).or_fail(ctx)?;
    m.principal.require(Permission::DataRead).or_fail(ctx)
}

pub async fn show(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
) -> Result<Response, Failure> {
    require(&ctx, &m)?;
    let list = state
        .platform()
        .threads
        .list(&m.principal, 20)
        .await
        .or_fail(&ctx)?;
    Ok(html(
        StatusCode::OK,
        page(&ctx, &m, &AskForm::default(), thread_list(&ctx, &list)),
    ))
}

fn thread_page(ctx: &Ctx, m: &Member, t: &ThreadView, f: &AskForm, note: Markup) -> Markup {
    let tz = ctx.tz.clone();
    let n = t.messages.len();
    let body = html! {
        p { a href="/console/ask" { (ctx.t(T::NavAsk)) } }
        @for (i, msg) in t.messages.iter().enumerate() {
            article class="card thread-message" id={ "m" (i + 1) } {
                h2 { (msg.question) }
                p class="muted" { (i18n::instant_text(ctx.lang, &tz, &msg.created_at)) }
                @if i + 1 == n {
                    (answer_view(ctx, &msg.answer))
                } @else {
                    div class="answer" { (msg.answer.answer) }
                }
            }
        }
        div id="ask-out" aria-live="polite" { (note) }
        (live_template(ctx))
        form class="stack card" method="post" action={ (THREADS_PATH) "/" (t.id) } data-stream={ (THREADS_PATH) "/" (t.id) "/stream" } aria-label=(ctx.t(T::FollowUp)) {
            (layout::csrf(m))
            label for="question" { (ctx.t(T::FollowUp))
                textarea id="question" name="question" rows="3" required maxlength="2000" { (f.question) }
            }
            div class="filters" {
                (layout::date_field(ctx, "ask-from", "from", T::From, f.from.as_deref().unwrap_or("")))
                (layout::date_field(ctx, "ask-to", "to", T::To, f.to.as_deref().unwrap_or("")))
            }
            button type="submit" { (ctx.t(T::AskButton)) }
        }
    };
    layout::page(ctx, m, ctx.t(T::Thread), body)
}

/// `GET /console/ask/threads/{id}` [ai:use and data:read]: a thread's questions and
/// answers (the last in full, with its evidence) and a follow-up form.
pub async fn thread(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    require(&ctx, &m)?;
    let t = state
        .platform()
        .threads
        .get(&m.principal, &id)
        .await
        .or_fail(&ctx)?;
    Ok(html(
        StatusCode::OK,
        thread_page(&ctx, &m, &t, &AskForm::default(), html! {}),
    ))
}

/// `POST /console/ask/threads/{id}/stream` [ai:use and data:read]: a follow-up question
/// answered as server-sent events, as [`stream`] answers a first one; `done` carries
/// `{href}`, the thread's page at the new message (the script goes there). A question
/// refused before answering is the thread's page with the refusal, as [`follow_up`]
/// answers it.
pub async fn follow_up_stream(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
    Form(mut f): Form<AskForm>,
) -> Result<Response, Failure> {
    require(&ctx, &m)?;
    f.read_days(ctx.lang);
    let threads = state.platform().threads.clone();
    let q = question(&ctx, &f);
    let (thread, prepared, history) = match threads.prepare_follow_up(&m.principal, &id, &q).await {
        Ok(ready) => ready,
        Err(
            e @ (CoreError::InvalidInput { .. }
            | CoreError::Unprocessable { .. }
            | CoreError::Conflict { .. }),
        ) => {
            let t = threads.get(&m.principal, &id).await.or_fail(&ctx)?;
            return Ok(refused_follow_up(&ctx, &m, &t, &f, e));
        }
        Err(e) => return Err(ctx.fail(e)),
    };
    let p = m.principal.clone();
    Ok(streamed(move |tx| async move {
        let answered = threads
            .run_follow_up(&p, &thread, &q, &prepared, &history, Some(&tx))
            .await;
        match answered {
            Ok(_) => {
                // `?m=` makes the address differ from the page's, so the browser loads it.
                let n = history.len() + 1;
                let href = format!("{THREADS_PATH}/{}?m={n}#m{n}", thread.id);
                event("done", serde_json::json!({ "href": href }))
            }
            Err(e) => failed(&ctx, &e),
        }
    }))
}

/// The thread's page with a refusal above the follow-up form, the question kept.
fn refused_follow_up(ctx: &Ctx, m: &Member, t: &ThreadView, f: &AskForm, e: CoreError) -> Response {
    let (status, _) = crate::http::error::classify(&e);
    let note =
        html! { p class="notice error" role="alert" { (i18n::error_message(ctx.lang, &e)) } };
    html(status, thread_page(ctx, m, t, f, note))
}

/// `POST /console/ask/threads/{id}`: a follow-up question (the thread service's
/// `follow_up`, as `POST /v1/insights/threads/{id}/messages`), then the thread again.
pub async fn follow_up(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Path(id): Path<String>,
    Form(mut f): Form<AskForm>,
) -> Result<Response, Failure> {
    require(&ctx, &m)?;
    f.read_days(ctx.lang);
    let threads = &state.platform().threads;
    let q = question(&ctx, &f);
    match threads.follow_up(&m.principal, &id, &q, None).await {
        Ok(_) => {
            let t = threads.get(&m.principal, &id).await.or_fail(&ctx)?;
            Ok(see_other(&format!(
                "{THREADS_PATH}/{}#m{}",
                t.id,
                t.messages.len()
            )))
        }
        Err(
            e @ (CoreError::InvalidInput { .. }
            | CoreError::Unprocessable { .. }
            | CoreError::Conflict { .. }
            | CoreError::Upstream { .. }),
        ) => {
            let t = threads.get(&m.principal, &id).await.or_fail(&ctx)?;
            Ok(refused_follow_up(&ctx, &m, &t, &f, e))
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

pub async fn ask(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Form(mut f): Form<AskForm>,
) -> Result<Response, Failure> {
    require(&ctx, &m)?;
    f.read_days(ctx.lang);
    let q = question(&ctx, &f);
    match state
        .platform()
        .threads
        .create(&m.principal, Some(&q), None)
        .await
    {
        Ok(t) => Ok(html(StatusCode::OK, page(&ctx, &m, &f, answered(&ctx, &t)))),
        // A question the service refuses, or a provider that fails, is said above the form
        // with the question kept.
        Err(
            e @ (CoreError::InvalidInput { .. }
            | CoreError::Unprocessable { .. }
            | CoreError::Upstream { .. }),
        ) => Ok(refused(&ctx, &m, &f, e)),
        Err(e) => Err(ctx.fail(e)),
    }
}
