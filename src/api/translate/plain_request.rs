//! OpenAI chat → Anthropic Messages for a plain-text request, written straight from its bytes.
//!
//! The common request (system, user and assistant turns of plain text, with `max_tokens`,
//! `temperature`, `top_p`, `stop` and `user`) needs no document. Its strings are copied as the
//! client escaped them, into the shape [`super::chat_to_messages`] gives, in the same key order.
//! [`Request`] is the reading, which the Gemini writer (`plain_gemini`) shares.
//! Anything else gives `None`, and the caller takes [`super::chat_to_messages`]: tools, content
//! parts, streams, fields this does not know, a value of another type, a key given twice, a body
//! that is not valid JSON. A differential test holds the two to the same output.

use crate::api::anthropic::DEFAULT_MAX_TOKENS;
use crate::scan::{put, put_u64, u64_of, Scan};

/// The upstream request body for `model`, or `None` for [`super::chat_to_messages`].
pub fn plain_chat_to_messages(body: &[u8], model: &str) -> Option<Vec<u8>> {
    Some(Request::parse(body)?.write(model, body.len()))
}

impl<'a> Request<'a> {
    /// A plain chat request, or `None` for anything else.
    pub(super) fn parse(body: &'a [u8]) -> Option<Request<'a>> {
        std::str::from_utf8(body).ok()?;
        let mut r = Request::default();
        let mut seen = 0u16;
        let mut s = Scan::new(body);
        s.object(&mut |s, key| {
            let field = FIELDS.iter().position(|f| *f == key)?;
            if seen & (1 << field) != 0 {
                return None;
            }
            seen |= 1 << field;
            r.read(s, field)
        })?;
        s.end()?;
        (seen & (1 << 1) != 0).then_some(())?; // `messages`
        Some(r)
    }
}

/// The top-level fields read (any other one sends the request to the full translation). The
/// last three change nothing at Anthropic, as in the full translation: `n` of 1, `seed` (which
/// Gemini takes), and `parallel_tool_calls` without tools.
const FIELDS: [&[u8]; 12] = [b"model", b"messages", b"max_tokens", b"max_completion_tokens", b"temperature", b"top_p", b"stream", b"stop", b"user", b"n", b"seed", b"parallel_tool_calls"];

/// A plain chat request, its strings and numbers raw (as the client wrote them).
#[derive(Default)]
pub(super) struct Request<'a> {
    /// System and developer texts, in order.
    pub system: Vec<&'a [u8]>,
    /// Alternating turns: the role (`user` or `assistant`) and its texts.
    pub turns: Vec<(&'static str, Vec<&'a [u8]>)>,
    pub max_completion_tokens: Option<u64>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<&'a [u8]>,
    pub top_p: Option<&'a [u8]>,
    pub stop: Option<Vec<&'a [u8]>>,
    pub user: Option<&'a [u8]>,
    pub seed: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    /// Reads field `FIELDS[field]`.
    fn read(&mut self, s: &mut Scan<'a>, field: usize) -> Option<()> {
        if s.null() {
            // A null field is an absent one (and `messages` must be there).
            return (field != 1).then_some(());
        }
        match field {
            0 => s.string().map(drop),
            1 => s.array(&mut |s| self.message(s)),
            2 => positive(s).map(|n| self.max_tokens = Some(n)),
            3 => positive(s).map(|n| self.max_completion_tokens = Some(n)),
            4 => plain_number(s).map(|n| self.temperature = Some(n)),
            5 => plain_number(s).map(|n| self.top_p = Some(n)),
            6 => s.literal(b"false"),
            7 => {
                let stops = if s.peek()? == b'"' {
                    vec![s.string()?]
                } else {
                    let mut all = Vec::new();
                    s.array(&mut |s| s.string().map(|t| all.push(t)))?;
                    all
                };
                self.stop = Some(stops);
                Some(())
            }
            8 => s.string().map(|u| self.user = Some(u)),
            9 => s.literal(b"1"),
            10 => plain_number(s).map(|n| self.seed = Some(n)),
            _ => s.value(1),
        }
    }

