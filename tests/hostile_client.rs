//! Real-Envoy tests of hostile client input at both front doors (OpenAI chat and Anthropic
//! Messages), each to a provider of its own dialect and to one it is translated for, with
//! redaction off and on: keys given twice at every level, JSON nested 10,000 deep inside
//! `messages`, `1e400` in `max_tokens`, header values with control characters. Each ends in a
//! 4xx in the client's dialect, or passes to the provider unchanged where the provider is the
//! right judge; never a reset or a VM trap, and the next request is served.

mod support;

use support::envoy::{Envoy, Gateway};
use support::http_client::{raw, request, Response};
use support::mock_provider::MockProvider;
use std::time::Duration;
use tollgate::keys::Digest;

const KEY: &str = "tg-hostile-client";

fn gateway(openai: &MockProvider, anthropic: &MockProvider, redaction: bool) -> Envoy {
    let config = format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}}, {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}}],
            "models": [{{"name": "gpt-*", "targets": [{{"provider": "openai"}}]}}, {{"name": "claude-*", "targets": [{{"provider": "anthropic"}}]}}],
            "keys": [{{"id": "k", "tenant": "t", "digests": ["{}"], "models": ["gpt-*", "claude-*"]}}]{}}}"#,
        Digest::of(KEY.as_bytes()),
        if redaction { r#", "redaction": {"enabled": true}"# } else { "" }
    );
    Envoy::start(&Gateway { config: &config, clusters: &[("openai", openai.port()), ("anthropic", anthropic.port())], pre_filters: "", env_keys: &[] }.yaml())
}

/// The front doors: path, a model of the door's own dialect, a model translated for.
const DOORS: [(&str, &str, &str); 2] = [("/v1/chat/completions", "gpt-4o", "claude-x"), ("/v1/messages", "claude-x", "gpt-4o")];

fn post(envoy: &Envoy, path: &str, body: &[u8]) -> Response {
    let auth = format!("Bearer {KEY}");
    request(envoy.port, "POST", path, &[("authorization", &auth), ("content-type", "application/json")], body).unwrap_or_else(|e| panic!("{path}: the connection failed ({e})"))
}

/// A 4xx error body in the dialect of the client on `path`.
fn assert_dialect_error(r: &Response, path: &str, what: &str) {
    assert!((400..500).contains(&r.status), "{what} on {path}: status {} ({})", r.status, r.text());
    let v = r.json();
    if path == "/v1/messages" {
        assert_eq!(v["type"], "error", "{what}: {v}");
        assert!(v["error"]["type"].is_string() && v["error"]["message"].is_string(), "{what}: {v}");
    } else {
        assert!(v["error"]["message"].is_string() && v["error"]["type"].is_string(), "{what}: {v}");
    }
}

