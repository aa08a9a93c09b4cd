//! The request's `model` and `stream`, read by one validating pass over the JSON body that
//! builds nothing: the common request's whole body parse.
//!
//! The pass accepts only what it has checked is one valid JSON object (RFC 8259: string escapes
//! and control characters, number grammar, literals, nesting no deeper than `serde_json`
//! allows) with a plain-text `model` and a boolean or null `stream`. Anything else, including
//! every invalid body, gives `None`, and the planner's full parse decides, with its precise
//! error. So where this says yes, `serde_json` says yes too (a differential test holds it to
//! that), and where it says no, nothing is lost but time.
//!
//! The scanning itself is [`crate::scan`]'s.

use crate::scan::Scan;

/// The top-level `model` (borrowed) and `stream`, when the body is a valid JSON object whose
/// `model` is a non-empty string without escapes and whose `stream`, if present, is a boolean
/// or null, each given once.
pub fn model_and_stream(body: &[u8]) -> Option<(&str, bool)> {
    // The scanner leaves UTF-8 to its callers; serde_json refuses a body with invalid UTF-8 in
    // any string, so this does too (the redaction pre-scan and the direct translators check it
    // the same way, once for the whole body).
    std::str::from_utf8(body).ok()?;
    let mut s = Scan::new(body);
    s.ws();
    if s.peek()? != b'{' {
        return None;
    }
    s.i += 1;
    let (mut model, mut stream) = (None, None);
    s.ws();
    if s.peek()? == b'}' {
        return None; // no `model`
    }
    loop {
        s.ws();
        let key = s.plain_string()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        match key {
            b"model" if model.is_none() => model = Some(s.plain_string()?),
            b"stream" if stream.is_none() => {
                stream = Some(match s.peek()? {
                    b't' => s.literal(b"true").map(|_| true)?,
                    b'f' => s.literal(b"false").map(|_| false)?,
                    b'n' => s.literal(b"null").map(|_| false)?,
                    _ => return None,
                })
            }
            b"model" | b"stream" => return None, // given twice
            _ => s.value(1)?,
        }
        s.ws();
        match s.peek()? {
            b',' => s.i += 1,
            b'}' => {
                s.i += 1;
                break;
            }
            _ => return None,
        }
    }
    s.ws();
    if s.i != body.len() {
        return None;
    }
    let model = std::str::from_utf8(model?).ok().filter(|m| !m.is_empty())?;
    Some((model, stream.unwrap_or(false)))
}

/// Whether the top level of `body` gives `model` or `stream` more than once, however the key is
/// escaped. `serde_json` keeps the last copy and a provider may read the first, so the gateway
/// would route, authorize and meter one model while the provider serves another: such a body
/// is refused. Read only when [`model_and_stream`] said no (it refuses repeats itself).
pub fn repeats_routing_key(body: &[u8]) -> bool {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Probe;
    impl<'de> Visitor<'de> for Probe {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let (mut model, mut stream) = (0u32, 0u32);
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "model" => model += 1,
                    "stream" => stream += 1,
                    _ => {}
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(model > 1 || stream > 1)
        }
    }
    serde_json::Deserializer::from_slice(body).deserialize_map(Probe).unwrap_or(false)
}

