//! `GET /console/ask` [ai:use and data:read]: the AI analyst's question form; `POST
//! /console/ask` asks the insights service (as `POST /v1/insights/ask`, not streamed) and
//! shows the answer with, beside it, the figures and tool calls it rests on and the
//! grounding check's verdict.

use crate::console::ctx::{html, Ctx, Failure, Member, OrFail, Signed};
use crate::console::i18n::T;
use crate::console::layout;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use conea_core::permissions::Permission;
use conea_core::CoreError;
use conea_insights::{Answer, Question};
use maud::{html, Markup};
use serde::Deserialize;

/// A figure's result is shown up to this many characters (the API has all of it).
const MAX_RESULT_CHARS: usize = 4000;

#[derive(Deserialize, Default)]
pub struct AskForm {
    pub question: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn form(ctx: &Ctx, m: &Member, f: &AskForm) -> Markup {
    html! {
        form class="stack card" method="post" action="/console/ask" aria-label=(ctx.t(T::NavAsk)) {
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

fn page(ctx: &Ctx, m: &Member, f: &AskForm, below: Markup) -> Markup {
    let body = html! {
        p class="muted" { (ctx.t(T::AskIntro)) }
        (form(ctx, m, f))
        (below)
    };
    layout::page(ctx, m, ctx.t(T::NavAsk), body)
}

fn require(ctx: &Ctx, m: &Member) -> Result<(), Failure> {
    m.principal.require(Permission::AiUse).or_fail(ctx)?;
    m.principal.require(Permission::DataRead).or_fail(ctx)
}

pub async fn show(Signed(ctx, m): Signed) -> Result<Response, Failure> {
    require(&ctx, &m)?;
    Ok(html(
        StatusCode::OK,
        page(&ctx, &m, &AskForm::default(), html! {}),
    ))
}

pub async fn ask(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Form(mut f): Form<AskForm>,
) -> Result<Response, Failure> {
    require(&ctx, &m)?;
    for d in [&mut f.from, &mut f.to].into_iter().flatten() {
        *d = crate::console::i18n::day_from_field(ctx.lang, d);
    }
    let q = Question {
        question: f.question.clone(),
        shop_id: None,
        from: nonempty(&f.from),
        to: nonempty(&f.to),
        model: None,
        language: Some(ctx.lang.code().to_owned()),
        strict: false,
    };
    match state.platform().insights.ask(&m.principal, &q).await {
        Ok(a) => Ok(html(
            StatusCode::OK,
            page(&ctx, &m, &f, answer_view(&ctx, &a)),
        )),
        // A question the service refuses, or a provider that fails, is said above the form
        // with the question kept.
        Err(
            e @ (CoreError::InvalidInput { .. }
            | CoreError::Unprocessable { .. }
            | CoreError::Upstream { .. }),
        ) => {
            let (status, _) = crate::http::error::classify(&e);
            let note = html! { p class="notice error" role="alert" { (e.public_message()) } };
            Ok(html(status, page(&ctx, &m, &f, note)))
        }
        Err(e) => Err(ctx.fail(e)),
    }
}
