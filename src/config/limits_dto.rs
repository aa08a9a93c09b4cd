//! `limits`: rate limits, token and spend budgets and concurrency caps, per key or tenant.

use super::pricing_dto::decimal_micros;
use super::ConfigError;
use crate::limits::{FailureMode, Fleet, Kind, Limits, Period, Rule, Window};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;

/// The limits section, e.g.
/// `{"rules": [{"id": "team-tpm", "scope": "tenant", "kind": "tokens", "window": "minute", "limit": 100000}]}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitsDto {
    /// Completion tokens reserved for a request that sets no `max_tokens` /
    /// `max_completion_tokens`.
    #[serde(default = "default_completion_tokens")]
    pub default_completion_tokens: u64,
    /// The limits; a request must fit every one that applies to it.
    #[serde(default)]
    pub rules: Vec<RuleDto>,
    /// The store of the rules with `"store": "fleet"`: Redis behind webdis, shared by every Envoy.
    #[serde(default)]
    pub fleet: Option<FleetDto>,
}

/// The fleet store, e.g. `{"cluster": "webdis", "timeout_ms": 100, "failure_mode": "closed"}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FleetDto {
    /// The Envoy cluster of the webdis endpoints.
    pub cluster: String,
    /// `:authority` of the calls; default: the cluster name.
    #[serde(default)]
    pub authority: Option<String>,
    /// Per-call timeout in milliseconds; the request waits at most this long at admission.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// `open` (admit uncounted when the store does not answer) or `closed` (refuse with 503).
    #[serde(default = "default_failure_mode")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["open", "closed"])))]
    pub failure_mode: String,
    /// Prefix of every Redis key.
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_timeout_ms() -> u64 {
    100
}
fn default_failure_mode() -> String {
    "open".to_string()
}
fn default_prefix() -> String {
    "tg:fleet:".to_string()
}
fn default_store() -> String {
    "local".to_string()
}

/// One limit.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleDto {
    /// Stable, unique id (letters, digits, `-`, `_`): names the counter in shared data, so a
    /// reload that keeps the id keeps the count.
    pub id: String,
    /// `key` (one counter per key id) or `tenant` (one per tenant, shared by its keys).
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["key", "tenant"])))]
    pub scope: String,
    /// Only these key ids / tenants; default: every one.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Only requests for this model (requested name, route or upstream model name).
    #[serde(default)]
    pub model: Option<String>,
    /// `requests`, `tokens`, `spend` or `concurrency`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["requests", "tokens", "spend", "concurrency"])))]
    pub kind: String,
    /// `minute`, `hour`, `day` or `month`; not for `concurrency`.
    #[serde(default)]
    pub window: Option<String>,
    /// `calendar` (resets at UTC boundaries, default) or `rolling` (sliding window).
    #[serde(default = "default_align")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["calendar", "rolling"])))]
    pub align: String,
    /// The cap: requests, tokens, concurrent requests, or for `spend` an amount of the pricing
    /// currency (decimal number or string, e.g. `"25.50"`).
    pub limit: Value,
    /// Count and report what would be rejected, without rejecting.
    #[serde(default)]
    pub shadow: bool,
    /// `local` (this Envoy's shared data, default) or `fleet` (`limits.fleet`, shared by every
    /// Envoy; calendar windows only).
    #[serde(default = "default_store")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["local", "fleet"])))]
    pub store: String,
    /// Budget alert thresholds, as shares of `limit` (e.g. `[0.5, 0.8, 1.0]`; token and spend
    /// rules of the local store): each fires once per window per subject (see docs/alerts.md).
    #[serde(default)]
    pub alerts: Vec<f64>,
}

fn default_completion_tokens() -> u64 {
    1024
}
fn default_align() -> String {
    "calendar".to_string()
}

