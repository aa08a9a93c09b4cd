//! Streaming chat hub chunks → OpenAI Responses typed SSE events.
//!
//! [`ChatToResponsesStream`] is fed each chat `data:` payload (a chunk, an error, or `[DONE]`)
//! and returns `event: response.X\ndata: {...}\n\n` frames, numbered by `sequence_number`:
//! `response.created` and `response.in_progress` first; per output item
//! `response.output_item.added`, its deltas (`response.output_text.delta`,
//! `response.function_call_arguments.delta`, `response.reasoning_summary_text.delta`) and its
//! `….done` events; then `response.completed` (or `response.incomplete` when the provider stopped
//! at its token limit) with the whole response and its usage. A stream that ends without a
//! finish reason, or with an error chunk, ends in `response.failed`: never a clean-looking end.

use super::responses_response::{call_item, message_item, reasoning_item, response_object, status_for, usage_from_chat, Envelope};
use serde_json::Value;

/// A function call being streamed: its chat `tool_calls[].index`, output index and parts.
#[derive(Debug, Clone)]
struct Call {
    index: u64,
    output_index: u64,
    call_id: String,
    name: String,
    arguments: String,
}

/// What is open: the text message, the reasoning summary, or calls (by output index).
#[derive(Debug, Clone)]
enum Open {
    Text(u64, String),
    Reasoning(u64, String),
}

/// Chat chunks in, Responses events out, for one response.
#[derive(Debug, Clone)]
pub struct ChatToResponsesStream {
    model: String,
    created: u64,
    id: String,
    seq: u64,
    started: bool,
    open: Option<Open>,
    calls: Vec<Call>,
    /// Completed output items, for the final response.
    output: Vec<(u64, Value)>,
    next_output: u64,
    finish_reason: Option<String>,
    usage: Value,
    done: bool,
}

