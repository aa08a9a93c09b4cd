//! `UpstreamFilter`: the module in the `upstream` role, an upstream HTTP filter on a failover
//! (aggregate) cluster. Envoy runs it once per attempt; it rewrites that attempt for the
//! provider Envoy picked, named by the endpoint's `tollgate.provider` metadata.

use super::Flow;
use crate::api::Endpoint;
use crate::config::{Config, ProviderKind};
use crate::gateway::{self, Handoff};
use crate::host::Host;
use serde_json::Value;
use std::rc::Rc;

/// Endpoint metadata that names the provider an upstream host belongs to.
pub const PROVIDER_METADATA: [&str; 5] = ["xds", "upstream_host_metadata", "filter_metadata", "tollgate", "provider"];
/// The downstream filter's handoff: its filter state `wasm.tollgate.handoff`, as an upstream
/// filter reads it.
pub const HANDOFF_PROPERTY: [&str; 1] = ["tollgate.handoff"];

/// One attempt's rewrite state.
pub struct UpstreamFilter {
    config: Option<Rc<Config>>,
    context_id: u32,
    /// Provider index and upstream model, once the headers named them.
    target: Option<(usize, String)>,
    endpoint: Option<Endpoint>,
}

impl UpstreamFilter {
    pub fn new(config: Option<Rc<Config>>, context_id: u32) -> UpstreamFilter {
        UpstreamFilter { config, context_id, target: None, endpoint: None }
    }

    pub fn on_request_headers(&mut self, host: &mut impl Host, end_of_stream: bool) -> Flow {
        let Some(config) = self.config.clone() else { return Flow::Continue };
        // Not from a failover route: pass through.
        let Some(handoff) = host.property_strings(&HANDOFF_PROPERTY).into_iter().next() else { return Flow::Continue };
        let Some(handoff) = Handoff::decode(&handoff) else {
            log::warn!("ctx={} upstream: malformed handoff; attempt sent unchanged", self.context_id);
            return Flow::Continue;
        };
        let Some(name) = host.property_strings(&PROVIDER_METADATA).into_iter().next() else {
            log::warn!("ctx={} upstream: the endpoint has no tollgate.provider metadata; attempt sent unchanged", self.context_id);
            return Flow::Continue;
        };
        let Some((idx, provider)) = config.providers.iter().enumerate().find(|(_, p)| p.name == name) else {
            log::warn!("ctx={} upstream: endpoint names unknown provider `{name}`; attempt sent unchanged", self.context_id);
            return Flow::Continue;
        };
        let Some(model) = handoff.model_for(&name).or_else(|| handoff.targets.first().map(|(_, m)| m.as_str())) else {
            return Flow::Continue;
        };
        // Envoy shares the header map across attempts: start from the client's originals and
        // drop every credential a previous attempt may have set.
        host.set_request_header(":path", Some(&handoff.path));
        host.set_request_header(":authority", Some(provider.host.as_deref().unwrap_or(&handoff.authority)));
        for p in &config.providers {
            let (header, _) = p.kind.credential_header();
            host.set_request_header(header, None);
            if let Some(c) = &p.credential {
                host.set_request_header(c.header, None);
            }
        }
        // A previous attempt's SigV4 headers (this attempt's are set with its body).
        host.set_request_header("x-amz-date", None);
        host.set_request_header("x-amz-security-token", None);
        if let Some(c) = &provider.credential {
            host.set_request_header(c.header, Some(&c.value));
        }
        if provider.kind == ProviderKind::Anthropic && host.request_header("anthropic-version").is_none() {
            host.set_request_header("anthropic-version", Some("2023-06-01"));
        }
        host.set_request_header("content-length", None);
        self.endpoint = Endpoint::from_path(&handoff.path);
        self.target = Some((idx, model.to_string()));
        if end_of_stream {
            return Flow::Continue;
        }
        // Hold the headers: the path (Gemini's) depends on the body's `stream`.
        Flow::Pause
    }

