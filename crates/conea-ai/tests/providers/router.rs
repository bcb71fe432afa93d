//! The router over the fakes: alias order, retries honouring Retry-After on the fake clock,
//! breakers, context-length routing, and the errors it answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fakes;

use conea_ai::{
    Attempt, ChatRequest, ErrorClass, GatewayError, HealthStatus, Message, Outcome, Usage,
};
use conea_core::Clock;
use fakes::{setup, FakeServer, Script, ANTHROPIC, COHERE, GEMINI, OLLAMA, OPENAI};
use std::time::Duration;

fn ask(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Hello")])
}

/// `(provider, outcome, status, error_code)` of each attempt.
fn summary(attempts: &[Attempt]) -> Vec<(&str, Outcome, Option<u16>, Option<&str>)> {
    attempts
        .iter()
        .map(|a| {
            (
                a.provider.as_str(),
                a.outcome,
                a.status,
                a.error_code.map(|c| c.as_str()),
            )
        })
        .collect()
}

#[tokio::test]
async fn no_provider_configured_answers_503_naming_the_variables() {
    let s = setup(&[], "", &[]);
    let e = s.router.complete(&ask("chat")).await.unwrap_err();
    assert_eq!(e.code(), "no_ai_provider_configured");
    assert_eq!(e.class(), ErrorClass::Unavailable);
    for var in [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "COHERE_API_KEY",
        "GEMINI_API_KEY",
        "OLLAMA_URL",
    ] {
        assert!(e.to_string().contains(var), "{e}");
    }
    let core = e.into_core();
    assert_eq!(core.code(), "no_ai_provider_configured");
    let e = s.router.stream(&ask("chat")).await.unwrap_err();
    assert_eq!(e.code(), "no_ai_provider_configured");
}

#[tokio::test]
async fn unknown_models_and_unconfigured_providers_are_named() {
    let openai = FakeServer::start(&OPENAI).await;
    let s = setup(
        &[&openai],
        "[ai.aliases]\nchat = [\"openai/gpt-4o-mini\"]",
        &[],
    );
    let e = s.router.complete(&ask("mystery-model")).await.unwrap_err();
    assert_eq!(e.code(), "unknown_model");
    assert_eq!(e.details()["aliases"][0], "chat");
    let e = s
        .router
        .complete(&ask("cohere/command-r"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ai_provider_not_configured");
    assert!(e.to_string().contains("COHERE_API_KEY"), "{e}");
    assert_eq!(openai.count(), 0);
}

#[tokio::test]
async fn a_direct_provider_model_name_works_without_an_alias() {
    let openai = FakeServer::start(&OPENAI).await;
    let s = setup(&[&openai], "", &[]);
    let (resp, attempts) = s.router.complete(&ask("openai/gpt-4o-mini")).await.unwrap();
    assert_eq!(resp.provider, "openai");
    assert_eq!(resp.content, OPENAI.expected.content);
    assert_eq!(openai.requests()[0].body["model"], "gpt-4o-mini");
    assert_eq!(
        summary(&attempts),
        vec![("openai", Outcome::Success, None, None)]
    );
}

#[tokio::test]
async fn fallback_follows_the_alias_order() {
    let (a, o, g) = (
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&GEMINI).await,
    );
    a.script([Script::ServerError]);
    o.script([Script::Html502]);
    let s = setup(
        &[&a, &o, &g],
        "[ai.aliases]\nchat = [\"anthropic/claude-3-5-haiku-latest\", \"openai/gpt-4o-mini\", \"gemini/gemini-2.0-flash\"]",
        &[("CONEA_AI_MAX_RETRIES", "0")],
    );
    let (resp, attempts) = s.router.complete(&ask("chat")).await.unwrap();
    assert_eq!(resp.provider, "gemini");
    assert_eq!(resp.content, GEMINI.expected.content);
    assert_eq!(
        summary(&attempts),
        vec![
            (
                "anthropic",
                Outcome::Failed,
                Some(500),
                Some("server_error")
            ),
            ("openai", Outcome::Failed, Some(502), Some("server_error")),
            ("gemini", Outcome::Success, None, None),
        ]
    );
    assert_eq!(attempts[0].model, "claude-3-5-haiku-latest");
    assert_eq!((a.count(), o.count(), g.count()), (1, 1, 1));
}

#[tokio::test]
async fn fallback_false_tries_only_the_first_target_and_a_list_replaces_the_rest() {
    let (a, o, g) = (
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&GEMINI).await,
    );
    let s = setup(
        &[&a, &o, &g],
        "[ai.aliases]\nchat = [\"anthropic/claude-3-5-haiku-latest\", \"openai/gpt-4o-mini\"]",
        &[("CONEA_AI_MAX_RETRIES", "0")],
    );
    a.script([Script::ServerError]);
    let mut req = ask("chat");
    req.fallback = conea_ai::Fallback::Enabled(false);
    let e = s.router.complete(&req).await.unwrap_err();
    assert_eq!(e.code(), "all_providers_failed");
    assert_eq!(
        (a.count(), o.count()),
        (1, 0),
        "the second target was not tried"
    );
    a.script([Script::ServerError]);
    req.fallback = conea_ai::Fallback::Targets(vec!["gemini/gemini-2.0-flash".into()]);
    let (resp, attempts) = s.router.complete(&req).await.unwrap();
    assert_eq!(resp.provider, "gemini");
    assert_eq!(
        summary(&attempts).iter().map(|a| a.0).collect::<Vec<_>>(),
        vec!["anthropic", "gemini"]
    );
    assert_eq!(
        o.count(),
        0,
        "the alias's other targets were replaced by the list"
    );
    // The request's JSON form: `fallback: false` / `fallback: [..]`.
    let parsed: ChatRequest = serde_json::from_value(
        serde_json::json!({"model": "chat", "messages": [], "fallback": false}),
    )
    .unwrap();
    assert_eq!(parsed.fallback, conea_ai::Fallback::Enabled(false));
    let parsed: ChatRequest =
        serde_json::from_value(serde_json::json!({"model": "chat", "messages": []})).unwrap();
    assert!(parsed.fallback.is_default());
}

