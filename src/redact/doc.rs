//! A borrowed JSON document for the redaction pre-scan: strings without escapes point into the
//! request body, so reading a clean prompt allocates one vector per object and array and
//! nothing per string (a `serde_json::Value` allocates every key and every string). It is read
//! by the shared validating scanner ([`crate::scan`]), which skips string bytes eight at a time.

use super::node::{Node, Shape};
use crate::scan::{Scan, MAX_DEPTH};
use std::borrow::Cow;

/// One JSON value; numbers are not kept (the walkers never read them).
#[derive(Debug, Clone, PartialEq)]
pub enum Doc<'a> {
    Null,
    Bool(bool),
    Number,
    Str(Cow<'a, str>),
    Array(Vec<Doc<'a>>),
    Object(Vec<(Cow<'a, str>, Doc<'a>)>),
}

/// Why a body gave no document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// An object repeats a key (however it is escaped): the body would carry a value the scan
    /// did not see under the name a provider may read.
    RepeatedKey,
    /// Not one JSON value the scanner accepts (`serde_json` gives the precise error).
    Invalid,
}

impl<'a> Doc<'a> {
    /// Parses `body`: one JSON value, with whitespace around it.
    pub fn parse(body: &'a [u8]) -> Result<Doc<'a>, Unread> {
        // UTF-8 checked once for the whole body (outside its strings JSON is ASCII anyway);
        // every string without an escape is then a slice of it, checked no more.
        let whole = std::str::from_utf8(body).map_err(|_| Unread::Invalid)?;
        let mut s = Scan::new(body);
        s.ws();
        let doc = read(&mut s, whole, 0)?;
        s.end().ok_or(Unread::Invalid)?;
        Ok(doc)
    }
}

/// Objects up to this many keys check repeats pairwise.
const SMALL: usize = 16;

/// One value at the scanner's position; `whole` is the body the scanner reads, as text.
fn read<'a>(s: &mut Scan<'a>, whole: &'a str, depth: usize) -> Result<Doc<'a>, Unread> {
    let scalar = match s.peek() {
        Some(b'"') => return text(s, whole).map(Doc::Str),
        Some(open @ (b'[' | b'{')) => return container(s, whole, open, depth),
        Some(b't') => s.literal(b"true").map(|()| Doc::Bool(true)),
        Some(b'f') => s.literal(b"false").map(|()| Doc::Bool(false)),
        Some(b'n') => s.literal(b"null").map(|()| Doc::Null),
        Some(b'-' | b'0'..=b'9') => s.number().map(|_| Doc::Number),
        _ => None,
    };
    scalar.ok_or(Unread::Invalid)
}

/// An array or an object (`open` is its first byte), nested `depth` levels deep.
fn container<'a>(s: &mut Scan<'a>, whole: &'a str, open: u8, depth: usize) -> Result<Doc<'a>, Unread> {
    use Unread::Invalid;
    if depth >= MAX_DEPTH {
        return Err(Invalid);
    }
    s.i += 1;
    let close = if open == b'[' { b']' } else { b'}' };
    let mut items = Vec::new();
    let mut members: Vec<(Cow<'a, str>, Doc<'a>)> = Vec::new();
    // Small objects compare keys pairwise; past `SMALL` keys a set keeps the check linear.
    let mut seen: Option<std::collections::HashSet<String>> = None;
    s.ws();
    if s.eat(close).is_none() {
        loop {
            s.ws();
            if open == b'[' {
                items.push(read(s, whole, depth + 1)?);
            } else {
                let key = text(s, whole)?;
                let repeated = match seen.as_mut() {
                    Some(set) => !set.insert(key.to_string()),
                    None => members.iter().any(|(m, _)| *m == key),
                };
                if repeated {
                    return Err(Unread::RepeatedKey);
                }
                s.ws();
                s.eat(b':').ok_or(Invalid)?;
                s.ws();
                members.push((key, read(s, whole, depth + 1)?));
                if seen.is_none() && members.len() == SMALL {
                    seen = Some(members.iter().map(|(m, _)| m.to_string()).collect());
                }
            }
            s.ws();
            match s.peek() {
                Some(b',') => s.i += 1,
                Some(c) if c == close => {
                    s.i += 1;
                    break;
                }
                _ => return Err(Invalid),
            }
        }
    }
    Ok(if open == b'[' { Doc::Array(items) } else { Doc::Object(members) })
}

/// A string: borrowed from `whole` when it has no escape, decoded by `serde_json` when it has one.
fn text<'a>(s: &mut Scan<'a>, whole: &'a str) -> Result<Cow<'a, str>, Unread> {
    let start = s.i;
    let (raw, escaped) = s.string_span().ok_or(Unread::Invalid)?;
    if !escaped {
        // Between two quotes: both ends are character boundaries.
        return whole.get(raw).map(Cow::Borrowed).ok_or(Unread::Invalid);
    }
    let quoted = s.b.get(start..s.i).ok_or(Unread::Invalid)?;
    serde_json::from_slice::<String>(quoted).map(Cow::Owned).map_err(|_| Unread::Invalid)
}

impl Node for Doc<'_> {
    fn shape(&self) -> Shape {
        match self {
            Doc::Null => Shape::Null,
            Doc::Str(_) => Shape::Str,
            Doc::Array(_) => Shape::Array,
            Doc::Object(_) => Shape::Object,
            Doc::Bool(_) | Doc::Number => Shape::Scalar,
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            Doc::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Doc::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn member(&self, key: &str) -> Option<&Self> {
        match self {
            Doc::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn member_mut(&mut self, key: &str) -> Option<&mut Self> {
        match self {
            Doc::Object(m) => m.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn elements_mut(&mut self) -> &mut [Self] {
        match self {
            Doc::Array(a) => a,
            _ => &mut [],
        }
    }

    fn each_member_mut(&mut self, f: &mut dyn FnMut(&mut Self)) {
        if let Doc::Object(m) = self {
            m.iter_mut().for_each(|(_, v)| f(v));
        }
    }

    fn set_text(&mut self, text: String) {
        *self = Doc::Str(Cow::Owned(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn borrows_plain_strings_and_decodes_escaped_ones() {
        let body = br#"{"model": "m", "stream": true, "n": 1.5, "messages": [{"role": "user", "content": "a\nb"}, null]}"#;
        let doc = Doc::parse(body).unwrap();
        assert!(matches!(doc.member("model"), Some(Doc::Str(Cow::Borrowed("m")))));
        assert_eq!(doc.member("stream"), Some(&Doc::Bool(true)));
        assert_eq!(doc.member("n"), Some(&Doc::Number));
        let Some(Doc::Array(m)) = doc.member("messages") else { panic!("{doc:?}") };
        assert!(matches!(m[0].member("content"), Some(Doc::Str(Cow::Owned(s))) if s == "a\nb"));
        assert_eq!(m[1], Doc::Null);
    }

    #[test]
    fn repeated_keys_and_bad_json_are_told_apart() {
        assert_eq!(Doc::parse(br#"{"messages": [{"content": "a", "content": "b"}]}"#), Err(Unread::RepeatedKey));
        // An escaped spelling of the same key is the same key.
        assert_eq!(Doc::parse(br#"{"a": 1, "\u0061": 2}"#), Err(Unread::RepeatedKey));
        assert_eq!(Doc::parse(br#"{"a": 1,}"#), Err(Unread::Invalid));
        assert_eq!(Doc::parse(b"{\"a\": 01}"), Err(Unread::Invalid));
        assert_eq!(Doc::parse(b" [1, {}] x"), Err(Unread::Invalid));
        let many = |extra: &str| format!("{{{}{extra}}}", (0..40).map(|i| format!("\"k{i}\": {i}")).collect::<Vec<_>>().join(", "));
        assert!(Doc::parse(many("").as_bytes()).is_ok());
        assert_eq!(Doc::parse(many(", \"k3\": 0").as_bytes()), Err(Unread::RepeatedKey), "repeats found past the pairwise size too");
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(Doc::parse(deep(128).as_bytes()).is_ok());
        assert_eq!(Doc::parse(deep(129).as_bytes()), Err(Unread::Invalid), "serde_json's recursion limit");
    }

    /// The document as `serde_json` reads it, through a visitor: the reference the scanner's
    /// reading is held to.
    mod reference {
        use super::super::Doc;
        use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
        use std::borrow::Cow;
        use std::fmt;

        pub const DUPLICATE_KEY: &str = "duplicate key";

        pub struct Ref<'a>(pub Doc<'a>);

        impl<'de> Deserialize<'de> for Ref<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(DocVisitor).map(Ref)
            }
        }

        struct DocVisitor;

        impl<'de> Visitor<'de> for DocVisitor {
            type Value = Doc<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Doc<'de>, E> {
                Ok(Doc::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Doc<'de>, E> {
                Ok(Doc::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Doc<'de>, E> {
                Ok(Doc::Number)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Doc<'de>, E> {
                Ok(Doc::Number)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Doc<'de>, E> {
                Ok(Doc::Number)
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Doc<'de>, E> {
                Ok(Doc::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Doc<'de>, E> {
                Ok(Doc::Str(Cow::Owned(s.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(Ref(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Doc::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
                let mut members: Vec<(Cow<'de, str>, Doc<'de>)> = Vec::new();
                while let Some(Ref(k)) = map.next_key()? {
                    let Doc::Str(k) = k else { return Err(de::Error::custom("key")) };
                    if members.iter().any(|(m, _)| *m == k) {
                        return Err(de::Error::custom(DUPLICATE_KEY));
                    }
                    members.push((k, map.next_value::<Ref>()?.0));
                }
                Ok(Doc::Object(members))
            }
        }
    }

    /// The scanner reads every body as the `serde_json` visitor it replaced did: the same
    /// document, a repeated key where that found one, and no document where that had none.
    /// (A number `serde_json` finds out of range, such as `1e400`, is refused here too: the
    /// scanner refuses it.)
    #[test]
    fn reads_what_serde_json_reads() {
        use reference::{Ref, DUPLICATE_KEY};
        let base = br#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be \"brief\"\u00e9."},{"role":"user","content":[{"type":"text","text":"Mail a@b.co"},{"type":"image_url","image_url":{"url":"x"}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}],"temperature":0.25,"n":1,"stream":false,"stop":null,"x":[true,-1.5e3,{}]}"#;
        let mut rng = crate::testing::Rng::new(0x2545_f491_4f6c_dd1d);
        let alphabet = b"{}[]\",:\\ aeu0159.-+tfnlrsE\x01\xc3\xa9";
        let (mut ok, mut repeated) = (0, 0);
        for round in 0..20_000 {
            let mut body = base.to_vec();
            if round % 4 == 1 {
                // A member whose key may repeat one of its object's, spelled plain or escaped.
                let braces: Vec<usize> = body.iter().enumerate().filter(|(_, &b)| b == b'{').map(|(i, _)| i + 1).collect();
                let key = ["\"role\"", "\"type\"", "\"model\"", "\"\\u0074ype\"", "\"name\""][rng.below(5)];
                let at = braces[rng.below(braces.len())];
                body.splice(at..at, format!("{key}:0,").into_bytes());
            }
            if round > 0 && round % 2 == 0 {
                crate::testing::edit(&mut body, &mut rng, alphabet, 4);
            }
            let mine = Doc::parse(&body);
            match serde_json::from_slice::<Ref>(&body) {
                Ok(Ref(d)) => {
                    assert_eq!(mine, Ok(d), "{}", String::from_utf8_lossy(&body));
                    ok += 1;
                }
                Err(e) if e.to_string().starts_with(DUPLICATE_KEY) => {
                    assert_eq!(mine, Err(Unread::RepeatedKey), "{}", String::from_utf8_lossy(&body));
                    repeated += 1;
                }
                Err(e) if e.to_string().starts_with("number out of range") => {}
                Err(e) => assert_eq!(mine, Err(Unread::Invalid), "{e}: {}", String::from_utf8_lossy(&body)),
            }
        }
        assert!(ok > 2_000 && repeated > 20, "{ok} valid, {repeated} with a repeated key");
    }
}