/// The gateway is still healthy: a plain request on each door is served.
fn assert_serves(envoy: &Envoy) {
    for (path, own, _) in DOORS {
        let body = if path == "/v1/messages" {
            format!(r#"{{"model":"{own}","max_tokens":16,"messages":[{{"role":"user","content":"hi"}}]}}"#)
        } else {
            format!(r#"{{"model":"{own}","messages":[{{"role":"user","content":"hi"}}]}}"#)
        };
        let r = post(envoy, path, body.as_bytes());
        assert_eq!(r.status, 200, "{path} after hostile input: {}", r.text());
    }
    let log = envoy.log();
    assert!(!log.contains("panicked") && !log.contains("wasm trap") && !log.contains("Function: proxy_on"), "the VM failed:\n{log}");
}

fn conversation(path: &str, model: &str, extra: &str, messages: &str) -> String {
    let max = if path == "/v1/messages" && !extra.contains("max_tokens") { r#""max_tokens":16,"# } else { "" };
    format!(r#"{{"model":"{model}",{max}{extra}"messages":{messages}}}"#)
}

#[test]
fn numbers_beyond_f64_and_deep_nesting_are_refused_in_the_clients_dialect() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    for redaction in [false, true] {
        let envoy = gateway(&openai, &anthropic, redaction);
        let deep = format!(r#"[{{"role":"user","content":{}"hi"{}}}]"#, "[".repeat(10_000), "]".repeat(10_000));
        let simple = r#"[{"role":"user","content":"hi"}]"#;
        for (path, own, translated) in DOORS {
            for model in [own, translated] {
                let seen = openai.request_count() + anthropic.request_count();
                for (what, body) in [
                    ("max_tokens 1e400", conversation(path, model, r#""max_tokens":1e400,"#, simple)),
                    ("temperature -1e400", conversation(path, model, r#""temperature":-1e400,"#, simple)),
                    ("10,000 deep inside messages", conversation(path, model, "", &deep)),
                ] {
                    let what = format!("{what} to {model} (redaction {redaction})");
                    assert_dialect_error(&post(&envoy, path, body.as_bytes()), path, &what);
                }
                assert_eq!(openai.request_count() + anthropic.request_count(), seen, "nothing reached a provider");
            }
        }
        assert_serves(&envoy);
    }
}

/// A key given twice: the gateway reads one copy (`serde_json` keeps the last), a provider may
/// read the other. `model` and `stream` decide routing, policy and accounting, so a body that
/// repeats them is refused; a repeat anywhere else passes to a provider of the client's own
/// dialect byte for byte (it judges its own input), is translated from the copy the gateway
/// read, or, with redaction on, is refused (the scan could miss the copy the provider reads).
#[test]
fn keys_given_twice_at_every_level() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    for redaction in [false, true] {
        let envoy = gateway(&openai, &anthropic, redaction);
        for (path, own, translated) in DOORS {
            for model in [own, translated] {
                let other = if model == own { translated } else { own };
                let routing = [
                    ("model twice", format!(r#"{{"model":"{other}","model":"{model}","max_tokens":16,"messages":[{{"role":"user","content":"hi"}}]}}"#)),
                    ("stream twice", format!(r#"{{"model":"{model}","stream":true,"stream":false,"max_tokens":16,"messages":[{{"role":"user","content":"hi"}}]}}"#)),
                ];
                for (what, body) in &routing {
                    let what = format!("{what} to {model} (redaction {redaction})");
                    assert_dialect_error(&post(&envoy, path, body.as_bytes()), path, &what);
                }
                let elsewhere = [
                    ("messages twice", conversation(path, model, r#""messages":[],"#, r#"[{"role":"user","content":"hi"}]"#)),
                    ("role twice", conversation(path, model, "", r#"[{"role":"assistant","role":"user","content":"hi"}]"#)),
                    ("content twice", conversation(path, model, "", r#"[{"role":"user","content":"one","content":"hi"}]"#)),
                    ("text twice in a part", conversation(path, model, "", r#"[{"role":"user","content":[{"type":"text","text":"one","text":"hi"}]}]"#)),
                ];
                for (what, body) in &elsewhere {
                    let what = format!("{what} to {model} (redaction {redaction})");
                    let provider = if model.starts_with("gpt") { &openai } else { &anthropic };
                    let before = provider.request_count();
                    let r = post(&envoy, path, body.as_bytes());
                    if redaction {
                        assert_dialect_error(&r, path, &what);
                        continue;
                    }
                    assert_eq!(r.status, 200, "{what}: {}", r.text());
                    assert_eq!(provider.request_count(), before + 1, "{what}");
                    let seen = provider.last_request().unwrap();
                    if model == own {
                        assert_eq!(seen.body_text(), *body, "{what}: passed unchanged");
                    } else {
                        // Translated from the copy the gateway read: one of each key.
                        let text = seen.body_text();
                        assert!(!text.contains("\"one\""), "{what}: the translation carries the last copy: {text}");
                    }
                }
            }
        }
        assert_serves(&envoy);
    }
}

/// One POST encoded by hand, `headers` as raw bytes (`name: value\r\n` each), as a hostile
/// client sends it: the status and the whole response. No status line is a reset.
fn raw_post(envoy: &Envoy, path: &str, headers: &[u8], body: &str, what: &str) -> (u16, String) {
    let mut req = format!("POST {path} HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n", body.len()).into_bytes();
    req.extend_from_slice(headers);
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body.as_bytes());
    let out = raw(envoy.port, &req, Duration::from_secs(5)).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{what} on {path}: no response (a reset?): {text:?}"));
    (status, text)
}

/// Header values with control characters: in the credential headers the gateway reads, and in
/// another. Envoy's HTTP/1 codec refuses most control characters itself (a 400 of its own, the
/// connection closed, never a reset); a tab reaches the filter, which refuses the key in the
/// client's dialect. A key with a control character never authenticates.
#[test]
fn header_values_with_control_characters() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, false);
    for (path, own, _) in DOORS {
        let body = conversation(path, own, "", r#"[{"role":"user","content":"hi"}]"#);
        for ctl in ["\u{1}", "\u{7f}", "\u{8}", "\t", "\u{1b}[31m"] {
            let headers = format!("authorization: Bearer {KEY}{ctl}x\r\nx-anthropic-key: {ctl}\r\nx-api-key: {KEY}{ctl}\r\n");
            let what = format!("{ctl:?}");
            let (status, text) = raw_post(&envoy, path, headers.as_bytes(), &body, &what);
            assert!((400..500).contains(&status), "{what} on {path}: a key with a control character must not authenticate: {text}");
            if let Some((_, json)) = text.split_once("\r\n\r\n").filter(|(h, _)| h.to_ascii_lowercase().contains("application/json")) {
                let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{what} on {path}: {e}: {json}"));
                if path == "/v1/messages" {
                    assert_eq!(v["type"], "error", "{v}");
                } else {
                    assert!(v["error"]["message"].is_string(), "{v}");
                }
            }
        }
        // Bytes that are not UTF-8 in a credential and in another header.
        let (status, text) = raw_post(&envoy, path, b"authorization: Bearer tg-\xff\xfe\r\nx-note: caf\xe9\r\n", &body, "non-UTF-8");
        assert!((400..500).contains(&status), "non-UTF-8 key on {path}: {text}");
    }
    assert_serves(&envoy);
}

/// Model names with control characters, that a glob route accepts: the name reaches headers,
/// filter state, stat names and the provider's body only as data, never as a broken header.
#[test]
fn model_names_with_control_characters() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic, false);
    for (path, own, translated) in DOORS {
        for model in [own, translated] {
            for ctl in [r"\u0001", r"\r\nx-injected: 1", r"\u0000", r"\u007f", r"\t"] {
                let name = format!("{}-{ctl}", &model[..model.find('-').unwrap_or(0)]);
                let body = conversation(path, &name, "", r#"[{"role":"user","content":"hi"}]"#);
                let r = post(&envoy, path, body.as_bytes());
                if r.status != 200 {
                    assert_dialect_error(&r, path, &format!("model {name}"));
                }
                let provider = if model.starts_with("gpt") { &openai } else { &anthropic };
                if r.status == 200 {
                    let seen = provider.last_request().unwrap();
                    assert!(seen.header("x-injected").is_none(), "a header was injected through the model name");
                }
            }
        }
    }
    // Tags in stat names are sanitized: the stats still read, with no control character.
    let stats = envoy.admin("/stats/prometheus").unwrap_or_default();
    assert!(stats.contains("tollgate") && !stats.chars().any(|c| c.is_control() && c != '\n'), "stats: {stats}");
    assert_serves(&envoy);
}
