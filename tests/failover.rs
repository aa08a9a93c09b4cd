//! Real-Envoy tests of runtime failover (`envoy/failover.yaml`): Envoy's retry policy moves a
//! failed attempt across an aggregate cluster's members, and tollgate in the upstream role
//! rewrites each attempt for the provider it reaches. The answer is translated back for the client.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};
use support::envoy::{repo, Envoy};
use support::http_client::{post_json, request_streamed};
use support::mock_provider::*;

/// Three providers for `smart`: OpenAI-shaped first, then Anthropic-shaped, then Gemini-shaped.
struct Setup {
    envoy: Envoy,
    openai: Option<MockProvider>,
    anthropic: MockProvider,
    gemini: MockProvider,
}

fn failing(status: u16) -> Behavior {
    Behavior { status: Some(status), ..Behavior::default() }
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(openai: Option<Behavior>, anthropic: Behavior, gemini: Behavior) -> Setup {
    let openai = openai.map(MockProvider::start_with);
    let (anthropic, gemini) = (MockProvider::start_with(anthropic), MockProvider::start_with(gemini));
    let src = std::fs::read_to_string(repo().join("envoy/failover.yaml")).unwrap();
    let openai_port = openai.as_ref().map_or_else(closed_port, MockProvider::port);
    let yaml = src
        .replace("port_value: 10000", "port_value: 0")
        .replace("port_value: 9901", "port_value: 0")
        .replace("port_value: 18081", &format!("port_value: {openai_port}"))
        .replace("port_value: 18082", &format!("port_value: {}", anthropic.port()))
        .replace("port_value: 18083", &format!("port_value: {}", gemini.port()));
    let envoy = Envoy::start(&yaml);
    Setup { envoy, openai, anthropic, gemini }
}

fn chat(stream: bool) -> serde_json::Value {
    serde_json::json!({"model": "smart", "stream": stream, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]})
}

#[test]
fn healthy_primary_answers_without_rewrite_surprises() {
    let s = start(Some(Behavior::default()), Behavior::default(), Behavior::default());
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[], &chat(false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["object"], "chat.completion");
    let seen = s.openai.as_ref().unwrap().last_request().unwrap();
    assert_eq!((seen.path.as_str(), seen.json()["model"].as_str()), ("/v1/chat/completions", Some("gpt-4o-mini")));
    assert_eq!(seen.header("x-tollgate-plan"), None, "the handoff never leaves the proxy");
    assert_eq!(r.header("x-tollgate-attempt"), None, "nor reaches the client");
    assert_eq!((s.anthropic.request_count(), s.gemini.request_count()), (0, 0));
    let log = s.envoy.wait_access_log(1);
    assert_eq!((log[0]["provider"].as_str(), log[0]["failed_over"].as_str()), (Some("openai"), None));
}

