//! The hub's chat shape ↔ AWS Bedrock Converse: request and JSON response.
//!
//! Converse's content blocks are Anthropic's in other names, so the request goes chat →
//! Messages (the hub's Anthropic translator: system, tools, tool results, images, turn merging)
//! → Converse, and the answer Converse → Messages → chat:
//!
//! | Messages                          | Converse                                             |
//! |-----------------------------------|------------------------------------------------------|
//! | `system`                          | `system: [{text}]`                                   |
//! | `text` block                      | `{text}`                                             |
//! | `image` (base64 source)           | `{image: {format, source: {bytes}}}`                 |
//! | `tool_use {id, name, input}`      | `{toolUse: {toolUseId, name, input}}`                |
//! | `tool_result {tool_use_id, …}`    | `{toolResult: {toolUseId, content: [{text}], status}}` |
//! | `max_tokens`, `temperature`, `top_p`, `stop_sequences` | `inferenceConfig.{maxTokens, temperature, topP, stopSequences}` |
//! | `tools`, `tool_choice`            | `toolConfig.{tools: [{toolSpec}], toolChoice}`       |
//! | `usage.input_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens` | `usage.inputTokens`, `cacheReadInputTokens`, `cacheWriteInputTokens` |
//!
//! The model is in the path. What Converse has no field for (`top_k`, `thinking`, cache
//! breakpoints, `metadata`, a `none` tool choice, image URLs) follows the [`Lenience`] policy.

use super::{chat_to_messages, message_to_completion, Lenience, TranslateError};
use serde_json::{Map, Value};

/// Translates a hub (chat) request into a Converse request body.
pub fn chat_to_converse(hub: &Value, model: &str, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let messages = chat_to_messages(hub, model, lenience)?;
    messages_to_converse(&messages, lenience)
}

fn messages_to_converse(m: &Value, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let get = |k: &str| m.get(k).filter(|v| !v.is_null());
    let mut out = Map::new();
    let mut turns = Vec::new();
    for msg in get("messages").and_then(Value::as_array).into_iter().flatten() {
        let role = msg.get("role").and_then(Value::as_str).unwrap_or("user");
        let content = blocks(msg.get("content"), lenience)?;
        if !content.is_empty() {
            turns.push(super::obj(&mut [("role", Value::from(role)), ("content", Value::Array(content))]));
        }
    }
    out.insert("messages".into(), Value::Array(turns));
    let system = blocks(get("system"), lenience)?;
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut config = Map::new();
    for (from, to) in [("max_tokens", "maxTokens"), ("temperature", "temperature"), ("top_p", "topP"), ("stop_sequences", "stopSequences")] {
        if let Some(v) = get(from) {
            config.insert(to.into(), v.clone());
        }
    }
    if !config.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(config));
    }
    if let Some(tools) = get("tools").and_then(Value::as_array) {
        let specs: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut spec = Map::new();
                spec.insert("name".into(), t.get("name").cloned().unwrap_or(Value::Null));
                if let Some(d) = t.get("description") {
                    spec.insert("description".into(), d.clone());
                }
                let schema = t.get("input_schema").cloned().unwrap_or_else(|| super::obj(&mut [("type", Value::from("object"))]));
                spec.insert("inputSchema".into(), super::obj(&mut [("json", schema)]));
                super::obj(&mut [("toolSpec", Value::Object(spec))])
            })
            .collect();
        let mut tool_config = Map::new();
        tool_config.insert("tools".into(), Value::Array(specs));
        match get("tool_choice").and_then(|c| c.get("type")).and_then(Value::as_str) {
            None => {}
            Some("auto") => {
                tool_config.insert("toolChoice".into(), super::obj(&mut [("auto", super::obj(&mut []))]));
            }
            Some("any") => {
                tool_config.insert("toolChoice".into(), super::obj(&mut [("any", super::obj(&mut []))]));
            }
            Some("tool") => {
                let name = get("tool_choice").and_then(|c| c.get("name")).cloned().unwrap_or(Value::Null);
                tool_config.insert("toolChoice".into(), super::obj(&mut [("tool", super::obj(&mut [("name", name)]))]));
            }
            Some(_) => lenience.refuse(TranslateError::new("tool_choice", "Bedrock Converse has no `none` tool choice."))?,
        }
        out.insert("toolConfig".into(), Value::Object(tool_config));
    }
    for (field, param) in [("top_k", "top_k"), ("thinking", "reasoning_effort"), ("metadata", "user"), ("output_config", "response_format")] {
        if get(field).is_some() {
            lenience.refuse(TranslateError::new(param, format!("Bedrock Converse has no equivalent of `{param}`.")))?;
        }
    }
    Ok(Value::Object(out))
}

