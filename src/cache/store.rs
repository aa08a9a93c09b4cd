//! The local store: answers in proxy-wasm shared data, one store per Envoy shared by its workers.
//!
//! Shared data cannot delete a key, so the store uses a fixed set of keys: the digest picks one
//! of `buckets` keys (`tollgate.cache.<n>`), and each holds its entries one after another. A write
//! reads the bucket, drops expired entries and the entry it replaces, evicts the oldest until the
//! new one fits in `bucket_bytes`, and writes the bucket back with compare-and-swap (retrying on
//! a conflict). Memory is therefore bounded by `buckets * bucket_bytes` whatever the number of
//! distinct requests.
//!
//! An entry is `digest (32) | stored_at (8) | expires_at (8) | prompt (8) | completion (8) |
//! cached (8) | length (4) | body`, integers little-endian.

use crate::limits::{SharedStore, StoreError, MAX_ATTEMPTS};
use crate::usage::Usage;

const HEAD: usize = 32 + 8 * 5 + 4;

/// One stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unix seconds when it was stored (the `age` of a hit).
    pub stored_at: u64,
    pub expires_at: u64,
    /// The provider's usage for it: what a hit saves.
    pub usage: Usage,
    /// The answer in the hub's form (a chat completion, JSON).
    pub body: Vec<u8>,
}

/// What a write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Put {
    pub stored: bool,
    /// Live entries removed to make room.
    pub evicted: u32,
    /// CAS conflicts met (each retried).
    pub conflicts: u32,
}

fn bucket_key(digest: &[u8; 32], buckets: u32) -> String {
    let n = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]) % buckets.max(1);
    format!("tollgate.cache.{n}")
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// One entry's place in a bucket value.
struct Slot<'a> {
    digest: &'a [u8],
    stored_at: u64,
    expires_at: u64,
    raw: &'a [u8],
}

/// The entries of a bucket value; a damaged tail is ignored.
fn slots(value: &[u8]) -> Vec<Slot<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while value.len() >= at + HEAD {
        let mut len = [0u8; 4];
        len.copy_from_slice(&value[at + HEAD - 4..at + HEAD]);
        let end = at + HEAD + u32::from_le_bytes(len) as usize;
        if end > value.len() {
            break;
        }
        out.push(Slot { digest: &value[at..at + 32], stored_at: u64_at(value, at + 32), expires_at: u64_at(value, at + 40), raw: &value[at..end] });
        at = end;
    }
    out
}

/// One entry's bytes, as a bucket (and the fleet tier) holds them.
pub fn encode(digest: &[u8; 32], e: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD + e.body.len());
    out.extend_from_slice(digest);
    for n in [e.stored_at, e.expires_at, e.usage.prompt_tokens, e.usage.completion_tokens, e.usage.cached_prompt_tokens] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&u32::try_from(e.body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&e.body);
    out
}

/// The live entry for `digest`, if any.
pub fn get(store: &impl SharedStore, shape: &super::Shape, digest: &[u8; 32], now: u64) -> Result<Option<Entry>, StoreError> {
    let (value, _) = store.get(&bucket_key(digest, shape.buckets))?;
    let Some(value) = value else { return Ok(None) };
    Ok(slots(&value).into_iter().find(|s| s.digest == digest && s.expires_at > now).map(|s| entry_of(&s)))
}

fn entry_of(s: &Slot<'_>) -> Entry {
    let r = s.raw;
    let usage = Usage { prompt_tokens: u64_at(r, 48), completion_tokens: u64_at(r, 56), cached_prompt_tokens: u64_at(r, 64), ..Usage::default() };
    Entry { stored_at: s.stored_at, expires_at: s.expires_at, usage, body: r[HEAD..].to_vec() }
}

/// The live entry for `digest` in one entry's bytes (from the fleet tier); `None` when they
/// are damaged, another key's, or expired.
pub fn decode(bytes: &[u8], digest: &[u8; 32], now: u64) -> Option<Entry> {
    let s = slots(bytes).into_iter().next()?;
    (s.digest == digest && s.expires_at > now && s.raw.len() == bytes.len()).then(|| entry_of(&s))
}

