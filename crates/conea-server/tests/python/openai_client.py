"""Drives Conea's OpenAI-compatible endpoint with the official `openai` client.

Usage: openai_client.py BASE_URL API_KEY  (BASE_URL like http://127.0.0.1:PORT/v1)
"""
import sys

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