/// Converse content blocks for a Messages `content` (a string or blocks).
fn blocks(content: Option<&Value>, lenience: &mut Lenience) -> Result<Vec<Value>, TranslateError> {
    let text = |t: &str| super::obj(&mut [("text", Value::from(t))]);
    let list = match content {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(if s.is_empty() { Vec::new() } else { vec![text(s)] }),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(TranslateError::new("messages", "Message `content` must be a string or an array of parts.")),
    };
    let mut out = Vec::new();
    for b in list {
        let field = |k: &str| b.get(k).cloned().unwrap_or(Value::Null);
        match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(t) = b.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                    out.push(text(t));
                }
                if b.get("cache_control").is_some() {
                    lenience.drop_field("cache_control");
                }
            }
            Some("image") => {
                let source = b.get("source");
                let data = source.filter(|s| s.get("type").and_then(Value::as_str) == Some("base64")).and_then(|s| s.get("data"));
                let media = source.and_then(|s| s.get("media_type")).and_then(Value::as_str).unwrap_or_default();
                match data {
                    Some(d) => {
                        let format = media.strip_prefix("image/").unwrap_or("png");
                        out.push(super::obj(&mut [("image", super::obj(&mut [("format", Value::from(format)), ("source", super::obj(&mut [("bytes", d.clone())]))]))]));
                    }
                    None => lenience.refuse(TranslateError::new("messages", "Bedrock Converse takes images as inline data, not URLs."))?,
                }
            }
            Some("tool_use") => out.push(super::obj(&mut [("toolUse", super::obj(&mut [("toolUseId", field("id")), ("name", field("name")), ("input", field("input"))]))])),
            Some("tool_result") => {
                let content = blocks(b.get("content"), lenience)?.into_iter().filter(|c| c.get("text").is_some()).collect::<Vec<_>>();
                let mut result = Map::new();
                result.insert("toolUseId".into(), field("tool_use_id"));
                result.insert("content".into(), Value::Array(if content.is_empty() { vec![text(" ")] } else { content }));
                if b.get("is_error").and_then(Value::as_bool) == Some(true) {
                    result.insert("status".into(), Value::from("error"));
                }
                out.push(super::obj(&mut [("toolResult", Value::Object(result))]));
            }
            // Reasoning the client replays has no Converse form that every model takes.
            Some("thinking" | "redacted_thinking") => {}
            _ => lenience.refuse(TranslateError::new("messages", "A content part of this type has no Bedrock Converse form."))?,
        }
    }
    Ok(out)
}

/// Translates a Converse response into the hub's `chat.completion` for `model`.
pub fn converse_to_completion(resp: &Value, model: &str, created: u64) -> Result<Value, TranslateError> {
    message_to_completion(&converse_to_message(resp, model)?, model, created)
}

