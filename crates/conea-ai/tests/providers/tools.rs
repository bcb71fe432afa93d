//! Tool calling in each provider's own wire format: a tool-call answer is read into
//! [`ToolCall`]s, a transcript carrying tool calls and results is sent as the provider
//! expects it (pinned by `fixtures/<provider>/tool_results_request.json`), and a fallback
//! mid-conversation carries the transcript to another provider.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fakes;

use conea_ai::http::StreamLimits;
use conea_ai::{
    CallOptions, ChatRequest, FinishReason, Message, ProviderKind, ToolCall, ToolChoice, ToolSpec,
};
use fakes::{setup, Dialect, FakeServer, Script, ALL, ANTHROPIC, GEMINI, OPENAI};
use serde_json::{json, Value};
use std::time::Duration;

fn opts() -> CallOptions {
    CallOptions {
        timeout: Duration::from_secs(5),
        stream: StreamLimits {
            idle: Duration::from_millis(300),
            total: Duration::from_secs(10),
        },
    }
}

fn sales_tool() -> ToolSpec {
    ToolSpec::new(
        "sales_total",
        "Sales total over the last N days",
        json!({"type": "object", "properties": {"days": {"type": "integer"}}, "required": ["days"]}),
    )
}

fn question(model: &str) -> ChatRequest {
    let mut req = ChatRequest::new(
        model,
        vec![
            Message::system("You are a shop analyst."),
            Message::user("Revenue last week?"),
        ],
    );
    req.tools = vec![sales_tool()];
    req
}

/// The question, the model's call and the tool's result.
fn transcript(model: &str) -> ChatRequest {
    let mut req = question(model);
    req.messages.push(Message::assistant_tool_calls(
        "",
        vec![ToolCall::new(
            "call_abc123",
            "sales_total",
            json!({"days": 7}),
        )],
    ));
    req.messages.push(Message::tool_result(
        "call_abc123",
        "sales_total",
        r#"{"total":1200}"#,
    ));
    req
}

fn fixture(d: &Dialect, name: &str) -> Value {
    let dir = match d.kind {
        ProviderKind::OpenAi => "openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Cohere => "cohere",
        ProviderKind::Gemini => "gemini",
        ProviderKind::Ollama => "ollama",
    };
    let path = format!("{}/tests/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The id each provider's tool-call fixture gives (or Conea makes) for the call.
fn expected_id(d: &Dialect) -> &'static str {
    match d.kind {
        ProviderKind::OpenAi => "call_abc123",
        ProviderKind::Anthropic => "toolu_01A09q90qw90lq917835lq9",
        ProviderKind::Cohere => "sales_total_1byjy32y4hvq",
        ProviderKind::Gemini => "call_Yb3BaOjFJ8qEkdUPz-3p6Ak_0",
        ProviderKind::Ollama => "call_2025-07-07T20_32_53_844124Z_0",
    }
}

#[tokio::test]
async fn a_tool_call_answer_is_read_in_every_provider_format() {
    for d in ALL {
        let fake = FakeServer::start(d).await;
        fake.script([Script::ToolCall]);
        let resp = fake
            .provider()
            .complete("test-model", &question("x"), &opts())
            .await
            .unwrap();
        let name = d.kind.name();
        assert_eq!(
            resp.tool_calls,
            vec![ToolCall::new(
                expected_id(d),
                "sales_total",
                json!({"days": 7})
            )],
            "{name}"
        );
        assert_eq!(resp.finish_reason, FinishReason::ToolCalls, "{name}");
        assert_eq!(resp.message().tool_calls, resp.tool_calls, "{name}");
    }
}

#[tokio::test]
async fn tools_and_tool_results_are_sent_in_every_provider_format() {
    for d in ALL {
        let fake = FakeServer::start(d).await;
        let mut req = transcript("x");
        req.tool_choice = ToolChoice::Required;
        fake.provider()
            .complete("test-model", &req, &opts())
            .await
            .unwrap();
        let sent = &fake.requests()[0].body;
        let expected = fixture(d, "tool_results_request.json");
        let name = d.kind.name();
        for (key, want) in expected.as_object().unwrap() {
            assert_eq!(&sent[key], want, "{name}: `{key}`");
        }
        if d.kind == ProviderKind::Ollama || d.kind == ProviderKind::Gemini {
            assert!(sent.get("tool_choice").is_none(), "{name}");
        }
    }
}

#[tokio::test]
async fn tool_choice_none_and_named_tools_are_translated() {
    let o = FakeServer::start(&OPENAI).await;
    let a = FakeServer::start(&ANTHROPIC).await;
    let g = FakeServer::start(&GEMINI).await;
    let mut req = question("x");
    req.tools
        .push(ToolSpec::new("orders", "", json!({"type": "object"})));
    req.tool_choice = ToolChoice::Tool("orders".into());
    for f in [&o, &a, &g] {
        f.provider().complete("m", &req, &opts()).await.unwrap();
    }
    assert_eq!(
        o.requests()[0].body["tool_choice"],
        json!({"type": "function", "function": {"name": "orders"}})
    );
    assert_eq!(
        a.requests()[0].body["tool_choice"],
        json!({"type": "tool", "name": "orders"})
    );
    assert_eq!(
        g.requests()[0].body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["orders"]}})
    );
    req.tool_choice = ToolChoice::None;
    o.provider().complete("m", &req, &opts()).await.unwrap();
    a.provider().complete("m", &req, &opts()).await.unwrap();
    assert_eq!(o.requests()[1].body["tool_choice"], "none");
    assert_eq!(a.requests()[1].body["tool_choice"], json!({"type": "none"}));
}

#[tokio::test]
async fn a_request_without_tools_sends_no_tool_fields() {
    for d in ALL {
        let fake = FakeServer::start(d).await;
        let req = ChatRequest::new("x", vec![Message::user("Hello")]);
        fake.provider()
            .complete("test-model", &req, &opts())
            .await
            .unwrap();
        let sent = &fake.requests()[0].body;
        for key in ["tools", "tool_choice", "toolConfig"] {
            assert!(sent.get(key).is_none(), "{}: {key}", d.kind.name());
        }
    }
}

#[tokio::test]
async fn fallback_mid_conversation_carries_the_tool_call_and_result_to_the_next_provider() {
    let (o, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    o.script([Script::ToolCall, Script::ServerError]);
    let s = setup(
        &[&o, &a],
        "[ai.aliases]\nanalyst = [\"openai/gpt-4o-mini\", \"anthropic/claude-3-5-haiku-latest\"]",
        &[("CONEA_AI_MAX_RETRIES", "0")],
    );
    let mut req = question("analyst");
    let (first, _) = s.router.complete(&req).await.unwrap();
    assert_eq!(first.provider, "openai");
    let call = first.tool_calls[0].clone();
    req.messages.push(first.message());
    req.messages.push(Message::tool_result(
        &call.id,
        &call.name,
        r#"{"total":1200}"#,
    ));

    let (second, attempts) = s.router.complete(&req).await.unwrap();
    assert_eq!(second.provider, "anthropic");
    assert_eq!(attempts.len(), 2);
    assert_eq!(o.count(), 2);
    let sent = &a.requests()[0].body;
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "user", "content": "Revenue last week?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_abc123", "name": "sales_total", "input": {"days": 7}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_abc123", "content": "{\"total\":1200}"}
            ]}
        ])
    );
    assert_eq!(sent["tools"][0]["name"], "sales_total");
}
