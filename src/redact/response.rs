//! Response-side restore in the client's dialect: inside every string of a JSON body, and in the
//! deltas of an SSE stream (OpenAI `choices[].delta.content` and tool-call `arguments`,
//! Anthropic `text_delta` and `input_json_delta`, Responses `response.output_text.delta` and
//! `response.function_call_arguments.delta`), where a placeholder split across events is held
//! back and completed with the next one. Responses' `….done` and `response.completed` events
//! repeat the whole text: their strings are restored whole. Tool-call arguments are JSON text, so originals
//! restored there are JSON-escaped.

use super::restore::Restorer;
use crate::sse::{SseEvent, SseFramer};
use serde_json::{json, Value};

/// Restores every string value of a JSON body (keys untouched); `None` when nothing changed or
/// the body is not JSON. Originals are JSON-escaped by the serializer; inside an OpenAI tool
/// call's `arguments` (a string holding JSON text) they are escaped once more, for that text.
pub fn restore_json(r: &Restorer, body: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    restore_value(r, &mut v).then(|| crate::api::json_bytes(&v))
}

/// [`restore_json`] on a parsed document; whether anything changed.
fn restore_value(r: &Restorer, v: &mut Value) -> bool {
    fn walk(r: &Restorer, args: &Restorer, v: &mut Value, in_arguments: bool) -> bool {
        match v {
            Value::String(s) => match (if in_arguments { args } else { r }).whole(s) {
                Some(out) => {
                    *s = out;
                    true
                }
                None => false,
            },
            Value::Array(a) => a.iter_mut().fold(false, |c, x| walk(r, args, x, false) | c),
            Value::Object(o) => o.iter_mut().fold(false, |c, (k, x)| walk(r, args, x, k == "arguments") | c),
            _ => false,
        }
    }
    walk(r, &r.json_escaped(), v, false)
}

/// The client's streaming dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamDialect {
    OpenAi,
    Anthropic,
    /// OpenAI Responses typed events.
    Responses,
}

/// Restores an SSE stream chunk by chunk. Events are re-emitted as `event:`/`data:` lines.
pub struct SseRestorer {
    dialect: StreamDialect,
    restorer: Restorer,
    /// For tool-call arguments: channel `choice << 16 | tool call` (OpenAI) or the block (Anthropic).
    args: Restorer,
    framer: SseFramer,
    events: Vec<SseEvent>,
    /// OpenAI `id`/`model`/`created` of the last chunk, for a closing chunk we may have to add.
    last: Option<Value>,
}

