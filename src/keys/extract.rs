//! Finding the presented key in request headers, the way the official SDKs send it.

/// Returns the first non-empty key found in `names` (lower-case header names, in order).
/// `authorization` must use the `Bearer` scheme; other headers carry the bare key.
pub fn presented_key<'a>(names: &[String], header: impl Fn(&str) -> Option<&'a str>) -> Option<&'a str> {
    for name in names {
        let Some(raw) = header(name) else { continue };
        let value = if name == "authorization" { strip_bearer(raw) } else { Some(raw.trim()) };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            return Some(v);
        }
    }
    None
}

fn strip_bearer(raw: &str) -> Option<&str> {
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn names() -> Vec<String> {
        vec!["authorization".into(), "x-api-key".into(), "api-key".into()]
    }

    #[test]
    fn sdk_forms() {
        let h = |want: &'static str, val: &'static str| move |n: &str| (n == want).then_some(val);
        assert_eq!(presented_key(&names(), h("authorization", "Bearer tg-1")), Some("tg-1"));
        assert_eq!(presented_key(&names(), h("authorization", "bearer  tg-1 ")), Some("tg-1"));
        assert_eq!(presented_key(&names(), h("x-api-key", "tg-2")), Some("tg-2"));
        assert_eq!(presented_key(&names(), h("api-key", "tg-3")), Some("tg-3"));
        assert_eq!(presented_key(&names(), h("authorization", "Basic abc")), None);
        assert_eq!(presented_key(&names(), h("authorization", "Bearer ")), None);
        assert_eq!(presented_key(&names(), |_| None), None);
    }

    #[test]
    fn order_of_preference() {
        let h = |n: &str| match n {
            "authorization" => Some("Bearer first"),
            "x-api-key" => Some("second"),
            _ => None,
        };
        assert_eq!(presented_key(&names(), h), Some("first"));
    }
}
