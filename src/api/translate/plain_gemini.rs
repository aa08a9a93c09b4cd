//! OpenAI chat ↔ Gemini for plain text, written straight from the bytes both ways.
//!
//! A plain chat request (as [`super::plain_request`] reads it) becomes a `generateContent`
//! body, and a plain `GenerateContentResponse` (text parts, a finish reason, usage) becomes a
//! `chat.completion`: the shapes [`super::chat_to_gemini`] and [`super::gemini_to_completion`]
//! give, in the same key order, strings copied as they were escaped. Anything else gives `None`
//! and takes those: function calls, a prompt block, a field of another type, a key given twice,
//! a body that is not valid JSON. Differential tests hold each to the full translation.

use super::gemini::finish_reason;
use super::plain_request::Request;
use super::plain_response::Completion;
use crate::scan::{put, put_u64, u64_of, Scan};

/// The `generateContent` body for a plain chat request, or `None` for [`super::chat_to_gemini`].
pub fn plain_chat_to_gemini(body: &[u8]) -> Option<Vec<u8>> {
    let r = Request::parse(body)?;
    let mut out = Vec::with_capacity(body.len() + 64);
    put(&mut out, &[b"{\"contents\":["]);
    for (i, (role, texts)) in r.turns.iter().enumerate() {
        put(&mut out, &[if i > 0 { b",{\"parts\":" } else { b"{\"parts\":" }]);
        text_parts(&mut out, texts);
        put(&mut out, &[b",\"role\":\"", if *role == "assistant" { b"model" } else { b"user" }, b"\"}"]);
    }
    put(&mut out, &[b"]"]);
    // `generationConfig`, its keys in order, when it has any.
    let mut max = Vec::new();
    if let Some(m) = r.max_completion_tokens.or(r.max_tokens) {
        put_u64(&mut max, m);
    }
    let mut stops = Vec::new();
    for (j, t) in r.stop.iter().flatten().enumerate() {
        put(&mut stops, &[if j > 0 { b",\"" } else { b"[\"" }, t, b"\""]);
    }
    if let Some(list) = &r.stop {
        put(&mut stops, &[if list.is_empty() { b"[]" } else { b"]" }]);
    }
    let config = [(&b"\"maxOutputTokens\":"[..], &max[..]), (b"\"seed\":", r.seed.unwrap_or_default()), (b"\"stopSequences\":", &stops), (b"\"temperature\":", r.temperature.unwrap_or_default()), (b"\"topP\":", r.top_p.unwrap_or_default())];
    let mut sep: &[u8] = b",\"generationConfig\":{";
    for (key, v) in config.iter().filter(|(_, v)| !v.is_empty()) {
        put(&mut out, &[sep, key, v]);
        sep = b",";
    }
    if sep == b"," {
        put(&mut out, &[b"}"]);
    }
    if !r.system.is_empty() {
        put(&mut out, &[b",\"systemInstruction\":{\"parts\":"]);
        text_parts(&mut out, &r.system);
        put(&mut out, &[b"}"]);
    }
    put(&mut out, &[b"}"]);
    Some(out)
}

/// `[{"text": …}, …]`.
fn text_parts(out: &mut Vec<u8>, texts: &[&[u8]]) {
    for (i, t) in texts.iter().enumerate() {
        put(out, &[if i > 0 { b",{\"text\":\"" } else { b"[{\"text\":\"" }, t, b"\"}"]);
    }
    put(out, &[if texts.is_empty() { b"[]" } else { b"]" }]);
}

/// The client's body for a plain Gemini answer, or `None` for [`super::gemini_to_completion`].
pub fn plain_gemini_to_completion(body: &[u8], model: &str, created: u64) -> Option<Vec<u8>> {
    std::str::from_utf8(body).ok()?;
    let mut a = Answer::default();
    let mut seen = 0u8;
    let mut s = Scan::new(body);
    s.object(&mut |s, key| {
        let field = match key {
            b"candidates" => 0,
            b"usageMetadata" => 1,
            b"responseId" => 2,
            // An error, or a blocked prompt: the full translation says what they mean.
            b"error" | b"promptFeedback" => return None,
            _ => return s.value(1),
        };
        if seen & (1 << field) != 0 {
            return None;
        }
        seen |= 1 << field;
        if s.null() {
            return Some(());
        }
        match field {
            0 => {
                let mut first = true;
                s.array(&mut |s| {
                    if std::mem::take(&mut first) {
                        a.candidate(s)
                    } else {
                        s.value(2)
                    }
                })
            }
            1 => s.object(&mut |s, key| {
                let Some(i) = USAGE.iter().position(|k| *k == key) else {
                    return s.value(2);
                };
                if a.seen_usage & (1 << i) != 0 {
                    return None;
                }
                a.seen_usage |= 1 << i;
                if !s.null() {
                    a.usage[i] = u64_of(s.number()?)?;
                }
                Some(())
            }),
            _ => s.string().map(|id| a.id = Some(id)),
        }
    })?;
    s.end()?;
    let [prompt, candidates, thoughts, cached] = a.usage;
    let completion = candidates.saturating_add(thoughts);
    let finish = a.finish.map(finish_reason);
    Some(Completion { id: a.id, texts: &a.texts, finish, prompt, completion, cached, reasoning: Some(thoughts) }.write(model, created))
}

