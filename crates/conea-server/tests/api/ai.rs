//! The AI gateway through the server, against a local fake that speaks OpenAI's wire
//! format: Conea's format and the OpenAI-compatible one, streaming and not, usage recorded
//! once per call, budgets, permissions, a failure after the first byte, and the official
//! `openai` and `anthropic` Python clients (when installed; `.ci/run` installs them): JSON
//! mode, tools, image parts and `include_usage` through each SDK.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use conea_testkit::{Backend, Client, Resp, TestApp};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
pub(crate) struct Fake {
    pub(crate) calls: Arc<AtomicUsize>,
    /// The body of every request, in order.
    pub(crate) bodies: Arc<std::sync::Mutex<Vec<Value>>>,
}

/// OpenAI Chat Completions: a fixed answer; SSE when `stream`; with model `break-midway`
/// the stream stops after one chunk without `[DONE]`.
async fn chat(State(fake): State<Fake>, axum::Json(body): axum::Json<Value>) -> Response {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    fake.bodies.lock().unwrap().push(body.clone());
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let last_role = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .map(|m| m["role"].clone());
    if body["tools"].is_array() && last_role != Some(json!("tool")) {
        return tool_call_answer(&model, body["stream"] == true);
    }
    if model == "always-500" {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(
                json!({"error": {"message": "The server had an error", "type": "server_error"}}),
            ),
        )
            .into_response();
    }
    if body["stream"] == true {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            )
        };
        let mut text = chunk(
            json!({"role": "assistant", "content": "Hello"}),
            Value::Null,
        );
        if model == "break-midway" {
            // The connection ends here: no finish, no [DONE].
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from(text))
                .unwrap();
        }
        text += &chunk(json!({"content": " there"}), Value::Null);
        text += &chunk(json!({}), json!("stop"));
        text += &format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}})
        );
        text += "data: [DONE]\n\n";
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from(text))
            .unwrap();
    }
    axum::Json(json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop", "logprobs": null}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    }))
    .into_response()
}

/// OpenAI's `GET /v1/models`, as the API answers it.
async fn list_models() -> axum::Json<Value> {
    axum::Json(json!({"object": "list", "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
        {"id": "ft:gpt-4o-mini:acme::abc123", "object": "model", "created": 1730000000, "owned_by": "acme"}
    ]}))
}

/// OpenAI's `POST /v1/embeddings`: for the i-th input `[i + 0.5, -0.25]`, 3 tokens each.
async fn embeddings(axum::Json(body): axum::Json<Value>) -> Response {
    let n = body["input"].as_array().map_or(0, Vec::len);
    if body["encoding_format"] != "float" {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"message": "Conea asks for floats", "type": "invalid_request_error"}})),
        )
            .into_response();
    }
    let data: Vec<Value> = (0..n)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [i as f64 + 0.5, -0.25]}))
        .collect();
    axum::Json(
        json!({"object": "list", "data": data, "model": body["model"],
        "usage": {"prompt_tokens": 3 * n, "total_tokens": 3 * n}}),
    )
    .into_response()
}

/// With `tools` and no tool result yet: OpenAI's answer calling `sales_total` with
/// `{"days": 7}` (streamed: the arguments in two pieces).
fn tool_call_answer(model: &str, stream: bool) -> Response {
    if !stream {
        return axum::Json(json!({
            "id": "chatcmpl-tool", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_abc123", "type": "function", "function": {"name": "sales_total", "arguments": "{\"days\": 7}"}}
            ]}, "finish_reason": "tool_calls", "logprobs": null}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-tool", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut text = chunk(
        json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_abc123", "type": "function", "function": {"name": "sales_total", "arguments": "{\"da"}}]}),
        Value::Null,
    );
    text += &chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "ys\": 7}"}}]}),
        Value::Null,
    );
    text += &chunk(json!({}), json!("tool_calls"));
    text += "data: [DONE]\n\n";
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from(text))
        .unwrap()
}

pub(crate) async fn fake_openai() -> (String, Fake) {
    let fake = Fake::default();
    let app = axum::Router::new()
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", axum::routing::get(list_models))
        .route("/v1/chat/completions", post(chat))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), fake)
}

