//! Real-Envoy tests of the `guard` role, on the shipped `envoy/guard.yaml`: the route picks the
//! provider and the client's own key goes upstream, while prompts are redacted on the way out,
//! pseudonyms restored on the way back, blocked secrets and uninspectable paths refused, and
//! tokens counted.

mod support;

use serde_json::{json, Value};
use support::envoy::{shipped_yaml, Envoy};
use support::http_client::{parse_sse, post_json, request, request_streamed};
use support::mock_provider::*;

const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111 1111 1111 1111";
const AWS: &str = "AKIAIOSFODNN7EXAMPLE";
const KEY: (&str, &str) = ("authorization", "Bearer sk-client-own-provider-key");

fn prompt() -> String {
    format!("Mail {EMAIL} about Project Blue Heron; card {CARD}.")
}

fn guard() -> (MockProvider, Envoy) {
    let mock = MockProvider::start();
    let envoy = Envoy::start(&shipped_yaml("envoy/guard.yaml", mock.port()));
    (mock, envoy)
}

fn assert_clean(body: &str) {
    for v in [EMAIL, CARD, "Blue Heron"] {
        assert!(!body.contains(v), "`{v}` reached the provider: {body}");
    }
}

#[test]
fn chat_is_redacted_upstream_restored_for_the_client_and_otherwise_left_alone() {
    let (mock, envoy) = guard();
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt()}]});
    let r = post_json(envoy.port, "/v1/chat/completions", &[KEY, ("x-mock-echo", "1")], &body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.last_request().unwrap();
    assert_clean(&sent.body_text());
    assert_eq!(sent.json()["messages"][0]["content"], "Mail [EMAIL_1] about [REDACTED]; card [CREDIT_CARD].");
    // The route's path and the client's own credential, as sent.
    assert_eq!((sent.path.as_str(), sent.header("authorization")), ("/v1/chat/completions", Some(KEY.1)));
    assert_eq!(sent.header("content-length"), Some(sent.body_text().len().to_string().as_str()));
    assert_eq!(r.json()["choices"][0]["message"]["content"], "Mail jane.doe@example.com about [REDACTED]; card [CREDIT_CARD].");
    assert!(r.header("x-tollgate").is_some() && r.header("x-tollgate-provider").is_none());

    // Nothing to redact: byte for byte.
    let clean = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hi."}],"temperature":0.2}"#;
    let r = request(envoy.port, "POST", "/v1/chat/completions", &[KEY, ("content-type", "application/json")], clean).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(mock.last_request().unwrap().body, clean.to_vec());

    let log = envoy.wait_access_log(2);
    assert_eq!((log[0]["upstream_cluster"].as_str(), log[0]["redactions"].as_str(), log[0]["model"].as_str()), (Some("provider"), Some("3"), Some("gpt-4o-mini")));
    assert!(log[0]["provider"].is_null(), "the guard names no provider: {log:?}");
    assert!(log.iter().all(|l| l["prompt_tokens"].as_str().is_some_and(|t| t.parse::<u64>().is_ok())), "{log:?}");
    assert!(!envoy.log().contains(EMAIL), "a matched value was logged");
}

#[test]
fn azure_style_streams_are_restored_and_counted() {
    let (mock, envoy) = guard();
    // Azure names the model in the path; the body has none.
    let path = "/openai/deployments/gpt4/chat/completions?api-version=2024-10-21";
    let body = json!({"stream": true, "messages": [{"role": "user", "content": prompt()}]});
    let r = request_streamed(envoy.port, "POST", path, &[("api-key", "azure-own-key"), ("x-mock-echo", "1"), ("content-type", "application/json")], body.to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let sent = mock.last_request().unwrap();
    assert_clean(&sent.body_text());
    assert_eq!((sent.path.as_str(), sent.header("api-key")), (path, Some("azure-own-key")));
    assert_eq!(sent.json()["stream_options"]["include_usage"], true, "asked for usage, to count it");
    let events = parse_sse(&r.text());
    let text: String = events.iter().filter_map(|e| e.json()).filter_map(|v| v.pointer("/choices/0/delta/content").and_then(Value::as_str).map(str::to_string)).collect();
    assert_eq!(text, "Mail jane.doe@example.com about [REDACTED]; card [CREDIT_CARD].");
    let usage_chunk = |v: &Value| v["choices"].as_array().is_some_and(Vec::is_empty) && v["usage"].is_object();
    assert!(!events.iter().filter_map(|e| e.json()).any(|v| usage_chunk(&v)), "the usage chunk the client did not ask for is removed: {}", r.text());
    let log = envoy.wait_access_log(1);
    assert!(log[0]["completion_tokens"].as_str().is_some_and(|t| t.parse::<u64>().is_ok_and(|n| n > 0)), "{log:?}");
}

#[test]
fn blocked_secrets_and_uninspectable_paths_never_leave() {
    let (mock, envoy) = guard();
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": format!("my key is {AWS}")}]});
    let r = post_json(envoy.port, "/v1/messages", &[("x-api-key", "sk-ant-own")], &body).unwrap();
    assert_eq!(r.status, 400);
    assert_eq!((r.json()["type"].as_str(), r.json()["error"]["type"].as_str()), (Some("error"), Some("invalid_request_error")), "Anthropic's shape: {}", r.text());
    assert!(r.text().contains("cloud_key") && !r.text().contains(AWS), "{}", r.text());

    // The Responses API is inspected too: `input` holds the secret.
    let r = post_json(envoy.port, "/v1/responses", &[KEY], &json!({"model": "gpt-4o-mini", "input": [{"role": "user", "content": [{"type": "input_text", "text": AWS}]}]})).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("cloud_key") && !r.text().contains(AWS), "{}", r.text());
    let r = post_json(envoy.port, "/v1/files", &[KEY], &json!({"purpose": "batch", "input": AWS})).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "unknown_endpoint");
    assert_eq!(mock.request_count(), 0, "nothing reached the provider");

    // No body, nothing to inspect: the route's upstream answers.
    let r = request(envoy.port, "GET", "/v1/models", &[KEY], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.last_request().unwrap().header("authorization"), Some(KEY.1));
}