/// A Converse response as an Anthropic `message`.
fn converse_to_message(resp: &Value, model: &str) -> Result<Value, TranslateError> {
    let content = resp.pointer("/output/message/content").and_then(Value::as_array).ok_or_else(|| TranslateError::new("response", "The provider's response is not a Bedrock Converse response."))?;
    let blocks: Vec<Value> = content
        .iter()
        .filter_map(|c| {
            if let Some(t) = c.get("text") {
                return Some(super::obj(&mut [("type", Value::from("text")), ("text", t.clone())]));
            }
            let u = c.get("toolUse")?;
            let field = |k: &str| u.get(k).cloned().unwrap_or(Value::Null);
            Some(super::obj(&mut [("type", Value::from("tool_use")), ("id", field("toolUseId")), ("name", field("name")), ("input", field("input"))]))
        })
        .collect();
    let stop = resp.get("stopReason").and_then(Value::as_str).map(stop_reason);
    Ok(super::obj(&mut [
        ("id", Value::from("msg_bedrock")),
        ("type", Value::from("message")),
        ("role", Value::from("assistant")),
        ("model", Value::from(model)),
        ("content", Value::Array(blocks)),
        ("stop_reason", Value::from(stop)),
        ("usage", usage(resp.get("usage").unwrap_or(&Value::Null))),
    ]))
}

/// A Converse `stopReason` as Anthropic's.
pub(super) fn stop_reason(reason: &str) -> &'static str {
    match reason {
        "tool_use" => "tool_use",
        "max_tokens" => "max_tokens",
        "stop_sequence" => "stop_sequence",
        "guardrail_intervened" | "content_filtered" => "refusal",
        "model_context_window_exceeded" => "model_context_window_exceeded",
        _ => "end_turn",
    }
}

/// Converse `usage` as Anthropic's (both count cache reads and writes apart from the input).
pub(super) fn usage(u: &Value) -> Value {
    let count = |k: &str| Value::from(u.get(k).and_then(Value::as_u64).unwrap_or(0));
    super::obj(&mut [
        ("input_tokens", count("inputTokens")),
        ("output_tokens", count("outputTokens")),
        ("cache_read_input_tokens", count("cacheReadInputTokens")),
        ("cache_creation_input_tokens", count("cacheWriteInputTokens")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn chat_requests_become_converse() {
        let chat = json!({"model": "nova", "max_tokens": 100, "temperature": 0.3, "top_p": 0.9, "stop": ["END"],
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "18C"}],
            "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "required"});
        let mut l = Lenience::default();
        let got = chat_to_converse(&chat, "amazon.nova-pro-v1:0", &mut l).unwrap();
        assert_eq!(got["system"], json!([{"text": "Be brief."}]));
        assert_eq!(got["messages"][0], json!({"role": "user", "content": [{"text": "Weather in Paris?"}]}));
        assert_eq!(got["messages"][1]["content"][0]["toolUse"], json!({"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}}));
        assert_eq!(got["messages"][2]["content"][0]["toolResult"], json!({"toolUseId": "t1", "content": [{"text": "18C"}]}));
        assert_eq!(got["inferenceConfig"], json!({"maxTokens": 100, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]}));
        assert_eq!(got["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["city"]["type"], "string");
        assert_eq!(got["toolConfig"]["toolChoice"], json!({"any": {}}));
        assert!(got.get("model").is_none());
        assert!(l.dropped.is_empty(), "{:?}", l.dropped);
        let strict = chat_to_converse(&json!({"model": "m", "top_k": 3, "messages": [{"role": "user", "content": "x"}]}), "m", &mut Lenience::new(true));
        assert_eq!(strict.unwrap_err().param, "top_k");
    }

    #[test]
    fn converse_answers_become_completions() {
        let resp = json!({"output": {"message": {"role": "assistant", "content": [{"text": "Let me check."}, {"toolUse": {"toolUseId": "t9", "name": "weather", "input": {"city": "Oslo"}}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 30, "outputTokens": 12, "totalTokens": 52, "cacheReadInputTokens": 10}, "metrics": {"latencyMs": 300}});
        let c = converse_to_completion(&resp, "nova", 5).unwrap();
        assert_eq!(c["choices"][0]["message"]["content"], "Let me check.");
        assert_eq!(c["choices"][0]["message"]["tool_calls"][0]["function"], json!({"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}));
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!((c["usage"]["prompt_tokens"].as_u64(), c["usage"]["completion_tokens"].as_u64()), (Some(40), Some(12)));
        assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 10);
        assert!(converse_to_completion(&json!({"message": "boom"}), "m", 0).is_err());
    }
}
