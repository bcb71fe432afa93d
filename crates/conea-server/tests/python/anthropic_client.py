"""Drives Conea's Anthropic-compatible endpoint with the official `anthropic` client; the
answer comes from whichever provider Conea routes to (here a fake OpenAI).

Usage: anthropic_client.py BASE_URL API_KEY  (BASE_URL like http://127.0.0.1:PORT)
"""
import sys

import anthropic

base_url, key = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0)

m = client.messages.create(
    model="gpt-4o-mini",
    max_tokens=64,
    system="Be brief.",
    messages=[{"role": "user", "content": "Hi"}],
)
assert m.type == "message" and m.role == "assistant", m
assert m.stop_reason == "end_turn", m
assert m.usage.input_tokens == 7 and m.usage.output_tokens == 2, m.usage
print("non-streaming:", m.content[0].text)

with client.messages.stream(
    model="gpt-4o-mini",
    max_tokens=64,
    messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
assert final.stop_reason == "end_turn", final
assert final.usage.output_tokens == 2, final.usage
print("streaming:", text)

# `top_k` as an extra field (SDK versions differ in whether `create` still names it).
try:
    client.messages.create(
        model="gpt-4o-mini",
        max_tokens=64,
        messages=[{"role": "user", "content": "Hi"}],
        extra_body={"top_k": 5},
    )
    raise SystemExit("top_k was accepted")
except anthropic.BadRequestError as e:
    assert e.body["error"]["details"]["param"] == "top_k", e.body
    print("refused:", e.status_code, e.body["error"]["details"]["param"])

# Tools through /v1/messages, answered by the (fake) OpenAI provider via Conea's tool layer.
tools = [
    {
        "name": "sales_total",
        "description": "Sales total over N days",
        "input_schema": {"type": "object", "properties": {"days": {"type": "integer"}}},
    }
]
question = {"role": "user", "content": "Revenue last week?"}
m = client.messages.create(
    model="openai/gpt-4o-mini",
    max_tokens=64,
    tools=tools,
    tool_choice={"type": "any"},
    metadata={"user_id": "user-7"},
    stop_sequences=["END"],
    messages=[question],
)
assert m.stop_reason == "tool_use", m
use = next(b for b in m.content if b.type == "tool_use")
assert use.name == "sales_total" and use.input == {"days": 7}, use
m2 = client.messages.create(
    model="openai/gpt-4o-mini",
    max_tokens=64,
    tools=tools,
    messages=[
        question,
        {"role": "assistant", "content": m.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": '{"total": 1200}'}],
        },
    ],
)
assert m2.stop_reason == "end_turn", m2
print("tools:", use.name, use.input["days"], "->", m2.content[0].text)

with client.messages.stream(
    model="openai/gpt-4o-mini", max_tokens=64, tools=tools, messages=[question]
) as stream:
    final = stream.get_final_message()
use = next(b for b in final.content if b.type == "tool_use")
assert final.stop_reason == "tool_use" and use.input == {"days": 7}, final
print("streamed tool_use:", use.name, use.input["days"])

png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
m = client.messages.create(
    model="openai/gpt-4o-mini",
    max_tokens=64,
    messages=[
        {
            "role": "user",
            "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                {"type": "text", "text": "What is in this picture?"},
            ],
        }
    ],
)
print("image:", m.content[0].text)