    pub fn on_request_body(&mut self, host: &mut impl Host, body_size: usize, end_of_stream: bool) -> Flow {
        let (Some(config), Some((idx, model)), Some(endpoint)) = (self.config.clone(), self.target.clone(), self.endpoint) else {
            return Flow::Continue;
        };
        if !end_of_stream {
            return Flow::Pause;
        }
        let Some(provider) = config.provider(idx) else { return Flow::Continue };
        let body = host.request_body(body_size).unwrap_or_default();
        let Ok(mut json) = serde_json::from_slice::<Value>(&body) else {
            log::warn!("ctx={} upstream: body is not JSON; attempt sent unchanged", self.context_id);
            return Flow::Continue;
        };
        let stream = json.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let requested = json.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
        match gateway::rewrite(endpoint, provider, &model, &requested, &mut json, stream, config.strict_translation) {
            Ok(r) => {
                host.set_request_header(":path", Some(&r.path));
                let beta = r.body.as_deref().and_then(|b| super::signing::with_beta(host, provider, &model, b));
                let sent = beta.or(r.body);
                if let Some(b) = &sent {
                    host.replace_request_body(body_size, b);
                }
                super::signing::sign(host, provider, &r.path, sent.as_deref().unwrap_or(&body));
                if !super::vertex_token::attach_shared(host, provider) {
                    // Never unsigned: this attempt fails and the retry policy moves on.
                    log::warn!("ctx={} upstream: no access token for provider `{}`; attempt refused", self.context_id, provider.name);
                    host.send_reply(503, &[("content-type", "application/json")], br#"{"error":{"message":"No Google Cloud access token for this attempt.","type":"api_error"}}"#);
                    return Flow::Pause;
                }
            }
            Err(e) => log::warn!("ctx={} upstream: cannot rewrite for provider `{}`: {}; attempt sent unchanged", self.context_id, provider.name, e.message),
        }
        Flow::Continue
    }

    /// Names the provider that answered, for the downstream filter's response translation.
    pub fn on_response_headers(&mut self, host: &mut impl Host) -> Flow {
        let name = self.target.as_ref().and_then(|(i, _)| self.config.as_ref().and_then(|c| c.provider(*i))).map(|p| p.name.clone());
        if let Some(name) = name {
            host.set_response_header(gateway::ATTEMPT_HEADER, Some(&name));
            // Each attempt's answer feeds its target's breaker.
            if let (Some(config), Some((_, model))) = (self.config.clone().filter(|c| c.router.breaker().is_some()), &self.target) {
                let status = host.response_header(":status").and_then(|s| s.parse().ok()).unwrap_or(0);
                let (outcome, _) = super::steering::outcome(host, status);
                super::steering::record(host, &config, &name, model, outcome);
            }
        }
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::filter::HttpFilter;
    use crate::host::fake::FakeHost;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const CONFIG: &str = r#"{"providers": [
            {"name": "openai", "kind": "openai", "cluster": "openai", "host": "api.openai.com", "api_key_env": "OPENAI_KEY"},
            {"name": "anthropic", "kind": "anthropic", "cluster": "anthropic", "host": "api.anthropic.com", "api_key_env": "ANTHROPIC_KEY"},
            {"name": "gemini", "kind": "gemini", "cluster": "gemini", "api_key_env": "GEMINI_KEY"}],
        "models": [{"name": "smart", "targets": [{"provider": "openai", "model": "gpt-4o"}],
                    "fallbacks": [{"provider": "anthropic", "model": "claude-sonnet-4-5"}, {"provider": "gemini", "model": "gemini-2.5-flash"}],
                    "failover_cluster": "llm_failover"}],
        "auth": {"mode": "none"}}"#;

    fn config(role: &str) -> Rc<Config> {
        let json = CONFIG.replacen('{', &format!(r#"{{"role": "{role}", "#), 1);
        Rc::new(parse(json.as_bytes(), &|k| Some(format!("sk-{k}"))).unwrap())
    }

    /// The downstream filter's request as the upstream role receives it.
    fn downstream(body: &str) -> FakeHost {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("content-length", "9")], body.as_bytes());
        let mut f = HttpFilter::new(Some(config("downstream")), 1, 0);
        assert_eq!(f.on_request_headers(&mut h, false), Flow::Pause);
        let n = h.request_body.len();
        assert_eq!(f.on_request_body(&mut h, n, true), Flow::Continue, "{:?}", h.reply);
        h
    }

    fn attempt(mut h: FakeHost, provider: &str) -> FakeHost {
        h.properties.insert(PROVIDER_METADATA.join("/"), vec![provider.to_string()]);
        let handoff = h.filter_state["tollgate.handoff"].clone();
        h.properties.insert(HANDOFF_PROPERTY.join("/"), vec![handoff]);
        let mut u = UpstreamFilter::new(Some(config("upstream")), 2);
        assert_eq!(u.on_request_headers(&mut h, false), Flow::Pause);
        let n = h.request_body.len();
        assert_eq!(u.on_request_body(&mut h, n, true), Flow::Continue);
        h.response_headers = vec![(":status".into(), "200".into())];
        u.on_response_headers(&mut h);
        h
    }