    /// One message: `role`, plain-text `content` (or null), and an ignored `name`.
    fn message(&mut self, s: &mut Scan<'a>) -> Option<()> {
        let (mut role, mut content, mut name) = (None, None, false);
        s.object(&mut |s, key| match key {
            b"role" if role.is_none() => s.plain_string().map(|r| role = Some(r)),
            b"content" if content.is_none() => {
                content = Some(if s.null() { &[][..] } else { s.string()? });
                Some(())
            }
            b"name" if !name => {
                name = true;
                s.string().map(drop)
            }
            _ => None,
        })?;
        let text = content.unwrap_or_default();
        let role = match role? {
            b"system" | b"developer" => {
                if !text.is_empty() {
                    self.system.push(text);
                }
                return Some(());
            }
            b"user" => "user",
            b"assistant" => "assistant",
            _ => return None,
        };
        if text.is_empty() {
            return Some(());
        }
        match self.turns.last_mut() {
            Some((r, texts)) if *r == role => texts.push(text),
            _ => self.turns.push((role, vec![text])),
        }
        Some(())
    }

    /// The Anthropic body, keys in `serde_json`'s order (sorted), as the full translation writes them.
    fn write(&self, model: &str, size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size + 64);
        let max = self.max_completion_tokens.or(self.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS);
        put(&mut out, &[b"{\"max_tokens\":"]);
        put_u64(&mut out, max);
        put(&mut out, &[b",\"messages\":["]);
        for (i, (role, texts)) in self.turns.iter().enumerate() {
            put(&mut out, &[if i > 0 { b"," } else { b"" }, b"{\"content\":"]);
            texts_or_one(&mut out, texts);
            put(&mut out, &[b",\"role\":\"", role.as_bytes(), b"\"}"]);
        }
        put(&mut out, &[b"]"]);
        if let Some(u) = self.user {
            put(&mut out, &[b",\"metadata\":{\"user_id\":\"", u, b"\"}"]);
        }
        put(&mut out, &[b",\"model\":"]);
        // A `str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, model);
        if let Some(stops) = &self.stop {
            put(&mut out, &[b",\"stop_sequences\":["]);
            for (i, t) in stops.iter().enumerate() {
                put(&mut out, &[if i > 0 { b",\"" } else { b"\"" }, t, b"\""]);
            }
            put(&mut out, &[b"]"]);
        }
        if !self.system.is_empty() {
            put(&mut out, &[b",\"system\":"]);
            texts_or_one(&mut out, &self.system);
        }
        for (key, v) in [(&b",\"temperature\":"[..], self.temperature), (b",\"top_p\":", self.top_p)] {
            if let Some(v) = v {
                put(&mut out, &[key, v]);
            }
        }
        put(&mut out, &[b"}"]);
        out
    }
}

/// One text as a string; several as text blocks.
fn texts_or_one(out: &mut Vec<u8>, texts: &[&[u8]]) {
    if let [only] = texts {
        return put(out, &[b"\"", only, b"\""]);
    }
    for (i, t) in texts.iter().enumerate() {
        put(out, &[if i > 0 { b",{\"text\":\"" } else { b"[{\"text\":\"" }, t, b"\",\"type\":\"text\"}"]);
    }
    put(out, &[if texts.is_empty() { b"[]" } else { b"]" }]);
}

/// A positive integer that fits a `u64`, as `serde_json` reads one (no sign, fraction or exponent).
fn positive(s: &mut Scan<'_>) -> Option<u64> {
    u64_of(s.number()?).filter(|n| *n > 0)
}

