//! Decoding property values returned by the host: plain strings, or protobuf-encoded string lists.

/// Values of a property: a UTF-8 string leaf is one value; a serialized `google.protobuf.ListValue`
/// of strings gives each string. Anything else gives none.
pub fn strings(bytes: &[u8]) -> Vec<String> {
    if let Some(list) = list_value(bytes) {
        return list;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.is_empty() && !s.chars().any(char::is_control) => vec![s.to_string()],
        _ => Vec::new(),
    }
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
}
