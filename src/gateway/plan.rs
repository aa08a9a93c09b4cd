//! Request-body decision: resolve the model, check the key's allow-list, and plan the upstream request.

use super::Admission;
use super::handoff::Handoff;
use super::rewrite::{rewrite, Rewrite};
use crate::api::translate::Translation;
use crate::api::Endpoint;
use crate::config::{Config, Credential, ProviderKind, Role};
use crate::route::select::Signals;
use crate::route::Attempt;
use crate::error::{ApiError, ErrorKind};
use crate::redact::node::{Node, Shape};
use crate::redact::Findings;
use serde_json::Value;

/// Everything the filter needs to send the request upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The model the client asked for.
    pub requested_model: String,
    /// The route that matched (alias or glob), if any.
    pub route: Option<String>,
    /// Index of the provider of the first attempt.
    pub provider: usize,
    pub provider_name: String,
    pub provider_kind: ProviderKind,
    /// Model name sent upstream.
    pub upstream_model: String,
    pub cluster: String,
    /// New `:path`.
    pub path: String,
    /// New `:authority`, if the provider sets one.
    pub authority: Option<String>,
    pub credential: Option<Credential>,
    /// The rewritten body, when it differs from the client's.
    pub body: Option<Vec<u8>>,
    pub stream: bool,
    /// Estimated prompt tokens, computed for streams only (used when the provider never reports usage).
    pub prompt_estimate: u64,
    /// Set when the provider speaks another dialect than the client.
    pub translation: Option<Translation>,
    /// The OpenAI client's `stream_options.include_usage`.
    pub include_usage: bool,
    /// Set when the route fails over at runtime (the provider fields then describe the first
    /// attempt until the response names the one that answered).
    pub failover: Option<Failover>,
    /// Request fields dropped in translation (`x-tollgate-dropped`).
    pub dropped: Vec<&'static str>,
    /// An answer the gateway gives itself instead of forwarding (`count_tokens` for a provider
    /// that has no such endpoint: the estimate).
    pub answer: Option<Vec<u8>>,
}

impl Plan {
    /// A plan for `requested` (sent upstream as `upstream_model`) that names no provider,
    /// cluster, path or credential and changes nothing yet: the guard role's plan as it
    /// starts, and the base a routed plan fills in.
    pub(super) fn unrouted(requested_model: String, upstream_model: String, provider_kind: ProviderKind, stream: bool) -> Plan {
        Plan {
            requested_model,
            route: None,
            provider: usize::MAX,
            provider_name: String::new(),
            provider_kind,
            upstream_model,
            cluster: String::new(),
            path: String::new(),
            authority: None,
            credential: None,
            body: None,
            stream,
            prompt_estimate: 0,
            translation: None,
            include_usage: false,
            failover: None,
            dropped: Vec::new(),
            answer: None,
        }
    }
}

/// Runtime failover through an aggregate cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// What the upstream role rewrites each attempt from (the filter adds the client's path
    /// and authority).
    pub handoff: Handoff,
    /// Every attempt in order, to name the model of the provider that answered.
    pub attempts: Vec<Attempt>,
}

/// Plans the upstream request for an admitted request's complete body. `seed` picks among weighted targets.
pub fn plan(config: &Config, admission: &Admission, body: &[u8], seed: u64) -> Result<Plan, ApiError> {
    plan_redacted(config, admission, body, seed, &mut Findings::default())
}

/// [`plan`], recording what redaction found (counts, pseudonyms, the blocking rule) in `findings`.
pub fn plan_redacted(config: &Config, admission: &Admission, body: &[u8], seed: u64, findings: &mut Findings) -> Result<Plan, ApiError> {
    plan_steered(config, admission, body, seed, findings, &mut crate::route::select::NoSignals)
}

