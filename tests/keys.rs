//! Real-Envoy tests of virtual keys: SDK header forms, rejections that never reach the provider,
//! per-key model allow-lists, credential injection per provider, `/v1/models`, and the
//! accounting hook (filter state in the access log).

mod support;

use support::envoy::{Envoy, Gateway};
use support::http_client::{get, post_json, request};
use support::mock_provider::MockProvider;
use tollgate::keys::Digest;

const OPENAI_SECRET: &str = "sk-test-openai-0123456789abcdef";
const AZURE_SECRET: &str = "azure-test-secret-9876543210";
const ANTHROPIC_SECRET: &str = "sk-ant-test-secret-abcdef";

struct Setup {
    openai: MockProvider,
    azure: MockProvider,
    anthropic: MockProvider,
    envoy: Envoy,
}

fn setup() -> Setup {
    let (openai, azure, anthropic) = (MockProvider::start(), MockProvider::start(), MockProvider::start());
    let config = format!(
        r#"{{
        "providers": [
            {{"name": "openai", "kind": "openai", "cluster": "openai", "host": "api.openai.com", "api_key_env": "TEST_OPENAI_KEY"}},
            {{"name": "azure", "kind": "azure", "cluster": "azure", "host": "example.openai.azure.com", "api_version": "2024-10-21", "api_key_env": "TEST_AZURE_KEY"}},
            {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic", "host": "api.anthropic.com", "api_key_env": "TEST_ANTHROPIC_KEY"}}
        ],
        "models": [
            {{"name": "gpt-4o-mini", "targets": [{{"provider": "openai"}}]}},
            {{"name": "gpt-4o", "targets": [{{"provider": "openai"}}]}},
            {{"name": "azure-gpt", "targets": [{{"provider": "azure", "model": "my-deployment"}}]}},
            {{"name": "claude-*", "targets": [{{"provider": "anthropic"}}]}}
        ],
        "auth": {{"tenant_header": "x-tollgate-tenant"}},
        "keys": [
            {{"id": "team-a", "tenant": "acme", "digests": ["{a_old}", "{a_new}"], "models": ["gpt-4o-mini", "azure-gpt", "claude-*"], "labels": {{"cost_center": "42"}}}},
            {{"id": "team-b", "tenant": "globex", "digests": ["{b}"], "models": ["*"]}},
            {{"id": "off", "digests": ["{off}"], "disabled": true}},
            {{"id": "old", "digests": ["{old}"], "expires_at": "2020-01-01T00:00:00Z"}},
            {{"id": "future", "digests": ["{future}"], "not_before": "2999-01-01T00:00:00Z"}}
        ]}}"#,
        a_old = Digest::of(b"tg-team-a-old"),
        a_new = Digest::of(b"tg-team-a-new"),
        b = Digest::of(b"tg-team-b"),
        off = Digest::of(b"tg-disabled"),
        old = Digest::of(b"tg-expired"),
        future = Digest::of(b"tg-future"),
    );
    let clusters = [("openai", openai.port()), ("azure", azure.port()), ("anthropic", anthropic.port())];
    let yaml = Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &["TEST_OPENAI_KEY", "TEST_AZURE_KEY", "TEST_ANTHROPIC_KEY"] }.yaml();
    let env = [("TEST_OPENAI_KEY", OPENAI_SECRET), ("TEST_AZURE_KEY", AZURE_SECRET), ("TEST_ANTHROPIC_KEY", ANTHROPIC_SECRET)];
    let envoy = Envoy::start_with_env(&yaml, &env);
    Setup { openai, azure, anthropic, envoy }
}

fn chat(model: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

fn anthropic_msg(model: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn a_key_header_that_is_not_utf8_is_still_stripped() {
    let s = setup();
    let body = chat("gpt-4o-mini").to_string();
    let mut req = format!("POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer tg-team-a-new\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-api-key: tg-", body.len()).into_bytes();
    req.extend_from_slice(b"\xff\xfe-secret\r\n\r\n");
    req.extend_from_slice(body.as_bytes());
    let out = String::from_utf8_lossy(&support::http_client::raw(s.envoy.port, &req, std::time::Duration::from_secs(5)).unwrap()).to_string();
    // Envoy may refuse the byte itself; if it lets it through, the provider must not see it.
    if out.starts_with("HTTP/1.1 200") {
        let seen = s.openai.last_request().unwrap();
        assert_eq!(seen.header("x-api-key"), None, "a non-UTF-8 credential header reached the provider");
    } else {
        assert!(out.starts_with("HTTP/1.1 400") && s.openai.last_request().is_none(), "{out}");
    }
}

#[test]
fn sdk_header_forms_are_accepted_and_stripped() {
    let s = setup();
    let forms: [(&str, &str); 4] = [
        ("authorization", "Bearer tg-team-a-old"), // OpenAI SDK
        ("authorization", "Bearer tg-team-a-new"), // rotated key, same id
        ("x-api-key", "tg-team-a-new"),            // Anthropic SDK
        ("api-key", "tg-team-a-new"),              // Azure SDK
    ];
    for (h, v) in forms {
        let r = post_json(s.envoy.port, "/v1/chat/completions", &[(h, v)], &chat("gpt-4o-mini")).unwrap();
        assert_eq!(r.status, 200, "{h}: {}", r.text());
        let seen = s.openai.last_request().unwrap();
        assert_eq!(seen.header("authorization"), Some(format!("Bearer {OPENAI_SECRET}").as_str()), "provider key injected");
        assert_eq!(seen.header("x-api-key"), None);
        assert_eq!(seen.header("api-key"), None);
        assert_eq!(seen.header(":authority").or(seen.header("host")), Some("api.openai.com"));
        assert_eq!(seen.header("x-tollgate-tenant"), Some("acme"));
        assert_eq!(seen.header("x-tollgate-cluster"), Some("openai"));
    }
    let log = s.envoy.wait_access_log(4);
    assert!(log.iter().all(|l| l["key_id"] == "team-a" && l["tenant"] == "acme"), "{log:?}");
}

#[test]
fn credentials_are_injected_in_each_providers_form() {
    let s = setup();
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[("api-key", "tg-team-a-new")], &chat("azure-gpt")).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = s.azure.last_request().unwrap();
    assert_eq!(seen.path, "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21");
    assert_eq!(seen.header("api-key"), Some(AZURE_SECRET));
    assert_eq!(seen.header("authorization"), None);
    // The route's model is spliced into the client's body, every other byte as it came.
    let sent = chat("azure-gpt").to_string();
    assert_eq!(String::from_utf8_lossy(&seen.body), sent.replace("\"azure-gpt\"", "\"my-deployment\""));

    let r = post_json(s.envoy.port, "/v1/messages", &[("x-api-key", "tg-team-a-new"), ("anthropic-version", "2023-06-01")], &anthropic_msg("claude-sonnet-4-5")).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = s.anthropic.last_request().unwrap();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some(ANTHROPIC_SECRET));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
}

