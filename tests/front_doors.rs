//! Real-Envoy tests of the agent-era front doors beyond what the SDK tests show: accounting of
//! Responses (native and translated, JSON and streams), early-ended streams that end in
//! `response.failed`, the lenient policy's `x-tollgate-dropped` and strict refusals, fields that
//! need OpenAI's storage, redaction of `input` with pseudonyms restored in the output deltas,
//! `count_tokens` (forwarded with `?beta=true`, or estimated), legacy completions, and the
//! Anthropic-shaped model list.

mod support;

use serde_json::{json, Value};
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, request, request_streamed};
use support::mock_provider::*;

fn gateway(openai: &MockProvider, anthropic: &MockProvider, extra: &str) -> Envoy {
    let config = format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}},
                           {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}}],
             "models": [{{"name": "gpt-4o", "targets": [{{"provider": "openai"}}]}},
                        {{"name": "claude-sonnet-4-5", "targets": [{{"provider": "anthropic"}}]}}],
             "auth": {{"mode": "none"}}{extra}}}"#
    );
    let clusters = [("openai", openai.port()), ("anthropic", anthropic.port())];
    Envoy::start(&Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml())
}

fn num(v: &Value, k: &str) -> u64 {
    v[k].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{k} missing in {v}"))
}

fn responses(model: &str, stream: bool) -> Vec<u8> {
    json!({"model": model, "input": "Hello", "stream": stream}).to_string().into_bytes()
}

fn event_types(body: &str) -> Vec<String> {
    support::http_client::parse_sse(body).iter().filter_map(|e| serde_json::from_str::<Value>(&e.data).ok()).filter_map(|v| v["type"].as_str().map(str::to_string)).collect()
}

#[test]
fn responses_usage_reaches_the_access_log_native_and_translated() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, "");
    let ct = [("content-type", "application/json")];
    for (model, stream) in [("gpt-4o", false), ("gpt-4o", true), ("claude-sonnet-4-5", false), ("claude-sonnet-4-5", true)] {
        let r = request_streamed(envoy.port, "POST", "/v1/responses", &ct, &responses(model, stream)).unwrap();
        assert_eq!(r.status, 200, "{model} {stream}: {}", r.text());
        if stream {
            assert_eq!(event_types(&r.text()).last().map(String::as_str), Some("response.completed"), "{model}");
        } else {
            assert_eq!(serde_json::from_str::<Value>(&r.text()).unwrap()["object"], "response");
        }
    }
    let log = envoy.wait_access_log(4);
    for l in log.iter().filter(|l| l["provider"] == "openai") {
        assert_eq!((num(l, "prompt_tokens"), num(l, "completion_tokens"), num(l, "cached_tokens"), num(l, "reasoning_tokens")), (RESPONSES_INPUT_TOKENS, RESPONSES_OUTPUT_TOKENS, RESPONSES_CACHED_TOKENS, RESPONSES_REASONING_TOKENS), "{l}");
        assert_eq!(l["usage_estimated"], "false");
    }
    for l in log.iter().filter(|l| l["provider"] == "anthropic") {
        assert_eq!(num(l, "completion_tokens"), ANTHROPIC_OUTPUT_TOKENS, "{l}");
        assert_eq!(l["usage_estimated"], "false");
    }
    assert_eq!(log.len(), 4);
}

#[test]
fn a_provider_that_stops_early_gives_response_failed() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, "");
    let h = [("content-type", "application/json"), (H_END_AFTER_EVENTS, "4")];
    for model in ["gpt-4o", "claude-sonnet-4-5"] {
        let r = request_streamed(envoy.port, "POST", "/v1/responses", &h, &responses(model, true)).unwrap();
        let types = event_types(&r.text());
        assert_eq!(types.last().map(String::as_str), Some("response.failed"), "{model}: {types:?}");
        assert!(!types.iter().any(|t| t == "response.completed"), "{model}: {types:?}");
    }
}

