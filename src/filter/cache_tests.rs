//! The cache through the filter over the fake host: hits answered locally in the client's
//! dialect and mode, partitions, controls, and what is never stored.
//! Compiled only in tests: `cache.rs` includes this file under `#[cfg(test)]`.

use crate::config::{parse, Config};
use crate::filter::HttpFilter;
use crate::host::fake::FakeHost;
use crate::keys::Digest;
use crate::limits::MemStore;
use serde_json::Value;
use std::rc::Rc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const OPENAI_JSON: &[u8] = include_bytes!("../../tests/fixtures/openai_chat.json");
const OPENAI_SSE: &[u8] = include_bytes!("../../tests/fixtures/openai_chat_stream.sse");
const ANTHROPIC_JSON: &[u8] = include_bytes!("../../tests/fixtures/anthropic_messages.json");
const ANTHROPIC_SSE: &[u8] = include_bytes!("../../tests/fixtures/anthropic_messages_stream.sse");

fn config(scope: &str) -> Rc<Config> {
    let json = format!(
        r#"{{"providers": [{{"name": "mock", "kind": "openai", "cluster": "c"}}, {{"name": "claude", "kind": "anthropic", "cluster": "a"}}],
            "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "mock"}}], "cache": {{"ttl": 60, "scope": "{scope}"}}}},
                       {{"name": "claude-x", "targets": [{{"provider": "claude"}}], "cache": {{"ttl": 60}}}},
                       {{"name": "plain", "targets": [{{"provider": "mock"}}]}}],
            "keys": [{{"id": "a1", "tenant": "acme", "digests": ["{}"]}}, {{"id": "a2", "tenant": "acme", "digests": ["{}"]}},
                     {{"id": "b1", "tenant": "bolt", "digests": ["{}"]}}]}}"#,
        Digest::of(b"tg-a1"),
        Digest::of(b"tg-a2"),
        Digest::of(b"tg-b1")
    );
    Rc::new(parse(json.as_bytes(), &|_| None).unwrap())
}

struct Run {
    h: FakeHost,
    f: HttpFilter,
}

fn send(c: &Rc<Config>, store: &MemStore, key: &str, path: &str, body: &str, extra: &[(&str, &str)]) -> Run {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let mut h = FakeHost::request("POST", path, &headers, body.as_bytes());
    h.shared = store.clone();
    let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
    f.on_request_headers(&mut h, false);
    let n = h.request_body.len();
    f.on_request_body(&mut h, n, true);
    Run { h, f }
}

impl Run {
    /// The provider answers (`status`, content type, body in chunks of 40), then the log phase.
    fn answer(mut self, status: u16, ct: &str, body: &[u8]) -> FakeHost {
        assert!(self.h.reply.is_none(), "forwarded");
        self.h.response_headers = vec![(":status".into(), status.to_string()), ("content-type".into(), ct.into())];
        self.f.on_response_headers(&mut self.h);
        if ct == "text/event-stream" {
            let chunks: Vec<&[u8]> = body.chunks(40).collect();
            for (i, c) in chunks.iter().enumerate() {
                self.h.response_body = c.to_vec();
                self.f.on_response_body(&mut self.h, c.len(), i + 1 == chunks.len());
            }
        } else {
            self.h.response_body = body.to_vec();
            self.f.on_response_body(&mut self.h, body.len(), true);
        }
        self.f.on_log(&mut self.h);
        self.h
    }

    fn hit(mut self) -> (FakeHost, Value) {
        let reply = self.h.reply.clone().expect("a local reply");
        assert_eq!(reply.0, 200);
        let header = |n: &str| reply.1.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(header("x-tollgate-cache").as_deref(), Some("hit"));
        assert!(header("age").is_some());
        self.f.on_log(&mut self.h);
        let v = serde_json::from_slice(&reply.2).unwrap_or(Value::String(String::from_utf8_lossy(&reply.2).into_owned()));
        (self.h, v)
    }
}

