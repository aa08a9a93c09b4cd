//! Parse, validate, compile: JSON text to a `Config`, or a `ConfigError` naming the field.

use super::dto::{ConfigDto, ModelDto, ProviderDto, TargetDto, TelemetryDto};
use super::runtime::{Auth, AuthMode, Config, Credential, Provider, ProviderKind, Role, Telemetry};
use super::ConfigError;
use crate::route::{Glob, Route, Router, Target};
use std::collections::{HashMap, HashSet};

/// Parses and compiles a configuration. `env` reads the proxy's environment (provider keys).
/// An empty document is a valid config with no providers and no keys.
pub fn parse(json: &[u8], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let json: &[u8] = if json.iter().all(u8::is_ascii_whitespace) { b"{}" } else { json };
    let dto: ConfigDto = serde_json::from_slice(json).map_err(|e| ConfigError::new(super::error_path::path_at_line_column(json, e.line(), e.column()), e.to_string()))?;
    compile(dto, env).map_err(first)
}

/// The first of a non-empty list of errors.
pub(super) fn first(errors: Vec<ConfigError>) -> ConfigError {
    errors.into_iter().next().unwrap_or_else(|| ConfigError::new(".", "invalid configuration"))
}

/// Compiles a DTO, collecting every error it can find (each provider, route and key is checked
/// on its own, so one bad entry does not hide the next).
pub(super) fn compile(dto: ConfigDto, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Vec<ConfigError>> {
    let mut errs = Vec::new();
    let guard = dto.role == "guard";
    if guard {
        guard_fields(&dto, &mut errs);
    }
    if !dto.hold_headers {
        unheld_fields(&dto, &mut errs);
    }
    // Names in document order: a route naming a provider that is itself invalid is not reported twice.
    let mut by_name = HashMap::new();
    for (i, p) in dto.providers.iter().enumerate() {
        if by_name.insert(p.name.clone(), i).is_some() {
            errs.push(ConfigError::new(format!("providers[{i}].name"), format!("duplicate provider name `{}`", p.name)));
        }
    }
    let providers: Vec<Provider> = dto.providers.into_iter().enumerate().filter_map(|(i, p)| keep(&mut errs, provider(i, p, env))).collect();
    let mut routes = Vec::with_capacity(dto.models.len());
    let mut seen = HashSet::new();
    let mut cache_rules = Vec::new();
    for (i, mut m) in dto.models.into_iter().enumerate() {
        if !seen.insert(m.name.clone()) {
            errs.push(ConfigError::new(format!("models[{i}].name"), format!("duplicate model route `{}`", m.name)));
            continue;
        }
        if let Some(c) = m.cache.take() {
            cache_rules.extend(keep(&mut errs, super::cache_dto::rule(i, c).map(|r| (i, m.name.clone(), r))));
        }
        routes.extend(keep(&mut errs, route(i, m, &by_name)));
    }
    // The guard checks no keys and strips no header: the client's credential is the provider's.
    let auth = if guard { Some(Auth { mode: AuthMode::None, headers: Vec::new(), tenant_header: None, key_source: None }) } else { keep(&mut errs, auth(&dto.auth)) };
    let keys = super::keys_compile::keys(dto.keys, auth.as_ref().map_or(&AuthMode::Keys, |a| &a.mode), &mut errs);
    if dto.cluster_header.is_empty() || !is_header_name(&dto.cluster_header) {
        errs.push(ConfigError::new("cluster_header", "must be a lower-case HTTP header name"));
    }
    let breaker = keep(&mut errs, super::routing_dto::breaker(dto.breaker));
    let pricing = keep(&mut errs, super::pricing_dto::compile(dto.pricing));
    let priced = pricing.as_ref().is_some_and(|p| !p.models.is_empty());
    let limits = keep(&mut errs, super::limits_dto::compile(dto.limits, dto.accounting.enabled, priced));
    let alerts = keep(&mut errs, super::alerts_dto::compile(dto.alerts, env, dto.accounting.enabled, priced));
    let hooks = keep(&mut errs, super::hooks_dto::compile(dto.policy_hooks));
    if dto.max_request_bytes == 0 {
        errs.push(ConfigError::new("max_request_bytes", "must be greater than 0"));
    }
    let role = match dto.role.as_str() {
        "downstream" => Some(Role::Downstream),
        "upstream" => Some(Role::Upstream),
        "guard" => Some(Role::Guard),
        other => {
            errs.push(ConfigError::new("role", format!("unknown role `{other}` (expected downstream, upstream or guard)")));
            None
        }
    };
    let redaction = keep(&mut errs, dto.redaction.map(super::redact_compile::redaction).transpose());
    let telemetry = telemetry(&dto.telemetry, &mut errs);
    let cache = keep(&mut errs, super::cache_dto::compile(dto.cache, cache_rules));
    let (Some(auth), Some(role), Some(pricing), Some(limits), Some(redaction), Some(cache), Some(alerts), Some(hooks)) = (auth, role, pricing, limits, redaction, cache, alerts, hooks) else { return Err(errs) };
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Config {
        role,
        providers,
        router: Router::new(routes, by_name).with_breaker(breaker.flatten()),
        auth,
        keys,
        cluster_header: dto.cluster_header,
        max_request_bytes: dto.max_request_bytes,
        response_headers: dto.response_headers,
        accounting: dto.accounting.enabled,
        pricing,
        limits,
        alerts,
        hooks,
        redaction: redaction.flatten(),
        telemetry,
        strict_translation: dto.translation.strict,
        hold_headers: dto.hold_headers,
        cache,
    })
}

