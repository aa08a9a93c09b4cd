//! The listener filter without the header hold (`hold_headers: false`): the route picked the
//! provider, so the headers go on at once with the provider's path, authority and credential,
//! and the body is planned when it has arrived. A refusal from the body phase is a local reply;
//! Envoy resets the upstream stream the headers opened, so the provider never gets the body.

use crate::config::Config;
use crate::gateway::{Admission, RouteTarget};
use crate::host::Host;

/// Sends the request headers to `target`'s provider: its cluster, path, authority and
/// credential, the tenant header, and no `content-length` (the body may still change) or
/// `accept-encoding` (the answer may be read).
pub(super) fn send_headers(host: &mut impl Host, config: &Config, admission: &Admission, target: &RouteTarget) {
    let Some(provider) = config.provider(target.provider) else { return };
    host.set_request_header(&config.cluster_header, Some(&provider.cluster));
    super::forward::provider_headers(host, &target.path, provider.host.as_deref(), provider.credential.as_ref(), provider.kind);
    host.set_request_header("content-length", None);
    host.set_request_header("accept-encoding", None);
    if let Some(h) = &config.auth.tenant_header {
        if let Some(t) = admission.identity.policy(config).and_then(|p| p.tenant.as_deref()) {
            host.set_request_header(h, Some(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::filter::{Flow, HttpFilter};
    use crate::host::fake::FakeHost;
    use crate::keys::Digest;
    use serde_json::Value;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(extra: &str) -> String {
        format!(
            r#"{{"hold_headers": false,
                "providers": [{{"name": "openai", "kind": "openai", "cluster": "outbound|80||api.openai.com", "host": "api.openai.com", "api_key_env": "OPENAI_KEY"}},
                              {{"name": "anthropic", "kind": "anthropic", "cluster": "outbound|80||api.anthropic.com", "host": "api.anthropic.com", "api_key_env": "ANTHROPIC_KEY"}}],
                "auth": {{"tenant_header": "x-tenant"}},
                "keys": [{{"id": "a", "tenant": "acme", "digests": ["{}"], "models": ["gpt-*", "claude-*"]}}]{extra}}}"#,
            Digest::of(b"tg-good")
        )
    }

    fn filter(json: &str) -> HttpFilter {
        let env = |k: &str| Some(format!("secret-{k}"));
        HttpFilter::new(Some(Rc::new(parse(json.as_bytes(), &env).unwrap())), 1, 0)
    }

    fn send(f: &mut HttpFilter, h: &mut FakeHost) -> (Flow, Flow) {
        let a = f.on_request_headers(h, false);
        let size = h.request_body.len();
        let b = if h.reply.is_none() { f.on_request_body(h, size, true) } else { Flow::Pause };
        (a, b)
    }

    fn chat(host: &str, body: &str) -> FakeHost {
        FakeHost::request("POST", "/v1/chat/completions", &[(":authority", host), ("authorization", "Bearer tg-good"), ("content-length", "9")], body.as_bytes())
    }

    #[test]
    fn headers_go_at_once_to_the_routes_provider() {
        let mut h = chat("api.openai.com", r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#);
        let mut f = filter(&config(""));
        assert_eq!(f.on_request_headers(&mut h, false), Flow::Continue, "never held");
        assert_eq!((h.header(":path"), h.header("authorization"), h.header("x-tenant")), (Some("/v1/chat/completions"), Some("Bearer secret-OPENAI_KEY"), Some("acme")));
        assert_eq!((h.header("content-length"), h.header("x-tollgate-cluster")), (None, Some("outbound|80||api.openai.com")));
        let size = h.request_body.len();
        assert_eq!(f.on_request_body(&mut h, size, false), Flow::Pause, "the body is buffered");
        assert_eq!(f.on_request_body(&mut h, size, true), Flow::Continue);
        assert!(h.reply.is_none());
        // The Anthropic route: translated on the body, the path set on the headers.
        let mut h = chat("api.anthropic.com:80", r#"{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}"#);
        assert_eq!(send(&mut filter(&config("")), &mut h), (Flow::Continue, Flow::Continue));
        assert_eq!((h.header(":path"), h.header("x-api-key"), h.header("anthropic-version")), (Some("/v1/messages"), Some("secret-ANTHROPIC_KEY"), Some("2023-06-01")));
        let body: Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!(body["max_tokens"], 4096);
    }

    #[test]
    fn refusals_come_from_the_phase_that_knows() {
        // A bad key: on the headers, before anything went upstream.
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[(":authority", "api.openai.com"), ("authorization", "Bearer bad")], b"{}");
        send(&mut filter(&config("")), &mut h);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(401));
        // A host no provider serves, with two providers: no guess.
        let mut h = chat("example.com", r#"{"model": "gpt-4o"}"#);
        send(&mut filter(&config("")), &mut h);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(503));
        // A model the key may not use, a blocked secret: on the body (Envoy resets the upstream).
        let mut h = chat("api.openai.com", r#"{"model": "o3", "messages": []}"#);
        send(&mut filter(&config("")), &mut h);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(403));
        let blocked = r#", "redaction": {"enabled": true, "detectors": {"cloud_key": "block"}}"#;
        let mut h = chat("api.openai.com", r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "AKIAIOSFODNN7EXAMPLE"}]}"#);
        assert_eq!(send(&mut filter(&config(blocked)), &mut h).0, Flow::Continue);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(400));
    }

    #[test]
    fn body_routing_and_model_named_paths_are_refused_at_load() {
        let env = |_: &str| None;
        for (extra, field) in [
            (r#", "models": [{"name": "gpt-4o", "targets": [{"provider": "openai"}]}]"#, "models"),
            (r#", "role": "upstream""#, "hold_headers"),
        ] {
            let e = parse(config(extra).as_bytes(), &env).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.message.contains("envoyfilter.yaml"), "{e}");
        }
        let gemini = r#"{"hold_headers": false, "providers": [{"name": "g", "kind": "gemini", "cluster": "g"}]}"#;
        assert_eq!(parse(gemini.as_bytes(), &env).unwrap_err().field, "providers[0].kind");
    }
}
