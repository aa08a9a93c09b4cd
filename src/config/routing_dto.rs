//! Wire shape and compilation of health-, latency- and cost-aware routing: the circuit
//! breaker (`breaker`), and each model route's `strategy`, `latency`, `max_price` and `rules`.
//! See `docs/routing.md`.

use super::dto::TargetDto;
use super::ConfigError;
use crate::route::health::{Breaker, Classes, Failure};
use crate::route::rules::{Rule, When};
use crate::route::select::Policy;
use crate::route::strategy::{LatencyMetric, Strategy};
use crate::route::Target;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The circuit breaker of every target (provider + upstream model) of a route with more than
/// one target or fallback. State is shared by all workers of the proxy.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BreakerDto {
    /// Consecutive failures that cool a target.
    #[serde(default = "default_failures")]
    pub failures: u32,
    /// How long a cooled target is skipped before one probe request is let through.
    #[serde(default = "default_cooldown")]
    pub cooldown_seconds: u64,
    /// Cap on the cooldown a 429's `Retry-After` asks for (it cools the target at once).
    #[serde(default = "default_max_cooldown")]
    pub max_cooldown_seconds: u64,
    /// Which failures count: `5xx`, `429`, `connect_failure`, `reset`, `timeout` (default all).
    #[serde(default = "default_on")]
    #[cfg_attr(feature = "schema", schemars(extend("items" = {"enum": ["5xx", "429", "connect_failure", "reset", "timeout"]})))]
    pub on: Vec<String>,
}

fn default_failures() -> u32 {
    3
}
fn default_cooldown() -> u64 {
    30
}
fn default_max_cooldown() -> u64 {
    300
}
fn default_on() -> Vec<String> {
    Failure::NAMES.iter().map(|s| s.to_string()).collect()
}

/// The latency strategy's settings.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LatencyDto {
    /// `ttft` (time to first byte, default) or `per_token` (duration per output token).
    #[serde(default = "default_metric")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["ttft", "per_token"])))]
    pub metric: String,
    /// Share of requests (0 to 1) sent to a random target, so that a recovered one is noticed.
    #[serde(default = "default_exploration")]
    pub exploration: f64,
}

fn default_metric() -> String {
    "ttft".to_string()
}
fn default_exploration() -> f64 {
    0.05
}

/// One conditional route: when every condition set in `when` holds, `targets` replace the
/// route's own (its fallbacks stay).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleDto {
    pub when: WhenDto,
    pub targets: Vec<TargetDto>,
}

/// A rule's conditions.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WhenDto {
    /// Estimated prompt tokens plus the request's `max_tokens` at least this.
    #[serde(default)]
    pub min_tokens: Option<u64>,
    /// The request offers tools (`true`) or none (`false`).
    #[serde(default)]
    pub tools: Option<bool>,
    /// Some message carries an image (`true`) or none does (`false`).
    #[serde(default)]
    pub images: Option<bool>,
    /// The key's tenant is one of these.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// The key's `labels` include each of these.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// A request header (lower-case) is present, or has `value`.
    #[serde(default)]
    pub header: Option<HeaderMatchDto>,
}

/// A request header condition.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeaderMatchDto {
    pub name: String,
    /// Exact value; absent: the header only has to be present.
    #[serde(default)]
    pub value: Option<String>,
}

/// Compiles `breaker` (`None`: off).
pub fn breaker(dto: Option<BreakerDto>) -> Result<Option<Breaker>, ConfigError> {
    let Some(b) = dto else { return Ok(None) };
    if b.failures == 0 {
        return Err(ConfigError::new("breaker.failures", "must be at least 1"));
    }
    if b.cooldown_seconds == 0 {
        return Err(ConfigError::new("breaker.cooldown_seconds", "must be at least 1"));
    }
    let mut classes = Vec::new();
    for (i, name) in b.on.iter().enumerate() {
        classes.push(Failure::parse(name).ok_or_else(|| ConfigError::new(format!("breaker.on[{i}]"), format!("unknown failure `{name}` (expected 5xx, 429, connect_failure, reset or timeout)")))?);
    }
    let cooldown_ms = b.cooldown_seconds.saturating_mul(1000);
    Ok(Some(Breaker {
        failures: b.failures,
        cooldown_ms,
        max_cooldown_ms: b.max_cooldown_seconds.saturating_mul(1000).max(cooldown_ms),
        probe_timeout_ms: cooldown_ms,
        classes: Classes::of(classes),
    }))
}

/// A route's routing fields, as the DTO gives them.
pub struct RouteRouting {
    pub strategy: String,
    pub latency: Option<LatencyDto>,
    pub max_price: Option<Value>,
    pub rules: Vec<RuleDto>,
}

/// Compiles a target list found at a path (the route compiler's own).
pub type TargetsOf<'a> = &'a dyn Fn(&str, Vec<TargetDto>) -> Result<Vec<Target>, ConfigError>;