fn response_header(h: &FakeHost, name: &str) -> Option<String> {
    h.response_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

const CHAT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
const CHAT_STREAM: &str = r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES: &str = r#"{"model":"claude-x","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES_STREAM: &str = r#"{"model":"claude-x","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn a_json_answer_is_replayed_as_json_and_as_a_stream() {
    let c = config("tenant");
    let store = MemStore::default();
    let h = send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).answer(200, "application/json", OPENAI_JSON);
    assert_eq!(response_header(&h, "x-tollgate-cache").as_deref(), Some("miss"));
    assert_eq!(h.exported("cache").unwrap(), "miss");
    let (h, v) = send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).hit();
    let want: Value = serde_json::from_slice(OPENAI_JSON).unwrap();
    assert_eq!(v, want, "the provider's answer, as it was");
    assert!(h.metrics.iter().any(|m| m.name == "tollgate.cache.model.gpt-4o-mini.tenant.acme.tokens_saved" && m.value == 59), "{:?}", h.metrics);
    assert!(!h.filter_state.contains_key("tollgate.total_tokens"), "a hit charges no tokens");
    let (_, s) = send(&c, &store, "tg-a2", "/v1/chat/completions", CHAT_STREAM, &[]).hit();
    let text = s.as_str().unwrap();
    assert!(text.starts_with("data: {") && text.ends_with("data: [DONE]\n\n") && !text.contains("\"usage\""), "{text}");
    assert!(text.contains(want["choices"][0]["message"]["content"].as_str().unwrap()));
}

#[test]
fn an_anthropic_stream_is_stored_and_replayed_in_both_modes() {
    let c = config("tenant");
    let store = MemStore::default();
    send(&c, &store, "tg-a1", "/v1/messages", MESSAGES_STREAM, &[]).answer(200, "text/event-stream", ANTHROPIC_SSE);
    let (_, s) = send(&c, &store, "tg-a1", "/v1/messages", MESSAGES_STREAM, &[]).hit();
    let text = s.as_str().unwrap();
    assert!(text.starts_with("event: message_start\n") && text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "{text}");
    let (_, v) = send(&c, &store, "tg-a1", "/v1/messages", MESSAGES, &[]).hit();
    assert_eq!((v["type"].as_str(), v["role"].as_str()), (Some("message"), Some("assistant")), "{v}");
    assert!(v["usage"]["output_tokens"].as_u64().is_some_and(|n| n > 0));
    // A JSON answer from Anthropic serves an Anthropic stream too.
    let store = MemStore::default();
    send(&c, &store, "tg-a1", "/v1/messages", MESSAGES, &[]).answer(200, "application/json", ANTHROPIC_JSON);
    let (_, s) = send(&c, &store, "tg-a1", "/v1/messages", MESSAGES_STREAM, &[]).hit();
    assert!(s.as_str().unwrap().contains("event: content_block_delta"));
}

#[test]
fn partitions_keep_tenants_apart() {
    let store = MemStore::default();
    let c = config("tenant");
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).answer(200, "application/json", OPENAI_JSON);
    let other = send(&c, &store, "tg-b1", "/v1/chat/completions", CHAT, &[]);
    assert!(other.h.reply.is_none(), "tenant bolt never gets acme's answer");
    let c = config("key");
    let store = MemStore::default();
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).answer(200, "application/json", OPENAI_JSON);
    assert!(send(&c, &store, "tg-a2", "/v1/chat/completions", CHAT, &[]).h.reply.is_none(), "scope key: another key of the tenant misses");
    let c = config("global");
    let store = MemStore::default();
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).answer(200, "application/json", OPENAI_JSON);
    send(&c, &store, "tg-b1", "/v1/chat/completions", CHAT, &[]).hit();
}

#[test]
fn errors_cut_streams_and_no_store_are_never_stored() {
    let c = config("tenant");
    let store = MemStore::default();
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).answer(500, "application/json", br#"{"error":{"message":"boom"}}"#);
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT_STREAM, &[]).answer(200, "text/event-stream", &OPENAI_SSE[..OPENAI_SSE.len() - 30]);
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[("cache-control", "no-store")]).answer(200, "application/json", OPENAI_JSON);
    let h = send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[("x-tollgate-cache", "bypass")]).answer(200, "application/json", OPENAI_JSON);
    assert_eq!(response_header(&h, "x-tollgate-cache").as_deref(), Some("bypass"));
    assert!(h.header("x-tollgate-cache").is_none(), "the control header does not go upstream");
    let h = send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).answer(200, "application/json", OPENAI_JSON);
    assert_eq!(response_header(&h, "x-tollgate-cache").as_deref(), Some("miss"), "nothing was stored before");
    // Stored now: `no-cache` does not read it, a plain request does.
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[("cache-control", "no-cache")]).answer(200, "application/json", OPENAI_JSON);
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).hit();
    // A route without a rule says nothing.
    let h = send(&c, &store, "tg-a1", "/v1/chat/completions", r#"{"model":"plain","messages":[]}"#, &[]).answer(200, "application/json", OPENAI_JSON);
    assert!(response_header(&h, "x-tollgate-cache").is_none());
}

