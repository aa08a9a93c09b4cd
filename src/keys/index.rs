//! The shared key index: keys loaded from a key source (`auth.key_source`) live once per Envoy
//! process, in proxy-wasm shared data that every worker's VM reads, not in each VM's memory.
//!
//! Layout, under a prefix named for the source (`tollgate.keys.<hash>`):
//! - `<prefix>`: the [`Pointer`] to the current generation (slot, bucket count, key count, ETag);
//! - `<prefix>.<slot>.<bucket>`: a bucket, the concatenated [`Record`]s of the keys whose digest
//!   falls in it. Two slots alternate, so a reload fills one while requests read the other.
//!
//! A record is binary and compact: the 32-byte digest, a length, then the policy (flags, the
//! validity window, id, tenant, models, labels), each string with a one-byte length. A lookup
//! reads the pointer and one bucket (about 16 records on average) and decodes only the record
//! whose digest matches.

use super::{Digest, KeyPolicy};
use crate::route::Glob;
use std::collections::BTreeMap;

/// The longest string (id, tenant, model pattern, label) a record holds.
pub const MAX_FIELD: usize = 255;
/// Average keys per bucket the loader aims at.
pub const KEYS_PER_BUCKET: u64 = 16;

const DISABLED: u8 = 1;
const NOT_BEFORE: u8 = 2;
const EXPIRES_AT: u8 = 4;

/// The current generation of an index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pointer {
    pub generation: u64,
    pub slot: u8,
    pub buckets: u32,
    /// The other slot's bucket count (what a reload into it must clear).
    pub other_buckets: u32,
    pub keys: u64,
    /// Unix seconds of the load (or of the last check that found the source unchanged).
    pub checked_at: i64,
    /// The source's ETag, for conditional reloads (`-` when it sent none).
    pub etag: String,
}

impl Pointer {
    pub fn encode(&self) -> String {
        let etag = if self.etag.is_empty() { "-" } else { &self.etag };
        format!("v1 {} {} {} {} {} {} {etag}", self.generation, self.slot, self.buckets, self.other_buckets, self.keys, self.checked_at)
    }

    pub fn decode(bytes: &[u8]) -> Option<Pointer> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut it = text.splitn(8, ' ');
        if it.next()? != "v1" {
            return None;
        }
        let mut num = || it.next().and_then(|s| s.parse::<u64>().ok());
        let (generation, slot, buckets, other_buckets, keys) = (num()?, num()?, num()?, num()?, num()?);
        let checked_at = it.next()?.parse().ok()?;
        let etag = it.next()?;
        Some(Pointer {
            generation,
            slot: u8::try_from(slot).ok().filter(|s| *s < 2)?,
            buckets: u32::try_from(buckets).ok().filter(|b| *b > 0)?,
            other_buckets: u32::try_from(other_buckets).ok()?,
            keys,
            checked_at,
            etag: if etag == "-" { String::new() } else { etag.to_string() },
        })
    }
}

/// The bucket of a digest among `buckets` (a power of two).
pub fn bucket_of(digest: &Digest, buckets: u32) -> u32 {
    let b = digest.as_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & buckets.saturating_sub(1)
}

/// The shared-data key of a bucket.
pub fn bucket_key(prefix: &str, slot: u8, bucket: u32) -> String {
    let mut k = String::with_capacity(prefix.len() + 14);
    k.push_str(prefix);
    k.push('.');
    k.push(char::from(b'0' + slot));
    k.push('.');
    k.push_str(&bucket.to_string());
    k
}

/// The bucket count for an index of about `keys` keys: a power of two, 16 to 2^20.
pub fn buckets_for(keys: u64) -> u32 {
    let want = (keys / KEYS_PER_BUCKET).clamp(16, 1 << 20);
    u32::try_from(want.next_power_of_two()).unwrap_or(1 << 20)
}