pub(crate) async fn app_with_openai(b: Backend) -> Option<(TestApp, Fake)> {
    let (url, fake) = fake_openai().await;
    let app = TestApp::spawn_with(
        b,
        &[("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", &url)],
    )
    .await?;
    Some((app, fake))
}

/// One completion of `openai/gpt-4o-mini` in Conea's format, by the owner.
async fn ask(app: &TestApp) -> Resp {
    app.client
        .post(
            "/v1/ai/completions",
            Some(app.owner()),
            json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await
}

/// The caller's usage by provider. No waiting: a replica's report includes its own calls as
/// soon as they are answered (the batched writer flushes before the report is read).
async fn usage(app: &TestApp) -> Value {
    let r = app
        .client
        .get("/v1/ai/usage?group_by=provider", Some(app.owner()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        !r.body["data"].as_array().unwrap().is_empty(),
        "the answered call is in the report at once: {}",
        r.text
    );
    r.body
}

conea_testkit::backend_tests!(
    completion_in_conea_format_names_the_provider_and_records_usage_once,
    openai_compatible_endpoint_answers_and_streams_in_openai_format,
    failure_after_the_first_byte_ends_the_stream_with_an_error_event,
    monthly_budget_is_enforced_before_calling_the_provider,
    usage_held_in_memory_is_written_when_the_server_stops,
    bare_model_names_route_and_the_model_list_names_every_routable_model,
    embeddings_answer_in_openai_shape_as_floats_or_base64_and_count_usage,
    openai_compatible_endpoint_calls_tools_and_takes_their_results,
    malformed_tools_are_a_400_naming_the_field,
);

pub(crate) fn sales_tool() -> Value {
    json!({"type": "function", "function": {"name": "sales_total", "description": "Sales total over N days", "parameters": {"type": "object", "properties": {"days": {"type": "integer"}}}}})
}

async fn openai_compatible_endpoint_calls_tools_and_takes_their_results(b: Backend) {
    let Some((app, fake)) = app_with_openai(b).await else {
        return;
    };
    let question = json!({"role": "user", "content": "Revenue last week?"});
    let r = app
        .client
        .post("/v1/chat/completions", Some(app.owner()), json!({"model": "openai/gpt-4o-mini", "tools": [sales_tool()], "tool_choice": "required", "messages": [question]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let choice = &r.body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_abc123");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "sales_total");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"days": 7}));
    {
        let sent = &fake.bodies.lock().unwrap()[0];
        assert_eq!(sent["tools"][0]["function"]["name"], "sales_total");
        assert_eq!(sent["tool_choice"], "required");
    }

    let r = app
        .client
        .post(
            "/v1/chat/completions",
            Some(app.owner()),
            json!({"model": "openai/gpt-4o-mini", "tools": [sales_tool()], "messages": [
                question,
                choice["message"],
                {"role": "tool", "tool_call_id": "call_abc123", "content": "{\"total\": 1200}"}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["choices"][0]["finish_reason"], "stop");
    {
        let sent = &fake.bodies.lock().unwrap()[1];
        assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], "call_abc123");
        assert_eq!(
            sent["messages"][1]["tool_calls"][0]["function"]["name"],
            "sales_total"
        );
        assert_eq!(
            sent["messages"][2],
            json!({"role": "tool", "tool_call_id": "call_abc123", "content": "{\"total\": 1200}"})
        );
    }

    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/chat/completions"))
        .bearer_auth(app.owner())
        .json(&json!({"model": "openai/gpt-4o-mini", "stream": true, "tools": [sales_tool()], "messages": [{"role": "user", "content": "Revenue?"}]}))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls.len(), 1, "one whole call: {text}");
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["id"], "call_abc123");
    assert_eq!(calls[0]["function"]["name"], "sales_total");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"days": 7}));
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"),
        "{text}"
    );
}