fn emit(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(e) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

impl SseRestorer {
    pub fn new(dialect: StreamDialect, restorer: Restorer) -> SseRestorer {
        let args = restorer.json_escaped();
        SseRestorer { dialect, restorer, args, framer: SseFramer::new(crate::usage::MAX_SSE_EVENT_BYTES), events: Vec::new(), last: None }
    }

    /// Restores one chunk; `end` closes the stream and flushes anything held back.
    pub fn chunk(&mut self, chunk: &[u8], end: bool) -> Vec<u8> {
        self.framer.feed_into(chunk, &mut self.events);
        let mut out = Vec::with_capacity(chunk.len() + 64);
        let events = std::mem::take(&mut self.events);
        for e in &events {
            match self.dialect {
                StreamDialect::OpenAi => self.openai(e, &mut out),
                StreamDialect::Anthropic => self.anthropic(e, &mut out),
                StreamDialect::Responses => self.responses(e, &mut out),
            }
        }
        self.events = events;
        self.events.clear();
        if end {
            self.framer.finish();
            self.flush_all(&mut out);
        }
        out
    }

    fn openai(&mut self, e: &SseEvent, out: &mut Vec<u8>) {
        let Ok(mut v) = serde_json::from_str::<Value>(&e.data) else {
            if e.data.trim() == "[DONE]" {
                self.flush_all(out);
            }
            return emit(out, e.event.as_deref(), &e.data);
        };
        let mut changed = false;
        if let Some(Value::Array(choices)) = v.get_mut("choices") {
            for c in choices {
                let idx = c.get("index").and_then(Value::as_u64).unwrap_or(0);
                let finished = c.get("finish_reason").is_some_and(|f| !f.is_null());
                let Some(delta) = c.get_mut("delta").and_then(Value::as_object_mut) else { continue };
                let orig = delta.get("content").and_then(Value::as_str).map(str::to_string);
                let mut text = orig.as_deref().map(|s| self.restorer.feed(idx, s)).unwrap_or_default();
                if finished {
                    text.push_str(&self.restorer.flush(idx));
                }
                if orig.as_deref() != Some(text.as_str()) && !(orig.is_none() && text.is_empty()) {
                    delta.insert("content".into(), Value::String(text));
                    changed = true;
                }
                changed |= self.openai_arguments(idx, delta, finished, out);
            }
        }
        if v.get("id").is_some() {
            self.last = Some(json!({"id": v.get("id"), "object": "chat.completion.chunk", "created": v.get("created"), "model": v.get("model")}));
        }
        if changed {
            emit(out, e.event.as_deref(), &crate::api::json_text(&v));
        } else {
            emit(out, e.event.as_deref(), &e.data);
        }
    }

    /// Restores the tool-call `arguments` pieces of one choice's delta. When the choice
    /// finishes, a held-back tail goes with its tool call's piece in this delta, or, when the
    /// delta has none, in a chunk of its own emitted before this one.
    fn openai_arguments(&mut self, idx: u64, delta: &mut serde_json::Map<String, Value>, finished: bool, out: &mut Vec<u8>) -> bool {
        let mut changed = false;
        let mut fed = Vec::new();
        if let Some(Value::Array(calls)) = delta.get_mut("tool_calls") {
            for call in calls {
                let ch = idx << 16 | call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let Some(Value::String(piece)) = call.pointer_mut("/function/arguments") else { continue };
                let mut restored = self.args.feed(ch, piece);
                if finished {
                    restored.push_str(&self.args.flush(ch));
                }
                if restored != *piece {
                    *piece = restored;
                    changed = true;
                }
                fed.push(ch);
            }
        }
        if finished {
            for ch in self.args.pending().into_iter().filter(|ch| ch >> 16 == idx && !fed.contains(ch)) {
                self.emit_arguments_tail(ch, out);
            }
        }
        changed
    }

    fn emit_arguments_tail(&mut self, ch: u64, out: &mut Vec<u8>) {
        let tail = self.args.flush(ch);
        match self.dialect {
            StreamDialect::OpenAi => {
                let mut v = self.last.clone().unwrap_or_else(|| json!({"object": "chat.completion.chunk"}));
                let call = json!({"index": ch & 0xffff, "function": {"arguments": tail}});
                v["choices"] = json!([{"index": ch >> 16, "delta": {"tool_calls": [call]}, "finish_reason": null}]);
                emit(out, None, &crate::api::json_text(&v));
            }
            StreamDialect::Anthropic | StreamDialect::Responses => {
                let v = json!({"type": "content_block_delta", "index": ch, "delta": {"type": "input_json_delta", "partial_json": tail}});
                emit(out, Some("content_block_delta"), &crate::api::json_text(&v));
            }
        }
    }

    fn anthropic(&mut self, e: &SseEvent, out: &mut Vec<u8>) {
        let kind = e.event.as_deref().unwrap_or_default();
        let parsed = serde_json::from_str::<Value>(&e.data).ok();
        let idx = parsed.as_ref().and_then(|v| v.get("index")).and_then(Value::as_u64).unwrap_or(0);
        match (kind, parsed) {
            ("content_block_delta", Some(mut v)) => {
                // Text, or a tool call's input as JSON text (restored JSON-escaped).
                let (field, restorer) = match v.pointer("/delta/type").and_then(Value::as_str) {
                    Some("text_delta") => ("text", &mut self.restorer),
                    Some("input_json_delta") => ("partial_json", &mut self.args),
                    _ => return emit(out, e.event.as_deref(), &e.data),
                };
                let piece = v.get("delta").and_then(|d| d.get(field)).and_then(Value::as_str).unwrap_or_default().to_string();
                let restored = restorer.feed(idx, &piece);
                if restored == piece {
                    return emit(out, e.event.as_deref(), &e.data);
                }
                if let Some(d) = v.get_mut("delta").and_then(Value::as_object_mut) {
                    d.insert(field.into(), Value::String(restored));
                }
                emit(out, e.event.as_deref(), &crate::api::json_text(&v));
            }
            ("content_block_stop", _) => {
                self.flush_anthropic(idx, out);
                emit(out, e.event.as_deref(), &e.data);
            }
            ("message_stop", _) => {
                self.flush_all(out);
                emit(out, e.event.as_deref(), &e.data);
            }
            _ => emit(out, e.event.as_deref(), &e.data),
        }
    }

    /// Responses: deltas restored per output item; a `….done` or closing event first flushes
    /// what its item held back, then has its (whole) strings restored.
    fn responses(&mut self, e: &SseEvent, out: &mut Vec<u8>) {
        let Ok(mut v) = serde_json::from_str::<Value>(&e.data) else { return emit(out, e.event.as_deref(), &e.data) };
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
        let idx = v.get("output_index").and_then(Value::as_u64).unwrap_or(0);
        let (field, restorer) = match kind.as_str() {
            "response.output_text.delta" => ("delta", &mut self.restorer),
            "response.function_call_arguments.delta" => ("delta", &mut self.args),
            _ => {
                if kind.ends_with(".done") || matches!(kind.as_str(), "response.completed" | "response.incomplete" | "response.failed") {
                    if kind.ends_with(".done") {
                        self.flush_responses(Some(idx), out);
                    } else {
                        self.flush_all(out);
                    }
                    if restore_value(&self.restorer, &mut v) {
                        return emit(out, e.event.as_deref(), &crate::api::json_text(&v));
                    }
                }
                return emit(out, e.event.as_deref(), &e.data);
            }
        };
        let piece = v.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
        let restored = restorer.feed(idx, &piece);
        self.last = Some(v.clone());
        if restored == piece {
            return emit(out, e.event.as_deref(), &e.data);
        }
        if let Some(map) = v.as_object_mut() {
            map.insert(field.into(), Value::String(restored));
        }
        emit(out, e.event.as_deref(), &crate::api::json_text(&v));
    }

    /// Emits the held-back tail of one output item (or of all) as its own delta event.
    fn flush_responses(&mut self, only: Option<u64>, out: &mut Vec<u8>) {
        for (args, kind) in [(true, "response.function_call_arguments.delta"), (false, "response.output_text.delta")] {
            let pending = if args { self.args.pending() } else { self.restorer.pending() };
            for idx in pending.into_iter().filter(|i| only.is_none_or(|o| o == *i)) {
                let tail = if args { self.args.flush(idx) } else { self.restorer.flush(idx) };
                if tail.is_empty() {
                    continue;
                }
                let mut v = self.last.clone().unwrap_or_else(|| json!({}));
                v["type"] = json!(kind);
                v["output_index"] = json!(idx);
                v["delta"] = json!(tail);
                emit(out, Some(kind), &crate::api::json_text(&v));
            }
        }
    }

    fn flush_anthropic(&mut self, idx: u64, out: &mut Vec<u8>) {
        if self.args.pending().contains(&idx) {
            self.emit_arguments_tail(idx, out);
        }
        let tail = self.restorer.flush(idx);
        if !tail.is_empty() {
            let v = json!({"type": "content_block_delta", "index": idx, "delta": {"type": "text_delta", "text": tail}});
            emit(out, Some("content_block_delta"), &crate::api::json_text(&v));
        }
    }

    /// Emits every held-back tail as a delta of its own.
    fn flush_all(&mut self, out: &mut Vec<u8>) {
        if self.dialect == StreamDialect::Responses {
            return self.flush_responses(None, out);
        }
        for ch in self.args.pending() {
            self.emit_arguments_tail(ch, out);
        }
        for idx in self.restorer.pending() {
            match self.dialect {
                StreamDialect::Anthropic | StreamDialect::Responses => self.flush_anthropic(idx, out),
                StreamDialect::OpenAi => {
                    let tail = self.restorer.flush(idx);
                    let mut v = self.last.clone().unwrap_or_else(|| json!({"object": "chat.completion.chunk"}));
                    v["choices"] = json!([{"index": idx, "delta": {"content": tail}, "finish_reason": null}]);
                    emit(out, None, &crate::api::json_text(&v));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn restorer() -> Restorer {
        Restorer::new(vec![("[EMAIL_1]".into(), "jane\"q\"@example.com".into())]).unwrap()
    }

    #[test]
    fn json_bodies_are_restored_and_escaped() {
        let body = br#"{"choices":[{"message":{"content":"Write to [EMAIL_1]."}}],"[EMAIL_1]":1}"#;
        let out: Value = serde_json::from_slice(&restore_json(&restorer(), body).unwrap()).unwrap();
        assert_eq!(out["choices"][0]["message"]["content"], "Write to jane\"q\"@example.com.");
        assert!(out.get("[EMAIL_1]").is_some(), "keys untouched");
        assert_eq!(restore_json(&restorer(), br#"{"a":"none"}"#), None);
        let call = br#"{"choices":[{"message":{"tool_calls":[{"function":{"name":"send","arguments":"{\"to\":\"[EMAIL_1]\"}"}}]}}]}"#;
        let out: Value = serde_json::from_slice(&restore_json(&restorer(), call).unwrap()).unwrap();
        let args: Value = serde_json::from_str(out.pointer("/choices/0/message/tool_calls/0/function/arguments").and_then(Value::as_str).unwrap()).unwrap();
        assert_eq!(args, json!({"to": "jane\"q\"@example.com"}), "arguments stay valid JSON");
    }

    /// Concatenates the strings at `openai` or `anthropic` (JSON pointers) of an SSE body's events.
    fn collect(dialect: StreamDialect, sse: &[u8], openai: &str, anthropic: &str) -> String {
        let mut f = SseFramer::new(1 << 20);
        let mut text = String::new();
        for e in f.feed(sse) {
            let Ok(v) = serde_json::from_str::<Value>(&e.data) else { continue };
            let piece = match dialect {
                StreamDialect::OpenAi => v.pointer(openai),
                StreamDialect::Anthropic => v.pointer(anthropic),
                StreamDialect::Responses => v.pointer("/delta").filter(|_| v["type"] == "response.output_text.delta"),
            };
            text.push_str(piece.and_then(Value::as_str).unwrap_or_default());
        }
        text
    }

    /// The text deltas of an SSE body.
    fn text_of(dialect: StreamDialect, sse: &[u8]) -> String {
        collect(dialect, sse, "/choices/0/delta/content", "/delta/text")
    }

    /// The tool-call arguments of an SSE body (OpenAI choice 0, call 0; Anthropic `partial_json`).
    fn arguments_of(dialect: StreamDialect, sse: &[u8]) -> String {
        collect(dialect, sse, "/choices/0/delta/tool_calls/0/function/arguments", "/delta/partial_json")
    }

    fn openai_stream(text: &str, step: usize) -> Vec<u8> {
        let mut s = String::new();
        let b = text.as_bytes();
        for piece in b.chunks(step) {
            let v = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": std::str::from_utf8(piece).unwrap()}, "finish_reason": null}]});
            s.push_str(&format!("data: {v}\n\n"));
        }
        s.push_str("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
        s.into_bytes()
    }

    #[test]
    fn openai_deltas_split_at_every_byte() {
        let text = "Reply to [EMAIL_1] today, [EMAIL_1";
        let want = "Reply to jane\"q\"@example.com today, [EMAIL_1";
        for step in 1..6 {
            let sse = openai_stream(text, step);
            // And the network splits the SSE bytes anywhere too.
            for cut in (0..sse.len()).step_by(7) {
                let mut r = SseRestorer::new(StreamDialect::OpenAi, restorer());
                let mut out = r.chunk(&sse[..cut], false);
                out.extend(r.chunk(&sse[cut..], true));
                assert_eq!(text_of(StreamDialect::OpenAi, &out), want, "step {step} cut {cut}");
                assert!(String::from_utf8_lossy(&out).ends_with("data: [DONE]\n\n"));
            }
        }
    }

    #[test]
    fn anthropic_deltas_and_block_stop_flush() {
        let mut sse = String::from("event: message_start\ndata: {\"type\":\"message_start\"}\n\n");
        for piece in ["Hi [EM", "AIL_", "1] and [EMA"] {
            let v = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}});
            sse.push_str(&format!("event: content_block_delta\ndata: {v}\n\n"));
        }
        sse.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
        let mut r = SseRestorer::new(StreamDialect::Anthropic, restorer());
        let mut out = Vec::new();
        for b in sse.as_bytes() {
            out.extend(r.chunk(std::slice::from_ref(b), false));
        }
        out.extend(r.chunk(b"", true));
        assert_eq!(text_of(StreamDialect::Anthropic, &out), "Hi jane\"q\"@example.com and [EMA");
        let s = String::from_utf8(out).unwrap();
        assert!(s.find("[EMA\"").unwrap() < s.find("content_block_stop").unwrap(), "tail flushed before the stop");
    }

    #[test]
    fn openai_tool_call_arguments_split_at_every_byte_are_restored_escaped() {
        let args = r#"{"to":"[EMAIL_1]","cc":"[EMAIL_1"#;
        let want: Value = json!({"to": "jane\"q\"@example.com"});
        for step in 1..8 {
            let mut sse = String::new();
            for piece in args.as_bytes().chunks(step) {
                let call = json!({"index": 0, "function": {"arguments": std::str::from_utf8(piece).unwrap()}});
                let v = json!({"id": "c1", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": null}]});
                sse.push_str(&format!("data: {v}\n\n"));
            }
            // The finishing chunk carries no arguments: the held-back tail comes in a chunk before it.
            sse.push_str("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n");
            let mut r = SseRestorer::new(StreamDialect::OpenAi, restorer());
            let out = r.chunk(sse.as_bytes(), true);
            let got = arguments_of(StreamDialect::OpenAi, &out);
            assert_eq!(got, r#"{"to":"jane\"q\"@example.com","cc":"[EMAIL_1"#, "step {step}");
            let closed: Value = serde_json::from_str(&format!("{}}}", got.trim_end_matches(r#","cc":"[EMAIL_1"#))).unwrap();
            assert_eq!(closed, want);
            let s = String::from_utf8(out).unwrap();
            assert!(s.find("[EMAIL_1\"").unwrap() < s.find("tool_calls\"}").unwrap(), "tail before the finish");
        }
    }

    #[test]
    fn anthropic_input_json_deltas_are_restored_escaped() {
        let mut sse = String::new();
        for piece in [r#"{"to":"[EM"#, "AIL_", r#"1]"}"#] {
            let v = json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": piece}});
            sse.push_str(&format!("event: content_block_delta\ndata: {v}\n\n"));
        }
        sse.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n");
        let mut r = SseRestorer::new(StreamDialect::Anthropic, restorer());
        let mut out = Vec::new();
        for b in sse.as_bytes() {
            out.extend(r.chunk(std::slice::from_ref(b), false));
        }
        out.extend(r.chunk(b"", true));
        let input: Value = serde_json::from_str(&arguments_of(StreamDialect::Anthropic, &out)).unwrap();
        assert_eq!(input, json!({"to": "jane\"q\"@example.com"}));
    }

    #[test]
    fn responses_deltas_and_done_events_are_restored() {
        let ev = |kind: &str, extra: &str| format!("event: {kind}\ndata: {{\"type\":\"{kind}\",\"output_index\":0{extra}}}\n\n");
        let sse = [
            ev("response.output_text.delta", r#","delta":"Mail [EMA""#),
            ev("response.output_text.delta", r#","delta":"IL_1] now""#),
            ev("response.output_text.done", r#","text":"Mail [EMAIL_1] now""#),
            ev("response.completed", r#","response":{"output":[{"content":[{"text":"Mail [EMAIL_1] now"}]}]}"#),
        ]
        .concat();
        for step in [1, 7, sse.len()] {
            let mut r = SseRestorer::new(StreamDialect::Responses, restorer());
            let mut out = Vec::new();
            for c in sse.as_bytes().chunks(step) {
                out.extend(r.chunk(c, false));
            }
            out.extend(r.chunk(b"", true));
            assert_eq!(text_of(StreamDialect::Responses, &out), "Mail jane\"q\"@example.com now", "step {step}");
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains("[EMAIL_1]") && text.contains("response.completed"), "{text}");
        }
    }
}
