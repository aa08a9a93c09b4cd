//! Real-Envoy test of fleet mode on an RLS (`envoy/fleet-ratelimit.yaml`): Envoy's own
//! rate-limit filter checks the tenant at request time (`hits_addend` 0) and charges it, when each
//! stream is done, `hits_addend` = the tokens tollgate metered. The RLS is `tests/support/rls.rs`,
//! which answers as envoyproxy/ratelimit does (per-descriptor `hits_addend`, 0 = check only,
//! OVER_LIMIT when the count is over the limit); two Envoys share it as a fleet would.

mod support;

use std::fs;
use support::envoy::{repo, validate, Envoy};
use support::http_client::{post_json, request_streamed};
use support::mock_provider::*;
use support::rls::Rls;

const KEY: &str = "tg-demo-fleet-key";

fn yaml(mock: u16, rls: u16) -> String {
    let src = fs::read_to_string(repo().join("envoy/fleet-ratelimit.yaml")).unwrap();
    for p in ["port_value: 10000", "port_value: 9901", "port_value: 18080", "port_value: 8081"] {
        assert!(src.contains(p), "{p}");
    }
    src.replace("port_value: 10000", "port_value: 0")
        .replace("port_value: 9901", "port_value: 0")
        .replace("port_value: 18080", &format!("port_value: {mock}"))
        .replace("port_value: 8081", &format!("port_value: {rls}"))
}

#[test]
fn fleet_config_validates() {
    validate(&repo().join("envoy/fleet-ratelimit.yaml")).unwrap();
}

#[test]
fn the_rate_limit_service_is_charged_the_tokens_used() {
    let (mock, rls) = (MockProvider::start(), Rls::start());
    let envoy = Envoy::start(&yaml(mock.port(), rls.port()));
    let auth = format!("Bearer {KEY}");
    let chat = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        let r = post_json(envoy.port, "/v1/chat/completions", &[("authorization", &auth)], &chat).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let stream = serde_json::json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]});
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("authorization", &auth), ("content-type", "application/json")], stream.to_string().as_bytes()).unwrap();
    assert!(r.complete);
    let log = envoy.wait_access_log(3);
    let calls = rls.wait_calls(6);
    assert_eq!(calls.len(), 6, "two calls per request, a check and a charge: {calls:?}\n{}", envoy.log());
    let (checks, charges): (Vec<_>, Vec<_>) = calls.iter().partition(|c| c.descriptors[0].1 == Some(0));
    assert_eq!((checks.len(), charges.len()), (3, 3), "{calls:?}");
    let metered: u64 = log.iter().map(|l| l["total_tokens"].as_str().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(metered, 3 * OPENAI_TOTAL_TOKENS);
    for c in &calls {
        assert_eq!(c.domain, "tollgate");
        assert_eq!(c.hits_addend, 0, "request-level hits_addend is never set: {c:?}");
        assert_eq!(c.descriptors.len(), 1, "{c:?}");
        assert_eq!(c.descriptors[0].0, vec![("tenant".to_string(), "acme".to_string())]);
    }
    let charged: u64 = calls.iter().map(|c| c.hits()).sum();
    assert_eq!(charged, metered, "the RLS is charged exactly the tokens used: {calls:?}");
}

/// Two Envoys, one RLS with a tenant limit of 3 requests' tokens: requests pass while the count is
/// at most the limit, the one whose charge takes it over is the last, then both Envoys refuse
/// with 429 before the provider is called.
#[test]
fn a_tenant_over_its_limit_is_refused_by_every_envoy() {
    let limit = 3 * OPENAI_TOTAL_TOKENS - 1;
    let (mock, rls) = (MockProvider::start(), Rls::with_limits(&[("tenant", limit)]));
    let a = Envoy::start(&yaml(mock.port(), rls.port()));
    let b = Envoy::start(&yaml(mock.port(), rls.port()));
    let auth = format!("Bearer {KEY}");
    let chat = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let mut statuses = Vec::new();
    for i in 0..6 {
        let envoy = if i % 2 == 0 { &a } else { &b };
        let r = post_json(envoy.port, "/v1/chat/completions", &[("authorization", &auth)], &chat).unwrap();
        statuses.push(r.status);
        if r.status == 200 {
            // The charge is sent when the stream is done: wait for it before the next request.
            let n = statuses.iter().filter(|s| **s == 200).count();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while rls.count("tollgate", &[("tenant", "acme")]) < n as u64 * OPENAI_TOTAL_TOKENS && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        } else {
            assert_eq!(r.header("x-envoy-ratelimited"), Some("true"), "{:?}", r.headers);
        }
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429, 429], "\n{}\n{}", a.log(), b.log());
    assert_eq!(mock.request_count(), 3, "refused requests never reach the provider");
    assert_eq!(rls.count("tollgate", &[("tenant", "acme")]), 3 * OPENAI_TOTAL_TOKENS, "checks count nothing");
}

/// Every ```yaml block in docs/limits.md parses; the Limitador limits file names its variable as
/// a string (unquoted, `[descriptors[0].tenant]` is a nested list, and Limitador rejects it).
#[test]
fn the_documented_rls_configs_parse() {
    let doc = fs::read_to_string(repo().join("docs/limits.md")).unwrap();
    let blocks: Vec<String> = doc
        .split("```yaml\n")
        .skip(1)
        .map(|b| {
            let b = b.split("```").next().unwrap();
            let indent = b.len() - b.trim_start_matches(' ').len();
            b.lines().map(|l| l.get(indent.min(l.len())..).unwrap_or(l)).collect::<Vec<_>>().join("\n")
        })
        .collect();
    assert!(blocks.len() >= 3, "{blocks:?}");
    let mut limitador = 0;
    for b in &blocks {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(b).unwrap_or_else(|e| panic!("{e}\n{b}"));
        if let Some(limit) = v.as_sequence().and_then(|s| s.first()).filter(|l| l.get("namespace").is_some()) {
            assert_eq!(limit["variables"][0].as_str(), Some("descriptors[0].tenant"), "{b}");
            limitador += 1;
        }
    }
    assert_eq!(limitador, 1);
}
