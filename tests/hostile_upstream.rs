//! Real-Envoy tests of a hostile upstream: every fault mode of the mock provider
//! (tests/support/hostile_upstream.rs) at both front doors (OpenAI chat, Anthropic Messages),
//! JSON and streamed, to a provider of the client's own dialect and to one it is translated for,
//! through keys, routing, accounting, limits and redaction. Each ends in a clear error in the
//! client's dialect (or, in the client's own dialect, the provider's bytes as they came: the
//! provider is the judge of its own answer), or a cut stream bounded by the route timeout; the
//! limits settle (the in-flight counter back to zero, the token counter equal to the metered
//! usage), no prompt or completion text reaches Envoy's log, and the next request is served.

mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::envoy::{Envoy, Gateway};
use support::http_client::{parse_sse, request_streamed, StreamedResponse};
use support::mock_provider::hostile_upstream::{H_HOSTILE, HUGE_EVENT_BYTES};
use support::mock_provider::{MockProvider, ASSISTANT_TEXT};
use tollgate::keys::Digest;

const KEY: &str = "tg-hostile-upstream";
/// In every prompt; must never appear in Envoy's log.
const PROMPT: &str = "hostile-upstream-prompt-marker-6b1d";
const CONCURRENCY: u64 = 50;
const TOKENS: u64 = 100_000_000;
/// The route timeout (the tests' gateway uses 30 s): bounds the endless and stalled answers.
const ROUTE_TIMEOUT: &str = "2s";

fn gateway(mock: &MockProvider) -> Envoy {
    let config = format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}}, {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}}],
            "models": [{{"name": "gpt-*", "targets": [{{"provider": "openai"}}]}}, {{"name": "claude-*", "targets": [{{"provider": "anthropic"}}]}}],
            "keys": [{{"id": "k", "tenant": "t", "digests": ["{}"]}}],
            "pricing": {{"models": {{"*": {{"input": 1, "output": 2}}}}}},
            "limits": {{"default_completion_tokens": 100, "rules": [
                {{"id": "inflight", "scope": "key", "kind": "concurrency", "limit": {CONCURRENCY}}},
                {{"id": "tokens", "scope": "key", "kind": "tokens", "window": "month", "limit": {TOKENS}}}]}},
            "redaction": {{"enabled": true}}}}"#,
        Digest::of(KEY.as_bytes())
    );
    let yaml = Gateway { config: &config, clusters: &[("openai", mock.port()), ("anthropic", mock.port())], pre_filters: "", env_keys: &[] }.yaml();
    Envoy::start(&yaml.replace("timeout: 30s", &format!("timeout: {ROUTE_TIMEOUT}")))
}

/// The front doors: path, a model of the door's own dialect, a model translated for.
const DOORS: [(&str, &str, &str); 2] = [("/v1/chat/completions", "gpt-4o", "claude-x"), ("/v1/messages", "claude-x", "gpt-4o")];

fn body(model: &str, stream: bool) -> String {
    format!(r#"{{"model":"{model}","max_tokens":16,"stream":{stream},"messages":[{{"role":"user","content":"{PROMPT}"}}]}}"#)
}

fn call(envoy: &Envoy, path: &str, model: &str, stream: bool, mode: Option<&str>) -> StreamedResponse {
    let auth = format!("Bearer {KEY}");
    let mut h = vec![("authorization", auth.as_str()), ("content-type", "application/json")];
    if let Some(m) = mode {
        h.push((H_HOSTILE, m));
    }
    request_streamed(envoy.port, "POST", path, &h, body(model, stream).as_bytes()).unwrap_or_else(|e| panic!("{mode:?} {path} {model}: no response head ({e})"))
}

/// One case: the mode, the door, whether the model is translated, whether the client streams.
struct Case<'a> {
    mode: &'a str,
    path: &'a str,
    translated: bool,
    stream: bool,
}

