//! The form an answer is kept in: the hub's chat completion (see `api::translate::hub`).
//! [`Assembler`] builds it from a stream of hub chunks; [`synthesize`] turns it back into one.
//! Translation to and from the client's dialect is the hub's own.

use crate::api::openai::{data_frame, DONE_FRAME};
use crate::sse::SseFramer;
use serde_json::{Map, Value};

/// Builds the chat completion a stream of hub chunks amounts to. Only a complete stream yields
/// one: one choice, a finish reason, the provider's usage chunk and `[DONE]`, within `limit`
/// bytes of content.
pub struct Assembler {
    framer: SseFramer,
    limit: usize,
    size: usize,
    head: Map<String, Value>,
    content: Option<String>,
    tool_calls: Vec<Value>,
    finish_reason: Option<Value>,
    usage: Option<Value>,
    done: bool,
    /// Something this form cannot hold (several choices, an error event, too large).
    spoilt: bool,
}

impl Assembler {
    pub fn new(limit: usize) -> Assembler {
        Assembler {
            framer: SseFramer::new(crate::usage::MAX_SSE_EVENT_BYTES),
            limit,
            size: 0,
            head: Map::new(),
            content: None,
            tool_calls: Vec::new(),
            finish_reason: None,
            usage: None,
            done: false,
            spoilt: false,
        }
    }

    /// Feeds hub chunk bytes (`data: {...}` frames, split anywhere).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.spoilt {
            return;
        }
        self.size += bytes.len();
        if self.size > self.limit.saturating_mul(4) {
            self.spoilt = true;
            return;
        }
        for e in self.framer.feed(bytes) {
            self.event(e.event.as_deref(), &e.data);
        }
    }

    fn event(&mut self, name: Option<&str>, data: &str) {
        if self.done || name.is_some_and(|n| n == "error") {
            self.spoilt = true;
            return;
        }
        if data.trim() == "[DONE]" {
            self.done = true;
            return;
        }
        let Ok(Value::Object(chunk)) = serde_json::from_str::<Value>(data) else {
            self.spoilt = true;
            return;
        };
        if chunk.contains_key("error") {
            self.spoilt = true;
            return;
        }
        for k in ["id", "created", "model", "system_fingerprint"] {
            if let (false, Some(v)) = (self.head.contains_key(k), chunk.get(k)) {
                self.head.insert(k.to_string(), v.clone());
            }
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        for c in chunk.get("choices").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            if c.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                self.spoilt = true;
                return;
            }
            self.choice(c);
        }
    }

    fn choice(&mut self, c: &Value) {
        let delta = c.get("delta");
        if let Some(t) = delta.and_then(|d| d.get("content")).and_then(Value::as_str) {
            self.content.get_or_insert_with(String::new).push_str(t);
        }
        for call in delta.and_then(|d| d.get("tool_calls")).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let i = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            if i > self.tool_calls.len() {
                self.spoilt = true;
                return;
            }
            if i == self.tool_calls.len() {
                let id = call.get("id").cloned().unwrap_or(Value::Null);
                let name = call.get("function").and_then(|f| f.get("name")).cloned().unwrap_or(Value::Null);
                self.tool_calls.push(serde_json::json!({"id": id, "type": "function", "function": {"name": name, "arguments": ""}}));
            }
            let piece = call.get("function").and_then(|f| f.get("arguments")).and_then(Value::as_str).unwrap_or_default();
            if let Some(Value::String(args)) = self.tool_calls.get_mut(i).and_then(|t| t.pointer_mut("/function/arguments")) {
                args.push_str(piece);
            }
        }
        if let Some(r) = c.get("finish_reason").filter(|r| !r.is_null()) {
            self.finish_reason = Some(r.clone());
        }
    }

    /// The completion's JSON bytes, when the stream was complete.
    pub fn finish(self) -> Option<Vec<u8>> {
        if self.spoilt || !self.done {
            return None;
        }
        let (finish_reason, usage) = (self.finish_reason?, self.usage?);
        let mut message = Map::new();
        message.insert("role".into(), Value::from("assistant"));
        message.insert("content".into(), self.content.map_or(Value::Null, Value::from));
        if !self.tool_calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(self.tool_calls));
        }
        let mut out = self.head;
        out.insert("object".into(), Value::from("chat.completion"));
        out.insert("choices".into(), serde_json::json!([{"index": 0, "message": message, "finish_reason": finish_reason}]));
        out.insert("usage".into(), usage);
        let bytes = crate::api::json_bytes(&Value::Object(out));
        (bytes.len() <= self.limit).then_some(bytes)
    }
}

