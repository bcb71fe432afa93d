//! Each provider client against its local fake: the documented answers, streaming, and
//! every failure class in that provider's own shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fakes;

use conea_ai::http::StreamLimits;
use conea_ai::{
    CallOptions, ChatRequest, ErrorKind, FinishReason, Message, ProviderKind, StreamEvent,
    UpstreamError, Usage,
};
use fakes::{collect, text, usages, Dialect, FakeServer, Recorded, Script, ALL};
use std::time::Duration;

const MODEL: &str = "test-model";

fn request() -> ChatRequest {
    let mut req = ChatRequest::new(
        "ignored-by-providers",
        vec![Message::system("Be brief."), Message::user("Hello")],
    );
    req.max_tokens = Some(64);
    req.temperature = Some(0.5);
    req
}

fn opts() -> CallOptions {
    CallOptions {
        timeout: Duration::from_secs(5),
        stream: StreamLimits {
            idle: Duration::from_millis(300),
            total: Duration::from_secs(10),
        },
    }
}

fn header<'a>(r: &'a Recorded, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request on the wire is the provider's own format.
fn check_wire(d: &Dialect, r: &Recorded, stream: bool) {
    let b = &r.body;
    match d.kind {
        ProviderKind::OpenAi => {
            assert_eq!(r.path, "/v1/chat/completions");
            assert_eq!(header(r, "authorization"), Some("Bearer test-key-123"));
            assert_eq!(b["model"], MODEL);
            assert_eq!(b["messages"][0]["role"], "system");
            assert_eq!(b["messages"][1]["content"], "Hello");
            assert_eq!(b["max_completion_tokens"], 64);
            assert_eq!(b["stream"], stream);
            assert_eq!(b["stream_options"]["include_usage"] == true, stream);
        }
        ProviderKind::Anthropic => {
            assert_eq!(r.path, "/v1/messages");
            assert_eq!(header(r, "x-api-key"), Some("test-key-123"));
            assert_eq!(header(r, "anthropic-version"), Some("2023-06-01"));
            assert_eq!(header(r, "authorization"), None);
            assert_eq!(b["model"], MODEL);
            assert_eq!(b["system"], "Be brief.");
            assert_eq!(b["messages"].as_array().unwrap().len(), 1);
            assert_eq!(b["messages"][0]["role"], "user");
            assert_eq!(b["max_tokens"], 64);
            assert_eq!(b["stream"] == true, stream);
        }
        ProviderKind::Cohere => {
            assert_eq!(r.path, "/v2/chat");
            assert_eq!(header(r, "authorization"), Some("Bearer test-key-123"));
            assert_eq!(b["model"], MODEL);
            assert_eq!(b["messages"][0]["role"], "system");
            assert_eq!(b["max_tokens"], 64);
            assert_eq!(b["stream"], stream);
        }
        ProviderKind::Gemini => {
            let method = if stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            assert_eq!(r.path, format!("/v1beta/models/{MODEL}:{method}"));
            assert_eq!(header(r, "x-goog-api-key"), Some("test-key-123"));
            assert_eq!(b["systemInstruction"]["parts"][0]["text"], "Be brief.");
            assert_eq!(b["contents"][0]["role"], "user");
            assert_eq!(b["contents"][0]["parts"][0]["text"], "Hello");
            assert_eq!(b["generationConfig"]["maxOutputTokens"], 64);
        }
        ProviderKind::Ollama => {
            assert_eq!(r.path, "/api/chat");
            assert_eq!(header(r, "authorization"), None);
            assert_eq!(b["model"], MODEL);
            assert_eq!(b["messages"][0]["role"], "system");
            assert_eq!(b["options"]["num_predict"], 64);
            assert_eq!(b["stream"], stream);
        }
    }
}

