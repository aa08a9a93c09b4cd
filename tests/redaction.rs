//! Real-Envoy tests of prompt redaction: what the provider receives holds none of the planted
//! values, pseudonyms come back restored in JSON and SSE answers (1-byte deltas, so every
//! placeholder is split at every byte across events), blocked and uninspectable requests are refused in the client's dialect.

mod support;

use serde_json::{json, Value};
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, request, request_streamed};
use support::mock_provider::*;

const EMAIL: &str = "jane.doe@example.com";
const PHONE: &str = "+1 415 555 0132";
const CARD: &str = "4111 1111 1111 1111";
const SSN: &str = "536-22-1234";
const IBAN: &str = "DE89 3704 0044 0532 0130 00";
const IP: &str = "203.0.113.7";
const GHP: &str = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5";
const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const PLANTED: [&str; 8] = [EMAIL, PHONE, CARD, SSN, IBAN, IP, GHP, JWT];

fn prompt() -> String {
    format!("Email {EMAIL} or call {PHONE} (again: {EMAIL}). Card {CARD}, SSN {SSN}, IBAN {IBAN}, host {IP}, token {GHP}, jwt {JWT}. Codename Blue Heron.")
}

/// What the client should read back: pseudonyms restored, masks kept.
fn restored() -> String {
    format!("Email {EMAIL} or call {PHONE} (again: {EMAIL}). Card [CREDIT_CARD], SSN [US_SSN], IBAN [IBAN], host {IP}, token [GITHUB_TOKEN], jwt [JWT]. Codename [REDACTED].")
}

fn gateway(openai: &MockProvider, anthropic: &MockProvider, redaction: &str) -> Envoy {
    let config = format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}},
                          {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}}],
             "models": [{{"name": "gpt-*", "targets": [{{"provider": "openai"}}]}},
                        {{"name": "claude-*", "targets": [{{"provider": "anthropic"}}]}}],
             "auth": {{"mode": "none"}},
             "redaction": {redaction}}}"#
    );
    let clusters = [("openai", openai.port()), ("anthropic", anthropic.port())];
    Envoy::start(&Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml())
}

fn policy() -> String {
    r#"{"enabled": true, "detectors": {"cloud_key": "block"}, "deny_list": {"action": "mask", "terms": ["blue heron"]}}"#.to_string()
}

fn assert_clean(body: &str) {
    for v in PLANTED {
        assert!(!body.contains(v), "`{v}` reached the provider: {body}");
    }
    assert!(!body.to_ascii_lowercase().contains("blue heron"));
}

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": prompt()}]}]})
}

fn messages(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": stream, "system": format!("Customer: {EMAIL}"), "messages": [{"role": "user", "content": prompt()}]})
}

fn sse_text(body: &str, anthropic: bool) -> (String, usize) {
    let events = support::http_client::parse_sse(body);
    let mut text = String::new();
    let mut n = 0;
    for e in &events {
        let Some(v) = e.json() else { continue };
        let piece = if anthropic { v.pointer("/delta/text") } else { v.pointer("/choices/0/delta/content") };
        if let Some(p) = piece.and_then(Value::as_str) {
            text.push_str(p);
            n += 1;
        }
    }
    (text, n)
}

