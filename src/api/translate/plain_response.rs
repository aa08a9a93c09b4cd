//! Anthropic `message` → OpenAI `chat.completion` for a plain-text answer, written straight from its bytes.
//!
//! The common answer (text blocks, a stop reason, usage) needs no document: the texts are
//! copied as the provider escaped them, into the shape [`super::message_to_completion`] gives,
//! in the same key order. Blocks that answer does not turn into text (thinking, for one) are
//! skipped, as it skips them. Anything else gives `None`, and the caller takes
//! [`super::message_to_completion`]: tool calls, a field of another type, a key given twice, a
//! body that is not valid JSON. A differential test holds the two to the same output.

use crate::api::openai::finish_reason_from_anthropic;
use crate::scan::{put, put_u64, u64_of, Scan};

/// The client's body for a `model` answer `created` at that Unix second, or `None` for
/// [`super::message_to_completion`].
pub fn plain_message_to_completion(body: &[u8], model: &str, created: u64) -> Option<Vec<u8>> {
    std::str::from_utf8(body).ok()?;
    let mut a = Answer::default();
    let mut seen = 0u8;
    let mut s = Scan::new(body);
    s.object(&mut |s, key| {
        let Some(field) = FIELDS.iter().position(|f| *f == key) else {
            return s.value(1);
        };
        if seen & (1 << field) != 0 {
            return None;
        }
        seen |= 1 << field;
        a.read(s, field)
    })?;
    s.end()?;
    (a.kind == Some(&b"message"[..])).then_some(())?;
    Some(a.write(model, created))
}

/// The top-level fields read; any other one is skipped, as the full translation ignores it.
const FIELDS: [&[u8]; 5] = [b"type", b"id", b"content", b"stop_reason", b"usage"];

#[derive(Default)]
struct Answer<'a> {
    kind: Option<&'a [u8]>,
    id: Option<&'a [u8]>,
    /// The text blocks' texts, raw (escaped as the provider sent them).
    texts: Vec<&'a [u8]>,
    stop_reason: Option<&'a str>,
    /// `input_tokens`, `cache_creation_input_tokens`, `cache_read_input_tokens`, `output_tokens`.
    usage: [u64; 4],
}

const USAGE: [&[u8]; 4] = [b"input_tokens", b"cache_creation_input_tokens", b"cache_read_input_tokens", b"output_tokens"];

impl<'a> Answer<'a> {
    /// Reads field `FIELDS[field]`.
    fn read(&mut self, s: &mut Scan<'a>, field: usize) -> Option<()> {
        if s.null() {
            return Some(());
        }
        match field {
            0 => s.string().map(|t| self.kind = Some(t)),
            1 => s.string().map(|t| self.id = Some(t)),
            2 => s.array(&mut |s| self.block(s)),
            3 => {
                let r = std::str::from_utf8(s.plain_string()?).ok()?;
                self.stop_reason = Some(r);
                Some(())
            }
            _ => {
                let mut seen = 0u8;
                let usage = &mut self.usage;
                s.object(&mut |s, key| {
                    let Some(i) = USAGE.iter().position(|k| *k == key) else {
                        return s.value(2);
                    };
                    if seen & (1 << i) != 0 {
                        return None;
                    }
                    seen |= 1 << i;
                    if !s.null() {
                        usage[i] = u64_of(s.number()?)?;
                    }
                    Some(())
                })
            }
        }
    }

    /// One content block: text is kept, tool use goes to the full translation, anything else
    /// is skipped.
    fn block(&mut self, s: &mut Scan<'a>) -> Option<()> {
        let (mut kind, mut text) = (None, None);
        s.object(&mut |s, key| match key {
            b"type" if kind.is_none() => s.plain_string().map(|t| kind = Some(t)),
            b"text" if text.is_none() => s.string().map(|t| text = Some(t)),
            b"type" | b"text" => None,
            _ => s.value(3),
        })?;
        match kind? {
            b"text" => self.texts.push(text.unwrap_or_default()),
            b"tool_use" => return None,
            _ => {}
        }
        Some(())
    }

    /// The OpenAI answer this says.
    fn write(&self, model: &str, created: u64) -> Vec<u8> {
        let [input, creation, cached, completion] = self.usage;
        let prompt = input.saturating_add(creation).saturating_add(cached);
        let c = Completion { id: self.id, texts: &self.texts, finish: self.stop_reason.map(finish_reason_from_anthropic), prompt, completion, cached, reasoning: None };
        c.write(model, created)
    }
}

/// A plain OpenAI `chat.completion`: one choice of text, as the full translations build it.
pub(super) struct Completion<'a, 't> {
    /// The provider's answer id (raw), or `chatcmpl-tollgate`.
    pub id: Option<&'a [u8]>,
    /// The texts, raw (escaped as the provider sent them), written one after another.
    pub texts: &'t [&'a [u8]],
    pub finish: Option<&'static str>,
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    /// `completion_tokens_details.reasoning_tokens`, for the providers that report it.
    pub reasoning: Option<u64>,
}

