//! `POST /v1/chat/completions` carries the generation parameters an SDK sends (JSON mode,
//! stop, seed, user, image parts, `stream_options.include_usage`) to the provider, and
//! refuses with 400 naming it what it cannot carry — a field it does not know, a content
//! part it does not carry, a parameter no configured target can honour — before any
//! provider is called.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::ai::{app_with_openai, fake_openai};
use conea_testkit::{Backend, TestApp};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn ask(extra: Value) -> Value {
    let mut body =
        json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn json_mode_stop_seed_user_and_images_reach_openai_as_sent() {
    let Some((app, fake)) = app_with_openai(Backend::Sqlite).await else {
        return;
    };
    let schema = json!({"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"], "additionalProperties": false});
    let data_url = format!("data:image/png;base64,{PNG}");
    let messages = json!([
        {"role": "system", "content": "Answer in JSON."},
        {"role": "user", "content": [
            {"type": "text", "text": "What does this chart say?"},
            {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://cdn.example.com/chart.png"}}
        ]}
    ]);
    let r = app
        .client
        .post(
            "/v1/chat/completions",
            Some(app.owner()),
            ask(json!({
                "messages": messages,
                "response_format": {"type": "json_schema", "json_schema": {"name": "revenue", "schema": schema, "strict": true}},
                "stop": "END", "seed": 42, "user": "user-7",
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = fake.bodies.lock().unwrap()[0].clone();
    assert_eq!(sent["messages"], messages, "parts go to OpenAI as sent");
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "revenue", "schema": schema, "strict": true}})
    );
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["seed"], 42);
    assert_eq!(sent["user"], "user-7");

    let r = app
        .client
        .post(
            "/v1/chat/completions",
            Some(app.owner()),
            ask(json!({"response_format": {"type": "json_object"}, "stop": ["a", "b"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = fake.bodies.lock().unwrap()[1].clone();
    assert_eq!(sent["response_format"], json!({"type": "json_object"}));
    assert_eq!(sent["stop"], json!(["a", "b"]));

    // `text` is the default format: nothing to carry
    let r = app
        .client
        .post(
            "/v1/chat/completions",
            Some(app.owner()),
            ask(json!({"response_format": {"type": "text"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(fake.bodies.lock().unwrap()[2]
        .get("response_format")
        .is_none());
}

#[tokio::test]
async fn what_conea_cannot_carry_is_a_400_naming_it_before_any_provider_call() {
    let Some((app, fake)) = app_with_openai(Backend::Sqlite).await else {
        return;
    };
    let user = |parts: Value| json!({"messages": [{"role": "user", "content": parts}]});
    let cases = [
        (json!({"n": 2}), "n"),
        (json!({"top_p": 0.5}), "top_p"),
        (json!({"logprobs": true}), "logprobs"),
        (
            user(
                json!([{"type": "text", "text": "hear this"}, {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]),
            ),
            "messages[0].content[1].type",
        ),
        (
            user(json!([{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}])),
            "messages[0].content[0].image_url.url",
        ),
        (
            user(
                json!([{"type": "image_url", "image_url": {"url": "data:text/plain;base64,AAAA"}}]),
            ),
            "messages[0].content[0].image_url.url",
        ),
        (
            user(
                json!([{"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "ultra"}}]),
            ),
            "messages[0].content[0].image_url.detail",
        ),
        (
            json!({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}, {"role": "user", "content": "Hi"}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"response_format": {"type": "yaml"}}),
            "response_format.type",
        ),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
            "response_format.json_schema.name",
        ),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop"),
        (json!({"stop": 5}), "stop"),
        (json!({"seed": "x"}), "seed"),
        (
            json!({"stream": true, "stream_options": {"include_usage": true, "include_obfuscation": true}}),
            "stream_options.include_obfuscation",
        ),
    ];
    for (extra, param) in cases {
        let r = app
            .client
            .post(
                "/v1/chat/completions",
                Some(app.owner()),
                ask(extra.clone()),
            )
            .await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(
            r.body["error"]["details"]["param"], param,
            "{extra}: {}",
            r.text
        );
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn json_mode_skips_anthropic_and_is_a_400_when_only_anthropic_could_answer() {
    let (url, fake) = fake_openai().await;
    let Some(app) = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", &url),
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            // never called: every request here asks for what Anthropic cannot carry
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
            ("CONEA_AI_PROVIDER_ORDER", "anthropic,openai"),
        ],
    )
    .await
    else {
        return;
    };
    let json_mode = json!({"response_format": {"type": "json_object"}});
    let mut only_anthropic = ask(json_mode.clone());
    only_anthropic["model"] = json!("anthropic/claude-3-5-haiku-latest");
    let r = app
        .client
        .post("/v1/chat/completions", Some(app.owner()), only_anthropic)
        .await;
    r.assert_error(400, "invalid_parameter");
    let details = &r.body["error"]["details"];
    assert_eq!(details["param"], "response_format");
    assert_eq!(details["providers"], json!(["anthropic"]));
    assert_eq!(details["attempts"][0]["outcome"], "skipped_unsupported");
    assert!(
        details["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no JSON mode"),
        "{}",
        r.text
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`response_format` cannot be carried to anthropic"));

    let mut seeded = ask(json!({"seed": 3}));
    seeded["model"] = json!("anthropic/claude-3-5-haiku-latest");
    let r = app
        .client
        .post("/v1/chat/completions", Some(app.owner()), seeded)
        .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "seed");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);

    // `default` tries Anthropic first: skipped, OpenAI answers in JSON mode
    let mut default = ask(json_mode);
    default["model"] = json!("default");
    let r = app
        .client
        .post("/v1/chat/completions", Some(app.owner()), default)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["x-conea-provider"], "openai");
    assert_eq!(
        fake.bodies.lock().unwrap()[0]["response_format"],
        json!({"type": "json_object"})
    );
}

/// The `data:` payloads of an SSE body, parsed (without the final `[DONE]`).
fn chunks(text: &str) -> Vec<Value> {
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn include_usage_adds_one_usage_chunk_after_the_finish_chunk_and_only_when_asked() {
    let Some((app, _fake)) = app_with_openai(Backend::Sqlite).await else {
        return;
    };
    let stream = |options: Value| {
        let mut body = ask(json!({"stream": true}));
        if !options.is_null() {
            body["stream_options"] = options;
        }
        app.client
            .http()
            .post(app.client.url("/v1/chat/completions"))
            .bearer_auth(app.owner())
            .json(&body)
            .send()
    };
    let text = stream(json!({"include_usage": true}))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let c = chunks(&text);
    let last = c.last().unwrap();
    assert_eq!(last["choices"], json!([]), "{text}");
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9})
    );
    assert_eq!(c[c.len() - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(c.iter().filter(|c| c.get("usage").is_some()).count(), 1);

    for options in [Value::Null, json!({"include_usage": false})] {
        let text = stream(options).await.unwrap().text().await.unwrap();
        assert!(
            chunks(&text).iter().all(|c| c.get("usage").is_none()),
            "{text}"
        );
    }
}

/// Anthropic's `tools`, as the Anthropic SDK sends them.
fn anthropic_tool() -> Value {
    json!({"name": "sales_total", "description": "Sales total over N days", "input_schema": {"type": "object", "properties": {"days": {"type": "integer"}}}})
}

/// Event names and payloads of an SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut name = String::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        } else if let Some(d) = line.strip_prefix("data: ") {
            out.push((name.clone(), serde_json::from_str(d).unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn messages_carry_tools_tool_use_and_tool_results_to_an_openai_target_streaming_and_not() {
    let Some((app, fake)) = app_with_openai(Backend::Sqlite).await else {
        return;
    };
    let question = json!({"role": "user", "content": "Revenue last week?"});
    let r = app
        .client
        .post(
            "/v1/messages",
            Some(app.owner()),
            json!({"model": "openai/gpt-4o-mini", "max_tokens": 64, "tools": [anthropic_tool()],
                   "tool_choice": {"type": "any"}, "metadata": {"user_id": "user-7"},
                   "stop_sequences": ["END"], "messages": [question]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["stop_reason"], "tool_use");
    assert_eq!(
        r.body["content"],
        json!([{"type": "tool_use", "id": "call_abc123", "name": "sales_total", "input": {"days": 7}}])
    );
    {
        let sent = &fake.bodies.lock().unwrap()[0];
        assert_eq!(
            sent["tools"],
            json!([{"type": "function", "function": {"name": "sales_total", "description": "Sales total over N days", "parameters": {"type": "object", "properties": {"days": {"type": "integer"}}}}}])
        );
        assert_eq!(sent["tool_choice"], "required");
        assert_eq!(sent["user"], "user-7");
        assert_eq!(sent["stop"], json!(["END"]));
    }

    let r = app
        .client
        .post(
            "/v1/messages",
            Some(app.owner()),
            json!({"model": "openai/gpt-4o-mini", "max_tokens": 64, "tools": [anthropic_tool()], "messages": [
                question,
                {"role": "assistant", "content": r.body["content"]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_abc123", "content": [{"type": "text", "text": "{\"total\": 1200}"}]}
                ]}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["stop_reason"], "end_turn");
    assert_eq!(
        r.body["content"],
        json!([{"type": "text", "text": "Hello there"}])
    );
    {
        let sent = &fake.bodies.lock().unwrap()[1];
        assert_eq!(
            sent["messages"][1]["tool_calls"],
            json!([{"id": "call_abc123", "type": "function", "function": {"name": "sales_total", "arguments": "{\"days\":7}"}}])
        );
        assert_eq!(
            sent["messages"][2],
            json!({"role": "tool", "tool_call_id": "call_abc123", "content": "{\"total\": 1200}"})
        );
        assert_eq!(sent["messages"].as_array().unwrap().len(), 3);
    }

    let text = app
        .client
        .http()
        .post(app.client.url("/v1/messages"))
        .bearer_auth(app.owner())
        .json(&json!({"model": "openai/gpt-4o-mini", "max_tokens": 64, "stream": true, "tools": [anthropic_tool()], "messages": [question]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ev = events(&text);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ],
        "{text}"
    );
    assert_eq!(
        ev[1].1["content_block"],
        json!({"type": "tool_use", "id": "call_abc123", "name": "sales_total", "input": {}})
    );
    assert_eq!(
        ev[2].1["delta"],
        json!({"type": "input_json_delta", "partial_json": "{\"days\":7}"})
    );
    assert_eq!(ev[4].1["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn messages_refuse_what_they_cannot_carry_naming_it() {
    let Some((app, fake)) = app_with_openai(Backend::Sqlite).await else {
        return;
    };
    let base = json!({"model": "openai/gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (
            with(json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]})),
            "tools[0].type",
        ),
        (
            with(
                json!({"tools": [anthropic_tool()], "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}}),
            ),
            "tool_choice.disable_parallel_tool_use",
        ),
        (
            with(
                json!({"tools": [anthropic_tool()], "tool_choice": {"type": "tool", "name": "other"}}),
            ),
            "tool_choice.name",
        ),
        (
            with(
                json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "boom", "is_error": true}]}]}),
            ),
            "messages[0].content[0].is_error",
        ),
        (
            with(
                json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}),
            ),
            "messages[0].content[0].type",
        ),
        (
            with(json!({"metadata": {"tenant": "x"}})),
            "metadata.tenant",
        ),
        (with(json!({"top_p": 0.5})), "top_p"),
    ];
    for (body, param) in cases {
        let r = app
            .client
            .post("/v1/messages", Some(app.owner()), body.clone())
            .await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(
            r.body["error"]["details"]["param"], param,
            "{body}: {}",
            r.text
        );
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
}