#[test]
fn entries_expire_after_their_ttl() {
    let c = config("tenant");
    let store = MemStore::default();
    send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).answer(200, "application/json", OPENAI_JSON);
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-a1")], CHAT.as_bytes());
    h.shared = store.clone();
    h.now_nanos += 61_000_000_000;
    let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
    f.on_request_headers(&mut h, false);
    f.on_request_body(&mut h, CHAT.len(), true);
    assert!(h.reply.is_none(), "expired: forwarded");
}

#[test]
fn a_responses_client_translated_to_anthropic_is_replayed_as_responses_events() {
    let c = config("tenant");
    let store = MemStore::default();
    let req = r#"{"model":"claude-x","max_output_tokens":50,"input":"hi"}"#;
    let req_stream = r#"{"model":"claude-x","max_output_tokens":50,"stream":true,"input":"hi"}"#;
    send(&c, &store, "tg-a1", "/v1/responses", req, &[]).answer(200, "application/json", ANTHROPIC_JSON);
    let (_, v) = send(&c, &store, "tg-a1", "/v1/responses", req, &[]).hit();
    assert_eq!(v["object"], "response", "{v}");
    let (_, s) = send(&c, &store, "tg-a1", "/v1/responses", req_stream, &[]).hit();
    let text = s.as_str().unwrap();
    assert!(text.starts_with("event: response.created") && text.contains("event: response.completed"), "{text}");
}