/// A key's policy as a record stores it (the strings as written in the source).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record<'a> {
    pub id: &'a str,
    pub tenant: Option<&'a str>,
    pub models: Vec<&'a str>,
    pub disabled: bool,
    pub not_before: Option<i64>,
    pub expires_at: Option<i64>,
    pub labels: Vec<(&'a str, &'a str)>,
}

impl Record<'_> {
    /// Appends the record for `digest` to `out`. `Err` names the field that does not fit.
    pub fn encode(&self, digest: &Digest, out: &mut Vec<u8>) -> Result<(), &'static str> {
        if self.models.len() > MAX_FIELD {
            return Err("models");
        }
        if self.labels.len() > MAX_FIELD {
            return Err("labels");
        }
        let start = out.len();
        out.extend_from_slice(digest.as_bytes());
        out.extend_from_slice(&[0, 0]);
        let mut flags = 0;
        for (on, bit) in [(self.disabled, DISABLED), (self.not_before.is_some(), NOT_BEFORE), (self.expires_at.is_some(), EXPIRES_AT)] {
            if on {
                flags |= bit;
            }
        }
        out.push(flags);
        for t in [self.not_before, self.expires_at].into_iter().flatten() {
            out.extend_from_slice(&t.to_le_bytes());
        }
        let res = (|| {
            put(out, self.id).ok_or("id")?;
            put(out, self.tenant.unwrap_or("")).ok_or("tenant")?;
            out.push(self.models.len() as u8);
            for m in &self.models {
                put(out, m).ok_or("models")?;
            }
            out.push(self.labels.len() as u8);
            for (k, v) in &self.labels {
                put(out, k).ok_or("labels")?;
                put(out, v).ok_or("labels")?;
            }
            u16::try_from(out.len() - start - 34).map_err(|_| "labels")
        })();
        match res {
            Ok(len) => {
                out[start + 32..start + 34].copy_from_slice(&len.to_le_bytes());
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }
}

fn put(out: &mut Vec<u8>, s: &str) -> Option<()> {
    let len = u8::try_from(s.len()).ok()?;
    out.push(len);
    out.extend_from_slice(s.as_bytes());
    Some(())
}

/// The records of a bucket: `(digest bytes, policy bytes, the whole record)`; stops at a
/// truncated record.
pub fn records(bucket: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], &[u8])> {
    let mut rest = bucket;
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_le_bytes([*rest.get(32)?, *rest.get(33)?]));
        let whole = rest.get(..34 + len)?;
        rest = &rest[34 + len..];
        Some((&whole[..32], &whole[34..], whole))
    })
}

/// Whether the bucket holds a record for `digest`.
pub fn contains(bucket: &[u8], digest: &Digest) -> bool {
    records(bucket).any(|(d, _, _)| d == digest.as_bytes())
}

/// The policy of `digest` in `bucket`, decoded; `None` when absent (or the record is damaged).
pub fn find(bucket: &[u8], digest: &Digest) -> Option<KeyPolicy> {
    let (_, body, _) = records(bucket).find(|(d, _, _)| *d == digest.as_bytes())?;
    decode(body)
}

fn decode(body: &[u8]) -> Option<KeyPolicy> {
    let mut r = Reader(body);
    let flags = r.byte()?;
    let mut time = |bit: u8| -> Option<Option<i64>> {
        if flags & bit == 0 {
            return Some(None);
        }
        let b = r.take(8)?;
        Some(Some(i64::from_le_bytes(b.try_into().ok()?)))
    };
    let not_before = time(NOT_BEFORE)?;
    let expires_at = time(EXPIRES_AT)?;
    let id = r.string()?;
    let tenant = r.string()?;
    let models = (0..r.byte()?).map(|_| r.string().map(|m| Glob::new(&m))).collect::<Option<Vec<_>>>()?;
    let mut labels = BTreeMap::new();
    for _ in 0..r.byte()? {
        let k = r.string()?;
        labels.insert(k, r.string()?);
    }
    Some(KeyPolicy { id, tenant: (!tenant.is_empty()).then_some(tenant), models, disabled: flags & DISABLED != 0, not_before, expires_at, labels })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.0.get(..n)?;
        self.0 = &self.0[n..];
        Some(b)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::from(self.byte()?);
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// What the index says of a presented digest.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Found(KeyPolicy),
    Absent,
    /// The index has not been loaded yet (the first load is under way, or failed).
    NotLoaded,
}

