"""Drives Conea's OpenAI-compatible endpoint with the official `openai` client.

Usage: openai_client.py BASE_URL API_KEY  (BASE_URL like http://127.0.0.1:PORT/v1)
"""
import json
import sys

import openai
from openai import OpenAI

base_url, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0)

r = client.chat.completions.create(
    model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
)
assert r.usage.total_tokens == 9, r
print("non-streaming:", r.choices[0].message.content)

parts = []
usage = None
stream = client.chat.completions.create(
    model="openai/gpt-4o-mini",
    messages=[{"role": "user", "content": "Hi"}],
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            parts.append(choice.delta.content)
assert usage is not None and usage.total_tokens == 9, usage
print("streaming:", "".join(parts))

# An SDK user changes only base_url and the key: bare model names route.
r = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
)
print("bare name:", r.choices[0].message.content)

models = client.models.list()
owners = {m.id: m.owned_by for m in models.data}
assert owners.get("gpt-4o-mini") == "openai", owners
assert owners.get("default") == "conea", owners
print("models:", sorted(owners))
m = client.models.retrieve("gpt-4o-mini")
assert m.owned_by == "openai", m
print("retrieve:", m.id)

# The SDK asks for base64 by default and decodes it.
e = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
assert [d.embedding for d in e.data] == [[0.5, -0.25], [1.5, -0.25]], e
assert e.usage.prompt_tokens == 6, e.usage
print("embeddings:", len(e.data))

# JSON mode and a JSON schema (the fake answers text; what it received is checked by the
# Rust test that runs this script).
r = client.chat.completions.create(
    model="openai/gpt-4o-mini",
    messages=[{"role": "user", "content": "Revenue as JSON"}],
    response_format={"type": "json_object"},
    seed=42,
    stop=["END"],
    user="user-7",
)
print("json mode:", r.choices[0].message.content)
r = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Revenue as JSON"}],
    response_format={
        "type": "json_schema",
        "json_schema": {
            "name": "revenue",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"total": {"type": "number"}},
                "required": ["total"],
                "additionalProperties": False,
            },
        },
    },
)
print("json schema:", r.choices[0].message.content)

# An image part (inline, as a data: URL) next to text.
png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
r = client.chat.completions.create(
    model="openai/gpt-4o-mini",
    messages=[
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
            ],
        }
    ],
)
print("image:", r.choices[0].message.content)

# Tools: the model calls one, the result goes back, the model answers.
tools = [
    {
        "type": "function",
        "function": {
            "name": "sales_total",
            "description": "Sales total over N days",
            "parameters": {"type": "object", "properties": {"days": {"type": "integer"}}},
        },
    }
]
messages = [{"role": "user", "content": "Revenue last week?"}]
r = client.chat.completions.create(model="openai/gpt-4o-mini", messages=messages, tools=tools)
call = r.choices[0].message.tool_calls[0]
assert r.choices[0].finish_reason == "tool_calls", r
assert call.function.name == "sales_total" and json.loads(call.function.arguments) == {"days": 7}, call
messages.append(r.choices[0].message.model_dump(exclude_none=True))
messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"total": 1200}'})
r = client.chat.completions.create(model="openai/gpt-4o-mini", messages=messages, tools=tools)
print("tools:", call.function.name, "->", r.choices[0].message.content)

# Streamed tool call.
calls = {}
for chunk in client.chat.completions.create(
    model="openai/gpt-4o-mini", messages=messages[:1], tools=tools, stream=True
):
    for choice in chunk.choices:
        for tc in choice.delta.tool_calls or []:
            calls.setdefault(tc.index, "")
            calls[tc.index] += tc.function.arguments or ""
assert json.loads(calls[0]) == {"days": 7}, calls
print("streamed tool call:", json.loads(calls[0])["days"])

# Stream with include_usage: the usage chunk is the last, with no choices.
last = None
for chunk in client.chat.completions.create(
    model="openai/gpt-4o-mini",
    messages=[{"role": "user", "content": "Hi"}],
    stream=True,
    stream_options={"include_usage": True},
):
    last = chunk
assert last.choices == [] and last.usage.total_tokens == 9, last
print("include_usage: last chunk usage", last.usage.total_tokens)

# A parameter Conea does not carry is refused, naming it.
try:
    client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], n=2
    )
    raise SystemExit("n was accepted")
except openai.BadRequestError as e:
    print("refused:", e.status_code, e.body["details"]["param"])
