//! `alerts`: where alert events go (a signed webhook) and the spend / token anomaly rules.
//! Budget thresholds are set on the limits' rules (`limits.rules[].alerts`).

use super::pricing_dto::decimal_micros;
use super::ConfigError;
use crate::alerts::{Action, Alerts, Anomaly, Webhook};
use crate::crypto::base64_decode;
use crate::limits::Kind;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;

/// The alerts section, e.g. `{"webhook": {"cluster": "alerts", "path": "/hooks/tollgate"},
/// "anomalies": [{"id": "spend-spike", "scope": "tenant", "kind": "spend", "factor": 10, "floor": "5"}]}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertsDto {
    /// The webhook every event is POSTed to (signed per Standard Webhooks).
    #[serde(default)]
    pub webhook: Option<WebhookDto>,
    /// Spend and token anomaly rules.
    #[serde(default)]
    pub anomalies: Vec<AnomalyDto>,
}

/// The event webhook.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookDto {
    /// The Envoy cluster of the receiver.
    pub cluster: String,
    /// `:authority` of the calls; default: the cluster name.
    #[serde(default)]
    pub authority: Option<String>,
    /// The path events are POSTed to.
    #[serde(default = "default_path")]
    pub path: String,
    /// Environment variable holding the signing secret (`whsec_` + base64, as Standard Webhooks
    /// serializes it). Unset: events are logged and counted but not sent.
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// Per-attempt timeout in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts in all (the first included), 1 to 10.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry, in milliseconds; doubled for each next one.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
}

/// One anomaly rule.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AnomalyDto {
    /// Stable, unique id (letters, digits, `-`, `_`): names the detector's state in shared data.
    pub id: String,
    /// `key` (one detector per key id) or `tenant` (one per tenant).
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["key", "tenant"])))]
    pub scope: String,
    /// Only these key ids / tenants; default: every one.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// What is measured: `spend` (default), `tokens` or `requests`.
    #[serde(default = "default_kind")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["spend", "tokens", "requests"])))]
    pub kind: String,
    /// The window length in seconds (default 3600); the baseline averages past windows.
    #[serde(default = "default_window_seconds")]
    pub window_seconds: u64,
    /// Fire when the window's amount exceeds `factor` x the baseline (default 10).
    #[serde(default = "default_factor")]
    pub factor: f64,
    /// ... and exceeds this absolute amount: tokens or requests, or for `spend` an amount of the
    /// pricing currency (decimal number or string). Keeps tiny subjects from paging anyone.
    pub floor: Value,
    /// Complete windows learned before the rule may fire (default 3).
    #[serde(default = "default_min_windows")]
    pub min_windows: u64,
    /// Weight of the newest window in the moving average, 0 < smoothing <= 1 (default 0.3).
    #[serde(default = "default_smoothing")]
    pub smoothing: f64,
    /// `alert` (default: raise the event) or `block` (also refuse the subject's requests with
    /// 429 `anomaly_detected` until the window ends).
    #[serde(default = "default_action")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["alert", "block"])))]
    pub action: String,
}

fn default_path() -> String {
    "/".to_string()
}
fn default_secret_env() -> String {
    "TOLLGATE_WEBHOOK_SECRET".to_string()
}
fn default_timeout_ms() -> u64 {
    2_000
}
fn default_max_attempts() -> u32 {
    3
}
fn default_backoff_ms() -> u64 {
    1_000
}
fn default_kind() -> String {
    "spend".to_string()
}
fn default_window_seconds() -> u64 {
    3_600
}
fn default_factor() -> f64 {
    10.0
}
fn default_min_windows() -> u64 {
    3
}
fn default_smoothing() -> f64 {
    0.3
}
fn default_action() -> String {
    "alert".to_string()
}

