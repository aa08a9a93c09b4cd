//! Real-Envoy tests of health-, latency- and cost-aware routing (`docs/routing.md`): mock
//! providers with different delays and failure modes behind one route, Envoy with two workers
//! (the breaker's and the strategies' state is shared data, seen by both).

mod support;

use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, Response};
use support::mock_provider::*;

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Envoy (two workers) with providers `a`, `b`, `c` on `ports`, the breaker and the model
/// route `m` given as JSON fragments.
fn gateway(ports: [u16; 3], breaker: &str, route: &str) -> Envoy {
    let config = format!(
        r#"{{"providers": [{{"name": "a", "kind": "openai", "cluster": "a"}}, {{"name": "b", "kind": "openai", "cluster": "b"}}, {{"name": "c", "kind": "openai", "cluster": "c"}}],
            {breaker}
            "pricing": {{"models": {{"m-a": {{"input": 5, "output": 15}}, "m-b": {{"input": 1, "output": 2}}, "m-c": {{"input": 3, "output": 3}}}}}},
            "models": [{route}],
            "auth": {{"mode": "none"}}}}"#
    );
    let clusters = [("a", ports[0]), ("b", ports[1]), ("c", ports[2])];
    Envoy::start_with_workers(&Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml(), 2)
}

const TARGETS: &str = r#""targets": [{"provider": "a", "model": "m-a"}, {"provider": "b", "model": "m-b"}, {"provider": "c", "model": "m-c"}]"#;

fn ask(envoy: &Envoy, body: &Value) -> Response {
    post_json(envoy.port, "/v1/chat/completions", &[], body).unwrap()
}

fn chat() -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "Hello"}]})
}

/// The provider that answered (`x-tollgate-provider`).
fn served(r: &Response) -> String {
    r.header("x-tollgate-provider").unwrap_or("-").to_string()
}

fn stat(envoy: &Envoy, name: &str) -> u64 {
    let body = envoy.admin(&format!("/stats?filter=^{}$", name.replace('.', "\\."))).unwrap_or_default();
    body.lines().find_map(|l| l.split_once(": ").map(|(_, v)| v.trim().parse().unwrap_or(0))).unwrap_or(0)
}

#[test]
fn latency_strategy_moves_traffic_to_the_faster_target() {
    let slow = MockProvider::start_with(Behavior { delay_ms: 300, ..Behavior::default() });
    let fast = MockProvider::start();
    let idle = MockProvider::start();
    let route = r#"{"name": "m", "strategy": "latency", "latency": {"exploration": 0}, "targets": [{"provider": "a", "model": "m-a"}, {"provider": "b", "model": "m-b"}]}"#;
    let envoy = gateway([slow.port(), fast.port(), idle.port()], "", route);
    let mut seen = Vec::new();
    for _ in 0..10 {
        let r = ask(&envoy, &chat());
        assert_eq!(r.status, 200, "{}", r.text());
        seen.push(served(&r));
    }
    // Each untried target gets one sample (the log phase of one request may still be running
    // when the next is planned: one more), then every request goes to the faster one.
    assert!(seen[..3].contains(&"a".to_string()), "{seen:?}");
    assert!(seen[3..].iter().all(|p| p == "b"), "within 3 requests: {seen:?}");
}