/// Stores `entry` under `digest`, evicting the bucket's oldest entries to make room. An entry
/// larger than a bucket is not stored.
pub fn put(store: &mut impl SharedStore, shape: &super::Shape, digest: &[u8; 32], entry: &Entry, now: u64) -> Result<Put, StoreError> {
    let fresh = encode(digest, entry);
    let mut out = Put::default();
    if fresh.len() > shape.bucket_bytes {
        return Ok(out);
    }
    let key = bucket_key(digest, shape.buckets);
    for _ in 0..MAX_ATTEMPTS {
        let (value, cas) = store.get(&key)?;
        let value = value.unwrap_or_default();
        let mut keep: Vec<Slot<'_>> = slots(&value).into_iter().filter(|s| s.expires_at > now && s.digest != digest).collect();
        keep.sort_by_key(|s| s.stored_at);
        let mut used: usize = keep.iter().map(|s| s.raw.len()).sum();
        let mut evicted = 0;
        while used + fresh.len() > shape.bucket_bytes && !keep.is_empty() {
            used -= keep.remove(0).raw.len();
            evicted += 1;
        }
        let mut next = Vec::with_capacity(used + fresh.len());
        for s in &keep {
            next.extend_from_slice(s.raw);
        }
        next.extend_from_slice(&fresh);
        match store.set(&key, &next, cas.unwrap_or(0)) {
            Ok(()) => {
                out.stored = true;
                out.evicted = evicted;
                return Ok(out);
            }
            Err(StoreError::CasMismatch) => out.conflicts += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Shape;
    use crate::limits::MemStore;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn entry(at: u64, body: &[u8]) -> Entry {
        Entry { stored_at: at, expires_at: at + 60, usage: Usage { prompt_tokens: 3, completion_tokens: 4, cached_prompt_tokens: 1, ..Usage::default() }, body: body.to_vec() }
    }

    fn d(n: u32) -> [u8; 32] {
        crate::crypto::sha256(&n.to_le_bytes())
    }

    #[test]
    fn round_trip_ttl_and_replace() {
        let mut s = MemStore::default();
        let shape = Shape { buckets: 4, bucket_bytes: 4096 };
        assert_eq!(get(&s, &shape, &d(1), 100).unwrap(), None);
        assert!(put(&mut s, &shape, &d(1), &entry(100, b"one"), 100).unwrap().stored);
        assert_eq!(get(&s, &shape, &d(1), 120).unwrap(), Some(entry(100, b"one")));
        assert_eq!(get(&s, &shape, &d(1), 160).unwrap(), None, "expired at 160");
        put(&mut s, &shape, &d(1), &entry(110, b"two"), 110).unwrap();
        assert_eq!(get(&s, &shape, &d(1), 120).unwrap().map(|e| e.body), Some(b"two".to_vec()), "replaced, not duplicated");
        assert_eq!(get(&s, &shape, &d(2), 120).unwrap(), None);
    }

    #[test]
    fn the_oldest_is_evicted_and_a_huge_entry_is_refused() {
        let mut s = MemStore::default();
        let shape = Shape { buckets: 1, bucket_bytes: 3 * (HEAD + 10) };
        for i in 0..3 {
            assert_eq!(put(&mut s, &shape, &d(i), &entry(100 + u64::from(i), &[b'x'; 10]), 100).unwrap().evicted, 0);
        }
        let p = put(&mut s, &shape, &d(9), &entry(200, &[b'y'; 10]), 105).unwrap();
        assert_eq!((p.stored, p.evicted), (true, 1));
        assert_eq!(get(&s, &shape, &d(0), 105).unwrap(), None, "the oldest went");
        assert!(get(&s, &shape, &d(1), 105).unwrap().is_some());
        assert!(!put(&mut s, &shape, &d(7), &entry(100, &[0; 200]), 100).unwrap().stored);
    }

    #[test]
    fn a_conflict_is_retried() {
        let mut s = MemStore::default();
        s.conflict_every = 2;
        let shape = Shape { buckets: 1, bucket_bytes: 4096 };
        for i in 0..4 {
            assert!(put(&mut s, &shape, &d(i), &entry(100, b"z"), 100).unwrap().stored);
        }
        for i in 0..4 {
            assert!(get(&s, &shape, &d(i), 100).unwrap().is_some());
        }
    }

    /// 100,000 distinct answers: the store keeps a fixed number of keys, none over its budget.
    #[test]
    fn memory_stays_bounded_at_100k_distinct_entries() {
        let mut s = MemStore::default();
        let shape = Shape { buckets: 64, bucket_bytes: 8 * 1024 };
        let mut evicted = 0u64;
        for i in 0..100_000u32 {
            let e = Entry { expires_at: u64::MAX, ..entry(u64::from(i), &[b'a'; 300]) };
            let p = put(&mut s, &shape, &d(i), &e, 0).unwrap();
            assert!(p.stored);
            evicted += u64::from(p.evicted);
        }
        let mut total = 0;
        let mut keys = 0;
        for n in 0..shape.buckets {
            if let (Some(v), _) = s.get(&format!("tollgate.cache.{n}")).unwrap() {
                assert!(v.len() <= shape.bucket_bytes);
                total += v.len();
                keys += 1;
            }
        }
        assert!(keys <= 64 && total <= 64 * 8 * 1024, "{keys} keys, {total} bytes");
        assert!(evicted > 95_000, "{evicted}");
    }
}
