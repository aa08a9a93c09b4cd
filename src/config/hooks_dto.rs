//! `policy_hooks`: HTTP services that allow, deny or modify requests (`pre`) and see or deny
//! answers (`post`), per route or key (see `crate::hooks` and docs/policy-webhooks.md).

use super::ConfigError;
use crate::hooks::{FailureMode, Hook, Hooks, Stage};
use serde::Deserialize;
use std::collections::HashSet;

/// One hook, e.g. `{"id": "moderation", "stage": "pre", "cluster": "policy", "path": "/check",
/// "timeout_ms": 200, "failure_mode": "closed", "models": ["gpt-4o"]}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HookDto {
    /// Stable, unique id (letters, digits, `-`, `_`): sent in the payload, names the metrics.
    pub id: String,
    /// `pre` (the request, before planning) or `post` (the answer).
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["pre", "post"])))]
    pub stage: String,
    /// The Envoy cluster of the policy service.
    pub cluster: String,
    /// `:authority` of the calls; default: the cluster name.
    #[serde(default)]
    pub authority: Option<String>,
    /// The path the payload is POSTed to.
    #[serde(default = "default_path")]
    pub path: String,
    /// How long the request waits for the answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// `closed` (default: refuse with 503 `policy_unavailable` when the service fails) or
    /// `open` (let the request through).
    #[serde(default = "default_failure_mode")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["closed", "open"])))]
    pub failure_mode: String,
    /// Only requests for these models (requested name or route name); default: all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Only requests with these key ids; default: all.
    #[serde(default)]
    pub keys: Vec<String>,
}

fn default_path() -> String {
    "/".to_string()
}
fn default_timeout_ms() -> u64 {
    200
}
fn default_failure_mode() -> String {
    "closed".to_string()
}

/// Compiles the hooks, split by stage, in document order.
pub fn compile(list: Vec<HookDto>) -> Result<Hooks, ConfigError> {
    let mut hooks = Hooks::default();
    let mut ids = HashSet::new();
    for (i, h) in list.into_iter().enumerate() {
        let at = |f: &str| format!("policy_hooks[{i}].{f}");
        super::ids::unique_id(at("id"), &h.id, &mut ids, "hook")?;
        let stage = match h.stage.as_str() {
            "pre" => Stage::Pre,
            "post" => Stage::Post,
            other => return Err(ConfigError::new(at("stage"), format!("unknown stage `{other}` (expected pre or post)"))),
        };
        if h.cluster.is_empty() {
            return Err(ConfigError::new(at("cluster"), "must not be empty"));
        }
        if !h.path.starts_with('/') {
            return Err(ConfigError::new(at("path"), "must start with `/`"));
        }
        if h.timeout_ms == 0 {
            return Err(ConfigError::new(at("timeout_ms"), "must be at least 1"));
        }
        let failure_mode = match h.failure_mode.as_str() {
            "closed" => FailureMode::Closed,
            "open" => FailureMode::Open,
            other => return Err(ConfigError::new(at("failure_mode"), format!("unknown failure mode `{other}` (expected closed or open)"))),
        };
        let authority = h.authority.unwrap_or_else(|| h.cluster.clone());
        let hook = Hook { id: h.id, stage, cluster: h.cluster, authority, path: h.path, timeout_ms: h.timeout_ms, failure_mode, models: h.models, keys: h.keys };
        match stage {
            Stage::Pre => hooks.pre.push(hook),
            Stage::Post => hooks.post.push(hook),
        }
    }
    Ok(hooks)
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::hooks::FailureMode;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn compiles_and_names_bad_fields() {
        let c = parse(br#"{"policy_hooks": [{"id": "m", "stage": "pre", "cluster": "p"}, {"id": "a", "stage": "post", "cluster": "p", "failure_mode": "open", "keys": ["k"]}]}"#, &|_| None).unwrap();
        assert_eq!((c.hooks.pre.len(), c.hooks.post.len()), (1, 1));
        assert_eq!((c.hooks.pre[0].timeout_ms, c.hooks.pre[0].failure_mode, c.hooks.pre[0].authority.as_str()), (200, FailureMode::Closed, "p"));
        let field = |h: &str| parse(format!(r#"{{"policy_hooks": [{h}]}}"#).as_bytes(), &|_| None).unwrap_err().field;
        assert_eq!(field(r#"{"id": "m", "stage": "during", "cluster": "p"}"#), "policy_hooks[0].stage");
        assert_eq!(field(r#"{"id": "m", "stage": "pre", "cluster": "p", "failure_mode": "ajar"}"#), "policy_hooks[0].failure_mode");
        assert_eq!(field(r#"{"id": "m", "stage": "pre", "cluster": "p", "timeout_ms": 0}"#), "policy_hooks[0].timeout_ms");
        assert_eq!(field(r#"{"id": "m", "stage": "pre", "cluster": "p", "retries": 2}"#), "policy_hooks[0].retries");
        assert_eq!(field(r#"{"id": "", "stage": "pre", "cluster": "p"}"#), "policy_hooks[0].id");
    }
}
