//! Real-Envoy tests of keys kept outside the config (`auth.key_source`): a JSON-lines key file
//! served by a real nginx, loaded in `Range` requests by one VM into the shared index that every
//! worker reads; inline keys beside it; revocation and rotation by replacing the file; a
//! `keys_unavailable` 503 in the client's dialect while no index has loaded.

mod support;

use std::time::{Duration, Instant};
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, Response};
use support::mock_provider::MockProvider;
use support::nginx::Nginx;
use tollgate::keys::Digest;

fn line(i: usize, extra: &str) -> String {
    format!(r#"{{"id":"file-{i}","tenant":"t{}","digests":["{}"]{extra}}}"#, i % 5, Digest::of(format!("tg-file-{i}").as_bytes()))
}

/// `n` keys, plus one limited to a model, one disabled, a comment and a bad line.
fn key_file(n: usize, tag: &str) -> String {
    let mut f = String::from("# tollgate keys\n");
    for i in 0..n {
        f.push_str(&line(i, ""));
        f.push('\n');
    }
    f.push_str(&format!("{{\"id\":\"limited\",\"digests\":[\"{}\"],\"models\":[\"gpt-4o\"]}}\n", Digest::of(b"tg-limited")));
    f.push_str(&format!("{{\"id\":\"off\",\"digests\":[\"{}\"],\"disabled\":true}}\n", Digest::of(b"tg-off")));
    f.push_str(&format!("{{\"id\":\"new{tag}\",\"digests\":[\"{}\"]}}\n", Digest::of(format!("tg-new{tag}").as_bytes())));
    f.push_str("not a key entry\n");
    f
}

fn gateway(mock: &MockProvider, nginx: &Nginx, path: &str, workers: u32) -> Envoy {
    let config = format!(
        r#"{{
        "providers": [{{"name": "openai", "kind": "openai", "cluster": "openai", "api_key_env": "TEST_OPENAI_KEY"}}],
        "models": [{{"name": "gpt-4o", "targets": [{{"provider": "openai"}}]}}, {{"name": "gpt-4o-mini", "targets": [{{"provider": "openai"}}]}}],
        "auth": {{"key_source": {{"cluster": "keys", "path": "{path}", "refresh_s": 1, "chunk_bytes": 16384}}}},
        "keys": [{{"id": "inline", "tenant": "ops", "digests": ["{inline}"]}}]
        }}"#,
        inline = Digest::of(b"tg-inline")
    );
    let clusters = [("openai", mock.port()), ("keys", nginx.port)];
    let yaml = Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &["TEST_OPENAI_KEY"] }.yaml();
    Envoy::start_with_env_and_workers(&yaml, &[("TEST_OPENAI_KEY", "sk-upstream")], workers)
}

fn chat(envoy: &Envoy, key: &str, model: &str) -> Response {
    let body = serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    post_json(envoy.port, "/v1/chat/completions", &[("authorization", &format!("Bearer {key}"))], &body).unwrap()
}

fn code(r: &Response) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    v["error"]["code"].as_str().or(v["error"]["type"].as_str()).unwrap_or_default().to_string()
}