#[test]
fn server_error_fails_over_to_anthropic_translated_per_attempt() {
    let s = start(Some(failing(503)), Behavior::default(), Behavior::default());
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[], &chat(false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "chat.completion", "Anthropic's answer translated back to OpenAI");
    assert_eq!(v["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(v["usage"]["completion_tokens"], ANTHROPIC_OUTPUT_TOKENS);
    assert_eq!(r.header("x-tollgate-provider"), Some("anthropic"));
    let first = s.openai.as_ref().unwrap().last_request().unwrap();
    assert_eq!(first.json()["messages"][0]["role"], "system", "first attempt in OpenAI's dialect");
    let second = s.anthropic.last_request().unwrap();
    assert_eq!(second.path, "/v1/messages");
    let body = second.json();
    assert_eq!((body["model"].as_str(), body["system"].as_str()), (Some("claude-sonnet-4-5"), Some("Be brief.")));
    assert_eq!(second.header("anthropic-version"), Some("2023-06-01"));
    let log = s.envoy.wait_access_log(1);
    assert_eq!(log[0]["provider"], "anthropic");
    assert_eq!(log[0]["upstream_model"], "claude-sonnet-4-5");
    assert_eq!(log[0]["failed_over"], "true");
    assert_eq!(log[0]["attempts"], 2);
    assert_eq!(log[0]["completion_tokens"], ANTHROPIC_OUTPUT_TOKENS.to_string(), "metered in the answering provider's dialect");
}

#[test]
fn connect_failure_fails_over() {
    let s = start(None, Behavior::default(), Behavior::default());
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[], &chat(false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(s.anthropic.request_count(), 1);
}

#[test]
fn rate_limited_primary_is_retried_after_its_retry_after() {
    let s = start(Some(Behavior { status: Some(429), retry_after: Some(1), ..Behavior::default() }), Behavior::default(), Behavior::default());
    let t = Instant::now();
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[], &chat(false)).unwrap();
    let took = t.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(took >= Duration::from_millis(950), "Retry-After: 1 honoured, took {took:?}");
    assert_eq!(s.anthropic.request_count(), 1);
}

#[test]
fn two_failures_reach_gemini() {
    let s = start(Some(failing(500)), failing(529), Behavior::default());
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[], &chat(false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    let seen = s.gemini.last_request().unwrap();
    assert_eq!(seen.path_only(), "/v1beta/models/gemini-2.5-flash:generateContent");
    assert!(seen.json()["contents"].is_array());
}

#[test]
fn retries_are_bounded_and_the_last_error_is_translated() {
    let s = start(Some(failing(503)), failing(503), failing(503));
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[], &chat(false)).unwrap();
    assert_eq!(r.status, 503);
    let v = r.json();
    assert!(v["error"]["message"].is_string(), "OpenAI error shape: {v}");
    let total = s.openai.as_ref().unwrap().request_count() + s.anthropic.request_count() + s.gemini.request_count();
    assert_eq!(total, 3, "num_retries 2: three attempts in all");
}

#[test]
fn stream_fails_over_before_the_first_byte() {
    let s = start(Some(failing(503)), Behavior::default(), Behavior::default());
    let body = chat(true).to_string();
    let r = request_streamed(s.envoy.port, "POST", "/v1/chat/completions", &[("x-mock-chunk-delay-ms", "100")], body.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.complete);
    let (first, last) = (r.first_chunk_after().unwrap(), r.last_chunk_after().unwrap());
    assert!(last - first >= Duration::from_millis(400), "streamed as it arrived: first {first:?}, last {last:?}");
    let events = r.sse_events();
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, ASSISTANT_TEXT);
    assert_eq!(s.anthropic.last_request().unwrap().json()["stream"], true);
}

#[test]
fn stream_cut_after_the_first_byte_is_not_retried() {
    let s = start(Some(Behavior { cut_after_events: Some(2), ..Behavior::default() }), Behavior::default(), Behavior::default());
    let body = chat(true).to_string();
    let r = request_streamed(s.envoy.port, "POST", "/v1/chat/completions", &[], body.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert!(!r.complete, "a cut stream never looks complete");
    assert_eq!(s.anthropic.request_count(), 0, "no failover once bytes reached the client");
}

#[test]
fn anthropic_client_fails_over_to_native_anthropic() {
    let s = start(Some(failing(502)), Behavior::default(), Behavior::default());
    let body = serde_json::json!({"model": "smart", "max_tokens": 64, "messages": [{"role": "user", "content": "Hello"}]});
    let r = post_json(s.envoy.port, "/v1/messages", &[], &body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["type"], "message");
    let first = s.openai.as_ref().unwrap().last_request().unwrap();
    assert_eq!(first.path, "/v1/chat/completions", "first attempt translated to OpenAI");
    let second = s.anthropic.last_request().unwrap();
    assert_eq!((second.path.as_str(), second.json()["model"].as_str()), ("/v1/messages", Some("claude-sonnet-4-5")));
}

/// A Responses client fails over too: the OpenAI attempt goes natively to `/v1/responses`, the
/// Anthropic one is translated per attempt, and its stream comes back as Responses events.
#[test]
fn responses_client_fails_over_to_anthropic_streamed() {
    let s = start(Some(failing(503)), Behavior::default(), Behavior::default());
    let body = serde_json::json!({"model": "smart", "stream": true, "instructions": "Be brief.", "input": "Hello"});
    let r = request_streamed(s.envoy.port, "POST", "/v1/responses", &[("content-type", "application/json")], body.to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let first = s.openai.as_ref().unwrap().last_request().unwrap();
    assert_eq!((first.path.as_str(), first.json()["input"].as_str()), ("/v1/responses", Some("Hello")), "first attempt in the Responses dialect");
    let second = s.anthropic.last_request().unwrap();
    assert_eq!((second.path.as_str(), second.json()["system"].as_str()), ("/v1/messages", Some("Be brief.")));
    let events: Vec<serde_json::Value> = r.sse_events().iter().filter_map(|e| e.json()).collect();
    let text: String = events.iter().filter(|e| e["type"] == "response.output_text.delta").filter_map(|e| e["delta"].as_str()).collect();
    assert_eq!(text, ASSISTANT_TEXT);
    assert_eq!(events.last().map(|e| e["type"].clone()), Some(serde_json::json!("response.completed")));
}
