//! Bedrock responses through the whole filter over the fake host: ConverseStream and
//! InvokeModelWithResponseStream event-stream frames reach a chat client as its own SSE, with
//! their usage metered; compiled only in tests (included from `signing.rs`).
//! Compiled only in tests: `signing.rs` includes this file under `#[cfg(test)]`.

use crate::config::parse;
use crate::eventstream::decoder::encode;
use crate::filter::{Flow, HttpFilter};
use crate::host::fake::FakeHost;
use std::rc::Rc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A planned request whose response is an event stream.
fn filter(path: &str, body: &str) -> (HttpFilter, FakeHost) {
    let (mut f, mut h) = planned(path, body);
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/vnd.amazon.eventstream".into())];
    f.on_response_headers(&mut h);
    (f, h)
}

/// A planned request, before its response.
fn planned(path: &str, body: &str) -> (HttpFilter, FakeHost) {
    let json = br#"{"auth": {"mode": "none"}, "providers": [{"name": "b", "kind": "bedrock", "cluster": "bedrock", "region": "us-east-1", "credentials": "envoy"}],
        "models": [{"name": "nova", "targets": [{"provider": "b", "model": "amazon.nova-pro-v1:0"}]},
                   {"name": "claude", "targets": [{"provider": "b", "model": "anthropic.claude-3-haiku-20240307-v1:0"}]}]}"#;
    let config = Rc::new(parse(json, &|_| None).unwrap());
    let mut h = FakeHost::request("POST", path, &[], body.as_bytes());
    let mut f = HttpFilter::new(Some(config), 1, 0);
    f.on_request_headers(&mut h, false);
    let size = h.request_body.len();
    assert_eq!(f.on_request_body(&mut h, size, true), Flow::Continue, "{:?}", h.reply);
    (f, h)
}

/// Feeds `stream` in `step`-byte chunks; returns what the client received.
fn respond(f: &mut HttpFilter, h: &mut FakeHost, stream: &[u8], step: usize) -> String {
    let mut out = Vec::new();
    let parts: Vec<&[u8]> = stream.chunks(step).collect();
    for (i, part) in parts.iter().enumerate() {
        h.response_body = part.to_vec();
        f.on_response_body(h, part.len(), i + 1 == parts.len());
        out.extend(&h.response_body);
    }
    f.on_log(h);
    String::from_utf8(out).unwrap()
}

fn event(kind: &str, payload: &str) -> Vec<u8> {
    encode(&[(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")], payload.as_bytes())
}

#[test]
fn converse_stream_reaches_a_chat_client() {
    let mut s = event("messageStart", r#"{"role":"assistant"}"#);
    s.extend(event("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"Hello"}}"#));
    s.extend(event("contentBlockStop", r#"{"contentBlockIndex":0}"#));
    s.extend(event("messageStop", r#"{"stopReason":"end_turn"}"#));
    s.extend(event("metadata", r#"{"usage":{"inputTokens":11,"outputTokens":2,"totalTokens":13},"metrics":{"latencyMs":9}}"#));
    for step in [1, 7, s.len()] {
        let (mut f, mut h) = filter("/v1/chat/completions", r#"{"model": "nova", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}"#);
        assert_eq!(h.header(":path"), Some("/model/amazon.nova-pro-v1%3A0/converse-stream"));
        assert_eq!(h.response_headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str()), Some("text/event-stream"));
        let text = respond(&mut f, &mut h, &s, step);
        assert!(text.contains(r#""content":"Hello""#) && text.ends_with("data: [DONE]\n\n"), "{text}");
        f.on_log(&mut h);
        assert_eq!((h.exported("prompt_tokens").as_deref(), h.exported("completion_tokens").as_deref()), (Some("11"), Some("2")));
    }
}

#[test]
fn invoke_model_stream_reaches_messages_and_chat_clients() {
    let chunk = |e: &str| event("chunk", &format!(r#"{{"bytes":"{}"}}"#, crate::crypto::base64(e.as_bytes())));
    let mut s = chunk(r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":5,"output_tokens":1}}}"#);
    s.extend(chunk(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#));
    s.extend(chunk(r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}"#));
    s.extend(chunk(r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":5}}"#));
    let (mut f, mut h) = filter("/v1/messages", r#"{"model": "claude", "max_tokens": 9, "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#);
    let text = respond(&mut f, &mut h, &s, 5);
    assert!(text.starts_with("event: message_start\ndata: {"), "{text}");
    assert!(text.contains("event: message_stop\n"), "{text}");
    f.on_log(&mut h);
    assert_eq!(h.exported("completion_tokens").as_deref(), Some("4"));
    let (mut f, mut h) = filter("/v1/chat/completions", r#"{"model": "claude", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#);
    let text = respond(&mut f, &mut h, &s, 3);
    assert!(text.contains(r#""content":"Hi""#) && text.ends_with("data: [DONE]\n\n"), "{text}");
    // A throttling exception mid-stream becomes the client's error.
    let mut s = chunk(r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":5}}}"#);
    s.extend(encode(&[(":exception-type", "throttlingException"), (":message-type", "exception")], br#"{"message":"Too many tokens"}"#));
    let (mut f, mut h) = filter("/v1/chat/completions", r#"{"model": "claude", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#);
    let text = respond(&mut f, &mut h, &s, 4);
    assert!(text.contains("Too many tokens") && text.contains(r#""error""#), "{text}");
}

#[test]
fn responses_clients_reach_converse_and_get_a_response_back() {
    let (mut f, mut h) = planned("/v1/responses", r#"{"model": "nova", "input": "hi", "max_output_tokens": 20}"#);
    assert_eq!(h.header(":path"), Some("/model/amazon.nova-pro-v1%3A0/converse"));
    let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert_eq!((sent["messages"][0]["content"][0]["text"].as_str(), sent["inferenceConfig"]["maxTokens"].as_u64()), (Some("hi"), Some(20)));
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
    f.on_response_headers(&mut h);
    let answer = br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hello"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4}}"#;
    h.response_body = answer.to_vec();
    f.on_response_body(&mut h, answer.len(), true);
    let v: serde_json::Value = serde_json::from_slice(&h.response_body).unwrap();
    assert_eq!((v["object"].as_str(), v["output"][0]["content"][0]["text"].as_str()), (Some("response"), Some("Hello")));
    f.on_log(&mut h);
    assert_eq!(h.exported("prompt_tokens").as_deref(), Some("3"));
}

#[test]
fn bedrock_errors_reach_a_native_messages_client_in_its_shape() {
    let (mut f, mut h) = planned("/v1/messages", r#"{"model": "claude", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}"#);
    h.response_headers = vec![(":status".into(), "429".into()), ("content-type".into(), "application/json".into()), ("x-amzn-errortype".into(), "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/".into())];
    f.on_response_headers(&mut h);
    let body = br#"{"message":"Too many requests, please wait before trying again."}"#;
    h.response_body = body.to_vec();
    f.on_response_body(&mut h, body.len(), true);
    let v: serde_json::Value = serde_json::from_slice(&h.response_body).unwrap();
    assert_eq!(v, serde_json::json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Too many requests, please wait before trying again."}}));
}