/// `promptTokenCount`, `candidatesTokenCount`, `thoughtsTokenCount`, `cachedContentTokenCount`.
const USAGE: [&[u8]; 4] = [b"promptTokenCount", b"candidatesTokenCount", b"thoughtsTokenCount", b"cachedContentTokenCount"];

#[derive(Default)]
struct Answer<'a> {
    id: Option<&'a [u8]>,
    texts: Vec<&'a [u8]>,
    finish: Option<&'a str>,
    usage: [u64; 4],
    seen_usage: u8,
}

impl<'a> Answer<'a> {
    /// The first candidate: its text parts and finish reason.
    fn candidate(&mut self, s: &mut Scan<'a>) -> Option<()> {
        let (mut content, mut finish) = (false, false);
        s.object(&mut |s, key| match key {
            b"content" if !content => {
                content = true;
                if s.null() {
                    return Some(());
                }
                let mut parts = false;
                s.object(&mut |s, key| match key {
                    b"parts" if !parts => {
                        parts = true;
                        if s.null() {
                            return Some(());
                        }
                        s.array(&mut |s| self.part(s))
                    }
                    b"parts" => None,
                    _ => s.value(4),
                })
            }
            b"finishReason" if !finish => {
                finish = true;
                if s.null() {
                    return Some(());
                }
                self.finish = Some(std::str::from_utf8(s.plain_string()?).ok()?);
                Some(())
            }
            b"content" | b"finishReason" => None,
            _ => s.value(3),
        })
    }

