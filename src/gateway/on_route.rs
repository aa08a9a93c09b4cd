//! The decisions when the route, not the body, picks the provider (`hold_headers: false`, for a
//! stock Istio WasmPlugin or Envoy Gateway EnvoyExtensionPolicy, which cannot let a filter hold
//! the request headers): the provider from `:authority` on the headers, and on the body the
//! same plan as a routed request makes, minus the choice of provider.

use super::plan::{count_tokens_estimate, document, model_and_stream};
use super::rewrite::{rewrite, translation, upstream_endpoint, upstream_path};
use super::{Admission, Plan};
use crate::config::{Config, ProviderKind};
use crate::error::{ApiError, ErrorKind};
use crate::redact::Findings;

/// Where the headers go without waiting for the body: the provider's index and the `:path`
/// for it (an OpenAI or Anthropic path does not depend on the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTarget {
    pub provider: usize,
    pub path: String,
}

/// The provider the route reaches: the one whose `host` is the request's `:authority` (port
/// aside), else the only provider configured.
pub fn route_target(config: &Config, admission: &Admission, authority: &str) -> Result<RouteTarget, ApiError> {
    let host = authority.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(authority, |(h, _)| h);
    let by_host = config.providers.iter().position(|p| p.host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(host)));
    let idx = by_host.or_else(|| (config.providers.len() == 1).then_some(0)).ok_or_else(|| {
        ApiError::new(ErrorKind::ProviderUnavailable, format!("No provider is configured for the host `{host}` this route reaches."))
    })?;
    let provider = config.provider(idx).ok_or_else(|| ApiError::new(ErrorKind::ProviderUnavailable, "No provider is configured."))?;
    if !provider.available() {
        return Err(ApiError::new(ErrorKind::ProviderUnavailable, format!("The provider `{}` has no credential in the proxy's environment.", provider.name)));
    }
    let t = translation(admission.endpoint, provider, "").map_err(|_| {
        ApiError::new(ErrorKind::UnknownEndpoint, format!("The {} provider this route reaches does not serve this endpoint.", provider.kind.as_str()))
    })?;
    let mut path = upstream_path(upstream_endpoint(admission.endpoint, t), provider, "", false);
    if admission.beta && provider.kind == ProviderKind::Anthropic && t.is_none() {
        path.push_str("?beta=true");
    }
    Ok(RouteTarget { provider: idx, path })
}

/// Plans a request whose headers already went to `target`'s provider: the key's allow-list,
/// redaction, translation and the body; the provider and path stay the route's.
pub fn plan_on_route(config: &Config, admission: &Admission, target: &RouteTarget, body: &[u8], findings: &mut Findings) -> Result<Plan, ApiError> {
    if body.is_empty() {
        return Err(ApiError::new(ErrorKind::InvalidRequest, "The request body is empty; send a JSON object."));
    }
    let mut json = document(body)?;
    let (requested, stream) = model_and_stream(&json, false)?;
    if admission.identity.policy(config).is_some_and(|p| !p.allows(&requested, None)) {
        return Err(ApiError::new(ErrorKind::ModelNotAllowed, format!("This API key is not allowed to use the model `{requested}`.")).with_param("model"));
    }
    let provider = config.provider(target.provider).ok_or_else(|| ApiError::new(ErrorKind::ProviderUnavailable, "No provider is configured."))?;
    let redacted = crate::redact::apply(config.redaction.as_ref(), admission.endpoint, body.len(), &mut json, findings)?;
    let mut plan = Plan {
        provider: target.provider,
        provider_name: provider.name.clone(),
        cluster: provider.cluster.clone(),
        authority: provider.host.clone(),
        credential: provider.credential.clone(),
        path: target.path.clone(),
        ..Plan::unrouted(requested.clone(), requested.clone(), provider.kind, stream)
    };
    if admission.endpoint == crate::api::Endpoint::CountTokens && provider.kind != ProviderKind::Anthropic {
        plan.answer = Some(count_tokens_estimate(&json));
        return Ok(plan);
    }
    plan.include_usage = crate::api::openai::include_usage(&json);
    plan.prompt_estimate = if stream { crate::usage::estimate_prompt_tokens(&json) } else { 0 };
    let r = rewrite(admission.endpoint, provider, &requested, &requested, &mut json, stream, config.strict_translation)?;
    plan.body = r.body.or_else(|| redacted.then(|| crate::api::json_bytes(&json)));
    plan.translation = r.translation;
    plan.dropped = r.dropped;
    Ok(plan)
}
