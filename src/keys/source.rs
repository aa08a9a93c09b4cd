//! A key source (`auth.key_source`): where its JSON-lines file is served, and the parser that
//! turns the file, fed in arbitrary pieces, into index records grouped by bucket. Each line is
//! one `keys` entry, checked as an inline entry is; a bad line is counted and skipped (never
//! logged: it may hold a digest), the rest load.

use super::index::{bucket_of, contains, principal_digest, Record};
use super::Digest;
use crate::config::{checked_key, AuthMode, KeyDto};
use std::collections::BTreeMap;

/// The longest line the parser accepts (a key entry is a few hundred bytes).
pub const MAX_LINE: usize = 64 << 10;

/// Where a key file is served and how it is fetched; `prefix` names its index in shared data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub refresh_s: u64,
    pub timeout_ms: u64,
    pub chunk_bytes: u64,
    /// Lines must carry digests (auth mode `keys`) rather than JWT principals only.
    pub need_digests: bool,
    /// `tollgate.keys.<16 hex digits of SHA-256(cluster, path)>`.
    pub prefix: String,
}

impl KeySource {
    pub fn new(cluster: &str, authority: &str, path: &str, refresh_s: u64, timeout_ms: u64, chunk_bytes: u64, need_digests: bool) -> KeySource {
        let mut id = Vec::with_capacity(cluster.len() + path.len() + 1);
        id.extend_from_slice(cluster.as_bytes());
        id.push(0);
        id.extend_from_slice(path.as_bytes());
        let prefix = format!("tollgate.keys.{}", crate::crypto::hex(&crate::crypto::sha256(&id)[..8]));
        KeySource {
            cluster: cluster.into(),
            authority: authority.into(),
            path: path.into(),
            refresh_s,
            timeout_ms,
            chunk_bytes,
            need_digests,
            prefix,
        }
    }
}

/// The file's lines, parsed as they arrive.
#[derive(Debug)]
pub struct Lines {
    buckets: u32,
    need_digests: bool,
    carry: Vec<u8>,
    /// The current line is over [`MAX_LINE`]: skip to its end.
    skipping: bool,
    line: u64,
    /// Records parsed since the last [`Lines::take`], by bucket.
    batch: BTreeMap<u32, Vec<u8>>,
    /// Entries loaded.
    pub keys: u64,
    /// Lines refused, and the first one's number and reason (field names only, no values).
    pub refused: u64,
    pub first_refusal: Option<String>,
    /// The latest refusal (a checker reading the file line by line reports each).
    pub last_refusal: Option<String>,
}

impl Lines {
    pub fn new(buckets: u32, need_digests: bool) -> Lines {
        Lines { buckets, need_digests, carry: Vec::new(), skipping: false, line: 0, batch: BTreeMap::new(), keys: 0, refused: 0, first_refusal: None, last_refusal: None }
    }

    /// Parses the complete lines in `bytes` (with what earlier pieces left unfinished).
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while let Some(nl) = memchr::memchr(b'\n', bytes) {
            let (head, rest) = (&bytes[..nl], &bytes[nl + 1..]);
            if self.skipping {
                self.skipping = false;
            } else if self.carry.is_empty() {
                self.line(head);
            } else {
                let mut l = std::mem::take(&mut self.carry);
                l.extend_from_slice(head);
                self.line(&l);
            }
            bytes = rest;
        }
        if self.skipping {
            return;
        }
        if self.carry.len() + bytes.len() > MAX_LINE {
            self.line += 1;
            self.refuse("is longer than 65536 bytes".into());
            self.carry.clear();
            self.skipping = true;
        } else {
            self.carry.extend_from_slice(bytes);
        }
    }

    /// The end of the file: a last line without a newline.
    pub fn finish(&mut self) {
        if !self.carry.is_empty() && !self.skipping {
            let l = std::mem::take(&mut self.carry);
            self.line(&l);
        }
    }

    /// The records parsed since the last call, by bucket.
    pub fn take(&mut self) -> BTreeMap<u32, Vec<u8>> {
        std::mem::take(&mut self.batch)
    }

    /// Counts a line refused for a digest an earlier piece of the file already loaded.
    pub fn duplicate_loaded(&mut self) {
        self.keys = self.keys.saturating_sub(1);
        self.duplicate();
    }

    fn duplicate(&mut self) {
        self.refuse("a digest or principal is already used by an earlier line".into());
    }

    fn refuse(&mut self, why: String) {
        self.refused += 1;
        let at = format!("line {}: {why}", self.line);
        if self.first_refusal.is_none() {
            self.first_refusal = Some(at.clone());
        }
        self.last_refusal = Some(at);
    }

    fn line(&mut self, raw: &[u8]) {
        self.line += 1;
        let text = raw.trim_ascii();
        if text.is_empty() || text.starts_with(b"#") {
            return;
        }
        let k: KeyDto = match serde_json::from_slice(text) {
            Ok(k) => k,
            Err(e) => return self.refuse(format!("is not a key entry ({})", serde_error_kind(&e))),
        };
        let mode = if self.need_digests { AuthMode::Keys } else { AuthMode::None };
        let checked = match checked_key(&k, &mode, &|f: &str| f.to_string()) {
            Ok(c) => c,
            Err(e) => return self.refuse(format!("`{}` {}", e.field, e.message)),
        };
        let labels = k.labels.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let record = Record {
            id: &k.id,
            tenant: k.tenant.as_deref(),
            models: k.models.iter().map(String::as_str).collect(),
            disabled: k.disabled,
            not_before: checked.not_before,
            expires_at: checked.expires_at,
            labels,
        };
        let digests: Vec<Digest> = checked.digests.into_iter().chain(k.principals.iter().map(|p| principal_digest(p))).collect();
        if digests.iter().enumerate().any(|(i, d)| digests[..i].contains(d) || self.batch.get(&bucket_of(d, self.buckets)).is_some_and(|b| contains(b, d))) {
            return self.duplicate();
        }
        let mut encoded = Vec::new();
        for d in &digests {
            encoded.clear();
            if let Err(field) = record.encode(d, &mut encoded) {
                return self.refuse(format!("`{field}`: a string is longer than 255 bytes, or a list has more than 255 entries"));
            }
            self.batch.entry(bucket_of(d, self.buckets)).or_default().extend_from_slice(&encoded);
        }
        self.keys += 1;
    }
}

