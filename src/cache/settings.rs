//! The compiled cache settings: a rule per model route, and the store's shape.

use std::collections::HashMap;

/// Whose answers a cached answer may serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Callers of the same tenant (a key without a tenant: that key only). The default.
    Tenant,
    /// Callers presenting the same key id.
    Key,
    /// Every caller: an explicit opt-in for answers that hold nothing private.
    Global,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "tenant" => Some(Scope::Tenant),
            "key" => Some(Scope::Key),
            "global" => Some(Scope::Global),
            _ => None,
        }
    }
}

/// A model route's cache rule (`models[].cache`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub ttl_secs: u64,
    pub scope: Scope,
    /// Largest answer (hub JSON bytes) the route stores.
    pub max_entry_bytes: usize,
}

/// How the local store is laid out in shared data: `buckets` keys, each holding at most
/// `bucket_bytes` of entries, so the whole store never holds more than `buckets * bucket_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub buckets: u32,
    pub bucket_bytes: usize,
}

/// The fleet tier: an HTTP key-value store (Redis behind webdis) several Envoys share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTier {
    pub cluster: String,
    pub authority: String,
    pub timeout_ms: u64,
}

/// Every route's cache rule and the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    /// By route name (the `models[].name` that matched).
    pub rules: HashMap<String, Rule>,
    pub shape: Shape,
    pub fleet: Option<FleetTier>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache { rules: HashMap::new(), shape: Shape { buckets: 1024, bucket_bytes: 64 * 1024 }, fleet: None }
    }
}

impl Cache {
    /// The rule of the route a request matched, if it caches.
    pub fn rule(&self, route: Option<&str>) -> Option<&Rule> {
        if self.rules.is_empty() {
            return None;
        }
        self.rules.get(route?)
    }
}
