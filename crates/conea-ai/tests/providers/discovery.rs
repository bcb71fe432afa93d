//! Bare model names: each provider's model list read in its own wire format, a bare name
//! routed to the provider that lists it (the first in `provider_order` when several do),
//! the name-prefix table when discovery fails, `default` across every provider's default
//! model, and `default_fallback`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fakes;

use conea_ai::{ChatRequest, Message, Outcome, ProviderKind};
use conea_core::Clock;
use fakes::{models, setup, FakeServer, Script, ALL, ANTHROPIC, GEMINI, OLLAMA, OPENAI};
use std::time::Duration;

fn ask(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Hello")])
}

#[tokio::test]
async fn each_provider_lists_its_chat_models_in_its_own_wire_format() {
    let mut servers = Vec::new();
    for d in ALL {
        servers.push(FakeServer::start(d).await);
    }
    let refs: Vec<&FakeServer> = servers.iter().collect();
    let s = setup(&refs, "", &[]);
    s.router.refresh_models().await;
    let discovery = s.router.discovery();
    for server in &servers {
        let kind = server.dialect.kind;
        let found = &discovery[kind.name()];
        assert_eq!(found.models, models::expected(kind), "{}", kind.name());
        assert_eq!(found.error, None);
        let requests = server.model_requests();
        assert_eq!(requests.len(), 1, "{}", kind.name());
        let h = &requests[0].headers;
        match kind {
            ProviderKind::OpenAi | ProviderKind::Cohere => {
                assert_eq!(h["authorization"], "Bearer test-key-123")
            }
            ProviderKind::Anthropic => {
                assert_eq!(h["x-api-key"], "test-key-123");
                assert_eq!(h["anthropic-version"], "2023-06-01");
            }
            ProviderKind::Gemini => assert_eq!(h["x-goog-api-key"], "test-key-123"),
            ProviderKind::Ollama => assert!(h.get("authorization").is_none()),
        }
    }
}

#[tokio::test]
async fn a_bare_name_goes_to_the_provider_that_lists_it_and_a_shared_one_to_the_first_in_order() {
    let (o, a, l) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&OLLAMA).await,
    );
    let s = setup(&[&o, &a, &l], "", &[]);
    s.router.refresh_models().await;
    // No prefix names llama3.2: only Ollama's list does.
    let (resp, _) = s.router.complete(&ask("llama3.2:latest")).await.unwrap();
    assert_eq!(resp.provider, "ollama");
    assert_eq!(l.requests()[0].body["model"], "llama3.2:latest");
    // OpenAI, Anthropic and Ollama all list it: the default order puts OpenAI first.
    let (resp, _) = s.router.complete(&ask("shared-model")).await.unwrap();
    assert_eq!(resp.provider, "openai");
    assert_eq!(o.requests()[0].body["model"], "shared-model");

    let s = setup(
        &[&o, &a, &l],
        "",
        &[("CONEA_AI_PROVIDER_ORDER", "ollama,anthropic")],
    );
    s.router.refresh_models().await;
    let (resp, _) = s.router.complete(&ask("shared-model")).await.unwrap();
    assert_eq!(resp.provider, "ollama");
    assert_eq!(a.count(), 0);
}

#[tokio::test]
async fn when_discovery_fails_the_prefix_table_routes_and_an_unknown_name_is_refused() {
    let o = FakeServer::start(&OPENAI).await;
    o.fail_model_list(true);
    let s = setup(&[&o], "", &[]);
    s.router.refresh_models().await;
    let found = &s.router.discovery()["openai"];
    assert!(found.models.is_empty());
    assert!(found.error.as_deref().unwrap().contains("500"), "{found:?}");
    let (resp, _) = s.router.complete(&ask("gpt-4o-mini")).await.unwrap();
    assert_eq!(resp.provider, "openai");
    assert_eq!(o.requests()[0].body["model"], "gpt-4o-mini");
    // listed by nobody, named by no prefix
    let e = s.router.complete(&ask("shared-model")).await.unwrap_err();
    assert_eq!(e.code(), "unknown_model");
    // a prefix naming a provider that is not configured names its key
    let e = s.router.complete(&ask("claude-3-opus")).await.unwrap_err();
    assert_eq!(e.code(), "ai_provider_not_configured");
    assert!(e.to_string().contains("ANTHROPIC_API_KEY"), "{e}");
    // a failed listing keeps the previous list
    o.fail_model_list(false);
    s.router.refresh_models().await;
    o.fail_model_list(true);
    s.router.refresh_models().await;
    assert_eq!(
        s.router.discovery()["openai"].models,
        models::expected(ProviderKind::OpenAi)
    );
}

