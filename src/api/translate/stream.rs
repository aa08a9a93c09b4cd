//! Streaming Anthropic Messages → OpenAI chat completion chunks.
//!
//! [`AnthropicToOpenAiStream`] is fed one parsed Anthropic SSE event at a time (event name and
//! data) and returns the OpenAI `data: ...\n\n` frames it produces, ending with `data: [DONE]`.
//! Text deltas become `delta.content`; each `tool_use` block becomes one entry of
//! `delta.tool_calls` (numbered from 0 in block order) whose `input_json_delta`s stream as
//! `function.arguments`. Thinking deltas and pings produce nothing.

use super::error::incomplete_stream_frame;
use super::error_body;
use super::text_frame::{TextFrame, MARK};
use crate::api::openai::{data_frame, finish_reason_from_anthropic, usage_from_anthropic, DONE_FRAME};
use crate::api::Dialect;
use crate::usage::wire::AnthropicBody;
use serde_json::{Map, Value};

/// Anthropic SSE events in, OpenAI chunk frames out, for one response.
#[derive(Debug, Clone)]
pub struct AnthropicToOpenAiStream {
    model: String,
    created: u64,
    include_usage: bool,
    id: String,
    /// Anthropic usage seen so far (`message_start`, then `message_delta` updates).
    usage: Map<String, Value>,
    /// Anthropic content-block index of each tool call, in OpenAI `tool_calls[].index` order.
    tool_blocks: Vec<u64>,
    done: bool,
    /// The provider's stop reason arrived: ending here is a complete answer.
    stopped: bool,
    /// The frame of a text delta, cut around its text once the id is known: text deltas,
    /// nearly every event, are written without building a document.
    text_frame: Option<TextFrame>,
}


