//! The chat hub's answer (an OpenAI `chat.completion`) → an OpenAI Responses `response` object,
//! and the pieces the stream translator shares: the response envelope, output items and usage.
//!
//! The first choice becomes the output: its `reasoning_content` (when a provider returned
//! reasoning) a `reasoning` item with a summary, its text a `message` item with one
//! `output_text` part, each tool call a `function_call` item. `finish_reason` `length` makes the
//! response `incomplete` (`max_output_tokens`), `content_filter` too (`content_filter`).

use super::TranslateError;
use serde_json::Value;

/// What the envelope of a response says beyond its output.
pub(super) struct Envelope<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub created: u64,
    /// `in_progress`, `completed`, `incomplete` or `failed`.
    pub status: &'a str,
    /// `incomplete_details.reason`, for an incomplete response.
    pub incomplete: Option<&'a str>,
    /// The `error` object of a failed response.
    pub error: Value,
}

/// A Responses `response` object.
pub(super) fn response_object(e: &Envelope<'_>, output: Vec<Value>, usage: Value) -> Value {
    let incomplete = e.incomplete.map_or(Value::Null, |r| super::obj(&mut [("reason", Value::from(r))]));
    super::obj(&mut [
        ("id", Value::from(e.id)),
        ("object", Value::from("response")),
        ("created_at", Value::from(e.created)),
        ("status", Value::from(e.status)),
        ("background", Value::Bool(false)),
        ("error", e.error.clone()),
        ("incomplete_details", incomplete),
        ("instructions", Value::Null),
        ("max_output_tokens", Value::Null),
        ("metadata", super::obj(&mut [])),
        ("model", Value::from(e.model)),
        ("output", Value::Array(output)),
        ("parallel_tool_calls", Value::Bool(true)),
        ("previous_response_id", Value::Null),
        ("reasoning", super::obj(&mut [("effort", Value::Null), ("summary", Value::Null)])),
        ("store", Value::Bool(false)),
        ("temperature", Value::Null),
        ("text", super::obj(&mut [("format", super::obj(&mut [("type", Value::from("text"))]))])),
        ("tool_choice", Value::from("auto")),
        ("tools", Value::Array(Vec::new())),
        ("top_p", Value::Null),
        ("truncation", Value::from("disabled")),
        ("usage", usage),
        ("user", Value::Null),
    ])
}

/// Responses `usage` from chat `usage` (`Null` stays `Null`).
pub(super) fn usage_from_chat(usage: &Value) -> Value {
    if !usage.is_object() {
        return Value::Null;
    }
    let count = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let detail = |d: &str, k: &str| usage.get(d).and_then(|v| v.get(k)).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (count("prompt_tokens"), count("completion_tokens"));
    super::obj(&mut [
        ("input_tokens", Value::from(input)),
        ("input_tokens_details", super::obj(&mut [("cached_tokens", Value::from(detail("prompt_tokens_details", "cached_tokens")))])),
        ("output_tokens", Value::from(output)),
        ("output_tokens_details", super::obj(&mut [("reasoning_tokens", Value::from(detail("completion_tokens_details", "reasoning_tokens")))])),
        ("total_tokens", Value::from(input.saturating_add(output))),
    ])
}

/// A completed `message` output item holding `text`.
pub(super) fn message_item(id: &str, text: &str, status: &str) -> Value {
    let part = super::obj(&mut [("type", Value::from("output_text")), ("text", Value::from(text)), ("annotations", Value::Array(Vec::new())), ("logprobs", Value::Array(Vec::new()))]);
    let content = if status == "in_progress" { Vec::new() } else { vec![part] };
    super::obj(&mut [("id", Value::from(id)), ("type", Value::from("message")), ("status", Value::from(status)), ("role", Value::from("assistant")), ("content", Value::Array(content))])
}