async fn malformed_tools_are_a_400_naming_the_field(b: Backend) {
    let Some((app, fake)) = app_with_openai(b).await else {
        return;
    };
    let ask = |extra: Value| {
        let mut body =
            json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            json!({"tools": [{"type": "function", "function": {"description": "no name"}}]}),
            "tools[0].function.name",
        ),
        (
            json!({"tools": [sales_tool(), {"type": "function", "function": {"name": "x", "parameters": "days"}}]}),
            "tools[1].function.parameters",
        ),
        (
            json!({"tools": [sales_tool()], "tool_choice": "sometimes"}),
            "tool_choice",
        ),
        (
            json!({"tools": [sales_tool()], "tool_choice": {"type": "function", "function": {"name": "other"}}}),
            "tool_choice",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "42"}]}),
            "messages[0].tool_call_id",
        ),
    ];
    for (extra, field) in cases {
        let r = app
            .client
            .post("/v1/chat/completions", Some(app.owner()), ask(extra))
            .await;
        r.assert_error(400, "invalid_parameter");
        assert!(r.text.contains(field), "{field}: {}", r.text);
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
}

async fn embeddings_answer_in_openai_shape_as_floats_or_base64_and_count_usage(b: Backend) {
    let Some((app, _fake)) = app_with_openai(b).await else {
        return;
    };
    let r = app
        .client
        .post(
            "/v1/embeddings",
            Some(app.owner()),
            json!({"model": "text-embedding-3-small", "input": ["a", "b"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("x-conea-provider"), Some("openai"));
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["data"][1]["index"], 1);
    assert_eq!(r.body["data"][1]["embedding"], json!([1.5, -0.25]));
    assert_eq!(r.body["usage"]["prompt_tokens"], 6);
    let r = app
        .client
        .post(
            "/v1/embeddings",
            Some(app.owner()),
            json!({"model": "openai/text-embedding-3-small", "input": "one", "encoding_format": "base64"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(r.body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats, vec![0.5, -0.25]);
    for (body, param) in [
        (
            json!({"model": "text-embedding-3-small", "input": []}),
            "input",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": [[1, 2, 3]]}),
            "input",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": ""}),
            "input",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"}),
            "encoding_format",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": "x", "dimensions": 0}),
            "dimensions",
        ),
    ] {
        let r = app
            .client
            .post("/v1/embeddings", Some(app.owner()), body)
            .await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.body["error"]["details"]["param"], param, "{}", r.text);
    }
    let by_model = app
        .client
        .get("/v1/ai/usage?group_by=model", Some(app.owner()))
        .await;
    let rows = by_model.body["data"].as_array().unwrap().clone();
    let row = rows
        .iter()
        .find(|r| r["group"] == "openai/text-embedding-3-small")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(row["requests"], 2);
    assert_eq!(row["input_tokens"], 9);
    assert_eq!(row["output_tokens"], 0);
}

/// An SDK's habits: `model="gpt-4o-mini"` without a provider, and the model list naming
/// what the provider itself lists (a fine-tuned model no prefix would route).
async fn bare_model_names_route_and_the_model_list_names_every_routable_model(b: Backend) {
    let Some((app, fake)) = app_with_openai(b).await else {
        return;
    };
    app.state.platform().ai.refresh_models().await;
    for model in ["gpt-4o-mini", "ft:gpt-4o-mini:acme::abc123", "default"] {
        let r = app
            .client
            .post(
                "/v1/chat/completions",
                Some(app.owner()),
                json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["choices"][0]["message"]["content"], "Hello there");
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    let list = app.client.get("/v1/models", Some(app.owner())).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["object"], "list");
    let owned: Vec<(String, String)> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["object"], "model");
            (
                m["id"].as_str().unwrap().to_owned(),
                m["owned_by"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (id, by) in [
        ("gpt-4o-mini", "openai"),
        ("ft:gpt-4o-mini:acme::abc123", "openai"),
        ("default", "conea"),
    ] {
        assert!(owned.contains(&(id.into(), by.into())), "{id}: {owned:?}");
    }
    let one = app
        .client
        .get("/v1/models/ft:gpt-4o-mini:acme::abc123", Some(app.owner()))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["owned_by"], "openai");
    let direct = app
        .client
        .get("/v1/models/openai%2Fgpt-4.1", Some(app.owner()))
        .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert_eq!(direct.body["id"], "openai/gpt-4.1");
    app.client
        .get("/v1/models/mystery-model", Some(app.owner()))
        .await
        .assert_error(404, "not_found");
    let r = app
        .client
        .post(
            "/v1/chat/completions",
            Some(app.owner()),
            json!({"model": "mystery-model", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    r.assert_error(400, "unknown_model");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("GET /v1/models"));
}

/// Usage waits in memory for its batched write (here an hour): another replica's report
/// does not have it, and a graceful stop writes it, once.
async fn usage_held_in_memory_is_written_when_the_server_stops(b: Backend) {
    let (url, fake) = fake_openai().await;
    let Some(app) = TestApp::spawn_with(
        b,
        &[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", &url),
            ("CONEA_AI_USAGE_FLUSH", "1h"),
        ],
    )
    .await
    else {
        return;
    };
    let other = app
        .replica(&[("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", &url)])
        .await;
    for _ in 0..3 {
        let r = ask(&app).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    let metrics = app.client.get("/metrics", None).await.text;
    assert!(
        metrics.contains("conea_ai_usage_pending_rows 1"),
        "three calls of one key and model are one pending row"
    );
    let key = app.owner().to_owned();
    let before = other
        .client
        .get("/v1/ai/usage?group_by=provider", Some(&key))
        .await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(before.body["data"], json!([]), "not written yet");
    app.stop().await;
    let after = other
        .client
        .get("/v1/ai/usage?group_by=provider", Some(&key))
        .await;
    assert_eq!(
        after.body["data"],
        json!([{"group": "openai", "requests": 3, "input_tokens": 21, "output_tokens": 6}]),
        "{}",
        after.text
    );
}

async fn completion_in_conea_format_names_the_provider_and_records_usage_once(b: Backend) {
    let Some((app, fake)) = app_with_openai(b).await else {
        return;
    };
    let r = ask(&app).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("x-conea-provider"), Some("openai"));
    assert_eq!(r.body["content"], "Hello there");
    assert_eq!(r.body["finish_reason"], "stop");
    assert_eq!(
        r.body["usage"],
        json!({"input_tokens": 7, "output_tokens": 2})
    );
    assert_eq!(r.body["attempts"][0]["outcome"], "success");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    let u = usage(&app).await;
    assert_eq!(
        u["data"][0],
        json!({"group": "openai", "requests": 1, "input_tokens": 7, "output_tokens": 2})
    );
    let models = app.client.get("/v1/ai/models", Some(app.owner())).await;
    assert_eq!(models.status, 200);
    assert_eq!(models.body["providers"][0]["name"], "openai");
    assert!(
        app.client
            .get("/v1/rate-limit", Some(app.owner()))
            .await
            .body["remaining"]
            .as_u64()
            .unwrap()
            < 100,
        "AI calls count against the rate limit"
    );
    // `fallback`: false is accepted; anything but a bool or a list is refused by name.
    let r = app.client.post("/v1/ai/completions", Some(app.owner()), json!({"model": "openai/gpt-4o-mini", "fallback": false, "messages": [{"role": "user", "content": "Hi"}]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.client.post("/v1/ai/completions", Some(app.owner()), json!({"model": "openai/gpt-4o-mini", "fallback": 3, "messages": [{"role": "user", "content": "Hi"}]})).await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "fallback");
    // Validation and permission.
    let r = app
        .client
        .post(
            "/v1/ai/completions",
            Some(app.owner()),
            json!({"model": "openai/x", "messages": [{"role": "robot", "content": "Hi"}]}),
        )
        .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "messages[0].role");
    let k = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "r", "permissions": ["data:read"]}),
        )
        .await;
    let reader = k.body["secret"].as_str().unwrap();
    app.client
        .post(
            "/v1/ai/completions",
            Some(reader),
            json!({"model": "openai/x", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await
        .assert_error(403, "insufficient_permissions");
}

async fn openai_compatible_endpoint_answers_and_streams_in_openai_format(b: Backend) {
    let Some((app, _fake)) = app_with_openai(b).await else {
        return;
    };
    let r = app
        .client
        .post("/v1/chat/completions", Some(app.owner()), json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The whole body, as OpenAI shapes it (`created` is the time of the answer).
    assert!(
        r.body["created"]
            .as_i64()
            .is_some_and(|t| t > 1_700_000_000),
        "{}",
        r.text
    );
    let mut body = r.body.clone();
    body["created"] = json!(0);
    assert_eq!(
        body,
        json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop", "logprobs": null}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
        })
    );
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/chat/completions"))
        .bearer_auth(app.owner())
        .json(&json!({"model": "openai/gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hello there");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert_eq!(
        chunks
            .iter()
            .filter(|c| c["usage"]["total_tokens"] == 9)
            .count(),
        1
    );
    let m = app.client.get("/v1/models", Some(app.owner())).await;
    assert_eq!(m.body["object"], "list");
}

async fn failure_after_the_first_byte_ends_the_stream_with_an_error_event(b: Backend) {
    let Some((app, _fake)) = app_with_openai(b).await else {
        return;
    };
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/ai/completions"))
        .bearer_auth(app.owner())
        .json(&json!({"model": "openai/break-midway", "stream": true, "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(text.contains("event: delta"), "{text}");
    assert!(
        text.contains("event: error"),
        "the stream ends with an explicit error: {text}"
    );
    assert!(
        !text.contains("event: done"),
        "never a clean finish: {text}"
    );
}

async fn monthly_budget_is_enforced_before_calling_the_provider(b: Backend) {
    let Some((app, fake)) = app_with_openai(b).await else {
        return;
    };
    let org = app
        .client
        .get("/v1/auth/verify", Some(app.owner()))
        .await
        .body["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .client
        .put(
            &format!("/v1/ai/budgets/{org}"),
            Some(app.owner()),
            json!({"monthly_tokens": 5}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ask(&app).await.status, 200);
    usage(&app).await;
    let r = ask(&app).await;
    r.assert_error(429, "budget_exceeded");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.body["error"]["details"]["used"], 9);
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        1,
        "the provider was not called over budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_shows_in_health_models_and_metrics() {
    let (url, _fake) = fake_openai().await;
    let Some(app) = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", &url),
            ("CONEA_AI_BREAKER_THRESHOLD", "2"),
            ("CONEA_AI_MAX_RETRIES", "0"),
        ],
    )
    .await
    else {
        return;
    };
    assert_eq!(
        app.client.get("/health", None).await.body["checks"]["ai_providers"][0]["status"],
        "ok"
    );
    for _ in 0..2 {
        let r = app.client.post("/v1/ai/completions", Some(app.owner()), json!({"model": "openai/always-500", "messages": [{"role": "user", "content": "Hi"}]})).await;
        r.assert_error(502, "all_providers_failed");
        assert_eq!(r.body["error"]["details"]["attempts"][0]["status"], 500);
    }
    let h = app.client.get("/health", None).await;
    assert_eq!(h.body["status"], "degraded", "{}", h.text);
    assert_eq!(
        h.body["checks"]["ai_providers"][0]["status"],
        "circuit_open"
    );
    assert!(h.body["checks"]["ai_providers"][0]["last_error"].is_string());
    let m = app.client.get("/v1/ai/models", Some(app.owner())).await;
    assert_eq!(m.body["providers"][0]["status"], "circuit_open");
    let metrics = app
        .client
        .http()
        .get(app.client.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"conea_ai_provider_state{provider="openai",state="circuit_open"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn no_provider_configured_answers_503_naming_the_variables() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let r = app
        .client
        .post(
            "/v1/ai/completions",
            Some(app.owner()),
            json!({"model": "chat", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    r.assert_error(503, "no_ai_provider_configured");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("OPENAI_API_KEY"));
}

/// Whether the official Python client package `package` is installed; without it the test
/// skips with one line, or fails under `CONEA_REQUIRE_SERVICES=1` (CI installs it).
#[allow(clippy::disallowed_methods)] // CONEA_REQUIRE_SERVICES: the test harness's switch
pub(crate) fn python_package(package: &str) -> bool {
    let installed = std::process::Command::new("python3")
        .args(["-c", &format!("import {package}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        if std::env::var("CONEA_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
            panic!("the {package} Python package is required in CI (.ci/run installs it)");
        }
        eprintln!(
            "skipping: the `{package}` Python package is not installed (pip install {package})"
        );
    }
    installed
}

/// Runs `tests/python/<script>` with the base URL and key; its stdout, once it succeeded.
pub(crate) async fn run_python(script: &str, base: String, key: String) -> String {
    let script = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([&script, &base, &key])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_client_works_streaming_and_not() {
    if !python_package("openai") {
        return;
    }
    let Some((app, fake)) = app_with_openai(Backend::Sqlite).await else {
        return;
    };
    let stdout = run_python(
        "openai_client.py",
        format!("{}/v1", app.base_url),
        app.owner().to_owned(),
    )
    .await;
    assert!(stdout.contains("non-streaming: Hello there"), "{stdout}");
    assert!(stdout.contains("streaming: Hello there"), "{stdout}");
    assert!(stdout.contains("bare name: Hello there"), "{stdout}");
    assert!(stdout.contains("retrieve: gpt-4o-mini"), "{stdout}");
    assert!(stdout.contains("embeddings: 2"), "{stdout}");
    for line in [
        "json mode: Hello there",
        "json schema: Hello there",
        "image: Hello there",
        "tools: sales_total -> Hello there",
        "streamed tool call: 7",
        "include_usage: last chunk usage 9",
        "refused: 400 n",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    // what the SDK's requests carried reached the provider
    let bodies = fake.bodies.lock().unwrap().clone();
    let sent = |key: &str, want: Value| {
        assert!(
            bodies.iter().any(|b| b[key] == want),
            "no request carried {key} = {want}"
        )
    };
    sent("response_format", json!({"type": "json_object"}));
    sent("seed", json!(42));
    sent("stop", json!(["END"]));
    sent("user", json!("user-7"));
    assert!(bodies
        .iter()
        .any(|b| b["response_format"]["json_schema"]["strict"] == true
            && b["response_format"]["json_schema"]["schema"]["additionalProperties"] == false));
    assert!(bodies
        .iter()
        .any(|b| b["messages"][0]["content"][1]["image_url"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("data:image/png;base64,"))));
    assert!(bodies
        .iter()
        .any(|b| b["messages"][2]["role"] == "tool"
            && b["messages"][2]["tool_call_id"] == "call_abc123"));
    let _ = Client::new(&app.base_url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_anthropic_python_client_works_against_any_provider_streaming_and_not() {
    if !python_package("anthropic") {
        return;
    }
    let Some((app, fake)) = app_with_openai(Backend::Sqlite).await else {
        return;
    };
    let stdout = run_python(
        "anthropic_client.py",
        app.base_url.clone(),
        app.owner().to_owned(),
    )
    .await;
    assert!(stdout.contains("non-streaming: Hello there"), "{stdout}");
    assert!(stdout.contains("streaming: Hello there"), "{stdout}");
    assert!(stdout.contains("refused: 400 top_k"), "{stdout}");
    assert!(
        stdout.contains("tools: sales_total 7 -> Hello there"),
        "{stdout}"
    );
    assert!(
        stdout.contains("streamed tool_use: sales_total 7"),
        "{stdout}"
    );
    assert!(stdout.contains("image: Hello there"), "{stdout}");
    let bodies = fake.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies.len(),
        6,
        "the refused request reached no provider: {bodies:?}"
    );
    // tools, tool_choice, metadata.user_id and stop_sequences in OpenAI's format
    assert_eq!(bodies[2]["tools"][0]["function"]["name"], "sales_total");
    assert_eq!(bodies[2]["tool_choice"], "required");
    assert_eq!(bodies[2]["user"], "user-7");
    assert_eq!(bodies[2]["stop"], json!(["END"]));
    assert_eq!(bodies[3]["messages"][2]["role"], "tool");
    assert_eq!(
        bodies[5]["messages"][0]["content"][0]["type"], "image_url",
        "the image block reached OpenAI as an image_url part"
    );
}