impl Case<'_> {
    fn anthropic(&self) -> bool {
        self.path == "/v1/messages"
    }

    /// An error object in the client's dialect.
    fn assert_dialect_error(&self, v: &Value, r: &StreamedResponse) {
        let ok = if self.anthropic() {
            v["type"] == "error" && v["error"]["type"].is_string() && v["error"]["message"].is_string()
        } else {
            v["error"]["message"].is_string() && v["error"]["type"].is_string()
        };
        assert!(ok, "{self}: not an error in the client's dialect: {v} (status {})", r.status);
    }

    /// A complete JSON error response with `status`, in the client's dialect.
    fn assert_error_reply(&self, r: &StreamedResponse, status: u16) {
        assert_eq!(r.status, status, "{self}: {}", r.text());
        assert!(r.complete, "{self}: the error body is complete");
        assert_eq!(r.header("content-type"), Some("application/json"), "{self}");
        assert_eq!(r.header("content-encoding"), None, "{self}: the error is not compressed");
        let v: Value = serde_json::from_slice(&r.body()).unwrap_or_else(|e| panic!("{self}: error body is not JSON ({e}): {}", r.text()));
        self.assert_dialect_error(&v, r);
    }

    /// A 200 stream that carries a terminal error event in the client's dialect.
    fn assert_error_event(&self, r: &StreamedResponse) {
        assert_eq!(r.status, 200, "{self}");
        let events = parse_sse(&r.text());
        let last = events.last().unwrap_or_else(|| panic!("{self}: no event"));
        if self.anthropic() {
            assert_eq!(last.event.as_deref(), Some("error"), "{self}: {}", r.text());
        }
        self.assert_dialect_error(&last.json().unwrap_or_default(), r);
    }

    /// A 200 that the gateway did not stop, cut when the route timeout struck.
    fn assert_cut(&self, r: &StreamedResponse, started: Instant) {
        assert_eq!(r.status, 200, "{self}: {}", r.text());
        assert!(!r.complete, "{self}: ends cut");
        assert!(started.elapsed() < Duration::from_secs(10), "{self}: bounded by the route timeout");
    }

    fn check(&self, r: &StreamedResponse, started: Instant) {
        let (t, s) = (self.translated, self.stream);
        match self.mode {
            "huge-headers" => self.assert_error_reply(r, 502),
            "gzip" | "brotli" | "html" | "not-json" | "lying-type" if t => self.assert_error_reply(r, 502),
            "bad-utf8" if t && !s => self.assert_error_reply(r, 502),
            // A stream where JSON was asked for: refused at its head.
            "huge-event" | "keepalive" if t && !s => self.assert_error_reply(r, 502),
            "huge-event" if t => self.assert_error_event(r),
            // The head waited for the JSON answer to translate; Envoy's reply to the timeout or the
            // cut then goes straight to the client (it bypasses the filters): Envoy's own text.
            "stall" if t && !s => assert_eq!((r.status, r.text().as_str()), (504, "upstream request timeout"), "{self}"),
            "reset-mid-body" if t && !s => assert_eq!(r.status, 502, "{self}: Envoy's own reply to the cut: {}", r.text()),
            "keepalive" | "stall" | "reset-mid-body" => self.assert_cut(r, started),
            m if m.starts_with("usage-") || m == "bad-utf8" => {
                assert_eq!(r.status, 200, "{self}: {}", r.text());
                assert!(r.complete, "{self}");
                assert!(r.text().contains("deterministic"), "{self}: the answer came through: {}", r.text());
            }
            // In the client's own dialect the provider's bytes pass as they came.
            "gzip" | "brotli" => {
                assert_eq!((r.status, r.header("content-encoding").is_some()), (200, true), "{self}");
            }
            "huge-event" => {
                assert_eq!(r.status, 200, "{self}");
                assert!(r.complete && r.body().len() > HUGE_EVENT_BYTES, "{self}: passed whole");
            }
            "html" | "not-json" | "lying-type" => {
                assert_eq!(r.status, 200, "{self}");
                assert!(r.complete, "{self}");
            }
            other => panic!("no expectation for {other}"),
        }
    }
}

impl std::fmt::Display for Case<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.translated { "translated" } else { "native" };
        let shape = if self.stream { "stream" } else { "json" };
        write!(f, "{} on {} ({how}, {shape})", self.mode, self.path)
    }
}

/// Every mode in `modes` × door × own/translated model × JSON/stream, each mode's eight cases at
/// once; then the gateway must be whole.
fn survive(modes: &[&str]) {
    let mock = MockProvider::start();
    let envoy = gateway(&mock);
    let mut sent = 0;
    for mode in modes {
        std::thread::scope(|s| {
            for (path, own, translated) in DOORS {
                for (model, t) in [(own, false), (translated, true)] {
                    for stream in [false, true] {
                        let envoy = &envoy;
                        s.spawn(move || {
                            let case = Case { mode, path, translated: t, stream };
                            let started = Instant::now();
                            case.check(&call(envoy, path, model, stream, Some(mode)), started);
                        });
                    }
                }
            }
        });
        sent += 8;
    }
    assert_eq!(mock.request_count(), sent, "each case reached the provider once");
    let log = envoy.wait_access_log(sent);
    assert_eq!(log.len(), sent, "every request was logged, cut ones too");
    // The limits settled: nothing in flight, and the token counter holds exactly the metered usage.
    let metered: u64 = log.iter().filter_map(|l| l["total_tokens"].as_str().and_then(|t| t.parse::<u64>().ok())).sum();
    assert!(metered < 100_000, "usage stays plausible: {metered}");
    for (path, own, _) in DOORS {
        let r = call(&envoy, path, own, false, None);
        assert_eq!(r.status, 200, "{path} after the hostile answers: {}", r.text());
        assert!(r.text().contains(ASSISTANT_TEXT), "{}", r.text());
        assert_eq!(r.header("x-ratelimit-remaining-concurrency"), Some((CONCURRENCY - 1).to_string().as_str()), "only this request is in flight");
        if path == "/v1/chat/completions" {
            let estimate = tollgate::usage::estimate_prompt_tokens(&serde_json::from_str(&body(own, false)).unwrap_or_default()) + 16;
            let remaining: u64 = r.header("x-ratelimit-remaining-tokens").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no tokens header"));
            assert_eq!(TOKENS - remaining, metered + estimate, "the counter holds the metered usage and this request's reservation");
        }
    }
    let log = envoy.log();
    for secret in [PROMPT, ASSISTANT_TEXT, "tollgate mock provider", "reply is deterministic"] {
        assert!(!log.contains(secret), "{secret:?} reached Envoy's log:\n{log}");
    }
    assert!(!log.contains("panicked") && !log.contains("wasm trap") && !log.contains("Function: proxy_on"), "the VM failed:\n{log}");
}

#[test]
fn answers_the_gateway_cannot_read_end_in_an_error_in_the_clients_dialect() {
    survive(&["html", "not-json", "gzip", "brotli", "lying-type", "bad-utf8", "huge-headers"]);
}

#[test]
fn streams_that_never_end_never_fit_or_break_are_bounded() {
    survive(&["huge-event", "keepalive", "stall", "reset-mid-body"]);
}

#[test]
fn usage_that_is_negative_huge_fractional_or_text_is_not_charged() {
    survive(&["usage-negative", "usage-huge", "usage-float", "usage-string"]);
}