impl AnthropicToOpenAiStream {
    /// `model` is the name to report (the one the client asked for); `created` the Unix time to
    /// report; `include_usage` the client's `stream_options.include_usage`.
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        AnthropicToOpenAiStream {
            model: model.to_string(),
            created,
            include_usage,
            id: "chatcmpl-tollgate".to_string(),
            usage: Map::new(),
            tool_blocks: Vec::new(),
            done: false,
            stopped: false,
            text_frame: None,
        }
    }

    /// Whether the final `[DONE]` frame has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Translates one event. `event` may be empty, in which case the data's `type` names it.
    /// Data that is not JSON is skipped.
    pub fn push(&mut self, event: &str, data: &str) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        match self.text_delta(event, data) {
            Some(frame) => frame,
            None => self.general(event, data),
        }
    }

    /// Any event, through the parsed document.
    fn general(&mut self, event: &str, data: &str) -> Vec<u8> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        let name = if event.is_empty() { v.get("type").and_then(Value::as_str).unwrap_or_default() } else { event };
        let index = v.get("index").and_then(Value::as_u64);
        match name {
            "message_start" => {
                if let Some(id) = v.pointer("/message/id").and_then(Value::as_str) {
                    self.id = id.to_string();
                    self.text_frame = None;
                }
                self.merge_usage(v.pointer("/message/usage"));
                self.chunk(super::obj(&mut [("role", Value::from("assistant")), ("content", Value::from(""))]), None)
            }
            "content_block_start" => {
                let block = v.get("content_block");
                match block.and_then(|b| b.get("type")).and_then(Value::as_str) {
                    Some("tool_use") => {
                        let call = self.tool_blocks.len();
                        self.tool_blocks.push(index.unwrap_or_default());
                        let field = |k: &str| block.and_then(|b| b.get(k)).cloned().unwrap_or(Value::Null);
                        let function = super::obj(&mut [("name", field("name")), ("arguments", Value::from(""))]);
                        self.chunk(super::obj(&mut [("tool_calls", Value::Array(vec![super::obj(&mut [("index", Value::from(call)), ("id", field("id")), ("type", Value::from("function")), ("function", function)])]))]), None)
                    }
                    Some("text") => match block.and_then(|b| b.get("text")).and_then(Value::as_str) {
                        Some(text) if !text.is_empty() => self.chunk(super::obj(&mut [("content", Value::from(text))]), None),
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                }
            }
            "content_block_delta" => {
                let delta = v.get("delta");
                let text = |k: &str| delta.and_then(|d| d.get(k)).and_then(Value::as_str);
                match delta.and_then(|d| d.get("type")).and_then(Value::as_str) {
                    Some("text_delta") => self.chunk(super::obj(&mut [("content", Value::from(text("text").unwrap_or_default()))]), None),
                    Some("input_json_delta") => {
                        let partial = text("partial_json").unwrap_or_default();
                        match self.tool_blocks.iter().position(|b| Some(*b) == index) {
                            Some(call) if !partial.is_empty() => self.chunk(super::obj(&mut [("tool_calls", Value::Array(vec![super::obj(&mut [("index", Value::from(call)), ("function", super::obj(&mut [("arguments", Value::from(partial))]))])]))]), None),
                            _ => Vec::new(),
                        }
                    }
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                self.merge_usage(v.get("usage"));
                let reason = v.pointer("/delta/stop_reason").and_then(Value::as_str).map(finish_reason_from_anthropic);
                self.stopped |= reason.is_some();
                self.chunk(super::obj(&mut []), Some(reason.unwrap_or("stop")))
            }
            "message_stop" => {
                let mut out = Vec::new();
                if self.include_usage {
                    let usage = usage_from_anthropic(&Value::Object(self.usage.clone()));
                    out = data_frame(&super::obj(&mut [("id", Value::from(self.id.as_str())), ("object", Value::from("chat.completion.chunk")), ("created", Value::from(self.created)), ("model", Value::from(self.model.as_str())), ("choices", Value::Array(vec![])), ("usage", usage)]));
                }
                out.extend(self.complete());
                out
            }
            "error" => {
                let mut out = format!("data: {}\n\n", String::from_utf8_lossy(&error_body(data.as_bytes(), 500, Dialect::OpenAiChat))).into_bytes();
                out.extend(self.complete());
                out
            }
            _ => Vec::new(),
        }
    }

    /// Ends the stream. After the provider's `message_stop` (or its stop reason) this is the
    /// `[DONE]` frame; a stream that stopped early ends with an error frame instead, so the
    /// client never mistakes it for a complete answer. Once.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        if self.stopped {
            return self.complete();
        }
        self.done = true;
        incomplete_stream_frame(Dialect::OpenAiChat)
    }

    fn complete(&mut self) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        DONE_FRAME.to_vec()
    }

    fn merge_usage(&mut self, usage: Option<&Value>) {
        if let Some(map) = usage.and_then(Value::as_object) {
            for (k, v) in map.iter().filter(|(_, v)| v.is_u64()) {
                self.usage.insert(k.clone(), v.clone());
            }
        }
    }

    /// A text delta's frame, written straight from the event; `None` for any other event (or
    /// when the frame's template is ambiguous), which then takes the general path. The bytes
    /// are those [`Self::chunk`] would build.
    fn text_delta(&mut self, event: &str, data: &str) -> Option<Vec<u8>> {
        if !(event.is_empty() || event == "content_block_delta") || !data.contains("\"text_delta\"") {
            return None;
        }
        // The usage meter's borrowed reading of an event.
        let ev = serde_json::from_str::<AnthropicBody<'_>>(data).ok()?;
        let named = if event.is_empty() { ev.kind.as_deref() == Some("content_block_delta") } else { true };
        let delta = ev.delta.as_ref()?;
        if !named || delta.kind.as_deref() != Some("text_delta") {
            return None;
        }
        let text = delta.text.as_deref()?;
        if self.text_frame.is_none() {
            self.text_frame = TextFrame::cut(&self.chunk(super::obj(&mut [("content", Value::from(MARK))]), None));
        }
        self.text_frame.as_ref()?.with(text)
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Vec<u8> {
        data_frame(&super::obj(&mut [("id", Value::from(self.id.as_str())), ("object", Value::from("chat.completion.chunk")), ("created", Value::from(self.created)), ("model", Value::from(self.model.as_str())), ("choices", Value::Array(vec![super::obj(&mut [("index", Value::from(0u64)), ("delta", delta), ("logprobs", Value::Null), ("finish_reason", Value::from(finish))])]))]))
    }
}

