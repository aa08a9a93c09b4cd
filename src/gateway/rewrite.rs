//! The request for one provider: its `:path`, and the body in its dialect with its model name.
//! Shared by the downstream plan and the upstream role's per-attempt rewrite.

use crate::api::translate::{plain_chat_to_gemini, plain_chat_to_messages, Lenience, Translation, Wire};
use crate::api::{Dialect, Endpoint};
use crate::config::{Provider, ProviderKind};
use crate::error::{ApiError, ErrorKind};
use serde_json::Value;

/// What to send one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// New `:path`.
    pub path: String,
    /// The rewritten body, when it differs from the client's.
    pub body: Option<Vec<u8>>,
    /// Set when the provider speaks another dialect than the client.
    pub translation: Option<Translation>,
    /// Request fields dropped in translation (the lenient policy).
    pub dropped: Vec<&'static str>,
}

/// Rewrites a client request (`json`, already parsed) for `provider` and its `model`.
/// `json` may be modified in place (its `model`). `strict`: refuse fields the provider cannot
/// take rather than drop them.
pub fn rewrite(endpoint: Endpoint, provider: &Provider, model: &str, requested: &str, json: &mut Value, stream: bool, strict: bool) -> Result<Rewrite, ApiError> {
    let translation = translation(endpoint, provider, model).map_err(|Unreachable| {
        ApiError::new(
            ErrorKind::InvalidRequest,
            format!("The model `{requested}` is served by a {} provider, which this endpoint cannot reach.", provider.kind.as_str()),
        )
        .with_param("model")
    })?;
    let mut lenience = Lenience::new(strict);
    let body = match translation {
        Some(t) => {
            let mut v = t.request(json, model, &mut lenience).map_err(|e| ApiError::new(ErrorKind::InvalidRequest, e.message).with_param(e.param))?;
            super::cloud::fit(provider, model, &mut v);
            Some(crate::api::json_bytes(&v))
        }
        None => {
            let mut changed = false;
            if let Some(obj) = json.as_object_mut() {
                if obj.get("model").and_then(Value::as_str) != Some(model) {
                    obj.insert("model".to_string(), Value::String(model.to_string()));
                    changed = true;
                }
            }
            if stream && endpoint == Endpoint::ChatCompletions && provider.stream_usage {
                changed |= ask_for_stream_usage(json);
            }
            changed |= super::cloud::fit(provider, model, json);
            changed.then(|| crate::api::json_bytes(json))
        }
    };
    Ok(Rewrite { path: upstream_path(upstream_endpoint(endpoint, translation), provider, model, stream), body, translation, dropped: lenience.dropped })
}

/// Usage in OpenAI streams comes only when asked for: sets `stream_options.include_usage`
/// unless the client did (the client's stream guard removes the extra chunk again). Whether
/// the body changed.
pub fn ask_for_stream_usage(json: &mut Value) -> bool {
    if crate::api::openai::include_usage(json) {
        return false;
    }
    let Some(obj) = json.as_object_mut() else { return false };
    let options = obj.entry("stream_options").or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Some(o) = options.as_object_mut() else { return false };
    o.insert("include_usage".to_string(), Value::Bool(true));
    true
}

/// [`rewrite`] for a plain request that is not a stream, from its bytes, with no document:
/// a model renamed in place (`model_at`: where the client's model name lies in `body`, when
/// known), or a chat request translated for Anthropic or Gemini. `None` for anything else,
/// which takes [`rewrite`].
pub fn rewrite_plain(endpoint: Endpoint, provider: &Provider, model: &str, body: &[u8], model_at: Option<std::ops::Range<usize>>) -> Option<Rewrite> {
    let translation = translation(endpoint, provider, model).ok()?;
    if provider.cloud.is_some() {
        return None;
    }
    let body = match translation {
        None => super::head::with_model(body, model_at?, model)?,
        Some(Translation::CHAT_TO_ANTHROPIC) => plain_chat_to_messages(body, model)?,
        Some(Translation::CHAT_TO_GEMINI) => plain_chat_to_gemini(body)?,
        Some(_) => return None,
    };
    Some(Rewrite { path: upstream_path(upstream_endpoint(endpoint, translation), provider, model, false), body: Some(body), translation, dropped: Vec::new() })
}