#[test]
fn failing_target_is_cooled_probed_and_recovered() {
    let a = MockProvider::start_with(Behavior { status: Some(503), ..Behavior::default() });
    let (b, c) = (MockProvider::start(), MockProvider::start());
    let breaker = r#""breaker": {"failures": 2, "cooldown_seconds": 2},"#;
    let envoy = gateway([a.port(), b.port(), c.port()], breaker, &format!(r#"{{"name": "m", "strategy": "priority", {TARGETS}}}"#));
    for _ in 0..2 {
        let r = ask(&envoy, &chat());
        assert_eq!((r.status, served(&r)), (503, "a".to_string()), "{}", r.text());
    }
    let cooled_at = Instant::now();
    for _ in 0..4 {
        let r = ask(&envoy, &chat());
        assert_eq!((r.status, served(&r)), (200, "b".to_string()), "cooled: skipped");
    }
    assert_eq!(a.request_count(), 2);
    assert_eq!(stat(&envoy, "wasmcustom.tollgate.breaker.provider.a.model.m-a.state"), 1, "open");
    // Prometheus sees the target as labels (the stats_tags in tests/support/envoy.rs and the
    // shipped configs), the form deploy/prometheus's TollgateTargetsCooled reads.
    let prom = envoy.admin("/stats/prometheus").unwrap_or_default();
    assert!(prom.lines().any(|l| l.starts_with("tollgate_breaker_state{") && l.contains(r#"provider="a""#) && l.contains(r#"model="m-a""#) && l.ends_with(" 1")), "{prom}");
    a.set_behavior(Behavior::default());
    std::thread::sleep(Duration::from_millis(2_200).saturating_sub(cooled_at.elapsed()));
    // Half-open: one probe goes to a; its success closes the breaker.
    let r = ask(&envoy, &chat());
    assert_eq!((r.status, served(&r)), (200, "a".to_string()));
    let r = ask(&envoy, &chat());
    assert_eq!(served(&r), "a");
    for (name, want) in [("opened", 1), ("half_opened", 1), ("closed", 1), ("state", 0)] {
        assert_eq!(stat(&envoy, &format!("wasmcustom.tollgate.breaker.provider.a.model.m-a.{name}")), want, "{name}");
    }
}

#[test]
fn retry_after_stops_traffic_on_every_worker_for_that_long() {
    let a = MockProvider::start_with(Behavior { status: Some(429), retry_after: Some(3), ..Behavior::default() });
    let (b, c) = (MockProvider::start(), MockProvider::start());
    // Three failures would be needed without Retry-After: the header alone cools the target.
    let breaker = r#""breaker": {"failures": 3, "cooldown_seconds": 30},"#;
    let envoy = gateway([a.port(), b.port(), c.port()], breaker, &format!(r#"{{"name": "m", "strategy": "priority", {TARGETS}}}"#));
    let r = ask(&envoy, &chat());
    assert_eq!((r.status, served(&r)), (429, "a".to_string()));
    let cooled_at = Instant::now();
    a.set_behavior(Behavior::default());
    // Parallel clients for two seconds: new connections land on both workers.
    let port = envoy.port;
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while cooled_at.elapsed() < Duration::from_millis(2_000) {
                    let r = post_json(port, "/v1/chat/completions", &[], &chat()).unwrap();
                    got.push((r.status, served(&r)));
                }
                got
            })
        })
        .collect();
    let got: Vec<(u16, String)> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(got.len() >= 8, "{}", got.len());
    assert!(got.iter().all(|(s, p)| *s == 200 && p == "b"), "{got:?}");
    assert_eq!(a.request_count(), 1, "nothing reached a during its Retry-After");
    let stats = envoy.admin("/stats?filter=worker_.\\.downstream_cx_total").unwrap_or_default();
    let busy_workers = stats.lines().filter(|l| l.split_once(": ").is_some_and(|(_, v)| v.trim() != "0")).count();
    assert_eq!(busy_workers, 2, "both workers served clients:\n{stats}");
    std::thread::sleep(Duration::from_millis(3_200).saturating_sub(cooled_at.elapsed()));
    let r = ask(&envoy, &chat());
    assert_eq!((r.status, served(&r)), (200, "a".to_string()), "back after Retry-After");
}

#[test]
fn every_target_down_is_still_tried_with_a_clear_error() {
    let (pa, pb, pc) = (closed_port(), closed_port(), closed_port());
    let breaker = r#""breaker": {"failures": 1, "cooldown_seconds": 30},"#;
    let route = r#"{"name": "m", "strategy": "priority", "targets": [{"provider": "a", "model": "m-a"}, {"provider": "b", "model": "m-b"}]}"#;
    let envoy = gateway([pa, pb, pc], breaker, route);
    for _ in 0..4 {
        let r = ask(&envoy, &chat());
        assert_eq!(r.status, 503, "{}", r.text());
        let v = r.json();
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("connect"), "Envoy's reason in OpenAI's error shape: {v}");
        assert!(v["error"]["type"].is_string(), "{v}");
    }
    // Anthropic clients get Anthropic's shape.
    let r = post_json(envoy.port, "/v1/messages", &[], &json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]})).unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["type"], "error", "{}", r.text());
    let opened = |p: &str, m: &str| stat(&envoy, &format!("wasmcustom.tollgate.breaker.provider.{p}.model.{m}.opened"));
    assert!(opened("a", "m-a") >= 1 && opened("b", "m-b") >= 1, "both were tried and cooled");
}