/// Splits SSE text into `(event, data)` pairs (test helper for recorded streams).
#[cfg(test)]
pub(crate) fn sse_events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter_map(|frame| {
            let field = |name: &str| frame.lines().find_map(|l| l.strip_prefix(name)).map(|s| s.trim_start().to_string());
            Some((field("event:").unwrap_or_default(), field("data:")?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const TEXT: &str = include_str!("../../../tests/fixtures/anthropic_messages_stream.sse");
    const TOOL: &str = include_str!("../../../tests/fixtures/translate/anthropic_tool_stream.sse");

    /// Runs a recorded stream through the translator; returns the OpenAI data payloads.
    fn run(sse: &str, include_usage: bool) -> Vec<String> {
        let mut t = AnthropicToOpenAiStream::new("claude-sonnet", 1_750_000_000, include_usage);
        let mut out = Vec::new();
        for (event, data) in sse_events(sse) {
            out.extend(t.push(&event, &data));
        }
        assert!(t.is_done());
        assert!(t.finish().is_empty());
        sse_events(&String::from_utf8(out).unwrap()).into_iter().map(|(_, d)| d).collect()
    }

    fn chunks(frames: &[String]) -> Vec<Value> {
        frames.iter().filter(|f| *f != "[DONE]").map(|f| serde_json::from_str(f).unwrap()).collect()
    }

    #[test]
    fn text_stream_with_usage() {
        let frames = run(TEXT, true);
        assert_eq!(frames.last().map(String::as_str), Some("[DONE]"));
        let chunks = chunks(&frames);
        assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
        assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "claude-sonnet" && c["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"));
        let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "Hello! I am the tollgate mock provider. This reply is deterministic.");
        let n = chunks.len();
        assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[n - 1]["choices"], json!([]));
        assert_eq!(chunks[n - 1]["usage"], json!({"prompt_tokens": 107, "completion_tokens": 19, "total_tokens": 126, "prompt_tokens_details": {"cached_tokens": 64}}));
    }

    #[test]
    fn tool_stream_without_usage() {
        let chunks = chunks(&run(TOOL, false));
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
        let calls: Vec<&Value> = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0)).collect();
        assert_eq!(calls[0], &json!({"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function", "function": {"name": "get_weather", "arguments": ""}}));
        let args: String = calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).collect();
        assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), json!({"location": "San Francisco, CA", "unit": "fahrenheit"}));
        assert!(calls.iter().all(|c| c["index"] == 0));
        assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn error_event_ends_stream() {
        let mut t = AnthropicToOpenAiStream::new("m", 0, true);
        let out = t.push("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
        let frames: Vec<String> = sse_events(&String::from_utf8(out).unwrap()).into_iter().map(|(_, d)| d).collect();
        let err: Value = serde_json::from_str(&frames[0]).unwrap();
        assert_eq!((err["error"]["message"].as_str(), err["error"]["type"].as_str()), (Some("Overloaded"), Some("server_error")));
        assert_eq!(frames[1], "[DONE]");
        assert!(t.is_done());
        assert!(t.push("message_stop", "{}").is_empty());
    }

    #[test]
    fn event_name_from_data_and_junk() {
        let mut t = AnthropicToOpenAiStream::new("m", 0, false);
        assert!(t.push("", "not json").is_empty());
        assert!(t.push("", r#"{"type":"ping"}"#).is_empty());
        let out = String::from_utf8(t.push("", r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3}}}"#)).unwrap();
        assert!(out.starts_with("data: {") && out.ends_with("\n\n") && out.contains("msg_1"));
        let end = String::from_utf8(t.finish()).unwrap();
        assert!(end.starts_with("data: {\"error\"") && end.contains("stream_incomplete"), "a stream without message_stop ends in an error: {end}");
        assert!(t.finish().is_empty());
        let mut t = AnthropicToOpenAiStream::new("m", 0, false);
        t.push("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}"#);
        assert_eq!(t.finish(), DONE_FRAME.to_vec(), "stop reason seen: complete");
    }

    /// Text deltas are written straight from the event: the same bytes as the general path,
    /// for texts that need escaping, with the event named by the SSE field or by `type`, and
    /// with the id of the latest `message_start`.
    #[test]
    fn text_deltas_match_the_general_path_byte_for_byte() {
        let texts = ["plain", "", "quote \" and \\ backslash", "tab\tnew\nline \u{1} ctl", "é ü 日本 🚀", "</script>\u{2028}"];
        let mut t = AnthropicToOpenAiStream::new("model \"x\"", 1_750_000_000, false);
        for id in ["msg_a", "msg_\"b\""] {
            let start = json!({"type": "message_start", "message": {"id": id, "usage": {"input_tokens": 3}}});
            t.push("message_start", &start.to_string());
            for text in texts {
                let data = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}).to_string();
                let want = t.chunk(json!({"content": text}), None);
                assert_eq!(t.push("content_block_delta", &data), want, "{text:?}");
                assert_eq!(t.push("", &data), want, "{text:?}");
            }
        }
        // And so does the general path itself, event by event.
        let mut general = AnthropicToOpenAiStream::new("model \"x\"", 1_750_000_000, false);
        let mut fast = general.clone();
        for (event, data) in sse_events(TEXT) {
            assert_eq!(fast.push(&event, &data), general.general(&event, &data), "{data}");
        }
        // Not a text delta: the general path (a thinking delta yields nothing).
        let thinking = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "text_delta"}});
        assert!(t.push("content_block_delta", &thinking.to_string()).is_empty());
    }
}
