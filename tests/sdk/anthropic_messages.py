"""The official Anthropic Python SDK, unchanged but for the base URL, as a modern agent uses it,
through tollgate in real Envoy to a model served by another provider kind (driven by
tests/sdk.rs). Usage: anthropic_messages.py BASE_URL MODEL."""

import sys

import anthropic

TEXT = "Hello! I am the tollgate mock provider. This reply is deterministic."
base, model = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0)


def check(cond, what):
    if not cond:
        sys.exit(f"{model}: {what}")


# What current coding agents send: thinking, an effort, system-role entries, cache_control,
# metadata, many tools, a large max_tokens.
tools = [{"name": f"tool_{i}", "description": "A tool.", "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}} for i in range(24)]
request = dict(
    model=model,
    max_tokens=32000,
    thinking={"type": "enabled", "budget_tokens": 10000},
    system=[{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}],
    messages=[
        {"role": "system", "content": "Follow the repository's style."},
        {"role": "user", "content": [{"type": "text", "text": "Hello", "cache_control": {"type": "ephemeral"}}]},
    ],
    metadata={"user_id": "user-42"},
    tools=tools,
    output_config={"effort": "high"},
)
# The SDK itself refuses a non-streaming request that may take over ten minutes: agents stream
# their 32,000-token requests, and create with fewer.
m = client.messages.create(**{**request, "max_tokens": 16000})
text = "".join(b.text for b in m.content if b.type == "text")
check(text == TEXT, f"text {m.content}")
check(m.usage.output_tokens > 0 and m.stop_reason == "end_turn", f"usage {m.usage} stop {m.stop_reason}")
print("ok create")

with client.messages.stream(**request) as s:
    final = s.get_final_message()
text = "".join(b.text for b in final.content if b.type == "text")
check(text == TEXT and final.usage.output_tokens > 0, f"stream {final}")
print("ok stream")

# The beta surface (`?beta=true`, `anthropic-beta`).
b = client.beta.messages.create(model=model, max_tokens=1000, messages=[{"role": "user", "content": "Hello"}], betas=["interleaved-thinking-2025-05-14"])
check("".join(x.text for x in b.content if x.type == "text") == TEXT, f"beta {b.content}")
print("ok beta")

# count_tokens: estimated by the gateway for a provider without the endpoint.
n = client.messages.count_tokens(model=model, messages=[{"role": "user", "content": "Hello there, how are you?"}])
check(n.input_tokens > 0, f"count_tokens {n}")
print("ok count_tokens")

# The model list in Anthropic's shape.
ids = [x.id for x in client.models.list()]
check(model in ids, f"models {ids}")
print("ok models")