/// Polls until `key` gets `status` (the load or reload landed), failing after `secs`.
fn wait_for(envoy: &Envoy, key: &str, status: u16, secs: u64) -> Duration {
    let start = Instant::now();
    loop {
        let r = chat(envoy, key, "gpt-4o-mini");
        if r.status == status {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(secs), "{key} still gets {} ({}):\n{}", r.status, code(&r), envoy.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keys_from_a_file_check_like_inline_keys_and_one_vm_loads_them() {
    let (mock, nginx) = (MockProvider::start(), Nginx::start());
    nginx.put("keys.jsonl", key_file(5_000, "").as_bytes());
    let envoy = gateway(&mock, &nginx, "/keys.jsonl", 2);
    // Inline keys answer from the first request; file keys once the index has loaded (a 503
    // `keys_unavailable` until then, never a 401).
    assert_eq!(chat(&envoy, "tg-inline", "gpt-4o-mini").status, 200);
    let first = chat(&envoy, "tg-file-4999", "gpt-4o-mini");
    assert!(first.status == 200 || (first.status == 503 && code(&first) == "keys_unavailable"), "{} {}", first.status, code(&first));
    wait_for(&envoy, "tg-file-4999", 200, 20);
    for i in [0, 1, 2500, 4998] {
        assert_eq!(chat(&envoy, &format!("tg-file-{i}"), "gpt-4o-mini").status, 200, "key {i}");
    }
    let unknown = chat(&envoy, "tg-file-5000", "gpt-4o-mini");
    assert_eq!((unknown.status, code(&unknown).as_str()), (401, "invalid_api_key"));
    assert_eq!(chat(&envoy, "tg-off", "gpt-4o-mini").status, 401);
    let limited = chat(&envoy, "tg-limited", "gpt-4o-mini");
    assert_eq!((limited.status, code(&limited).as_str()), (403, "model_not_allowed"));
    assert_eq!(chat(&envoy, "tg-limited", "gpt-4o").status, 200);
    // The key's identity and tenant reach accounting as an inline key's do.
    let log = envoy.wait_access_log(10);
    let record: serde_json::Value = log.iter().rev().filter_map(|l| l["tollgate"].as_str()).find_map(|t| serde_json::from_str::<serde_json::Value>(t).ok().filter(|r| r["key_id"] == "file-4998")).expect("a record for file-4998");
    assert_eq!(record["tenant"], "t3");
    // One VM of the three (main + 2 workers) loaded the file, in 16 KiB ranges; the log names
    // the counts and the first refused line by number, never its content.
    let text = envoy.log();
    let loads: Vec<&str> = text.lines().filter(|l| l.contains("entries loaded")).collect();
    assert_eq!(loads.len(), 1, "{loads:?}");
    assert!(loads[0].contains("5003 entries loaded") && loads[0].contains("1 lines refused") && loads[0].contains("line 5005"), "{}", loads[0]);
    assert!(!text.contains("not a key entry\"") && !text.contains("tg-file"), "the log quotes the key file or a key");
    let ranges = nginx.access_log().lines().filter(|l| l.contains("GET /keys.jsonl") && l.contains(" 206 ")).count();
    assert!(ranges >= key_file(5_000, "").len() / 16_384, "{ranges} range requests:\n{}", nginx.access_log());
}

#[test]
fn replacing_the_file_revokes_and_adds_keys_within_the_refresh() {
    let (mock, nginx) = (MockProvider::start(), Nginx::start());
    nginx.put("keys.jsonl", key_file(300, "").as_bytes());
    let envoy = gateway(&mock, &nginx, "/keys.jsonl", 1);
    wait_for(&envoy, "tg-file-42", 200, 20);
    assert_eq!(chat(&envoy, "tg-new2", "gpt-4o-mini").status, 401);
    // Unchanged file: the checks are conditional GETs answered 304 by nginx.
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(nginx.access_log().contains(" 304 "), "{}", nginx.access_log());
    // Key 42 revoked (the file now holds 0..41), `new2` added; a different size, so a new ETag.
    nginx.put("keys.jsonl", key_file(42, "2").as_bytes());
    let took = wait_for(&envoy, "tg-file-42", 401, 10);
    assert_eq!(chat(&envoy, "tg-new2", "gpt-4o-mini").status, 200);
    assert_eq!(chat(&envoy, "tg-file-41", "gpt-4o-mini").status, 200);
    assert!(took < Duration::from_secs(5), "revocation took {took:?}");
}

#[test]
fn no_index_yet_is_a_503_in_the_clients_dialect_and_inline_keys_still_work() {
    let (mock, nginx) = (MockProvider::start(), Nginx::start());
    let envoy = gateway(&mock, &nginx, "/missing.jsonl", 1);
    std::thread::sleep(Duration::from_millis(500));
    let r = chat(&envoy, "tg-file-1", "gpt-4o-mini");
    assert_eq!((r.status, code(&r).as_str()), (503, "keys_unavailable"));
    assert_eq!(r.headers.iter().find(|(k, _)| k == "retry-after").map(|(_, v)| v.as_str()), Some("1"));
    let body = serde_json::json!({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    let a = post_json(envoy.port, "/v1/messages", &[("x-api-key", "tg-file-1"), ("anthropic-version", "2023-06-01")], &body).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!((a.status, v["type"].as_str(), v["error"]["type"].as_str()), (503, Some("error"), Some("api_error")));
    assert_eq!(chat(&envoy, "tg-inline", "gpt-4o-mini").status, 200);
    assert!(envoy.log().contains("status 404"), "the failed load is logged");
    // Once the file appears, the next check loads it.
    nginx.put("missing.jsonl", key_file(10, "").as_bytes());
    wait_for(&envoy, "tg-file-1", 200, 15);
}

/// Issue 25: a million keys load into the shared index and each one checks. The file (135 MB)
/// is written by the test; 200 keys drawn across it must pass and 200 others must not.
#[test]
fn a_million_keys_load_and_check() {
    let (mock, nginx) = (MockProvider::start(), Nginx::start());
    const N: usize = 1_000_000;
    let mut f = String::with_capacity(N * 140);
    for i in 0..N {
        f.push_str(&line(i, r#","models":["*"]"#));
        f.push('\n');
    }
    nginx.put("million.jsonl", f.as_bytes());
    drop(f);
    let envoy = gateway(&mock, &nginx, "/million.jsonl", 1);
    let took = wait_for(&envoy, "tg-file-999999", 200, 120);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let i = (seed % N as u64) as usize;
        assert_eq!(chat(&envoy, &format!("tg-file-{i}"), "gpt-4o-mini").status, 200, "key {i}");
        assert_eq!(chat(&envoy, &format!("tg-file-{}", N + i), "gpt-4o-mini").status, 401, "absent key {}", N + i);
    }
    drop(envoy);
    eprintln!("a million keys usable {took:?} after the first request");
}