/// The provider's endpoint for a request to `endpoint`.
pub(super) fn upstream_endpoint(endpoint: Endpoint, translation: Option<Translation>) -> Endpoint {
    match translation.map(|t| t.provider) {
        Some(Wire::Messages) => Endpoint::Messages,
        Some(Wire::Chat) => Endpoint::ChatCompletions,
        Some(Wire::Gemini | Wire::Converse) | None => endpoint,
    }
}

/// The endpoint cannot reach a provider of that kind (e.g. embeddings at Anthropic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable;

/// How the endpoint's dialect reaches this provider's `model`: as is (`None`), translated
/// through the hub, or not at all.
pub fn translation(endpoint: Endpoint, provider: &Provider, model: &str) -> Result<Option<Translation>, Unreachable> {
    let kind = provider.kind;
    let openai = matches!(kind, ProviderKind::OpenAi | ProviderKind::Azure);
    let client = match endpoint {
        Endpoint::ChatCompletions => Dialect::OpenAiChat,
        Endpoint::Messages => Dialect::Anthropic,
        Endpoint::Responses if openai && provider.responses_api => return Ok(None),
        Endpoint::Responses => Dialect::OpenAiResponses,
        Endpoint::Embeddings | Endpoint::Completions if openai => return Ok(None),
        Endpoint::CountTokens if kind == ProviderKind::Anthropic => return Ok(None),
        Endpoint::Models => return Ok(None),
        Endpoint::Embeddings | Endpoint::Completions | Endpoint::CountTokens => return Err(Unreachable),
    };
    let wire = match kind {
        ProviderKind::OpenAi | ProviderKind::Azure => Wire::Chat,
        ProviderKind::Anthropic => Wire::Messages,
        ProviderKind::Gemini => Wire::Gemini,
        ProviderKind::Bedrock | ProviderKind::Vertex => super::cloud::wire(provider, model).ok_or(Unreachable)?,
    };
    let native = matches!((client, wire), (Dialect::OpenAiChat, Wire::Chat) | (Dialect::Anthropic, Wire::Messages));
    Ok((!native).then_some(Translation { client, provider: wire }))
}

/// The upstream `:path` for an endpoint at a provider.
pub(super) fn upstream_path(endpoint: Endpoint, provider: &Provider, model: &str, stream: bool) -> String {
    let base = &provider.base_path;
    match provider.kind {
        // Azure serves the Responses API per resource (the body names the deployment).
        ProviderKind::Azure if endpoint == Endpoint::Responses => format!("{base}/responses?api-version={}", provider.api_version.as_deref().unwrap_or_default()),
        ProviderKind::Azure => format!(
            "{base}/deployments/{model}{}?api-version={}",
            endpoint.provider_suffix(),
            provider.api_version.as_deref().unwrap_or_default()
        ),
        ProviderKind::Bedrock | ProviderKind::Vertex => super::cloud::path(provider, model, stream),
        ProviderKind::Gemini => {
            if stream {
                format!("{base}/models/{model}:streamGenerateContent?alt=sse")
            } else {
                format!("{base}/models/{model}:generateContent")
            }
        }
        // No formatting machinery on the common path: two appends (`concat` is a generic join,
        // several times the code a request then pulls through the instruction cache).
        ProviderKind::OpenAi | ProviderKind::Anthropic => {
            let suffix = endpoint.provider_suffix();
            let mut path = String::with_capacity(base.len() + suffix.len());
            path.push_str(base);
            path.push_str(suffix);
            path
        }
    }
}