#[test]
fn cost_strategy_picks_the_cheapest_healthy_target() {
    let cheapest = MockProvider::start_with(Behavior { status: Some(500), ..Behavior::default() });
    let (dear, middle) = (MockProvider::start(), MockProvider::start());
    let breaker = r#""breaker": {"failures": 1, "cooldown_seconds": 30},"#;
    // b (1 + 2 per million) is cheapest, then c (3 + 3), then a (5 + 15).
    let envoy = gateway([dear.port(), cheapest.port(), middle.port()], breaker, &format!(r#"{{"name": "m", "strategy": "cost", {TARGETS}}}"#));
    let r = ask(&envoy, &chat());
    assert_eq!((r.status, served(&r)), (500, "b".to_string()));
    for _ in 0..3 {
        let r = ask(&envoy, &chat());
        assert_eq!((r.status, served(&r)), (200, "c".to_string()), "the cheapest healthy");
    }
    assert_eq!(dear.request_count(), 0);
}

#[test]
fn long_prompt_goes_to_the_long_context_target_and_rules_pick_lists() {
    let (small, long, batch) = (MockProvider::start(), MockProvider::start(), MockProvider::start());
    let route = r#"{"name": "m", "strategy": "priority",
        "targets": [{"provider": "a", "model": "m-a", "context_window": 4000}, {"provider": "b", "model": "m-b", "context_window": 200000}],
        "rules": [{"when": {"header": {"name": "x-tier", "value": "batch"}}, "targets": [{"provider": "c", "model": "m-c"}]}]}"#;
    let envoy = gateway([small.port(), long.port(), batch.port()], "", route);
    assert_eq!(served(&ask(&envoy, &chat())), "a");
    let long_prompt = "lorem ipsum dolor sit amet ".repeat(2_000);
    let r = ask(&envoy, &json!({"model": "m", "messages": [{"role": "user", "content": long_prompt}]}));
    assert_eq!((r.status, served(&r)), (200, "b".to_string()), "over a's context window");
    let r = ask(&envoy, &json!({"model": "m", "max_tokens": 8000, "messages": [{"role": "user", "content": "Hi"}]}));
    assert_eq!(served(&r), "b", "the output cap counts too");
    let r = post_json(envoy.port, "/v1/chat/completions", &[("x-tier", "batch")], &chat()).unwrap();
    assert_eq!(served(&r), "c", "the header rule");
    assert_eq!(long.last_request().unwrap().json()["model"], "m-b");
}

/// `envoy/routing.yaml`: Envoy retries a failing replica's request on the other replica (the
/// provider stays up); when the whole provider fails, tollgate's breaker moves `chat` to backup.
#[test]
fn shipped_routing_config_layers_envoy_retries_under_the_breaker() {
    let path = support::envoy::repo().join("envoy/routing.yaml");
    support::envoy::validate(&path).unwrap();
    let replica1 = MockProvider::start_with(Behavior { status: Some(503), ..Behavior::default() });
    let replica2 = MockProvider::start();
    let backup = MockProvider::start();
    let yaml = std::fs::read_to_string(&path)
        .unwrap()
        .replace("port_value: 10000", "port_value: 0")
        .replace("port_value: 9901", "port_value: 0")
        .replace("port_value: 18081", &format!("port_value: {}", replica1.port()))
        .replace("port_value: 18082", &format!("port_value: {}", replica2.port()))
        .replace("port_value: 18083", &format!("port_value: {}", backup.port()));
    let envoy = Envoy::start_with_workers(&yaml, 2);
    let body = json!({"model": "chat", "messages": [{"role": "user", "content": "Hello"}]});
    for _ in 0..4 {
        let r = ask(&envoy, &body);
        assert_eq!((r.status, served(&r)), (200, "self-hosted".to_string()), "Envoy retried on the healthy replica: {}", r.text());
    }
    assert_eq!(backup.request_count(), 0);
    // The whole provider fails: two failed requests cool it, then backup answers.
    replica2.set_behavior(Behavior { status: Some(503), ..Behavior::default() });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = ask(&envoy, &body);
        statuses.push((r.status, served(&r)));
    }
    assert!(statuses[..2].iter().all(|(s, p)| *s == 503 && p == "self-hosted"), "{statuses:?}");
    assert!(statuses[2..].iter().all(|(s, p)| *s == 200 && p == "backup"), "{statuses:?}");
    assert_eq!(backup.last_request().unwrap().json()["model"], "gpt-4o-mini");
}
