//! Embeddings through the router: each provider's own request and answer shape, vectors in
//! input order, usage counted once, and no fallback to another provider's model (their
//! vectors are not comparable).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fakes;

use conea_ai::{EmbeddingRequest, ProviderKind};
use fakes::{setup, FakeServer, ANTHROPIC, COHERE, GEMINI, OLLAMA, OPENAI};

#[tokio::test]
async fn embeddings_go_out_in_each_providers_format_and_come_back_in_input_order() {
    for d in [&OPENAI, &COHERE, &GEMINI, &OLLAMA] {
        let server = FakeServer::start(d).await;
        let s = setup(&[&server], "", &[]);
        let kind = d.kind.name();
        let req = EmbeddingRequest {
            model: format!("{kind}/embed-model"),
            input: vec!["first".into(), "second".into(), "third".into()],
            dimensions: Some(3),
            user: None,
        };
        let (resp, _) = s.router.embed(&req).await.unwrap();
        assert_eq!(resp.provider, kind);
        let want: Vec<Vec<f32>> = (0..3).map(fakes::embeddings::vector).collect();
        assert_eq!(resp.vectors, want, "{kind}");
        let expected_tokens = if d.kind == ProviderKind::Gemini { 0 } else { 9 };
        assert_eq!(resp.input_tokens, expected_tokens, "{kind}");
        assert_eq!(
            s.usage.reports(),
            vec![(
                kind.to_owned(),
                "embed-model".to_owned(),
                conea_ai::Usage {
                    input_tokens: expected_tokens,
                    output_tokens: 0
                }
            )]
        );
        let sent = &server.embed_requests()[0];
        match d.kind {
            ProviderKind::Cohere => assert_eq!(sent.body["texts"][2], "third"),
            ProviderKind::Gemini => {
                assert!(sent
                    .path
                    .ends_with("/models/embed-model:batchEmbedContents"));
                assert_eq!(sent.body["requests"][0]["model"], "models/embed-model");
            }
            _ => assert_eq!(sent.body["input"][1], "second"),
        }
        assert_eq!(server.count(), 0, "no chat request");
    }
}

#[tokio::test]
async fn embeddings_never_fall_back_to_another_providers_model_and_anthropic_has_none() {
    let (o, a) = (
        FakeServer::start(&OPENAI).await,
        FakeServer::start(&ANTHROPIC).await,
    );
    let s = setup(&[&o, &a], "", &[("CONEA_AI_DEFAULT_FALLBACK", "true")]);
    let req = |model: &str| EmbeddingRequest {
        model: model.into(),
        input: vec!["x".into()],
        dimensions: None,
        user: None,
    };
    // a bare embedding name routes by its prefix, alone even with default_fallback
    let (resp, attempts) = s
        .router
        .embed(&req("text-embedding-3-small"))
        .await
        .unwrap();
    assert_eq!((resp.provider.as_str(), attempts.len()), ("openai", 1));
    let e = s.router.embed(&req("default")).await.unwrap_err();
    assert_eq!(e.code(), "unknown_model");
    let e = s
        .router
        .embed(&req("anthropic/claude-3-5-haiku-latest"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no embeddings"), "{e}");
    assert_eq!(a.count(), 0);
}
