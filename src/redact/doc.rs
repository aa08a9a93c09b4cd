//! A borrowed JSON document for the redaction pre-scan: strings without escapes point into the
//! request body, so reading a clean prompt allocates one vector per object and array and
//! nothing per string (a `serde_json::Value` allocates every key and every string).

use super::node::{Node, Shape};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

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

/// The message of the error a repeated object key raises (a data error, not a syntax error).
pub const DUPLICATE_KEY: &str = "duplicate key";

impl<'a> Doc<'a> {
    /// Parses `body`. A repeated key in any object is an error of category `Data`: the body
    /// would carry a value the scan did not see under the name a provider may read.
    pub fn parse(body: &'a [u8]) -> Result<Doc<'a>, serde_json::Error> {
        serde_json::from_slice(body)
    }
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

/// A string that borrows from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Doc<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

/// Objects up to this many keys check repeats pairwise.
const SMALL: usize = 16;

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
    fn visit_string<E: de::Error>(self, s: String) -> Result<Doc<'de>, E> {
        Ok(Doc::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Doc::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Doc<'de>)> = Vec::new();
        // Small objects compare keys pairwise; past `SMALL` keys a set keeps the check linear.
        let mut seen: Option<std::collections::HashSet<String>> = None;
        while let Some(Text(k)) = map.next_key()? {
            let repeated = match seen.as_mut() {
                Some(set) => !set.insert(k.to_string()),
                None => members.iter().any(|(m, _)| *m == k),
            };
            if repeated {
                return Err(de::Error::custom(DUPLICATE_KEY));
            }
            members.push((k, map.next_value()?));
            if seen.is_none() && members.len() == SMALL {
                seen = Some(members.iter().map(|(m, _)| m.to_string()).collect());
            }
        }
        Ok(Doc::Object(members))
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
    fn repeated_keys_are_a_data_error_and_bad_json_a_syntax_error() {
        let e = Doc::parse(br#"{"messages": [{"content": "a", "content": "b"}]}"#).unwrap_err();
        assert_eq!(e.classify(), serde_json::error::Category::Data);
        assert!(e.to_string().starts_with(DUPLICATE_KEY));
        // An escaped spelling of the same key is the same key.
        assert!(Doc::parse(br#"{"a": 1, "\u0061": 2}"#).unwrap_err().is_data());
        assert!(Doc::parse(br#"{"a": 1,}"#).unwrap_err().is_syntax());
        assert!(Doc::parse(b"{\"a\": 01}").is_err());
        let many = |extra: &str| format!("{{{}{extra}}}", (0..40).map(|i| format!("\"k{i}\": {i}")).collect::<Vec<_>>().join(", "));
        assert!(Doc::parse(many("").as_bytes()).is_ok());
        assert!(Doc::parse(many(", \"k3\": 0").as_bytes()).unwrap_err().is_data(), "repeats found past the pairwise size too");
    }
}