/// The fleet tier: two Envoys (two local stores) share an answer through the store's commands.
#[test]
fn the_fleet_tier_shares_hits_and_failures_are_misses() {
    let json = r#"{"providers": [{"name": "mock", "kind": "openai", "cluster": "c"}],
        "models": [{"name": "gpt-4o-mini", "targets": [{"provider": "mock"}], "cache": {"ttl": 60}}],
        "auth": {"mode": "none"}, "cache": {"fleet": {"cluster": "webdis", "timeout_ms": 50}}}"#;
    let c = Rc::new(parse(json.as_bytes(), &|_| None).unwrap());
    let start = |store: &MemStore| {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], CHAT.as_bytes());
        h.shared = store.clone();
        let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
        f.on_request_headers(&mut h, false);
        let flow = f.on_request_body(&mut h, CHAT.len(), true);
        assert_eq!(flow, crate::filter::Flow::Pause, "held while the fleet tier is asked");
        assert!(String::from_utf8_lossy(&h.calls[0].1).starts_with("GET/tgcache-"));
        Run { h, f }
    };
    // Envoy one: the fleet has nothing; forwarded, answered, stored locally and in the fleet.
    let mut one = start(&MemStore::default());
    one.f.on_callout(&mut one.h, 1, Some(200), br#"{"GET":null}"#);
    assert!(one.h.resumed && one.h.reply.is_none());
    let h = one.answer(200, "application/json", OPENAI_JSON);
    let (_, set, detached) = h.calls.last().unwrap().clone();
    let set = String::from_utf8(set).unwrap();
    assert!(detached && set.starts_with("SETEX/tgcache-") && set.contains("/60/"), "{set}");
    let value = set.rsplit('/').next().unwrap().to_string();
    // Envoy two: a local miss, a fleet hit, copied into its own store.
    let store2 = MemStore::default();
    let mut two = start(&store2);
    two.f.on_callout(&mut two.h, 1, Some(200), format!(r#"{{"GET":"{value}"}}"#).as_bytes());
    assert!(!two.h.resumed);
    let (_, v) = two.hit();
    assert_eq!(v, serde_json::from_slice::<Value>(OPENAI_JSON).unwrap());
    let three = send(&c, &store2, "-", "/v1/chat/completions", CHAT, &[]);
    assert!(three.h.calls.is_empty(), "now a local hit");
    three.hit();
    // The store down (no answer, or an error): a miss, forwarded.
    let mut four = start(&MemStore::default());
    four.f.on_callout(&mut four.h, 1, None, b"");
    assert!(four.h.resumed && four.h.reply.is_none());
    four.f.on_log(&mut four.h);
    assert_eq!(four.h.exported("cache").unwrap(), "miss");
}

/// The provider's answer is stored with its pseudonyms, and each hit restores its own request's.
#[test]
fn pseudonyms_are_stored_as_sent_and_restored_per_request() {
    let json = r#"{"providers": [{"name": "p", "kind": "openai", "cluster": "c"}],
        "models": [{"name": "m", "targets": [{"provider": "p"}], "cache": {"ttl": 60}}],
        "auth": {"mode": "none"}, "redaction": {"enabled": true}}"#;
    let c = Rc::new(parse(json.as_bytes(), &|_| None).unwrap());
    let store = MemStore::default();
    let body = |who: &str| format!(r#"{{"model":"m","messages":[{{"role":"user","content":"mail {who}"}}]}}"#);
    let answer = br#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Wrote to [EMAIL_1]."},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#;
    let h = send(&c, &store, "-", "/v1/chat/completions", &body("jane@example.com"), &[]).answer(200, "application/json", answer);
    assert!(String::from_utf8_lossy(&h.response_body).contains("jane@example.com"));
    let (_, stored) = {
        let mut s = send(&c, &store, "-", "/v1/chat/completions", &body("jane@example.com"), &[("cache-control", "no-store")]);
        let reply = s.h.reply.clone().unwrap();
        s.f.on_log(&mut s.h);
        (s, reply)
    };
    assert!(String::from_utf8_lossy(&stored.2).contains("Wrote to jane@example.com."), "restored on a hit");
    let (_, v) = send(&c, &store, "-", "/v1/chat/completions", &body("bob@example.org"), &[]).hit();
    assert_eq!(v["choices"][0]["message"]["content"], "Wrote to bob@example.org.", "the same redacted request: its own value restored");
    let stored: Vec<u8> = (0..c.cache.shape.buckets)
        .filter_map(|n| crate::limits::SharedStore::get(&store, &format!("tollgate.cache.{n}")).ok()?.0)
        .flatten()
        .collect();
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("Wrote to [EMAIL_1].") && !stored.contains("jane"), "the store holds the provider's answer");
}

#[test]
fn a_hit_carries_the_limits_headers_and_releases_its_reservation() {
    let json = format!(
        r#"{{"providers": [{{"name": "mock", "kind": "openai", "cluster": "c"}}],
            "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "mock"}}], "cache": {{"ttl": 60}}}}],
            "keys": [{{"id": "a1", "digests": ["{}"]}}],
            "limits": {{"rules": [{{"id": "t", "scope": "key", "kind": "tokens", "window": "day", "limit": 100000}},
                                 {{"id": "c", "scope": "key", "kind": "concurrency", "limit": 4}}]}}}}"#,
        Digest::of(b"tg-a1")
    );
    let c = Rc::new(parse(json.as_bytes(), &|_| None).unwrap());
    let store = MemStore::default();
    let answer = br#"{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#;
    let first = send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]).answer(200, "application/json", answer);
    let remaining = |h: &FakeHost| response_header(h, "x-ratelimit-remaining-tokens").map(|v| v.parse::<u64>().unwrap());
    assert!(remaining(&first).is_some());
    let run = send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[]);
    let reply = run.h.reply.clone().expect("a hit");
    let header = |n: &str| reply.1.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(header("x-tollgate-cache").as_deref(), Some("hit"));
    assert_eq!(header("x-ratelimit-limit-concurrency").as_deref(), Some("4"));
    assert_eq!(header("x-ratelimit-remaining-concurrency").as_deref(), Some("3"));
    run.hit();
    // The hit released what it reserved: a third request (the same reservation as the first's)
    // finds only the first's 10 tokens spent.
    let third = send(&c, &store, "tg-a1", "/v1/chat/completions", CHAT, &[("x-tollgate-cache", "bypass")]).answer(200, "application/json", answer);
    assert_eq!(remaining(&third), remaining(&first).map(|r| r - 10), "the hit kept tokens");
}