impl Completion<'_, '_> {
    /// The body, keys in `serde_json`'s order (sorted), as the full translations write them.
    pub(super) fn write(&self, model: &str, created: u64) -> Vec<u8> {
        let text_len: usize = self.texts.iter().map(|t| t.len()).sum();
        let mut out = Vec::with_capacity(text_len + 384);
        let (q, finish) = self.finish.map_or((&b""[..], &b"null"[..]), |f| (b"\"", f.as_bytes()));
        put(&mut out, &[b"{\"choices\":[{\"finish_reason\":", q, finish, q, b",\"index\":0,\"logprobs\":null,\"message\":{\"content\":\""]);
        for t in self.texts {
            put(&mut out, &[t]);
        }
        let id = self.id.unwrap_or(b"chatcmpl-tollgate");
        put(&mut out, &[b"\",\"refusal\":null,\"role\":\"assistant\"}}],\"created\":"]);
        put_u64(&mut out, created);
        put(&mut out, &[b",\"id\":\"", id, b"\",\"model\":"]);
        // A `str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, model);
        put(&mut out, &[b",\"object\":\"chat.completion\",\"usage\":{\"completion_tokens\":"]);
        put_u64(&mut out, self.completion);
        if let Some(r) = self.reasoning {
            put(&mut out, &[b",\"completion_tokens_details\":{\"reasoning_tokens\":"]);
            put_u64(&mut out, r);
            put(&mut out, &[b"}"]);
        }
        for (key, n) in [
            (&b",\"prompt_tokens\":"[..], self.prompt),
            (b",\"prompt_tokens_details\":{\"cached_tokens\":", self.cached),
            (b"},\"total_tokens\":", self.prompt.saturating_add(self.completion)),
        ] {
            put(&mut out, &[key]);
            put_u64(&mut out, n);
        }
        put(&mut out, &[b"}}"]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::translate::message_to_completion;
    use serde_json::Value;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn both(body: &str) -> (Option<Value>, Result<Value, String>) {
        crate::testing::both_paths(body, |b| plain_message_to_completion(b, "gpt-x", 1_700_000_000), |v| message_to_completion(v, "gpt-x", 1_700_000_000))
    }

    #[test]
    fn plain_answers_match_the_full_translation() {
        for body in [
            r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi \"there\"\n\u00e9"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"output_tokens":5,"service_tier":"standard","server_tool_use":{"web_search_requests":0}}}"#,
            r#"{"type":"message","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"a","citations":[{"x":1}]},{"type":"text","text":"b"}],"stop_reason":"max_tokens","usage":{"output_tokens":null}}"#,
            r#" { "content" : [ ] , "type" : "message" , "id" : null , "stop_reason" : null } "#,
            r#"{"type":"message","content":[{"text":"t","type":"text"}],"stop_reason":"refusal","container":{"id":"c"}}"#,
        ] {
            let (direct, full) = both(body);
            assert_eq!(direct.as_ref(), Some(full.as_ref().unwrap()), "{body}");
        }
    }

    #[test]
    fn anything_else_goes_to_the_full_translation() {
        for body in [
            r#"{"type":"message","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}"#,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#,
            r#"{"content":[]}"#,
            r#"{"type":"message","type":"message","content":[]}"#,
            r#"{"type":"message","content":"text"}"#,
            r#"{"type":"message","content":[],"usage":{"input_tokens":1.5}}"#,
            r#"{"type":"message","content":[],"stop_reason":"end\u005fturn"}"#,
            r#"{"type":"message","content":[{"type":"text","text":"\udc00"}]}"#,
            r#"{"type":"message","content":[]"#,
        ] {
            assert_eq!(plain_message_to_completion(body.as_bytes(), "m", 1), None, "{body}");
        }
    }

    /// Wherever the direct path answers, its output is the full translation's: answers built
    /// at random and then edited at random (xorshift, fixed seed).
    #[test]
    fn agrees_with_the_full_translation() {
        let mut rng = crate::testing::Rng::new(0x9e37_79b9_7f4a_7c15u64);
        let texts = ["", "Hello", "Say \\\"hi\\\"\\n", "caf\\u00e9 \u{e9}", "\\ud83d\\ude00", "a\\tb"];
        let alphabet = b"{}[]\":,\\ tfnrue0123456789.-+eEabu";
        let mut agreement = crate::testing::Agreement::default();
        for round in 0..20_000 {
            let mut blocks = Vec::new();
            for _ in 0..rng.next() % 4 {
                let text = texts[(rng.next() % texts.len() as u64) as usize];
                blocks.push(match rng.next() % 6 {
                    0 => r#"{"type":"thinking","thinking":"x","signature":"s"}"#.to_string(),
                    1 => format!(r#"{{"text":"{text}","type":"text","citations":null}}"#),
                    _ => format!(r#"{{"type":"text","text":"{text}"}}"#),
                });
            }
            let fields = vec![format!(r#""content":[{}]"#, blocks.join(",")), r#""type":"message""#.to_string()];
            let extras = [r#""id":"msg_01""#, r#""role":"assistant""#, r#""model":"claude-x""#, r#""stop_reason":"end_turn""#, r#""stop_reason":"tool_use""#, r#""stop_sequence":null"#, r#""usage":{"input_tokens":10,"output_tokens":3,"cache_read_input_tokens":2}"#];
            let mut body = crate::testing::object(&mut rng, fields, &extras, 2);
            if round % 2 == 1 {
                crate::testing::edit(&mut body, &mut rng, alphabet, 2);
            }
            agreement.check(body, both);
        }
        agreement.assert_most_answered();
    }
}