#[test]
fn openai_json_and_sse_are_redacted_upstream_and_restored_for_the_client() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, &policy());
    let echo = [("x-mock-echo", "1")]; // one byte per SSE delta
    let r = post_json(envoy.port, "/v1/chat/completions", &echo, &chat(false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = openai.last_request().unwrap();
    assert_clean(&sent.body_text());
    let user = sent.json()["messages"][1]["content"][0]["text"].as_str().unwrap().to_string();
    assert!(user.starts_with("Email [EMAIL_1] or call [PHONE_1] (again: [EMAIL_1])"), "{user}");
    assert_eq!(sent.json()["messages"][0]["content"], "Be brief.", "untouched text stays byte-identical");
    assert_eq!(r.json()["choices"][0]["message"]["content"], restored());

    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &echo, chat(true).to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let sent = openai.last_request().unwrap();
    assert_clean(&sent.body_text());
    let (text, deltas) = sse_text(&r.text(), false);
    assert_eq!(text, restored());
    let echoed = sent.json()["messages"][1]["content"][0]["text"].as_str().unwrap().len();
    assert!(deltas >= echoed, "the echo came in 1-byte deltas ({deltas} for {echoed} bytes)");
    assert!(r.text().trim_end().ends_with("data: [DONE]"));

    let log = envoy.wait_access_log(2);
    assert!(log.iter().all(|l| l["redactions"] == "10"), "{log:?}");
    assert!(!envoy.log().contains(EMAIL), "a matched value was logged");
}

#[test]
fn anthropic_json_sse_and_translated_streams_are_restored() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, &policy());
    let echo = [("x-mock-echo", "1")]; // one byte per SSE delta
    let r = post_json(envoy.port, "/v1/messages", &echo, &messages(false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = anthropic.last_request().unwrap();
    assert_clean(&sent.body_text());
    assert_eq!(sent.json()["system"], "Customer: [EMAIL_1]");
    assert_eq!(r.json()["content"][0]["text"], restored());

    let r = request_streamed(envoy.port, "POST", "/v1/messages", &echo, messages(true).to_string().as_bytes()).unwrap();
    assert_clean(&anthropic.last_request().unwrap().body_text());
    assert_eq!(sse_text(&r.text(), true).0, restored());

    // OpenAI client, Anthropic provider: restored after translation, JSON and SSE.
    let mut c = chat(false);
    c["model"] = json!("claude-sonnet-4-5");
    let r = post_json(envoy.port, "/v1/chat/completions", &echo, &c).unwrap();
    assert_clean(&anthropic.last_request().unwrap().body_text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], restored());
    c["stream"] = json!(true);
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &echo, c.to_string().as_bytes()).unwrap();
    assert_eq!(sse_text(&r.text(), false).0, restored());
}

/// The concatenated tool-call arguments of a streamed answer, parsed.
fn sse_tool_arguments(body: &str, anthropic: bool) -> (Value, usize) {
    let mut args = String::new();
    let mut n = 0;
    for e in support::http_client::parse_sse(body) {
        let Some(v) = e.json() else { continue };
        let piece = if anthropic { v.pointer("/delta/partial_json") } else { v.pointer("/choices/0/delta/tool_calls/0/function/arguments") };
        if let Some(p) = piece.and_then(Value::as_str) {
            args.push_str(p);
            n += 1;
        }
    }
    (serde_json::from_str(&args).unwrap_or_else(|e| panic!("arguments `{args}` are not JSON: {e}")), n)
}

#[test]
fn streamed_tool_call_arguments_are_restored() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, &policy());
    let tool = [(H_ECHO_TOOL, "1")]; // the arguments' JSON text one byte per event
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &tool, chat(true).to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_clean(&openai.last_request().unwrap().body_text());
    let (args, pieces) = sse_tool_arguments(&r.text(), false);
    assert_eq!(args, json!({"text": restored()}));
    assert!(pieces > 100, "the arguments came in 1-byte pieces, placeholders split across events ({pieces})");
    assert!(r.text().trim_end().ends_with("data: [DONE]"));

    let r = request_streamed(envoy.port, "POST", "/v1/messages", &tool, messages(true).to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_clean(&anthropic.last_request().unwrap().body_text());
    assert_eq!(sse_tool_arguments(&r.text(), true).0, json!({"text": restored()}));
}

