//! Real-Envoy tests of the response cache: hits answered without reaching the provider, in JSON
//! and streamed, in the OpenAI and Anthropic dialects; tenants kept apart; errors, cut streams
//! and `no-store` never stored; TTL and the byte budget; the `cache` access-log field.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::envoy::{Envoy, Gateway};
use support::http_client::{request_streamed, Conn};
use support::mock_provider::*;
use support::redis::RedisWebdis;
use tollgate::keys::Digest;

const KEY_A: &str = "tg-acme-1";
const KEY_B: &str = "tg-bolt-1";

fn gateway(openai: &MockProvider, anthropic: &MockProvider, ttl: u64, store: &str) -> Envoy {
    gateway_on(openai, anthropic, ttl, store, None)
}

/// [`gateway`], with a `webdis` cluster on `webdis` when given.
fn gateway_on(openai: &MockProvider, anthropic: &MockProvider, ttl: u64, store: &str, webdis: Option<u16>) -> Envoy {
    let config = format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}},
                          {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}}],
             "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "openai"}}], "cache": {{"ttl": {ttl}, "max_entry_bytes": 4000}}}},
                        {{"name": "claude-x", "targets": [{{"provider": "anthropic"}}], "cache": {{"ttl": {ttl}, "max_entry_bytes": 4000}}}}],
             "keys": [{{"id": "acme-1", "tenant": "acme", "digests": ["{}"]}}, {{"id": "bolt-1", "tenant": "bolt", "digests": ["{}"]}}]
             {store}}}"#,
        Digest::of(KEY_A.as_bytes()),
        Digest::of(KEY_B.as_bytes())
    );
    let mut clusters = vec![("openai", openai.port()), ("anthropic", anthropic.port())];
    clusters.extend(webdis.map(|p| ("webdis", p)));
    Envoy::start(&Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml())
}

fn chat(text: &str, stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": text}]})
}

