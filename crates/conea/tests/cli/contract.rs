//! The OpenAPI document is the contract: schemathesis (`st`, from PyPI) runs all its checks —
//! examples, coverage (positive and negative cases), fuzzing and the stateful phase that
//! follows the document's links — against a live `conea serve`, and must find nothing: no
//! server error, no status, content type or body the document does not state, no valid
//! request refused, no invalid one accepted. The exceptions a schema cannot state are in
//! `tests/contract/schemathesis.toml`, each with its rule.
//!
//! The server runs with every feature a request can reach configured against local fakes: an
//! OpenAI-compatible provider (so AI routes answer instead of 503 `no_ai_provider_configured`)
//! and a Shopify that refuses every token (so connecting a shop is a 422, not a 502).

use crate::support::Env;
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use std::process::Command;

const KEY: &str = "conea_contractkey0123456789abcdefghijklmnopqr";

/// Whether schemathesis' `st` runs here; skips with one line (fails under
/// `CONEA_REQUIRE_SERVICES=1`, as in CI, which installs it) when not.
fn schemathesis_installed() -> bool {
    let ok = Command::new("st")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        conea_testkit::services::missing_part(
            "schemathesis (`st`)",
            "pip install schemathesis; .ci/run installs it",
        );
    }
    ok
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "openai"},
        {"id": "text-embedding-3-small", "object": "model", "created": 0, "owned_by": "openai"}
    ]}))
}

async fn chat(Json(body): Json<Value>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let model = body["model"].as_str().unwrap_or("gpt-4o-mini").to_owned();
    if body["stream"] == json!(true) {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-c", "object": "chat.completion.chunk", "created": 0,
                       "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            )
        };
        let text = chunk(json!({"role": "assistant", "content": "ok"}), Value::Null)
            + &chunk(json!({}), json!("stop"))
            + "data: [DONE]\n\n";
        return ([("content-type", "text/event-stream")], text).into_response();
    }
    Json(json!({
        "id": "chatcmpl-c", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    }))
    .into_response()
}

async fn embeddings(Json(body): Json<Value>) -> Json<Value> {
    let n = match &body["input"] {
        Value::Array(items) => items.len(),
        _ => 1,
    };
    let data: Vec<Value> = (0..n)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.25, -0.5, 0.125]}))
        .collect();
    Json(
        json!({"object": "list", "data": data, "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1}}),
    )
}

async fn refused() -> (axum::http::StatusCode, Json<Value>) {
    (
        axum::http::StatusCode::UNAUTHORIZED,
        Json(
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
        ),
    )
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a fake");
    let addr = listener.local_addr().expect("fake address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[test]
fn schemathesis_finds_no_server_error_and_no_difference_from_the_document() {
    if !schemathesis_installed() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (openai, shopify) = rt.block_on(async {
        let openai = serve(
            axum::Router::new()
                .route("/v1/models", get(models))
                .route("/v1/chat/completions", post(chat))
                .route("/v1/embeddings", post(embeddings)),
        )
        .await;
        let shopify = serve(axum::Router::new().fallback(refused)).await;
        (openai, shopify)
    });
    let mut env = Env::sqlite();
    env.set("CONEA_BOOTSTRAP_KEY", KEY)
        .set("RATE_LIMIT_PER_MINUTE", "1000000")
        .set("RATE_LIMIT_PER_IP_PER_MINUTE", "1000000")
        .set("OPENAI_API_KEY", "sk-contract")
        .set("OPENAI_BASE_URL", &format!("{openai}/v1"))
        .set("CONEA_AI_DEFAULT_FALLBACK", "true")
        .set("SHOPIFY_BASE_URL", &shopify)
        .set("SHOPIFY_API_KEY", "contract-app")
        .set("SHOPIFY_API_SECRET", "contract-app-secret")
        .set("CONEA_PUBLIC_URL", "http://127.0.0.1:9");
    let server = env.serve();
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/contract/schemathesis.toml"
    );
    let out = Command::new("st")
        // Its cache of found crashes goes in the test's own directory, not the checkout.
        .current_dir(env.data_dir())
        .args(["--config-file", config, "run", &server.url("/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {KEY}")])
        .args(["--checks", "all", "--max-examples", "20", "--workers", "1"])
        .args(["--seed", "20261204", "--no-color"])
        .output()
        .expect("run st");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The summary, for the log of a passing run too.
    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains("SUMMARY"))
        .collect();
    eprintln!("{}", summary.join("\n"));
    assert!(
        out.status.success(),
        "schemathesis found differences between the server and its document:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    drop(server);
}