/// An SSE frame for a Responses event of `kind` with `fields`, numbered `seq`.
fn frame(kind: &str, seq: u64, fields: &mut [(&str, Value)]) -> Vec<u8> {
    let mut pairs = vec![("type", Value::from(kind)), ("sequence_number", Value::from(seq))];
    pairs.extend(fields.iter_mut().map(|(k, v)| (*k, v.take())));
    let body = crate::api::json_text(&super::obj(&mut pairs));
    let mut out = Vec::with_capacity(body.len() + kind.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

/// The frame that ends a Responses stream in failure (also the early-end frame for a
/// pass-through Responses stream).
pub fn failed_frame(code: &str, message: &str) -> Vec<u8> {
    let error = super::obj(&mut [("code", Value::from(code)), ("message", Value::from(message))]);
    let envelope = Envelope { id: "resp_tollgate", model: "", created: 0, status: "failed", incomplete: None, error };
    frame("response.failed", 0, &mut [("response", response_object(&envelope, Vec::new(), Value::Null))])
}

impl ChatToResponsesStream {
    /// `model` is the name to report (the one the client asked for); `created` Unix seconds.
    pub fn new(model: &str, created: u64) -> Self {
        ChatToResponsesStream {
            model: model.to_string(),
            created,
            id: "resp_tollgate".to_string(),
            seq: 0,
            started: false,
            open: None,
            calls: Vec::new(),
            output: Vec::new(),
            next_output: 0,
            finish_reason: None,
            usage: Value::Null,
            done: false,
        }
    }

    /// Whether the closing event has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn event(&mut self, kind: &str, fields: &mut [(&str, Value)]) -> Vec<u8> {
        let f = frame(kind, self.seq, fields);
        self.seq += 1;
        f
    }

    fn response(&self, status: &str, incomplete: Option<&str>, error: Value) -> Value {
        let envelope = Envelope { id: &self.id, model: &self.model, created: self.created, status, incomplete, error };
        let mut items = self.output.clone();
        items.sort_by_key(|(i, _)| *i);
        response_object(&envelope, items.into_iter().map(|(_, v)| v).collect(), self.usage.clone())
    }

    /// Translates one chat `data:` payload. `[DONE]` ends the response; data that is not JSON is skipped.
    pub fn push(&mut self, data: &str) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        if data.trim() == "[DONE]" {
            return self.complete();
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else { return Vec::new() };
        let mut out = self.start(&chunk);
        if let Some(err) = chunk.get("error") {
            let message = err.get("message").and_then(Value::as_str).unwrap_or("The provider reported an error.");
            let code = err.get("code").and_then(Value::as_str).unwrap_or("server_error");
            out.extend(self.fail(code, message));
            return out;
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = usage_from_chat(u);
        }
        let Some(choice) = chunk.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else { return out };
        if let Some(delta) = choice.get("delta") {
            if let Some(r) = delta.get("reasoning_content").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                out.extend(self.reasoning_delta(r));
            }
            if let Some(t) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                out.extend(self.text_delta(t));
            }
            for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                out.extend(self.call_delta(call));
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        out
    }

    /// The stream ended: completes the response if the provider finished, else fails it.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        let mut out = self.start(&Value::Null);
        out.extend(self.complete());
        out
    }

    fn start(&mut self, chunk: &Value) -> Vec<u8> {
        if self.started {
            return Vec::new();
        }
        self.started = true;
        if let Some(id) = chunk.get("id").and_then(Value::as_str) {
            self.id = format!("resp_{id}");
        }
        let mut out = self.event("response.created", &mut [("response", self.response("in_progress", None, Value::Null))]);
        out.extend(self.event("response.in_progress", &mut [("response", self.response("in_progress", None, Value::Null))]));
        out
    }

    fn item_id(&self, prefix: &str, output_index: u64) -> String {
        format!("{prefix}_{}_{output_index}", self.id.trim_start_matches("resp_"))
    }

    fn text_delta(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let idx = match &mut self.open {
            Some(Open::Text(idx, so_far)) => {
                so_far.push_str(text);
                *idx
            }
            _ => {
                out.extend(self.close_open());
                let idx = self.next_output;
                self.next_output += 1;
                let id = self.item_id("msg", idx);
                out.extend(self.event("response.output_item.added", &mut [("output_index", Value::from(idx)), ("item", message_item(&id, "", "in_progress"))]));
                let part = super::obj(&mut [("type", Value::from("output_text")), ("text", Value::from("")), ("annotations", Value::Array(Vec::new()))]);
                out.extend(self.event("response.content_part.added", &mut [("item_id", Value::from(id)), ("output_index", Value::from(idx)), ("content_index", Value::from(0u64)), ("part", part)]));
                self.open = Some(Open::Text(idx, text.to_string()));
                idx
            }
        };
        let id = self.item_id("msg", idx);
        out.extend(self.event(
            "response.output_text.delta",
            &mut [("item_id", Value::from(id)), ("output_index", Value::from(idx)), ("content_index", Value::from(0u64)), ("delta", Value::from(text)), ("logprobs", Value::Array(Vec::new()))],
        ));
        out
    }

    fn reasoning_delta(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let idx = match &mut self.open {
            Some(Open::Reasoning(idx, so_far)) => {
                so_far.push_str(text);
                *idx
            }
            _ => {
                out.extend(self.close_open());
                let idx = self.next_output;
                self.next_output += 1;
                let id = self.item_id("rs", idx);
                out.extend(self.event("response.output_item.added", &mut [("output_index", Value::from(idx)), ("item", reasoning_item(&id, None))]));
                let part = super::obj(&mut [("type", Value::from("summary_text")), ("text", Value::from(""))]);
                out.extend(self.event("response.reasoning_summary_part.added", &mut [("item_id", Value::from(id)), ("output_index", Value::from(idx)), ("summary_index", Value::from(0u64)), ("part", part)]));
                self.open = Some(Open::Reasoning(idx, text.to_string()));
                idx
            }
        };
        let id = self.item_id("rs", idx);
        out.extend(self.event("response.reasoning_summary_text.delta", &mut [("item_id", Value::from(id)), ("output_index", Value::from(idx)), ("summary_index", Value::from(0u64)), ("delta", Value::from(text))]));
        out
    }

    fn call_delta(&mut self, call: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let args = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        let pos = match self.calls.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                out.extend(self.close_open());
                let output_index = self.next_output;
                self.next_output += 1;
                let call_id = call.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                let name = call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_string();
                let id = format!("fc_{call_id}");
                out.extend(self.event("response.output_item.added", &mut [("output_index", Value::from(output_index)), ("item", call_item(&id, &call_id, &name, "", "in_progress"))]));
                self.calls.push(Call { index, output_index, call_id, name, arguments: String::new() });
                self.calls.len() - 1
            }
        };
        if args.is_empty() {
            return out;
        }
        let Some(c) = self.calls.get_mut(pos) else { return out };
        c.arguments.push_str(args);
        let (id, output_index) = (format!("fc_{}", c.call_id), c.output_index);
        out.extend(self.event("response.function_call_arguments.delta", &mut [("item_id", Value::from(id)), ("output_index", Value::from(output_index)), ("delta", Value::from(args))]));
        out
    }

    /// Closes the open text or reasoning item.
    fn close_open(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.open.take() {
            None => {}
            Some(Open::Text(idx, text)) => {
                let id = self.item_id("msg", idx);
                out.extend(self.event(
                    "response.output_text.done",
                    &mut [("item_id", Value::from(id.as_str())), ("output_index", Value::from(idx)), ("content_index", Value::from(0u64)), ("text", Value::from(text.as_str())), ("logprobs", Value::Array(Vec::new()))],
                ));
                let part = super::obj(&mut [("type", Value::from("output_text")), ("text", Value::from(text.as_str())), ("annotations", Value::Array(Vec::new()))]);
                out.extend(self.event("response.content_part.done", &mut [("item_id", Value::from(id.as_str())), ("output_index", Value::from(idx)), ("content_index", Value::from(0u64)), ("part", part)]));
                let item = message_item(&id, &text, "completed");
                out.extend(self.event("response.output_item.done", &mut [("output_index", Value::from(idx)), ("item", item.clone())]));
                self.output.push((idx, item));
            }
            Some(Open::Reasoning(idx, text)) => {
                let id = self.item_id("rs", idx);
                out.extend(self.event("response.reasoning_summary_text.done", &mut [("item_id", Value::from(id.as_str())), ("output_index", Value::from(idx)), ("summary_index", Value::from(0u64)), ("text", Value::from(text.as_str()))]));
                let part = super::obj(&mut [("type", Value::from("summary_text")), ("text", Value::from(text.as_str()))]);
                out.extend(self.event("response.reasoning_summary_part.done", &mut [("item_id", Value::from(id.as_str())), ("output_index", Value::from(idx)), ("summary_index", Value::from(0u64)), ("part", part)]));
                let item = reasoning_item(&id, Some(&text));
                out.extend(self.event("response.output_item.done", &mut [("output_index", Value::from(idx)), ("item", item.clone())]));
                self.output.push((idx, item));
            }
        }
        out
    }

    /// Closes every item, then ends the response (`failed` when the provider never finished).
    fn complete(&mut self) -> Vec<u8> {
        let mut out = self.close_open();
        for c in std::mem::take(&mut self.calls) {
            let id = format!("fc_{}", c.call_id);
            out.extend(self.event(
                "response.function_call_arguments.done",
                &mut [("item_id", Value::from(id.as_str())), ("output_index", Value::from(c.output_index)), ("name", Value::from(c.name.as_str())), ("arguments", Value::from(c.arguments.as_str()))],
            ));
            let item = call_item(&id, &c.call_id, &c.name, &c.arguments, "completed");
            out.extend(self.event("response.output_item.done", &mut [("output_index", Value::from(c.output_index)), ("item", item.clone())]));
            self.output.push((c.output_index, item));
        }
        let Some(reason) = self.finish_reason.clone() else {
            out.extend(self.fail("stream_incomplete", "The provider's stream ended before the answer was complete."));
            return out;
        };
        self.done = true;
        let (status, incomplete) = status_for(Some(&reason));
        let kind = if status == "incomplete" { "response.incomplete" } else { "response.completed" };
        let response = self.response(status, incomplete, Value::Null);
        out.extend(self.event(kind, &mut [("response", response)]));
        out
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<u8> {
        self.done = true;
        let error = super::obj(&mut [("code", Value::from(code)), ("message", Value::from(message))]);
        let response = self.response("failed", None, error);
        self.event("response.failed", &mut [("response", response)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OPENAI_SSE: &str = include_str!("../../../tests/fixtures/openai_chat_stream.sse");

    fn events(out: &[u8]) -> Vec<Value> {
        String::from_utf8_lossy(out).split("\n\n").filter_map(|f| f.split("data: ").nth(1)).map(|d| serde_json::from_str(d).unwrap()).collect()
    }

    fn run(input: &str) -> Vec<Value> {
        let mut s = ChatToResponsesStream::new("m", 1);
        let mut out = Vec::new();
        for f in input.split("\n\n") {
            if let Some(d) = f.trim().strip_prefix("data: ") {
                out.extend(s.push(d));
            }
        }
        out.extend(s.finish());
        events(&out)
    }

    #[test]
    fn text_stream_ends_completed_with_usage() {
        let ev = run(OPENAI_SSE);
        let kinds: Vec<&str> = ev.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(&kinds[..4], &["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
        assert!(kinds.contains(&"response.output_text.delta"));
        assert_eq!(kinds.last(), Some(&"response.completed"));
        let last = ev.last().unwrap();
        assert!(last["response"]["usage"]["output_tokens"].as_u64().unwrap() > 0, "{last}");
        let text: String = ev.iter().filter(|e| e["type"] == "response.output_text.delta").filter_map(|e| e["delta"].as_str()).collect();
        assert_eq!(last["response"]["output"][0]["content"][0]["text"].as_str(), Some(text.as_str()));
        let seqs: Vec<u64> = ev.iter().filter_map(|e| e["sequence_number"].as_u64()).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    }

    #[test]
    fn tool_calls_and_cut_streams() {
        let chunks = [
            r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
            "[DONE]",
        ];
        let mut s = ChatToResponsesStream::new("m", 1);
        let out: Vec<u8> = chunks.iter().flat_map(|c| s.push(c)).collect();
        let ev = events(&out);
        let done = ev.iter().find(|e| e["type"] == "response.function_call_arguments.done").unwrap();
        assert_eq!(done["arguments"], "{\"a\":1}");
        let last = ev.last().unwrap();
        assert_eq!((last["type"].as_str(), last["response"]["output"][0]["call_id"].as_str()), (Some("response.completed"), Some("call_1")));
        assert_eq!(last["response"]["usage"]["total_tokens"], 7);
        assert!(s.finish().is_empty() && s.is_done());
        // Cut before a finish reason: failed, not completed.
        let mut s = ChatToResponsesStream::new("m", 1);
        let mut out = s.push(chunks[0]);
        out.extend(s.finish());
        assert_eq!(events(&out).last().unwrap()["type"], "response.failed");
        // An error chunk fails the response.
        let mut s = ChatToResponsesStream::new("m", 1);
        let ev = events(&s.push(r#"{"error":{"message":"boom","type":"server_error"}}"#));
        assert_eq!((ev.last().unwrap()["type"].as_str(), ev.last().unwrap()["response"]["error"]["message"].as_str()), (Some("response.failed"), Some("boom")));
        assert_eq!(events(&failed_frame("x", "y"))[0]["response"]["status"], "failed");
    }
}
