//! OpenAI chat → Gemini `generateContent` for a plain-text request, written straight from its bytes.
//!
//! A plain chat request (as [`super::plain_request`] reads it) becomes the body
//! [`super::chat_to_gemini`] gives, in the same key order, strings copied as they were escaped.
//! Anything else gives `None` and takes [`super::chat_to_gemini`]. A differential test holds the
//! two to the same output. (The answer comes back through the general translation: a direct
//! reader of Gemini answers would take the module past its 1 MB budget.)

use super::plain_request::Request;
use crate::scan::{put, put_u64};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::translate::chat_to_gemini;
    use serde_json::Value;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn both(body: &str) -> (Option<Value>, Result<Value, String>) {
        let direct = plain_chat_to_gemini(body.as_bytes()).map(|b| serde_json::from_slice(&b).unwrap_or_else(|e| panic!("invalid JSON written for {body}: {e}")));
        let full = serde_json::from_str::<Value>(body).map_err(|e| e.to_string()).and_then(|v| chat_to_gemini(&v).map_err(|e| e.message));
        (direct, full)
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
}
