//! Checks shared by the sections whose entries carry a stable id and a scope (limits, anomaly
//! rules, policy hooks).

use super::ConfigError;
use crate::limits::Scope;
use std::collections::HashSet;

/// `id` at `at` is non-empty letters, digits, `-` or `_`, and not in `seen` (it is added).
pub(super) fn unique_id(at: String, id: &str, seen: &mut HashSet<String>, what: &str) -> Result<(), ConfigError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ConfigError::new(at, "must be non-empty letters, digits, `-` or `_`"));
    }
    if !seen.insert(id.to_string()) {
        return Err(ConfigError::new(at, format!("duplicate {what} id `{id}`")));
    }
    Ok(())
}

/// `key` or `tenant`.
pub(super) fn scope(at: String, s: &str) -> Result<Scope, ConfigError> {
    match s {
        "key" => Ok(Scope::Key),
        "tenant" => Ok(Scope::Tenant),
        other => Err(ConfigError::new(at, format!("unknown scope `{other}` (expected key or tenant)"))),
    }
}
