//! The generation parameters of a chat request in each provider's own wire format: JSON
//! mode and response schemas, stop sequences, the seed, the end user and images, each
//! pinned by the exact fields the fake received; and the router skipping a target that
//! cannot carry one (the reason in its attempt), or refusing the request naming it when no
//! target can.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fakes;

use conea_ai::http::StreamLimits;
use conea_ai::{
    CallOptions, ChatRequest, GatewayError, Image, ImageSource, Message, Outcome, Part,
    ResponseFormat,
};
use fakes::{setup, FakeServer, ANTHROPIC, COHERE, GEMINI, OLLAMA, OPENAI};
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

fn schema() -> Value {
    json!({"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"], "additionalProperties": false})
}

/// A request with every generation parameter the gateway carries.
fn everything(format: ResponseFormat) -> ChatRequest {
    let mut req = ChatRequest::new("x", vec![Message::user("Revenue last week, as JSON?")]);
    req.response_format = Some(format);
    req.stop = vec!["END".into(), "\n\n".into()];
    req.seed = Some(42);
    req.user = Some("user-7".into());
    req
}

fn schema_format() -> ResponseFormat {
    ResponseFormat::JsonSchema {
        name: "revenue".into(),
        description: None,
        schema: schema(),
        strict: Some(true),
    }
}

/// What `everything` sent to one provider.
async fn sent(d: &'static fakes::Dialect, req: &ChatRequest) -> Value {
    let fake = FakeServer::start(d).await;
    fake.provider().complete("m", req, &opts()).await.unwrap();
    fake.requests()[0].body.clone()
}

#[tokio::test]
async fn openai_gets_response_format_stop_seed_and_user_as_they_are() {
    let body = sent(&OPENAI, &everything(schema_format())).await;
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "revenue", "schema": schema(), "strict": true}})
    );
    assert_eq!(body["stop"], json!(["END", "\n\n"]));
    assert_eq!(body["seed"], 42);
    assert_eq!(body["user"], "user-7");
    let body = sent(&OPENAI, &everything(ResponseFormat::JsonObject)).await;
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
}

#[tokio::test]
async fn gemini_gets_them_in_generation_config() {
    let body = sent(&GEMINI, &everything(schema_format())).await;
    assert_eq!(
        body["generationConfig"],
        json!({"stopSequences": ["END", "\n\n"], "seed": 42,
               "responseMimeType": "application/json", "responseJsonSchema": schema()})
    );
    assert!(body.get("user").is_none() && body.get("metadata").is_none());
    let body = sent(&GEMINI, &everything(ResponseFormat::JsonObject)).await;
    assert_eq!(
        body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert!(body["generationConfig"].get("responseJsonSchema").is_none());
}

#[tokio::test]
async fn ollama_gets_format_and_options() {
    let body = sent(&OLLAMA, &everything(schema_format())).await;
    assert_eq!(body["format"], schema());
    assert_eq!(
        body["options"],
        json!({"stop": ["END", "\n\n"], "seed": 42})
    );
    let body = sent(&OLLAMA, &everything(ResponseFormat::JsonObject)).await;
    assert_eq!(body["format"], "json");
}

#[tokio::test]
async fn cohere_gets_its_v2_response_format_stop_sequences_and_seed() {
    let body = sent(&COHERE, &everything(schema_format())).await;
    assert_eq!(
        body["response_format"],
        json!({"type": "json_object", "json_schema": schema()})
    );
    assert_eq!(body["stop_sequences"], json!(["END", "\n\n"]));
    assert_eq!(body["seed"], 42);
    assert!(body.get("user").is_none());
    let body = sent(&COHERE, &everything(ResponseFormat::JsonObject)).await;
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
}

#[tokio::test]
async fn anthropic_gets_stop_sequences_and_the_user_in_metadata() {
    let mut req = everything(ResponseFormat::JsonObject);
    req.response_format = None;
    req.seed = None;
    let body = sent(&ANTHROPIC, &req).await;
    assert_eq!(body["stop_sequences"], json!(["END", "\n\n"]));
    assert_eq!(body["metadata"], json!({"user_id": "user-7"}));
    assert!(body.get("stop").is_none() && body.get("user").is_none());
}

#[tokio::test]
async fn a_plain_request_sends_none_of_these_fields() {
    let req = ChatRequest::new("x", vec![Message::user("Hello")]);
    for d in fakes::ALL {
        let body = sent(d, &req).await;
        for key in [
            "response_format",
            "stop",
            "stop_sequences",
            "seed",
            "user",
            "metadata",
            "format",
        ] {
            assert!(body.get(key).is_none(), "{}: {key}", d.kind.name());
        }
        assert!(body["generationConfig"].is_null(), "{}", d.kind.name());
        assert!(body["options"].is_null(), "{}", d.kind.name());
    }
}

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn image_question(url: &str) -> ChatRequest {
    let image = Image {
        source: ImageSource::parse(url).unwrap(),
        detail: None,
    };
    ChatRequest::new(
        "x",
        vec![Message::user_parts(vec![
            Part::Text("What is in this picture?".into()),
            Part::Image(image),
        ])],
    )
}

#[tokio::test]
async fn inline_images_are_sent_in_each_provider_format() {
    let data_url = format!("data:image/png;base64,{PNG}");
    let req = image_question(&data_url);
    let text = "What is in this picture?";
    assert_eq!(
        sent(&OPENAI, &req).await["messages"][0],
        json!({"role": "user", "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": data_url}}]})
    );
    assert_eq!(
        sent(&COHERE, &req).await["messages"][0],
        json!({"role": "user", "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": data_url}}]})
    );
    assert_eq!(
        sent(&ANTHROPIC, &req).await["messages"][0],
        json!({"role": "user", "content": [
            {"type": "text", "text": text},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]})
    );
    assert_eq!(
        sent(&GEMINI, &req).await["contents"][0],
        json!({"role": "user", "parts": [
            {"text": text},
            {"inlineData": {"mimeType": "image/png", "data": PNG}}]})
    );
    assert_eq!(
        sent(&OLLAMA, &req).await["messages"][0],
        json!({"role": "user", "content": text, "images": [PNG]})
    );
}

