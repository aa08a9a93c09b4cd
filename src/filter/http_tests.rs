//! Unit tests of `HttpFilter` over the fake host, in a sibling file so the filter stays one concern;
//! compiled only in tests (`http.rs` includes this file under `#[cfg(test)]`).

use super::*;
use crate::config::parse;
use crate::host::fake::FakeHost;
use crate::keys::Digest;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn config() -> Rc<Config> {
    let json = format!(
        r#"{{"providers": [{{"name": "mock", "kind": "openai", "cluster": "mock_cluster", "host": "mock.local", "api_key_env": "MOCK_KEY"}},
                           {{"name": "claude", "kind": "anthropic", "cluster": "anthropic"}}],
            "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "mock"}}]}},
                       {{"name": "fast", "targets": [{{"provider": "mock", "model": "gpt-4o-mini"}}]}},
                       {{"name": "claude-*", "targets": [{{"provider": "claude"}}]}}],
            "auth": {{"tenant_header": "x-tenant"}},
            "keys": [{{"id": "team-a", "tenant": "acme", "digests": ["{}"], "models": ["gpt-4o-mini", "fast", "claude-*"]}}]}}"#,
        Digest::of(b"tg-good")
    );
    Rc::new(parse(json.as_bytes(), &|k| (k == "MOCK_KEY").then(|| "sk-upstream".into())).unwrap())
}

fn run(host: &mut FakeHost) -> (Flow, Flow, HttpFilter) {
    let mut f = HttpFilter::new(Some(config()), 7, 0);
    let a = f.on_request_headers(host, false);
    let size = host.request_body.len();
    let b = if host.reply.is_none() { f.on_request_body(host, size, true) } else { Flow::Pause };
    (a, b, f)
}

#[test]
fn forwards_with_provider_credential_and_cluster() {
    let body = br#"{"model":"fast","messages":[]}"#;
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good"), ("content-length", "30"), ("accept-encoding", "gzip")], body);
    let (a, b, mut f) = run(&mut h);
    assert_eq!((a, b), (Flow::Pause, Flow::Continue));
    assert!(h.reply.is_none());
    assert_eq!(h.header("x-tollgate-cluster"), Some("mock_cluster"));
    assert_eq!(h.header("authorization"), Some("Bearer sk-upstream"));
    assert_eq!(h.header(":authority"), Some("mock.local"));
    assert_eq!(h.header("content-length"), Some(h.request_body.len().to_string().as_str()));
    assert_eq!(h.header("accept-encoding"), None);
    assert_eq!(h.header("x-tenant"), Some("acme"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&h.request_body).unwrap()["model"], "gpt-4o-mini");
    f.on_log(&mut h);
    assert_eq!(h.filter_state.keys().collect::<Vec<_>>(), ["tollgate"], "one record, no usage yet: {:?}", h.filter_state);
    assert_eq!(h.exported("key_id").unwrap(), "team-a");
    assert_eq!(h.exported("tenant").unwrap(), "acme");
    assert_eq!(f.plan().unwrap().upstream_model, "gpt-4o-mini");
}

#[test]
fn unchanged_body_keeps_its_length() {
    let body = br#"{"model":"gpt-4o-mini","messages":[]}"#;
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good"), ("content-length", "38")], body);
    run(&mut h);
    assert!(h.reply.is_none());
    assert_eq!(h.header("content-length"), Some("38"));
    assert_eq!(&h.request_body[..], &body[..]);
}

#[test]
fn client_credentials_never_forwarded() {
    let mut h = FakeHost::request("POST", "/v1/messages", &[("x-api-key", "tg-good"), ("api-key", "junk")], br#"{"model":"claude-sonnet-4-5"}"#);
    run(&mut h);
    assert!(h.reply.is_none(), "{:?}", h.reply);
    assert_eq!(h.header("authorization"), None);
    assert_eq!(h.header("api-key"), None);
    assert_eq!(h.header("x-api-key"), None, "keyless provider gets no key at all");
    assert_eq!(h.header("anthropic-version"), Some("2023-06-01"));
}

#[test]
fn rejects_in_dialect() {
    let mut h = FakeHost::request("POST", "/v1/messages", &[("x-api-key", "wrong")], b"{}");
    run(&mut h);
    assert_eq!(h.reply.as_ref().unwrap().0, 401);
    assert_eq!(h.reply_json()["error"]["type"], "authentication_error");

    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], br#"{"model":"gpt-4o"}"#);
    run(&mut h);
    assert_eq!(h.reply.as_ref().unwrap().0, 403);
    assert_eq!(h.reply_json()["error"]["code"], "model_not_allowed");
}

#[test]
fn models_endpoint_answers_locally() {
    let mut h = FakeHost::request("GET", "/v1/models", &[("authorization", "Bearer tg-good")], b"");
    let mut f = HttpFilter::new(Some(config()), 1, 5);
    assert_eq!(f.on_request_headers(&mut h, true), Flow::Pause);
    let v = h.reply_json();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
}

#[test]
fn oversized_and_missing_bodies() {
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], b"");
    let mut f = HttpFilter::new(Some(config()), 1, 0);
    f.on_request_headers(&mut h, true);
    assert_eq!(h.reply.as_ref().unwrap().0, 400);

    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], b"");
    let mut f = HttpFilter::new(Some(config()), 1, 0);
    f.on_request_headers(&mut h, false);
    assert_eq!(f.on_request_body(&mut h, 10, false), Flow::Pause);
    f.on_request_body(&mut h, 33 * 1024 * 1024, false);
    assert_eq!(h.reply.as_ref().unwrap().0, 413);
}

