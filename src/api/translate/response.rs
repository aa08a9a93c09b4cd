//! Non-streaming responses: Anthropic message → OpenAI chat completion, and back.
//!
//! Ids are kept as the provider sent them (useful for tracing); `model` is the name the client
//! asked for. Anthropic `thinking` and server-tool blocks have no OpenAI place and are dropped;
//! OpenAI reports no matched stop sequence, so `stop_sequence` is always null.

use super::TranslateError;
use crate::api::anthropic::{stop_reason_from_openai, tool_input, usage_from_openai};
use crate::api::openai::{arguments_string, finish_reason_from_anthropic, usage_from_anthropic};
use serde_json::{json, Value};

fn shape(message: &str) -> TranslateError {
    TranslateError::new("response", message)
}

/// Translates an Anthropic `message` into an OpenAI `chat.completion` for `model`.
/// `created` is the Unix time to report (the provider gives none).
pub fn message_to_completion(resp: &Value, model: &str, created: u64) -> Result<Value, TranslateError> {
    if resp.get("type").and_then(Value::as_str) != Some("message") {
        return Err(shape("The provider's response is not an Anthropic message."));
    }
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in resp.get("content").and_then(Value::as_array).into_iter().flatten() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => {
                let args = arguments_string(block.get("input").unwrap_or(&super::obj(&mut [])));
                calls.push(super::obj(&mut [("id", Value::from(block.get("id").cloned())), ("type", Value::from("function")), ("function", super::obj(&mut [("name", Value::from(block.get("name").cloned())), ("arguments", Value::from(args))]))]));
            }
            _ => {}
        }
    }
    let content = if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) };
    let mut message = super::obj(&mut [("role", Value::from("assistant")), ("content", content), ("refusal", Value::Null)]);
    if let (false, Some(map)) = (calls.is_empty(), message.as_object_mut()) {
        map.insert("tool_calls".into(), Value::Array(calls));
    }
    let finish = resp.get("stop_reason").and_then(Value::as_str).map(finish_reason_from_anthropic);
    Ok(super::obj(&mut [("id", Value::from(resp.get("id").and_then(Value::as_str).unwrap_or("chatcmpl-tollgate"))), ("object", Value::from("chat.completion")), ("created", Value::from(created)), ("model", Value::from(model)), ("choices", Value::Array(vec![super::obj(&mut [("index", Value::from(0u64)), ("message", message), ("logprobs", Value::Null), ("finish_reason", Value::from(finish))])])), ("usage", usage_from_anthropic(resp.get("usage").unwrap_or(&Value::Null)))]))
}

