//! Request-body walkers per dialect: they rewrite only the string leaves the model reads, so the
//! JSON stays valid and every other field (ids, roles, images, parameters) is untouched.

use super::engine::{Findings, Redactor};
use super::node::{Node, Shape};

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
    /// OpenAI Responses: `instructions`, `input` (a string, or items: message parts, function
    /// call arguments and outputs).
    OpenAiResponses,
    /// OpenAI legacy completions: `prompt` (string or strings).
    OpenAiCompletions,
}

/// A body whose shape hides text from the scanner; names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uninspectable(pub &'static str);

struct Walk<'a> {
    r: &'a Redactor,
    f: &'a mut Findings,
    changed: bool,
    /// Only find out whether the body changes (or is blocked): texts are scanned up to the
    /// first rule that says so, and none after it (the shape is still checked throughout).
    probe: bool,
}

impl Walk<'_> {
    fn text<N: Node>(&mut self, v: &mut N) {
        if self.probe {
            if !self.changed && v.as_text().is_some_and(|s| self.r.changes(s, self.f)) {
                self.changed = true;
            }
            return;
        }
        let out = v.as_text().and_then(|s| self.r.redact(s, self.f));
        if let Some(out) = out {
            v.set_text(out);
            self.changed = true;
        }
    }

    /// A string, or text parts/blocks (`{"type": "text", "text": …}`); null is nothing.
    fn content<N: Node>(&mut self, v: &mut N, field: &'static str) -> Result<(), Uninspectable> {
        match v.shape() {
            Shape::Str => self.text(v),
            Shape::Array => {
                for p in v.elements_mut() {
                    match p.member("type").and_then(N::as_text) {
                        Some("text") => self.leaf(p, "text", field)?,
                        Some(_) => {}
                        None if p.shape() == Shape::Str => self.text(p),
                        None => return Err(Uninspectable(field)),
                    }
                }
            }
            Shape::Null => {}
            _ => return Err(Uninspectable(field)),
        }
        Ok(())
    }

    fn leaf<N: Node>(&mut self, obj: &mut N, key: &str, field: &'static str) -> Result<(), Uninspectable> {
        match obj.member_mut(key) {
            Some(v) if v.shape() == Shape::Str => self.text(v),
            Some(v) if v.shape() != Shape::Null => return Err(Uninspectable(field)),
            _ => {}
        }
        Ok(())
    }

    /// Every string inside (tool inputs and results of any shape).
    fn all<N: Node>(&mut self, v: &mut N) {
        match v.shape() {
            Shape::Str => self.text(v),
            Shape::Array => v.elements_mut().iter_mut().for_each(|x| self.all(x)),
            Shape::Object => v.each_member_mut(&mut |x| self.all(x)),
            _ => {}
        }
    }

    fn openai_chat<N: Node>(&mut self, body: &mut N) -> Result<(), Uninspectable> {
        let tools = self.r.tools;
        for m in array(body, "messages")? {
            let role = m.member("role").and_then(N::as_text).unwrap_or_default();
            if tools || !matches!(role, "tool" | "function") {
                if let Some(c) = m.member_mut("content") {
                    self.content(c, "messages[].content")?;
                }
            }
            if tools {
                if let Some(calls) = m.member_mut("tool_calls") {
                    for c in calls.elements_mut() {
                        if let Some(f) = c.member_mut("function") {
                            self.leaf(f, "arguments", "messages[].tool_calls[].function.arguments")?;
                        }
                    }
                }
                if let Some(f) = m.member_mut("function_call") {
                    self.leaf(f, "arguments", "messages[].function_call.arguments")?;
                }
            }
        }
        Ok(())
    }

    fn anthropic<N: Node>(&mut self, body: &mut N) -> Result<(), Uninspectable> {
        if let Some(s) = body.member_mut("system") {
            self.content(s, "system")?;
        }
        for m in array(body, "messages")? {
            match m.member_mut("content") {
                Some(blocks) if blocks.shape() == Shape::Array => {
                    for b in blocks.elements_mut() {
                        match b.member("type").and_then(N::as_text) {
                            Some("text") => self.leaf(b, "text", "messages[].content[].text")?,
                            Some("tool_use") if self.r.tools => {
                                if let Some(i) = b.member_mut("input") {
                                    self.all(i);
                                }
                            }
                            Some("tool_result") if self.r.tools => {
                                if let Some(c) = b.member_mut("content") {
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

    fn openai_responses<N: Node>(&mut self, body: &mut N) -> Result<(), Uninspectable> {
        if let Some(i) = body.member_mut("instructions") {
            self.content(i, "instructions")?;
        }
        let Some(input) = body.member_mut("input") else { return Ok(()) };
        if input.shape() == Shape::Str {
            self.text(input);
            return Ok(());
        }
        let tools = self.r.tools;
        for item in array(body, "input")? {
            match item.member("type").and_then(N::as_text) {
                None | Some("message") => match item.member_mut("content") {
                    Some(parts) if parts.shape() == Shape::Array => {
                        for p in parts.elements_mut() {
                            if matches!(p.member("type").and_then(N::as_text), Some("input_text" | "output_text" | "text")) {
                                self.leaf(p, "text", "input[].content[].text")?;
                            }
                        }
                    }
                    Some(c) => self.content(c, "input[].content")?,
                    None => {}
                },
                Some("function_call") if tools => self.leaf(item, "arguments", "input[].arguments")?,
                Some("function_call_output") if tools => {
                    if let Some(o) = item.member_mut("output") {
                        self.all(o);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A string or strings at `key` (embeddings' `input`, completions' `prompt`).
    fn strings<N: Node>(&mut self, body: &mut N, key: &str) {
        if let Some(v) = body.member_mut(key) {
            match v.shape() {
                Shape::Str => self.text(v),
                Shape::Array => v.elements_mut().iter_mut().for_each(|x| self.text(x)),
                _ => {}
            }
        }
    }

    fn gemini<N: Node>(&mut self, body: &mut N) -> Result<(), Uninspectable> {
        let tools = self.r.tools;
        let parts_of = |c: &mut N, w: &mut Self| -> Result<(), Uninspectable> {
            for p in array(c, "parts")? {
                w.leaf(p, "text", "contents[].parts[].text")?;
                if tools {
                    if let Some(a) = p.member_mut("functionCall").and_then(|f| f.member_mut("args")) {
                        w.all(a);
                    }
                    if let Some(r) = p.member_mut("functionResponse").and_then(|f| f.member_mut("response")) {
                        w.all(r);
                    }
                }
            }
            Ok(())
        };
        for key in ["systemInstruction", "system_instruction"] {
            if let Some(s) = body.member_mut(key) {
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
fn array<'v, N: Node>(v: &'v mut N, key: &'static str) -> Result<&'v mut [N], Uninspectable> {
    match v.member_mut(key) {
        Some(a) if a.shape() == Shape::Array => Ok(a.elements_mut()),
        Some(a) if a.shape() != Shape::Null => Err(Uninspectable(key)),
        _ => Ok(&mut []),
    }
}

/// Redacts the text of `body` in place; `Ok(true)` when anything changed. A `block` match is
/// reported in `findings.blocked`.
pub fn redact_body<N: Node>(r: &Redactor, kind: BodyKind, body: &mut N, findings: &mut Findings) -> Result<bool, Uninspectable> {
    walk(Walk { r, f: findings, changed: false, probe: false }, kind, body)
}

/// Whether redacting `body` would change it or block it (`Ok(true)`), leaving it as it is:
/// the scan stops at the first text and rule that say so. `findings` then holds partial
/// counts; with `Ok(false)` they are complete (audit matches).
pub fn probe_body<N: Node>(r: &Redactor, kind: BodyKind, body: &mut N, findings: &mut Findings) -> Result<bool, Uninspectable> {
    walk(Walk { r, f: findings, changed: false, probe: true }, kind, body)
}

fn walk<N: Node>(mut w: Walk<'_>, kind: BodyKind, body: &mut N) -> Result<bool, Uninspectable> {
    match kind {
        BodyKind::OpenAiChat => w.openai_chat(body)?,
        BodyKind::Anthropic => w.anthropic(body)?,
        BodyKind::Gemini => w.gemini(body)?,
        BodyKind::OpenAiResponses => w.openai_responses(body)?,
        BodyKind::OpenAiEmbeddings => w.strings(body, "input"),
        BodyKind::OpenAiCompletions => w.strings(body, "prompt"),
    }
    Ok(w.changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::detector::{Action, Builtin};
    use crate::redact::engine::{Detector, OnError, Rule};
    use serde_json::{json, Value};
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
