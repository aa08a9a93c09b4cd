//! Real-Envoy tests of usage accounting: exact token figures from JSON and SSE responses reach
//! the access log, streams are never held back, and cut streams still leave an estimated record.

mod support;

use std::time::Duration;
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, request_streamed};
use support::mock_provider::*;

fn gateway(openai: &MockProvider, anthropic: &MockProvider) -> Envoy {
    let config = r#"{"providers": [{"name": "openai", "kind": "openai", "cluster": "openai"},
                                  {"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}],
                     "models": [{"name": "gpt-*", "targets": [{"provider": "openai"}]},
                                {"name": "claude-*", "targets": [{"provider": "anthropic"}]}],
                     "auth": {"mode": "none"},
                     "pricing": {"currency": "USD", "models": {"gpt-*": {"input": 2.50, "output": 10, "cached_input": "1.25"},
                                                               "claude-*": {"input": 3, "output": 15, "cached_input": 0.30, "cache_write_input": 3.75, "cache_write_input_1h": 6}}}}"#;
    let clusters = [("openai", openai.port()), ("anthropic", anthropic.port())];
    Envoy::start(&Gateway { config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml())
}

fn num(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{k} missing in {v}"))
}

fn chat(stream: bool, include_usage: bool) -> Vec<u8> {
    let mut b = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Write a haiku about gateways."}]});
    if stream {
        b["stream"] = true.into();
    }
    if include_usage {
        b["stream_options"] = serde_json::json!({"include_usage": true});
    }
    b.to_string().into_bytes()
}

#[test]
fn json_responses_give_exact_usage_per_dialect() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &serde_json::from_slice(&chat(false, false)).unwrap()).unwrap();
    assert_eq!(r.status, 200);
    let msg = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
    let r = post_json(envoy.port, "/v1/messages", &[], &msg).unwrap();
    assert_eq!(r.status, 200);
    let log = envoy.wait_access_log(2);
    let o = log.iter().find(|l| l["provider"] == "openai").unwrap();
    assert_eq!((num(o, "prompt_tokens"), num(o, "completion_tokens"), num(o, "cached_tokens"), num(o, "reasoning_tokens")), (OPENAI_PROMPT_TOKENS, OPENAI_COMPLETION_TOKENS, OPENAI_CACHED_TOKENS, OPENAI_REASONING_TOKENS));
    assert_eq!(o["usage_estimated"], "false");
    let a = log.iter().find(|l| l["provider"] == "anthropic").unwrap();
    let prompt = ANTHROPIC_INPUT_TOKENS + ANTHROPIC_CACHE_CREATION_INPUT_TOKENS + ANTHROPIC_CACHE_READ_INPUT_TOKENS;
    assert_eq!((num(a, "prompt_tokens"), num(a, "completion_tokens"), num(a, "cached_tokens")), (prompt, ANTHROPIC_OUTPUT_TOKENS, ANTHROPIC_CACHE_READ_INPUT_TOKENS));
    assert_eq!(num(a, "total_tokens"), prompt + ANTHROPIC_OUTPUT_TOKENS);
    // Cost in micro-USD, cached tokens at the cached rate, rounded up once per request:
    // OpenAI (42 - 16) * 2.50 + 16 * 1.25 + 17 * 10 = 255 micros;
    // Anthropic (107 - 64 - 12) * 3 + 64 * 0.30 + 7 * 3.75 (5-minute cache writes)
    // + 5 * 6 (1-hour cache writes) + 19 * 15 = 453.45 → 454 micros.
    assert_eq!(num(o, "cost_micros"), 255);
    assert_eq!(num(a, "cost_micros"), 454);
    let want = "tollgate.model.gpt-_.provider.openai.tenant.-.status.2xx.cost_micros: 255";
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut stats = String::new();
    while !stats.contains(want) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        stats = envoy.admin("/stats?filter=cost_micros").unwrap_or_default();
    }
    assert!(stats.contains(want), "{stats}");
}

