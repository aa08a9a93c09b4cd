//! Real-Envoy tests of fleet limits on Redis (`envoy/fleet-redis.yaml`): two Envoys charge one
//! tenant through a real `webdis` in front of a real `redis-server`, both started here on
//! loopback. Each request's estimate (~108 tokens: a short prompt plus `max_tokens` 100) is
//! reserved at admission in one atomic `EVAL`, and settled to the 59 tokens the mock provider
//! reports, so the counted total never passes the limit (the usage is below the estimate) and
//! each settlement refunds the difference.

mod support;

use std::fs;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use support::envoy::{repo, validate, Envoy};
use support::http_client::post_json;
use support::mock_provider::*;
use support::redis::RedisWebdis;

const KEY: &str = "tg-demo-fleet-key";

/// The shipped config on test ports, with the tenant's token limit, concurrency limit and failure mode.
fn yaml(mock: u16, webdis: u16, tpm: u64, failure_mode: &str) -> String {
    let src = fs::read_to_string(repo().join("envoy/fleet-redis.yaml")).unwrap();
    for p in ["port_value: 10000", "port_value: 9901", "port_value: 18080", "port_value: 7379", r#""limit": 200000"#, r#""failure_mode": "open""#] {
        assert!(src.contains(p), "{p}");
    }
    src.replace("port_value: 10000", "port_value: 0")
        .replace("port_value: 9901", "port_value: 0")
        .replace("port_value: 18080", &format!("port_value: {mock}"))
        .replace("port_value: 7379", &format!("port_value: {webdis}"))
        .replace(r#""limit": 200000"#, &format!(r#""limit": {tpm}"#))
        .replace(r#""failure_mode": "open""#, &format!(r#""failure_mode": "{failure_mode}""#))
}

fn chat(envoy: &Envoy) -> (u16, String) {
    let body = serde_json::json!({"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
    let auth = format!("Bearer {KEY}");
    match post_json(envoy.port, "/v1/chat/completions", &[("authorization", &auth)], &body) {
        Ok(r) => (r.status, r.text()),
        Err(e) => (0, e.to_string()),
    }
}

/// The tenant's token counter in the current minute (sum over its window keys).
fn tokens(store: &RedisWebdis) -> i64 {
    store.keys("tg:fleet:tenant-tpm:acme:*").iter().map(|k| store.get_int(k)).sum()
}

/// Waits until the counter settles to `want` (settlements are sent as each request ends).
fn wait_tokens(store: &RedisWebdis, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = tokens(store);
        if t == want || Instant::now() > deadline {
            return t;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn fleet_redis_config_validates() {
    validate(&repo().join("envoy/fleet-redis.yaml")).unwrap();
}

#[test]
fn one_request_reserves_then_settles_to_its_usage() {
    let (mock, store) = (MockProvider::start(), RedisWebdis::start());
    let envoy = Envoy::start(&yaml(mock.port(), store.webdis_port, 200_000, "closed"));
    let (status, text) = chat(&envoy);
    assert_eq!(status, 200, "{text}\n{}", envoy.log());
    assert_eq!(wait_tokens(&store, OPENAI_TOTAL_TOKENS as i64), OPENAI_TOTAL_TOKENS as i64, "{}", envoy.log());
    let keys = store.keys("tg:fleet:tenant-tpm:acme:*");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl = store.ttl(&keys[0]);
    assert!((1..=360).contains(&ttl), "the key expires with its minute (plus grace): {ttl}");
    assert_eq!(store.get_int("tg:fleet:tenant-inflight:acme"), 0, "the in-flight slot is released");
}