#[tokio::test]
async fn each_provider_reads_its_documented_answer_and_sends_its_own_format() {
    for d in ALL {
        let fake = FakeServer::start(d).await;
        let resp = fake
            .provider()
            .complete(MODEL, &request(), &opts())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", d.kind.name()));
        assert_eq!(resp.provider, d.kind.name());
        assert_eq!(resp.content, d.expected.content, "{}", d.kind.name());
        assert_eq!(resp.finish_reason, FinishReason::Stop, "{}", d.kind.name());
        assert_eq!(
            resp.usage,
            Usage {
                input_tokens: d.expected.input_tokens,
                output_tokens: d.expected.output_tokens
            },
            "{}",
            d.kind.name()
        );
        assert_eq!(fake.count(), 1);
        check_wire(d, &fake.requests()[0], false);
    }
}

#[tokio::test]
async fn each_provider_streams_deltas_then_exactly_one_usage_then_finish() {
    for d in ALL {
        let name = d.kind.name();
        let fake = FakeServer::start(d).await;
        let stream = fake
            .provider()
            .stream(MODEL, &request(), &opts())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let events = collect(stream).await;
        assert_eq!(text(&events), d.expected.stream_content, "{name}");
        assert_eq!(
            usages(&events),
            vec![Usage {
                input_tokens: d.expected.stream_input_tokens,
                output_tokens: d.expected.stream_output_tokens
            }],
            "{name}: usage exactly once"
        );
        let n = events.len();
        assert!(matches!(events[n - 2], StreamEvent::Usage(_)), "{name}");
        assert_eq!(
            events[n - 1],
            StreamEvent::Finish(FinishReason::Stop),
            "{name}"
        );
        check_wire(d, &fake.requests()[0], true);
    }
}

struct Case {
    script: Script,
    kind: ErrorKind,
    status: Option<u16>,
}

fn failure_cases(d: &Dialect) -> Vec<Case> {
    let case = |script, kind, status: u16| Case {
        script,
        kind,
        status: Some(status),
    };
    vec![
        case(
            Script::RateLimited(Some("2.5")),
            ErrorKind::RateLimited,
            429,
        ),
        case(Script::Overloaded, ErrorKind::Overloaded, d.overloaded.0),
        case(Script::ServerError, ErrorKind::Server, 500),
        case(Script::Html502, ErrorKind::Server, 502),
        case(Script::Unauthorized, ErrorKind::Auth, d.auth.0),
        case(
            Script::ContextLength {
                limit: 8192,
                requested: 9000,
            },
            ErrorKind::ContextLength,
            d.context_length.0,
        ),
        case(Script::Invalid, ErrorKind::InvalidRequest, 400),
    ]
}

fn check_failure(d: &Dialect, case: &Case, e: &UpstreamError, how: &str) {
    let what = format!("{} {how} {:?}: {e}", d.kind.name(), case.script);
    assert_eq!(e.provider, d.kind.name(), "{what}");
    assert_eq!(e.kind, case.kind, "{what}");
    assert_eq!(e.status, case.status, "{what}");
    assert!(!e.message.is_empty(), "{what}");
    match &case.script {
        Script::RateLimited(_) => {
            assert_eq!(e.retry_after, Some(Duration::from_millis(2500)), "{what}")
        }
        Script::ContextLength { .. } => {
            let c = e.context.expect("context numbers");
            assert_eq!((c.limit, c.requested), (Some(8192), Some(9000)), "{what}");
        }
        Script::Html502 => {
            assert_eq!(
                e.message, "HTTP 502 with an HTML body: 502 Bad Gateway",
                "{what}"
            )
        }
        _ => {}
    }
}