#[test]
fn blocked_secrets_are_refused_in_dialect_without_the_value() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, &policy());
    let key = "AKIAIOSFODNN7EXAMPLE";
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": format!("my key is {key}")}]});
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &body).unwrap();
    assert_eq!(r.status, 400);
    let e = r.json();
    assert_eq!(e["error"]["code"], "content_blocked");
    assert!(e["error"]["message"].as_str().unwrap().contains("cloud_key"));
    assert!(!r.text().contains(key));
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": format!("{key}")}]});
    let r = post_json(envoy.port, "/v1/messages", &[], &body).unwrap();
    assert_eq!((r.status, r.json()["type"].as_str()), (400, Some("error")));
    assert_eq!(openai.request_count() + anthropic.request_count(), 0, "nothing was forwarded");
    envoy.wait_access_log(2);
    let stats = envoy.admin("/stats?filter=redaction").unwrap();
    assert!(stats.contains("tollgate.redaction.detector.cloud_key.action.block.matches: 2"), "{stats}");
    let scrape = envoy.admin("/stats/prometheus").unwrap();
    assert!(scrape.contains(r#"tollgate_redaction_matches{detector="cloud_key",action="block"} 2"#), "{}", scrape.lines().filter(|l| l.contains("redaction")).collect::<Vec<_>>().join("\n"));
    assert!(!envoy.log().contains(key));
}

#[test]
fn a_body_with_nothing_to_redact_goes_upstream_byte_for_byte() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, r#"{"enabled": true, "detectors": {"ipv4": "audit"}}"#);
    // Key order, spacing, escapes and number spellings a re-serialization would change.
    let body = "{ \"temperature\": 1.0e0, \"model\": \"gpt-4o-mini\",\n  \"messages\": [{\"role\": \"user\", \"content\": \"ping 10.0.0.1 \\u00e9\\n\"}] }";
    let r = request(envoy.port, "POST", "/v1/chat/completions", &[("content-type", "application/json")], body.as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(String::from_utf8(openai.last_request().unwrap().body).unwrap(), body);
    // The audit match is counted all the same.
    let stats = envoy.admin("/stats?filter=redaction").unwrap();
    assert!(stats.contains("tollgate.redaction.detector.ipv4.action.audit.matches: 1"), "{stats}");
    // A body with something to replace is rewritten.
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": EMAIL}]})).unwrap();
    assert_eq!(r.status, 200);
    assert!(!String::from_utf8_lossy(&openai.last_request().unwrap().body).contains(EMAIL));
}

#[test]
fn uninspectable_bodies_fail_closed_unless_configured_open() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let big = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": format!("{EMAIL} {}", "x".repeat(2000))}]});
    let envoy = gateway(&openai, &anthropic, r#"{"enabled": true, "max_bytes": 1024}"#);
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &big).unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("content_not_inspectable")));
    let odd = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": {"text": EMAIL}}]});
    assert_eq!(post_json(envoy.port, "/v1/chat/completions", &[], &odd).unwrap().status, 400);
    // A repeated key: the scan would read one copy, a provider may read the other.
    let twice = format!(r#"{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "{EMAIL}", "content": "hi"}}]}}"#);
    let r = request(envoy.port, "POST", "/v1/chat/completions", &[("content-type", "application/json")], twice.as_bytes()).unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("content_not_inspectable")));
    assert!(!r.text().contains(EMAIL));
    assert_eq!(openai.request_count(), 0);
    drop(envoy);
    let envoy = gateway(&openai, &anthropic, r#"{"enabled": true, "max_bytes": 1024, "on_error": "forward"}"#);
    assert_eq!(post_json(envoy.port, "/v1/chat/completions", &[], &big).unwrap().status, 200);
    assert_eq!(openai.request_count(), 1, "fail-open forwards unscanned");
}

#[test]
fn gemini_providers_receive_the_redacted_prompt() {
    let gemini = MockProvider::start();
    let config = r#"{"providers": [{"name": "gemini", "kind": "gemini", "cluster": "gemini"}],
                     "models": [{"name": "gemini-*", "targets": [{"provider": "gemini"}]}],
                     "auth": {"mode": "none"}, "redaction": {"enabled": true, "deny_list": {"action": "mask", "terms": ["blue heron"]}}}"#;
    let envoy = Envoy::start(&Gateway { config, clusters: &[("gemini", gemini.port())], pre_filters: "", env_keys: &[] }.yaml());
    let mut c = chat(false);
    c["model"] = json!("gemini-2.5-flash");
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &c).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = gemini.last_request().unwrap();
    assert!(sent.path_only().ends_with(":generateContent"), "{}", sent.path);
    assert_clean(&sent.body_text());
    assert!(sent.body_text().contains("[EMAIL_1]"));
}

#[test]
fn world_phone_numbers_and_a_context_word_are_masked_in_one_prompt() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, r#"{"enabled": true, "detectors": {"phone": "mask"}, "context": {"phone": ["Durchwahl", "tel"]}}"#);
    // German (trunk 0, slash), French (pairs), Brazilian mobile, US with an extension, and a
    // bare number that only the context word `Durchwahl` makes a phone.
    let numbers = ["030/12345678", "06 12 34 56 78", "(11) 91234-5678", "514.369.5136x74193", "4711234567"];
    let prompt = format!(
        "Bitte Herrn Müller unter {} anrufen; Mme Dubois au {}; a Ana no {}; Bob at {}; Durchwahl: {}. Order 2024-03-15, ref 4155550132.",
        numbers[0], numbers[1], numbers[2], numbers[3], numbers[4]
    );
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]});
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = openai.last_request().unwrap().json()["messages"][0]["content"].as_str().unwrap().to_string();
    assert_eq!(
        sent,
        "Bitte Herrn Müller unter [PHONE] anrufen; Mme Dubois au [PHONE]; a Ana no [PHONE]; Bob at [PHONE]; Durchwahl: [PHONE]. Order 2024-03-15, ref 4155550132."
    );
    let log = envoy.wait_access_log(1);
    assert_eq!(log[0]["redactions"], "5", "{log:?}");
    assert!(!envoy.log().contains("91234-5678"), "a matched value was logged");
}
