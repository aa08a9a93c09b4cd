//! Auth mode `jwt` in a real Envoy: `envoy.filters.http.jwt_authn` verifies an RS256 token
//! (key pair made with the `openssl` CLI at test time), puts its payload in dynamic metadata,
//! and tollgate maps a claim (a string `sub`, or a list-valued `groups`) to a key policy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, request, Response};
use support::mock_provider::{MockProvider, ASSISTANT_TEXT};

const ISSUER: &str = "https://issuer.tollgate.test";
const AUDIENCE: &str = "tollgate";
const CHAT: &str = "/v1/chat/completions";

// ---------------------------------------------------------------- signing with the openssl CLI

fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    let hex = if hex.len() % 2 == 1 { format!("0{hex}") } else { hex.to_string() };
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run openssl (needed to make test JWTs): {e}"));
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// An RSA private key (PEM, in memory) and its public half as a JWKS.
struct Signer {
    pem: Vec<u8>,
    jwks: String,
}

impl Signer {
    /// One key pair per test process (generating RSA keys is the slow part).
    fn get() -> &'static Signer {
        static SIGNER: OnceLock<Signer> = OnceLock::new();
        SIGNER.get_or_init(|| {
            let pem = openssl(&["genrsa", "2048"], None);
            let modulus = String::from_utf8(openssl(&["rsa", "-noout", "-modulus"], Some(&pem))).unwrap();
            let n = hex_bytes(modulus.trim().strip_prefix("Modulus=").expect("openssl rsa -modulus output"));
            let text = String::from_utf8(openssl(&["rsa", "-noout", "-text"], Some(&pem))).unwrap();
            assert!(text.contains("publicExponent: 65537"), "unexpected exponent:\n{text}");
            let jwks = json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "test", "n": b64url(&n), "e": b64url(&[1, 0, 1])}]});
            Signer { pem, jwks: jwks.to_string() }
        })
    }

    /// An RS256 compact JWS over `claims`. `openssl dgst -sign` wants the key in a file: it lives
    /// in a scratch dir only for the call.
    fn sign(&self, claims: &Value) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let header = b64url(json!({"alg": "RS256", "typ": "JWT", "kid": "test"}).to_string().as_bytes());
        let input = format!("{header}.{}", b64url(claims.to_string().as_bytes()));
        let dir = std::env::temp_dir().join(format!("tollgate-jwt-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.pem");
        std::fs::write(&key, &self.pem).unwrap();
        let sig = openssl(&["dgst", "-sha256", "-sign", key.to_str().unwrap()], Some(input.as_bytes()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(sig.len(), 256);
        format!("{input}.{}", b64url(&sig))
    }

    /// A valid token (issuer, audience, an hour left) with `extra` claims.
    fn token(&self, extra: Value) -> String {
        let mut claims = json!({"iss": ISSUER, "aud": AUDIENCE, "iat": now() - 10, "exp": now() + 3600});
        claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        self.sign(&claims)
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

// ---------------------------------------------------------------- gateway

/// jwt_authn requiring a token from our issuer on every path, payload into metadata, token not forwarded.
fn jwt_filter(jwks: &str) -> String {
    let jwks = serde_json::to_string(jwks).unwrap();
    format!(
        r#"          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                test:
                  issuer: {ISSUER}
                  audiences: [{AUDIENCE}]
                  local_jwks: {{ inline_string: {jwks} }}
                  payload_in_metadata: jwt_payload
                  forward: false
              rules:
              - match: {{ prefix: "/" }}
                requires: {{ provider_name: test }}
"#
    )
}

fn gateway(mock: &MockProvider, claim: &str, keys: Value) -> Envoy {
    let config = json!({
        "providers": [{"name": "mock", "kind": "openai", "cluster": "mock"}],
        "models": [{"name": "*", "targets": [{"provider": "mock"}]}],
        "auth": {"mode": "jwt", "jwt": {"filter": "envoy.filters.http.jwt_authn", "payload_key": "jwt_payload", "claim": claim}},
        "keys": keys,
    })
    .to_string();
    let pre = jwt_filter(&Signer::get().jwks);
    Envoy::start(&Gateway { config: &config, clusters: &[("mock", mock.port())], pre_filters: &pre, env_keys: &[] }.yaml())
}

fn chat(envoy: &Envoy, token: &str, model: &str) -> Response {
    let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    post_json(envoy.port, CHAT, &[("authorization", &format!("Bearer {token}"))], &body).unwrap()
}

fn error_code(r: &Response) -> Option<String> {
    serde_json::from_slice::<Value>(&r.body).ok()?["error"]["code"].as_str().map(str::to_string)
}

/// A rejection by jwt_authn itself: 401, and not tollgate's JSON error.
fn assert_jwt_authn_401(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text());
    assert_eq!(error_code(r), None, "{what} must be refused by jwt_authn before tollgate: {}", r.text());
}

/// The first `n` access-log lines. Envoy buffers access-log writes for up to
/// `--file-flush-interval-msec` (10 s by default); `POST /reopen_logs` flushes them now.
fn access_log(envoy: &Envoy, n: usize) -> Vec<Value> {
    let r = request(envoy.admin_port, "POST", "/reopen_logs", &[], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    envoy.wait_access_log(n)
}

// ---------------------------------------------------------------- tests

#[test]
fn string_sub_claim_maps_to_a_key_policy() {
    let signer = Signer::get();
    let mock = MockProvider::start();
    let keys = json!([{"id": "alice", "tenant": "t1", "principals": ["alice@example.com"], "models": ["gpt-4o-mini"]}]);
    let envoy = gateway(&mock, "sub", keys);

    // Refused cases first: the provider must never see them.
    let r = chat(&envoy, &signer.token(json!({"sub": "mallory@example.com"})), "gpt-4o-mini");
    assert_eq!((r.status, error_code(&r).as_deref()), (401, Some("invalid_api_key")), "unmapped sub: {}", r.text());

    let r = chat(&envoy, &signer.token(json!({"sub": "alice@example.com"})), "gpt-4o");
    assert_eq!((r.status, error_code(&r).as_deref()), (403, Some("model_not_allowed")), "model outside the policy: {}", r.text());

    let mut claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@example.com", "iat": now() - 7200, "exp": now() - 3600});
    assert_jwt_authn_401(&chat(&envoy, &signer.sign(&claims), "gpt-4o-mini"), "expired token");

    claims["exp"] = json!(now() + 3600);
    let good = signer.sign(&claims);
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = b64url(json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@example.com", "exp": now() + 3600, "admin": true}).to_string().as_bytes());
    let forged = format!("{}.{tampered}.{}", parts[0], parts[2]);
    assert_jwt_authn_401(&chat(&envoy, &forged, "gpt-4o-mini"), "token with a bad signature");

    let body = json!({"model": "gpt-4o-mini", "messages": []});
    assert_jwt_authn_401(&post_json(envoy.port, CHAT, &[], &body).unwrap(), "no token");

    assert_eq!(mock.request_count(), 0, "no refused request may reach the provider");

    // The mapped identity gets through.
    let r = chat(&envoy, &good, "gpt-4o-mini");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(mock.request_count(), 1);
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.header("authorization"), None, "forward: false keeps the JWT from the provider");
    let log = access_log(&envoy, 6);
    assert_eq!(log.len(), 6, "every request is logged: {log:?}");
    let last = log.iter().find(|l| l["status"] == 200).unwrap_or_else(|| panic!("no 200 in access log: {log:?}"));
    assert_eq!(last["key_id"], "alice");
    assert_eq!(last["tenant"], "t1");
    assert_eq!(last["model"], "gpt-4o-mini");
    assert!(!envoy.log().contains("panicked"));
}

#[test]
fn list_valued_groups_claim_maps_to_a_key_policy() {
    let signer = Signer::get();
    let mock = MockProvider::start();
    let keys = json!([
        {"id": "admins", "tenant": "ops", "principals": ["admins"]},
        {"id": "auditors", "principals": ["auditors"], "models": ["none-such"]},
    ]);
    let envoy = gateway(&mock, "groups", keys);

    let r = chat(&envoy, &signer.token(json!({"sub": "bob", "groups": ["guests", "nobody"]})), "gpt-4o-mini");
    assert_eq!((r.status, error_code(&r).as_deref()), (401, Some("invalid_api_key")), "no group maps: {}", r.text());
    let r = chat(&envoy, &signer.token(json!({"sub": "bob"})), "gpt-4o-mini");
    assert_eq!((r.status, error_code(&r).as_deref()), (401, Some("invalid_api_key")), "no groups claim: {}", r.text());
    let r = chat(&envoy, &signer.token(json!({"sub": "carol", "groups": ["auditors"]})), "gpt-4o-mini");
    assert_eq!((r.status, error_code(&r).as_deref()), (403, Some("model_not_allowed")), "auditors may not use it: {}", r.text());
    assert_eq!(mock.request_count(), 0);

    // A later element of the list maps; so does a single-element list.
    for (i, groups) in [json!(["dev", "admins"]), json!(["admins"])].into_iter().enumerate() {
        let r = chat(&envoy, &signer.token(json!({"sub": "bob", "groups": groups})), "gpt-4o-mini");
        assert_eq!(r.status, 200, "groups {groups}: {}", r.text());
        assert_eq!(mock.request_count(), i + 1);
        assert_eq!(mock.last_request().unwrap().header("authorization"), None);
    }
    let log = access_log(&envoy, 5);
    let ok: Vec<&Value> = log.iter().filter(|l| l["status"] == 200).collect();
    assert_eq!(ok.len(), 2, "{log:?}");
    assert!(ok.iter().all(|l| l["key_id"] == "admins" && l["tenant"] == "ops"), "{ok:?}");
}

/// Principals from a key source (`auth.key_source`, a file served by a real nginx) map like
/// inline ones: a later element of a list claim, the entry's model allow-list, and a 401 for
/// one the file does not list.
#[test]
fn principals_from_a_key_source_map_like_inline_ones() {
    let signer = Signer::get();
    let (mock, nginx) = (MockProvider::start(), support::nginx::Nginx::start());
    let file = [
        json!({"id": "admins", "tenant": "ops", "principals": ["admins"]}),
        json!({"id": "auditors", "principals": ["auditors"], "models": ["none-such"]}),
    ]
    .iter()
    .map(|k| format!("{k}\n"))
    .collect::<String>();
    nginx.put("principals.jsonl", file.as_bytes());
    let config = json!({
        "providers": [{"name": "mock", "kind": "openai", "cluster": "mock"}],
        "models": [{"name": "*", "targets": [{"provider": "mock"}]}],
        "auth": {"mode": "jwt", "jwt": {"claim": "groups"}, "key_source": {"cluster": "keys", "path": "/principals.jsonl"}},
    })
    .to_string();
    let pre = jwt_filter(&signer.jwks);
    let clusters = [("mock", mock.port()), ("keys", nginx.port)];
    let envoy = Envoy::start(&Gateway { config: &config, clusters: &clusters, pre_filters: &pre, env_keys: &[] }.yaml());
    let admin = signer.token(json!({"sub": "bob", "groups": ["dev", "admins"]}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while chat(&envoy, &admin, "gpt-4o-mini").status != 200 {
        assert!(std::time::Instant::now() < deadline, "the key source never loaded:\n{}", envoy.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = chat(&envoy, &signer.token(json!({"sub": "carol", "groups": ["auditors"]})), "gpt-4o-mini");
    assert_eq!((r.status, error_code(&r).as_deref()), (403, Some("model_not_allowed")), "{}", r.text());
    let r = chat(&envoy, &signer.token(json!({"sub": "eve", "groups": ["guests"]})), "gpt-4o-mini");
    assert_eq!((r.status, error_code(&r).as_deref()), (401, Some("invalid_api_key")), "{}", r.text());
}
