//! Streaming through the router: fallback until the first byte, explicit error events
//! after it, stalls, client disconnects, usage exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fakes;

use conea_ai::{
    ChatRequest, ErrorKind, FinishReason, HealthStatus, Message, Outcome, StreamEvent, Usage,
};
use fakes::{
    collect, setup, text, usages, FakeServer, Script, ALL, ANTHROPIC, COHERE, GEMINI, OLLAMA,
    OPENAI,
};
use futures::StreamExt;
use std::time::Duration;

fn ask(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Hello")])
}

fn final_error(events: &[StreamEvent]) -> conea_ai::UpstreamError {
    assert!(
        !events.iter().any(|e| matches!(e, StreamEvent::Finish(_))),
        "never a clean finish after a failure: {events:?}"
    );
    match events.last() {
        Some(StreamEvent::Error(e)) => e.clone(),
        other => panic!("expected a final error event, got {other:?}"),
    }
}

#[tokio::test]
async fn every_provider_streams_through_the_router_with_usage_exactly_once() {
    for d in ALL {
        let fake = FakeServer::start(d).await;
        let s = setup(&[&fake], "", &[]);
        let model = format!("{}/m", d.kind.name());
        let routed = s.router.stream(&ask(&model)).await.unwrap();
        assert_eq!(routed.provider, d.kind.name());
        assert_eq!(routed.attempts.len(), 1);
        let events = collect(routed.events).await;
        assert_eq!(text(&events), d.expected.stream_content);
        let usage = Usage {
            input_tokens: d.expected.stream_input_tokens,
            output_tokens: d.expected.stream_output_tokens,
        };
        assert_eq!(usages(&events), vec![usage], "{}", d.kind.name());
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finish(FinishReason::Stop))
        );
        assert_eq!(
            s.usage.reports(),
            vec![(d.kind.name().to_owned(), "m".to_owned(), usage)],
            "{}: reported once",
            d.kind.name()
        );
    }
}

#[tokio::test]
async fn a_failure_before_the_first_byte_falls_back() {
    let (a, o) = (
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OPENAI).await,
    );
    a.script([Script::Overloaded]);
    let s = setup(
        &[&a, &o],
        "[ai.aliases]\nchat = [\"anthropic/claude\", \"openai/gpt-4o-mini\"]",
        &[("CONEA_AI_MAX_RETRIES", "0")],
    );
    let routed = s.router.stream(&ask("chat")).await.unwrap();
    assert_eq!(routed.provider, "openai");
    assert_eq!(routed.model, "gpt-4o-mini");
    let a0 = &routed.attempts[0];
    assert_eq!(
        (
            a0.provider.as_str(),
            a0.outcome,
            a0.status,
            a0.error_code.map(|c| c.as_str())
        ),
        ("anthropic", Outcome::Failed, Some(529), Some("overloaded"))
    );
    let events = collect(routed.events).await;
    assert_eq!(text(&events), OPENAI.expected.stream_content);
}

#[tokio::test]
async fn an_error_event_right_after_a_200_still_falls_back_and_retries_first() {
    let (a, o) = (
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OPENAI).await,
    );
    a.script([Script::ErrorFirst, Script::ErrorFirst]);
    let s = setup(
        &[&a, &o],
        "[ai.aliases]\nchat = [\"anthropic/claude\", \"openai/gpt-4o-mini\"]",
        &[("CONEA_AI_MAX_RETRIES", "1")],
    );
    let routed = s.router.stream(&ask("chat")).await.unwrap();
    assert_eq!(routed.provider, "openai");
    let outcomes: Vec<_> = routed
        .attempts
        .iter()
        .map(|a| {
            (
                a.provider.as_str(),
                a.outcome,
                a.error_code.map(|c| c.as_str()),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("anthropic", Outcome::Retried, Some("overloaded")),
            ("anthropic", Outcome::Failed, Some("overloaded")),
            ("openai", Outcome::Success, None),
        ]
    );
    assert_eq!(
        s.sleeper.waits().len(),
        1,
        "the retry waited on the fake clock"
    );
    let events = collect(routed.events).await;
    assert_eq!(text(&events), OPENAI.expected.stream_content);
}

