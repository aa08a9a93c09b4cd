//! Tests of the filter's steering over the fake host (compiled only in tests).
//! Compiled only in tests: `steering.rs` includes this file under `#[cfg(test)]`.

use super::*;
use crate::config::parse;
use crate::filter::{Flow, HttpFilter};
use crate::host::fake::FakeHost;
use std::rc::Rc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn config(route: &str) -> Rc<Config> {
    let json = format!(
        r#"{{"providers": [{{"name": "a", "kind": "openai", "cluster": "a"}}, {{"name": "b", "kind": "openai", "cluster": "b"}}, {{"name": "c", "kind": "openai", "cluster": "c"}}],
            "breaker": {{"failures": 2, "cooldown_seconds": 10}},
            "pricing": {{"models": {{"m-a": {{"input": 5, "output": 15}}, "m-b": {{"input": 1, "output": 2}}, "m-c": {{"input": 3, "output": 3}}}}}},
            "models": [{{"name": "m", "targets": [{{"provider": "a", "model": "m-a"}}, {{"provider": "b", "model": "m-b"}}, {{"provider": "c", "model": "m-c"}}] {route}}}],
            "auth": {{"mode": "none"}}}}"#
    );
    Rc::new(parse(json.as_bytes(), &|_| None).unwrap())
}

/// One request through the filter on `shared` at `now_ms`, answered with `status` (and
/// `retry_after`); returns the provider it went to.
fn exchange(config: &Rc<Config>, shared: &crate::limits::MemStore, now_ms: u64, status: u16, retry_after: Option<&str>) -> String {
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], br#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#);
    h.shared = shared.clone();
    h.now_nanos = now_ms * 1_000_000;
    let mut f = HttpFilter::new(Some(config.clone()), 1, 0);
    assert_eq!(f.on_request_headers(&mut h, false), Flow::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(&mut h, n, true), Flow::Continue, "{:?}", h.reply);
    let cluster = h.header("x-tollgate-cluster").unwrap_or_default().to_string();
    h.response_headers = vec![(":status".into(), status.to_string()), ("content-type".into(), "application/json".into())];
    if let Some(r) = retry_after {
        h.response_headers.push(("retry-after".into(), r.into()));
    }
    f.on_response_headers(&mut h);
    f.on_log(&mut h);
    cluster
}

