"""The official OpenAI Python SDK's Responses client, unchanged but for the base URL, through
tollgate in real Envoy (driven by tests/sdk.rs). Usage: openai_responses.py BASE_URL MODEL TOOL_MODEL.
Each scenario asserts what the SDK parsed; any failure exits non-zero with the reason."""

import json
import sys

import openai

TEXT = "Hello! I am the tollgate mock provider. This reply is deterministic."
base, model, tool_model = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)


def check(cond, what):
    if not cond:
        sys.exit(f"{model}: {what}")


# Plain.
r = client.responses.create(model=model, instructions="Be brief.", input="Hello", max_output_tokens=200, temperature=0.5, store=False)
check(r.output_text == TEXT, f"plain text {r.output_text!r}")
check(r.status == "completed" and r.usage is not None and r.usage.input_tokens > 0 and r.usage.output_tokens > 0, f"plain usage {r.usage}")
print("ok plain")

# Streaming, raw events: typed events, text deltas, closed by response.completed with usage.
events = list(client.responses.create(model=model, input=[{"role": "user", "content": [{"type": "input_text", "text": "Hello"}]}], stream=True))
kinds = [e.type for e in events]
check(kinds[0] == "response.created", f"first event {kinds[:3]}")
check(kinds[-1] == "response.completed", f"last event {kinds[-3:]}")
check("response.output_item.added" in kinds, f"no output_item.added in {kinds}")
text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
check(text == TEXT, f"streamed text {text!r}")
check(events[-1].response.usage is not None and events[-1].response.usage.output_tokens > 0, "stream usage")
print("ok stream")

# Streaming through the SDK's accumulating helper (it checks the event sequence).
with client.responses.stream(model=model, input="Hello") as s:
    final = s.get_final_response()
check(final.output_text == TEXT, f"helper text {final.output_text!r}")
print("ok stream helper")

# A function-tool round trip, streamed first call.
tools = [{"type": "function", "name": "get_weather", "description": "Weather in a city.", "strict": True,
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}]
conversation = [{"role": "user", "content": "Weather in Paris?"}]
with client.responses.stream(model=tool_model, input=conversation, tools=tools, tool_choice="auto") as s:
    first = s.get_final_response()
calls = [o for o in first.output if o.type == "function_call"]
check(len(calls) == 1 and calls[0].name == "get_weather", f"tool call {first.output}")
check(json.loads(calls[0].arguments) == {"city": "mock"}, f"arguments {calls[0].arguments!r}")
conversation += [c.model_dump(exclude_none=True) for c in calls]
conversation.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"})
second = client.responses.create(model=tool_model, input=conversation, tools=tools)
check(second.output_text == TEXT, f"after the tool: {second.output}")
print("ok tools")

# Structured output: text.format with a JSON schema.
schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"], "additionalProperties": False}
r = client.responses.create(model=model, input="A person.", text={"format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}})
check(json.loads(r.output_text) == {"name": "mock", "age": 1}, f"structured {r.output_text!r}")
print("ok structured")