/// [`plan_redacted`], steering routes with a strategy, rules or the breaker by `signals`.
pub fn plan_steered(config: &Config, admission: &Admission, body: &[u8], seed: u64, findings: &mut Findings, signals: &mut dyn Signals) -> Result<Plan, ApiError> {
    let invalid = |m: &str| ApiError::new(ErrorKind::InvalidRequest, m);
    if body.is_empty() {
        return Err(invalid("The request body is empty; send a JSON object."));
    }
    // The common request needs two fields, read without building the document; anything
    // unusual (and every error, with its precise message) takes the full parse. With redaction
    // on, a borrowed pre-scan reads them; `clean` says it found nothing to change.
    let mut parsed = None;
    let mut model_at = None;
    let guard = config.role == Role::Guard;
    let head = match &config.redaction {
        None => super::head::model_and_stream(body).map(|(model, stream)| {
            model_at = super::head::span_in(body, model);
            (model.to_string(), stream)
        }),
        Some(r) => crate::redact::precheck(r, admission.endpoint, body, findings, |doc| model_and_stream(doc, guard).ok())?,
    };
    let clean = head.is_some();
    let (requested, stream) = match head {
        Some(h) => h,
        None => {
            let json = document(body)?;
            if super::head::repeats_routing_key(body) {
                return Err(invalid("The request body gives `model` or `stream` more than once; give each once.").with_param("model"));
            }
            let head = model_and_stream(&json, guard)?;
            parsed = Some(json);
            head
        }
    };
    if guard {
        let head = Head { requested, stream, clean };
        return guarded(config, admission.endpoint, head, parsed, body, findings);
    }
    let policy = admission.identity.policy(config);
    let not_allowed = || {
        ApiError::new(ErrorKind::ModelNotAllowed, format!("This API key is not allowed to use the model `{requested}`.")).with_param("model")
    };
    let Some(resolution) = super::steer::resolve(config, &requested, seed, policy, body, &mut parsed, signals)? else {
        if policy.is_some_and(|p| !p.allows(&requested, None)) {
            return Err(not_allowed());
        }
        return Err(ApiError::new(ErrorKind::ModelNotFound, format!("The model `{requested}` does not exist or you do not have access to it.")).with_param("model"));
    };
    if policy.is_some_and(|p| !p.allows(&requested, resolution.route.as_deref())) {
        return Err(not_allowed());
    }
    let (attempt, provider) = resolution
        .attempts
        .iter()
        .filter_map(|a| config.provider(a.provider).map(|p| (a, p)))
        .find(|(_, p)| p.available())
        .ok_or_else(|| ApiError::new(ErrorKind::ProviderUnavailable, format!("No provider for `{requested}` is configured with a credential.")))?;
    // Nothing to redact, translate, rename or inject: the body goes as it came.
    let untouched = clean
        && !stream
        && resolution.failover_cluster.is_none()
        && attempt.model == requested
        && admission.endpoint != Endpoint::CountTokens
        && provider.cloud.is_none()
        && matches!(super::rewrite::translation(admission.endpoint, provider, &attempt.model), Ok(None));
    let mut plan = Plan {
        route: resolution.route,
        provider: attempt.provider,
        provider_name: provider.name.clone(),
        cluster: provider.cluster.clone(),
        authority: provider.host.clone(),
        credential: provider.credential.clone(),
        ..Plan::unrouted(requested, attempt.model.clone(), provider.kind, stream)
    };
    if untouched {
        plan.path = super::rewrite::upstream_path(admission.endpoint, provider, &attempt.model, false);
        return Ok(with_beta(plan, admission));
    }
    // A plain request renamed or translated from its bytes, without building the document.
    if clean && !stream && resolution.failover_cluster.is_none() {
        if let Some(r) = super::rewrite::rewrite_plain(admission.endpoint, provider, &attempt.model, body, model_at) {
            plan.path = r.path;
            plan.body = r.body;
            plan.translation = r.translation;
            return Ok(with_beta(plan, admission));
        }
    }
    let mut json = match parsed {
        Some(j) => j,
        None => document(body)?,
    };
    let redacted = !clean && crate::redact::apply(config.redaction.as_ref(), admission.endpoint, body.len(), &mut json, findings)?;
    if admission.endpoint == Endpoint::CountTokens && provider.kind != ProviderKind::Anthropic {
        plan.answer = Some(count_tokens_estimate(&json));
        return Ok(plan);
    }
    plan.include_usage = crate::api::openai::include_usage(&json);
    plan.prompt_estimate = if stream { crate::usage::estimate_prompt_tokens(&json) } else { 0 };
    if let Some(cluster) = resolution.failover_cluster {
        // Runtime failover: the body stays in the client's dialect and the upstream role
        // rewrites each attempt. Check now that the first attempt can be rewritten at all.
        rewrite(admission.endpoint, provider, &attempt.model, &plan.requested_model, &mut json.clone(), stream, config.strict_translation)?;
        let targets = resolution.attempts.iter().filter_map(|a| config.provider(a.provider).map(|p| (p.name.as_str(), a.model.as_str())));
        let handoff = Handoff::new("", "", targets);
        plan.cluster = cluster;
        plan.authority = None;
        plan.credential = None;
        // The upstream role sets each attempt's model; the client's (redacted) body goes on.
        plan.body = redacted.then(|| crate::api::json_bytes(&json));
        plan.failover = Some(Failover { handoff, attempts: resolution.attempts });
        return Ok(plan);
    }
    let Rewrite { path, body: new_body, translation, dropped } = rewrite(admission.endpoint, provider, &attempt.model, &plan.requested_model, &mut json, stream, config.strict_translation)?;
    plan.path = path;
    plan.body = new_body.or_else(|| redacted.then(|| crate::api::json_bytes(&json)));
    plan.translation = translation;
    plan.dropped = dropped;
    Ok(with_beta(plan, admission))
}