    #[test]
    fn downstream_hands_off_to_the_failover_cluster() {
        let h = downstream(r#"{"model": "smart", "messages": [{"role": "user", "content": "hi"}]}"#);
        assert_eq!(h.header("x-tollgate-cluster"), Some("llm_failover"));
        assert_eq!(h.header(":path"), Some("/v1/chat/completions"), "path left to the upstream role");
        assert_eq!(h.header("authorization"), None, "credential left to the upstream role");
        let handoff = Handoff::decode(&h.filter_state["tollgate.handoff"]).unwrap();
        assert_eq!(handoff.path, "/v1/chat/completions");
        assert_eq!(handoff.model_for("anthropic"), Some("claude-sonnet-4-5"));
        assert_eq!(handoff.targets.len(), 3);
    }

    #[test]
    fn each_attempt_is_rewritten_for_its_provider() {
        let body = r#"{"model": "smart", "stream": true, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}"#;
        let h = attempt(downstream(body), "openai");
        assert_eq!((h.header(":path"), h.header(":authority")), (Some("/v1/chat/completions"), Some("api.openai.com")));
        assert_eq!(h.header("authorization"), Some("Bearer sk-OPENAI_KEY"));
        let v: Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!(v["model"], "gpt-4o");

        let h = attempt(downstream(body), "anthropic");
        assert_eq!(h.header(":path"), Some("/v1/messages"));
        assert_eq!((h.header("x-api-key"), h.header("authorization")), (Some("sk-ANTHROPIC_KEY"), None));
        assert_eq!(h.header("anthropic-version"), Some("2023-06-01"));
        let v: Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!((v["model"].as_str(), v["system"].as_str()), (Some("claude-sonnet-4-5"), Some("be brief")));
        assert!(h.response_headers.contains(&(gateway::ATTEMPT_HEADER.to_string(), "anthropic".to_string())));

        let h = attempt(downstream(body), "gemini");
        assert_eq!(h.header(":path"), Some("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"));
        assert_eq!(h.header("x-goog-api-key"), Some("sk-GEMINI_KEY"));
    }

    #[test]
    fn downstream_translates_for_the_provider_that_answered() {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], br#"{"model": "smart", "messages": [{"role": "user", "content": "hi"}]}"#);
        let mut f = HttpFilter::new(Some(config("downstream")), 1, 0);
        f.on_request_headers(&mut h, false);
        let n = h.request_body.len();
        f.on_request_body(&mut h, n, true);
        h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into()), (gateway::ATTEMPT_HEADER.into(), "anthropic".into())];
        f.on_response_headers(&mut h);
        assert!(h.response_header(gateway::ATTEMPT_HEADER).is_none(), "stripped");
        h.response_body = include_bytes!("../../tests/fixtures/anthropic_messages.json").to_vec();
        let n = h.response_body.len();
        assert_eq!(f.on_response_body(&mut h, n, true), Flow::Continue);
        let v: Value = serde_json::from_slice(&h.response_body).unwrap();
        assert_eq!(v["object"], "chat.completion", "translated back to OpenAI");
        f.on_log(&mut h);
        assert_eq!(h.exported("provider").unwrap(), "anthropic");
        assert_eq!(h.exported("upstream_model").unwrap(), "claude-sonnet-4-5");
        assert_eq!(h.exported("failed_over").unwrap(), "true");
        assert_eq!(f.plan().unwrap().upstream_model, "claude-sonnet-4-5");
    }

    #[test]
    fn foreign_requests_pass_unchanged() {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer x")], b"{}");
        let mut u = UpstreamFilter::new(Some(config("upstream")), 2);
        assert_eq!(u.on_request_headers(&mut h, false), Flow::Continue);
        assert_eq!(h.header("authorization"), Some("Bearer x"));
        h.properties.insert(HANDOFF_PROPERTY.join("/"), vec!["garbage".into()]);
        assert_eq!(u.on_request_headers(&mut h, false), Flow::Continue);
        assert_eq!(h.header("authorization"), Some("Bearer x"));
    }

    #[test]
    fn a_later_attempt_starts_from_the_client_request() {
        // Envoy shares the header map across attempts: the Anthropic attempt must not keep the
        // OpenAI attempt's path or credential.
        let h = attempt(downstream(r#"{"model": "smart", "messages": []}"#), "openai");
        let h = attempt(h, "anthropic");
        assert_eq!(h.header(":path"), Some("/v1/messages"));
        assert_eq!(h.header("authorization"), None);
        assert_eq!(h.header("x-api-key"), Some("sk-ANTHROPIC_KEY"));
    }
}
