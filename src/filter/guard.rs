//! Role `guard`: which requests on a route that already reaches a provider get inspected.

use crate::api::Endpoint;
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::redact::OnError;

/// What the guard does with a request that has a body, from its `:path`: inspect it as the
/// endpoint's dialect (`Ok(Some)`), let it pass (`Ok(None)`: a path the guard does not know,
/// with redaction off or failing open), or refuse it (redaction fails closed, and a body it
/// cannot read must not leave).
pub(super) fn endpoint(config: &Config, path: &str) -> Result<Option<Endpoint>, ApiError> {
    if let Some(e) = Endpoint::from_guarded_path(path) {
        return Ok(Some(e));
    }
    if config.redaction.as_ref().is_some_and(|r| r.on_error == OnError::Refuse) {
        let path = path.split('?').next().unwrap_or_default();
        let msg = format!("The gateway cannot inspect requests to {path}, so it does not forward them.");
        return Err(ApiError::new(ErrorKind::UnknownEndpoint, msg));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::filter::{Flow, HttpFilter};
    use crate::host::fake::FakeHost;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const GUARD: &str = r#"{"role": "guard", "redaction": {"enabled": true, "detectors": {"cloud_key": "block"}}}"#;

    fn filter(json: &str) -> HttpFilter {
        HttpFilter::new(Some(Rc::new(parse(json.as_bytes(), &|_| None).unwrap())), 1, 0)
    }

    /// Headers then the whole body; the flow of each phase.
    fn send(f: &mut HttpFilter, h: &mut FakeHost) -> (Flow, Flow) {
        let headers = f.on_request_headers(h, h.request_body.is_empty());
        let n = h.request_body.len();
        (headers, f.on_request_body(h, n, true))
    }

    fn chat(path: &str, body: &str) -> FakeHost {
        let headers = [("authorization", "Bearer sk-provider-key"), ("content-length", "1"), ("host", "api.openai.com")];
        FakeHost::request("POST", path, &headers, body.as_bytes())
    }

    #[test]
    fn without_the_header_hold_the_guard_lets_headers_go_and_still_redacts() {
        let config = r#"{"role": "guard", "hold_headers": false, "redaction": {"enabled": true, "detectors": {"email": "mask", "cloud_key": "block"}}}"#;
        let mut h = chat("/v1/chat/completions", r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "mail a@b.example"}]}"#);
        let mut f = filter(config);
        assert_eq!(f.on_request_headers(&mut h, false), Flow::Continue);
        assert_eq!((h.header("content-length"), h.header("authorization")), (None, Some("Bearer sk-provider-key")));
        let size = h.request_body.len();
        assert_eq!(f.on_request_body(&mut h, size, true), Flow::Continue);
        assert!(String::from_utf8_lossy(&h.request_body).contains("[EMAIL]"));
        let mut h = chat("/v1/chat/completions", r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "AKIAIOSFODNN7EXAMPLE"}]}"#);
        send(&mut filter(config), &mut h);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(400), "blocked from the body phase");
    }

    #[test]
    fn redacts_and_restores_but_leaves_the_route_alone() {
        let mut h = chat("/openai/deployments/d/chat/completions?api-version=1", r#"{"messages":[{"role":"user","content":"mail jane@example.com"}]}"#);
        let before = h.request_headers.clone();
        let mut f = filter(GUARD);
        assert_eq!(send(&mut f, &mut h), (Flow::Pause, Flow::Continue));
        let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!(sent["messages"][0]["content"], "mail [EMAIL_1]");
        // Only the length (the body changed) and the encoding (the answer is read) moved.
        let moved = |hs: &[(String, String)]| hs.iter().filter(|(k, _)| k != "content-length" && k != "accept-encoding").cloned().collect::<Vec<_>>();
        assert_eq!(moved(&h.request_headers), moved(&before));
        assert_eq!(h.header("content-length"), Some(h.request_body.len().to_string().as_str()));
        h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
        f.on_response_headers(&mut h);
        let names: Vec<&str> = h.response_headers.iter().map(|(k, _)| k.as_str()).filter(|k| k.starts_with("x-tollgate")).collect();
        assert_eq!(names, ["x-tollgate"], "no provider or model of its own to name");
        h.response_body = br#"{"choices":[{"message":{"content":"Wrote to [EMAIL_1]."}}]}"#.to_vec();
        let n = h.response_body.len();
        assert_eq!(f.on_response_body(&mut h, n, true), Flow::Continue);
        let got: serde_json::Value = serde_json::from_slice(&h.response_body).unwrap();
        assert_eq!(got["choices"][0]["message"]["content"], "Wrote to jane@example.com.");
    }

    #[test]
    fn a_clean_body_goes_untouched() {
        let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}"#;
        let mut h = chat("/v1/chat/completions", body);
        let before = h.request_headers.clone();
        let mut f = filter(GUARD);
        assert_eq!(send(&mut f, &mut h), (Flow::Pause, Flow::Continue));
        assert_eq!((h.request_body.as_slice(), &h.request_headers), (body.as_bytes(), &before));
        f.on_log(&mut h);
        assert_eq!(h.exported("model").as_deref(), Some("gpt-4o-mini"));
        assert!(h.exported("provider").is_none());
    }

    #[test]
    fn blocks_in_the_dialect_of_the_path() {
        let mut h = chat("/v1/messages", r#"{"model":"claude","max_tokens":9,"messages":[{"role":"user","content":"AKIAIOSFODNN7EXAMPLE"}]}"#);
        send(&mut filter(GUARD), &mut h);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(400));
        assert_eq!(h.reply_json()["type"], "error", "Anthropic's error shape");
    }

    #[test]
    fn unknown_paths_are_refused_when_failing_closed_and_pass_otherwise() {
        let body = r#"{"input":"AKIAIOSFODNN7EXAMPLE"}"#;
        let mut h = chat("/v1/files?x=1", body);
        send(&mut filter(GUARD), &mut h);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(404));
        assert_eq!(h.reply_json()["error"]["message"], "The gateway cannot inspect requests to /v1/files, so it does not forward them.");
        let open = r#"{"role": "guard", "redaction": {"enabled": true, "on_error": "forward"}}"#;
        for (config, path) in [(open, "/v1/files"), (GUARD, "/v1/models")] {
            let mut h = chat(path, if path == "/v1/models" { "" } else { body });
            assert_eq!(send(&mut filter(config), &mut h).0, Flow::Continue, "{path}");
            assert!(h.reply.is_none(), "{path}");
        }
    }

    #[test]
    fn streams_ask_for_usage_when_accounting() {
        let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
        let mut h = chat("/v1/chat/completions", body);
        send(&mut filter(r#"{"role": "guard"}"#), &mut h);
        let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!(sent["stream_options"]["include_usage"], true);
        let mut h = chat("/v1/chat/completions", body);
        send(&mut filter(r#"{"role": "guard", "accounting": {"enabled": false}}"#), &mut h);
        assert_eq!(h.request_body, body.as_bytes());
    }

    #[test]
    fn limits_count_every_caller_together_and_by_model() {
        let json = r#"{"role": "guard", "limits": {"rules": [{"id": "rpm-4o", "scope": "key", "kind": "requests", "window": "minute", "limit": 1, "model": "gpt-4o"}]}}"#;
        let config = Rc::new(parse(json.as_bytes(), &|_| None).unwrap());
        let store = crate::limits::MemStore::default();
        let status = |model: &str| {
            let mut h = chat("/v1/chat/completions", &format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#));
            h.shared = store.clone();
            send(&mut HttpFilter::new(Some(config.clone()), 1, 0), &mut h);
            h.reply.map_or(200, |r| r.0)
        };
        assert_eq!([status("gpt-4o"), status("gpt-4o"), status("gpt-4o-mini")], [200, 429, 200]);
    }

    #[test]
    fn refuses_routing_and_keys_naming_the_field() {
        for (json, field) in [
            (r#"{"role": "guard", "providers": [{"name": "p", "kind": "openai", "cluster": "c"}]}"#, "providers"),
            (r#"{"role": "guard", "models": [{"name": "m", "targets": []}]}"#, "models"),
            (r#"{"role": "guard", "keys": [{"id": "k", "digests": []}]}"#, "keys"),
            (r#"{"role": "guard", "auth": {"mode": "jwt"}}"#, "auth.mode"),
        ] {
            assert_eq!(parse(json.as_bytes(), &|_| None).unwrap_err().field, field, "{json}");
        }
    }
}
