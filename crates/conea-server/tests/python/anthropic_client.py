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

try:
    client.messages.create(
        model="gpt-4o-mini",
        max_tokens=64,
        # Sent as a raw member: newer SDKs no longer take `top_k` as an argument.
        extra_body={"top_k": 5},
        messages=[{"role": "user", "content": "Hi"}],
    )
    raise SystemExit("top_k was accepted")
except anthropic.BadRequestError as e:
    assert e.body["error"]["details"]["param"] == "top_k", e.body
    print("refused:", e.status_code, e.body["error"]["details"]["param"])