#[test]
fn unconfigured_filter_refuses() {
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], b"");
    let mut f = HttpFilter::new(None, 1, 0);
    f.on_request_headers(&mut h, false);
    assert_eq!(h.reply.as_ref().unwrap().0, 503);
}

#[test]
fn json_usage_is_published_at_the_end_of_the_body() {
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], br#"{"model":"gpt-4o-mini"}"#);
    let (_, _, mut f) = run(&mut h);
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
    f.on_response_headers(&mut h);
    h.response_body = include_bytes!("../../tests/fixtures/openai_chat.json").to_vec();
    assert_eq!(f.on_response_body(&mut h, 10, false), Flow::Pause);
    let n = h.response_body.len();
    assert_eq!(f.on_response_body(&mut h, n, true), Flow::Continue);
    assert_eq!(h.exported("total_tokens").unwrap(), "59", "written at once, for hits_addend");
    f.on_log(&mut h);
    assert_eq!(h.exported("prompt_tokens").unwrap(), "42");
    assert_eq!(h.exported("completion_tokens").unwrap(), "17");
    assert_eq!(h.exported("cached_tokens").unwrap(), "16");
    assert_eq!(h.exported("usage_estimated").unwrap(), "false");
    let names: Vec<&str> = h.metrics.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"tollgate.model.gpt-4o-mini.provider.mock.tenant.acme.status.2xx.requests"), "{names:?}");
    assert!(h.metrics.iter().any(|m| m.name.ends_with(".tokens.input") && m.value == 42));
}

#[test]
fn streams_pass_through_and_cut_streams_are_estimated_at_log() {
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], br#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Tell me a story about a lighthouse keeper."}]}"#);
    let (_, _, mut f) = run(&mut h);
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "text/event-stream".into())];
    f.on_response_headers(&mut h);
    let sse = include_bytes!("../../tests/fixtures/openai_chat_stream.sse");
    h.response_body = sse[..sse.len() / 2].to_vec();
    let n = h.response_body.len();
    assert_eq!(f.on_response_body(&mut h, n, false), Flow::Continue, "never held back");
    assert!(h.exported("prompt_tokens").is_none());
    f.on_log(&mut h);
    assert_eq!(h.exported("usage_estimated").unwrap(), "true");
    assert_ne!(h.exported("prompt_tokens").unwrap(), "0");
}

/// A keyless one-provider config with `extra` top-level fields; the request forwarded, the
/// JSON answer's headers seen.
fn forwarded_with(extra: &str) -> (FakeHost, HttpFilter) {
    let json = format!(
        r#"{{"providers": [{{"name": "p", "kind": "openai", "cluster": "c"}}],
             "models": [{{"name": "*", "targets": [{{"provider": "p"}}]}}],
             "auth": {{"mode": "none"}}, {extra}}}"#
    );
    let config = Rc::new(parse(json.as_bytes(), &|_| None).unwrap());
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], br#"{"model":"m"}"#);
    let mut f = HttpFilter::new(Some(config), 1, 0);
    f.on_request_headers(&mut h, false);
    let n = h.request_body.len();
    f.on_request_body(&mut h, n, true);
    assert_eq!(h.header("x-tollgate-cluster"), Some("c"), "routed");
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
    f.on_response_headers(&mut h);
    (h, f)
}

#[test]
fn accounting_can_be_switched_off() {
    let (mut h, mut f) = forwarded_with(r#""accounting": {"enabled": false}"#);
    assert_eq!(f.on_response_body(&mut h, 5, false), Flow::Continue, "not held when accounting is off");
    assert!(h.exported("prompt_tokens").is_none());
}

#[test]
fn telemetry_can_be_switched_off() {
    let (mut h, mut f) = forwarded_with(r#""telemetry": {"filter_state": false, "stats": false}"#);
    h.response_body = include_bytes!("../../tests/fixtures/openai_chat.json").to_vec();
    let n = h.response_body.len();
    f.on_response_body(&mut h, n, true);
    f.on_log(&mut h);
    assert!(h.filter_state.is_empty(), "{:?}", h.filter_state);
    assert!(h.metrics.is_empty());
    assert_eq!(f.usage.map(|u| u.prompt_tokens), Some(42), "still metered (for limits)");
}

#[test]
fn error_responses_are_not_metered() {
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], br#"{"model":"gpt-4o-mini"}"#);
    let (_, _, mut f) = run(&mut h);
    h.response_headers = vec![(":status".into(), "503".into()), ("content-type".into(), "application/json".into())];
    f.on_response_headers(&mut h);
    assert_eq!(f.on_response_body(&mut h, 5, false), Flow::Continue);
    f.on_log(&mut h);
    assert!(h.exported("prompt_tokens").is_none());
}

#[test]
fn response_headers_name_the_route() {
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], br#"{"model":"gpt-4o-mini"}"#);
    let (_, _, mut f) = run(&mut h);
    f.on_response_headers(&mut h);
    assert!(h.response_headers.contains(&("x-tollgate-provider".into(), "mock".into())));
}
