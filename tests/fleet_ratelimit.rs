//! Real-Envoy test of fleet mode (`envoy/fleet-ratelimit.yaml`): Envoy's own rate-limit filter
//! calls an RLS v3 gRPC service when each stream is done, charging the tenant's descriptor
//! `hits_addend` = the tokens tollgate metered, so a fleet of Envoys can share token limits.

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
    let calls = rls.wait_calls(3);
    assert_eq!(calls.len(), 3, "one call per request, at stream end only: {calls:?}\n{}", envoy.log());
    let metered: u64 = log.iter().map(|l| l["total_tokens"].as_str().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(metered, 3 * OPENAI_TOTAL_TOKENS);
    for c in &calls {
        assert_eq!(c.domain, "tollgate");
        assert_eq!(c.descriptors.len(), 1, "{c:?}");
        assert_eq!(c.descriptors[0].0, vec![("tenant".to_string(), "acme".to_string())]);
    }
    let charged: u64 = calls.iter().map(|c| c.hits()).sum();
    assert_eq!(charged, metered, "the RLS is charged exactly the tokens used: {calls:?}");
}
