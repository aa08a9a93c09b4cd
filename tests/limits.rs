//! Real-Envoy tests of limits: every kind (requests, tokens, spend, concurrency), per key, per
//! tenant and per model, shadow mode, 429s clients understand, reserve-then-settle, release on
//! cancel, and N concurrent requests on two workers against a budget that admits exactly K.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, Response};
use support::mock_provider::*;

/// A config with one key per entry of `keys` (`(id, tenant)`, secret `sk-<id>`) and `rules`.
fn config(keys: &[(&str, &str)], rules: &str) -> String {
    support::configs::limited(keys, rules, "")
}

fn gateway(config: &str, mock: &MockProvider, workers: u32) -> Envoy {
    let clusters = [("openai", mock.port()), ("anthropic", mock.port())];
    Envoy::start_with_workers(&Gateway { config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml(), workers)
}

fn chat(model: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": "Write a haiku about gateways."}]})
}

fn call(envoy: &Envoy, key: &str, model: &str, extra: &[(&str, &str)]) -> Response {
    let auth = format!("Bearer sk-{key}");
    let mut h = vec![("authorization", auth.as_str())];
    h.extend_from_slice(extra);
    post_json(envoy.port, "/v1/chat/completions", &h, &chat(model)).unwrap()
}

/// The gateway's reservation for `chat(..)`: estimated prompt plus `max_tokens`.
fn estimate() -> u64 {
    tollgate::usage::estimate_prompt_tokens(&chat("gpt-4o-mini")) + 100
}

fn code(r: &Response) -> String {
    r.json()["error"]["code"].as_str().unwrap_or_default().to_string()
}

fn stat(envoy: &Envoy, name: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let s = envoy.admin(&format!("/stats?filter={name}")).unwrap_or_default();
        let v = s.lines().find_map(|l| l.split_once(": ").filter(|(k, _)| k.ends_with(name)).and_then(|(_, v)| v.parse().ok()));
        if let Some(v) = v.filter(|v| *v > 0) {
            return v;
        }
        if Instant::now() > deadline {
            return v.unwrap_or(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn request_limits_per_key_tenant_and_model_with_shadow_mode() {
    let mock = MockProvider::start();
    let rules = r#"[{"id": "rpm-key", "scope": "key", "subjects": ["a1"], "kind": "requests", "window": "minute", "align": "rolling", "limit": 2},
                    {"id": "rpm-tenant", "scope": "tenant", "subjects": ["acme"], "kind": "requests", "window": "minute", "align": "rolling", "limit": 3},
                    {"id": "gpt-4o-daily", "scope": "key", "subjects": ["b1"], "model": "gpt-4o", "kind": "requests", "window": "day", "limit": 1},
                    {"id": "shadow", "scope": "key", "subjects": ["b1"], "kind": "requests", "window": "minute", "align": "rolling", "limit": 1, "shadow": true}]"#;
    let envoy = gateway(&config(&[("a1", "acme"), ("a2", "acme"), ("b1", "beta")], rules), &mock, 1);
    let r = call(&envoy, "a1", "gpt-4o-mini", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-limit-requests"), Some("2"), "the key's limit is the tighter one");
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("1"));
    assert!(r.header("x-ratelimit-reset-requests").is_some_and(|v| v.ends_with('s')));
    assert_eq!(call(&envoy, "a1", "gpt-4o-mini", &[]).status, 200);
    let r = call(&envoy, "a1", "gpt-4o-mini", &[]);
    assert_eq!((r.status, code(&r).as_str()), (429, "rate_limit_exceeded"), "{}", r.text());
    assert!(r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| (1..=60).contains(&s)));
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("0"));
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("rpm-key"));
    // The tenant's 3 per minute are shared by its keys: a2 gets one.
    assert_eq!(call(&envoy, "a2", "gpt-4o-mini", &[]).status, 200);
    let r = call(&envoy, "a2", "gpt-4o-mini", &[]);
    assert_eq!((r.status, code(&r).as_str()), (429, "rate_limit_exceeded"));
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("rpm-tenant"));
    // Per model: one gpt-4o a day for b1, other models unaffected; the shadow limit never rejects.
    assert_eq!(call(&envoy, "b1", "gpt-4o", &[]).status, 200);
    let r = call(&envoy, "b1", "gpt-4o", &[]);
    assert_eq!((r.status, code(&r).as_str()), (429, "rate_limit_exceeded"));
    assert_eq!(call(&envoy, "b1", "gpt-4o-mini", &[]).status, 200);
    assert_eq!(call(&envoy, "b1", "gpt-4o-mini", &[]).status, 200);
    assert!(stat(&envoy, "tollgate.limits.requests.shadow_rejected") >= 2, "b1's 2nd and 3rd admitted requests exceed the shadow limit");
    assert_eq!(stat(&envoy, "tollgate.limits.requests.rejected"), 3);
    assert_eq!(mock.request_count(), 6, "rejections never reach the provider");
}