#[test]
fn streams_are_not_held_back_and_their_usage_is_exact() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("x-mock-chunk-delay-ms", "150")], &chat(true, true)).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.complete);
    let (first, last) = (r.first_chunk_after().unwrap(), r.last_chunk_after().unwrap());
    assert!(last - first >= Duration::from_millis(600), "the first event reached the client while the provider was still streaming ({first:?} vs {last:?})");
    assert!(r.text().contains("data: [DONE]"));
    let body = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let r = request_streamed(envoy.port, "POST", "/v1/messages", &[], body.to_string().as_bytes()).unwrap();
    assert!(r.text().contains("message_stop"));
    let log = envoy.wait_access_log(2);
    let o = log.iter().find(|l| l["provider"] == "openai").unwrap();
    assert_eq!((num(o, "prompt_tokens"), num(o, "completion_tokens"), o["usage_estimated"].as_str()), (OPENAI_PROMPT_TOKENS, OPENAI_COMPLETION_TOKENS, Some("false")));
    let a = log.iter().find(|l| l["provider"] == "anthropic").unwrap();
    assert_eq!(num(a, "completion_tokens"), ANTHROPIC_OUTPUT_TOKENS, "message_delta usage is cumulative, not added");
    assert_eq!(a["usage_estimated"], "false");
    // The cache writes' lifetimes come from message_start (message_delta repeats only their
    // total): priced as in the JSON answer, 453.45 → 454 micros.
    assert_eq!(num(a, "cost_micros"), 454);
}

#[test]
fn missing_usage_and_cut_streams_are_estimated() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    // A provider that ignores `stream_options.include_usage`.
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("x-mock-no-usage", "1")], &chat(true, false)).unwrap();
    assert!(r.complete);
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("x-mock-cut-after-events", "2")], &chat(true, true)).unwrap();
    assert!(!r.complete, "a cut stream must not look complete to the client");
    let log = envoy.wait_access_log(2);
    assert_eq!(log.len(), 2, "{log:?}");
    for l in &log {
        assert_eq!(l["usage_estimated"], "true", "{l}");
        assert!(num(l, "prompt_tokens") > 0 && num(l, "completion_tokens") > 0, "{l}");
    }
}

#[test]
fn usage_is_requested_for_clients_that_did_not_ask_and_hidden_from_them() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[], &chat(true, false)).unwrap();
    assert!(r.complete);
    let sent = openai.last_request().unwrap().json();
    assert_eq!(sent["stream_options"]["include_usage"], true, "the gateway asked for usage");
    let events = r.sse_events();
    assert_eq!(events.last().unwrap().data, "[DONE]");
    assert!(events.iter().all(|e| !e.data.contains("\"prompt_tokens\"")), "the client did not ask for the usage chunk: {:?}", r.text());
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, ASSISTANT_TEXT);
    let log = envoy.wait_access_log(1);
    assert_eq!((num(&log[0], "prompt_tokens"), num(&log[0], "completion_tokens")), (OPENAI_PROMPT_TOKENS, OPENAI_COMPLETION_TOKENS));
    assert_eq!(log[0]["usage_estimated"], "false", "exact, from the injected usage chunk");

    // A client that asked gets the chunk, unchanged.
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[], &chat(true, true)).unwrap();
    assert!(r.text().contains("\"prompt_tokens\""));
}

#[test]
fn a_client_that_goes_away_still_leaves_a_record() {
    use std::io::{Read, Write};
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let body = chat(true, true);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", envoy.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\nx-mock-chunk-delay-ms: 300\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(n > 0 && String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(s); // cancel mid-stream
    let log = envoy.wait_access_log(1);
    assert_eq!(log[0]["usage_estimated"], "true", "{}", log[0]);
    assert!(num(&log[0], "prompt_tokens") > 0, "{}", log[0]);
}

