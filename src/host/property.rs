//! Decoding property values returned by the host: plain strings, or lists of strings.
//!
//! Envoy (checked on 1.40) returns a string leaf of dynamic metadata as its raw UTF-8 bytes, and
//! a list (e.g. a JWT `groups` claim in jwt_authn's `payload_in_metadata`) in the proxy-wasm
//! map ("pairs") serialization, one pair per element with an empty value:
//! `u32 count, count × (u32 key_len, u32 value_len), count × (key \0 value \0)`, little-endian.
//! A serialized `google.protobuf.ListValue` of strings is accepted too.

/// Values of a property: a UTF-8 string leaf is one value; a list of strings gives each string
/// (non-string elements are skipped). Anything else (maps, numbers, binary) gives none.
pub fn strings(bytes: &[u8]) -> Vec<String> {
    if let Some(list) = pairs_list(bytes).or_else(|| list_value(bytes)) {
        return list;
    }
    text(bytes).map(str::to_string).into_iter().collect()
}

/// A non-empty UTF-8 string without control characters (so never a serialized list or map).
fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok().filter(|s| !s.is_empty() && !s.chars().any(char::is_control))
}

/// Decodes Envoy's serialization of a list: proxy-wasm pairs whose values are all empty.
/// `None` when the bytes are not exactly that shape (a map has non-empty values).
fn pairs_list(bytes: &[u8]) -> Option<Vec<String>> {
    let pairs = super::pairs::Pairs::parse(bytes)?;
    if pairs.iter().any(|(_, value)| !value.is_empty()) {
        return None;
    }
    Some(pairs.iter().filter_map(|(key, _)| text(key).map(str::to_string)).collect())
}

/// Decodes `ListValue { repeated Value values = 1; }` where each `Value` is `string_value = 3`.
fn list_value(bytes: &[u8]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut r = Reader { b: bytes, i: 0 };
    if bytes.is_empty() {
        return None;
    }
    while r.i < bytes.len() {
        if r.varint()? != (1 << 3 | 2) {
            return None;
        }
        let value = r.bytes()?;
        let mut v = Reader { b: value, i: 0 };
        if v.varint()? != (3 << 3 | 2) {
            return None;
        }
        let s = std::str::from_utf8(v.bytes()?).ok()?;
        if v.i != value.len() {
            return None;
        }
        out.push(s.to_string());
    }
    Some(out)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i)?;
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.i.checked_add(len)?;
        let s = self.b.get(self.i..end)?;
        self.i = end;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn list(items: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in items {
            let mut v = vec![0x1a, s.len() as u8];
            v.extend_from_slice(s.as_bytes());
            out.push(0x0a);
            out.push(v.len() as u8);
            out.extend(v);
        }
        out
    }

    #[test]
    fn plain_and_lists() {
        assert_eq!(strings(b"alice"), vec!["alice"]);
        assert_eq!(strings(&list(&["admins", "dev"])), vec!["admins", "dev"]);
        assert!(strings(b"").is_empty());
        assert!(strings(&[0xff, 0xfe]).is_empty());
        assert!(strings(&[0x0a, 0x05, 0x1a]).is_empty(), "truncated list is not a string either");
    }

    /// Envoy's encoding of a list, as `pairs` (element, empty value).
    fn pairs(items: &[&[u8]], values: &[&[u8]]) -> Vec<u8> {
        let mut out = (items.len() as u32).to_le_bytes().to_vec();
        for (k, v) in items.iter().zip(values) {
            out.extend((k.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (k, v) in items.iter().zip(values) {
            out.extend(*k);
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn envoy_pairs_lists() {
        // Bytes Envoy 1.40 returned for jwt_authn metadata `groups: ["guests", "nobody"]`.
        let real = [2, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 103, 117, 101, 115, 116, 115, 0, 0, 110, 111, 98, 111, 100, 121, 0, 0];
        assert_eq!(strings(&real), vec!["guests", "nobody"]);
        assert_eq!(strings(&pairs(&[b"admins"], &[b""])), vec!["admins"]);
        assert!(strings(&pairs(&[], &[])).is_empty(), "empty list");
        assert_eq!(strings(&pairs(&[b"a", &[0xff, 0x01], b"b"], &[b"", b"", b""])), vec!["a", "b"], "non-string elements skipped");
        assert!(strings(&pairs(&[b"role"], &[b"admins"])).is_empty(), "a map is not a list");
        let mut cut = real.to_vec();
        cut.pop();
        assert!(strings(&cut).is_empty(), "truncated");
        cut.extend([0, 0]);
        assert!(strings(&cut).is_empty(), "trailing bytes");
        assert!(strings(&[0xff, 0xff, 0xff, 0xff]).is_empty(), "huge count");
    }
}