#[tokio::test]
async fn a_rate_limited_call_waits_exactly_the_fractional_retry_after_on_the_fake_clock() {
    let openai = FakeServer::start(&OPENAI).await;
    openai.script([Script::RateLimited(Some("2.5"))]);
    let s = setup(&[&openai], "", &[]);
    let before = s.clock.now_ms();
    let (resp, attempts) = s.router.complete(&ask("openai/gpt-4o-mini")).await.unwrap();
    assert_eq!(resp.provider, "openai");
    assert_eq!(s.sleeper.waits(), vec![Duration::from_millis(2500)]);
    assert_eq!(s.clock.now_ms() - before, 2500);
    assert_eq!(
        summary(&attempts),
        vec![
            ("openai", Outcome::Retried, Some(429), Some("rate_limited")),
            ("openai", Outcome::Success, None, None),
        ]
    );
    assert_eq!(openai.count(), 2);
}

#[tokio::test]
async fn a_retry_after_date_is_waited_for_relative_to_the_clock() {
    // setup's clock reads 2023-11-14T22:13:20Z
    let anthropic = FakeServer::start(&ANTHROPIC).await;
    anthropic.script([Script::RateLimited(Some("Tue, 14 Nov 2023 22:13:25 GMT"))]);
    let s = setup(&[&anthropic], "", &[]);
    s.router.complete(&ask("anthropic/claude")).await.unwrap();
    assert_eq!(s.sleeper.waits(), vec![Duration::from_secs(5)]);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_max_wait_moves_to_the_next_target_at_once() {
    let (o, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    o.script([Script::RateLimited(Some("120"))]);
    let s = setup(
        &[&o, &a],
        "[ai]\nmax_retry_wait = \"10s\"\n[ai.aliases]\nchat = [\"openai/gpt-4o-mini\", \"anthropic/claude\"]",
        &[],
    );
    let (resp, attempts) = s.router.complete(&ask("chat")).await.unwrap();
    assert_eq!(resp.provider, "anthropic");
    assert!(
        s.sleeper.waits().is_empty(),
        "no wait: {:?}",
        s.sleeper.waits()
    );
    assert_eq!(attempts[0].outcome, Outcome::Failed);
    assert_eq!(o.count(), 1);
}

#[tokio::test]
async fn retries_are_bounded_by_max_retries_with_exponential_backoff() {
    let cohere = FakeServer::start(&COHERE).await;
    cohere.script(vec![Script::Overloaded; 10]);
    let s = setup(&[&cohere], "", &[("CONEA_AI_MAX_RETRIES", "3")]);
    let e = s
        .router
        .complete(&ask("cohere/command-r"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "all_providers_failed");
    assert_eq!(cohere.count(), 4, "one call and three retries");
    let waits = s.sleeper.waits();
    assert_eq!(waits.len(), 3);
    for (i, w) in waits.iter().enumerate() {
        let step = Duration::from_millis(250 * (1 << i));
        assert!(
            *w >= step / 2 && *w <= step,
            "retry {i}: {w:?} not in [{:?}, {step:?}]",
            step / 2
        );
    }
    let outcomes: Vec<_> = e.attempts().iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Retried,
            Outcome::Retried,
            Outcome::Retried,
            Outcome::Failed
        ]
    );
}

#[tokio::test]
async fn bad_credentials_mark_the_provider_misconfigured_and_it_is_not_called_again() {
    let (o, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    o.script([Script::Unauthorized]);
    let s = setup(
        &[&o, &a],
        "[ai.aliases]\nchat = [\"openai/gpt-4o-mini\", \"anthropic/claude\"]",
        &[],
    );
    let (resp, attempts) = s.router.complete(&ask("chat")).await.unwrap();
    assert_eq!(resp.provider, "anthropic");
    assert_eq!(
        summary(&attempts)[0],
        (
            "openai",
            Outcome::Failed,
            Some(401),
            Some("provider_auth_failed")
        )
    );
    assert!(
        s.sleeper.waits().is_empty(),
        "auth failures are not retried"
    );

    s.clock.advance(Duration::from_secs(3600));
    let (_, attempts) = s.router.complete(&ask("chat")).await.unwrap();
    assert_eq!(attempts[0].outcome, Outcome::SkippedMisconfigured);
    assert_eq!(o.count(), 1, "never called again");

    let models = s.router.models();
    let openai = models
        .providers
        .iter()
        .find(|p| p.name == "openai")
        .unwrap();
    assert_eq!(openai.status, HealthStatus::Misconfigured);
    let last = openai.last_error.as_ref().unwrap();
    assert_eq!(
        (last.code.as_str(), last.status),
        ("provider_auth_failed", Some(401))
    );
    assert!(
        last.message.contains("Incorrect API key"),
        "{}",
        last.message
    );
}

#[tokio::test]
async fn the_breaker_opens_then_half_opens_with_one_probe_then_closes_on_the_fake_clock() {
    let (ollama, openai) = (
        FakeServer::start(&OLLAMA).await,
        FakeServer::start(&OPENAI).await,
    );
    ollama.script([Script::ServerError, Script::ServerError]);
    let s = setup(
        &[&ollama, &openai],
        "[ai]\nbreaker_threshold = 2\nbreaker_cooldown = \"30s\"\n[ai.aliases]\nlocal = [\"ollama/llama3.2\", \"openai/gpt-4o-mini\"]",
        &[("CONEA_AI_MAX_RETRIES", "0")],
    );
    let status = |s: &fakes::Setup| {
        s.router
            .models()
            .providers
            .into_iter()
            .find(|p| p.name == "ollama")
            .unwrap()
    };
    for _ in 0..2 {
        let (resp, _) = s.router.complete(&ask("local")).await.unwrap();
        assert_eq!(resp.provider, "openai");
    }
    let open = status(&s);
    assert_eq!(open.status, HealthStatus::CircuitOpen);
    assert_eq!(open.last_error.unwrap().code, "server_error");
    assert!(open.retry_at.is_some());

    // open: ollama is not called
    let (_, attempts) = s.router.complete(&ask("local")).await.unwrap();
    assert_eq!(attempts[0].outcome, Outcome::SkippedCircuitOpen);
    assert_eq!(ollama.count(), 2);

    // still open one second before the cooldown ends
    s.clock.advance(Duration::from_secs(29));
    let (_, attempts) = s.router.complete(&ask("local")).await.unwrap();
    assert_eq!(attempts[0].outcome, Outcome::SkippedCircuitOpen);

    // half-open: one probe goes through; it succeeds and closes the circuit
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(status(&s).status, HealthStatus::Degraded);
    let (resp, _) = s.router.complete(&ask("local")).await.unwrap();
    assert_eq!(resp.provider, "ollama");
    assert_eq!(ollama.count(), 3);
    assert_eq!(status(&s).status, HealthStatus::Ok);
}

#[tokio::test]
async fn a_failed_probe_opens_the_circuit_for_another_cooldown() {
    let ollama = FakeServer::start(&OLLAMA).await;
    ollama.script(vec![Script::ServerError; 3]);
    let s = setup(
        &[&ollama],
        "[ai]\nbreaker_threshold = 2\nbreaker_cooldown = \"30s\"",
        &[("CONEA_AI_MAX_RETRIES", "0")],
    );
    for _ in 0..2 {
        s.router
            .complete(&ask("ollama/llama3.2"))
            .await
            .unwrap_err();
    }
    s.clock.advance(Duration::from_secs(30));
    let e = s
        .router
        .complete(&ask("ollama/llama3.2"))
        .await
        .unwrap_err();
    assert_eq!(
        e.attempts()[0].outcome,
        Outcome::Failed,
        "the probe was sent"
    );
    let e = s
        .router
        .complete(&ask("ollama/llama3.2"))
        .await
        .unwrap_err();
    assert_eq!(e.attempts()[0].outcome, Outcome::SkippedCircuitOpen);
    assert_eq!(ollama.count(), 3);
    s.clock.advance(Duration::from_secs(30));
    s.router.complete(&ask("ollama/llama3.2")).await.unwrap();
}

#[tokio::test]
async fn a_context_length_failure_moves_only_to_targets_with_a_larger_window() {
    let (o, c, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&COHERE).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    o.script([Script::ContextLength {
        limit: 8192,
        requested: 9000,
    }]);
    let s = setup(
        &[&o, &c, &a],
        r#"
        [ai.aliases]
        long = [
          { target = "openai/gpt-4", context_window = 8192 },
          { target = "cohere/command-r7b", context_window = 4096 },
          "gemini/gemini-2.0-flash",
          { target = "anthropic/claude", context_window = 200000 },
        ]
        "#,
        &[],
    );
    let (resp, attempts) = s.router.complete(&ask("long")).await.unwrap();
    assert_eq!(resp.provider, "anthropic");
    assert_eq!(
        summary(&attempts),
        vec![
            (
                "openai",
                Outcome::Failed,
                Some(400),
                Some("context_length_exceeded")
            ),
            ("cohere", Outcome::SkippedContextWindow, None, None),
            ("gemini", Outcome::SkippedNotConfigured, None, None),
            ("anthropic", Outcome::Success, None, None),
        ]
    );
    assert_eq!(c.count(), 0);
    assert!(
        s.sleeper.waits().is_empty(),
        "context errors are not retried"
    );
}

#[tokio::test]
async fn a_context_length_failure_without_a_larger_window_answers_400_with_the_numbers() {
    let (o, g) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&GEMINI).await,
    );
    o.script([Script::ContextLength {
        limit: 128000,
        requested: 204308,
    }]);
    let s = setup(
        &[&o, &g],
        r#"
        [ai.aliases]
        chat = [{ target = "openai/gpt-4o", context_window = 128000 }, "gemini/gemini-2.0-flash"]
        "#,
        &[],
    );
    let e = s.router.complete(&ask("chat")).await.unwrap_err();
    assert_eq!(e.code(), "context_length_exceeded");
    assert_eq!(e.class(), ErrorClass::BadRequest);
    let d = e.details();
    assert_eq!(
        (
            d["provider"].as_str(),
            d["limit"].as_u64(),
            d["requested"].as_u64()
        ),
        (Some("openai"), Some(128000), Some(204308))
    );
    assert!(
        e.to_string()
            .contains("204308 tokens requested, limit 128000"),
        "{e}"
    );
    assert_eq!(g.count(), 0, "gemini has no known larger window");
    let core = e.into_core();
    assert_eq!(core.code(), "context_length_exceeded");
}

