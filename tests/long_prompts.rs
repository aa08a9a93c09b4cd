//! Long prompts through the shipped `envoy/demo.yaml`: a 16 MiB prompt succeeds in both dialects,
//! and a prompt over tollgate's `max_request_bytes` (32 MiB) gets tollgate's own JSON 413 in the
//! client's dialect, never Envoy's plain-text 413 or a reset (Envoy's buffers are 40 MiB). The
//! Envoy process's resident memory around a 32 MiB request is printed for BENCHMARKS.md.

mod support;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::envoy::{demo_yaml, Envoy};
use support::mock_provider::MockProvider;

const MIB: usize = 1024 * 1024;

/// A request body whose prompt makes it about `size` bytes.
fn body(anthropic: bool, size: usize) -> Vec<u8> {
    let text = "lorem ipsum dolor sit amet ".repeat(size / 27 + 1);
    let mut v = if anthropic {
        json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": ""}]})
    } else {
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ""}]})
    };
    v["messages"][0]["content"] = json!(&text[..size.min(text.len())]);
    v.to_string().into_bytes()
}

/// POSTs `body` while reading the answer on the same connection (a server may answer, and
/// close, before the upload ends); the status and body of the answer.
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(head.as_bytes()).and_then(|_| w.write_all(&body)).and_then(|_| w.flush());
    });
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let payload = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, payload)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// The JSON object in a (possibly chunked) HTTP body.
fn json_in(payload: &str) -> Value {
    let start = payload.find('{').unwrap_or(0);
    let end = payload.rfind('}').map_or(payload.len(), |i| i + 1);
    serde_json::from_str(&payload[start..end]).unwrap_or_else(|e| panic!("not JSON ({e}): {}", &payload[..payload.len().min(300)]))
}

#[test]
fn sixteen_mib_prompts_pass_and_oversized_ones_get_the_json_413() {
    let mock = MockProvider::start();
    let envoy = Envoy::start(&demo_yaml(mock.port()));
    let openai = [("authorization", "Bearer tg-demo-key")];
    let anthropic = [("x-api-key", "tg-demo-key"), ("anthropic-version", "2023-06-01")];
    let before = rss_kib(envoy.pid());
    let started = Instant::now();
    let (status, payload) = post(envoy.port, "/v1/chat/completions", &openai, body(false, 16 * MIB));
    assert_eq!(status, 200, "{}", &payload[..payload.len().min(300)]);
    let elapsed = started.elapsed();
    assert_eq!(json_in(&payload)["object"], "chat.completion");
    assert!(mock.last_request().unwrap().body.len() >= 16 * MIB, "the whole prompt reached the provider");
    let (status, payload) = post(envoy.port, "/v1/messages", &anthropic, body(true, 16 * MIB));
    assert_eq!(status, 200, "{}", &payload[..payload.len().min(300)]);
    assert_eq!(json_in(&payload)["type"], "message");
    // 32 MiB, just under the limit, for the memory figure.
    let (status, _) = post(envoy.port, "/v1/chat/completions", &openai, body(false, 32 * MIB - 4096));
    assert_eq!(status, 200);
    let after = rss_kib(envoy.pid());
    eprintln!("envoy RSS: {before} KiB before, {after} KiB after 16 MiB and 32 MiB prompts (+{} KiB); a 16 MiB chat took {elapsed:?}", after.saturating_sub(before));
    // Over the limit: tollgate's 413 in each dialect.
    let (status, payload) = post(envoy.port, "/v1/chat/completions", &openai, body(false, 33 * MIB));
    assert_eq!(status, 413, "{}", &payload[..payload.len().min(300)]);
    assert_eq!(json_in(&payload)["error"]["code"], "request_too_large");
    let (status, payload) = post(envoy.port, "/v1/messages", &anthropic, body(true, 33 * MIB));
    assert_eq!(status, 413, "{}", &payload[..payload.len().min(300)]);
    let v = json_in(&payload);
    assert_eq!((v["type"].as_str(), v["error"]["type"].as_str()), (Some("error"), Some("request_too_large")));
}
