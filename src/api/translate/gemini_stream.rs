//! Streaming Gemini `streamGenerateContent` (SSE) → OpenAI chat completion chunks.
//!
//! [`GeminiToOpenAiStream`] is fed the `data:` payload of each Gemini SSE event (a whole
//! `GenerateContentResponse`) and returns the OpenAI `data: ...\n\n` frames it produces: a role
//! chunk first, text as `delta.content`, each `functionCall` as one complete `delta.tool_calls`
//! entry (id `call_<index>`), and a finish chunk once a `finishReason` arrives. Gemini has no end
//! event, so [`GeminiToOpenAiStream::finish`] emits the usage chunk (from the last, cumulative
//! `usageMetadata`, when asked for) and `data: [DONE]`. Thought parts produce nothing.

use super::error::incomplete_stream_frame;
use super::error_body;
use super::gemini::{finish_reason, tool_call, usage};
use super::text_frame::{TextFrame, MARK};
use crate::api::openai::{data_frame, DONE_FRAME};
use crate::api::Dialect;
use crate::usage::wire::GeminiBody;
use serde_json::{json, Value};

/// Gemini SSE payloads in, OpenAI chunk frames out, for one response.
#[derive(Debug, Clone)]
pub struct GeminiToOpenAiStream {
    model: String,
    created: u64,
    include_usage: bool,
    id: String,
    /// The answer's `responseId`, which names its tool calls.
    response_id: Option<String>,
    /// The last `usageMetadata` seen (Gemini's counts are cumulative).
    usage: Option<Value>,
    /// Or, when the last event carrying it was plain text, that event's data (parsed at the end).
    usage_data: Option<String>,
    /// The frame of a text chunk, cut around its text: plain text events are written without
    /// building a document.
    text_frame: Option<TextFrame>,
    started: bool,
    tool_calls: usize,
    finished: bool,
    done: bool,
}