/// A `function_call` output item.
pub(super) fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    super::obj(&mut [
        ("id", Value::from(id)),
        ("type", Value::from("function_call")),
        ("status", Value::from(status)),
        ("call_id", Value::from(call_id)),
        ("name", Value::from(name)),
        ("arguments", Value::from(arguments)),
    ])
}

/// A `reasoning` output item whose summary is `text` (none while in progress).
pub(super) fn reasoning_item(id: &str, text: Option<&str>) -> Value {
    let summary = text.map(|t| vec![super::obj(&mut [("type", Value::from("summary_text")), ("text", Value::from(t))])]).unwrap_or_default();
    super::obj(&mut [("id", Value::from(id)), ("type", Value::from("reasoning")), ("summary", Value::Array(summary))])
}

/// The response status and `incomplete_details.reason` for a chat `finish_reason`.
pub(super) fn status_for(finish_reason: Option<&str>) -> (&'static str, Option<&'static str>) {
    match finish_reason {
        Some("length") => ("incomplete", Some("max_output_tokens")),
        Some("content_filter") => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// Translates a chat completion (its first choice) into a Responses `response` for `model`.
pub fn completion_to_response(resp: &Value, model: &str, created: u64) -> Result<Value, TranslateError> {
    let shape = |m: &str| TranslateError::new("response", m);
    let choice = resp.get("choices").and_then(Value::as_array).and_then(|c| c.first()).ok_or_else(|| shape("The provider's response has no choices."))?;
    let message = choice.get("message").ok_or_else(|| shape("The provider's choice has no message."))?;
    let base = resp.get("id").and_then(Value::as_str).unwrap_or("tollgate");
    let mut output = Vec::new();
    if let Some(r) = message.get("reasoning_content").and_then(Value::as_str).filter(|r| !r.is_empty()) {
        output.push(reasoning_item(&format!("rs_{base}"), Some(r)));
    }
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    };
    if !text.is_empty() {
        output.push(message_item(&format!("msg_{base}"), &text, "completed"));
    }
    for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let f = |k: &str| call.pointer(k).and_then(Value::as_str).unwrap_or_default();
        output.push(call_item(&format!("fc_{}", f("/id")), f("/id"), f("/function/name"), f("/function/arguments"), "completed"));
    }
    let (status, incomplete) = status_for(choice.get("finish_reason").and_then(Value::as_str));
    let envelope = Envelope { id: &format!("resp_{base}"), model, created, status, incomplete, error: Value::Null };
    Ok(response_object(&envelope, output, usage_from_chat(resp.get("usage").unwrap_or(&Value::Null))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn text_calls_and_usage() {
        let chat = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": "Let me look.", "reasoning_content": "think",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2}}});
        let r = completion_to_response(&chat, "claude", 7).unwrap();
        assert_eq!((r["object"].as_str(), r["status"].as_str(), r["model"].as_str(), r["created_at"].as_u64()), (Some("response"), Some("completed"), Some("claude"), Some(7)));
        assert_eq!(r["output"][0]["summary"][0]["text"], "think");
        assert_eq!(r["output"][1]["content"][0]["text"], "Let me look.");
        assert_eq!(r["output"][2], json!({"id": "fc_call_1", "type": "function_call", "status": "completed", "call_id": "call_1", "name": "f", "arguments": "{\"a\":1}"}));
        assert_eq!(r["usage"], json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 15}));
    }

    #[test]
    fn length_is_incomplete_and_bad_shapes_fail() {
        let chat = json!({"choices": [{"finish_reason": "length", "message": {"content": "abc"}}]});
        let r = completion_to_response(&chat, "m", 0).unwrap();
        assert_eq!((r["status"].as_str(), r["incomplete_details"]["reason"].as_str()), (Some("incomplete"), Some("max_output_tokens")));
        assert!(r["usage"].is_null());
        assert_eq!(completion_to_response(&json!({"choices": []}), "m", 0).unwrap_err().param, "response");
    }
}
