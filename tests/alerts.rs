//! Real-Envoy tests of alerts: budget thresholds fire exactly once per crossing under concurrent
//! load on two workers; signatures verify with the Standard Webhooks reference library (PyPI
//! `standardwebhooks`); an anomaly fires on a 10x burst and not on steady traffic; `block`
//! refuses and `alert` does not; failed deliveries are retried (same message id) and bounded;
//! a receiver that is slow or down never slows a client request.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::envoy::{repo, Envoy, Gateway};
use support::hook_server::{HookServer, Received, Reply};
use support::http_client::{post_json, Response};
use support::mock_provider::*;

/// A Standard Webhooks secret (`whsec_` + base64 of 24 bytes).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn config(keys: &[(&str, &str)], webhook: &str, rules: &str, anomalies: &str) -> String {
    support::configs::limited(keys, rules, &format!(r#", "alerts": {{"webhook": {webhook}, "anomalies": {anomalies}}}"#))
}

fn gateway(config: &str, mock: &MockProvider, hooks_port: u16, workers: u32) -> Envoy {
    let clusters = [("openai", mock.port()), ("anthropic", mock.port()), ("hooks", hooks_port)];
    let yaml = Gateway { config, clusters: &clusters, pre_filters: "", env_keys: &["TOLLGATE_WEBHOOK_SECRET"] }.yaml();
    Envoy::start_with_env_and_workers(&yaml, &[("TOLLGATE_WEBHOOK_SECRET", SECRET)], workers)
}

fn chat(key: &str) -> Response {
    let body = serde_json::json!({"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "Write a haiku about gateways."}]});
    post_json(PORT.with(|p| p.get()), "/v1/chat/completions", &[("authorization", &format!("Bearer sk-{key}"))], &body).unwrap()
}

thread_local! {
    static PORT: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

fn on(envoy: &Envoy) {
    PORT.with(|p| p.set(envoy.port));
}

fn stat(envoy: &Envoy, name: &str) -> u64 {
    let s = envoy.admin(&format!("/stats?filter={name}$")).unwrap_or_default();
    s.lines().find_map(|l| l.split_once(": ").filter(|(k, _)| k.ends_with(name)).and_then(|(_, v)| v.parse().ok())).unwrap_or(0)
}

/// Waits until `stat` reaches `n` (stats flush every 0.2 s).
fn wait_stat(envoy: &Envoy, name: &str, n: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = stat(envoy, name);
        if v >= n || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every delivery verified by the reference library; returns the event types.
fn verify(deliveries: &[Received]) -> Vec<String> {
    let list: Vec<serde_json::Value> = deliveries
        .iter()
        .map(|d| {
            let headers: serde_json::Map<String, serde_json::Value> = ["webhook-id", "webhook-timestamp", "webhook-signature"]
                .iter()
                .map(|h| (h.to_string(), serde_json::Value::from(d.header(h).unwrap_or_default())))
                .collect();
            serde_json::json!({"headers": headers, "body": String::from_utf8_lossy(&d.body)})
        })
        .collect();
    let mut child = Command::new(repo().join(".venv/bin/python"))
        .arg(repo().join("tests/support/verify_webhooks.py"))
        .arg(SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run `make py-tools`");
    child.stdin.take().unwrap().write_all(serde_json::to_string(&list).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "standardwebhooks refused a delivery:\n{text}");
    text.lines().map(|l| l.trim_start_matches("ok ").to_string()).collect()
}

#[test]
fn thresholds_fire_exactly_once_per_crossing_on_two_workers_and_verify() {
    let mock = MockProvider::start();
    let hooks = HookServer::start(|_| Reply::ok("{}"));
    // 4000 tokens a day for the tenant; 24 requests of 59 tokens settle 1416. The count a
    // settlement sees also holds the reservations in flight (at most 8 x ~110 here), so it stays
    // well under 0.9 x 4000, and ends at 1416 or more, over 0.25 x 4000.
    let rules = r#"[{"id": "tpd", "scope": "tenant", "kind": "tokens", "window": "day", "limit": 4000, "alerts": [0.05, 0.125, 0.25, 0.9]}]"#;
    let c = config(&[("a1", "acme"), ("a2", "acme")], r#"{"cluster": "hooks", "path": "/hooks/tollgate", "timeout_ms": 1000}"#, rules, "[]");
    let envoy = gateway(&c, &mock, hooks.port, 2);
    let port = envoy.port;
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let done = done.clone();
            std::thread::spawn(move || {
                PORT.with(|p| p.set(port));
                for _ in 0..3 {
                    let r = chat(if t % 2 == 0 { "a1" } else { "a2" });
                    assert_eq!(r.status, 200, "{}", r.text());
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 24);
    let got = hooks.wait_for(3, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(1500)); // time for any duplicate to show up
    let got = if hooks.received().len() > got.len() { hooks.received() } else { got };
    let thresholds: Vec<f64> = got.iter().map(|r| r.json()["data"]["threshold"].as_f64().unwrap()).collect();
    let distinct: BTreeSet<String> = thresholds.iter().map(|t| t.to_string()).collect();
    assert_eq!(got.len(), 3, "0.05, 0.125 and 0.25 each exactly once, 0.9 never: {thresholds:?}");
    assert_eq!(distinct.len(), 3, "{thresholds:?}");
    assert!(!thresholds.contains(&0.9));
    for r in &got {
        assert_eq!(r.path, "/hooks/tollgate");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let data = &r.json()["data"];
        assert_eq!((data["rule"].as_str(), data["scope"].as_str(), data["subject"].as_str()), (Some("tpd"), Some("tenant"), Some("acme")));
        assert_eq!(data["limit"], 4000);
        assert!(data["amount"].as_u64().unwrap() as f64 >= data["threshold"].as_f64().unwrap() * 4000.0);
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains("haiku") && !text.contains("sk-a"), "no prompt, no key: {text}");
    }
    assert_eq!(verify(&got), vec!["budget.threshold_crossed"; 3]);
    assert_eq!(wait_stat(&envoy, "tollgate.alerts.budget_fired", 3), 3);
    assert_eq!(wait_stat(&envoy, "tollgate.alerts.webhook.delivered", 3), 3);
    assert!(envoy.log().contains("tollgate alert: budget `tpd` for acme reached 25%"));
}

/// Sends `n` requests for `key` (sequentially); returns their statuses.
fn burst(key: &str, n: usize) -> Vec<Response> {
    (0..n).map(|_| chat(key)).collect()
}

/// Sleeps until `offset` ms into the next `len`-second window.
fn next_window(len: u64, offset: u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let next = (now / (len * 1000) + 1) * len * 1000 + offset;
    std::thread::sleep(Duration::from_millis(next - now));
}

#[test]
fn an_anomaly_fires_on_a_burst_not_on_steady_traffic_and_block_refuses() {
    let mock = MockProvider::start();
    let hooks = HookServer::start(|_| Reply::ok("{}"));
    let anomalies = r#"[{"id": "watch", "scope": "key", "subjects": ["steady", "bursty"], "kind": "tokens", "window_seconds": 5, "factor": 4, "floor": 200, "min_windows": 1},
                        {"id": "stop", "scope": "key", "subjects": ["blocked"], "kind": "tokens", "window_seconds": 5, "factor": 4, "floor": 200, "min_windows": 1, "action": "block"}]"#;
    let c = config(&[("steady", "s"), ("bursty", "b"), ("blocked", "x")], r#"{"cluster": "hooks"}"#, "[]", anomalies);
    let envoy = gateway(&c, &mock, hooks.port, 2);
    on(&envoy);
    // Window 0: first seen (not learned). Window 1: 2 requests each, learned as the baseline (118 tokens).
    next_window(5, 100);
    for k in ["steady", "bursty", "blocked"] {
        burst(k, 2);
    }
    next_window(5, 100);
    for k in ["steady", "bursty", "blocked"] {
        burst(k, 2);
    }
    // Window 2: steady stays at 2, the others burst to 20 (10x).
    next_window(5, 100);
    let steady = burst("steady", 2);
    let bursty = burst("bursty", 20);
    let blocked = burst("blocked", 20);
    assert!(steady.iter().chain(&bursty).all(|r| r.status == 200), "`alert` never refuses");
    // 4 x 118 = 472 tokens: the 9th request (531) fires; the 10th and later are refused.
    let refused: Vec<&Response> = blocked.iter().filter(|r| r.status == 429).collect();
    assert_eq!(blocked.iter().take_while(|r| r.status == 200).count(), 9, "{:?}", blocked.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(refused.len(), 11);
    assert_eq!(refused[0].json()["error"]["code"], "anomaly_detected");
    let retry: u64 = refused[0].header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "until the window ends: {retry}");
    let anthropic = post_json(
        envoy.port,
        "/v1/messages",
        &[("x-api-key", "sk-blocked"), ("anthropic-version", "2023-06-01")],
        &serde_json::json!({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .unwrap();
    assert_eq!((anthropic.status, anthropic.json()["error"]["type"].as_str()), (429, Some("rate_limit_error")), "in the client's dialect: {}", anthropic.text());
    let got = hooks.wait_for(2, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));
    let got = if hooks.received().len() > got.len() { hooks.received() } else { got };
    let subjects: BTreeSet<String> = got.iter().map(|r| r.json()["data"]["subject"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(subjects, ["blocked", "bursty"].iter().map(|s| s.to_string()).collect(), "steady never fires");
    assert_eq!(got.len(), 2, "once per window");
    let b = got.iter().find(|r| r.json()["data"]["subject"] == "bursty").unwrap().json();
    assert_eq!((b["type"].as_str(), b["data"]["baseline"].as_u64(), b["data"]["factor"].as_f64()), (Some("spend.anomaly_detected"), Some(2 * OPENAI_TOTAL_TOKENS), Some(4.0)));
    assert_eq!(verify(&got), vec!["spend.anomaly_detected"; 2]);
    assert_eq!(wait_stat(&envoy, "tollgate.alerts.anomaly_fired", 2), 2);
    assert!(wait_stat(&envoy, "tollgate.alerts.anomaly_blocked", 12) >= 12);
    // The next window admits the blocked key again.
    next_window(5, 100);
    assert_eq!(chat("blocked").status, 200);
}

#[test]
fn failed_deliveries_are_retried_with_the_same_id_and_bounded() {
    let mock = MockProvider::start();
    // The first attempt of each message gets 503, the second 200.
    let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let hooks = HookServer::start(move |r| {
        let first = seen.lock().unwrap().insert(r.header("webhook-id").unwrap_or_default().to_string());
        if first {
            Reply { status: 503, body: "{}".into(), delay: Duration::ZERO }
        } else {
            Reply::ok("{}")
        }
    });
    let rules = r#"[{"id": "tpd", "scope": "key", "kind": "tokens", "window": "day", "limit": 1000, "alerts": [0.05]}]"#;
    let c = config(&[("a1", "acme")], r#"{"cluster": "hooks", "backoff_ms": 200, "max_attempts": 3}"#, rules, "[]");
    let envoy = gateway(&c, &mock, hooks.port, 1);
    on(&envoy);
    assert_eq!(chat("a1").status, 200);
    let got = hooks.wait_for(2, Duration::from_secs(5));
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"), "a retry is the same message");
    verify(&got);
    assert_eq!(wait_stat(&envoy, "tollgate.alerts.webhook.delivered", 1), 1);
    assert_eq!(stat(&envoy, "tollgate.alerts.webhook.retried"), 1);
}

#[test]
fn a_receiver_that_is_slow_or_down_never_slows_a_request() {
    let mock = MockProvider::start();
    let slow = HookServer::start(|_| Reply { status: 200, body: "{}".into(), delay: Duration::from_secs(3) });
    // Every request crosses a new threshold, so every request raises an event.
    let rules = r#"[{"id": "tpd", "scope": "key", "kind": "tokens", "window": "day", "limit": 1000, "alerts": [0.05, 0.1, 0.15, 0.2, 0.25]}]"#;
    for (name, port) in [("slow", slow.port), ("down", free_port())] {
        let c = config(&[("a1", "acme")], r#"{"cluster": "hooks", "timeout_ms": 300, "max_attempts": 2, "backoff_ms": 100}"#, rules, "[]");
        let envoy = gateway(&c, &mock, port, 1);
        on(&envoy);
        chat("a1"); // warm the connection pools
        let mut worst = Duration::ZERO;
        for _ in 0..4 {
            let t = Instant::now();
            assert_eq!(chat("a1").status, 200);
            worst = worst.max(t.elapsed());
        }
        assert!(worst < Duration::from_millis(300), "{name}: a request took {worst:?} (the webhook timeout is 300 ms)");
        assert_eq!(wait_stat(&envoy, "tollgate.alerts.budget_fired", 5), 5, "{name}");
        assert!(wait_stat(&envoy, "tollgate.alerts.webhook.dropped", 5) >= 5, "{name}: each event gives up after 2 attempts");
        assert!(stat(&envoy, "tollgate.alerts.webhook.retried") >= 5, "{name}");
        eprintln!("{name} receiver: slowest request {worst:?}");
    }
}

/// A loopback port nothing listens on.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
