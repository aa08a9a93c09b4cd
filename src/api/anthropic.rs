//! Anthropic Messages wire helpers: defaults, stop reasons, usage, tool input, image sources, SSE frames.

use serde_json::{json, Value};

/// `max_tokens` sent to Anthropic when an OpenAI request sets neither `max_completion_tokens` nor
/// `max_tokens`. Anthropic requires the field while OpenAI defaults to the model's limit; 4096 is
/// accepted by every current Claude model and long enough for ordinary chat turns.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Key that keeps tool arguments that are not a JSON object, because Anthropic's `input` must be one.
/// [`crate::api::openai::arguments_string`] unwraps it again, so such arguments round-trip unchanged.
pub const RAW_ARGUMENTS_KEY: &str = "_raw_arguments";

/// Maps an OpenAI `finish_reason` to an Anthropic `stop_reason`.
pub fn stop_reason_from_openai(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Parses OpenAI tool-call `arguments` (a JSON string) into an Anthropic `input` object.
/// Empty arguments become `{}`; anything that is not a JSON object is wrapped under [`RAW_ARGUMENTS_KEY`].
pub fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => json!({ RAW_ARGUMENTS_KEY: arguments }),
    }
}

/// Anthropic `usage` from an OpenAI `usage` object: cached prompt tokens become cache reads and
/// are subtracted from `input_tokens` (Anthropic counts them apart; OpenAI includes them).
pub fn usage_from_openai(usage: &Value) -> Value {
    let count = |ptr: &str| usage.pointer(ptr).and_then(Value::as_u64).unwrap_or(0);
    let prompt = count("/prompt_tokens");
    let cached = count("/prompt_tokens_details/cached_tokens").min(prompt);
    json!({
        "input_tokens": prompt - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": count("/completion_tokens"),
    })
}

/// An Anthropic image `source` for an OpenAI image URL: `data:<type>;base64,<data>` URLs become
/// `base64` sources, anything else a `url` source.
pub fn image_source(url: &str) -> Value {
    let base64 = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .and_then(|(meta, data)| meta.strip_suffix(";base64").map(|media_type| (media_type, data)));
    match base64 {
        Some((media_type, data)) => json!({"type": "base64", "media_type": media_type, "data": data}),
        None => json!({"type": "url", "url": url}),
    }
}

/// The Anthropic `error.type` for an HTTP status.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// An Anthropic error body: `{"type":"error","error":{"type":..,"message":..}}`.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// One Anthropic SSE frame: `event: <name>\ndata: <json>\n\n`.
pub fn sse_frame(event: &str, data: &Value) -> Vec<u8> {
    format!("event: {event}\ndata: {data}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn stop_reasons() {
        assert_eq!(stop_reason_from_openai("stop"), "end_turn");
        assert_eq!(stop_reason_from_openai("length"), "max_tokens");
        assert_eq!(stop_reason_from_openai("tool_calls"), "tool_use");
        assert_eq!(stop_reason_from_openai("content_filter"), "refusal");
    }

    #[test]
    fn tool_input_tolerates_bad_json() {
        assert_eq!(tool_input(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(tool_input(" "), json!({}));
        assert_eq!(tool_input("{\"a\":"), json!({RAW_ARGUMENTS_KEY: "{\"a\":"}));
        assert_eq!(tool_input("[1]"), json!({RAW_ARGUMENTS_KEY: "[1]"}));
    }

    #[test]
    fn usage_splits_cached() {
        let u = usage_from_openai(&json!({"prompt_tokens": 42, "completion_tokens": 17, "prompt_tokens_details": {"cached_tokens": 16}}));
        assert_eq!(u, json!({"input_tokens": 26, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 16, "output_tokens": 17}));
        assert_eq!(usage_from_openai(&json!(null))["output_tokens"], 0);
    }

    #[test]
    fn image_sources() {
        assert_eq!(image_source("data:image/png;base64,AAAA"), json!({"type": "base64", "media_type": "image/png", "data": "AAAA"}));
        assert_eq!(image_source("https://x/y.png"), json!({"type": "url", "url": "https://x/y.png"}));
    }

    #[test]
    fn errors_and_frames() {
        assert_eq!(error_type_for_status(529), "overloaded_error");
        assert_eq!(error_type_for_status(500), "api_error");
        assert_eq!(error_type_for_status(422), "invalid_request_error");
        assert_eq!(sse_frame("ping", &json!({"type": "ping"})), b"event: ping\ndata: {\"type\":\"ping\"}\n\n".to_vec());
    }
}