/// A number without an exponent: always finite, so `serde_json` takes it too.
fn plain_number<'a>(s: &mut Scan<'a>) -> Option<&'a [u8]> {
    let raw = s.number()?;
    (!raw.iter().any(|b| matches!(b, b'e' | b'E'))).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::translate::chat_to_messages;
    use serde_json::Value;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn both(body: &str) -> (Option<Value>, Result<Value, String>) {
        crate::testing::both_paths(body, |b| plain_chat_to_messages(b, "claude-x"), |v| chat_to_messages(v, "claude-x", &mut crate::api::translate::Lenience::new(true)))
    }

    #[test]
    fn plain_requests_match_the_full_translation() {
        let cases = [
            r#"{"model":"gpt-4o","messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"hi\n\u00e9"}],"max_tokens":100,"temperature":0.20,"top_p":1,"stop":"END","user":"u-1","stream":false}"#,
            r#"{"messages":[{"role":"developer","content":"a"},{"role":"user","content":"b"},{"role":"system","content":"c"},{"role":"user","content":"d"},{"role":"assistant","content":""},{"role":"user","content":null,"name":"n"},{"role":"assistant","content":"e"}],"model":"m","stop":["x","y"],"max_completion_tokens":7,"max_tokens":9}"#,
            r#" { "model" : "m" , "messages" : [ ] , "temperature" : null , "stop" : [ ] , "user" : null } "#,
            r#"{"model":"m","messages":[{"content":"only","role":"user"}],"temperature":-0.0,"top_p":0.5}"#,
        ];
        for body in cases {
            let (direct, full) = both(body);
            assert_eq!(direct.as_ref(), Some(full.as_ref().unwrap()), "{body}");
        }
    }

    #[test]
    fn anything_else_goes_to_the_full_translation() {
        for body in [
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#,
            r#"{"model":"m","messages":[{"role":"tool","content":"r","tool_call_id":"t"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"hi","content":"again"}]}"#,
            r#"{"model":"m","messages":[],"messages":[]}"#,
            r#"{"model":"m"}"#,
            r#"{"model":"m","messages":null}"#,
            r#"{"model":"m","messages":[],"max_tokens":0}"#,
            r#"{"model":"m","messages":[],"max_tokens":1.0}"#,
            r#"{"model":"m","messages":[],"temperature":1e400}"#,
            r#"{"model":"m","messages":[],"temperature":"hot"}"#,
            r#"{"model":"m","messages":[],"stop":[1]}"#,
            r#"{"model":"m","messages":[{"role":"critic","content":"x"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"\ud800"}]}"#,
            r#"{"model":"m","messages":[]} trailing"#,
        ] {
            assert_eq!(plain_chat_to_messages(body.as_bytes(), "c"), None, "{body}");
        }
    }

    /// Wherever the direct path answers, its output is the full translation's: real-shaped
    /// requests built at random and then edited at random (xorshift, fixed seed).
    #[test]
    fn agrees_with_the_full_translation() {
        let mut rng = crate::testing::Rng::new(0x2545_f491_4f6c_dd1du64);
        let texts = ["", "hi", "Say \\\"hi\\\"\\n", "caf\\u00e9 \u{e9}", "\\ud83d\\ude00", "a\\tb", "\\/\\\\"];
        let roles = ["system", "developer", "user", "assistant", "user", "assistant"];
        let alphabet = b"{}[]\":,\\ tfnrue0123456789.-+eEabu";
        let mut agreement = crate::testing::Agreement::default();
        for round in 0..20_000 {
            let mut msgs = Vec::new();
            for _ in 0..rng.next() % 6 {
                let role = roles[(rng.next() % roles.len() as u64) as usize];
                let content = match rng.next() % 8 {
                    0 => "null".to_string(),
                    _ => format!("\"{}\"", texts[(rng.next() % texts.len() as u64) as usize]),
                };
                msgs.push(if rng.next().is_multiple_of(5) { format!(r#"{{"content":{content},"name":"n","role":"{role}"}}"#) } else { format!(r#"{{"role":"{role}","content":{content}}}"#) });
            }
            let fields = vec![format!(r#""messages":[{}]"#, msgs.join(",")), r#""model":"gpt-4o""#.to_string()];
            let extras = [r#""max_tokens":64"#, r#""max_completion_tokens":12"#, r#""temperature":0.7"#, r#""top_p":null"#, r#""stop":["a","b\n"]"#, r#""stop":"z""#, r#""user":"u\"1""#, r#""stream":false"#, r#""n":1"#, r#""n":2"#, r#""seed":42"#, r#""parallel_tool_calls":false"#];
            let mut body = crate::testing::object(&mut rng, fields, &extras, 3);
            if round % 2 == 1 {
                crate::testing::edit(&mut body, &mut rng, alphabet, 2);
            }
            agreement.check(body, both);
        }
        agreement.assert_most_answered();
    }
}
