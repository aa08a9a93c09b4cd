//! The JSON path of a parse error: which field of the configuration `serde_json` stopped at.
//!
//! `serde_json` says where it stopped (line and column); this walks the text to that point and
//! names the innermost key or value there, in the form `providers[2].kind` (`.` for the whole
//! document). An unknown field names itself, a value of the wrong type names its field, and a
//! missing field names the object it is missing from. Tracking the path while deserializing
//! (`serde_path_to_error`) would do the same, at the price of a second copy of every
//! configuration type's deserializer: about 54 KB of the module.

use crate::scan::Scan;

/// The path at the error `serde_json` reported at `line` and `column` (both from 1) of `json`.
pub fn path_at_line_column(json: &[u8], line: usize, column: usize) -> String {
    let line_start = if line <= 1 {
        0
    } else {
        json.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(line - 2).map_or(json.len(), |(i, _)| i + 1)
    };
    path_at(json, line_start + column)
}

/// One step of a path.
enum Seg<'a> {
    Key(&'a [u8]),
    Index(usize),
}

/// The path of the innermost key or value of `json` at byte `at`, in `serde_path_to_error`'s
/// form. `serde_json` reports an error just past what it read (a scalar, a key, an object's
/// closing brace) or, for an object or array of the wrong type, at its opening bracket: so
/// this is the first value or key, depth first, that starts at `at` or ends at or after it.
pub fn path_at(json: &[u8], at: usize) -> String {
    let mut s = Scan::new(json);
    let mut path = Vec::new();
    s.ws();
    walk(&mut s, at, &mut path);
    let mut out = String::new();
    for seg in &path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                // The key as written, escapes read (it came from a string `serde_json` took).
                let quoted = [&b"\""[..], k, b"\""].concat();
                match serde_json::from_slice::<serde_json::Value>(&quoted) {
                    Ok(serde_json::Value::String(key)) => out.push_str(&key),
                    _ => out.push_str(&String::from_utf8_lossy(k)),
                }
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    if path.is_empty() {
        out.push('.');
    }
    out
}

/// Reads the value at `s`; `true` when the error position lies within it (`path` then ends at
/// the innermost key or value that holds it). Text it cannot read counts as holding it.
fn walk<'a>(s: &mut Scan<'a>, at: usize, path: &mut Vec<Seg<'a>>) -> bool {
    let (open, close) = match s.peek() {
        Some(b'{') => (b'{', b'}'),
        Some(b'[') => (b'[', b']'),
        _ => return s.value(crate::scan::MAX_DEPTH - 1).is_none() || s.i >= at,
    };
    if s.i >= at {
        // At the bracket: `serde_json` found the value itself of the wrong type.
        return true;
    }
    s.i += 1;
    let mut index = 0;
    loop {
        s.ws();
        if s.peek() == Some(close) {
            s.i += 1;
            return s.i >= at;
        }
        if open == b'{' {
            let Some(key) = s.string() else { return true };
            path.push(Seg::Key(key));
            if s.i >= at {
                return true;
            }
            s.ws();
            if s.eat(b':').is_none() {
                return true;
            }
        } else {
            path.push(Seg::Index(index));
            index += 1;
        }
        s.ws();
        if walk(s, at, path) {
            return true;
        }
        path.pop();
        s.ws();
        match s.peek() {
            Some(b',') => s.i += 1,
            Some(c) if c == close => {}
            _ => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn names_the_key_or_value_at_a_position() {
        let json = br#"{"a": {"b": [10, {"c": "x"}]}, "d": 1}"#;
        let at = |needle: &str, after: bool| {
            let i = json.windows(needle.len()).position(|w| w == needle.as_bytes()).unwrap();
            path_at(json, if after { i + needle.len() } else { i })
        };
        assert_eq!(at(r#""x""#, true), "a.b[1].c");
        assert_eq!(at("10", true), "a.b[0]");
        assert_eq!(at(r#""c""#, true), "a.b[1].c", "just past a key: the key");
        assert_eq!(at(r#"{"c": "x"}"#, true), "a.b[1]", "just past an object: the object");
        assert_eq!(at(r#"{"c": "x"}"#, false), "a.b[1]", "at an object's brace: the object");
        assert_eq!(at(r#"[10"#, false), "a.b");
        assert_eq!(at(r#""d""#, true), "d");
        assert_eq!(path_at(json, json.len()), ".");
        assert_eq!(path_at(br#"{"a": [1, 2,"#, 12), "a[2]", "cut short: where the next value was due");
    }
}

#[cfg(test)]
mod agreement {
    use super::*;
    use crate::config::ConfigDto;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The path this names is the one `serde_path_to_error` names while deserializing: real
    /// configurations edited at random (xorshift, fixed seed), wherever `serde_json` refuses
    /// them as a configuration (a type, a value, a field); text that is not JSON at all is
    /// located by the message's line and column.
    #[test]
    fn agrees_with_serde_path_to_error() {
        let bases = [
            r#"{"providers": [{"name": "a", "kind": "openai", "cluster": "c", "host": "h", "api_key_env": "K"}, {"name": "b", "kind": "anthropic", "cluster": "d"}], "models": [{"name": "m", "targets": [{"provider": "a", "weight": 2}], "fallbacks": [{"provider": "b"}]}], "auth": {"mode": "keys"}, "max_request_bytes": 1000}"#,
            r#"{"keys": [{"id": "k", "tenant": "t", "digests": ["sha256:00"], "models": ["m*"]}], "redaction": {"enabled": true, "detectors": {"email": "mask"}, "custom": [{"name": "x", "pattern": "a+"}]}, "telemetry": {"stats": false}}"#,
        ];
        let alphabet = b"{}[]\":,\\ tfnrue0123456789.-abxyz";
        let mut rng = crate::testing::Rng::new(0x1234_5678_9abc_def1u64);
        let (mut compared, mut differ) = (0, Vec::new());
        for round in 0..4000 {
            let mut body = bases[round % 2].as_bytes().to_vec();
            crate::testing::edit(&mut body, &mut rng, alphabet, 2);
            let de = &mut serde_json::Deserializer::from_slice(&body);
            let Err(e) = serde_path_to_error::deserialize::<_, ConfigDto>(de) else { continue };
            let want = e.path().to_string();
            let inner = e.into_inner();
            let got = path_at_line_column(&body, inner.line(), inner.column());
            if inner.classify() != serde_json::error::Category::Data {
                // Not JSON: the message's line and column say where; any path will do.
                assert!(!got.is_empty());
                continue;
            }
            compared += 1;
            if got != want {
                differ.push(format!("{want} vs {got}: {}: {}", inner, String::from_utf8_lossy(&body)));
            }
        }
        assert!(compared > 300, "{compared}");
        assert!(differ.is_empty(), "{} of {compared} differ:\n{}", differ.len(), differ.iter().take(15).cloned().collect::<Vec<_>>().join("\n"));
    }
}
