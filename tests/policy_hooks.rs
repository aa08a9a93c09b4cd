//! Real-Envoy tests of policy webhooks against a policy service of ours (tests/support/hook_server.rs):
//! a `pre` hook allows, denies (its status and message, in the client's dialect), modifies (the
//! new messages go on through redaction and translation), times out, and fails closed or open as
//! configured; a `post` hook sees the JSON answer and may deny it; metrics per hook.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::envoy::{Envoy, Gateway};
use support::hook_server::{HookServer, Received, Reply};
use support::http_client::{post_json, Response};
use support::mock_provider::*;
use tollgate::keys::Digest;

const EMAIL: &str = "bob.smith@example.com";

/// The policy service: decides by the last user message (pre) or the key (post).
fn policy(r: &Received) -> Reply {
    let v = r.json();
    if v["stage"] == "post" {
        return if v["key_id"] == "post-deny" { Reply::ok(r#"{"action": "deny", "message": "The answer breaks policy P-7."}"#) } else { Reply::ok(r#"{"action": "allow"}"#) };
    }
    let text = v["request"]["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or_default().to_string();
    match text.as_str() {
        "please deny" => Reply::ok(r#"{"action": "deny", "status": 451, "message": "Topic not allowed here."}"#),
        "please modify" => Reply::ok(&json!({"action": "modify", "messages": [{"role": "user", "content": format!("Rewritten: write to {EMAIL}")}]}).to_string()),
        "please sleep" => Reply { status: 200, body: r#"{"action": "allow"}"#.into(), delay: Duration::from_millis(1500) },
        "please break" => Reply { status: 500, body: "oops".into(), delay: Duration::ZERO },
        _ => Reply::ok(r#"{"action": "allow"}"#),
    }
}

struct Setup {
    envoy: Envoy,
    openai: MockProvider,
    anthropic: MockProvider,
    service: HookServer,
}

fn setup() -> Setup {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let service = HookServer::start(policy);
    let keys: Vec<String> = ["closed", "open", "post-deny", "post-allow"]
        .iter()
        .map(|id| format!(r#"{{"id": "{id}", "tenant": "t", "digests": ["{}"]}}"#, Digest::of(format!("sk-{id}").as_bytes())))
        .collect();
    let config = format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}}, {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}}],
            "models": [{{"name": "gpt-*", "targets": [{{"provider": "openai"}}]}}, {{"name": "claude-*", "targets": [{{"provider": "anthropic"}}]}}],
            "keys": [{}],
            "redaction": {{"enabled": true}},
            "policy_hooks": [
              {{"id": "strict", "stage": "pre", "cluster": "policy", "path": "/pre", "timeout_ms": 300, "keys": ["closed"]}},
              {{"id": "lenient", "stage": "pre", "cluster": "policy", "path": "/pre", "timeout_ms": 300, "failure_mode": "open", "keys": ["open"]}},
              {{"id": "audit", "stage": "post", "cluster": "policy", "path": "/post", "timeout_ms": 300, "keys": ["post-deny", "post-allow"]}}]}}"#,
        keys.join(",")
    );
    let clusters = [("openai", openai.port()), ("anthropic", anthropic.port()), ("policy", service.port)];
    let envoy = Envoy::start_with_workers(&Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml(), 2);
    Setup { envoy, openai, anthropic, service }
}

fn chat(s: &Setup, key: &str, model: &str, text: &str) -> Response {
    let body = json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": text}]});
    post_json(s.envoy.port, "/v1/chat/completions", &[("authorization", &format!("Bearer sk-{key}"))], &body).unwrap()
}

fn stat(envoy: &Envoy, name: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let s = envoy.admin(&format!("/stats?filter={name}$")).unwrap_or_default();
        let v = s.lines().find_map(|l| l.split_once(": ").filter(|(k, _)| k.ends_with(name)).and_then(|(_, v)| v.parse().ok())).unwrap_or(0);
        if v > 0 || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_pre_hook_allows_denies_and_modifies() {
    let s = setup();
    let r = chat(&s, "closed", "gpt-4o-mini", "hello");
    assert_eq!(r.status, 200, "{}", r.text());
    let asked = s.service.received();
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].path.as_str(), asked[0].json()["hook"].as_str(), asked[0].json()["key_id"].as_str()), ("/pre", Some("strict"), Some("closed")));
    assert!(!String::from_utf8_lossy(&asked[0].body).contains("sk-closed"), "the client's key never reaches the service");

    let r = chat(&s, "closed", "gpt-4o-mini", "please deny");
    assert_eq!(r.status, 451);
    assert_eq!((r.json()["error"]["code"].as_str(), r.json()["error"]["message"].as_str()), (Some("policy_denied"), Some("Topic not allowed here.")));
    let a = post_json(
        s.envoy.port,
        "/v1/messages",
        &[("x-api-key", "sk-closed"), ("anthropic-version", "2023-06-01")],
        &json!({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "please deny"}]}),
    )
    .unwrap();
    assert_eq!((a.status, a.json()["type"].as_str(), a.json()["error"]["type"].as_str()), (451, Some("error"), Some("permission_error")), "{}", a.text());
    assert_eq!(s.openai.request_count() + s.anthropic.request_count(), 1, "denied requests never reach a provider");

    // Modified messages go on through redaction (the email is masked) and translation (to Anthropic).
    let r = chat(&s, "closed", "claude-sonnet-4-5", "please modify");
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = s.anthropic.last_request().unwrap();
    let body = sent.body_text();
    assert!(body.contains("Rewritten: write to [EMAIL_1]"), "{body}");
    assert!(!body.contains(EMAIL) && !body.contains("please modify"), "{body}");
    assert!(sent.json()["max_tokens"].is_u64(), "Anthropic's shape: {body}");
    assert_eq!(stat(&s.envoy, "tollgate.hook.strict.calls"), 4);
    assert_eq!(stat(&s.envoy, "tollgate.hook.strict.denials"), 2);
    assert_eq!(stat(&s.envoy, "tollgate.hook.strict.modifications"), 1);
    let prom = s.envoy.admin("/stats/prometheus").unwrap();
    assert!(prom.contains("tollgate_hook_strict_latency_ms_bucket"), "latency histogram: {}", prom.lines().filter(|l| l.contains("hook")).collect::<Vec<_>>().join("\n"));
}

