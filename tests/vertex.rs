//! Google Vertex AI through a real Envoy: Gemini (`generateContent`, `streamGenerateContent`)
//! and Anthropic (`rawPredict`, `streamRawPredict`) models, chat and Messages clients, with
//! OAuth access tokens the filter fetches from a metadata server (tests/support/gce_metadata.rs,
//! following Google's documented behaviour) through a `dispatch_http_call`: shared by Envoy's
//! workers, refreshed when they expire and after a 401; and the static-token and express-mode
//! API-key credentials.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::envoy::{Envoy, Gateway};
use support::gce_metadata::Metadata;
use support::http_client::{post_json, request_streamed};
use support::mock_provider::cloud::MOCK_VERTEX_API_KEY;
use support::mock_provider::*;

fn config(credentials: &str) -> String {
    format!(
        r#"{{"auth": {{"mode": "none"}},
  "providers": [{{"name": "vertex", "kind": "vertex", "cluster": "vertex", "region": "us-east5", "project": "acme-ai"{credentials}}}],
  "models": [{{"name": "gemini", "targets": [{{"provider": "vertex", "model": "gemini-2.5-flash"}}]}},
             {{"name": "claude", "targets": [{{"provider": "vertex", "model": "claude-sonnet-4-5@20250929"}}]}}]}}"#
    )
}

fn gateway(config: &str, mock: &MockProvider, metadata_port: u16, env: &[(&str, &str)]) -> Envoy {
    let keys: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
    let yaml = Gateway { config, clusters: &[("vertex", mock.port()), ("gce_metadata", metadata_port)], pre_filters: "", env_keys: &keys }.yaml();
    Envoy::start_with_env(&yaml, env)
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Say hello."}]})
}

fn messages(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "Say hello."}]})
}

fn streamed_text(port: u16, path: &str, body: &Value) -> String {
    let r = request_streamed(port, "POST", path, &[("content-type", "application/json")], body.to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.sse_events()
        .iter()
        .filter_map(|e| e.json())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().or(c["delta"]["text"].as_str()).map(str::to_string))
        .collect()
}

fn bearer(mock: &MockProvider) -> String {
    mock.last_request().unwrap().header("authorization").unwrap_or_default().to_string()
}