/// `telemetry`, with its field names checked.
fn telemetry(dto: &TelemetryDto, errs: &mut Vec<ConfigError>) -> Telemetry {
    use crate::filter::{FilterStateName, EXPORTED_FIELDS as FIELDS};
    let mut fields = 0;
    for (i, name) in dto.fields.iter().enumerate() {
        match (name.as_str(), FilterStateName::by_field(name)) {
            ("*", _) => fields |= FIELDS.iter().fold(0, |acc, f| acc | f.bit()),
            (_, Some(f)) => fields |= f.bit(),
            (_, None) => {
                let known: Vec<&str> = FIELDS.iter().map(|f| f.field()).collect();
                errs.push(ConfigError::new(format!("telemetry.fields[{i}]"), format!("unknown field `{name}`; known: {}, or `*`", known.join(", "))));
            }
        }
    }
    Telemetry { filter_state: dto.filter_state, record: dto.record, fields, stats: dto.stats }
}

/// The guard role leaves routing and keys to the route: a config that sets them is refused,
/// naming the field, rather than ignored.
fn guard_fields(dto: &ConfigDto, errs: &mut Vec<ConfigError>) {
    let why = "is not used by role `guard` (it keeps the route's upstream and the client's credential); remove it or use role `downstream`";
    for (set, field) in [(!dto.providers.is_empty(), "providers"), (!dto.models.is_empty(), "models"), (!dto.keys.is_empty(), "keys"), (dto.auth.mode == "jwt", "auth.mode"), (dto.auth.key_source.is_some(), "auth.key_source"), (dto.breaker.is_some(), "breaker")] {
        if set {
            errs.push(ConfigError::new(field, why));
        }
    }
}

/// Without the header hold the route picks the provider before the body is read: body-based
/// routing (`models`), the upstream role (which holds each attempt), and providers whose path
/// names the model (Azure, Gemini) are refused, naming the field and the install that has them.
fn unheld_fields(dto: &ConfigDto, errs: &mut Vec<ConfigError>) {
    const HOLD: &str = "needs the header hold (`hold_headers: true`, with `allow_on_headers_stop_iteration`: the EnvoyFilter install in examples/istio/envoyfilter.yaml)";
    if !dto.models.is_empty() {
        errs.push(ConfigError::new("models", format!("routes requests by the body's `model`, which {HOLD}; with `hold_headers: false` the route picks the provider by `:authority`")));
    }
    if dto.role == "upstream" {
        errs.push(ConfigError::new("hold_headers", format!("role `upstream` rewrites each attempt from its body, which {HOLD}")));
    }
    for (i, p) in dto.providers.iter().enumerate() {
        if matches!(p.kind.as_str(), "azure" | "gemini" | "bedrock" | "vertex") {
            errs.push(ConfigError::new(format!("providers[{i}].kind"), format!("a `{}` path names the model from the body, which {HOLD}", p.kind)));
        }
    }
}

/// The value, or `None` with its error recorded.
fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