#[test]
fn lenient_drops_are_named_and_strict_refuses() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let body = json!({"model": "claude-sonnet-4-5", "input": "Hi", "store": true, "tools": [{"type": "web_search"}, {"type": "function", "name": "f", "parameters": {"type": "object"}}]});
    let envoy = gateway(&openai, &anthropic, "");
    let r = post_json(envoy.port, "/v1/responses", &[], &body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-tollgate-dropped"), Some("tools,store"));
    assert_eq!(anthropic.last_request().unwrap().json()["tools"].as_array().map(Vec::len), Some(1));
    let stats = envoy.admin("/stats?filter=translation").unwrap();
    assert!(stats.contains("tollgate.translation.dropped.field.tools.requests: 1"), "{stats}");
    // State only OpenAI stores: a 400 naming the field, whatever the policy.
    let r = post_json(envoy.port, "/v1/responses", &[], &json!({"model": "claude-sonnet-4-5", "input": "Hi", "previous_response_id": "resp_1"})).unwrap();
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("previous_response_id")), "{}", r.text());
    // ... which OpenAI itself serves natively.
    let r = post_json(envoy.port, "/v1/responses", &[], &json!({"model": "gpt-4o", "input": "Hi", "previous_response_id": "resp_1"})).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(openai.last_request().unwrap().json()["previous_response_id"], "resp_1");
    drop(envoy);
    let envoy = gateway(&openai, &anthropic, r#", "translation": {"strict": true}"#);
    let r = post_json(envoy.port, "/v1/responses", &[], &body).unwrap();
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("tools")), "{}", r.text());
    // An Anthropic client's thinking, refused by name only in strict mode.
    let msg = json!({"model": "gpt-4o", "max_tokens": 100, "top_k": 3, "messages": [{"role": "user", "content": "Hi"}]});
    let r = post_json(envoy.port, "/v1/messages", &[], &msg).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-tollgate-dropped"), Some("top_k"));
}

#[test]
fn responses_input_is_redacted_and_deltas_restored() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, r#", "redaction": {"enabled": true, "detectors": {"email": "pseudonymize"}}"#);
    const EMAIL: &str = "jane.doe@example.com";
    let body = json!({"model": "claude-sonnet-4-5", "stream": true, "instructions": format!("Reply to {EMAIL}."),
        "input": [{"role": "user", "content": [{"type": "input_text", "text": format!("Write to {EMAIL} today")}]}]});
    let h = [("content-type", "application/json"), (H_ECHO, "1")];
    let r = request_streamed(envoy.port, "POST", "/v1/responses", &h, body.to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let seen = anthropic.last_request().unwrap().body_text();
    assert!(!seen.contains(EMAIL) && seen.contains("[EMAIL_1]"), "{seen}");
    let events: Vec<Value> = support::http_client::parse_sse(&r.text()).iter().filter_map(|e| serde_json::from_str(&e.data).ok()).collect();
    let text: String = events.iter().filter(|e| e["type"] == "response.output_text.delta").filter_map(|e| e["delta"].as_str()).collect();
    assert_eq!(text, format!("Write to {EMAIL} today"));
    let done = events.iter().find(|e| e["type"] == "response.completed").unwrap();
    assert_eq!(done["response"]["output"][0]["content"][0]["text"], format!("Write to {EMAIL} today"));
}

#[test]
fn count_tokens_completions_and_the_anthropic_model_list() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, "");
    let count = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hello there"}]});
    let beta = [("anthropic-version", "2023-06-01"), ("anthropic-beta", "token-counting-2024-11-01")];
    let r = post_json(envoy.port, "/v1/messages/count_tokens?beta=true", &beta, &count).unwrap();
    assert_eq!((r.status, r.json()["input_tokens"].as_u64()), (200, Some(COUNT_TOKENS)), "{}", r.text());
    let seen = anthropic.last_request().unwrap();
    assert_eq!((seen.path.as_str(), seen.header("anthropic-beta")), ("/v1/messages/count_tokens?beta=true", Some("token-counting-2024-11-01")));
    // Another provider kind: the gateway's estimate, marked.
    let mut other = count.clone();
    other["model"] = json!("gpt-4o");
    let r = post_json(envoy.port, "/v1/messages/count_tokens", &beta, &other).unwrap();
    assert_eq!((r.status, r.header("x-tollgate-estimated"), r.json()["estimated"].as_bool()), (200, Some("true"), Some(true)));
    assert!(r.json()["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(openai.request_count(), 0);
    // Legacy completions go to OpenAI-kind providers only.
    let r = post_json(envoy.port, "/v1/completions", &[], &json!({"model": "gpt-4o", "prompt": "Say hi"})).unwrap();
    assert_eq!((r.status, r.json()["object"].as_str()), (200, Some("text_completion")));
    assert_eq!(openai.last_request().unwrap().path, "/v1/completions");
    let r = post_json(envoy.port, "/v1/completions", &[], &json!({"model": "claude-sonnet-4-5", "prompt": "Say hi"})).unwrap();
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("model")));
    let log = envoy.wait_access_log(4);
    assert!(log.iter().any(|l| l["provider"] == "openai" && num(l, "prompt_tokens") == OPENAI_PROMPT_TOKENS), "{log:?}");
    // The model list in the shape of the client that asks.
    let r = request(envoy.port, "GET", "/v1/models", &[("anthropic-version", "2023-06-01")], b"").unwrap();
    let v = r.json();
    assert_eq!((v["data"][0]["type"].as_str(), v["has_more"].as_bool()), (Some("model"), Some(false)), "{v}");
    let r = request(envoy.port, "GET", "/v1/models", &[], b"").unwrap();
    assert_eq!(r.json()["object"], "list");
}
