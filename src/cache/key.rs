//! The cache key: SHA-256 over everything that changes an answer. Each part is written with its
//! length first, so no two different inputs run together into the same bytes.

use serde_json::Value;

/// What a request's answer depends on.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    /// The client's endpoint (its dialect): answers are stored per endpoint.
    pub endpoint: &'a str,
    pub route: &'a str,
    pub provider: &'a str,
    pub upstream_model: &'a str,
    /// The name the client asked for (reported back in the answer).
    pub requested_model: &'a str,
    /// `tenant:<t>`, `key:<id>` or `global`.
    pub partition: &'a str,
    /// The body as sent upstream (after redaction and translation).
    pub body: &'a [u8],
}

/// The key's digest; `None` when the body is not a JSON object (such a request is not cached).
/// The body's `stream` and `stream_options` are left out, so a streamed request and a JSON one
/// share their answer; every other field (messages, every generation parameter) is in.
pub fn digest(k: &KeyInput<'_>) -> Option<[u8; 32]> {
    let mut v: Value = serde_json::from_slice(k.body).ok()?;
    let map = v.as_object_mut()?;
    map.remove("stream");
    map.remove("stream_options");
    let body = serde_json::to_vec(&v).ok()?;
    let mut buf = Vec::with_capacity(body.len() + 128);
    for part in [k.endpoint.as_bytes(), k.route.as_bytes(), k.provider.as_bytes(), k.upstream_model.as_bytes(), k.requested_model.as_bytes(), k.partition.as_bytes(), &body] {
        buf.extend_from_slice(&(part.len() as u64).to_le_bytes());
        buf.extend_from_slice(part);
    }
    Some(crate::crypto::sha256(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn input<'a>(partition: &'a str, body: &'a str) -> KeyInput<'a> {
        KeyInput { endpoint: "chat", route: "r", provider: "p", upstream_model: "m", requested_model: "m", partition, body: body.as_bytes() }
    }

    #[test]
    fn stream_flags_are_left_out_and_everything_else_counts() {
        let plain = digest(&input("tenant:a", r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)).unwrap();
        let streamed = digest(&input("tenant:a", r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#));
        assert_eq!(Some(plain), streamed);
        assert_ne!(Some(plain), digest(&input("tenant:b", r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)), "another tenant");
        assert_ne!(Some(plain), digest(&input("tenant:a", r#"{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}]}"#)), "a parameter");
        assert_ne!(Some(plain), digest(&input("tenant:a", r#"{"model":"m","messages":[{"role":"user","content":"ho"}]}"#)), "a message");
        let mut other = input("tenant:a", r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
        other.provider = "q";
        assert_ne!(Some(plain), digest(&other), "another provider");
        // Length prefixes: moving a byte from one part to the next changes the key.
        let mut a = input("x", "{}");
        a.route = "ab";
        a.provider = "c";
        let mut b = input("x", "{}");
        b.route = "a";
        b.provider = "bc";
        assert_ne!(digest(&a), digest(&b));
        assert!(digest(&input("x", "[1]")).is_none());
    }
}