#[test]
fn gemini_and_anthropic_on_vertex_with_metadata_tokens() {
    let mock = MockProvider::start();
    let metadata = Metadata::start(3599);
    let envoy = gateway(&config(""), &mock, metadata.port, &[]);
    let port = envoy.port;
    let base = "/v1/projects/acme-ai/locations/us-east5/publishers";

    let r = post_json(port, "/v1/chat/completions", &[], &chat("gemini", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, format!("{base}/google/models/gemini-2.5-flash:generateContent"));
    assert_eq!(seen.header("authorization"), Some("Bearer ya29.mock-1"));
    assert_eq!(seen.header("host"), Some("us-east5-aiplatform.googleapis.com"));

    assert_eq!(streamed_text(port, "/v1/chat/completions", &chat("gemini", true)), ASSISTANT_TEXT);
    assert_eq!(mock.last_request().unwrap().path, format!("{base}/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"));

    let r = post_json(port, "/v1/messages", &[], &messages("claude", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["content"][0]["text"], ASSISTANT_TEXT);
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, format!("{base}/anthropic/models/claude-sonnet-4-5%4020250929:rawPredict"));
    assert_eq!(seen.json()["anthropic_version"], "vertex-2023-10-16");

    assert_eq!(streamed_text(port, "/v1/messages", &messages("claude", true)), ASSISTANT_TEXT);
    assert!(mock.last_request().unwrap().path.ends_with(":streamRawPredict"));
    assert_eq!(streamed_text(port, "/v1/chat/completions", &chat("claude", true)), ASSISTANT_TEXT);

    // One token served every request, on every worker; the metadata server saw the header.
    assert_eq!((metadata.issued(), metadata.refused()), (1, 0));
    assert!(mock.requests().iter().all(|r| r.header("authorization") == Some("Bearer ya29.mock-1")));
}

#[test]
fn tokens_refresh_on_expiry_ahead_of_it_and_after_a_401() {
    let mock = MockProvider::start();
    // 31 s: usable for one second (the last 30 are never used).
    let metadata = Metadata::start(31);
    let envoy = gateway(&config(""), &mock, metadata.port, &[]);
    let port = envoy.port;
    assert_eq!(post_json(port, "/v1/chat/completions", &[], &chat("gemini", false)).unwrap().status, 200);
    assert_eq!(bearer(&mock), "Bearer ya29.mock-1");
    std::thread::sleep(Duration::from_millis(2100));
    // Expired: the request waits for a new token.
    metadata.set_expires_in(3599);
    assert_eq!(post_json(port, "/v1/chat/completions", &[], &chat("gemini", false)).unwrap().status, 200);
    assert_eq!((bearer(&mock).as_str(), metadata.issued()), ("Bearer ya29.mock-2", 2));

    // Vertex refuses the token: the client sees the 401, the next request has a new token.
    let r = post_json(port, "/v1/chat/completions", &[(H_STATUS, "401")], &chat("gemini", false)).unwrap();
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(post_json(port, "/v1/chat/completions", &[], &chat("gemini", false)).unwrap().status, 200);
    assert_eq!((bearer(&mock).as_str(), metadata.issued()), ("Bearer ya29.mock-3", 3));

    // Ahead of expiry: a token with 200 s left is used while the next one is fetched.
    drop(envoy);
    let metadata = Metadata::start(200);
    let envoy = gateway(&config(""), &mock, metadata.port, &[]);
    assert_eq!(post_json(envoy.port, "/v1/messages", &[], &messages("claude", false)).unwrap().status, 200);
    metadata.set_expires_in(3599);
    // (The refresh rides on this request: a slow answer lets it land first.)
    assert_eq!(post_json(envoy.port, "/v1/messages", &[(H_DELAY_MS, "500")], &messages("claude", false)).unwrap().status, 200);
    assert_eq!(bearer(&mock), "Bearer ya29.mock-1", "still the first token, a refresh sent meanwhile");
    assert!(wait_until(|| metadata.issued() == 2));
    assert!(wait_until(|| {
        post_json(envoy.port, "/v1/messages", &[], &messages("claude", false)).unwrap();
        bearer(&mock) == "Bearer ya29.mock-2"
    }));
}

fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..50 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn no_metadata_server_is_a_clear_503_never_an_unsigned_request() {
    let mock = MockProvider::start();
    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let envoy = gateway(&config(""), &mock, closed, &[]);
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &chat("gemini", false)).unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("metadata server"));
    assert_eq!(mock.request_count(), 0, "nothing reached Vertex");
}

#[test]
fn static_tokens_and_express_mode_api_keys() {
    let mock = MockProvider::start();
    let envoy = gateway(&config(r#", "credentials": "token", "api_key_env": "VERTEX_TOKEN""#), &mock, 1, &[("VERTEX_TOKEN", "ya29.static")]);
    assert_eq!(post_json(envoy.port, "/v1/chat/completions", &[], &chat("gemini", false)).unwrap().status, 200);
    assert_eq!(bearer(&mock), "Bearer ya29.static");
    drop(envoy);
    let envoy = gateway(&config(r#", "credentials": "api_key", "api_key_env": "VERTEX_API_KEY""#), &mock, 1, &[("VERTEX_API_KEY", MOCK_VERTEX_API_KEY)]);
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &chat("gemini", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = mock.last_request().unwrap();
    assert_eq!((seen.path.as_str(), seen.header("x-goog-api-key")), ("/v1/publishers/google/models/gemini-2.5-flash:generateContent", Some(MOCK_VERTEX_API_KEY)));
    assert_eq!(seen.header("authorization"), None);
}