/// Where `model` (a slice of `body`, as [`model_and_stream`] returns it) lies in `body`: the
/// bytes between its quotes.
pub fn span_in(body: &[u8], model: &str) -> Option<std::ops::Range<usize>> {
    let start = (model.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start.checked_add(model.len()).filter(|e| *e <= body.len())?;
    Some(start..end)
}

/// The body with the string at `span` (a [`span_in`]) replaced by `model`, everything else
/// byte for byte.
pub fn with_model(body: &[u8], span: std::ops::Range<usize>, model: &str) -> Option<Vec<u8>> {
    let (before, after) = (body.get(..span.start.checked_sub(1)?)?, body.get(span.end + 1..)?);
    let mut out = Vec::with_capacity(body.len() + model.len());
    out.extend_from_slice(before);
    // A `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut out, model);
    out.extend_from_slice(after);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_model_and_stream() {
        let cases: [(&str, Option<(&str, bool)>); 14] = [
            (r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi \"there\" \u00e9\n"}],"stream":true}"#, Some(("gpt-4o", true))),
            (r#" { "stream" : null , "model" : "m" } "#, Some(("m", false))),
            (r#"{"model":"m","n":-1.5e+3,"x":[0,1e9,{"a":[]},{}],"t":false}"#, Some(("m", false))),
            (r#"{"model":"m","stream":false}"#, Some(("m", false))),
            (r#"{"stream":true}"#, None),
            (r#"{"model":"","stream":true}"#, None),
            (r#"{"model":"m\u0031"}"#, None),
            (r#"{"model":"m","model":"n"}"#, None),
            (r#"{"model":"m","stream":"yes"}"#, None),
            (r#"{"model":"m","x":01}"#, None),
            (r#"{"model":"m","x":"\x"}"#, None),
            (r#"{"model":"m",}"#, None),
            (r#"{"model":"m"} x"#, None),
            (r#"["model"]"#, None),
        ];
        for (body, want) in cases {
            assert_eq!(model_and_stream(body.as_bytes()), want, "{body}");
        }
        assert_eq!(model_and_stream(b"{\"model\":\"m\",\"x\":\"a\x01b\"}"), None, "a raw control character");
        // Found by fuzzing (fuzz target `scan`): invalid UTF-8 in another string, and a number
        // beyond f64, both of which serde_json refuses.
        assert_eq!(model_and_stream(b"{\"model\":\"m\",\"x\":\"a\x8fb\"}"), None, "invalid UTF-8");
        assert_eq!(model_and_stream(br#"{"model":"m","max_tokens":1e400}"#), None, "1e400");
        let deep = format!(r#"{{"model":"m","x":{}1{}}}"#, "[".repeat(127), "]".repeat(127));
        assert_eq!(model_and_stream(deep.as_bytes()), Some(("m", false)));
        let deeper = format!(r#"{{"model":"m","x":{}1{}}}"#, "[".repeat(128), "]".repeat(128));
        assert_eq!(model_and_stream(deeper.as_bytes()), None);
        assert!(serde_json::from_str::<serde_json::Value>(&deeper).is_err(), "serde refuses it too");
    }

    #[test]
    fn sees_routing_keys_given_twice_however_escaped() {
        for (body, twice) in [
            (r#"{"model":"a","x":{"model":"b"},"stream":true}"#, false),
            (r#"{"model":"a","model":"b"}"#, true),
            (r#"{"model":"a","mod\u0065l":"b"}"#, true),
            (r#"{"stream":true,"messages":[],"stream":false}"#, true),
            (r#"{"model":"a","#, false),
            (r#"[1,2]"#, false),
        ] {
            assert_eq!(repeats_routing_key(body.as_bytes()), twice, "{body}");
        }
    }

    #[test]
    fn renames_the_model_in_place() {
        let body = br#" {"messages":[{"role":"user","content":"model"}], "model" : "fast","x":{"model":"y"}} "#;
        let (old, _) = model_and_stream(body).unwrap();
        let out = with_model(body, span_in(body, old).unwrap(), "gpt-\"4o\"").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#" {"messages":[{"role":"user","content":"model"}], "model" : "gpt-\"4o\"","x":{"model":"y"}} "#);
        assert_eq!(span_in(body, "elsewhere"), None);
    }

    /// The two fields as serde reads them, skipping the rest (as the planner did before).
    #[derive(serde::Deserialize)]
    struct H {
        model: String,
        #[serde(default)]
        stream: Option<bool>,
    }

    /// Wherever this pass says yes, serde_json parses the body to the same `model` and
    /// `stream`: random edits of real-shaped bodies (xorshift, fixed seed).
    #[test]
    fn agrees_with_serde_json() {
        let bases = [
            r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say \"hi\"\n\u00e9 ok"}],"temperature":0.2,"stream":false,"max_tokens":128,"stop":null,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]}"#,
            r#"{"stream":true,"model":"claude","x":[1,-2,3.5,4e10,-0.0,true,false,null,"",{}]}"#,
        ];
        let alphabet = b"{}[]\":,\\ tfnrue0123456789.-+eEabu\x01\n/";
        let mut rng = crate::testing::Rng::new(0x9e37_79b9_7f4a_7c15u64);
        let mut accepted = 0;
        for round in 0..30_000 {
            let mut body = bases[round % 2].as_bytes().to_vec();
            crate::testing::edit(&mut body, &mut rng, alphabet, 3);
            if let Some((model, stream)) = model_and_stream(&body) {
                accepted += 1;
                let h: H = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("serde refuses {}: {e}", String::from_utf8_lossy(&body)));
                assert_eq!((h.model.as_str(), h.stream.unwrap_or(false)), (model, stream));
            }
        }
        assert!(accepted > 1000, "the edits should leave many bodies valid ({accepted})");
    }
}
