//! Standard Webhooks signing: `webhook-id`, `webhook-timestamp` and `webhook-signature`
//! (`v1,` + base64 of HMAC-SHA256 over `<id>.<timestamp>.<body>`, keyed with the secret's
//! bytes: the `whsec_` prefix stripped and the rest base64-decoded).

use crate::crypto::{base64, hex, hmac_sha256, sha256};

/// The message id of an event identity: `msg_` and 24 hex digits of its SHA-256. The same
/// event always gets the same id (retries included), so receivers can deduplicate.
pub fn message_id(identity: &str) -> String {
    let h = hex(&sha256(identity.as_bytes()));
    format!("msg_{}", h.get(..24).unwrap_or(&h))
}

/// `v1,<base64 signature>` of `body` sent as message `id` at `timestamp` (Unix seconds).
pub fn signature(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut content = Vec::with_capacity(id.len() + 24 + body.len());
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    format!("v1,{}", base64(&hmac_sha256(key, &content)))
}

/// The three headers of a signed delivery (no signature header without a key).
pub fn headers(key: Option<&[u8]>, id: &str, timestamp: u64, body: &[u8]) -> Vec<(&'static str, String)> {
    let mut h = vec![("webhook-id", id.to_string()), ("webhook-timestamp", timestamp.to_string())];
    if let Some(k) = key {
        h.push(("webhook-signature", signature(k, id, timestamp, body)));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::base64_decode;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The example of the Standard Webhooks reference libraries' tests.
    #[test]
    fn matches_the_reference_example() {
        let key = base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let h = headers(Some(&key), "msg_1", 1, b"{}");
        assert_eq!(h.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["webhook-id", "webhook-timestamp", "webhook-signature"]);
        assert!(message_id("x").starts_with("msg_") && message_id("x").len() == 28);
    }
}