#[tokio::test]
async fn image_urls_are_sent_by_url_where_the_provider_fetches_them() {
    let url = "https://cdn.example.com/products/mug.jpg";
    let req = image_question(url);
    assert_eq!(
        sent(&OPENAI, &req).await["messages"][0]["content"][1],
        json!({"type": "image_url", "image_url": {"url": url}})
    );
    assert_eq!(
        sent(&ANTHROPIC, &req).await["messages"][0]["content"][1],
        json!({"type": "image", "source": {"type": "url", "url": url}})
    );
    assert_eq!(
        sent(&GEMINI, &req).await["contents"][0]["parts"][1],
        json!({"fileData": {"mimeType": "image/jpeg", "fileUri": url}})
    );
}

#[tokio::test]
async fn a_target_that_cannot_carry_a_parameter_is_skipped_with_the_reason() {
    let (a, o) = (
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OPENAI).await,
    );
    let s = setup(
        &[&a, &o],
        "[ai.aliases]\nchat = [\"anthropic/claude-3-5-haiku-latest\", \"openai/gpt-4o-mini\"]",
        &[],
    );
    let mut req = ChatRequest::new("chat", vec![Message::user("JSON please")]);
    req.response_format = Some(ResponseFormat::JsonObject);
    let (resp, attempts) = s.router.complete(&req).await.unwrap();
    assert_eq!(resp.provider, "openai");
    assert_eq!(a.count(), 0, "anthropic was never called");
    assert_eq!(attempts[0].outcome, Outcome::SkippedUnsupported);
    assert_eq!(attempts[0].provider, "anthropic");
    assert!(attempts[0]
        .reason
        .as_deref()
        .unwrap()
        .starts_with("`response_format`: anthropic has no JSON mode"));
    assert_eq!(attempts[1].outcome, Outcome::Success);
    assert_eq!(
        o.requests()[0].body["response_format"],
        json!({"type": "json_object"})
    );

    // streaming takes the same path
    let routed = s.router.stream(&req).await.unwrap();
    assert_eq!(routed.provider, "openai");
    assert_eq!(routed.attempts[0].outcome, Outcome::SkippedUnsupported);
}

#[tokio::test]
async fn when_no_target_can_carry_a_parameter_the_request_is_refused_naming_it() {
    let (a, l) = (
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OLLAMA).await,
    );
    let s = setup(
        &[&a, &l],
        "[ai.aliases]\nlocal = [\"anthropic/claude-3-5-haiku-latest\", \"ollama/llava\"]",
        &[],
    );
    let req = image_question("https://cdn.example.com/mug");
    let mut seeded = req.clone();
    seeded.model = "anthropic/claude-3-5-haiku-latest".into();
    seeded.seed = Some(1);
    let e = s.router.complete(&seeded).await.unwrap_err();
    assert_eq!(e.details()["param"], "seed");
    assert_eq!(e.code(), "invalid_parameter");

    let mut local = req.clone();
    local.model = "ollama/llava".into();
    let e = s.router.stream(&local).await.unwrap_err();
    let GatewayError::UnsupportedParameter {
        param, providers, ..
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(param, "messages[0].content[1]");
    assert_eq!(providers, &vec!["ollama".to_owned()]);
    assert!(
        e.to_string().contains("ollama takes images only inline"),
        "{e}"
    );
    assert_eq!((a.count(), l.count()), (0, 0));

    // with a target that can take it, the alias answers from there
    let mut alias = req;
    alias.model = "local".into();
    let (resp, attempts) = s.router.complete(&alias).await.unwrap();
    assert_eq!(resp.provider, "anthropic");
    assert_eq!(attempts.len(), 1);
}