/// Compiles the rules; `priced` says whether a price table exists (spend limits need one).
pub fn compile(dto: Option<LimitsDto>, accounting: bool, priced: bool) -> Result<Limits, ConfigError> {
    let Some(dto) = dto else { return Ok(Limits::default()) };
    let mut ids = HashSet::new();
    let mut rules = Vec::with_capacity(dto.rules.len());
    let mut fleet_rules = Vec::new();
    for (i, r) in dto.rules.into_iter().enumerate() {
        let at = |f: &str| format!("limits.rules[{i}].{f}");
        super::ids::unique_id(at("id"), &r.id, &mut ids, "limit")?;
        let scope = super::ids::scope(at("scope"), &r.scope)?;
        let kind = Kind::parse(&r.kind).ok_or_else(|| ConfigError::new(at("kind"), format!("unknown kind `{}` (expected requests, tokens, spend or concurrency)", r.kind)))?;
        let rolling = match r.align.as_str() {
            "calendar" => false,
            "rolling" => true,
            other => return Err(ConfigError::new(at("align"), format!("unknown alignment `{other}` (expected calendar or rolling)"))),
        };
        let window = match (kind, r.window.as_deref()) {
            (Kind::Concurrency, None) => None,
            (Kind::Concurrency, Some(_)) => return Err(ConfigError::new(at("window"), "concurrency limits have no window")),
            (_, None) => return Err(ConfigError::new(at("window"), "is required (minute, hour, day or month)")),
            (_, Some(w)) => {
                let period = Period::parse(w).ok_or_else(|| ConfigError::new(at("window"), format!("unknown window `{w}` (expected minute, hour, day or month)")))?;
                Some(Window { period, rolling })
            }
        };
        let limit = match kind {
            Kind::Spend => decimal_micros(&at("limit"), &r.limit)?,
            _ => r.limit.as_u64().ok_or_else(|| ConfigError::new(at("limit"), "must be a non-negative integer"))?,
        };
        if matches!(kind, Kind::Tokens | Kind::Spend) && !accounting {
            return Err(ConfigError::new(at("kind"), "token and spend limits settle with the metered usage: accounting must be enabled"));
        }
        if kind == Kind::Spend && !priced {
            return Err(ConfigError::new(at("kind"), "spend limits need a `pricing` table"));
        }
        if r.subjects.iter().any(String::is_empty) {
            return Err(ConfigError::new(at("subjects"), "must not contain empty names"));
        }
        if r.model.as_deref() == Some("") {
            return Err(ConfigError::new(at("model"), "must not be empty"));
        }
        let alerts = super::alerts_dto::thresholds(&at("alerts"), &r.alerts, kind, &r.store)?;
        let rule = Rule { id: r.id, scope, subjects: r.subjects, model: r.model, kind, window, limit, shadow: r.shadow, alerts };
        match r.store.as_str() {
            "local" => rules.push(rule),
            "fleet" if rolling => return Err(ConfigError::new(at("align"), "fleet limits use calendar windows")),
            "fleet" if dto.fleet.is_none() => return Err(ConfigError::new(at("store"), "fleet limits need `limits.fleet`")),
            "fleet" => fleet_rules.push(rule),
            other => return Err(ConfigError::new(at("store"), format!("unknown store `{other}` (expected local or fleet)"))),
        }
    }
    let fleet = match dto.fleet {
        Some(f) => Some(fleet(f, fleet_rules)?),
        None => None,
    };
    Ok(Limits { rules, fleet, default_completion_tokens: dto.default_completion_tokens })
}

