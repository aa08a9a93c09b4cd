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
    let log = envoy.log();
    assert!(!log.contains("host call"), "every host call succeeded, the detached settlement included:\n{log}");
}

/// Two Envoys, eight clients each, one tenant: at every admission the reserved estimates fit the
/// limit, so the counted total (the usage, as it is below the estimate) never passes it.
#[test]
fn two_envoys_under_concurrent_load_hold_one_budget() {
    const LIMIT: i64 = 1000;
    let (mock, store) = (MockProvider::start(), RedisWebdis::start());
    let cfg = yaml(mock.port(), store.webdis_port, LIMIT as u64, "closed");
    let envoys = Arc::new([Envoy::start(&cfg), Envoy::start(&cfg)]);
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let envoys = envoys.clone();
            thread::spawn(move || (0..4).map(|_| chat(&envoys[i % 2]).0).collect::<Vec<_>>())
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let ok = statuses.iter().filter(|s| **s == 200).count() as i64;
    let refused = statuses.iter().filter(|s| **s == 429).count() as i64;
    assert_eq!(ok + refused, 64, "only 200 or 429: {statuses:?}\n{}", envoys[0].log());
    let counted = wait_tokens(&store, ok * OPENAI_TOTAL_TOKENS as i64);
    eprintln!("fleet budget {LIMIT}: {ok} admitted, {refused} refused, {counted} tokens counted");
    assert_eq!(counted, ok * OPENAI_TOTAL_TOKENS as i64, "every admitted request settled to its usage");
    assert!(counted <= LIMIT, "the budget holds across the fleet: {counted} > {LIMIT}");
    // Each estimate (~108) fits until the settled usage and in-flight estimates fill the limit.
    assert!(ok >= LIMIT / 120, "{ok} admitted");
    assert_eq!(mock.request_count() as i64, ok, "refused requests never reach the provider");
    assert_eq!(store.get_int("tg:fleet:tenant-inflight:acme"), 0);
}

/// Refunds give the over-reserved estimate back: with room for two estimates only, requests keep
/// being admitted one after another because each settles to its smaller usage.
#[test]
fn refunds_return_the_over_reservation() {
    let (mock, store) = (MockProvider::start(), RedisWebdis::start());
    let envoys = [0, 1].map(|_| Envoy::start(&yaml(mock.port(), store.webdis_port, 250, "closed")));
    // 108 reserved each; 59 kept: 59 + 108 <= 250, 2 * 59 + 108 <= 250, 3 * 59 + 108 > 250.
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(chat(&envoys[i % 2]).0);
        let ok = statuses.iter().filter(|s| **s == 200).count() as i64;
        assert_eq!(wait_tokens(&store, ok * OPENAI_TOTAL_TOKENS as i64), ok * OPENAI_TOTAL_TOKENS as i64);
    }
    assert_eq!(statuses, [200, 200, 200, 429], "without refunds the third would not fit");
}

/// The counter is per calendar minute: a tenant refused at the end of one minute is admitted in
/// the next (the key carries the window's start and expires with it).
#[test]
fn windows_roll() {
    let (mock, store) = (MockProvider::start(), RedisWebdis::start());
    let envoy = Envoy::start(&yaml(mock.port(), store.webdis_port, 150, "closed"));
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // Start early in a minute so the two requests share it.
    if now() % 60 > 56 {
        thread::sleep(Duration::from_secs(61 - now() % 60));
    }
    let minute = now() / 60;
    assert_eq!(chat(&envoy).0, 200);
    wait_tokens(&store, OPENAI_TOTAL_TOKENS as i64);
    let (status, text) = chat(&envoy);
    assert_eq!(status, 429, "59 + 108 > 150: {text}");
    assert!(text.contains("tenant-tpm"), "{text}");
    while now() / 60 == minute {
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(chat(&envoy).0, 200, "a new minute, a new counter");
    assert_eq!(store.keys("tg:fleet:tenant-tpm:acme:*").len(), 2, "one key per minute");
}

/// Redis down: `failure_mode` `open` admits (uncounted), `closed` refuses with 503; when Redis is
/// back (empty: no persistence) both count again.
#[test]
fn a_redis_outage_follows_failure_mode() {
    let (mock, mut store) = (MockProvider::start(), RedisWebdis::start());
    let open = Envoy::start(&yaml(mock.port(), store.webdis_port, 200_000, "open"));
    let closed = Envoy::start(&yaml(mock.port(), store.webdis_port, 200_000, "closed"));
    assert_eq!(chat(&open).0, 200);
    assert_eq!(chat(&closed).0, 200);
    store.stop_redis();
    let t = Instant::now();
    assert_eq!(chat(&open).0, 200, "open: admitted\n{}", open.log());
    let (status, text) = chat(&closed);
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("limits_unavailable"), "{text}");
    assert!(closed.log().contains("fleet limits store unavailable"), "logged (so a quiet log means no failure)");
    assert!(t.elapsed() < Duration::from_secs(2), "each waits at most the call's timeout: {:?}", t.elapsed());
    assert_eq!(mock.request_count(), 3, "the closed Envoy's request never reached the provider");
    store.start_redis();
    assert_eq!(chat(&open).0, 200);
    assert_eq!(chat(&closed).0, 200);
    assert_eq!(wait_tokens(&store, 2 * OPENAI_TOTAL_TOKENS as i64), 2 * OPENAI_TOTAL_TOKENS as i64, "counting again; the outage's traffic is lost");
}

/// The fleet config shown in docs/limits.md compiles (with a price table for its spend rule).
#[test]
fn the_documented_fleet_config_compiles() {
    let doc = fs::read_to_string(repo().join("docs/limits.md")).unwrap();
    let block = doc.split("```json\n").skip(1).filter_map(|b| b.split("```").next()).find(|b| b.contains("\"fleet\"")).unwrap();
    let json = format!(r#"{{"pricing": {{"models": {{"*": {{"input": 1, "output": 1}}}}}}, {block}}}"#);
    let c = tollgate::config::parse(json.as_bytes(), &|_| None).unwrap_or_else(|e| panic!("{e}\n{json}"));
    let fleet = c.limits.fleet.unwrap();
    assert_eq!((fleet.rules.len(), c.limits.rules.len()), (3, 1));
}

/// A fleet concurrency cap of 2: with slow answers, four concurrent requests through two Envoys
/// get two slots; the slots come back when the requests end.
#[test]
fn concurrency_is_capped_across_the_fleet_and_released() {
    let mock = MockProvider::start_with(Behavior { delay_ms: 1500, ..Behavior::default() });
    let store = RedisWebdis::start();
    let cfg = yaml(mock.port(), store.webdis_port, 200_000, "closed").replace(r#""limit": 64"#, r#""limit": 2"#);
    let envoys = Arc::new([Envoy::start(&cfg), Envoy::start(&cfg)]);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let envoys = envoys.clone();
            thread::spawn(move || chat(&envoys[i % 2]))
        })
        .collect();
    let answers: Vec<(u16, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 429, 429], "{answers:?}");
    assert!(answers.iter().any(|a| a.1.contains("concurrency_limit_exceeded")), "{answers:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.get_int("tg:fleet:tenant-inflight:acme") != 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(store.get_int("tg:fleet:tenant-inflight:acme"), 0, "both slots released");
    assert_eq!(chat(&envoys[0]).0, 200);
}