/// Anthropic's `?beta=true` goes on to an Anthropic provider reached natively.
pub(super) fn with_beta(mut plan: Plan, admission: &Admission) -> Plan {
    if admission.beta && plan.provider_kind == ProviderKind::Anthropic && plan.translation.is_none() {
        plan.path.push_str("?beta=true");
    }
    plan
}

/// Anthropic's `count_tokens` answer from the estimator, for a provider without the endpoint
/// (marked `estimated`; the filter adds `x-tollgate-estimated`).
pub(super) fn count_tokens_estimate(json: &Value) -> Vec<u8> {
    let n = crate::usage::estimate_prompt_tokens(json);
    crate::api::json_bytes(&serde_json::json!({"input_tokens": n, "estimated": true}))
}

/// What the body's head said: the model, whether it streams, and whether the redaction
/// pre-scan found the body clean (or redaction is off and the head was read without parsing).
struct Head {
    requested: String,
    stream: bool,
    clean: bool,
}

/// Role `guard`: the route's own upstream gets the client's request, redacted. The only other
/// change is an OpenAI stream asking for its usage when accounting is on.
fn guarded(config: &Config, endpoint: Endpoint, head: Head, parsed: Option<Value>, body: &[u8], findings: &mut Findings) -> Result<Plan, ApiError> {
    let Head { requested, stream, clean } = head;
    let provider_kind = if endpoint == Endpoint::Messages { ProviderKind::Anthropic } else { ProviderKind::OpenAi };
    let mut plan = Plan::unrouted(requested.clone(), requested, provider_kind, stream);
    if clean && !stream {
        return Ok(plan);
    }
    let mut json = match parsed {
        Some(j) => j,
        None => document(body)?,
    };
    let redacted = !clean && crate::redact::apply(config.redaction.as_ref(), endpoint, body.len(), &mut json, findings)?;
    plan.include_usage = crate::api::openai::include_usage(&json);
    plan.prompt_estimate = if stream { crate::usage::estimate_prompt_tokens(&json) } else { 0 };
    let asked = stream && endpoint == Endpoint::ChatCompletions && config.accounting && super::rewrite::ask_for_stream_usage(&mut json);
    plan.body = (redacted || asked).then(|| crate::api::json_bytes(&json));
    Ok(plan)
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorKind::InvalidRequest, message)
}

/// The whole body as a JSON object.
pub(super) fn document(body: &[u8]) -> Result<Value, ApiError> {
    let json: Value = serde_json::from_slice(body).map_err(|_| invalid("The request body is not valid JSON."))?;
    if !json.is_object() {
        return Err(invalid("The request body must be a JSON object."));
    }
    Ok(json)
}

