//! Streaming OpenAI chat completion chunks → Anthropic Messages events.
//!
//! [`OpenAiToAnthropicStream`] is fed each OpenAI `data:` payload (a chunk, or `[DONE]`) and
//! returns Anthropic `event: X\ndata: {...}\n\n` frames. It synthesises what OpenAI lacks:
//! `message_start` on the first chunk, a `content_block_start`/`content_block_stop` around each
//! run of text and each tool call, and, at `[DONE]` (or [`OpenAiToAnthropicStream::finish`]),
//! `message_delta` with the stop reason and usage followed by `message_stop`. Usage is only known
//! at the end (send the upstream request with `stream_options.include_usage`), so `message_start`
//! reports zero tokens and `message_delta` carries the full counts.

use super::error::incomplete_stream_frame;
use super::error_body;
use super::text_frame::{TextFrame, MARK};
use crate::api::anthropic::{sse_frame, stop_reason_from_openai, usage_from_openai};
use crate::api::Dialect;
use crate::usage::wire::OpenAiBody;
use serde_json::Value;

/// The content block currently open on the Anthropic side.
#[derive(Debug, Clone, PartialEq)]
enum Open {
    None,
    Text,
    /// Reasoning the provider streamed (`reasoning_content`), as a `thinking` block.
    Thinking,
    /// A tool call: its OpenAI `tool_calls[].index` and id.
    Tool(u64, String),
}

/// OpenAI chunks in, Anthropic event frames out, for one response.
#[derive(Debug, Clone)]
pub struct OpenAiToAnthropicStream {
    model: String,
    id: String,
    started: bool,
    open: Open,
    /// Index of the next Anthropic content block.
    next_block: u64,
    stop_reason: Option<&'static str>,
    usage: Option<Value>,
    done: bool,
    /// The text-delta frame of the open text block (its index and the frame cut around the
    /// text): a chunk that only continues the text is written without building a document.
    text_frame: Option<(u64, TextFrame)>,
}

impl OpenAiToAnthropicStream {
    /// `model` is the name to report (the one the client asked for).
    pub fn new(model: &str) -> Self {
        OpenAiToAnthropicStream {
            model: model.to_string(),
            id: "msg_tollgate".to_string(),
            started: false,
            open: Open::None,
            next_block: 0,
            stop_reason: None,
            usage: None,
            done: false,
            text_frame: None,
        }
    }