#[test]
fn timeouts_and_failures_follow_failure_mode() {
    let s = setup();
    for text in ["please sleep", "please break"] {
        let t = Instant::now();
        let r = chat(&s, "closed", "gpt-4o-mini", text);
        let took = t.elapsed();
        assert_eq!((r.status, r.json()["error"]["code"].as_str()), (503, Some("policy_unavailable")), "{text}: closed");
        assert!(took < Duration::from_millis(1000), "{text}: waited {took:?} for a 300 ms timeout");
        let t = Instant::now();
        let r = chat(&s, "open", "gpt-4o-mini", text);
        assert_eq!(r.status, 200, "{text}: open lets it through: {}", r.text());
        assert!(t.elapsed() < Duration::from_millis(1000));
    }
    assert_eq!(stat(&s.envoy, "tollgate.hook.strict.timeouts"), 1);
    assert_eq!(stat(&s.envoy, "tollgate.hook.strict.failures"), 1);
    assert_eq!(stat(&s.envoy, "tollgate.hook.lenient.timeouts"), 1);
    assert_eq!(s.openai.request_count(), 2, "only the open hook's requests went on");
}

#[test]
fn a_post_hook_sees_the_json_answer_and_may_deny_it() {
    let s = setup();
    let r = chat(&s, "post-allow", "gpt-4o-mini", "hi");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    let r = chat(&s, "post-deny", "gpt-4o-mini", "hi");
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (403, Some("policy_denied")), "{}", r.text());
    assert_eq!(r.json()["error"]["message"], "The answer breaks policy P-7.");
    let posts: Vec<Received> = s.service.received().into_iter().filter(|r| r.path == "/post").collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].json()["response"]["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(stat(&s.envoy, "tollgate.hook.audit.denials"), 1);
    // A stream is not held (even for a key whose answers the service denies): its assembled text goes
    // to the hook at the end, as audit only.
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let r = post_json(s.envoy.port, "/v1/chat/completions", &[("authorization", "Bearer sk-post-deny")], &body).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("data: [DONE]"));
    let got = s.service.wait_for(5, Duration::from_secs(5));
    let audit = got.iter().rev().find(|r| r.path == "/post").unwrap().json();
    assert_eq!((audit["stream"].as_bool(), audit["text"].as_str()), (Some(true), Some(STREAM_TEXT_PIECES.concat().as_str())));
}