/// `model` and `stream`, from the parsed body or the redaction pre-scan's borrowed one, with
/// the error a client needs when either is wrong. `optional`: a body without `model` reads as
/// an empty name (the guard role: Azure's deployments name the model in the path).
pub(super) fn model_and_stream<N: Node>(json: &N, optional: bool) -> Result<(String, bool), ApiError> {
    let requested = match json.member("model") {
        Some(m) => m.as_text().filter(|m| !m.is_empty()).ok_or_else(|| invalid("`model` must be a non-empty string.").with_param("model"))?.to_string(),
        None if optional => String::new(),
        None => return Err(invalid("You must provide a `model` parameter.").with_param("model")),
    };
    let stream = match json.member("stream") {
        None => false,
        Some(s) if s.shape() == Shape::Null => false,
        Some(s) => s.as_bool().ok_or_else(|| invalid("`stream` must be a boolean.").with_param("stream"))?,
    };
    Ok((requested, stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Endpoint;
    use crate::config::parse;
    use crate::keys::Digest;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config() -> Config {
        let json = format!(
            r#"{{"providers": [
                    {{"name": "openai", "kind": "openai", "cluster": "openai", "host": "api.openai.com", "api_key_env": "OPENAI_API_KEY"}},
                    {{"name": "mock", "kind": "openai", "cluster": "mock"}},
                    {{"name": "azure", "kind": "azure", "cluster": "azure", "api_version": "2024-10-21", "api_key_env": "AZURE_KEY"}},
                    {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic", "api_key_env": "ANTHROPIC_API_KEY"}},
                    {{"name": "local", "kind": "openai", "cluster": "vllm", "base_path": "/api/v1"}}
                ],
                "models": [
                    {{"name": "gpt-4o-mini", "targets": [{{"provider": "openai"}}], "fallbacks": [{{"provider": "mock"}}]}},
                    {{"name": "fast", "targets": [{{"provider": "mock", "model": "gpt-4o-mini"}}]}},
                    {{"name": "az", "targets": [{{"provider": "azure", "model": "my-deployment"}}]}},
                    {{"name": "llama*", "targets": [{{"provider": "local"}}]}}
                ],
                "keys": [{{"id": "k", "digests": ["{}"], "models": ["gpt-4o*", "fast", "az", "llama*", "anthropic/*"]}}]}}"#,
            Digest::of(b"x")
        );
        let env = |k: &str| (k != "OPENAI_API_KEY").then(|| format!("secret-{k}"));
        parse(json.as_bytes(), &env).unwrap()
    }

    fn adm(endpoint: Endpoint) -> Admission {
        Admission { endpoint, identity: crate::gateway::Identity::Key(0), beta: false }
    }

    fn chat(body: &str) -> Result<Plan, ApiError> {
        plan(&config(), &adm(Endpoint::ChatCompletions), body.as_bytes(), 0)
    }

    #[test]
    fn an_untouched_body_is_not_rebuilt() {
        let p = chat(r#"{"model": "llama-3", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}"#).unwrap();
        assert_eq!((p.body, p.path.as_str(), p.upstream_model.as_str()), (None, "/api/v1/chat/completions", "llama-3"));
        // The same request as a stream gets `stream_options.include_usage` injected.
        let p = chat(r#"{"model": "llama-3", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#).unwrap();
        let body: Value = serde_json::from_slice(&p.body.unwrap()).unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(p.prompt_estimate > 0);
    }

    #[test]
    fn bad_bodies() {
        for (body, param) in [("", None), ("{", None), ("[1]", None), ("{}", Some("model")), (r#"{"model": 3}"#, Some("model")), (r#"{"model": "fast", "stream": "yes"}"#, Some("stream")),
            // A routing key given twice (the provider may read the copy the gateway did not).
            (r#"{"model": "claude-3", "model": "fast"}"#, Some("model")), (r#"{"model": "fast", "stream": true, "stream": false}"#, Some("model"))]
        {
            let e = chat(body).unwrap_err();
            assert_eq!((e.kind, e.param), (ErrorKind::InvalidRequest, param), "{body}");
        }
    }

    #[test]
    fn unknown_and_forbidden_models() {
        assert_eq!(chat(r#"{"model": "gpt-4o-nano"}"#).unwrap_err().kind, ErrorKind::ModelNotFound);
        assert_eq!(chat(r#"{"model": "claude-3"}"#).unwrap_err().kind, ErrorKind::ModelNotAllowed);
    }

    #[test]
    fn skips_provider_without_credential() {
        let p = chat(r#"{"model": "gpt-4o-mini", "messages": []}"#).unwrap();
        assert_eq!((p.provider_name.as_str(), p.cluster.as_str(), p.path.as_str()), ("mock", "mock", "/v1/chat/completions"));
        assert_eq!(p.body, None, "same model, body untouched");
        assert_eq!(p.credential, None);
    }

    #[test]
    fn alias_rewrites_model() {
        let p = chat(r#"{"model": "fast", "stream": true}"#).unwrap();
        assert_eq!(p.upstream_model, "gpt-4o-mini");
        assert!(p.stream);
        let body: Value = serde_json::from_slice(p.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["stream"], true);
    }

    #[test]
    fn azure_and_base_path() {
        let p = chat(r#"{"model": "az"}"#).unwrap();
        assert_eq!(p.path, "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21");
        let cred = p.credential.unwrap();
        assert_eq!((cred.header, cred.value.as_str()), ("api-key", "secret-AZURE_KEY"));
        assert_eq!(chat(r#"{"model": "llama3"}"#).unwrap().path, "/api/v1/chat/completions");
    }

    #[test]
    fn responses_go_natively_to_openai_and_azure_and_translated_elsewhere() {
        let responses = |body: &str| plan(&config(), &adm(Endpoint::Responses), body.as_bytes(), 0);
        let p = responses(r#"{"model": "az", "input": "hi"}"#).unwrap();
        assert_eq!((p.path.as_str(), p.translation), ("/openai/responses?api-version=2024-10-21", None));
        assert_eq!(serde_json::from_slice::<Value>(p.body.as_ref().unwrap()).unwrap()["model"], "my-deployment");
        let p = responses(r#"{"model": "fast", "input": "hi", "stream": true}"#).unwrap();
        assert_eq!((p.path.as_str(), p.translation), ("/v1/responses", None));
        let p = responses(r#"{"model": "anthropic/claude-sonnet-4-5", "input": "hi", "max_output_tokens": 9}"#).unwrap();
        assert_eq!((p.path.as_str(), p.translation.map(|t| t.client)), ("/v1/messages", Some(crate::api::Dialect::OpenAiResponses)));
        let body: Value = serde_json::from_slice(p.body.as_ref().unwrap()).unwrap();
        assert_eq!((body["max_tokens"].as_u64(), body["messages"][0]["content"].as_str()), (Some(9), Some("hi")));
    }

    #[test]
    fn anthropic_front_door() {
        let p = plan(&config(), &adm(Endpoint::Messages), br#"{"model": "anthropic/claude-sonnet-4-5"}"#, 0).unwrap();
        assert_eq!((p.path.as_str(), p.upstream_model.as_str()), ("/v1/messages", "claude-sonnet-4-5"));
        assert_eq!(p.credential.unwrap().header, "x-api-key");
        let p = chat(r#"{"model": "anthropic/claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}"#).unwrap();
        assert_eq!((p.path.as_str(), p.translation), ("/v1/messages", Some(Translation::CHAT_TO_ANTHROPIC)));
        let body: Value = serde_json::from_slice(p.body.as_ref().unwrap()).unwrap();
        assert_eq!((body["model"].as_str(), body["max_tokens"].as_u64()), (Some("claude-sonnet-4-5"), Some(4096)));
        // Lenient by default: `n` is dropped and named; strict refuses it.
        let p = chat(r#"{"model": "anthropic/claude-sonnet-4-5", "messages": [], "n": 2}"#).unwrap();
        assert_eq!(p.dropped, vec!["n"]);
        let mut strict = config();
        strict.strict_translation = true;
        let e = plan(&strict, &adm(Endpoint::ChatCompletions), br#"{"model": "anthropic/claude-sonnet-4-5", "messages": [], "n": 2}"#, 0).unwrap_err();
        assert_eq!((e.kind, e.param), (ErrorKind::InvalidRequest, Some("n")));
    }
}
