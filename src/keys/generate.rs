//! New virtual keys: `tg-` and 24 random bytes in unpadded base64url, and the config entry that
//! holds only the key's digest. The caller supplies the randomness (the OS's, natively).

use super::Digest;

/// Random bytes in a key.
pub const KEY_RANDOM_BYTES: usize = 24;

/// The key text for `random`.
pub fn key_from_random(random: &[u8; KEY_RANDOM_BYTES]) -> String {
    format!("tg-{}", crate::crypto::base64url(random))
}

/// The `keys[]` entry (one line of JSON) for `key`: its digest, never the key itself. `id`
/// defaults to `key-` and the digest's first 8 hex digits.
pub fn config_entry(key: &str, id: Option<&str>, tenant: Option<&str>) -> String {
    let digest = Digest::of(key.as_bytes()).to_string();
    let default_id = format!("key-{}", digest.get(7..15).unwrap_or_default());
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let tenant = tenant.map(|t| format!(", \"tenant\": {}", quote(t))).unwrap_or_default();
    format!("{{\"id\": {}{tenant}, \"digests\": [{}], \"models\": [\"*\"]}}", quote(id.unwrap_or(&default_id)), quote(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn known_encoding_and_entry() {
        assert_eq!(crate::crypto::base64url(b"\xfb\xff\x00"), "-_8A");
        assert_eq!(crate::crypto::base64url(b"ab"), "YWI");
        let key = key_from_random(&[0xff; KEY_RANDOM_BYTES]);
        assert_eq!(key, format!("tg-{}", "_".repeat(32)));
        let entry: serde_json::Value = serde_json::from_str(&config_entry(&key, None, Some("acme"))).unwrap();
        let digest = Digest::of(key.as_bytes()).to_string();
        assert_eq!(entry, serde_json::json!({"id": format!("key-{}", &digest[7..15]), "tenant": "acme", "digests": [digest], "models": ["*"]}));
    }
}