/// Compiles a route's policy; `at` is `models[i]`.
pub fn policy(at: &str, r: RouteRouting, targets: TargetsOf<'_>) -> Result<Policy, ConfigError> {
    if r.latency.is_some() && r.strategy != "latency" {
        return Err(ConfigError::new(format!("{at}.latency"), "is only used by `strategy: latency`"));
    }
    if r.max_price.is_some() && r.strategy != "cost" {
        return Err(ConfigError::new(format!("{at}.max_price"), "is only used by `strategy: cost`"));
    }
    let strategy = match r.strategy.as_str() {
        "weighted" => Strategy::Weighted,
        "priority" => Strategy::Priority,
        "least_busy" => Strategy::LeastBusy,
        "latency" => {
            let l = r.latency.unwrap_or(LatencyDto { metric: default_metric(), exploration: default_exploration() });
            let metric = match l.metric.as_str() {
                "ttft" => LatencyMetric::Ttft,
                "per_token" => LatencyMetric::PerToken,
                m => return Err(ConfigError::new(format!("{at}.latency.metric"), format!("unknown metric `{m}` (expected ttft or per_token)"))),
            };
            if !(0.0..=1.0).contains(&l.exploration) {
                return Err(ConfigError::new(format!("{at}.latency.exploration"), "must be between 0 and 1"));
            }
            Strategy::Latency { metric, exploration_permille: (l.exploration * 1000.0).round() as u32 }
        }
        "cost" => {
            let max_price = r.max_price.as_ref().map(|v| super::pricing_dto::decimal_micros(&format!("{at}.max_price"), v)).transpose()?;
            Strategy::Cost { max_price }
        }
        s => return Err(ConfigError::new(format!("{at}.strategy"), format!("unknown strategy `{s}` (expected weighted, priority, latency, least_busy or cost)"))),
    };
    let mut rules = Vec::with_capacity(r.rules.len());
    for (j, rule) in r.rules.into_iter().enumerate() {
        let here = format!("{at}.rules[{j}]");
        if rule.targets.is_empty() {
            return Err(ConfigError::new(format!("{here}.targets"), "must list at least one target"));
        }
        let w = rule.when;
        let header = match w.header {
            Some(h) if h.name.is_empty() || h.name.bytes().any(|b| b.is_ascii_uppercase() || b == b' ' || b == b':') => {
                return Err(ConfigError::new(format!("{here}.when.header.name"), "must be a lower-case HTTP header name"))
            }
            Some(h) => Some((h.name, h.value)),
            None => None,
        };
        let when = When { min_tokens: w.min_tokens, tools: w.tools, images: w.images, tenants: w.tenants, labels: w.labels.into_iter().collect(), header };
        rules.push(Rule { when, targets: targets(&format!("{here}.targets"), rule.targets)? });
    }
    Ok(Policy { strategy, rules })
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn field(extra_top: &str, route: &str) -> String {
        let json = format!(
            r#"{{"providers": [{{"name": "a", "kind": "openai", "cluster": "a"}}, {{"name": "b", "kind": "openai", "cluster": "b"}}], {extra_top}
                "models": [{{"name": "m", "targets": [{{"provider": "a"}}, {{"provider": "b", "context_window": 8000}}] {route}}}], "auth": {{"mode": "none"}}}}"#
        );
        match parse(json.as_bytes(), &|_| None) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.field,
        }
    }

    #[test]
    fn valid_routing_compiles() {
        assert_eq!(field(r#""breaker": {"failures": 2, "on": ["5xx", "429"]},"#, r#", "strategy": "latency", "latency": {"metric": "per_token", "exploration": 0.1}"#), "ok");
        assert_eq!(field("", r#", "strategy": "cost", "max_price": "12.5""#), "ok");
        assert_eq!(field("", r#", "strategy": "priority", "rules": [{"when": {"min_tokens": 9000, "tools": true, "tenants": ["t"], "labels": {"k": "v"}, "header": {"name": "x-tier"}}, "targets": [{"provider": "b"}]}]"#), "ok");
    }

    #[test]
    fn the_guard_role_refuses_a_breaker() {
        let e = parse(br#"{"role": "guard", "breaker": {}}"#, &|_| None).unwrap_err();
        assert_eq!(e.field, "breaker");
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(r#""breaker": {"failures": 0},"#, ""), "breaker.failures");
        assert_eq!(field(r#""breaker": {"on": ["4xx"]},"#, ""), "breaker.on[0]");
        assert_eq!(field(r#""breaker": {"cooldown": 3},"#, ""), "breaker.cooldown");
        assert_eq!(field("", r#", "strategy": "fastest""#), "models[0].strategy");
        assert_eq!(field("", r#", "latency": {}"#), "models[0].latency");
        assert_eq!(field("", r#", "strategy": "latency", "latency": {"exploration": 2}"#), "models[0].latency.exploration");
        assert_eq!(field("", r#", "strategy": "cost", "max_price": "x""#), "models[0].max_price");
        assert_eq!(field("", r#", "rules": [{"when": {}, "targets": []}]"#), "models[0].rules[0].targets");
        assert_eq!(field("", r#", "rules": [{"when": {}, "targets": [{"provider": "zz"}]}]"#), "models[0].rules[0].targets[0].provider");
        assert_eq!(field("", r#", "rules": [{"when": {"header": {"name": "X-Tier"}}, "targets": [{"provider": "a"}]}]"#), "models[0].rules[0].when.header.name");
        assert_eq!(field("", r#", "rules": [{"when": {"size": 3}, "targets": [{"provider": "a"}]}]"#), "models[0].rules[0].when.size");
    }
}