/// Translates an OpenAI `chat.completion` (its first choice) into an Anthropic `message` for `model`.
pub fn completion_to_message(resp: &Value, model: &str) -> Result<Value, TranslateError> {
    let choice = resp
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| shape("The provider's response has no choices."))?;
    let message = choice.get("message").ok_or_else(|| shape("The provider's choice has no message."))?;
    let mut blocks = Vec::new();
    // Reasoning a provider returned (`reasoning_content`) leads, as a `thinking` block.
    if let Some(r) = message.get("reasoning_content").and_then(Value::as_str).filter(|r| !r.is_empty()) {
        blocks.push(super::obj(&mut [("type", Value::from("thinking")), ("thinking", Value::from(r)), ("signature", Value::from(""))]));
    }
    let mut push_text = |t: &str| {
        if !t.is_empty() {
            blocks.push(super::obj(&mut [("type", Value::from("text")), ("text", Value::from(t))]));
        }
    };
    match message.get("content") {
        Some(Value::String(s)) => push_text(s),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).for_each(&mut push_text),
        _ => {}
    }
    if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
        push_text(refusal);
    }
    for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let args = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        blocks.push(super::obj(&mut [("type", Value::from("tool_use")), ("id", Value::from(call.get("id").cloned())), ("name", Value::from(call.pointer("/function/name").cloned())), ("input", tool_input(args))]));
    }
    let stop = choice.get("finish_reason").and_then(Value::as_str).map(stop_reason_from_openai);
    Ok(super::obj(&mut [("id", Value::from(resp.get("id").and_then(Value::as_str).unwrap_or("msg_tollgate"))), ("type", Value::from("message")), ("role", Value::from("assistant")), ("model", Value::from(model)), ("content", Value::from(blocks)), ("stop_reason", Value::from(stop)), ("stop_sequence", Value::Null), ("usage", usage_from_openai(resp.get("usage").unwrap_or(&Value::Null)))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const ANTHROPIC: &str = include_str!("../../../tests/fixtures/translate/anthropic_tool_response.json");
    const OPENAI: &str = include_str!("../../../tests/fixtures/translate/openai_tool_response.json");
    const ANTHROPIC_TEXT: &str = include_str!("../../../tests/fixtures/anthropic_messages.json");
    const OPENAI_TEXT: &str = include_str!("../../../tests/fixtures/openai_chat.json");

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn anthropic_tool_response_fixture() {
        let got = message_to_completion(&parse(ANTHROPIC), "claude-sonnet", 1_750_000_000).unwrap();
        assert_eq!(got, parse(OPENAI));
    }

    #[test]
    fn reasoning_comes_back_as_thinking() {
        let chat = json!({"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "4", "reasoning_content": "2+2"}}]});
        let m = completion_to_message(&chat, "m").unwrap();
        assert_eq!(m["content"], json!([{"type": "thinking", "thinking": "2+2", "signature": ""}, {"type": "text", "text": "4"}]));
    }

    #[test]
    fn openai_tool_response_back() {
        let got = completion_to_message(&parse(OPENAI), "claude-sonnet").unwrap();
        let want = parse(ANTHROPIC);
        assert_eq!(got["content"], want["content"]);
        assert_eq!(got["stop_reason"], "tool_use");
        assert_eq!(got["id"], want["id"]);
        // 600 prompt tokens of which 128 cached: Anthropic counts the cached ones apart.
        assert_eq!(got["usage"], json!({"input_tokens": 472, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 128, "output_tokens": 89}));
    }

    #[test]
    fn text_fixtures() {
        let got = message_to_completion(&parse(ANTHROPIC_TEXT), "claude", 7).unwrap();
        assert_eq!(got["choices"][0]["message"], json!({"role": "assistant", "content": "Hello! I am the tollgate mock provider. This reply is deterministic.", "refusal": null}));
        assert_eq!(got["choices"][0]["finish_reason"], "stop");
        assert_eq!(got["usage"]["prompt_tokens"], 107);
        assert_eq!(got["usage"]["prompt_tokens_details"]["cached_tokens"], 64);
        let got = completion_to_message(&parse(OPENAI_TEXT), "gpt").unwrap();
        assert_eq!(got["content"], json!([{"type": "text", "text": "Hello! I am the tollgate mock provider. This reply is deterministic."}]));
        assert_eq!((got["stop_reason"].as_str(), got["model"].as_str()), (Some("end_turn"), Some("gpt")));
        assert_eq!(got["usage"]["input_tokens"], 26);
    }

    #[test]
    fn odd_shapes() {
        assert_eq!(message_to_completion(&json!({"error": {}}), "m", 0).unwrap_err().param, "response");
        assert_eq!(completion_to_message(&json!({"choices": []}), "m").unwrap_err().param, "response");
        let m = json!({"type": "message", "content": [{"type": "thinking", "thinking": "x"}], "stop_reason": "max_tokens"});
        let got = message_to_completion(&m, "m", 0).unwrap();
        assert_eq!((got["choices"][0]["message"]["content"].as_str(), got["choices"][0]["finish_reason"].as_str()), (Some(""), Some("length")));
        let c = json!({"choices": [{"message": {"content": null, "refusal": "I can't."}, "finish_reason": "content_filter"}]});
        let got = completion_to_message(&c, "m").unwrap();
        assert_eq!((got["content"][0]["text"].as_str(), got["stop_reason"].as_str()), (Some("I can't."), Some("refusal")));
    }
}