#[test]
fn failures_cool_a_target_then_a_probe_recovers_it() {
    let c = config(r#", "strategy": "priority""#);
    let shared = crate::limits::MemStore::default();
    assert_eq!(exchange(&c, &shared, 1_000, 503, None), "a");
    assert_eq!(exchange(&c, &shared, 1_001, 503, None), "a");
    // Cooled: the next goes to b, for the cooldown's length.
    assert_eq!(exchange(&c, &shared, 1_002, 200, None), "b");
    assert_eq!(exchange(&c, &shared, 10_999, 200, None), "b");
    // Half-open: this request probes a, and its success closes the breaker.
    assert_eq!(exchange(&c, &shared, 11_002, 200, None), "a");
    assert_eq!(exchange(&c, &shared, 11_003, 200, None), "a");
}

#[test]
fn retry_after_cools_at_once_and_everything_cooled_is_still_tried() {
    let c = config(r#", "strategy": "priority""#);
    let shared = crate::limits::MemStore::default();
    assert_eq!(exchange(&c, &shared, 1_000, 429, Some("5")), "a");
    assert_eq!(exchange(&c, &shared, 1_001, 429, Some("5")), "b");
    assert_eq!(exchange(&c, &shared, 1_002, 429, Some("5")), "c");
    // All cooled: the least recently failed (a) is tried.
    assert_eq!(exchange(&c, &shared, 1_003, 200, None), "a");
}

#[test]
fn cost_picks_the_cheapest_and_least_busy_settles() {
    let c = config(r#", "strategy": "cost""#);
    let shared = crate::limits::MemStore::default();
    assert_eq!(exchange(&c, &shared, 1, 200, None), "b");
    let c = config(r#", "strategy": "least_busy""#);
    let got: std::collections::BTreeSet<String> = (0..12).map(|i| exchange(&c, &shared, i, 200, None)).collect();
    assert_eq!(got.len(), 3, "idle ties spread");
    for p in ["a", "b", "c"] {
        let (v, _) = crate::limits::SharedStore::get(&shared, &format!("tg:rt:{p}:m-{p}")).unwrap();
        assert_eq!(v.map(|v| Record::decode(&v).in_flight), Some(0), "settled at the end");
    }
}

#[test]
fn latency_samples_move_traffic() {
    let c = config(r#", "strategy": "latency", "latency": {"exploration": 0}"#);
    let shared = crate::limits::MemStore::default();
    let run = |ttft_ms: &dyn Fn(&str) -> u64| {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], br#"{"model": "m", "messages": []}"#);
        h.shared = shared.clone();
        let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
        f.on_request_headers(&mut h, false);
        let n = h.request_body.len();
        f.on_request_body(&mut h, n, true);
        let p = h.header("x-tollgate-cluster").unwrap_or_default().to_string();
        h.response_headers = vec![(":status".into(), "200".into())];
        f.on_response_headers(&mut h);
        h.now_nanos += ttft_ms(&p) * 1_000_000;
        h.response_body = b"{}".to_vec();
        f.on_response_body(&mut h, 2, true);
        f.on_log(&mut h);
        p
    };
    let speed = |p: &str| if p == "c" { 5 } else { 300 };
    let first: Vec<String> = (0..3).map(|_| run(&speed)).collect();
    assert_eq!(first.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "each untried target is sampled once");
    assert!((0..5).all(|_| run(&speed) == "c"));
}

#[test]
fn breaker_stats() {
    let c = config(r#", "strategy": "priority""#);
    let mut h = FakeHost::default();
    record(&mut h, &c, "a", "m-a", Outcome::Failure(Failure::ServerError, None));
    assert!(h.metrics.is_empty());
    record(&mut h, &c, "a", "m-a", Outcome::Failure(Failure::Reset, None));
    let names: Vec<_> = h.metrics.iter().map(|m| (m.name.as_str(), m.value)).collect();
    assert_eq!(names, vec![("tollgate.breaker.provider.a.model.m-a.opened", 1), ("tollgate.breaker.provider.a.model.m-a.state", 1)]);
}

#[test]
fn client_chosen_names_are_not_tracked() {
    let json = r#"{"providers": [{"name": "a", "kind": "openai", "cluster": "a"}, {"name": "b", "kind": "openai", "cluster": "b"}],
        "breaker": {"failures": 1}, "models": [{"name": "g*", "strategy": "priority", "targets": [{"provider": "a"}, {"provider": "b"}]}], "auth": {"mode": "none"}}"#;
    let c = Rc::new(parse(json.as_bytes(), &|_| None).unwrap());
    let shared = crate::limits::MemStore::default();
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], br#"{"model": "g-1", "messages": []}"#);
    h.shared = shared.clone();
    let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
    f.on_request_headers(&mut h, false);
    let n = h.request_body.len();
    f.on_request_body(&mut h, n, true);
    h.response_headers = vec![(":status".into(), "503".into())];
    f.on_response_headers(&mut h);
    f.on_log(&mut h);
    assert!(h.metrics.iter().all(|m| !m.name.contains("breaker")));
    assert_eq!(crate::limits::SharedStore::get(&shared, "tg:rt:a:g-1").unwrap().0, None);
}

#[test]
fn the_upstream_role_records_each_failover_attempt() {
    let json = r#"{"role": "upstream", "providers": [{"name": "a", "kind": "openai", "cluster": "a"}, {"name": "b", "kind": "openai", "cluster": "b"}],
        "breaker": {"failures": 1}, "models": [{"name": "m", "targets": [{"provider": "a", "model": "m-a"}], "fallbacks": [{"provider": "b", "model": "m-b"}], "failover_cluster": "agg"}],
        "auth": {"mode": "none"}}"#;
    let c = Rc::new(parse(json.as_bytes(), &|_| None).unwrap());
    let handoff = crate::gateway::Handoff::new("/v1/chat/completions", "gw", [("a", "m-a"), ("b", "m-b")].into_iter());
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], br#"{"model": "m", "messages": []}"#);
    h.properties.insert(crate::filter::upstream::PROVIDER_METADATA.join("/"), vec!["a".into()]);
    h.properties.insert(crate::filter::upstream::HANDOFF_PROPERTY.join("/"), vec![handoff.encode()]);
    h.now_nanos = 5_000_000_000;
    let mut u = crate::filter::UpstreamFilter::new(Some(c), 2);
    u.on_request_headers(&mut h, false);
    h.response_headers = vec![(":status".into(), "503".into())];
    u.on_response_headers(&mut h);
    let (v, _) = crate::limits::SharedStore::get(&h.shared, "tg:rt:a:m-a").unwrap();
    let health = Record::decode(&v.unwrap()).health;
    assert_eq!(health.state(5_000), State::Open);
}