/// Looks `digest` up in the index under `prefix`, reading shared data through `read`. `now`
/// (Unix seconds) bounds the VM's copy of the pointer: it is read again in each new second, so
/// a request costs one shared-data read (its bucket). A copy is never older than the second it
/// was read in, and a reload never empties the slot a pointer of the previous second names (the
/// loader waits at least a second between loads), so the bucket read is always of a whole index.
pub fn lookup(prefix: &str, digest: &Digest, now: i64, read: &dyn Fn(&str) -> Option<Vec<u8>>) -> Lookup {
    let Some(p) = pointer(prefix, now, read) else { return Lookup::NotLoaded };
    let bucket = read(&bucket_key(prefix, p.slot, bucket_of(digest, p.buckets))).unwrap_or_default();
    find(&bucket, digest).map_or(Lookup::Absent, Lookup::Found)
}

thread_local! {
    /// This VM's copy of the pointer it read last: prefix, the second it was read in, slot and buckets.
    static POINTER: std::cell::RefCell<Option<(String, i64, u8, u32)>> = const { std::cell::RefCell::new(None) };
}

fn pointer(prefix: &str, now: i64, read: &dyn Fn(&str) -> Option<Vec<u8>>) -> Option<Pointer> {
    let cached = POINTER.with(|c| c.borrow().as_ref().filter(|(p, at, _, _)| p == prefix && *at == now).map(|(_, _, slot, buckets)| (*slot, *buckets)));
    if let Some((slot, buckets)) = cached {
        return Some(Pointer { slot, buckets, ..Pointer::default() });
    }
    let p = read(prefix).as_deref().and_then(Pointer::decode)?;
    POINTER.with(|c| *c.borrow_mut() = Some((prefix.to_string(), now, p.slot, p.buckets)));
    Some(p)
}

