//! OpenAI Chat Completions wire helpers: finish reasons, usage, tool arguments, image URLs, SSE frames.

use super::anthropic::RAW_ARGUMENTS_KEY;
use serde_json::{json, Value};

/// The frame that ends an OpenAI stream.
pub const DONE_FRAME: &[u8] = b"data: [DONE]\n\n";

/// Maps an Anthropic `stop_reason` to an OpenAI `finish_reason`.
pub fn finish_reason_from_anthropic(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// OpenAI `usage` from an Anthropic `usage` object: `prompt_tokens` is input plus cache creation
/// plus cache reads, and `prompt_tokens_details.cached_tokens` is the cache reads.
pub fn usage_from_anthropic(usage: &Value) -> Value {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let cached = count("cache_read_input_tokens");
    let prompt = count("input_tokens").saturating_add(count("cache_creation_input_tokens")).saturating_add(cached);
    let completion = count("output_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
        "prompt_tokens_details": {"cached_tokens": cached},
    })
}

/// Whether an OpenAI request asked for the final usage chunk (`stream_options.include_usage`).
pub fn include_usage(request: &Value) -> bool {
    request.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false)
}

/// Serialises an Anthropic tool `input` into OpenAI `arguments`, unwrapping [`RAW_ARGUMENTS_KEY`].
pub fn arguments_string(input: &Value) -> String {
    if let Some(map) = input.as_object() {
        if let (1, Some(Value::String(raw))) = (map.len(), map.get(RAW_ARGUMENTS_KEY)) {
            return raw.clone();
        }
    }
    input.to_string()
}

/// An OpenAI image URL for an Anthropic image `source` (`base64` becomes a data URL).
pub fn image_url(source: &Value) -> Option<String> {
    let field = |k: &str| source.get(k).and_then(Value::as_str);
    match field("type")? {
        "base64" => Some(format!("data:{};base64,{}", field("media_type")?, field("data")?)),
        "url" => field("url").map(str::to_string),
        _ => None,
    }
}

/// The OpenAI `error.type` for an HTTP status.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// An OpenAI error body: `{"error":{"message","type","param","code"}}`.
pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// One OpenAI SSE frame: `data: <json>\n\n`.
pub fn data_frame(data: &Value) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::anthropic::tool_input;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn finish_reasons() {
        for (a, o) in [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("pause_turn", "stop")] {
            assert_eq!(finish_reason_from_anthropic(a), o);
        }
    }

    #[test]
    fn usage_sums_cache() {
        let u = usage_from_anthropic(&json!({"input_tokens": 31, "cache_creation_input_tokens": 12, "cache_read_input_tokens": 64, "output_tokens": 19}));
        assert_eq!(u, json!({"prompt_tokens": 107, "completion_tokens": 19, "total_tokens": 126, "prompt_tokens_details": {"cached_tokens": 64}}));
    }

    #[test]
    fn include_usage_flag() {
        assert!(include_usage(&json!({"stream_options": {"include_usage": true}})));
        assert!(!include_usage(&json!({"stream": true})));
    }

    #[test]
    fn arguments_round_trip() {
        for args in [r#"{"city":"Paris"}"#, "not json", "[1,2]"] {
            assert_eq!(arguments_string(&tool_input(args)), args);
        }
    }

    #[test]
    fn image_urls() {
        assert_eq!(image_url(&json!({"type": "base64", "media_type": "image/png", "data": "AAAA"})).as_deref(), Some("data:image/png;base64,AAAA"));
        assert_eq!(image_url(&json!({"type": "url", "url": "https://x"})).as_deref(), Some("https://x"));
        assert_eq!(image_url(&json!({"type": "file", "file_id": "f"})), None);
    }
}
