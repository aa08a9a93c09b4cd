//! Virtual keys: the inline `keys` list compiled into the key store, the checks one key entry
//! passes wherever it comes from (the config or a key source's line), and `auth.key_source`.

use super::dto::{KeyDto, KeySourceDto};
use super::runtime::AuthMode;
use super::{parse_rfc3339, ConfigError};
use crate::keys::source::KeySource;
use crate::keys::{Digest, KeyPolicy, KeyStore};
use crate::route::Glob;
use std::collections::HashSet;

/// One key entry's checked parts: its digests and validity window.
pub struct CheckedKey {
    pub digests: Vec<Digest>,
    pub not_before: Option<i64>,
    pub expires_at: Option<i64>,
}

/// Checks one key entry on its own (not against other entries). `at` names a field of it.
pub fn checked_key(k: &KeyDto, mode: &AuthMode, at: &dyn Fn(&str) -> String) -> Result<CheckedKey, ConfigError> {
    if k.id.is_empty() {
        return Err(ConfigError::new(at("id"), "must not be empty"));
    }
    let mut digests = Vec::with_capacity(k.digests.len());
    for (j, d) in k.digests.iter().enumerate() {
        digests.push(Digest::parse(d).map_err(|m| ConfigError::new(at(&format!("digests[{j}]")), m))?);
    }
    if let Some(j) = k.principals.iter().position(String::is_empty) {
        return Err(ConfigError::new(at(&format!("principals[{j}]")), "must be non-empty and unique"));
    }
    if *mode == AuthMode::Keys && digests.is_empty() {
        return Err(ConfigError::new(at("digests"), "must list at least one `sha256:` digest in auth mode `keys`"));
    }
    let time = |f: &str, v: &Option<String>| -> Result<Option<i64>, ConfigError> {
        v.as_deref()
            .map(|s| parse_rfc3339(s).ok_or_else(|| ConfigError::new(at(f), "is not an RFC 3339 timestamp (e.g. 2026-01-31T00:00:00Z)")))
            .transpose()
    };
    let not_before = time("not_before", &k.not_before)?;
    let expires_at = time("expires_at", &k.expires_at)?;
    if let (Some(a), Some(b)) = (not_before, expires_at) {
        if b <= a {
            return Err(ConfigError::new(at("expires_at"), "must be after not_before"));
        }
    }
    Ok(CheckedKey { digests, not_before, expires_at })
}

pub(super) fn keys(dtos: Vec<KeyDto>, mode: &AuthMode, errs: &mut Vec<ConfigError>) -> KeyStore {
    let mut store = KeyStore::default();
    let mut ids = HashSet::new();
    for (i, k) in dtos.into_iter().enumerate() {
        if let Err(e) = key(i, k, mode, &mut ids, &mut store) {
            errs.push(e);
        }
    }
    store
}

fn key(i: usize, k: KeyDto, mode: &AuthMode, ids: &mut HashSet<String>, store: &mut KeyStore) -> Result<(), ConfigError> {
    let at = |f: &str| format!("keys[{i}].{f}");
    if !k.id.is_empty() && !ids.insert(k.id.clone()) {
        return Err(ConfigError::new(at("id"), format!("duplicate key id `{}`; list several digests under one id to rotate", k.id)));
    }
    let c = checked_key(&k, mode, &at)?;
    for (j, d) in c.digests.iter().enumerate() {
        if store.contains_digest(d) || c.digests[..j].contains(d) {
            return Err(ConfigError::new(at(&format!("digests[{j}]")), "digest is already used by another key"));
        }
    }
    if let Some(j) = k.principals.iter().enumerate().position(|(_, p)| store.contains_principal(p)) {
        return Err(ConfigError::new(at(&format!("principals[{j}]")), "must be non-empty and unique"));
    }
    let policy = KeyPolicy {
        id: k.id,
        tenant: k.tenant,
        models: k.models.iter().map(|m| Glob::new(m)).collect(),
        disabled: k.disabled,
        not_before: c.not_before,
        expires_at: c.expires_at,
        labels: k.labels,
    };
    store.insert(policy, c.digests, k.principals);
    Ok(())
}

/// Compiles `auth.key_source`.
pub(super) fn key_source(d: &KeySourceDto, mode: &AuthMode) -> Result<KeySource, ConfigError> {
    let at = |f: &str| format!("auth.key_source.{f}");
    if *mode == AuthMode::None {
        return Err(ConfigError::new("auth.key_source", "needs auth mode `keys` or `jwt`"));
    }
    if d.cluster.is_empty() {
        return Err(ConfigError::new(at("cluster"), "must name the Envoy cluster that serves the key file"));
    }
    if !d.path.starts_with('/') {
        return Err(ConfigError::new(at("path"), "must start with `/`"));
    }
    if d.refresh_s == 0 {
        return Err(ConfigError::new(at("refresh_s"), "must be at least 1"));
    }
    if d.timeout_ms == 0 {
        return Err(ConfigError::new(at("timeout_ms"), "must be at least 1"));
    }
    if !(4096..=16 << 20).contains(&d.chunk_bytes) {
        return Err(ConfigError::new(at("chunk_bytes"), "must be between 4096 and 16777216"));
    }
    let authority = d.authority.clone().unwrap_or_else(|| d.cluster.clone());
    Ok(KeySource::new(&d.cluster, &authority, &d.path, d.refresh_s, d.timeout_ms, d.chunk_bytes, *mode == AuthMode::Keys))
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn field(json: &str) -> String {
        parse(json.as_bytes(), &|_| None).unwrap_err().field
    }

    #[test]
    fn key_source_compiles_with_defaults_and_names_bad_fields() {
        let c = parse(br#"{"auth": {"key_source": {"cluster": "keys", "path": "/k.jsonl"}}}"#, &|_| None).unwrap();
        let s = c.auth.key_source.unwrap();
        assert_eq!((s.authority.as_str(), s.refresh_s, s.timeout_ms, s.chunk_bytes, s.need_digests), ("keys", 60, 10_000, 262_144, true));
        assert!(s.prefix.starts_with("tollgate.keys."));
        let jwt = parse(br#"{"auth": {"mode": "jwt", "jwt": {"claim": "sub"}, "key_source": {"cluster": "k", "path": "/k"}}}"#, &|_| None).unwrap();
        assert!(!jwt.auth.key_source.unwrap().need_digests);
        assert_eq!(field(r#"{"auth": {"key_source": {"cluster": "", "path": "/k"}}}"#), "auth.key_source.cluster");
        assert_eq!(field(r#"{"auth": {"key_source": {"cluster": "k", "path": "k"}}}"#), "auth.key_source.path");
        assert_eq!(field(r#"{"auth": {"key_source": {"cluster": "k", "path": "/k", "refresh_s": 0}}}"#), "auth.key_source.refresh_s");
        assert_eq!(field(r#"{"auth": {"key_source": {"cluster": "k", "path": "/k", "chunk_bytes": 100}}}"#), "auth.key_source.chunk_bytes");
        assert_eq!(field(r#"{"auth": {"mode": "none", "key_source": {"cluster": "k", "path": "/k"}}}"#), "auth.key_source");
        assert_eq!(field(r#"{"auth": {"key_source": {"cluster": "k", "path": "/k", "url": "x"}}}"#), "auth.key_source.url");
        assert_eq!(field(r#"{"role": "guard", "auth": {"key_source": {"cluster": "k", "path": "/k"}}}"#), "auth.key_source");
    }
}