/// serde_json's error category, without the message (which may quote the line).
fn serde_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Data => "a field is missing, unknown or of the wrong type",
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON",
        serde_json::error::Category::Io => "unreadable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::index::find;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn line(id: &str, secret: &str) -> String {
        format!("{{\"id\":\"{id}\",\"tenant\":\"t\",\"digests\":[\"{}\"],\"models\":[\"gpt-*\"]}}\n", Digest::of(secret.as_bytes()))
    }

    fn all(l: &mut Lines) -> Vec<u8> {
        l.take().into_values().flatten().collect()
    }

    #[test]
    fn lines_in_any_pieces_give_the_same_records() {
        let file = format!("{}\n# a comment\n{}{}", line("a", "sa"), line("b", "sb"), line("c", "sc").trim_end());
        let mut whole = Lines::new(1, true);
        whole.feed(file.as_bytes());
        whole.finish();
        let want = all(&mut whole);
        assert_eq!((whole.keys, whole.refused), (3, 0));
        for step in [1, 2, 7, 64] {
            let mut l = Lines::new(1, true);
            for piece in file.as_bytes().chunks(step) {
                l.feed(piece);
            }
            l.finish();
            assert_eq!(all(&mut l), want, "pieces of {step}");
        }
        assert_eq!(find(&want, &Digest::of(b"sc")).unwrap().id, "c");
    }

    #[test]
    fn bad_lines_are_counted_skipped_and_named_without_values() {
        let long = format!("{{\"id\":\"{}\"}}\n", "x".repeat(MAX_LINE));
        let file = format!(
            "{}not json\n{{\"id\":\"x\",\"digests\":[\"sha256:zz\"]}}\n{{\"id\":\"y\",\"bogus\":1}}\n{long}{}{}",
            line("a", "sa"),
            line("dup", "sa"),
            line("b", "sb")
        );
        let mut l = Lines::new(4, true);
        for piece in file.as_bytes().chunks(1000) {
            l.feed(piece);
        }
        l.finish();
        assert_eq!((l.keys, l.refused), (2, 5));
        let first = l.first_refusal.clone().unwrap();
        assert_eq!(first, "line 2: is not a key entry (not valid JSON)");
        let records = all(&mut l);
        assert_eq!(find(&records, &Digest::of(b"sa")).unwrap().id, "a");
        assert!(find(&records, &Digest::of(b"sb")).is_some());
    }

    #[test]
    fn principals_are_indexed_in_jwt_mode() {
        let mut l = Lines::new(16, false);
        l.feed(b"{\"id\":\"p\",\"principals\":[\"alice@example.com\"]}\n{\"id\":\"q\"}\n");
        assert_eq!((l.keys, l.refused), (2, 0));
        let records = all(&mut l);
        assert_eq!(find(&records, &principal_digest("alice@example.com")).unwrap().id, "p");
        let mut strict = Lines::new(16, true);
        strict.feed(b"{\"id\":\"q\"}\n");
        assert_eq!(strict.refused, 1);
        assert!(strict.first_refusal.unwrap().contains("`digests`"));
    }

    #[test]
    fn prefix_names_the_source() {
        let a = KeySource::new("c", "c", "/k.jsonl", 60, 1000, 4096, true);
        let b = KeySource::new("c", "c", "/other.jsonl", 60, 1000, 4096, true);
        assert_ne!(a.prefix, b.prefix);
        assert_eq!(a.prefix.len(), "tollgate.keys.".len() + 16);
    }
}