/// The hub chunks of a stored completion: the role and content, the tool calls, the finish
/// reason, the usage chunk when `include_usage`, then `[DONE]`. `None`: not a one-choice completion.
pub fn synthesize(completion: &Value, include_usage: bool) -> Option<Vec<u8>> {
    let choice = completion.get("choices")?.as_array()?.first()?;
    let message = choice.get("message")?;
    let head = |choices: Value| {
        let mut m = Map::new();
        for k in ["id", "created", "model", "system_fingerprint"] {
            if let Some(v) = completion.get(k) {
                m.insert(k.to_string(), v.clone());
            }
        }
        m.insert("object".into(), Value::from("chat.completion.chunk"));
        m.insert("choices".into(), choices);
        Value::Object(m)
    };
    let mut out = Vec::new();
    let content = message.get("content").cloned().unwrap_or(Value::Null);
    out.extend(data_frame(&head(serde_json::json!([{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": null}]))));
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                if let Some(m) = c.as_object_mut() {
                    m.insert("index".into(), Value::from(i));
                }
                c
            })
            .collect();
        out.extend(data_frame(&head(serde_json::json!([{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": null}]))));
    }
    let reason = choice.get("finish_reason").cloned().unwrap_or(Value::from("stop"));
    out.extend(data_frame(&head(serde_json::json!([{"index": 0, "delta": {}, "finish_reason": reason}]))));
    if include_usage {
        let mut usage = head(serde_json::json!([]));
        if let (Some(m), Some(u)) = (usage.as_object_mut(), completion.get("usage")) {
            m.insert("usage".into(), u.clone());
        }
        out.extend(data_frame(&usage));
    }
    out.extend_from_slice(DONE_FRAME);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const STREAM: &str = include_str!("../../tests/fixtures/openai_chat_stream.sse");

    fn assemble(bytes: &[u8], step: usize) -> Option<Vec<u8>> {
        let mut a = Assembler::new(1 << 20);
        for c in bytes.chunks(step) {
            a.feed(c);
        }
        a.finish()
    }

    #[test]
    fn a_stream_assembles_and_replays_at_any_split() {
        let whole = assemble(STREAM.as_bytes(), STREAM.len()).expect("complete");
        for step in [1, 7, 64] {
            assert_eq!(assemble(STREAM.as_bytes(), step).as_deref(), Some(whole.as_slice()));
        }
        let v: Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert!(v["usage"]["total_tokens"].as_u64().is_some(), "{v}");
        let again = synthesize(&v, true).unwrap();
        assert_eq!(assemble(&again, 5).as_deref(), Some(whole.as_slice()), "synthesized chunks assemble to the same answer");
        let text = String::from_utf8(synthesize(&v, false).unwrap()).unwrap();
        assert!(text.ends_with("data: [DONE]\n\n") && !text.contains("\"usage\""), "{text}");
    }

    #[test]
    fn incomplete_streams_yield_nothing() {
        let cut = &STREAM[..STREAM.len() - 20];
        assert!(assemble(cut.as_bytes(), 9).is_none(), "no [DONE]");
        let no_usage: String = STREAM.split("\n\n").filter(|f| !f.contains("\"usage\":{")).map(|f| format!("{f}\n\n")).collect();
        assert!(assemble(no_usage.as_bytes(), 9).is_none(), "no usage");
        let err = format!("event: error\ndata: {{\"error\":{{}}}}\n\n{STREAM}");
        assert!(assemble(err.as_bytes(), 9).is_none());
        let mut small = Assembler::new(10);
        small.feed(STREAM.as_bytes());
        assert!(small.finish().is_none(), "over the entry limit");
    }

    #[test]
    fn tool_calls_assemble() {
        let s = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"t1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\n",
            "data: [DONE]\n\n"
        );
        let v: Value = serde_json::from_slice(&assemble(s.as_bytes(), 11).unwrap()).unwrap();
        assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        let replay = synthesize(&v, false).unwrap();
        let back: Value = serde_json::from_slice(&assemble(&[replay.as_slice(), b""].concat(), 3).map_or(Vec::new(), |b| b)).unwrap_or(Value::Null);
        assert!(back.is_null(), "without the usage chunk it is not a complete stream");
    }
}