#[test]
fn invalid_keys_get_401_and_never_reach_the_provider() {
    let s = setup();
    let cases: [Option<(&str, &str)>; 6] = [
        None,
        Some(("authorization", "Bearer tg-unknown")),
        Some(("authorization", "Bearer tg-disabled")),
        Some(("authorization", "Bearer tg-expired")),
        Some(("x-api-key", "tg-future")),
        Some(("authorization", "Basic dGc6dGc=")),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for c in cases {
        let headers: Vec<(&str, &str)> = c.into_iter().collect();
        let r = post_json(s.envoy.port, "/v1/chat/completions", &headers, &chat("gpt-4o-mini")).unwrap();
        assert_eq!(r.status, 401, "{c:?}");
        let e = r.json();
        assert_eq!(e["error"]["code"], "invalid_api_key");
        assert_eq!(e["error"]["type"], "authentication_error");
        assert!(e["error"].as_object().unwrap().contains_key("param"));
        if c.is_some_and(|(_, v)| !v.starts_with("Basic")) {
            messages.insert(e["error"]["message"].as_str().unwrap().to_string());
        }
        // Anthropic front door: Anthropic's error shape.
        let r = post_json(s.envoy.port, "/v1/messages", &headers, &anthropic_msg("claude-sonnet-4-5")).unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["type"], "error");
        assert_eq!(r.json()["error"]["type"], "authentication_error");
    }
    assert_eq!(messages.len(), 1, "unknown, disabled, expired and future keys look alike: {messages:?}");
    assert_eq!(s.openai.request_count() + s.anthropic.request_count() + s.azure.request_count(), 0);
}

#[test]
fn model_not_allowed_gets_403() {
    let s = setup();
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[("authorization", "Bearer tg-team-a-new")], &chat("gpt-4o")).unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "model_not_allowed");
    assert_eq!(r.json()["error"]["param"], "model");
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[("authorization", "Bearer tg-team-a-new")], &chat("no-such-model")).unwrap();
    assert_eq!(r.status, 403, "a model outside the allow-list is 403 whether or not it exists");
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[("authorization", "Bearer tg-team-b")], &chat("no-such-model")).unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (404, Some("model_not_found")));
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[("authorization", "Bearer tg-team-b")], &chat("gpt-4o")).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s.openai.request_count(), 1);
}

#[test]
fn models_endpoint_lists_what_the_key_may_use() {
    let s = setup();
    let r = request(s.envoy.port, "GET", "/v1/models", &[("authorization", "Bearer tg-team-a-old")], b"").unwrap();
    assert_eq!(r.status, 200);
    let ids: Vec<String> = r.json()["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["gpt-4o-mini", "azure-gpt"]);
    let r = request(s.envoy.port, "GET", "/v1/models", &[("authorization", "Bearer tg-team-b")], b"").unwrap();
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 3);
    assert_eq!(get(s.envoy.port, "/v1/models").unwrap().status, 401);
    assert_eq!(s.openai.request_count(), 0);
}

#[test]
fn provider_keys_never_leak() {
    let s = setup();
    let mut bodies = String::new();
    for (path, model, key) in [
        ("/v1/chat/completions", "gpt-4o-mini", "Bearer tg-team-a-new"),
        ("/v1/chat/completions", "gpt-4o", "Bearer tg-team-a-new"),
        ("/v1/chat/completions", "gpt-4o-mini", "Bearer wrong"),
        ("/v1/messages", "claude-x", "Bearer tg-team-b"),
    ] {
        let r = post_json(s.envoy.port, path, &[("authorization", key)], &anthropic_msg(model)).unwrap();
        bodies.push_str(&format!("{:?}{}", r.headers, r.text()));
    }
    bodies.push_str(&s.envoy.admin("/stats").unwrap_or_default());
    bodies.push_str(&s.envoy.admin("/config_dump").unwrap_or_default());
    let log = s.envoy.log();
    for secret in [OPENAI_SECRET, AZURE_SECRET, ANTHROPIC_SECRET, "tg-team-a-new", "tg-team-b"] {
        assert!(!log.contains(secret), "{secret} in the Envoy log");
        assert!(!bodies.contains(secret), "{secret} in a response, stats or config dump");
    }
}
