//! Requests to the cloud providers (Bedrock, Vertex AI): which wire a model speaks there, its
//! path (the model is in the path, not the body), and the body changes each cloud asks for.
//!
//! - Bedrock: Anthropic models through InvokeModel (`/model/{id}/invoke`,
//!   `/invoke-with-response-stream`) with `anthropic_version: bedrock-2023-05-31` and neither
//!   `model` nor `stream` in the body; every other model through Converse (`/model/{id}/converse`,
//!   `/converse-stream`).
//! - Vertex: Anthropic models through `…/publishers/anthropic/models/{m}:rawPredict` (or
//!   `:streamRawPredict`, which keeps `stream: true`) with `anthropic_version: vertex-2023-10-16`;
//!   the others are Gemini, `…/publishers/google/models/{m}:generateContent` (or
//!   `:streamGenerateContent?alt=sse`).

use crate::api::translate::Wire;
use crate::config::{Provider, ProviderKind};
use serde_json::Value;

/// The `anthropic_version` Bedrock's InvokeModel takes for Anthropic models.
pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";
/// The `anthropic_version` Vertex's rawPredict takes for Anthropic models.
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// The wire `model` speaks at a cloud provider; `None` for the other kinds (their wire is the
/// kind's own).
pub fn wire(provider: &Provider, model: &str) -> Option<Wire> {
    match provider.kind {
        // Model ids (`anthropic.claude-…`), cross-region profiles (`us.anthropic.claude-…`) and
        // ARNs of either name the publisher.
        ProviderKind::Bedrock if model.contains("anthropic.") => Some(Wire::Messages),
        ProviderKind::Bedrock => Some(Wire::Converse),
        ProviderKind::Vertex if model.starts_with("claude") => Some(Wire::Messages),
        ProviderKind::Vertex => Some(Wire::Gemini),
        _ => None,
    }
}

/// The `:path` of a request for `model` at a cloud provider (`provider.base_path` holds the
/// Vertex project and location).
pub fn path(provider: &Provider, model: &str, stream: bool) -> String {
    let base = &provider.base_path;
    let id = encode_segment(model);
    match (provider.kind, wire(provider, model)) {
        (ProviderKind::Bedrock, Some(Wire::Messages)) => format!("{base}/model/{id}/{}", if stream { "invoke-with-response-stream" } else { "invoke" }),
        (ProviderKind::Bedrock, _) => format!("{base}/model/{id}/{}", if stream { "converse-stream" } else { "converse" }),
        (_, Some(Wire::Messages)) => format!("{base}/publishers/anthropic/models/{id}:{}", if stream { "streamRawPredict" } else { "rawPredict" }),
        _ if stream => format!("{base}/publishers/google/models/{id}:streamGenerateContent?alt=sse"),
        _ => format!("{base}/publishers/google/models/{id}:generateContent"),
    }
}

/// Fits a request body in the provider's wire to the cloud: an Anthropic body loses `model`
/// (it is in the path) and gains the cloud's `anthropic_version`; Bedrock also refuses `stream`
/// (the path says it). Whether the body changed.
pub fn fit(provider: &Provider, model: &str, body: &mut Value) -> bool {
    if wire(provider, model) != Some(Wire::Messages) {
        return false;
    }
    let Some(obj) = body.as_object_mut() else { return false };
    obj.remove("model");
    let version = if provider.kind == ProviderKind::Bedrock {
        obj.remove("stream");
        BEDROCK_ANTHROPIC_VERSION
    } else {
        VERTEX_ANTHROPIC_VERSION
    };
    obj.insert("anthropic_version".into(), Value::from(version));
    true
}

/// Percent-encodes a path segment: everything but RFC 3986's unreserved characters (a Bedrock
/// model id's `:` and an ARN's `/` included), as SigV4 encodes.
pub fn encode_segment(s: &str) -> String {
    crate::sign::sigv4::uri_encode(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn providers() -> Vec<Provider> {
        let json = br#"{"providers": [
            {"name": "b", "kind": "bedrock", "cluster": "c", "region": "us-east-1", "credentials": "envoy"},
            {"name": "v", "kind": "vertex", "cluster": "c", "region": "us-east5", "project": "acme"}]}"#;
        parse(json, &|_| None).unwrap().providers
    }

    #[test]
    fn paths_name_the_model() {
        let p = providers();
        assert_eq!(path(&p[0], "anthropic.claude-3-5-sonnet-20240620-v1:0", false), "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke");
        assert_eq!(path(&p[0], "amazon.nova-pro-v1:0", true), "/model/amazon.nova-pro-v1%3A0/converse-stream");
        assert_eq!(path(&p[0], "us.anthropic.claude-sonnet-4-5", true), "/model/us.anthropic.claude-sonnet-4-5/invoke-with-response-stream");
        assert_eq!(path(&p[0], "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude", false), "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fanthropic.claude/invoke");
        assert_eq!(path(&p[1], "claude-sonnet-4-5@20250929", true), "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5%4020250929:streamRawPredict");
        assert_eq!(path(&p[1], "gemini-2.5-flash", true), "/v1/projects/acme/locations/us-east5/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
        assert_eq!(path(&p[1], "gemini-2.5-flash", false), "/v1/projects/acme/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent");
    }

    #[test]
    fn anthropic_bodies_carry_the_cloud_version_and_no_model() {
        let p = providers();
        let mut b = json!({"model": "x", "stream": true, "max_tokens": 5, "messages": []});
        assert!(fit(&p[0], "anthropic.claude", &mut b));
        assert_eq!(b, json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": []}));
        let mut b = json!({"model": "x", "stream": true, "max_tokens": 5});
        assert!(fit(&p[1], "claude-opus-4", &mut b));
        assert_eq!(b, json!({"anthropic_version": "vertex-2023-10-16", "stream": true, "max_tokens": 5}));
        assert!(!fit(&p[1], "gemini-2.5-pro", &mut b));
    }
}
