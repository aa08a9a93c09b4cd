//! The filter's SigV4 signatures against botocore's own signer (`SigV4Auth`, from PyPI, pinned
//! in the Makefile's PY_TOOLS) on the same requests: Bedrock paths with encoded model ids and
//! ARNs, queries, temporary credentials, and the bodies tollgate itself writes (a chat request
//! translated for Bedrock's InvokeModel, a Messages request fitted to it) — signed as the filter
//! signs them, from the plan's path, authority and body. scripts/sigv4_botocore.py compares.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use tollgate::api::Endpoint;
use tollgate::gateway::{plan, Admission, Identity};
use tollgate::sign::sigv4::{sign_request, Keys, Scope};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn case(name: &str, keys: &Keys<'_>, region: &str, now: u64, host: &str, path: &str, body: &[u8]) -> Value {
    let h = sign_request(keys, Scope { region, service: "bedrock" }, now, "POST", host, path, body);
    let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
    json!({"name": name, "method": "POST", "host": host, "path": path, "body_hex": hex, "region": region, "service": "bedrock",
        "access_key_id": keys.access_key_id, "secret_access_key": keys.secret_access_key, "session_token": keys.session_token,
        "amz_date": h.amz_date, "authorization": h.authorization})
}

#[test]
fn signatures_match_botocore() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let keys = Keys { access_key_id: "AKIDEXAMPLE", secret_access_key: SECRET, session_token: None };
    let temporary = Keys { session_token: Some("FwoGZXIvYXdzEDcaDOn+/token=="), ..keys };
    let host = "bedrock-runtime.us-east-1.amazonaws.com";
    let mut cases = vec![
        case("invoke", &keys, "us-east-1", 1_765_000_000, host, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke", br#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}"#),
        case("stream-with-session-token", &temporary, "us-east-1", 1_765_000_001, host, "/model/us.anthropic.claude-sonnet-4-5/invoke-with-response-stream", b"{}"),
        case("arn", &keys, "eu-west-3", 1_700_000_000, "bedrock-runtime.eu-west-3.amazonaws.com", "/model/arn%3Aaws%3Abedrock%3Aeu-west-3%3A123456789012%3Ainference-profile%2Feu.anthropic.claude/converse", b"{\"messages\":[]}"),
        case("query-and-unicode-body", &keys, "us-west-2", 1_600_000_000, "localhost:10000", "/model/m/converse?b=2&a=1&a=%20x", "{\"text\":\"naïve ☃\"}".as_bytes()),
        case("empty-body", &keys, "us-east-1", 0, host, "/model/m/invoke", b""),
    ];
    // The bodies tollgate writes: a chat request translated through the hub, and a Messages
    // request fitted to InvokeModel, signed from the plan as the filter does.
    let config = tollgate::config::parse(
        br#"{"auth": {"mode": "none"}, "providers": [{"name": "bedrock", "kind": "bedrock", "cluster": "c", "region": "us-east-1"}],
            "models": [{"name": "claude", "targets": [{"provider": "bedrock", "model": "anthropic.claude-3-haiku-20240307-v1:0"}]}]}"#,
        &|k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
            "AWS_SECRET_ACCESS_KEY" => Some(SECRET.into()),
            _ => None,
        },
    )
    .unwrap();
    for (name, endpoint, body) in [
        ("translated-chat", Endpoint::ChatCompletions, r#"{"model": "claude", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "My card is 4111 1111 1111 1111 — naïve?"}], "max_tokens": 64}"#),
        ("translated-chat-stream", Endpoint::ChatCompletions, r#"{"model": "claude", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#),
        ("fitted-messages", Endpoint::Messages, r#"{"model": "claude", "max_tokens": 9, "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#),
    ] {
        let p = plan(&config, &Admission { endpoint, identity: Identity::Anonymous, beta: false }, body.as_bytes(), 0).unwrap();
        let sent = p.body.clone().unwrap_or_else(|| body.as_bytes().to_vec());
        assert_ne!(sent, body.as_bytes(), "{name}: tollgate rewrote the body");
        cases.push(case(name, &keys, "us-east-1", 1_765_432_100, p.authority.as_deref().unwrap(), &p.path, &sent));
    }
    let file = std::env::temp_dir().join(format!("tollgate-sigv4-cases-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&cases).unwrap()).unwrap();
    let out = Command::new(root.join(".venv/bin/python")).arg(root.join("scripts/sigv4_botocore.py")).arg(&file).output().expect("the project's .venv (make py-tools)");
    let _ = std::fs::remove_file(&file);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("{n}/{n} signatures match botocore", n = cases.len())), "{text}");
}
