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
//! Strings are skipped eight bytes at a time (`u64` arithmetic is native in wasm), looking for
//! a quote, a backslash or a control character at once.

/// `serde_json`'s recursion limit: deeper bodies go to the full parse, which refuses them.
const MAX_DEPTH: usize = 128;

/// The top-level `model` (borrowed) and `stream`, when the body is a valid JSON object whose
/// `model` is a non-empty string without escapes and whose `stream`, if present, is a boolean
/// or null, each given once.
pub fn model_and_stream(body: &[u8]) -> Option<(&str, bool)> {
    let mut s = Scan { b: body, i: 0 };
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

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

const ONES: u64 = u64::MAX / 255;
const HIGHS: u64 = ONES << 7;

/// Bytes of `w` equal to `c`, flagged in their high bit (exact for every byte).
fn eq_mask(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    !(((x & !HIGHS).wrapping_add(!HIGHS)) | x) & HIGHS
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string without escapes: its raw bytes (the body's bytes, so valid UTF-8 is left to
    /// the caller).
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        self.skip_plain();
        let end = self.i;
        self.eat(b'"')?;
        self.b.get(start..end)
    }

    /// Advances to the next quote, backslash or control character (or the end).
    fn skip_plain(&mut self) {
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let w = u64::from_le_bytes(w);
            // A control byte is one below 0x20: its high bit is clear and it is under 0x20 with
            // the high bit masked off.
            let ctrl = !(((w & !HIGHS).wrapping_add(ONES * (0x80 - 0x20))) | w) & HIGHS;
            let hit = ctrl | eq_mask(w, b'"') | eq_mask(w, b'\\');
            if hit != 0 {
                self.i += (hit.trailing_zeros() / 8) as usize;
                return;
            }
            self.i += 8;
        }
        while matches!(self.peek(), Some(c) if c >= 0x20 && c != b'"' && c != b'\\') {
            self.i += 1;
        }
    }

    /// Any string, escapes checked.
    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            self.skip_plain();
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a control character
            }
        }
    }

    fn digits(&mut self) -> Option<()> {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }

    fn number(&mut self) -> Option<()> {
        if self.peek()? == b'-' {
            self.i += 1;
        }
        if self.peek()? == b'0' {
            self.i += 1;
        } else {
            self.digits()?;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits()?;
        }
        Some(())
    }

    /// Any value, nested `depth` levels deep.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            open @ (b'[' | b'{') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                let close = if open == b'[' { b']' } else { b'}' };
                self.ws();
                if self.peek()? == close {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        c if c == close => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }
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
        let deep = format!(r#"{{"model":"m","x":{}1{}}}"#, "[".repeat(127), "]".repeat(127));
        assert_eq!(model_and_stream(deep.as_bytes()), Some(("m", false)));
        let deeper = format!(r#"{{"model":"m","x":{}1{}}}"#, "[".repeat(128), "]".repeat(128));
        assert_eq!(model_and_stream(deeper.as_bytes()), None);
        assert!(serde_json::from_str::<serde_json::Value>(&deeper).is_err(), "serde refuses it too");
    }

    #[test]
    fn finds_specials_in_any_position() {
        for n in 0..40 {
            for special in [b'"', b'\\', 0x1f, 0x00] {
                let mut b = vec![b'a'; n];
                b.push(special);
                b.extend_from_slice(b"tail 0123456789");
                let mut s = Scan { b: &b, i: 0 };
                s.skip_plain();
                assert_eq!(s.i, n, "special {special:#x} after {n} bytes");
            }
            // High bytes (UTF-8) and bytes just above the control range are not special.
            let b: Vec<u8> = (0..n).map(|k| [0x20u8, 0x7f, 0x80, 0xe9, 0xff, b'!', b']'][k % 7]).collect();
            let mut s = Scan { b: &b, i: 0 };
            s.skip_plain();
            assert_eq!(s.i, n);
        }
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
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
        for round in 0..30_000 {
            let mut body = bases[round % 2].as_bytes().to_vec();
            for _ in 0..1 + rand() % 3 {
                let at = (rand() as usize) % (body.len() + 1);
                let c = alphabet[(rand() as usize) % alphabet.len()];
                match rand() % 3 {
                    0 if at < body.len() => body[at] = c,
                    1 if at < body.len() => {
                        body.remove(at);
                    }
                    _ => body.insert(at, c),
                }
            }
            if let Some((model, stream)) = model_and_stream(&body) {
                accepted += 1;
                let h: H = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("serde refuses {}: {e}", String::from_utf8_lossy(&body)));
                assert_eq!((h.model.as_str(), h.stream.unwrap_or(false)), (model, stream));
            }
        }
        assert!(accepted > 1000, "the edits should leave many bodies valid ({accepted})");
    }
}