#[tokio::test]
async fn a_failure_after_the_first_byte_ends_with_an_error_event_and_no_fallback() {
    let (a, o) = (
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OPENAI).await,
    );
    a.script([Script::ErrorAfterStart]);
    let s = setup(
        &[&a, &o],
        "[ai.aliases]\nchat = [\"anthropic/claude\", \"openai/gpt-4o-mini\"]",
        &[],
    );
    let routed = s.router.stream(&ask("chat")).await.unwrap();
    assert_eq!(routed.provider, "anthropic");
    let events = collect(routed.events).await;
    assert_eq!(text(&events), "Hello", "the text sent before the failure");
    let e = final_error(&events);
    assert_eq!(
        (e.provider.as_str(), e.kind),
        ("anthropic", ErrorKind::Overloaded)
    );
    assert_eq!(o.count(), 0, "no fallback once bytes reached the client");
    assert!(s.usage.reports().is_empty(), "no usage for a failed stream");
    let health = s
        .router
        .models()
        .providers
        .into_iter()
        .find(|p| p.name == "anthropic")
        .unwrap();
    assert_eq!(
        health.status,
        HealthStatus::Degraded,
        "the breaker heard of it"
    );
    assert_eq!(health.last_error.unwrap().code, "overloaded");
}

#[tokio::test]
async fn every_provider_mid_stream_failure_is_an_error_event() {
    for d in ALL {
        for script in [Script::ErrorAfterStart, Script::Truncated] {
            let fake = FakeServer::start(d).await;
            fake.script([script.clone()]);
            let s = setup(&[&fake], "", &[]);
            let routed = s
                .router
                .stream(&ask(&format!("{}/m", d.kind.name())))
                .await
                .unwrap();
            let events = collect(routed.events).await;
            assert!(!text(&events).is_empty(), "{} {script:?}", d.kind.name());
            final_error(&events);
        }
    }
}

#[tokio::test]
async fn a_stall_mid_stream_ends_with_an_error_event_and_closes_the_upstream_request() {
    let gemini = FakeServer::start(&GEMINI).await;
    gemini.script([Script::StallMidStream]);
    let s = setup(&[&gemini], "", &[("CONEA_AI_STREAM_IDLE_TIMEOUT", "200ms")]);
    let routed = s
        .router
        .stream(&ask("gemini/gemini-2.0-flash"))
        .await
        .unwrap();
    let events = collect(routed.events).await;
    assert_eq!(text(&events), "AI");
    let e = final_error(&events);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("200 ms"), "{}", e.message);
    assert!(
        gemini.wait_for_disconnects(1, Duration::from_secs(5)).await,
        "the stalled upstream request was closed"
    );
}

#[tokio::test]
async fn a_stream_longer_than_the_total_timeout_ends_with_an_error_event() {
    let ollama = FakeServer::start(&OLLAMA).await;
    ollama.script([Script::Drip]);
    let s = setup(
        &[&ollama],
        "",
        &[("CONEA_AI_STREAM_TOTAL_TIMEOUT", "300ms")],
    );
    let routed = s.router.stream(&ask("ollama/llama3.2")).await.unwrap();
    let events = collect(routed.events).await;
    assert!(text(&events).contains("tick"), "it was dripping");
    let e = final_error(&events);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("total"), "{}", e.message);
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_request() {
    let cohere = FakeServer::start(&COHERE).await;
    cohere.script([Script::Drip]);
    let s = setup(&[&cohere], "", &[]);
    let routed = s.router.stream(&ask("cohere/command-r")).await.unwrap();
    let mut events = routed.events;
    for _ in 0..3 {
        assert!(matches!(events.next().await, Some(StreamEvent::Delta(_))));
    }
    assert_eq!(cohere.disconnects(), 0);
    drop(events); // the HTTP edge drops the stream when its client goes away
    assert!(
        cohere.wait_for_disconnects(1, Duration::from_secs(5)).await,
        "the fake provider saw the upstream request closed"
    );
    assert!(s.usage.reports().is_empty());
}