/// `telemetry` off: the request is still routed and metered for nothing but itself, the access
/// log has no tollgate fields, Envoy has no `tollgate.*` stats, and an unchanged body reaches
/// the provider with the client's `content-length`.
#[test]
fn telemetry_off_routes_without_exports() {
    let openai = MockProvider::start();
    let config = r#"{"providers": [{"name": "openai", "kind": "openai", "cluster": "openai"}],
                     "models": [{"name": "gpt-*", "targets": [{"provider": "openai"}]}],
                     "auth": {"mode": "none"}, "accounting": {"enabled": false}, "response_headers": false,
                     "telemetry": {"filter_state": false, "stats": false}}"#;
    let clusters = [("openai", openai.port())];
    let envoy = Envoy::start(&Gateway { config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml());
    let v: serde_json::Value = serde_json::from_slice(&chat(false, false)).unwrap();
    let body = serde_json::to_vec(&v).unwrap();
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &v).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("x-tollgate-provider").is_none());
    let got = openai.last_request().unwrap();
    assert_eq!(got.body, body, "unchanged body");
    assert_eq!(got.header("content-length"), Some(body.len().to_string().as_str()), "{:?}", got.headers);
    let log = envoy.wait_access_log(1);
    assert!(log[0]["provider"].is_null(), "{}", log[0]);
    assert!(log[0]["prompt_tokens"].is_null(), "{}", log[0]);
    let stats = envoy.admin("/stats?filter=tollgate").unwrap_or_default();
    assert!(!stats.contains("tollgate.model."), "{stats}");
}

/// `telemetry`: by default one record (`wasm.tollgate`) and `total_tokens` alone; `fields: ["*"]`
/// writes every field as its own `wasm.tollgate.<field>`, and `record: false` drops the record.
#[test]
fn telemetry_chooses_the_record_and_the_separate_fields() {
    let openai = MockProvider::start();
    let per_field = [
        "key_id", "tenant", "model", "provider", "upstream_model", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
        "usage_estimated", "cost_micros", "ttft_ms",
    ]
    .map(|f| format!("                  sep_{f}: \"%FILTER_STATE(wasm.tollgate.{f}:PLAIN)%\"\n"))
    .concat();
    let start = |telemetry: &str| {
        let config = format!(
            r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}}],
                "models": [{{"name": "gpt-*", "targets": [{{"provider": "openai"}}]}}],
                "auth": {{"mode": "none"}}, "pricing": {{"currency": "USD", "models": {{"gpt-*": {{"input": 2.50, "output": 10}}}}}},
                "telemetry": {telemetry}}}"#
        );
        let yaml = Gateway { config: &config, clusters: &[("openai", openai.port())], pre_filters: "", env_keys: &[] }.yaml();
        let record_line = "                  tollgate: \"%FILTER_STATE(wasm.tollgate:PLAIN)%\"\n";
        assert!(yaml.contains(record_line));
        let envoy = Envoy::start(&yaml.replace(record_line, &format!("{record_line}{per_field}")));
        let r = post_json(envoy.port, "/v1/chat/completions", &[], &serde_json::from_slice(&chat(false, false)).unwrap()).unwrap();
        assert_eq!(r.status, 200);
        envoy.wait_access_log(1).remove(0)
    };
    let default = start("{}");
    let record: serde_json::Value = serde_json::from_str(default["tollgate"].as_str().expect("the record")).unwrap();
    assert_eq!(record["provider"], "openai");
    assert_eq!(record["prompt_tokens"], OPENAI_PROMPT_TOKENS);
    assert_eq!(record["usage_estimated"], false);
    assert!(record["ttft_ms"].is_u64() && record["cost_micros"].is_u64(), "{record}");
    assert_eq!(num(&default, "total_tokens"), OPENAI_PROMPT_TOKENS + OPENAI_COMPLETION_TOKENS, "total_tokens separately, for hits_addend");
    assert!(default["sep_provider"].is_null() && default["sep_prompt_tokens"].is_null(), "no other separate value: {default}");

    let every = start(r#"{"fields": ["*"], "record": false}"#);
    assert!(every["tollgate"].is_null(), "{every}");
    assert_eq!(every["sep_provider"], "openai");
    assert_eq!(every["sep_upstream_model"], "gpt-4o-mini");
    assert_eq!(num(&every, "sep_prompt_tokens"), OPENAI_PROMPT_TOKENS);
    assert_eq!(every["sep_usage_estimated"], "false");
    assert!(num(&every, "sep_cost_micros") > 0 && every["sep_ttft_ms"].is_string(), "{every}");
}