#[test]
fn token_and_spend_budgets_reserve_then_settle() {
    let mock = MockProvider::start();
    let e = estimate();
    assert!((60..119).contains(&e), "the arithmetic below needs 60 <= estimate < 119, got {e}");
    // Tokens: two estimates do not fit in 2e - 1, but one settled request (59 tokens) and one estimate do.
    // Spend (micros; 1000/2000/500 per million tokens = 1000/2000/500 micros per token): each
    // request reserves ~e*1000 + 100*1000 and costs 26*1000 + 16*500 + 17*2000 = 68_000.
    let spend_est = (e - 100) * 1000 + 100 * 2000;
    let spend_limit = 68_000 + spend_est + 1000;
    let rules = format!(
        r#"[{{"id": "tpd", "scope": "key", "subjects": ["t1"], "kind": "tokens", "window": "day", "limit": {}}},
            {{"id": "usd-month", "scope": "tenant", "subjects": ["spenders"], "kind": "spend", "window": "month", "limit": "0.{:06}"}}]"#,
        2 * e - 1,
        spend_limit
    );
    let envoy = gateway(&config(&[("t1", "acme"), ("s1", "spenders")], &rules), &mock, 1);
    // A failed request releases its whole reservation.
    let r = call(&envoy, "t1", "gpt-4o-mini", &[(H_STATUS, "503")]);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("x-ratelimit-remaining-tokens"), Some((e - 1).to_string().as_str()), "x-ratelimit-* on every response");
    envoy.wait_access_log(1);
    let r = call(&envoy, "t1", "gpt-4o-mini", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-limit-tokens"), Some((2 * e - 1).to_string().as_str()));
    assert_eq!(r.header("x-ratelimit-remaining-tokens"), Some((e - 1).to_string().as_str()), "the estimate is reserved, the failed one's released");
    envoy.wait_access_log(2);
    let r = call(&envoy, "t1", "gpt-4o-mini", &[]);
    assert_eq!(r.status, 200, "settled to 59 tokens, the unused estimate was refunded: {}", r.text());
    assert_eq!(r.header("x-ratelimit-remaining-tokens"), Some((2 * e - 1 - OPENAI_TOTAL_TOKENS - e).to_string().as_str()));
    envoy.wait_access_log(3);
    let r = call(&envoy, "t1", "gpt-4o-mini", &[]);
    assert_eq!((r.status, code(&r).as_str()), (429, "rate_limit_exceeded"));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry), "until the UTC day ends: {retry}");
    assert_eq!(r.header("x-ratelimit-reset-tokens").map(|s| s.ends_with('s')), Some(true));

    let r = call(&envoy, "s1", "gpt-4o-mini", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-limit-spend"), Some(spend_limit.to_string().as_str()));
    envoy.wait_access_log(5);
    assert_eq!(call(&envoy, "s1", "gpt-4o-mini", &[]).status, 200, "68_000 spent + one estimate fits");
    envoy.wait_access_log(6);
    // The third does not; an Anthropic client gets Anthropic's error shape.
    let body = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "Write a haiku about gateways."}]});
    let r = post_json(envoy.port, "/v1/messages", &[("x-api-key", "sk-s1")], &body).unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("spend budget"));
    let r = call(&envoy, "s1", "gpt-4o-mini", &[]);
    assert_eq!((r.status, code(&r).as_str()), (429, "budget_exceeded"));
    let log = envoy.wait_access_log(9);
    let costs: Vec<&str> = log.iter().filter(|l| l["key_id"] == "s1" && l["status"] == 200).map(|l| l["cost_micros"].as_str().unwrap()).collect();
    assert_eq!(costs, ["68000", "68000"]);
}

#[test]
fn concurrency_limits_release_on_completion_and_on_cancel() {
    let mock = MockProvider::start();
    let rules = r#"[{"id": "two-at-once", "scope": "key", "kind": "concurrency", "limit": 2}]"#;
    let envoy = gateway(&config(&[("c1", "acme")], rules), &mock, 1);
    let results: Vec<Response> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4).map(|_| s.spawn(|| call(&envoy, "c1", "gpt-4o-mini", &[(H_DELAY_MS, "1500")]))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 2, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    let rejected: Vec<&Response> = results.iter().filter(|r| r.status == 429).collect();
    assert_eq!(rejected.len(), 2);
    assert_eq!(code(rejected[0]), "concurrency_limit_exceeded");
    assert_eq!(rejected[0].header("x-ratelimit-limit-concurrency"), Some("2"));
    assert_eq!(rejected[0].header("retry-after"), Some("1"));
    envoy.wait_access_log(4);
    // A client that goes away mid-request releases its slot (the log phase runs for it too).
    let body = chat("gpt-4o-mini").to_string();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-c1\r\ncontent-type: application/json\r\n{H_DELAY_MS}: 5000\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    for _ in 0..2 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", envoy.port)).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(s);
    }
    let log = envoy.wait_access_log(6);
    assert_eq!(log.len(), 6, "both cancelled requests were logged");
    let both: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| call(&envoy, "c1", "gpt-4o-mini", &[(H_DELAY_MS, "300")]).status)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(both, [200, 200], "the cancelled requests released their slots");
}