    /// Whether `message_stop` (or an error event) has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Translates one OpenAI `data:` payload. `[DONE]` ends the message; data that is not JSON is skipped.
    pub fn push(&mut self, data: &str) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        if data.trim() == "[DONE]" {
            return self.complete();
        }
        match self.text_delta(data) {
            Some(frame) => frame,
            None => self.general(data),
        }
    }

    /// Any chunk, through the parsed document.
    fn general(&mut self, data: &str) -> Vec<u8> {
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        if chunk.get("error").is_some() {
            self.done = true;
            let body: Value = serde_json::from_slice(&error_body(data.as_bytes(), 500, Dialect::Anthropic)).unwrap_or_default();
            return sse_frame("error", &body);
        }
        let mut out = Vec::new();
        if !self.started {
            if let Some(id) = chunk.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()) {
                self.id = id.to_string();
            }
            out.extend(self.start());
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let Some(choice) = chunk.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else {
            return out;
        };
        let delta = choice.get("delta");
        if let Some(text) = delta.and_then(|d| d.get("reasoning_content")).and_then(Value::as_str).filter(|t| !t.is_empty()) {
            if self.open != Open::Thinking {
                out.extend(self.close());
                out.extend(self.open_block(Open::Thinking, super::obj(&mut [("type", Value::from("thinking")), ("thinking", Value::from("")), ("signature", Value::from(""))])));
            }
            out.extend(self.block_delta(super::obj(&mut [("type", Value::from("thinking_delta")), ("thinking", Value::from(text))])));
        }
        for key in ["content", "refusal"] {
            if let Some(text) = delta.and_then(|d| d.get(key)).and_then(Value::as_str).filter(|t| !t.is_empty()) {
                if self.open != Open::Text {
                    out.extend(self.close());
                    out.extend(self.open_block(Open::Text, super::obj(&mut [("type", Value::from("text")), ("text", Value::from(""))])));
                }
                out.extend(self.block_delta(super::obj(&mut [("type", Value::from("text_delta")), ("text", Value::from(text))])));
            }
        }
        for call in delta.and_then(|d| d.get("tool_calls")).and_then(Value::as_array).into_iter().flatten() {
            out.extend(self.tool_call(call));
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = Some(stop_reason_from_openai(reason));
        }
        out
    }

    /// Ends the stream. After `[DONE]` or a finish reason the message is completed; a stream
    /// that stopped early ends with an `error` event instead, never a clean-looking
    /// `message_stop`. Once.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        if self.stop_reason.is_some() {
            return self.complete();
        }
        self.done = true;
        incomplete_stream_frame(Dialect::Anthropic)
    }

    /// Completes the message: closes the open block and sends `message_delta` and
    /// `message_stop`, once.
    fn complete(&mut self) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        let mut out = if self.started { Vec::new() } else { self.start() };
        out.extend(self.close());
        self.done = true;
        let usage = match &self.usage {
            Some(u) => usage_from_openai(u),
            None => super::obj(&mut [("output_tokens", Value::from(0u64))]),
        };
        let stop = self.stop_reason.unwrap_or("end_turn");
        out.extend(sse_frame("message_delta", &super::obj(&mut [("type", Value::from("message_delta")), ("delta", super::obj(&mut [("stop_reason", Value::from(stop)), ("stop_sequence", Value::Null)])), ("usage", usage)])));
        out.extend(sse_frame("message_stop", &super::obj(&mut [("type", Value::from("message_stop"))])));
        out
    }

    /// The frame of a chunk that only continues the open text block (text in its first choice;
    /// no usage, refusal, tool call or finish reason), written straight from the chunk; `None`
    /// for any other chunk, which takes the general path. Same bytes as [`Self::block_delta`].
    fn text_delta(&mut self, data: &str) -> Option<Vec<u8>> {
        if !self.started || self.open != Open::Text || data.contains("\"error\"") {
            return None;
        }
        // The usage meter's borrowed reading of a chunk.
        let chunk = serde_json::from_str::<OpenAiBody<'_>>(data).ok()?;
        let choice = chunk.choices.as_ref()?.first()?;
        let delta = choice.delta.as_ref()?;
        let plain = chunk.usage.is_none() && choice.finish_reason.is_none() && delta.refusal.is_none() && delta.tool_calls.is_none() && delta.reasoning_content.is_none();
        let text = delta.content.as_deref().filter(|t| plain && !t.is_empty())?;
        if self.text_frame.as_ref().is_none_or(|(index, _)| *index != self.next_block) {
            let frame = TextFrame::cut(&self.block_delta(super::obj(&mut [("type", Value::from("text_delta")), ("text", Value::from(MARK))])))?;
            self.text_frame = Some((self.next_block, frame));
        }
        self.text_frame.as_ref()?.1.with(text)
    }

    fn start(&mut self) -> Vec<u8> {
        self.started = true;
        let message = super::obj(&mut [("id", Value::from(self.id.as_str())), ("type", Value::from("message")), ("role", Value::from("assistant")), ("model", Value::from(self.model.as_str())), ("content", Value::Array(vec![])), ("stop_reason", Value::Null), ("stop_sequence", Value::Null), ("usage", super::obj(&mut [("input_tokens", Value::from(0u64)), ("output_tokens", Value::from(0u64))]))]);
        sse_frame("message_start", &super::obj(&mut [("type", Value::from("message_start")), ("message", message)]))
    }

    fn tool_call(&mut self, call: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        let index = call.get("index").and_then(Value::as_u64).unwrap_or_default();
        let id = call.get("id").and_then(Value::as_str).filter(|s| !s.is_empty());
        let same = matches!(&self.open, Open::Tool(i, open_id) if *i == index && id.is_none_or(|id| id == open_id));
        if !same {
            out.extend(self.close());
            let id = id.map_or_else(|| format!("toolu_{}_{index}", self.id), str::to_string);
            let name = call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default();
            let block = super::obj(&mut [("type", Value::from("tool_use")), ("id", Value::from(id.as_str())), ("name", Value::from(name)), ("input", super::obj(&mut []))]);
            out.extend(self.open_block(Open::Tool(index, id), block));
        }
        if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            out.extend(self.block_delta(super::obj(&mut [("type", Value::from("input_json_delta")), ("partial_json", Value::from(args))])));
        }
        out
    }

    fn open_block(&mut self, open: Open, block: Value) -> Vec<u8> {
        self.open = open;
        sse_frame("content_block_start", &super::obj(&mut [("type", Value::from("content_block_start")), ("index", Value::from(self.next_block)), ("content_block", block)]))
    }

    fn block_delta(&self, delta: Value) -> Vec<u8> {
        sse_frame("content_block_delta", &super::obj(&mut [("type", Value::from("content_block_delta")), ("index", Value::from(self.next_block)), ("delta", delta)]))
    }

    fn close(&mut self) -> Vec<u8> {
        if self.open == Open::None {
            return Vec::new();
        }
        self.open = Open::None;
        let frame = sse_frame("content_block_stop", &super::obj(&mut [("type", Value::from("content_block_stop")), ("index", Value::from(self.next_block))]));
        self.next_block += 1;
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::super::stream::sse_events;
    use super::super::AnthropicToOpenAiStream;
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const TEXT: &str = include_str!("../../../tests/fixtures/openai_chat_stream.sse");
    const ANTHROPIC_TOOL: &str = include_str!("../../../tests/fixtures/translate/anthropic_tool_stream.sse");

    /// Feeds OpenAI payloads; returns `(event, data)` pairs, checking each data names its event.
    fn run(payloads: &[String]) -> Vec<(String, Value)> {
        let mut t = OpenAiToAnthropicStream::new("claude-sonnet");
        let mut out = Vec::new();
        for p in payloads {
            out.extend(t.push(p));
        }
        assert!(t.is_done() && t.finish().is_empty());
        let events: Vec<(String, Value)> = sse_events(&String::from_utf8(out).unwrap()).into_iter().map(|(e, d)| (e, serde_json::from_str(&d).unwrap())).collect();
        assert!(events.iter().all(|(e, d)| d["type"] == e.as_str()));
        events
    }

    /// Rebuilds Anthropic content blocks from events, checking start/delta/stop nesting.
    fn rebuild(events: &[(String, Value)]) -> Vec<Value> {
        let mut blocks: Vec<Value> = Vec::new();
        let mut partial = String::new();
        for (e, d) in events {
            match e.as_str() {
                "content_block_start" => {
                    assert_eq!(d["index"], blocks.len());
                    blocks.push(d["content_block"].clone());
                    partial.clear();
                }
                "content_block_delta" => {
                    assert_eq!(d["index"], blocks.len() - 1);
                    let b = blocks.last_mut().unwrap();
                    match d["delta"]["type"].as_str().unwrap() {
                        "text_delta" => b["text"] = json!(format!("{}{}", b["text"].as_str().unwrap(), d["delta"]["text"].as_str().unwrap())),
                        _ => partial.push_str(d["delta"]["partial_json"].as_str().unwrap()),
                    }
                }
                "content_block_stop" => {
                    assert_eq!(d["index"], blocks.len() - 1);
                    if !partial.is_empty() {
                        blocks.last_mut().unwrap()["input"] = serde_json::from_str(&partial).unwrap();
                    }
                }
                _ => {}
            }
        }
        blocks
    }

    #[test]
    fn reasoning_streams_as_a_thinking_block() {
        let chunk = |delta: Value, finish: Value| json!({"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).to_string();
        let events = run(&[chunk(json!({"reasoning_content": "hm"}), Value::Null), chunk(json!({"content": "4"}), Value::Null), chunk(json!({}), json!("stop")), "[DONE]".into()]);
        let kinds: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(&kinds[..4], &["message_start", "content_block_start", "content_block_delta", "content_block_stop"]);
        assert_eq!(events[1].1["content_block"]["type"], "thinking");
        assert_eq!(events[2].1["delta"], json!({"type": "thinking_delta", "thinking": "hm"}));
        assert_eq!(events[4].1["content_block"]["type"], "text");
    }

    #[test]
    fn text_stream_fixture() {
        let payloads: Vec<String> = sse_events(TEXT).into_iter().map(|(_, d)| d).collect();
        let events = run(&payloads);
        let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
        let mut want = vec!["message_start", "content_block_start"];
        want.extend(["content_block_delta"; 5]);
        want.extend(["content_block_stop", "message_delta", "message_stop"]);
        assert_eq!(names, want);
        assert_eq!(events[0].1["message"]["id"], "chatcmpl-BmQk7tGz1XcJ4rNwYd2LpVe8sHfA3");
        assert_eq!(events[0].1["message"]["model"], "claude-sonnet");
        assert_eq!(rebuild(&events), vec![json!({"type": "text", "text": "Hello! I am the tollgate mock provider. This reply is deterministic."})]);
        let delta = &events[8].1;
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta["usage"], json!({"input_tokens": 26, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 16, "output_tokens": 17}));
    }

    #[test]
    fn parallel_tool_calls() {
        let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).to_string();
        let call = |i: u64, id: Option<&str>, name: Option<&str>, args: &str| {
            let mut c = json!({"index": i, "function": {"arguments": args}});
            if let (Some(id), Some(name)) = (id, name) {
                c = json!({"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": args}});
            }
            chunk(json!({"tool_calls": [c]}), Value::Null)
        };
        let payloads = vec![
            chunk(json!({"role": "assistant", "content": null}), Value::Null),
            chunk(json!({"content": "Checking."}), Value::Null),
            call(0, Some("call_a"), Some("get_weather"), ""),
            call(0, None, None, "{\"city\":"),
            call(0, None, None, "\"Paris\"}"),
            call(1, Some("call_b"), Some("get_time"), "{}"),
            chunk(json!({}), json!("tool_calls")),
            json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}).to_string(),
            "[DONE]".to_string(),
        ];
        let events = run(&payloads);
        assert_eq!(
            rebuild(&events),
            vec![
                json!({"type": "text", "text": "Checking."}),
                json!({"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}}),
                json!({"type": "tool_use", "id": "call_b", "name": "get_time", "input": {}}),
            ]
        );
        let (_, delta) = &events[events.len() - 2];
        assert_eq!((delta["delta"]["stop_reason"].as_str(), delta["usage"]["output_tokens"].as_u64()), (Some("tool_use"), Some(5)));
    }

    #[test]
    fn round_trip_through_openai() {
        let mut a2o = AnthropicToOpenAiStream::new("claude-sonnet", 0, true);
        let mut openai = Vec::new();
        for (e, d) in sse_events(ANTHROPIC_TOOL) {
            openai.extend(a2o.push(&e, &d));
        }
        let payloads: Vec<String> = sse_events(&String::from_utf8(openai).unwrap()).into_iter().map(|(_, d)| d).collect();
        let events = run(&payloads);
        assert_eq!(
            rebuild(&events),
            vec![
                json!({"type": "text", "text": "Okay, let's check the weather for San Francisco, CA:"}),
                json!({"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {"location": "San Francisco, CA", "unit": "fahrenheit"}}),
            ]
        );
        let (_, delta) = &events[events.len() - 2];
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
        assert_eq!(delta["usage"], json!({"input_tokens": 472, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 128, "output_tokens": 89}));
    }

    #[test]
    fn early_end_error_and_empty() {
        let mut t = OpenAiToAnthropicStream::new("m");
        let out = String::from_utf8(t.finish()).unwrap();
        assert!(out.starts_with("event: error\n") && out.contains("api_error"), "cut before any finish reason: {out}");
        let mut t = OpenAiToAnthropicStream::new("m");
        t.push(r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}"#);
        let out = String::from_utf8(t.finish()).unwrap();
        assert!(out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "finish reason seen, [DONE] missing: completed");
        let mut t = OpenAiToAnthropicStream::new("m");
        assert!(t.push("junk").is_empty());
        let out = String::from_utf8(t.push(r#"{"error":{"message":"boom","type":"server_error"}}"#)).unwrap();
        let events = sse_events(&out);
        assert_eq!(events[0].0, "error");
        assert_eq!(serde_json::from_str::<Value>(&events[0].1).unwrap(), json!({"type": "error", "error": {"type": "api_error", "message": "boom"}}));
        assert!(t.is_done() && t.push("[DONE]").is_empty());
    }

    /// Chunks that only continue the text are written straight from the chunk; every chunk
    /// gives the same bytes as through the parsed document, texts that need escaping included.
    #[test]
    fn text_chunks_match_the_general_path_byte_for_byte() {
        let chunk = |choice: &str, tail: &str| format!(r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{choice}]{tail}}}"#);
        let delta = |d: Value, finish: &str| chunk(&format!(r#"{{"index":0,"delta":{d},"finish_reason":{finish}}}"#), "");
        let payloads = [
            delta(json!({"role": "assistant", "content": ""}), "null"),
            delta(json!({"content": "Hel"}), "null"),
            delta(json!({"content": "quote \" slash \\ ctl \u{1} 日本 🚀"}), "null"),
            delta(json!({"content": "x", "refusal": null, "tool_calls": null}), "null"),
            delta(json!({"refusal": "no"}), "null"),
            delta(json!({"content": "after refusal"}), "null"),
            delta(json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{\"a\""}}]}), "null"),
            delta(json!({"content": "text again, a new block"}), "null"),
            chunk(r#"{"index":0,"delta":{"content":"with usage"},"finish_reason":null}"#, r#","usage":null"#),
            delta(json!({"content": "last"}), r#""stop""#),
            chunk("", r#","usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}"#),
            "[DONE]".to_string(),
        ];
        let (mut fast, mut general) = (OpenAiToAnthropicStream::new("claude"), OpenAiToAnthropicStream::new("claude"));
        for p in &payloads {
            let want = if p == "[DONE]" { general.complete() } else { general.general(p) };
            assert_eq!(String::from_utf8_lossy(&fast.push(p)), String::from_utf8_lossy(&want), "{p}");
        }
        assert!(fast.is_done() && general.is_done());
    }
}