fn provider(i: usize, p: ProviderDto, env: &dyn Fn(&str) -> Option<String>) -> Result<Provider, ConfigError> {
    let at = |f: &str| format!("providers[{i}].{f}");
    if p.name.is_empty() || p.name.contains('/') {
        return Err(ConfigError::new(at("name"), "must be non-empty and contain no `/`"));
    }
    let kind = ProviderKind::parse(&p.kind)
        .ok_or_else(|| ConfigError::new(at("kind"), format!("unknown provider kind `{}` (expected openai, azure, anthropic, gemini, bedrock or vertex)", p.kind)))?;
    let cloud = super::cloud::compile(kind, &p, env, &at)?;
    if p.cluster.is_empty() {
        return Err(ConfigError::new(at("cluster"), "must name an Envoy cluster"));
    }
    let base_path = p.base_path.or(cloud.base_path).unwrap_or_else(|| kind.default_base_path().to_string());
    if !base_path.is_empty() && (!base_path.starts_with('/') || base_path.ends_with('/')) {
        return Err(ConfigError::new(at("base_path"), "must start with `/` and not end with `/` (or be empty)"));
    }
    if kind == ProviderKind::Azure && p.api_version.is_none() {
        return Err(ConfigError::new(at("api_version"), "is required for azure providers"));
    }
    if let Some(e) = &p.api_key_env {
        if e.is_empty() {
            return Err(ConfigError::new(at("api_key_env"), "must name an environment variable"));
        }
    }
    let (header, prefix) = kind.credential_header();
    let credential = match &cloud.cloud {
        Some(_) => cloud.credential,
        None => p.api_key_env.as_deref().and_then(env).filter(|v| !v.is_empty()).map(|v| Credential { header, value: format!("{prefix}{v}") }),
    };
    Ok(Provider {
        name: p.name,
        kind,
        cluster: p.cluster,
        host: p.host.or(cloud.host),
        base_path,
        api_version: p.api_version,
        stream_usage: p.stream_usage,
        responses_api: p.responses_api,
        credential_env: cloud.credential_env,
        credential,
        cloud: cloud.cloud,
    })
}

fn route(i: usize, m: ModelDto, providers: &HashMap<String, usize>) -> Result<Route, ConfigError> {
    if m.name.is_empty() {
        return Err(ConfigError::new(format!("models[{i}].name"), "must not be empty"));
    }
    if m.targets.is_empty() {
        return Err(ConfigError::new(format!("models[{i}].targets"), "must list at least one target"));
    }
    let targets = targets_of(&format!("models[{i}].targets"), m.targets, providers)?;
    if targets.iter().all(|t| t.weight == 0) {
        return Err(ConfigError::new(format!("models[{i}].targets"), "at least one target needs a weight above 0"));
    }
    let fallbacks = targets_of(&format!("models[{i}].fallbacks"), m.fallbacks, providers)?;
    if m.failover_cluster.as_deref() == Some("") {
        return Err(ConfigError::new(format!("models[{i}].failover_cluster"), "must name an Envoy cluster"));
    }
    let routing = super::routing_dto::RouteRouting { strategy: m.strategy, latency: m.latency, max_price: m.max_price, rules: m.rules };
    let policy = super::routing_dto::policy(&format!("models[{i}]"), routing, &|at, ts| targets_of(at, ts, providers))?;
    Ok(Route { name: Glob::new(&m.name), targets, fallbacks, failover_cluster: m.failover_cluster, policy })
}

fn targets_of(at: &str, ts: Vec<TargetDto>, providers: &HashMap<String, usize>) -> Result<Vec<Target>, ConfigError> {
    ts.into_iter()
        .enumerate()
        .map(|(j, t)| {
            let &provider = providers
                .get(&t.provider)
                .ok_or_else(|| ConfigError::new(format!("{at}[{j}].provider"), format!("no provider named `{}`", t.provider)))?;
            if t.model.as_deref() == Some("") {
                return Err(ConfigError::new(format!("{at}[{j}].model"), "must not be empty"));
            }
            if t.context_window == Some(0) {
                return Err(ConfigError::new(format!("{at}[{j}].context_window"), "must be above 0"));
            }
            Ok(Target { provider, model: t.model, weight: t.weight, context_window: t.context_window })
        })
        .collect()
}

fn auth(a: &super::dto::AuthDto) -> Result<Auth, ConfigError> {
    let mode = match a.mode.as_str() {
        "keys" => AuthMode::Keys,
        "none" => AuthMode::None,
        "jwt" => {
            if a.jwt.claim.is_empty() {
                return Err(ConfigError::new("auth.jwt.claim", "must not be empty"));
            }
            AuthMode::Jwt { filter: a.jwt.filter.clone(), payload_key: a.jwt.payload_key.clone(), claim: a.jwt.claim.clone() }
        }
        other => return Err(ConfigError::new("auth.mode", format!("unknown mode `{other}` (expected keys, jwt or none)"))),
    };
    let mut headers = Vec::with_capacity(a.headers.len());
    for (i, h) in a.headers.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        if !is_header_name(&h) {
            return Err(ConfigError::new(format!("auth.headers[{i}]"), "is not an HTTP header name"));
        }
        headers.push(h);
    }
    if mode == AuthMode::Keys && headers.is_empty() {
        return Err(ConfigError::new("auth.headers", "must list at least one header in mode `keys`"));
    }
    if let Some(t) = &a.tenant_header {
        if !is_header_name(t) {
            return Err(ConfigError::new("auth.tenant_header", "is not a lower-case HTTP header name"));
        }
    }
    let key_source = a.key_source.as_ref().map(|k| super::keys_compile::key_source(k, &mode)).transpose()?;
    Ok(Auth { mode, headers, tenant_header: a.tenant_header.clone(), key_source })
}