impl GeminiToOpenAiStream {
    /// `model` is the name to report (the one the client asked for); `created` the Unix time to
    /// report; `include_usage` the client's `stream_options.include_usage`.
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        GeminiToOpenAiStream {
            model: model.to_string(),
            created,
            include_usage,
            id: "chatcmpl-tollgate".to_string(),
            response_id: None,
            usage: None,
            usage_data: None,
            text_frame: None,
            started: false,
            tool_calls: 0,
            finished: false,
            done: false,
        }
    }

    /// Whether the final `[DONE]` frame has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Translates one event's data. Data that is not JSON is skipped; an `error` object becomes
    /// an OpenAI error frame and ends the stream.
    pub fn push(&mut self, data: &str) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        match self.text_parts(data) {
            Some(frames) => frames,
            None => self.general(data),
        }
    }

    /// An event of plain text parts only (no call, thought, finish or block), written straight
    /// from the event; `None` for any other, which takes the general path. Same bytes as
    /// [`Self::chunk`] for each text.
    fn text_parts(&mut self, data: &str) -> Option<Vec<u8>> {
        // A null `functionCall` is still a call to the general path: leave any mention to it.
        if !self.started || self.finished || data.contains("\"error\"") || data.contains("\"functionCall\"") {
            return None;
        }
        let body = serde_json::from_str::<GeminiBody<'_>>(data).ok()?;
        let candidate = body.candidates.as_ref()?.first()?;
        let parts = candidate.content.as_ref()?.parts.as_ref()?;
        if body.prompt_feedback.is_some() || candidate.finish_reason.is_some() || parts.iter().any(|p| p.thought.is_some() || p.function_call.is_some()) {
            return None;
        }
        if self.text_frame.is_none() {
            self.text_frame = TextFrame::cut(&self.chunk(super::obj(&mut [("content", Value::from(MARK))]), None));
        }
        let frame = self.text_frame.as_ref()?;
        let mut out = Vec::new();
        for text in parts.iter().filter_map(|p| p.text.as_deref()).filter(|t| !t.is_empty()) {
            out.extend(frame.with(text)?);
        }
        if body.usage_metadata.is_some() {
            self.usage = None;
            self.usage_data = Some(data.to_string());
        }
        Some(out)
    }

    /// Any event, through the parsed document.
    fn general(&mut self, data: &str) -> Vec<u8> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        if v.get("error").is_some() {
            let mut out = format!("data: {}\n\n", String::from_utf8_lossy(&error_body(data.as_bytes(), 500, Dialect::OpenAiChat))).into_bytes();
            self.include_usage = false;
            self.finished = true;
            out.extend(self.finish());
            return out;
        }
        if let Some(meta) = v.get("usageMetadata").filter(|m| m.is_object()) {
            self.usage = Some(meta.clone());
            self.usage_data = None;
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            if let Some(id) = v.get("responseId").and_then(Value::as_str) {
                self.id = id.to_string();
                self.response_id = Some(id.to_string());
            }
            out.extend(self.chunk(super::obj(&mut [("role", Value::from("assistant")), ("content", Value::from(""))]), None));
        }
        let candidate = v.get("candidates").and_then(Value::as_array).and_then(|c| c.first());
        for part in candidate.and_then(|c| c.pointer("/content/parts")).and_then(Value::as_array).into_iter().flatten() {
            if part.get("functionCall").is_some() {
                let mut entry = tool_call(part, self.tool_calls, self.response_id.as_deref());
                if let Some(map) = entry.as_object_mut() {
                    map.insert("index".into(), json!(self.tool_calls));
                }
                self.tool_calls = self.tool_calls.saturating_add(1);
                out.extend(self.chunk(super::obj(&mut [("tool_calls", Value::Array(vec![entry]))]), None));
            } else if part.get("thought").and_then(Value::as_bool) != Some(true) {
                if let Some(text) = part.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                    out.extend(self.chunk(super::obj(&mut [("content", Value::from(text))]), None));
                }
            }
        }
        let reason = candidate.and_then(|c| c.get("finishReason")).and_then(Value::as_str);
        let reason = reason.or_else(|| v.pointer("/promptFeedback/blockReason").map(|_| "SAFETY"));
        if let (Some(reason), false) = (reason, self.finished) {
            self.finished = true;
            let mapped = if self.tool_calls > 0 { "tool_calls" } else { finish_reason(reason) };
            out.extend(self.chunk(super::obj(&mut []), Some(mapped)));
        }
        out
    }

    /// Ends the stream (Gemini sends no end event): the usage chunk if the client asked for it,
    /// then the `[DONE]` frame, once.
    /// A stream without a finish reason stopped early: it ends with an error frame instead.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        if !self.finished {
            return incomplete_stream_frame(Dialect::OpenAiChat);
        }
        let mut out = Vec::new();
        if self.include_usage {
            if let Some(data) = self.usage_data.take() {
                self.usage = serde_json::from_str::<Value>(&data).ok().and_then(|mut v| v.get_mut("usageMetadata").map(Value::take));
            }
            let usage = usage(self.usage.as_ref().unwrap_or(&Value::Null));
            out = data_frame(&super::obj(&mut [("id", Value::from(self.id.as_str())), ("object", Value::from("chat.completion.chunk")), ("created", Value::from(self.created)), ("model", Value::from(self.model.as_str())), ("choices", Value::Array(vec![])), ("usage", usage)]));
        }
        out.extend_from_slice(DONE_FRAME);
        out
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Vec<u8> {
        data_frame(&super::obj(&mut [("id", Value::from(self.id.as_str())), ("object", Value::from("chat.completion.chunk")), ("created", Value::from(self.created)), ("model", Value::from(self.model.as_str())), ("choices", Value::Array(vec![super::obj(&mut [("index", Value::from(0u64)), ("delta", delta), ("logprobs", Value::Null), ("finish_reason", Value::from(finish))])]))]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::translate::stream::sse_events;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const TEXT: &str = include_str!("../../../tests/fixtures/gemini_stream.sse");

    fn run(t: &mut GeminiToOpenAiStream, payloads: &[String]) -> Vec<Value> {
        let mut out = Vec::new();
        for p in payloads {
            out.extend(t.push(p));
        }
        out.extend(t.finish());
        assert!(t.is_done() && t.finish().is_empty() && t.push("{}").is_empty());
        let frames: Vec<String> = sse_events(&String::from_utf8(out).unwrap()).into_iter().map(|(_, d)| d).collect();
        assert_eq!(frames.last().map(String::as_str), Some("[DONE]"));
        frames.iter().filter(|f| *f != "[DONE]").map(|f| serde_json::from_str(f).unwrap()).collect()
    }

    #[test]
    fn text_stream_with_usage() {
        let payloads: Vec<String> = sse_events(TEXT).into_iter().map(|(_, d)| d).collect();
        let chunks = run(&mut GeminiToOpenAiStream::new("gemini-flash", 1_750_000_000, true), &payloads);
        assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
        assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "gemini-flash" && c["id"] == "mOckGeMiNiReSpOnSe0001"));
        let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "Hello! I am the tollgate mock provider. This reply is deterministic.");
        let n = chunks.len();
        assert_eq!(chunks[n - 2]["choices"][0], json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}));
        assert_eq!(chunks[n - 1]["choices"], json!([]));
        assert_eq!(chunks[n - 1]["usage"], json!({"prompt_tokens": 27, "completion_tokens": 20, "total_tokens": 47, "prompt_tokens_details": {"cached_tokens": 10}, "completion_tokens_details": {"reasoning_tokens": 6}}));
    }

    #[test]
    fn tool_calls_without_usage() {
        let payloads = [
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "thinking", "thought": true}, {"functionCall": {"name": "f", "args": {"a": 1}}}]}}]}).to_string(),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "g", "args": {}}}]}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 1}}).to_string(),
        ];
        let chunks = run(&mut GeminiToOpenAiStream::new("m", 0, false), &payloads);
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
        let calls: Vec<&Value> = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0)).collect();
        assert_eq!(calls[0], &json!({"index": 0, "id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}));
        assert_eq!(calls[1]["id"], "call_1");
        // With a response id the calls are named after it, and a signature rides along.
        let signed = json!({"responseId": "r9", "candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}]}, "finishReason": "STOP"}]}).to_string();
        let chunks = run(&mut GeminiToOpenAiStream::new("m", 0, false), &[signed]);
        let call = chunks.iter().find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned()).unwrap();
        assert_eq!(call["id"], tool_call(&json!({"functionCall": {}}), 0, Some("r9"))["id"]);
        assert_eq!(call["extra_content"]["google"]["thought_signature"], "c2ln");
        assert_ne!(call["id"], "call_0");
        assert!(chunks.iter().all(|c| c["choices"][0]["delta"].get("content").is_none_or(|t| t == "")));
        assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn finish_reasons_errors_and_junk() {
        for (reason, want) in [("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"), ("OTHER", "stop")] {
            let p = json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}).to_string();
            let chunks = run(&mut GeminiToOpenAiStream::new("m", 0, false), &[p]);
            assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], want);
        }
        let mut t = GeminiToOpenAiStream::new("m", 0, true);
        assert!(t.push("not json").is_empty());
        let out = String::from_utf8(t.push(r#"{"error":{"code":503,"message":"Overloaded","status":"UNAVAILABLE"}}"#)).unwrap();
        let frames: Vec<String> = sse_events(&out).into_iter().map(|(_, d)| d).collect();
        let err: Value = serde_json::from_str(&frames[0]).unwrap();
        assert_eq!(err["error"]["message"], "Overloaded");
        assert_eq!(frames[1], "[DONE]");
        assert!(t.is_done());
    }

    /// Plain text events are written straight from the event: every event, and the usage at
    /// the end, give the same bytes as through the parsed document.
    #[test]
    fn text_events_match_the_general_path_byte_for_byte() {
        let part = |p: Value, extra: &str| format!(r#"{{"candidates":[{{"content":{{"parts":[{p}],"role":"model"}},"index":0{extra}}}],"usageMetadata":{{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6}},"responseId":"r1"}}"#);
        let mut payloads: Vec<String> = sse_events(TEXT).into_iter().map(|(_, d)| d).collect();
        payloads.splice(1..1, [
            part(json!({"text": "quote \" slash \\ ctl \u{1} 日本 🚀"}), ""),
            part(json!({"text": ""}), ""),
            part(json!({"text": "a thought", "thought": true}), ""),
            part(json!({"text": "not a thought", "thought": false}), ""),
            r#"{"candidates":[{"content":{"parts":[{"text":"two "},{"text":"parts"}]}}]}"#.to_string(),
            r#"{"candidates":[{"content":{"parts":[{"text":"x","functionCall":null}]}}]}"#.to_string(),
        ]);
        for include_usage in [true, false] {
            let mut general = GeminiToOpenAiStream::new("gemini \"m\"", 1_750_000_000, include_usage);
            let mut fast = general.clone();
            for p in &payloads {
                assert_eq!(String::from_utf8_lossy(&fast.push(p)), String::from_utf8_lossy(&general.general(p)), "{p}");
            }
            assert_eq!(fast.finish(), general.finish());
        }
    }
}