#[tokio::test]
async fn an_unlisted_name_refreshes_the_lists_at_most_every_30_seconds() {
    let o = FakeServer::start(&OPENAI).await;
    let s = setup(&[&o], "", &[]);
    // Never refreshed: the first unlisted name reads the list, and it routes.
    let (resp, _) = s.router.complete(&ask("shared-model")).await.unwrap();
    assert_eq!(resp.provider, "openai");
    assert_eq!(o.model_requests().len(), 1);
    // Listed names and provider/model names read nothing.
    s.router.complete(&ask("shared-model")).await.unwrap();
    s.router.complete(&ask("openai/other")).await.unwrap();
    assert_eq!(o.model_requests().len(), 1);
    for _ in 0..3 {
        let e = s.router.complete(&ask("mystery-model")).await.unwrap_err();
        assert_eq!(e.code(), "unknown_model");
    }
    assert_eq!(o.model_requests().len(), 1, "one refresh per 30 s");
    s.clock.advance(Duration::from_secs(31));
    s.router.complete(&ask("mystery-model")).await.unwrap_err();
    assert_eq!(o.model_requests().len(), 2);
    assert!(s.clock.now_ms() > 0);
}

#[tokio::test]
async fn default_tries_each_configured_provider_in_order_with_its_default_model() {
    let (o, a, g) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
        FakeServer::start(&GEMINI).await,
    );
    o.script([Script::ServerError]);
    let s = setup(
        &[&o, &a, &g],
        "",
        &[
            ("CONEA_AI_MAX_RETRIES", "0"),
            ("ANTHROPIC_DEFAULT_MODEL", "claude-3-5-sonnet-latest"),
        ],
    );
    let targets: Vec<String> = s
        .router
        .default_targets()
        .iter()
        .map(|t| t.name())
        .collect();
    assert_eq!(
        targets,
        vec![
            "openai/gpt-4o-mini",
            "anthropic/claude-3-5-sonnet-latest",
            "gemini/gemini-1.5-flash"
        ]
    );
    let (resp, attempts) = s.router.complete(&ask("default")).await.unwrap();
    assert_eq!(resp.provider, "anthropic");
    assert_eq!(a.requests()[0].body["model"], "claude-3-5-sonnet-latest");
    let outcomes: Vec<(&str, Outcome)> = attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![("openai", Outcome::Failed), ("anthropic", Outcome::Success)]
    );
    assert_eq!(g.count(), 0);
    assert_eq!(o.model_requests().len(), 0, "`default` reads no model list");

    let s = setup(
        &[&o, &a, &g],
        "",
        &[("CONEA_AI_PROVIDER_ORDER", "gemini,openai")],
    );
    let (resp, _) = s.router.complete(&ask("default")).await.unwrap();
    assert_eq!(resp.provider, "gemini");
}

#[tokio::test]
async fn with_default_fallback_a_bare_name_falls_back_to_the_other_providers_defaults() {
    let (o, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    o.script([Script::ServerError, Script::ServerError]);
    let off = setup(&[&o, &a], "", &[("CONEA_AI_MAX_RETRIES", "0")]);
    let e = off.router.complete(&ask("gpt-4o-mini")).await.unwrap_err();
    assert_eq!(e.code(), "all_providers_failed", "{e}");
    assert_eq!(a.count(), 0);
    let on = setup(
        &[&o, &a],
        "",
        &[
            ("CONEA_AI_MAX_RETRIES", "0"),
            ("CONEA_AI_DEFAULT_FALLBACK", "true"),
        ],
    );
    let (resp, _) = on.router.complete(&ask("gpt-4o-mini")).await.unwrap();
    assert_eq!(resp.provider, "anthropic");
    assert_eq!(a.requests()[0].body["model"], "claude-3-5-haiku-latest");
}

#[tokio::test]
async fn the_routable_list_has_aliases_default_and_each_bare_name_with_its_answering_provider() {
    let (o, l) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&OLLAMA).await,
    );
    let s = setup(
        &[&o, &l],
        "[ai.aliases]\nchat = [\"ollama/llama3.2:latest\", \"anthropic/claude-3-5-haiku-latest\"]",
        &[],
    );
    s.router.refresh_models().await;
    let listed: Vec<(String, String)> = s
        .router
        .routable_models()
        .into_iter()
        .map(|m| (m.id, m.owned_by))
        .collect();
    let has = |id: &str, by: &str| listed.contains(&(id.to_owned(), by.to_owned()));
    assert!(has("chat", "conea"), "{listed:?}");
    assert!(has("default", "conea"));
    assert!(has("gpt-4o-mini", "openai"));
    assert!(has("shared-model", "openai"), "the first provider in order");
    assert!(!has("shared-model", "ollama"));
    assert!(has("llama3.2:latest", "ollama"));
    assert!(has("ollama/llama3.2:latest", "ollama"));
    assert!(
        !listed.iter().any(|(id, _)| id.starts_with("anthropic/")),
        "targets on unconfigured providers are not routable"
    );
    assert_eq!(
        s.router.routable_model("o1-preview").unwrap().owned_by,
        "openai",
        "a name the prefix routes"
    );
    assert!(s.router.routable_model("mystery-model").is_none());
}
