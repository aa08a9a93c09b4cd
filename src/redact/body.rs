//! Request-body walkers per dialect: they rewrite only the string leaves the model reads, so the
//! JSON stays valid and every other field (ids, roles, images, parameters) is untouched.

use super::engine::{Findings, Redactor};
use serde_json::Value;

/// The shape of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// OpenAI chat: `messages[].content` (string or text parts), tool-call arguments.
    OpenAiChat,
    /// OpenAI embeddings: `input` (string or strings).
    OpenAiEmbeddings,
    /// Anthropic Messages: `system`, content blocks, `tool_use.input`, `tool_result.content`.
    Anthropic,
    /// Gemini: `contents[].parts[].text`, `systemInstruction`, function calls and responses.
    Gemini,
}

/// A body whose shape hides text from the scanner; names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uninspectable(pub &'static str);

struct Walk<'a> {
    r: &'a Redactor,
    f: &'a mut Findings,
    changed: bool,
}

impl Walk<'_> {
    fn text(&mut self, v: &mut Value) {
        if let Value::String(s) = v {
            if let Some(out) = self.r.redact(s, self.f) {
                *s = out;
                self.changed = true;
            }
        }
    }

    /// A string, or text parts/blocks (`{"type": "text", "text": …}`); null is nothing.
    fn content(&mut self, v: &mut Value, field: &'static str) -> Result<(), Uninspectable> {
        match v {
            Value::String(_) => self.text(v),
            Value::Array(parts) => {
                for p in parts {
                    match p.get("type").and_then(Value::as_str) {
                        Some("text") => self.leaf(p, "text", field)?,
                        Some(_) => {}
                        None if p.is_string() => self.text(p),
                        None => return Err(Uninspectable(field)),
                    }
                }
            }
            Value::Null => {}
            _ => return Err(Uninspectable(field)),
        }
        Ok(())
    }

    fn leaf(&mut self, obj: &mut Value, key: &str, field: &'static str) -> Result<(), Uninspectable> {
        match obj.get_mut(key) {
            Some(v @ Value::String(_)) => self.text(v),
            None | Some(Value::Null) => {}
            Some(_) => return Err(Uninspectable(field)),
        }
        Ok(())
    }

    /// Every string inside (tool inputs and results of any shape).
    fn all(&mut self, v: &mut Value) {
        match v {
            Value::String(_) => self.text(v),
            Value::Array(a) => a.iter_mut().for_each(|x| self.all(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.all(x)),
            _ => {}
        }
    }

    fn openai_chat(&mut self, body: &mut Value) -> Result<(), Uninspectable> {
        let tools = self.r.tools;
        for m in array(body, "messages")? {
            let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
            if tools || !matches!(role, "tool" | "function") {
                if let Some(c) = m.get_mut("content") {
                    self.content(c, "messages[].content")?;
                }
            }
            if tools {
                if let Some(Value::Array(calls)) = m.get_mut("tool_calls") {
                    for c in calls {
                        if let Some(f) = c.get_mut("function") {
                            self.leaf(f, "arguments", "messages[].tool_calls[].function.arguments")?;
                        }
                    }
                }
                if let Some(f) = m.get_mut("function_call") {
                    self.leaf(f, "arguments", "messages[].function_call.arguments")?;
                }
            }
        }
        Ok(())
    }

    fn anthropic(&mut self, body: &mut Value) -> Result<(), Uninspectable> {
        if let Some(s) = body.get_mut("system") {
            self.content(s, "system")?;
        }
        for m in array(body, "messages")? {
            match m.get_mut("content") {
                Some(Value::Array(blocks)) => {
                    for b in blocks {
                        match b.get("type").and_then(Value::as_str) {
                            Some("text") => self.leaf(b, "text", "messages[].content[].text")?,
                            Some("tool_use") if self.r.tools => {
                                if let Some(i) = b.get_mut("input") {
                                    self.all(i);
                                }
                            }
                            Some("tool_result") if self.r.tools => {
                                if let Some(c) = b.get_mut("content") {
                                    self.content(c, "messages[].content[].content")?;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Some(c) => self.content(c, "messages[].content")?,
                None => {}
            }
        }
        Ok(())
    }

    fn gemini(&mut self, body: &mut Value) -> Result<(), Uninspectable> {
        let tools = self.r.tools;
        let parts_of = |c: &mut Value, w: &mut Self| -> Result<(), Uninspectable> {
            for p in array(c, "parts")? {
                w.leaf(p, "text", "contents[].parts[].text")?;
                if tools {
                    if let Some(a) = p.get_mut("functionCall").and_then(|f| f.get_mut("args")) {
                        w.all(a);
                    }
                    if let Some(r) = p.get_mut("functionResponse").and_then(|f| f.get_mut("response")) {
                        w.all(r);
                    }
                }
            }
            Ok(())
        };
        for key in ["systemInstruction", "system_instruction"] {
            if let Some(s) = body.get_mut(key) {
                parts_of(s, self)?;
            }
        }
        for c in array(body, "contents")? {
            parts_of(c, self)?;
        }
        Ok(())
    }
}

/// The array at `key`; absent or null is empty, anything else hides text.
fn array<'v>(v: &'v mut Value, key: &'static str) -> Result<std::slice::IterMut<'v, Value>, Uninspectable> {
    match v.get_mut(key) {
        Some(Value::Array(a)) => Ok(a.iter_mut()),
        None | Some(Value::Null) => Ok([].iter_mut()),
        Some(_) => Err(Uninspectable(key)),
    }
}

/// Redacts the text of `body` in place; `Ok(true)` when anything changed. A `block` match is
/// reported in `findings.blocked`.
pub fn redact_body(r: &Redactor, kind: BodyKind, body: &mut Value, findings: &mut Findings) -> Result<bool, Uninspectable> {
    let mut w = Walk { r, f: findings, changed: false };
    match kind {
        BodyKind::OpenAiChat => w.openai_chat(body)?,
        BodyKind::Anthropic => w.anthropic(body)?,
        BodyKind::Gemini => w.gemini(body)?,
        BodyKind::OpenAiEmbeddings => match body.get_mut("input") {
            Some(v @ Value::String(_)) => w.text(v),
            Some(Value::Array(a)) => a.iter_mut().for_each(|x| w.text(x)),
            _ => {}
        },
    }
    Ok(w.changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::detector::{Action, Builtin};
    use crate::redact::engine::{Detector, OnError, Rule};
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn redactor(tools: bool) -> Redactor {
        let rules = Builtin::ALL.into_iter().map(|b| Rule { detector: Detector::Builtin(b), action: Action::Pseudonymize }).collect();
        Redactor::new(rules, tools, 1 << 20, OnError::Refuse)
    }

    fn run(kind: BodyKind, mut v: Value, tools: bool) -> Value {
        redact_body(&redactor(tools), kind, &mut v, &mut Findings::default()).unwrap();
        v
    }

    const E: &str = "jane@example.com";

    #[test]
    fn openai_strings_parts_and_tools() {
        let v = json!({"model": "jane@example.com", "messages": [
            {"role": "system", "content": format!("mail {E}")},
            {"role": "user", "content": [{"type": "text", "text": E}, {"type": "image_url", "image_url": {"url": E}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": E, "type": "function", "function": {"name": "send", "arguments": format!("{{\"to\":\"{E}\"}}")}}]},
            {"role": "tool", "tool_call_id": "c", "content": E}]});
        let out = run(BodyKind::OpenAiChat, v.clone(), true);
        assert_eq!(out["model"], E, "only text the model reads");
        assert_eq!(out["messages"][0]["content"], "mail [EMAIL_1]");
        assert_eq!(out["messages"][1]["content"][0]["text"], "[EMAIL_1]");
        assert_eq!(out["messages"][1]["content"][1]["image_url"]["url"], E);
        assert_eq!(out["messages"][2]["tool_calls"][0]["function"]["arguments"], "{\"to\":\"[EMAIL_1]\"}");
        assert_eq!(out["messages"][2]["tool_calls"][0]["id"], E);
        assert_eq!(out["messages"][3]["content"], "[EMAIL_1]");
        let off = run(BodyKind::OpenAiChat, v, false);
        assert_eq!(off["messages"][3]["content"], E, "tool results not scanned when tools is off");
        assert_eq!(off["messages"][0]["content"], "mail [EMAIL_1]");
    }

    #[test]
    fn anthropic_and_gemini() {
        let v = json!({"system": [{"type": "text", "text": E}], "messages": [
            {"role": "user", "content": E},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {"to": [E]}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": E}]}]}]});
        let out = run(BodyKind::Anthropic, v, true);
        assert!(!out.to_string().contains(E), "{out}");
        let g = json!({"systemInstruction": {"parts": [{"text": E}]}, "contents": [{"role": "user", "parts": [{"text": E}, {"functionResponse": {"name": "f", "response": {"r": E}}}]}]});
        let out = run(BodyKind::Gemini, g, true);
        assert!(!out.to_string().contains(E), "{out}");
        let out = run(BodyKind::OpenAiEmbeddings, json!({"input": [E, "x"]}), true);
        assert_eq!(out["input"][0], "[EMAIL_1]");
    }

    #[test]
    fn hidden_text_is_uninspectable() {
        let mut v = json!({"messages": [{"role": "user", "content": {"text": E}}]});
        assert_eq!(redact_body(&redactor(true), BodyKind::OpenAiChat, &mut v, &mut Findings::default()), Err(Uninspectable("messages[].content")));
        let mut v = json!({"messages": "hi"});
        assert!(redact_body(&redactor(true), BodyKind::OpenAiChat, &mut v, &mut Findings::default()).is_err());
    }
}