/// N clients on N connections race for a token budget that admits K, through two Envoy
/// workers sharing the counter: exactly K are admitted and nothing overshoots.
#[test]
fn concurrent_requests_on_two_workers_admit_exactly_the_budget() {
    const N: usize = 40;
    const K: u64 = 10;
    let mock = MockProvider::start();
    let e = estimate();
    let limit = K * e + e / 2;
    let rules = format!(r#"[{{"id": "team-budget", "scope": "tenant", "kind": "tokens", "window": "day", "limit": {limit}}}]"#);
    let envoy = gateway(&config(&[("k1", "acme"), ("k2", "acme")], &rules), &mock, 2);
    let barrier = std::sync::Barrier::new(N);
    let results: Vec<Response> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let barrier = &barrier;
                let envoy = &envoy;
                s.spawn(move || {
                    barrier.wait();
                    call(envoy, if i % 2 == 0 { "k1" } else { "k2" }, "gpt-4o-mini", &[(H_DELAY_MS, "1500")])
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let admitted = results.iter().filter(|r| r.status == 200).count() as u64;
    let rejected: Vec<&Response> = results.iter().filter(|r| r.status != 200).collect();
    assert_eq!(admitted, K, "statuses: {:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(rejected.iter().all(|r| r.status == 429 && code(r) == "rate_limit_exceeded"));
    assert_eq!(mock.request_count() as u64, K, "only the admitted reached the provider");
    envoy.wait_access_log(N);
    // Both workers took connections.
    let stats = envoy.admin("/stats?filter=worker_.\\.downstream_cx_total").unwrap();
    let per_worker: Vec<u64> = stats.lines().filter_map(|l| l.rsplit_once(": ").and_then(|(_, v)| v.parse().ok())).collect();
    assert!(per_worker.len() >= 2 && per_worker.iter().filter(|v| **v > 0).count() >= 2, "{stats}");
    // Settled: K * 59 real tokens are charged, the rest of the estimates refunded.
    let used = K * OPENAI_TOTAL_TOKENS;
    assert!(used <= limit);
    let r = call(&envoy, "k1", "gpt-4o-mini", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining-tokens"), Some((limit - used - e).to_string().as_str()));
    assert_eq!(stat(&envoy, "tollgate.limits.tokens.rejected"), (N as u64) - K);
}

/// Counters live in shared data, which belongs to the process and the `vm_id`: a listener
/// config reload (LDS from a file, with a changed tollgate config) keeps them.
#[test]
fn counters_survive_a_config_reload() {
    let mock = MockProvider::start();
    let rules = r#"[{"id": "rpd", "scope": "key", "kind": "requests", "window": "day", "limit": 2}]"#;
    let render = |extra_key: &str| {
        let config = config(&[("r1", "acme"), (extra_key, "other")], rules);
        let clusters = [("openai", mock.port()), ("anthropic", mock.port())];
        Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml()
    };
    // The same bootstrap, with the listener moved to a file-based LDS resource.
    let split = |yaml: &str| -> (String, String) {
        let (head, rest) = yaml.split_once("  listeners:\n").unwrap();
        let (listener, clusters) = rest.split_once("  clusters:\n").unwrap();
        let dedented: String = listener.lines().map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l))).collect();
        let resource = dedented.replacen("- name: llm\n", "- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: llm\n", 1);
        (format!("resources:\n{resource}"), format!("{head}  clusters:\n{clusters}"))
    };
    let dir = std::env::temp_dir().join(format!("tollgate-lds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lds = dir.join("lds.yaml");
    let (listener, bootstrap) = split(&render("x1"));
    std::fs::write(&lds, &listener).unwrap();
    let bootstrap = bootstrap.replacen(
        "static_resources:\n",
        &format!("node: {{ id: tollgate-test, cluster: tollgate-test }}\ndynamic_resources:\n  lds_config:\n    resource_api_version: V3\n    path_config_source: {{ path: {} }}\nstatic_resources:\n", lds.display()),
        1,
    );
    let envoy = Envoy::start(&bootstrap);
    assert_eq!(call(&envoy, "r1", "gpt-4o-mini", &[]).status, 200);
    assert_eq!(call(&envoy, "r1", "gpt-4o-mini", &[]).status, 200);
    // Reload: a new tollgate config (another key added) through an atomic file swap.
    let (listener2, _) = split(&render("x2"));
    let tmp = dir.join("lds.yaml.tmp");
    std::fs::write(&tmp, listener2).unwrap();
    std::fs::rename(&tmp, &lds).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while call(&envoy, "x2", "gpt-4o-mini", &[]).status == 401 {
        assert!(Instant::now() < deadline, "the reload did not take: {}", envoy.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = call(&envoy, "r1", "gpt-4o-mini", &[]);
    assert_eq!((r.status, code(&r).as_str()), (429, "rate_limit_exceeded"), "the count of 2 survived the reload");
    let _ = std::fs::remove_dir_all(&dir);
}
