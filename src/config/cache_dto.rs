//! `cache` (the store, at the top level) and `models[].cache` (a route's rule): the response
//! cache's configuration, compiled into `crate::cache::Cache`.

use super::ConfigError;
use crate::cache::{Cache, FleetTier, Rule, Scope, Shape};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// The local store (one per Envoy, in shared data), e.g. `{"max_bytes": 67108864}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CacheStoreDto {
    /// Total bytes the store may hold; split evenly over `buckets`, and the oldest entries of
    /// a full bucket are evicted.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Number of shared-data keys the store spreads over (more: fewer conflicts, smaller
    /// buckets; each must still hold a route's `max_entry_bytes`).
    #[serde(default = "default_buckets")]
    pub buckets: u32,
    /// The optional fleet tier: an HTTP key-value store (Redis behind webdis) that several
    /// Envoys share, asked after a local miss.
    #[serde(default)]
    pub fleet: Option<CacheFleetDto>,
}

/// The fleet tier's store, e.g. `{"cluster": "webdis", "timeout_ms": 100}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CacheFleetDto {
    /// The Envoy cluster of the webdis endpoints.
    pub cluster: String,
    /// `:authority` of the calls; default: the cluster name.
    #[serde(default)]
    pub authority: Option<String>,
    /// How long a lookup may hold the request; a slower answer counts as a miss.
    #[serde(default = "default_fleet_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_fleet_timeout_ms() -> u64 {
    100
}

/// A model route's cache rule, e.g. `{"ttl": "10m", "scope": "tenant"}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CacheRuleDto {
    /// How long an answer is served: seconds, or a duration like `"30s"`, `"10m"`, `"1h"`, `"1d"`.
    pub ttl: Value,
    /// Whose requests share answers: `tenant` (default; a key without a tenant shares with
    /// itself), `key`, or `global` (every caller: an explicit opt-in).
    #[serde(default = "default_scope")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["tenant", "key", "global"])))]
    pub scope: String,
    /// Largest answer stored, in bytes; larger ones are answered and not stored.
    #[serde(default = "default_max_entry_bytes")]
    pub max_entry_bytes: usize,
}

fn default_max_bytes() -> usize {
    64 * 1024 * 1024
}
fn default_buckets() -> u32 {
    1024
}
fn default_scope() -> String {
    "tenant".to_string()
}
fn default_max_entry_bytes() -> usize {
    32 * 1024
}

/// Seconds in `"30s"`, `"10m"`, `"1h"`, `"1d"` or a bare number.
fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let n: u64 = n.parse().ok()?;
            let mult = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return None,
            };
            n.checked_mul(mult)
        }
        _ => None,
    }
}

/// Route `i`'s rule.
pub fn rule(i: usize, dto: CacheRuleDto) -> Result<Rule, ConfigError> {
    let at = |f: &str| format!("models[{i}].cache.{f}");
    let ttl_secs = seconds(&dto.ttl).filter(|&s| s > 0).ok_or_else(|| ConfigError::new(at("ttl"), "must be a positive number of seconds or a duration like \"10m\""))?;
    let scope = Scope::parse(&dto.scope).ok_or_else(|| ConfigError::new(at("scope"), format!("unknown scope `{}` (expected tenant, key or global)", dto.scope)))?;
    if dto.max_entry_bytes == 0 {
        return Err(ConfigError::new(at("max_entry_bytes"), "must be greater than 0"));
    }
    Ok(Rule { ttl_secs, scope, max_entry_bytes: dto.max_entry_bytes })
}

/// The store and the routes' rules (by route name, with each route's index for errors).
pub fn compile(dto: Option<CacheStoreDto>, rules: Vec<(usize, String, Rule)>) -> Result<Cache, ConfigError> {
    let dto = dto.unwrap_or(CacheStoreDto { max_bytes: default_max_bytes(), buckets: default_buckets(), fleet: None });
    let fleet = match dto.fleet {
        None => None,
        Some(f) if f.cluster.is_empty() => return Err(ConfigError::new("cache.fleet.cluster", "must name an Envoy cluster")),
        Some(f) if f.timeout_ms == 0 => return Err(ConfigError::new("cache.fleet.timeout_ms", "must be at least 1")),
        Some(f) => Some(FleetTier { authority: f.authority.unwrap_or_else(|| f.cluster.clone()), cluster: f.cluster, timeout_ms: f.timeout_ms }),
    };
    if dto.buckets == 0 {
        return Err(ConfigError::new("cache.buckets", "must be greater than 0"));
    }
    let bucket_bytes = dto.max_bytes / dto.buckets as usize;
    if bucket_bytes == 0 {
        return Err(ConfigError::new("cache.max_bytes", "must be at least `cache.buckets` bytes"));
    }
    let mut by_name = HashMap::new();
    for (i, name, r) in rules {
        // The entry's own header (digest, times, usage) is stored beside the answer.
        if r.max_entry_bytes + 128 > bucket_bytes {
            return Err(ConfigError::new(
                format!("models[{i}].cache.max_entry_bytes"),
                format!("{} does not fit a bucket of the store ({bucket_bytes} bytes: `cache.max_bytes` / `cache.buckets`, less 128)", r.max_entry_bytes),
            ));
        }
        by_name.insert(name, r);
    }
    Ok(Cache { rules: by_name, shape: Shape { buckets: dto.buckets, bucket_bytes }, fleet })
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn load(store: &str, rule: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        let json = format!(
            r#"{{"providers": [{{"name": "p", "kind": "openai", "cluster": "c"}}], {store}
                "models": [{{"name": "m", "targets": [{{"provider": "p"}}], "cache": {rule}}}]}}"#
        );
        parse(json.as_bytes(), &|_| None)
    }

    #[test]
    fn rules_compile_and_errors_name_the_field() {
        let c = load("", r#"{"ttl": "10m", "scope": "key"}"#).unwrap();
        let r = c.cache.rule(Some("m")).unwrap();
        assert_eq!((r.ttl_secs, r.scope, r.max_entry_bytes), (600, crate::cache::Scope::Key, 32 * 1024));
        assert!(c.cache.rule(Some("other")).is_none() && c.cache.rule(None).is_none());
        assert_eq!(load("", r#"{"ttl": 30}"#).unwrap().cache.rule(Some("m")).unwrap().scope, crate::cache::Scope::Tenant);
        for (store, rule, field) in [
            ("", r#"{"ttl": "soon"}"#, "models[0].cache.ttl"),
            ("", r#"{"ttl": 0}"#, "models[0].cache.ttl"),
            ("", r#"{"ttl": 5, "scope": "team"}"#, "models[0].cache.scope"),
            ("", r#"{"ttl": 5, "max_entry_bytes": 0}"#, "models[0].cache.max_entry_bytes"),
            (r#""cache": {"max_bytes": 1048576, "buckets": 1024},"#, r#"{"ttl": 5}"#, "models[0].cache.max_entry_bytes"),
            (r#""cache": {"buckets": 0},"#, r#"{"ttl": 5}"#, "cache.buckets"),
            (r#""cache": {"fleet": {"cluster": ""}},"#, r#"{"ttl": 5}"#, "cache.fleet.cluster"),
            (r#""cache": {"fleet": {"cluster": "w", "timeout_ms": 0}},"#, r#"{"ttl": 5}"#, "cache.fleet.timeout_ms"),
            ("", r#"{"ttl": 5, "size": 1}"#, "models[0].cache"),
        ] {
            let e = load(store, rule).unwrap_err();
            assert!(e.field.starts_with(field), "{rule}: {e}");
        }
    }
}