fn messages(text: &str, stream: bool) -> Value {
    json!({"model": "claude-x", "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

fn auth(key: &str) -> String {
    format!("Bearer {key}")
}

/// One request; the `x-tollgate-cache` header, the status and the body text.
fn send(envoy: &Envoy, key: &str, path: &str, body: &Value, extra: &[(&str, &str)]) -> (String, u16, String) {
    let a = auth(key);
    let mut h = vec![("authorization", a.as_str()), ("content-type", "application/json")];
    h.extend_from_slice(extra);
    let r = request_streamed(envoy.port, "POST", path, &h, body.to_string().as_bytes()).unwrap();
    assert!(r.complete, "a complete answer");
    (r.header("x-tollgate-cache").unwrap_or("").to_string(), r.status, r.text())
}

#[test]
fn hits_skip_the_provider_in_json_and_streamed_in_both_dialects() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, 300, "");
    let (v, s, first) = send(&envoy, KEY_A, "/v1/chat/completions", &chat("haiku", false), &[]);
    assert_eq!((v.as_str(), s), ("miss", 200));
    let (v, s, again) = send(&envoy, KEY_A, "/v1/chat/completions", &chat("haiku", false), &[]);
    assert_eq!((v.as_str(), s), ("hit", 200));
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap(), serde_json::from_str::<Value>(&first).unwrap());
    let (v, _, streamed) = send(&envoy, KEY_A, "/v1/chat/completions", &chat("haiku", true), &[]);
    assert_eq!(v, "hit", "a JSON answer serves a streamed request");
    assert!(streamed.contains(ASSISTANT_TEXT) && streamed.ends_with("data: [DONE]\n\n"), "{streamed}");
    assert_eq!(openai.request_count(), 1, "the provider saw only the first request");

    // Anthropic: stored from a stream, served as a stream and as JSON.
    let (v, _, _) = send(&envoy, KEY_A, "/v1/messages", &messages("hi", true), &[]);
    assert_eq!(v, "miss");
    let (v, _, s) = send(&envoy, KEY_A, "/v1/messages", &messages("hi", true), &[]);
    assert_eq!(v, "hit");
    assert!(s.starts_with("event: message_start") && s.contains("event: message_stop"), "{s}");
    let (v, _, j) = send(&envoy, KEY_A, "/v1/messages", &messages("hi", false), &[]);
    assert_eq!(v, "hit");
    let j: Value = serde_json::from_str(&j).unwrap();
    assert_eq!((j["type"].as_str(), j["content"][0]["text"].as_str()), (Some("message"), Some(ASSISTANT_TEXT)));
    assert_eq!(anthropic.request_count(), 1);

    // The access log and the stats tell hits from misses; a hit charges no tokens.
    let log = envoy.wait_access_log(6);
    let hits: Vec<&Value> = log.iter().filter(|l| l["cache"] == "hit").collect();
    assert_eq!((hits.len(), log.iter().filter(|l| l["cache"] == "miss").count()), (4, 2));
    assert!(hits.iter().all(|l| l["total_tokens"].is_null() || l["total_tokens"] == "-" || l["total_tokens"] == ""), "{hits:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut stats = String::new();
    while !stats.contains("tenant.acme.hits: 4") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        stats = envoy.admin("/stats?filter=tollgate.cache").unwrap_or_default();
    }
    assert!(stats.contains("tollgate.cache.model.gpt-4o-mini.tenant.acme.hits: 2"), "{stats}");
    assert!(stats.contains("tollgate.cache.model.gpt-4o-mini.tenant.acme.tokens_saved:"), "{stats}");
    // In Prometheus, model and tenant are labels (the stats_tags of the shipped configs).
    let prom = envoy.admin("/stats/prometheus").unwrap_or_default();
    assert!(prom.lines().any(|l| l.starts_with("tollgate_cache_hits{") && l.contains(r#"model="gpt-4o-mini""#) && l.contains(r#"tenant="acme""#)), "{prom}");
}

#[test]
fn tenants_never_share_and_failures_are_never_stored() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, 300, "");
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("secret plan", false), &[]).0, "miss");
    assert_eq!(send(&envoy, KEY_B, "/v1/chat/completions", &chat("secret plan", false), &[]).0, "miss", "bolt never gets acme's answer");
    assert_eq!(send(&envoy, KEY_B, "/v1/chat/completions", &chat("secret plan", false), &[]).0, "hit", "bolt's own answer");
    assert_eq!(openai.request_count(), 2);

    // An error, a cut stream and a `no-store` request leave nothing behind.
    let (v, s, _) = send(&envoy, KEY_A, "/v1/chat/completions", &chat("e", false), &[("x-mock-status", "500")]);
    assert_eq!((v.as_str(), s), ("miss", 500));
    let a = auth(KEY_A);
    let cut = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("authorization", &a), ("x-mock-cut-after-events", "2")], chat("e", true).to_string().as_bytes()).unwrap();
    assert!(!cut.complete || !cut.text().contains("[DONE]"));
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("e", false), &[("cache-control", "no-store")]).0, "miss");
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("e", false), &[("x-tollgate-cache", "bypass")]).0, "bypass");
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("e", false), &[]).0, "miss", "nothing was stored before");
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("e", false), &[("cache-control", "no-cache")]).0, "miss");
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("e", false), &[]).0, "hit");
    // A provider that reports no usage: its answer is not stored.
    send(&envoy, KEY_A, "/v1/chat/completions", &chat("u", false), &[("x-mock-no-usage", "1")]);
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("u", false), &[("x-mock-no-usage", "1")]).0, "miss");
}

#[test]
fn ttl_and_the_byte_budget_hold() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, 1, "");
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("t", false), &[]).0, "miss");
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("t", false), &[]).0, "hit");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(send(&envoy, KEY_A, "/v1/chat/completions", &chat("t", false), &[]).0, "miss", "expired after its ttl");
    drop(envoy);

    // One bucket of 8 KiB: a few answers fit, and each new one evicts the oldest.
    let envoy = gateway(&openai, &anthropic, 300, r#", "cache": {"max_bytes": 8192, "buckets": 1}"#);
    for i in 0..30 {
        assert_eq!(send(&envoy, KEY_A, "/v1/messages", &messages(&format!("q{i}"), false), &[]).0, "miss");
    }
    assert_eq!(send(&envoy, KEY_A, "/v1/messages", &messages("q29", false), &[]).0, "hit", "the newest stays");
    assert_eq!(send(&envoy, KEY_A, "/v1/messages", &messages("q0", false), &[]).0, "miss", "the oldest was evicted");
    let stats = envoy.admin("/stats?filter=tollgate.cache.evictions").unwrap_or_default();
    assert!(stats.contains("tollgate.cache.evictions"), "{stats}");
}