#[tokio::test]
async fn when_every_target_fails_the_answer_is_502_with_every_attempt() {
    let (o, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    o.script([Script::Html502, Script::Html502]);
    a.script([Script::Overloaded, Script::Overloaded]);
    let s = setup(
        &[&o, &a],
        "[ai.aliases]\nchat = [\"openai/gpt-4o-mini\", \"anthropic/claude\"]",
        &[("CONEA_AI_MAX_RETRIES", "1")],
    );
    let e = s.router.complete(&ask("chat")).await.unwrap_err();
    assert_eq!(e.code(), "all_providers_failed");
    assert_eq!(e.class(), ErrorClass::BadGateway);
    assert_eq!(
        summary(e.attempts()),
        vec![
            ("openai", Outcome::Retried, Some(502), Some("server_error")),
            ("openai", Outcome::Failed, Some(502), Some("server_error")),
            ("anthropic", Outcome::Retried, Some(529), Some("overloaded")),
            ("anthropic", Outcome::Failed, Some(529), Some("overloaded")),
        ]
    );
    let details = e.details();
    assert_eq!(details["attempts"].as_array().unwrap().len(), 4);
    assert_eq!(details["attempts"][2]["provider"], "anthropic");
    assert!(details["attempts"][0]["latency_ms"].is_u64());
    let core = e.into_core();
    assert_eq!(core.code(), "all_providers_failed");
    assert_eq!(
        core.details().unwrap()["attempts"][3]["error_code"],
        "overloaded"
    );
}

#[tokio::test]
async fn an_invalid_request_is_not_retried_nor_sent_elsewhere() {
    let (o, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    o.script([Script::Invalid]);
    let s = setup(
        &[&o, &a],
        "[ai.aliases]\nchat = [\"openai/gpt-4o-mini\", \"anthropic/claude\"]",
        &[],
    );
    let e = s.router.complete(&ask("chat")).await.unwrap_err();
    assert_eq!(e.code(), "invalid_request");
    assert!(e.to_string().contains("temperature"), "{e}");
    assert_eq!((o.count(), a.count()), (1, 0));
}

#[tokio::test]
async fn a_target_timeout_is_per_target() {
    let (a, o) = (
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OPENAI).await,
    );
    a.script([Script::Hang]);
    let s = setup(
        &[&a, &o],
        r#"
        [ai.aliases]
        chat = [{ target = "anthropic/claude", timeout = "200ms" }, "openai/gpt-4o-mini"]
        "#,
        &[("CONEA_AI_MAX_RETRIES", "0")],
    );
    let (resp, attempts) = s.router.complete(&ask("chat")).await.unwrap();
    assert_eq!(resp.provider, "openai");
    assert_eq!(
        summary(&attempts)[0],
        ("anthropic", Outcome::Failed, None, Some("timeout"))
    );
}

#[tokio::test]
async fn usage_is_reported_exactly_once_per_successful_call() {
    let openai = FakeServer::start(&OPENAI).await;
    openai.script([Script::RateLimited(Some("0.1")), Script::ServerError]);
    let s = setup(&[&openai], "", &[]);
    let (resp, attempts) = s.router.complete(&ask("openai/gpt-4o-mini")).await.unwrap();
    assert_eq!(attempts.len(), 3);
    let expected = Usage {
        input_tokens: 9,
        output_tokens: 12,
    };
    assert_eq!(resp.usage, expected);
    assert_eq!(
        s.usage.reports(),
        vec![("openai".to_owned(), "gpt-4o-mini".to_owned(), expected)]
    );
    s.router.complete(&ask("openai/gpt-4o-mini")).await.unwrap();
    assert_eq!(s.usage.reports().len(), 2);

    openai.script([Script::Invalid]);
    s.router
        .complete(&ask("openai/gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(s.usage.reports().len(), 2, "failures report no usage");
}

#[tokio::test]
async fn models_lists_aliases_targets_and_provider_health() {
    let (o, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    let s = setup(
        &[&o, &a],
        r#"
        [ai]
        timeout = "45s"
        [ai.aliases]
        chat = ["openai/gpt-4o-mini", { target = "anthropic/claude", timeout = "20s", context_window = 200000 }]
        local = ["ollama/llama3.2"]
        "#,
        &[],
    );
    a.script([Script::ServerError]);
    s.router.complete(&ask("anthropic/claude")).await.ok();
    let models = s.router.models();
    let json = serde_json::to_value(&models).unwrap();
    assert_eq!(json["aliases"][0]["name"], "chat");
    assert_eq!(json["aliases"][0]["status"], "ok");
    assert_eq!(
        json["aliases"][0]["targets"][0]["target"],
        "openai/gpt-4o-mini"
    );
    assert_eq!(json["aliases"][0]["targets"][0]["timeout_ms"], 45000);
    assert_eq!(json["aliases"][0]["targets"][1]["timeout_ms"], 20000);
    assert_eq!(json["aliases"][0]["targets"][1]["context_window"], 200000);
    assert_eq!(json["aliases"][1]["name"], "local");
    assert_eq!(json["aliases"][1]["status"], "not_configured");
    let providers: Vec<_> = models.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(providers, vec!["anthropic", "openai"]);
    assert_eq!(models.providers[1].models, vec!["gpt-4o-mini"]);
    // anthropic recovered after a retry: ok again, last error kept for the status page
    assert_eq!(models.providers[0].status, HealthStatus::Ok);
    assert_eq!(
        models.providers[0].last_error.as_ref().unwrap().code,
        "server_error"
    );
}

#[tokio::test]
async fn gateway_errors_map_to_core_errors_with_stable_codes() {
    let e = GatewayError::UnknownModel {
        model: "x".into(),
        aliases: vec![],
    };
    assert_eq!(e.into_core().code(), "unknown_model");
}

#[tokio::test]
async fn a_retry_is_not_waited_for_when_that_failure_opened_the_circuit() {
    let (c, o) = (
        FakeServer::start(&COHERE).await,
        FakeServer::start(&OPENAI).await,
    );
    c.script(vec![Script::ServerError; 5]);
    let s = setup(
        &[&c, &o],
        "[ai]\nbreaker_threshold = 2\n[ai.aliases]\nchat = [\"cohere/command-r\", \"openai/gpt-4o-mini\"]",
        &[("CONEA_AI_MAX_RETRIES", "5")],
    );
    let (resp, attempts) = s.router.complete(&ask("chat")).await.unwrap();
    assert_eq!(resp.provider, "openai");
    assert_eq!(c.count(), 2, "the second failure opened the circuit");
    assert_eq!(s.sleeper.waits().len(), 1);
    assert_eq!(
        summary(&attempts),
        vec![
            ("cohere", Outcome::Retried, Some(500), Some("server_error")),
            ("cohere", Outcome::Failed, Some(500), Some("server_error")),
            ("openai", Outcome::Success, None, None),
        ]
    );
}

#[tokio::test]
async fn router_futures_and_streams_can_cross_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let openai = FakeServer::start(&OPENAI).await;
    let s = setup(&[&openai], "", &[]);
    let req = ask("openai/gpt-4o-mini");
    let complete = s.router.complete(&req);
    assert_send(&complete);
    complete.await.unwrap();
    let stream = s.router.stream(&req);
    assert_send(&stream);
    let routed = stream.await.unwrap();
    assert_send(&routed);
    let router = std::sync::Arc::new(s.router);
    let handle = tokio::spawn(async move {
        router
            .complete(&ask("openai/gpt-4o-mini"))
            .await
            .map(|(r, _)| r.provider)
    });
    assert_eq!(handle.await.unwrap().unwrap(), "openai");
}
