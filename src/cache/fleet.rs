//! The fleet tier's contract: any HTTP key-value store that speaks webdis's form of two Redis
//! commands can stand in.
//!
//! - **Lookup:** `POST /` with body `GET/tgcache-<64 hex digest>`. The answer is `200` with
//!   `{"GET": "<value>"}`, or `{"GET": null}` when absent. Anything else (another status, an
//!   error, no answer within the timeout) counts as a miss.
//! - **Store:** `POST /` with body `SETEX/tgcache-<64 hex digest>/<ttl seconds>/<value>`, sent
//!   detached (its answer is not awaited); the store must drop the key after the TTL.
//! - **Value:** the unpadded url-safe base64 (RFC 4648 §5) of one entry as the local store
//!   encodes it (see `store`), so it carries its own digest, times and usage; a value that is
//!   not the asked key's, or has expired, is a miss.
//!
//! Keys and values use only `[A-Za-z0-9_-]`, so no argument needs webdis's percent-encoding.

use super::store::{decode, encode, Entry};

fn key(digest: &[u8; 32]) -> String {
    format!("tgcache-{}", crate::crypto::hex(digest))
}

/// The lookup command for `digest`.
pub fn fleet_get(digest: &[u8; 32]) -> Vec<u8> {
    format!("GET/{}", key(digest)).into_bytes()
}

/// The store command for `entry`, kept `ttl` seconds.
pub fn fleet_set(digest: &[u8; 32], entry: &Entry, ttl: u64) -> Vec<u8> {
    format!("SETEX/{}/{}/{}", key(digest), ttl.max(1), crate::crypto::base64url(&encode(digest, entry))).into_bytes()
}

/// The entry in the store's answer to a lookup, when it holds a live one for `digest`.
pub fn fleet_reply(status: Option<u16>, body: &[u8], digest: &[u8; 32], now: u64) -> Option<Entry> {
    if status != Some(200) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = v.get("GET")?.as_str()?;
    decode(&crate::crypto::base64_decode(text)?, digest, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn commands_and_replies_round_trip() {
        let d = crate::crypto::sha256(b"k");
        let e = Entry { stored_at: 10, expires_at: 70, usage: Usage { prompt_tokens: 5, completion_tokens: 6, ..Usage::default() }, body: br#"{"a":1}"#.to_vec() };
        let get = String::from_utf8(fleet_get(&d)).unwrap();
        assert_eq!(get, format!("GET/tgcache-{}", crate::crypto::hex(&d)));
        let set = String::from_utf8(fleet_set(&d, &e, 60)).unwrap();
        let parts: Vec<&str> = set.split('/').collect();
        assert_eq!((parts.len(), parts[0], parts[2]), (4, "SETEX", "60"));
        assert!(parts[3].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let reply = format!(r#"{{"GET":"{}"}}"#, parts[3]);
        assert_eq!(fleet_reply(Some(200), reply.as_bytes(), &d, 20), Some(e.clone()));
        assert_eq!(fleet_reply(Some(200), reply.as_bytes(), &d, 70), None, "expired");
        assert_eq!(fleet_reply(Some(200), reply.as_bytes(), &crate::crypto::sha256(b"other"), 20), None, "another key's value");
        assert_eq!(fleet_reply(Some(200), br#"{"GET":null}"#, &d, 20), None);
        assert_eq!(fleet_reply(Some(200), br#"{"GET":[false,"ERR"]}"#, &d, 20), None);
        assert_eq!(fleet_reply(None, b"", &d, 20), None);
        assert_eq!(fleet_reply(Some(503), reply.as_bytes(), &d, 20), None);
    }
}