pub(super) fn is_header_name(h: &str) -> bool {
    !h.is_empty() && h.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn err(json: &str) -> ConfigError {
        parse(json.as_bytes(), &no_env).unwrap_err()
    }

    const GOOD: &str = r#"{
        "providers": [
            {"name": "openai", "kind": "openai", "cluster": "openai", "host": "api.openai.com", "api_key_env": "OPENAI_API_KEY"},
            {"name": "mock", "kind": "openai", "cluster": "mock"}
        ],
        "models": [{"name": "gpt-4o-mini", "targets": [{"provider": "openai"}], "fallbacks": [{"provider": "mock"}]}],
        "keys": [{"id": "team-a", "tenant": "acme", "digests": ["sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"], "expires_at": "2030-01-01T00:00:00Z"}]
    }"#;

    #[test]
    fn good_config_compiles() {
        let env = |k: &str| (k == "OPENAI_API_KEY").then(|| "sk-test".to_string());
        let c = parse(GOOD.as_bytes(), &env).unwrap();
        assert_eq!(c.providers.len(), 2);
        let cred = c.providers[0].credential.as_ref().unwrap();
        assert_eq!((cred.header, cred.value.as_str()), ("authorization", "Bearer sk-test"));
        assert!(!format!("{c:?}").contains("sk-test"), "Debug must not print credentials");
        assert_eq!(c.keys.by_secret("abc"), Some(0));
        assert_eq!(c.router.resolve("gpt-4o-mini", 0).unwrap().attempts.len(), 2);
    }

    #[test]
    fn missing_env_makes_provider_unavailable() {
        let c = parse(GOOD.as_bytes(), &no_env).unwrap();
        assert!(!c.providers[0].available());
        assert!(c.providers[1].available());
    }

    #[test]
    fn empty_config_is_valid() {
        let c = parse(b"", &no_env).unwrap();
        assert!(c.providers.is_empty());
        assert_eq!(c.auth.mode, AuthMode::Keys);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"bogus": 1}"#, "bogus"),
            (r#"{"providers": [{"name": "a", "kind": "openai", "cluster": "c", "typo": 1}]}"#, "providers[0].typo"),
            (r#"{"providers": [{"name": "a", "kind": "openai"}]}"#, "providers[0]"),
            (r#"{"keys": [{"id": "k", "digests": "sha256:x"}]}"#, "keys[0].digests"),
            (r#"{"providers": [{"name": "a", "kind": "nope", "cluster": "c"}]}"#, "providers[0].kind"),
            (r#"{"providers": [{"name": "a", "kind": "azure", "cluster": "c"}]}"#, "providers[0].api_version"),
            (r#"{"providers": [{"name": "a", "kind": "openai", "cluster": "c"}, {"name": "a", "kind": "openai", "cluster": "d"}]}"#, "providers[1].name"),
            (r#"{"models": [{"name": "m", "targets": [{"provider": "ghost"}]}]}"#, "models[0].targets[0].provider"),
            (r#"{"models": [{"name": "m", "targets": []}]}"#, "models[0].targets"),
            (r#"{"keys": [{"id": "k", "digests": ["sha256:zz"]}]}"#, "keys[0].digests[0]"),
            (r#"{"keys": [{"id": "k", "digests": []}]}"#, "keys[0].digests"),
            (r#"{"keys": [{"id": "k", "digests": ["sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"], "expires_at": "tomorrow"}]}"#, "keys[0].expires_at"),
            (r#"{"auth": {"mode": "magic"}}"#, "auth.mode"),
            (r#"{"cluster_header": "X Bad"}"#, "cluster_header"),
            (r#"{"max_request_bytes": -1}"#, "max_request_bytes"),
        ];
        for (json, field) in cases {
            let e = err(json);
            assert_eq!(e.field, field, "{json}: {e}");
        }
        assert!(err(r#"{"bogus": 1}"#).message.contains("bogus"));
        assert!(err("{not json").to_string().contains("invalid tollgate config"));
    }

    #[test]
    fn duplicate_ids_and_digests_refused() {
        let d = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let dup_id = format!(r#"{{"keys": [{{"id": "k", "digests": ["{d}"]}}, {{"id": "k", "digests": []}}]}}"#);
        assert_eq!(err(&dup_id).field, "keys[1].id");
        let dup_digest = format!(r#"{{"keys": [{{"id": "k", "digests": ["{d}"]}}, {{"id": "j", "digests": ["{d}"]}}]}}"#);
        assert_eq!(err(&dup_digest).field, "keys[1].digests[0]");
    }
}