    /// One part: text unless it is a thought; a function call goes to the full translation.
    fn part(&mut self, s: &mut Scan<'a>) -> Option<()> {
        let (mut text, mut thought) = (None, None);
        s.object(&mut |s, key| match key {
            b"text" if text.is_none() => s.string().map(|t| text = Some(t)),
            b"thought" if thought.is_none() => {
                thought = Some(if s.literal(b"true").is_some() {
                    true
                } else {
                    s.value(5)?;
                    false
                });
                Some(())
            }
            b"text" | b"thought" | b"functionCall" => None,
            _ => s.value(5),
        })?;
        if thought != Some(true) {
            self.texts.push(text.unwrap_or_default());
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::translate::{chat_to_gemini, gemini_to_completion};
    use serde_json::Value;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn both(body: &str) -> (Option<Value>, Result<Value, String>) {
        crate::testing::both_paths(body, plain_chat_to_gemini, |v| chat_to_gemini(v, &mut crate::api::translate::Lenience::new(true)))
    }

    fn answer(body: &str) -> (Option<Value>, Result<Value, String>) {
        crate::testing::both_paths(body, |b| plain_gemini_to_completion(b, "gpt-x", 1_700_000_000), |v| gemini_to_completion(v, "gpt-x", 1_700_000_000))
    }

    #[test]
    fn plain_requests_match_the_full_translation() {
        for body in [
            r#"{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"hi"},{"role":"assistant","content":"yo"},{"role":"user","content":"a"},{"role":"user","content":"b"}],"max_tokens":100,"temperature":0.2,"top_p":1,"stop":"END","seed":7,"user":"u"}"#,
            r#"{"model":"m","messages":[]}"#,
            r#"{"model":"m","messages":[{"role":"developer","content":"x"},{"role":"system","content":"y"}],"stop":[]}"#,
        ] {
            let (direct, full) = both(body);
            assert_eq!(direct.as_ref(), Some(full.as_ref().unwrap()), "{body}");
        }
        let tools = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[]}"#;
        assert_eq!(plain_chat_to_gemini(tools.as_bytes()), None);
    }

    #[test]
    fn plain_answers_match_the_full_translation() {
        let fixture = include_str!("../../../tests/fixtures/gemini_generate.json");
        for body in [
            fixture,
            r#"{"candidates":[{"content":{"parts":[{"text":"think","thought":true},{"text":"a\n"},{"text":"b","thoughtSignature":"s"}],"role":"model"},"finishReason":"MAX_TOKENS","index":0},{"content":{"parts":[{"text":"other"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"thoughtsTokenCount":3,"cachedContentTokenCount":1},"responseId":"r1","modelVersion":"gemini-2.5-flash"}"#,
            r#"{"candidates":[]}"#,
            r#"{}"#,
        ] {
            let (direct, full) = answer(body);
            assert_eq!(direct.as_ref(), Some(full.as_ref().unwrap()), "{body}");
        }
        for body in [
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#,
            r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#,
            r#"{"error":{"code":400,"message":"bad"}}"#,
            r#"{"candidates":[],"candidates":[]}"#,
            r#"{"usageMetadata":{"promptTokenCount":1.5}}"#,
            r#"[]"#,
        ] {
            assert_eq!(plain_gemini_to_completion(body.as_bytes(), "m", 1), None, "anything else goes to the full translation: {body}");
        }
    }

    /// Wherever the direct path answers, its output is the full translation's: requests built
    /// at random and then edited at random.
    #[test]
    fn agrees_with_the_full_translation() {
        let mut rng = crate::testing::Rng::new(0x0dde_c0de_5eed_1234u64);
        let texts = ["", "Hello", "Say \\\"hi\\\"\\n", "caf\\u00e9 \u{e9}", "\\ud83d\\ude00"];
        let roles = ["system", "user", "assistant", "user"];
        let alphabet = b"{}[]\":,\\ tfnrue0123456789.-+eEabu";
        let mut agreement = crate::testing::Agreement::default();
        for round in 0..20_000 {
            let msgs: Vec<String> = (0..rng.next() % 5).map(|_| format!(r#"{{"role":"{}","content":"{}"}}"#, roles[rng.below(4)], texts[rng.below(texts.len())])).collect();
            let fields = vec![format!(r#""messages":[{}]"#, msgs.join(",")), r#""model":"g""#.to_string()];
            let extras = [r#""max_tokens":64"#, r#""temperature":0.7"#, r#""top_p":0.5"#, r#""stop":["a"]"#, r#""seed":3"#, r#""user":"u""#, r#""seed":"x""#];
            let mut body = crate::testing::object(&mut rng, fields, &extras, 2);
            if round % 2 == 1 {
                crate::testing::edit(&mut body, &mut rng, alphabet, 2);
            }
            agreement.check(body, both);
        }
        agreement.assert_most_answered();
    }

    /// The same for answers: first candidates of text and thought parts, a finish reason,
    /// usage, built at random and then edited at random.
    #[test]
    fn answers_agree_with_the_full_translation() {
        let mut rng = crate::testing::Rng::new(0x5eed_0dde_c0de_4321u64);
        let texts = ["", "Hello", "Say \\\"hi\\\"\\n", "caf\\u00e9 \u{e9}", "\\ud83d\\ude00"];
        let alphabet = b"{}[]\":,\\ tfnrue0123456789.-+eEabu";
        let mut agreement = crate::testing::Agreement::default();
        for round in 0..20_000 {
            let parts: Vec<String> = (0..rng.next() % 4)
                .map(|_| {
                    let text = texts[rng.below(texts.len())];
                    if rng.next().is_multiple_of(4) { format!(r#"{{"text":"{text}","thought":true}}"#) } else { format!(r#"{{"text":"{text}"}}"#) }
                })
                .collect();
            let finish = ["", r#","finishReason":"STOP""#, r#","finishReason":"SAFETY""#][rng.below(3)];
            let usage = if rng.next().is_multiple_of(2) { r#","usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4,"thoughtsTokenCount":2}"# } else { "" };
            let mut body = format!(r#"{{"candidates":[{{"content":{{"parts":[{}],"role":"model"}}{finish},"index":0}}]{usage},"responseId":"r"}}"#, parts.join(",")).into_bytes();
            if round % 2 == 1 {
                crate::testing::edit(&mut body, &mut rng, alphabet, 2);
            }
            agreement.check(body, answer);
        }
        agreement.assert_most_answered();
    }
}