/// The digest a JWT principal is indexed under (secrets are indexed under their own digest).
pub fn principal_digest(principal: &str) -> Digest {
    let mut b = Vec::with_capacity(principal.len() + 10);
    b.extend_from_slice(b"principal\0");
    b.extend_from_slice(principal.as_bytes());
    Digest::of(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn rec() -> Record<'static> {
        Record {
            id: "k-1",
            tenant: Some("team-a"),
            models: vec!["gpt-4o*", "fast"],
            disabled: false,
            not_before: Some(100),
            expires_at: Some(-5),
            labels: vec![("env", "prod"), ("owner", "é")],
        }
    }

    #[test]
    fn records_round_trip_and_are_found_among_others() {
        let mut bucket = Vec::new();
        let other = Record { id: "k-2", tenant: None, models: vec!["*"], disabled: true, ..Record::default() };
        other.encode(&Digest::of(b"b"), &mut bucket).unwrap();
        rec().encode(&Digest::of(b"a"), &mut bucket).unwrap();
        let p = find(&bucket, &Digest::of(b"a")).unwrap();
        assert_eq!(p.id, "k-1");
        assert_eq!(p.tenant.as_deref(), Some("team-a"));
        assert!(p.allows("gpt-4o-mini", None) && p.allows("fast", None) && !p.allows("claude", None));
        assert_eq!((p.not_before, p.expires_at, p.disabled), (Some(100), Some(-5), false));
        assert_eq!(p.labels.get("owner").map(String::as_str), Some("é"));
        let q = find(&bucket, &Digest::of(b"b")).unwrap();
        assert_eq!((q.id.as_str(), q.tenant.as_deref(), q.disabled, q.not_before), ("k-2", None, true, None));
        assert!(find(&bucket, &Digest::of(b"c")).is_none());
        assert!(contains(&bucket, &Digest::of(b"b")) && !contains(&bucket, &Digest::of(b"c")));
        // A truncated bucket never panics: the damaged record is simply absent.
        for cut in 0..bucket.len() {
            let _ = find(&bucket[..cut], &Digest::of(b"a"));
        }
    }

    #[test]
    fn fields_too_long_are_named_and_leave_nothing_behind() {
        let long = "x".repeat(256);
        let mut out = vec![7];
        assert_eq!(Record { id: &long, ..rec() }.encode(&Digest::of(b"a"), &mut out), Err("id"));
        assert_eq!(Record { tenant: Some(&long), ..rec() }.encode(&Digest::of(b"a"), &mut out), Err("tenant"));
        assert_eq!(Record { labels: vec![("k", &long)], ..rec() }.encode(&Digest::of(b"a"), &mut out), Err("labels"));
        assert_eq!(out, [7]);
    }

    #[test]
    fn pointer_round_trip_and_lookup() {
        let p = Pointer { generation: 3, slot: 1, buckets: 16, other_buckets: 32, keys: 2, checked_at: 1700, etag: "\"abc def\"".into() };
        assert_eq!(Pointer::decode(p.encode().as_bytes()), Some(p.clone()));
        assert_eq!(Pointer::decode(Pointer { etag: String::new(), ..p.clone() }.encode().as_bytes()).unwrap().etag, "");
        assert_eq!(Pointer::decode(b"v1 1 2 16 0 0 0 -"), None);
        assert_eq!(Pointer::decode(b"junk"), None);
        let d = Digest::of(b"a");
        let mut store: HashMap<String, Vec<u8>> = HashMap::new();
        assert_eq!(lookup("t", &d, 5, &|k| store.get(k).cloned()), Lookup::NotLoaded);
        store.insert("t".into(), p.encode().into_bytes());
        assert_eq!(lookup("t", &d, 5, &|k| store.get(k).cloned()), Lookup::Absent);
        let mut bucket = Vec::new();
        rec().encode(&d, &mut bucket).unwrap();
        store.insert(bucket_key("t", 1, bucket_of(&d, 16)), bucket);
        assert!(matches!(lookup("t", &d, 5, &|k| store.get(k).cloned()), Lookup::Found(p) if p.id == "k-1"));
        // Within the second, the pointer is this VM's copy: one read per lookup; the next
        // second reads it again and sees a new slot.
        let store = std::cell::RefCell::new(store);
        let reads = std::cell::Cell::new(0);
        let counted = |k: &str| {
            reads.set(reads.get() + 1);
            store.borrow().get(k).cloned()
        };
        assert!(matches!(lookup("t", &d, 5, &counted), Lookup::Found(_)));
        assert_eq!(reads.get(), 1);
        store.borrow_mut().insert("t".into(), Pointer { slot: 0, ..p.clone() }.encode().into_bytes());
        assert!(matches!(lookup("t", &d, 5, &counted), Lookup::Found(_)), "the copy of this second still names slot 1");
        assert_eq!(lookup("t", &d, 6, &counted), Lookup::Absent, "the next second reads slot 0, empty");
        assert_eq!(reads.get(), 4);
    }

    #[test]
    fn bucket_counts() {
        assert_eq!(buckets_for(0), 16);
        assert_eq!(buckets_for(100_000), 8192);
        assert_eq!(buckets_for(1_000_000), 65_536);
        assert_eq!(buckets_for(u64::MAX), 1 << 20);
        assert_eq!(bucket_key("p", 1, 42), "p.1.42");
        assert!(bucket_of(&Digest::of(b"x"), 16) < 16);
        assert_ne!(principal_digest("alice"), Digest::of(b"alice"));
    }
}
