//! The shipped dashboard and alerting rules against real traffic: a real Envoy runs tollgate
//! through a scenario that makes it emit every metric the Grafana dashboard
//! (deploy/grafana/tollgate-dashboard.json) queries; a real Prometheus scrapes Envoy's
//! `/stats/prometheus` with the rules of deploy/prometheus/tollgate-rules.yml. Every panel query
//! returns data, every metric it names is one tollgate emits, and an alert fires.

mod support;

use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::envoy::{repo, Envoy, Gateway};
use support::hook_server::{HookServer, Reply};
use support::http_client::{post_json, Response};
use support::mock_provider::*;
use support::prometheus::Prometheus;
use tollgate::keys::Digest;

fn config() -> String {
    let keys: Vec<String> = [("user", "acme"), ("limited", "beta"), ("hooked", "gamma"), ("spiky", "delta")]
        .iter()
        .map(|(id, t)| format!(r#"{{"id": "{id}", "tenant": "{t}", "digests": ["{}"]}}"#, Digest::of(format!("sk-{id}").as_bytes())))
        .collect();
    format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}}],
            "models": [{{"name": "gpt-*", "targets": [{{"provider": "openai"}}]}}],
            "keys": [{}],
            "pricing": {{"models": {{"*": {{"input": 1000, "output": 2000}}}}}},
            "limits": {{"rules": [
              {{"id": "tpd", "scope": "tenant", "subjects": ["acme"], "kind": "tokens", "window": "day", "limit": 10000, "alerts": [0.005, 0.01]}},
              {{"id": "tiny", "scope": "key", "subjects": ["limited"], "kind": "tokens", "window": "day", "limit": 1}}]}},
            "alerts": {{"webhook": {{"cluster": "hooks", "max_attempts": 2, "backoff_ms": 50}},
              "anomalies": [{{"id": "spike", "scope": "key", "subjects": ["spiky"], "kind": "requests", "window_seconds": 2, "factor": 1, "floor": 0, "min_windows": 1, "action": "block"}}]}},
            "policy_hooks": [{{"id": "gate", "stage": "pre", "cluster": "hooks", "path": "/policy", "keys": ["hooked"]}}]}}"#,
        keys.join(",")
    )
}

fn chat(port: u16, key: &str, extra: &[(&str, &str)]) -> Response {
    let auth = format!("Bearer sk-{key}");
    let mut h = vec![("authorization", auth.as_str())];
    h.extend_from_slice(extra);
    post_json(port, "/v1/chat/completions", &h, &json!({"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]})).unwrap()
}

/// Sleeps until 50 ms into the next 2-second window (the anomaly rule's).
fn next_window() {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    std::thread::sleep(Duration::from_millis(2000 - ms % 2000 + 50));
}

/// The `tollgate_*` metric names an expression names (histogram series suffixes dropped), and
/// its `__name__=~"..."` patterns.
fn metrics_of(expr: &str) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    let mut patterns = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("tollgate_") {
        let start = i + at;
        let end = start + expr[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expr.len() - start);
        let before = if start == 0 { b' ' } else { bytes[start - 1] };
        if before != b'"' && before != b':' {
            names.push(expr[start..end].trim_end_matches("_bucket").to_string());
        }
        i = end;
    }
    let mut rest = expr;
    while let Some(at) = rest.find("__name__=~\"") {
        let tail = &rest[at + 11..];
        let end = tail.find('"').unwrap();
        patterns.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    (names, patterns)
}

#[test]
fn every_panel_returns_data_every_metric_is_emitted_and_an_alert_fires() {
    let mock = MockProvider::start();
    // Alert webhooks: the 0.01 threshold's delivery always fails (retried, then dropped);
    // policy calls are denied.
    let hooks = HookServer::start(|r| {
        if r.path == "/policy" {
            return Reply::ok(r#"{"action": "deny", "message": "no"}"#);
        }
        if r.json()["data"]["threshold"] == 0.01 {
            Reply { status: 503, body: "{}".into(), delay: Duration::ZERO }
        } else {
            Reply::ok("{}")
        }
    });
    let clusters = [("openai", mock.port()), ("hooks", hooks.port)];
    let c = config();
    let yaml = Gateway { config: &c, clusters: &clusters, pre_filters: "", env_keys: &["TOLLGATE_WEBHOOK_SECRET"] }.yaml();
    let envoy = Envoy::start_with_env_and_workers(&yaml, &[("TOLLGATE_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")], 1);
    let prom = Prometheus::start(envoy.admin_port, &["deploy/prometheus/tollgate-rules.yml"]);
    let port = envoy.port;

    // The first budget threshold: the counter appears at 1; Prometheus must see it before it grows.
    assert_eq!(chat(port, "user", &[]).status, 200);
    assert!(!prom.wait_for("tollgate_alerts_budget_fired == 1", Duration::from_secs(20)).is_empty(), "Prometheus scrapes the first alert");
    assert_eq!(chat(port, "user", &[]).status, 200); // the second threshold
    assert_eq!(chat(port, "user", &[(H_STATUS, "503")]).status, 503);
    assert_eq!(chat(port, "limited", &[]).status, 429);
    assert_eq!(chat(port, "hooked", &[]).status, 403);
    // The anomaly rule: born, learn one request, then the second request of a window fires and the third is refused.
    next_window();
    chat(port, "spiky", &[]);
    next_window();
    chat(port, "spiky", &[]);
    next_window();
    chat(port, "spiky", &[]);
    chat(port, "spiky", &[]);
    let r = chat(port, "spiky", &[]);
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (429, Some("anomaly_detected")));

    // Every metric the dashboard names is one tollgate emits (in Envoy's own scrape).
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(repo().join("deploy/grafana/tollgate-dashboard.json")).unwrap()).unwrap();
    let exprs: Vec<String> = dashboard["panels"].as_array().unwrap().iter().flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_string())).collect();
    assert!(exprs.len() >= 10);
    let deadline = Instant::now() + Duration::from_secs(15);
    let scrape = loop {
        let s = envoy.admin("/stats/prometheus").unwrap_or_default();
        let all = exprs.iter().flat_map(|e| metrics_of(e).0).all(|m| s.contains(&format!("\n{m}{{")) || s.contains(&format!("\n{m}_bucket{{")));
        if all || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let emitted: Vec<&str> = scrape.lines().filter(|l| l.starts_with("tollgate_")).filter_map(|l| l.split('{').next()).collect();
    for e in &exprs {
        let (names, patterns) = metrics_of(e);
        for m in names {
            assert!(scrape.contains(&format!("\n{m}{{")) || scrape.contains(&format!("\n{m}_bucket{{")), "`{m}` (in `{e}`) is not a metric tollgate emits");
        }
        for p in patterns {
            // `prefix.+suffix`, the only pattern form the dashboard uses.
            let (prefix, suffix) = p.split_once(".+").expect("a `prefix.+suffix` pattern");
            assert!(emitted.iter().any(|n| n.len() > prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix)), "no emitted metric matches `{p}` (in `{e}`)");
        }
    }
    // Every panel query returns data from the real Prometheus.
    for e in &exprs {
        assert!(!prom.wait_for(e, Duration::from_secs(20)).is_empty(), "no data for `{e}`");
    }
    // The budget alert fires in Prometheus.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !prom.firing().contains(&"TollgateBudgetThresholdCrossed".to_string()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    let firing = prom.firing();
    assert!(firing.contains(&"TollgateBudgetThresholdCrossed".to_string()), "firing: {firing:?}");
    eprintln!("firing: {firing:?}");
}
