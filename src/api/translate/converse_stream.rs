//! Streaming Bedrock ConverseStream → the hub's chat chunks. The events (as SSE, from
//! `eventstream::to_sse`) are rewritten as Anthropic's and fed to [`AnthropicToOpenAiStream`]:
//!
//! - `messageStart` → `message_start`;
//! - `contentBlockStart` with a `toolUse` → `content_block_start` of a `tool_use` block;
//! - `contentBlockDelta`: `text` → `text_delta`, `toolUse.input` → `input_json_delta`,
//!   `reasoningContent.text` → `thinking_delta`;
//! - `contentBlockStop` → `content_block_stop`;
//! - `messageStop` (its `stopReason`) and the `metadata` event after it (its `usage`) →
//!   one `message_delta` and `message_stop` (at the end of the stream if `metadata` never came);
//! - `error` (an exception) passes as Anthropic's `error`.

use super::converse::{stop_reason, usage};
use super::AnthropicToOpenAiStream;
use serde_json::Value;

/// ConverseStream events in, chat chunk frames out, for one response.
#[derive(Debug, Clone)]
pub struct ConverseToOpenAiStream {
    inner: AnthropicToOpenAiStream,
    model: String,
    /// The `messageStop` reason, held until the usage (`metadata`) arrives.
    stop: Option<&'static str>,
}

impl ConverseToOpenAiStream {
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        ConverseToOpenAiStream { inner: AnthropicToOpenAiStream::new(model, created, include_usage), model: model.to_string(), stop: None }
    }

    /// Translates one event (`event`: the Converse event type).
    pub fn push(&mut self, event: &str, data: &str) -> Vec<u8> {
        let Ok(v) = serde_json::from_str::<Value>(data) else { return Vec::new() };
        let index = v.get("contentBlockIndex").cloned().unwrap_or(Value::from(0));
        let anthropic = |name: &str, mut pairs: Vec<(&str, Value)>| {
            pairs.push(("type", Value::from(name)));
            (name.to_string(), super::obj(&mut pairs))
        };
        let (name, body) = match event {
            "messageStart" => {
                let message = super::obj(&mut [("id", Value::from("msg_bedrock")), ("type", Value::from("message")), ("role", Value::from("assistant")), ("model", Value::from(self.model.as_str())), ("content", Value::Array(Vec::new())), ("usage", usage(&Value::Null))]);
                anthropic("message_start", vec![("message", message)])
            }
            "contentBlockStart" => {
                let Some(tool) = v.pointer("/start/toolUse") else { return Vec::new() };
                let field = |k: &str| tool.get(k).cloned().unwrap_or(Value::Null);
                let block = super::obj(&mut [("type", Value::from("tool_use")), ("id", field("toolUseId")), ("name", field("name")), ("input", super::obj(&mut []))]);
                anthropic("content_block_start", vec![("index", index), ("content_block", block)])
            }
            "contentBlockDelta" => {
                let d = v.get("delta");
                let delta = if let Some(t) = d.and_then(|d| d.get("text")) {
                    super::obj(&mut [("type", Value::from("text_delta")), ("text", t.clone())])
                } else if let Some(input) = d.and_then(|d| d.pointer("/toolUse/input")) {
                    super::obj(&mut [("type", Value::from("input_json_delta")), ("partial_json", input.clone())])
                } else if let Some(t) = d.and_then(|d| d.pointer("/reasoningContent/text")) {
                    super::obj(&mut [("type", Value::from("thinking_delta")), ("thinking", t.clone())])
                } else {
                    return Vec::new();
                };
                anthropic("content_block_delta", vec![("index", index), ("delta", delta)])
            }
            "contentBlockStop" => anthropic("content_block_stop", vec![("index", index)]),
            "messageStop" => {
                self.stop = Some(stop_reason(v.get("stopReason").and_then(Value::as_str).unwrap_or("end_turn")));
                return Vec::new();
            }
            "metadata" => return self.close(v.get("usage").unwrap_or(&Value::Null)),
            "error" => ("error".to_string(), v),
            _ => return Vec::new(),
        };
        self.inner.push(&name, &String::from_utf8_lossy(&crate::api::json_bytes(&body)))
    }

    /// The stop and its usage: `message_delta` then `message_stop`.
    fn close(&mut self, u: &Value) -> Vec<u8> {
        let reason = self.stop.take().unwrap_or("end_turn");
        let delta = super::obj(&mut [("type", Value::from("message_delta")), ("delta", super::obj(&mut [("stop_reason", Value::from(reason))])), ("usage", usage(u))]);
        let mut out = self.inner.push("message_delta", &String::from_utf8_lossy(&crate::api::json_bytes(&delta)));
        out.extend(self.inner.push("message_stop", r#"{"type":"message_stop"}"#));
        out
    }

    /// Ends the stream: a `messageStop` without its `metadata` still closes cleanly; a stream
    /// cut before it ends with the client's error frame.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = if self.stop.is_some() { self.close(&Value::Null) } else { Vec::new() };
        out.extend(self.inner.finish());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_converse_stream_becomes_chunks_with_usage() {
        let mut s = ConverseToOpenAiStream::new("nova", 1, true);
        let mut out = Vec::new();
        for (e, d) in [
            ("messageStart", r#"{"role":"assistant"}"#),
            ("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"Hel"}}"#),
            ("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"lo"}}"#),
            ("contentBlockStop", r#"{"contentBlockIndex":0}"#),
            ("contentBlockStart", r#"{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t1","name":"f"}}}"#),
            ("contentBlockDelta", r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"a\":1}"}}}"#),
            ("messageStop", r#"{"stopReason":"tool_use"}"#),
            ("metadata", r#"{"usage":{"inputTokens":7,"outputTokens":3,"totalTokens":10},"metrics":{"latencyMs":5}}"#),
        ] {
            out.extend(s.push(e, d));
        }
        out.extend(s.finish());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#""content":"Hel""#) && text.contains(r#""content":"lo""#), "{text}");
        assert!(text.contains(r#""arguments":"{\"a\":1}""#), "{text}");
        assert!(text.contains(r#""finish_reason":"tool_calls""#), "{text}");
        assert!(text.contains(r#""prompt_tokens":7"#) && text.contains(r#""completion_tokens":3"#), "{text}");
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    }

    #[test]
    fn a_cut_stream_and_an_exception_end_in_errors() {
        let mut s = ConverseToOpenAiStream::new("nova", 1, false);
        s.push("messageStart", "{}");
        let text = String::from_utf8(s.finish()).unwrap();
        assert!(text.contains("error"), "{text}");
        let mut s = ConverseToOpenAiStream::new("nova", 1, false);
        let text = String::from_utf8(s.push("error", r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#)).unwrap();
        assert!(text.contains("slow down"), "{text}");
    }
}
