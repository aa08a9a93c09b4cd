//! The key store: policies indexed by digest and by JWT principal, for O(1) lookup at any size.

use super::{Digest, KeyPolicy};
use std::collections::HashMap;

/// All key policies, with hash indexes built once at load.
#[derive(Debug, Default)]
pub struct KeyStore {
    policies: Vec<KeyPolicy>,
    by_digest: HashMap<Digest, usize>,
    by_principal: HashMap<String, usize>,
    /// Some policy has `not_before` or `expires_at` (only then does the key check need the clock).
    time_bounded: bool,
}

impl KeyStore {
    /// Adds a policy; the caller has checked that its digests and principals are new.
    pub fn insert(&mut self, policy: KeyPolicy, digests: Vec<Digest>, principals: Vec<String>) -> usize {
        let idx = self.policies.len();
        self.time_bounded |= policy.not_before.is_some() || policy.expires_at.is_some();
        self.policies.push(policy);
        for d in digests {
            self.by_digest.insert(d, idx);
        }
        for p in principals {
            self.by_principal.insert(p, idx);
        }
        idx
    }

    /// Whether any policy is valid only within a time window.
    pub fn time_bounded(&self) -> bool {
        self.time_bounded
    }

    pub fn contains_digest(&self, d: &Digest) -> bool {
        self.by_digest.contains_key(d)
    }

    pub fn contains_principal(&self, p: &str) -> bool {
        self.by_principal.contains_key(p)
    }

    /// Looks a presented secret up by its digest.
    pub fn by_secret(&self, secret: &str) -> Option<usize> {
        self.by_digest(&Digest::of(secret.as_bytes()))
    }

    /// Looks a digest up.
    pub fn by_digest(&self, digest: &Digest) -> Option<usize> {
        self.by_digest.get(digest).copied()
    }

    /// Looks a JWT claim value up.
    pub fn by_principal(&self, principal: &str) -> Option<usize> {
        self.by_principal.get(principal).copied()
    }

    pub fn get(&self, idx: usize) -> Option<&KeyPolicy> {
        self.policies.get(idx)
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn policy(id: &str) -> KeyPolicy {
        KeyPolicy { id: id.into(), tenant: None, models: vec![], disabled: false, not_before: None, expires_at: None, labels: BTreeMap::new() }
    }

    #[test]
    fn lookup_by_secret_and_rotation() {
        let mut s = KeyStore::default();
        let i = s.insert(policy("a"), vec![Digest::of(b"old"), Digest::of(b"new")], vec![]);
        s.insert(policy("b"), vec![Digest::of(b"other")], vec!["alice".into()]);
        assert_eq!(s.by_secret("old"), Some(i));
        assert_eq!(s.by_secret("new"), Some(i));
        assert_eq!(s.by_secret("nope"), None);
        assert_eq!(s.by_principal("alice"), Some(1));
        assert_eq!(s.get(1).unwrap().id, "b");
        assert_eq!(s.len(), 2);
    }
}