/// Compiles the section; `env` reads the proxy's environment (the signing secret), `priced`
/// says whether a price table exists (spend rules need one).
pub fn compile(dto: Option<AlertsDto>, env: &dyn Fn(&str) -> Option<String>, accounting: bool, priced: bool) -> Result<Alerts, ConfigError> {
    let Some(dto) = dto else { return Ok(Alerts::default()) };
    let webhook = dto.webhook.map(|w| webhook(w, env)).transpose()?;
    let mut ids = HashSet::new();
    let mut anomalies = Vec::with_capacity(dto.anomalies.len());
    for (i, a) in dto.anomalies.into_iter().enumerate() {
        let at = |f: &str| format!("alerts.anomalies[{i}].{f}");
        super::ids::unique_id(at("id"), &a.id, &mut ids, "anomaly")?;
        let scope = super::ids::scope(at("scope"), &a.scope)?;
        let kind = match Kind::parse(&a.kind) {
            Some(k @ (Kind::Spend | Kind::Tokens | Kind::Requests)) => k,
            _ => return Err(ConfigError::new(at("kind"), format!("unknown kind `{}` (expected spend, tokens or requests)", a.kind))),
        };
        if kind != Kind::Requests && !accounting {
            return Err(ConfigError::new(at("kind"), "spend and token anomalies read the metered usage: accounting must be enabled"));
        }
        if kind == Kind::Spend && !priced {
            return Err(ConfigError::new(at("kind"), "spend anomalies need a `pricing` table"));
        }
        if a.window_seconds == 0 {
            return Err(ConfigError::new(at("window_seconds"), "must be at least 1"));
        }
        if !(a.factor.is_finite() && (1.0..=1_000_000.0).contains(&a.factor)) {
            return Err(ConfigError::new(at("factor"), "must be a number from 1 to 1000000"));
        }
        if !(a.smoothing.is_finite() && a.smoothing > 0.0 && a.smoothing <= 1.0) {
            return Err(ConfigError::new(at("smoothing"), "must be greater than 0 and at most 1"));
        }
        let floor = match kind {
            Kind::Spend => decimal_micros(&at("floor"), &a.floor)?,
            _ => a.floor.as_u64().ok_or_else(|| ConfigError::new(at("floor"), "must be a non-negative integer"))?,
        };
        let action = match a.action.as_str() {
            "alert" => Action::Alert,
            "block" => Action::Block,
            other => return Err(ConfigError::new(at("action"), format!("unknown action `{other}` (expected alert or block)"))),
        };
        if a.subjects.iter().any(String::is_empty) {
            return Err(ConfigError::new(at("subjects"), "must not contain empty names"));
        }
        anomalies.push(Anomaly {
            id: a.id,
            scope,
            subjects: a.subjects,
            kind,
            window_seconds: a.window_seconds,
            factor_pct: (a.factor * 100.0).round() as u64,
            floor,
            min_windows: a.min_windows.max(1),
            smoothing_pct: ((a.smoothing * 100.0).round() as u64).clamp(1, 100),
            action,
        });
    }
    Ok(Alerts { webhook, anomalies })
}

fn webhook(w: WebhookDto, env: &dyn Fn(&str) -> Option<String>) -> Result<Webhook, ConfigError> {
    if w.cluster.is_empty() {
        return Err(ConfigError::new("alerts.webhook.cluster", "must not be empty"));
    }
    if !w.path.starts_with('/') {
        return Err(ConfigError::new("alerts.webhook.path", "must start with `/`"));
    }
    if w.timeout_ms == 0 {
        return Err(ConfigError::new("alerts.webhook.timeout_ms", "must be at least 1"));
    }
    if !(1..=10).contains(&w.max_attempts) {
        return Err(ConfigError::new("alerts.webhook.max_attempts", "must be from 1 to 10"));
    }
    if w.secret_env.is_empty() {
        return Err(ConfigError::new("alerts.webhook.secret_env", "must name an environment variable"));
    }
    let key = match env(&w.secret_env) {
        None => None,
        Some(s) => {
            let b64 = s.trim().strip_prefix("whsec_").unwrap_or(s.trim());
            match base64_decode(b64).filter(|k| !k.is_empty()) {
                Some(k) => Some(k),
                None => return Err(ConfigError::new("alerts.webhook.secret_env", format!("{} must hold `whsec_` followed by base64", w.secret_env))),
            }
        }
    };
    let authority = w.authority.unwrap_or_else(|| w.cluster.clone());
    Ok(Webhook { cluster: w.cluster, authority, path: w.path, key, secret_env: w.secret_env, timeout_ms: w.timeout_ms, max_attempts: w.max_attempts, backoff_ms: w.backoff_ms })
}