fn fleet(f: FleetDto, rules: Vec<Rule>) -> Result<Fleet, ConfigError> {
    if f.cluster.is_empty() {
        return Err(ConfigError::new("limits.fleet.cluster", "must not be empty"));
    }
    if f.timeout_ms == 0 {
        return Err(ConfigError::new("limits.fleet.timeout_ms", "must be at least 1"));
    }
    let failure_mode = match f.failure_mode.as_str() {
        "open" => FailureMode::Open,
        "closed" => FailureMode::Closed,
        other => return Err(ConfigError::new("limits.fleet.failure_mode", format!("unknown failure mode `{other}` (expected open or closed)"))),
    };
    let authority = f.authority.unwrap_or_else(|| f.cluster.clone());
    Ok(Fleet { cluster: f.cluster, authority, timeout_ms: f.timeout_ms, failure_mode, prefix: f.prefix, rules })
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::limits::Kind;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn limits(rules: &str) -> Result<crate::limits::Limits, crate::config::ConfigError> {
        let json = format!(r#"{{"pricing": {{"models": {{"*": {{"input": 1, "output": 2}}}}}}, "limits": {{"rules": {rules}}}}}"#);
        parse(json.as_bytes(), &|_| None).map(|c| c.limits)
    }

    #[test]
    fn every_kind_compiles() {
        let l = limits(
            r#"[{"id": "rpm", "scope": "key", "kind": "requests", "window": "minute", "limit": 60},
                {"id": "tpd", "scope": "tenant", "kind": "tokens", "window": "day", "align": "rolling", "limit": 100000, "model": "gpt-4o"},
                {"id": "usd", "scope": "tenant", "kind": "spend", "window": "month", "limit": "25.50", "shadow": true},
                {"id": "cc", "scope": "key", "kind": "concurrency", "limit": 4, "subjects": ["k1"]}]"#,
        )
        .unwrap();
        assert_eq!(l.rules.len(), 4);
        assert_eq!(l.rules[2].limit, 25_500_000);
        assert_eq!(l.rules[2].kind, Kind::Spend);
        assert!(l.rules[1].window.unwrap().rolling);
        assert!(l.rules[3].window.is_none());
        assert_eq!(l.default_completion_tokens, 1024);
    }

    #[test]
    fn errors_name_the_field() {
        let field = |rules: &str| limits(rules).unwrap_err().field;
        assert_eq!(field(r#"[{"id": "a b", "scope": "key", "kind": "requests", "window": "minute", "limit": 1}]"#), "limits.rules[0].id");
        assert_eq!(field(r#"[{"id": "a", "scope": "team", "kind": "requests", "window": "minute", "limit": 1}]"#), "limits.rules[0].scope");
        assert_eq!(field(r#"[{"id": "a", "scope": "key", "kind": "bytes", "window": "minute", "limit": 1}]"#), "limits.rules[0].kind");
        assert_eq!(field(r#"[{"id": "a", "scope": "key", "kind": "requests", "limit": 1}]"#), "limits.rules[0].window");
        assert_eq!(field(r#"[{"id": "a", "scope": "key", "kind": "requests", "window": "week", "limit": 1}]"#), "limits.rules[0].window");
        assert_eq!(field(r#"[{"id": "a", "scope": "key", "kind": "concurrency", "window": "day", "limit": 1}]"#), "limits.rules[0].window");
        assert_eq!(field(r#"[{"id": "a", "scope": "key", "kind": "requests", "window": "day", "align": "sliding", "limit": 1}]"#), "limits.rules[0].align");
        assert_eq!(field(r#"[{"id": "a", "scope": "key", "kind": "tokens", "window": "day", "limit": -1}]"#), "limits.rules[0].limit");
        assert_eq!(field(r#"[{"id": "a", "scope": "key", "kind": "spend", "window": "day", "limit": "x"}]"#), "limits.rules[0].limit");
        assert_eq!(
            field(r#"[{"id": "a", "scope": "key", "kind": "requests", "window": "day", "limit": 1}, {"id": "a", "scope": "key", "kind": "requests", "window": "day", "limit": 1}]"#),
            "limits.rules[1].id"
        );
        assert_eq!(field(r#"[{"id": "a", "scope": "key", "kind": "requests", "window": "day", "limit": 1, "burst": 2}]"#), "limits.rules[0].burst");
        let no_prices = r#"{"limits": {"rules": [{"id": "a", "scope": "key", "kind": "spend", "window": "day", "limit": 1}]}}"#;
        assert_eq!(parse(no_prices.as_bytes(), &|_| None).unwrap_err().field, "limits.rules[0].kind");
        let no_accounting = r#"{"accounting": {"enabled": false}, "limits": {"rules": [{"id": "a", "scope": "key", "kind": "tokens", "window": "day", "limit": 1}]}}"#;
        assert_eq!(parse(no_accounting.as_bytes(), &|_| None).unwrap_err().field, "limits.rules[0].kind");
    }

    #[test]
    fn fleet_rules_compile_apart_and_name_bad_fields() {
        let json = r#"{"limits": {"fleet": {"cluster": "webdis", "failure_mode": "closed"}, "rules": [
            {"id": "local", "scope": "key", "kind": "requests", "window": "minute", "limit": 5},
            {"id": "f", "scope": "tenant", "kind": "tokens", "window": "hour", "limit": 1000, "store": "fleet"}]}}"#;
        let l = parse(json.as_bytes(), &|_| None).unwrap().limits;
        assert_eq!(l.rules.len(), 1);
        let f = l.fleet.unwrap();
        assert_eq!((f.rules.len(), f.rules[0].id.as_str(), f.timeout_ms, f.authority.as_str()), (1, "f", 100, "webdis"));
        assert_eq!(f.failure_mode, crate::limits::FailureMode::Closed);
        let field = |json: &str| parse(json.as_bytes(), &|_| None).unwrap_err().field;
        let rule = |extra: &str| format!(r#"{{"id": "f", "scope": "tenant", "kind": "requests", "window": "hour", "limit": 1{extra}}}"#);
        assert_eq!(field(&format!(r#"{{"limits": {{"rules": [{}]}}}}"#, rule(r#", "store": "fleet""#))), "limits.rules[0].store");
        assert_eq!(field(&format!(r#"{{"limits": {{"rules": [{}]}}}}"#, rule(r#", "store": "redis""#))), "limits.rules[0].store");
        let with = |fleet: &str, extra: &str| format!(r#"{{"limits": {{"fleet": {fleet}, "rules": [{}]}}}}"#, rule(extra));
        assert_eq!(field(&with(r#"{"cluster": "w"}"#, r#", "store": "fleet", "align": "rolling""#)), "limits.rules[0].align");
        assert_eq!(field(&with(r#"{"cluster": "w", "failure_mode": "maybe"}"#, "")), "limits.fleet.failure_mode");
        assert_eq!(field(&with(r#"{"cluster": "w", "timeout_ms": 0}"#, "")), "limits.fleet.timeout_ms");
        assert_eq!(field(&with(r#"{"cluster": ""}"#, "")), "limits.fleet.cluster");
    }

    #[test]
    fn pricing_compiles_and_names_bad_fields() {
        let c = parse(br#"{"pricing": {"currency": "EUR", "models": {"gpt-4o-mini": {"input": 0.15, "output": "0.60"}}}}"#, &|_| None).unwrap();
        let p = c.pricing.price(&["gpt-4o-mini"]).unwrap();
        assert_eq!((p.input, p.output, p.cached_input, p.cache_write_input, p.cache_write_input_1h), (150_000, 600_000, 150_000, 150_000, 150_000));
        assert_eq!(c.pricing.currency, "EUR");
        // The one-hour write rate defaults to the five-minute one, which defaults to input.
        let c = parse(br#"{"pricing": {"models": {"c": {"input": 3, "output": 15, "cache_write_input": 3.75}, "d": {"input": 3, "output": 15, "cache_write_input": 3.75, "cache_write_input_1h": "6"}}}}"#, &|_| None).unwrap();
        let rates = |m: &str| c.pricing.price(&[m]).map(|p| (p.cache_write_input, p.cache_write_input_1h));
        assert_eq!(rates("c"), Some((3_750_000, 3_750_000)));
        assert_eq!(rates("d"), Some((3_750_000, 6_000_000)));
        let e = parse(br#"{"pricing": {"models": {"m": {"input": 1, "output": 1, "cache_write_input_1h": "x"}}}}"#, &|_| None).unwrap_err();
        assert_eq!(e.field, "pricing.models.m.cache_write_input_1h");
        let e = parse(br#"{"pricing": {"models": {"m": {"input": 1e-9, "output": 1}}}}"#, &|_| None).unwrap_err();
        assert_eq!(e.field, "pricing.models.m.input");
        let e = parse(br#"{"pricing": {"models": {"m": {"input": 1, "output": 1, "cached": 1}}}}"#, &|_| None).unwrap_err();
        assert!(e.field.starts_with("pricing.models"), "{e:?}");
    }
}