#[tokio::test]
async fn each_provider_classifies_every_failure_before_the_first_byte() {
    for d in ALL {
        let fake = FakeServer::start(d).await;
        let provider = fake.provider();
        for case in failure_cases(d) {
            fake.script([case.script.clone()]);
            let e = provider
                .complete(MODEL, &request(), &opts())
                .await
                .expect_err("a failure");
            check_failure(d, &case, &e, "complete");

            fake.script([case.script.clone()]);
            let e = provider
                .stream(MODEL, &request(), &opts())
                .await
                .err()
                .expect("a failure before the stream starts");
            check_failure(d, &case, &e, "stream");
        }
    }
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_read_against_the_clock() {
    // the fake providers' clock reads 2023-11-14T22:13:20Z
    let fake = FakeServer::start(&fakes::OPENAI).await;
    fake.script([Script::RateLimited(Some("Tue, 14 Nov 2023 22:13:50 GMT"))]);
    let e = fake
        .provider()
        .complete(MODEL, &request(), &opts())
        .await
        .unwrap_err();
    assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn gemini_retry_info_in_the_body_is_used_without_a_header() {
    let fake = FakeServer::start(&fakes::GEMINI).await;
    fake.script([Script::RateLimited(None)]);
    let e = fake
        .provider()
        .complete(MODEL, &request(), &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
}

/// Runs one streaming script and returns the events.
async fn stream_events(d: &'static Dialect, script: Script) -> (FakeServer, Vec<StreamEvent>) {
    let fake = FakeServer::start(d).await;
    fake.script([script]);
    let stream = fake
        .provider()
        .stream(MODEL, &request(), &opts())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", d.kind.name()));
    let events = collect(stream).await;
    (fake, events)
}

fn last_error(events: &[StreamEvent]) -> &UpstreamError {
    assert!(
        !events.iter().any(|e| matches!(e, StreamEvent::Finish(_))),
        "a failed stream must not finish cleanly: {events:?}"
    );
    match events.last() {
        Some(StreamEvent::Error(e)) => e,
        other => panic!("expected a final error event, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stall_mid_stream_ends_with_a_timeout_error_event() {
    for d in ALL {
        let (_fake, events) = stream_events(d, Script::StallMidStream).await;
        assert!(
            !text(&events).is_empty(),
            "{}: some text first",
            d.kind.name()
        );
        let e = last_error(&events);
        assert_eq!(e.kind, ErrorKind::Timeout, "{}", d.kind.name());
        assert!(e.message.contains("idle"), "{}", e.message);
    }
}

#[tokio::test]
async fn an_error_event_after_a_200_ends_the_stream_with_that_error() {
    for d in ALL {
        let (_fake, events) = stream_events(d, Script::ErrorAfterStart).await;
        assert!(
            !text(&events).is_empty(),
            "{}: some text first",
            d.kind.name()
        );
        let e = last_error(&events);
        let want = match d.kind {
            ProviderKind::Anthropic | ProviderKind::Gemini => ErrorKind::Overloaded,
            _ => ErrorKind::Server,
        };
        assert_eq!(e.kind, want, "{}: {e}", d.kind.name());
        assert!(usages(&events).is_empty(), "no usage for a failed stream");
    }
}

#[tokio::test]
async fn a_body_cut_short_is_an_error_not_a_finish() {
    for d in ALL {
        let (_fake, events) = stream_events(d, Script::Truncated).await;
        let e = last_error(&events);
        assert_eq!(e.kind, ErrorKind::Connection, "{}", d.kind.name());
    }
}

#[tokio::test]
async fn a_provider_that_never_answers_times_out() {
    let fake = FakeServer::start(&fakes::ANTHROPIC).await;
    let short = CallOptions {
        timeout: Duration::from_millis(200),
        ..opts()
    };
    fake.script([Script::Hang, Script::Hang]);
    let e = fake
        .provider()
        .complete(MODEL, &request(), &short)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    let e = fake
        .provider()
        .stream(MODEL, &request(), &short)
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error() {
    let fake = FakeServer::start(&fakes::OPENAI).await;
    let provider = fake.provider();
    drop(fake);
    tokio::task::yield_now().await;
    let e = provider
        .complete(MODEL, &request(), &opts())
        .await
        .unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Connection), "{e}");
}

#[tokio::test]
async fn dropping_a_provider_stream_closes_the_upstream_connection() {
    use futures::StreamExt;
    for d in ALL {
        let fake = FakeServer::start(d).await;
        fake.script([Script::Drip]);
        let mut stream = fake
            .provider()
            .stream(MODEL, &request(), &opts())
            .await
            .unwrap();
        for _ in 0..3 {
            assert!(matches!(stream.next().await, Some(StreamEvent::Delta(_))));
        }
        assert_eq!(fake.disconnects(), 0);
        drop(stream);
        assert!(
            fake.wait_for_disconnects(1, Duration::from_secs(5)).await,
            "{}: the fake should see the client go away",
            d.kind.name()
        );
    }
}