/// A limit rule's `alerts`: shares of the limit (0 < t <= 10) to basis points, ascending.
pub(super) fn thresholds(at: &str, list: &[f64], kind: Kind, store: &str) -> Result<Vec<u32>, ConfigError> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    if !matches!(kind, Kind::Tokens | Kind::Spend) {
        return Err(ConfigError::new(at, "budget alerts are for token and spend rules"));
    }
    if store != "local" {
        return Err(ConfigError::new(at, "budget alerts are for rules of the local store"));
    }
    if list.len() > crate::alerts::MAX_THRESHOLDS {
        return Err(ConfigError::new(at, format!("at most {} thresholds", crate::alerts::MAX_THRESHOLDS)));
    }
    let mut out = Vec::with_capacity(list.len());
    for t in list {
        if !(t.is_finite() && *t > 0.0 && *t <= 10.0) {
            return Err(ConfigError::new(at, "each threshold is a share of the limit, greater than 0 and at most 10"));
        }
        out.push((t * 10_000.0).round() as u32);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const PRICED: &str = r#""pricing": {"models": {"*": {"input": 1, "output": 2}}}"#;

    #[test]
    fn compiles_with_defaults_and_reads_the_secret() {
        let json = format!(r#"{{{PRICED}, "alerts": {{"webhook": {{"cluster": "hooks"}}, "anomalies": [{{"id": "spike", "scope": "tenant", "floor": "2.5"}}]}}}}"#);
        let env = |k: &str| (k == "TOLLGATE_WEBHOOK_SECRET").then(|| "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string());
        let c = parse(json.as_bytes(), &env).unwrap();
        let w = c.alerts.webhook.as_ref().unwrap();
        assert_eq!((w.authority.as_str(), w.path.as_str(), w.max_attempts, w.key.as_ref().map(Vec::len)), ("hooks", "/", 3, Some(24)));
        assert!(!format!("{w:?}").contains("MfKQ"), "the key never prints");
        let a = &c.alerts.anomalies[0];
        assert_eq!((a.factor_pct, a.floor, a.window_seconds, a.smoothing_pct, a.min_windows), (1000, 2_500_000, 3600, 30, 3));
        assert!(parse(json.as_bytes(), &|_| None).unwrap().alerts.webhook.unwrap().key.is_none(), "unset: not signed, not sent");
    }

    #[test]
    fn errors_name_the_field() {
        let field = |alerts: &str, env: &dyn Fn(&str) -> Option<String>| parse(format!(r#"{{{PRICED}, "alerts": {alerts}}}"#).as_bytes(), env).unwrap_err().field;
        let none = |_: &str| None;
        let anomaly = |extra: &str| format!(r#"{{"anomalies": [{{"id": "a", "scope": "key", "floor": 1{extra}}}]}}"#);
        assert_eq!(field(&anomaly(r#", "factor": 0.5"#), &none), "alerts.anomalies[0].factor");
        assert_eq!(field(&anomaly(r#", "action": "page""#), &none), "alerts.anomalies[0].action");
        assert_eq!(field(&anomaly(r#", "kind": "concurrency""#), &none), "alerts.anomalies[0].kind");
        assert_eq!(field(&anomaly(r#", "window_seconds": 0"#), &none), "alerts.anomalies[0].window_seconds");
        assert_eq!(field(&anomaly(r#", "smoothing": 2"#), &none), "alerts.anomalies[0].smoothing");
        assert_eq!(field(&anomaly(r#", "burst": 2"#), &none), "alerts.anomalies[0].burst");
        assert_eq!(field(r#"{"webhook": {"cluster": "h", "max_attempts": 0}}"#, &none), "alerts.webhook.max_attempts");
        assert_eq!(field(r#"{"webhook": {"cluster": "h", "path": "x"}}"#, &none), "alerts.webhook.path");
        let rule = |alerts: &str| format!(r#"{{{PRICED}, "limits": {{"rules": [{{"id": "r", "scope": "key", "kind": "requests", "window": "day", "limit": 1, "alerts": {alerts}}}]}}}}"#);
        assert_eq!(parse(rule("[0.5]").as_bytes(), &none).unwrap_err().field, "limits.rules[0].alerts");
        let tokens = rule("[1.0, 0.5, 0.5]").replace("requests", "tokens");
        assert_eq!(parse(tokens.as_bytes(), &none).unwrap().limits.rules[0].alerts, vec![5000, 10_000]);
        assert_eq!(parse(rule("[0]").replace("requests", "tokens").as_bytes(), &none).unwrap_err().field, "limits.rules[0].alerts");
        let bad = |_: &str| Some("whsec_!!".to_string());
        assert_eq!(field(r#"{"webhook": {"cluster": "h"}}"#, &bad), "alerts.webhook.secret_env");
    }
}