#[test]
fn two_envoys_share_hits_through_redis_and_without_redis_requests_are_misses() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let mut redis = RedisWebdis::start();
    let store = r#", "cache": {"fleet": {"cluster": "webdis", "timeout_ms": 500}}"#;
    let one = gateway_on(&openai, &anthropic, 300, store, Some(redis.webdis_port));
    let two = gateway_on(&openai, &anthropic, 300, store, Some(redis.webdis_port));
    assert_eq!(send(&one, KEY_A, "/v1/chat/completions", &chat("fleet", false), &[]).0, "miss");
    // The store is written after the answer (a detached call): wait until it lands.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while redis.keys("tgcache-*").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let keys = redis.keys("tgcache-*");
    assert_eq!(keys.len(), 1, "{}", one.log());
    assert!((250..=300).contains(&redis.ttl(&keys[0])), "the route's ttl");
    let (v, s, body) = send(&two, KEY_A, "/v1/chat/completions", &chat("fleet", true), &[]);
    assert_eq!((v.as_str(), s), ("hit", 200), "the other Envoy's answer, streamed: {body}");
    assert!(body.contains(ASSISTANT_TEXT));
    assert_eq!(openai.request_count(), 1);
    assert_eq!(send(&two, KEY_B, "/v1/chat/completions", &chat("fleet", false), &[]).0, "miss", "tenants stay apart in the fleet too");

    // Redis stopped (webdis answers errors): every request still succeeds, as a miss.
    redis.stop_redis();
    for envoy in [&one, &two] {
        let (v, s, _) = send(envoy, KEY_A, "/v1/chat/completions", &chat("down", false), &[]);
        assert_eq!((v.as_str(), s), ("miss", 200));
    }
    assert_eq!(openai.request_count(), 4);
    // The local tier still serves what each Envoy stored itself.
    assert_eq!(send(&one, KEY_A, "/v1/chat/completions", &chat("down", false), &[]).0, "hit");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// Thousands of distinct ~3 KB answers into a 1 MiB store: Envoy's memory stays flat while the
/// answers stored, unbounded, would add over 12 MB. (The 100,000-entry bound is checked natively
/// over the store: `cache::store::tests::memory_stays_bounded_at_100k_distinct_entries`.)
#[test]
fn envoy_memory_stays_bounded_under_many_distinct_answers() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, 3600, r#", "cache": {"max_bytes": 1048576, "buckets": 64}"#);
    let mut conn = Conn::open(envoy.port).unwrap();
    let a = auth(KEY_A);
    let filler = "x".repeat(3000);
    let mut send_n = |from: usize, to: usize| {
        for i in from..to {
            let body = chat(&format!("{i} {filler}"), false);
            let r = conn.post_json("/v1/chat/completions", &[("authorization", &a), ("x-mock-echo", "64")], &body).unwrap();
            assert_eq!((r.status, r.header("x-tollgate-cache")), (200, Some("miss")));
        }
    };
    send_n(0, 400);
    let before = rss_kib(envoy.pid());
    send_n(400, 4400);
    let after = rss_kib(envoy.pid());
    assert!(before > 0 && after < before + 6 * 1024, "RSS grew from {before} to {after} KiB");
    let stats = envoy.admin("/stats?filter=tollgate.cache.evictions").unwrap_or_default();
    let evicted: u64 = stats.lines().find_map(|l| l.strip_prefix("wasmcustom.tollgate.cache.evictions: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    assert!(evicted > 3000, "{stats}");
    eprintln!("RSS {before} -> {after} KiB over 4000 distinct answers; {evicted} evictions");
}
