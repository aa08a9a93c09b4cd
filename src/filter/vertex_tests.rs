//! Vertex's metadata-server tokens through the whole filter over the fake host (included from
//! `vertex_token.rs`, compiled only in tests).
//! Compiled only in tests: `vertex_token.rs` includes this file under `#[cfg(test)]`.

use crate::config::parse;
use crate::filter::{Flow, HttpFilter};
use crate::host::fake::FakeHost;
use crate::limits::MemStore;
use std::rc::Rc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NOW: u64 = 1_800_000_000;

fn config() -> Rc<crate::config::Config> {
    let json = br#"{"auth": {"mode": "none"}, "providers": [{"name": "v", "kind": "vertex", "cluster": "vertex", "region": "us-east5", "project": "acme"}],
        "models": [{"name": "gemini", "targets": [{"provider": "v", "model": "gemini-2.5-flash"}]}, {"name": "claude", "targets": [{"provider": "v", "model": "claude-sonnet-4-5@20250929"}]}]}"#;
    Rc::new(parse(json, &|_| None).unwrap())
}

fn request(shared: &MemStore, model: &str, now: u64) -> (HttpFilter, FakeHost, Flow) {
    let body = format!(r#"{{"model": "{model}", "messages": [{{"role": "user", "content": "hi"}}]}}"#);
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], body.as_bytes());
    h.shared = shared.clone();
    h.now_nanos = now * 1_000_000_000;
    let mut f = HttpFilter::new(Some(config()), 1, 0);
    f.on_request_headers(&mut h, false);
    let size = h.request_body.len();
    let flow = f.on_request_body(&mut h, size, true);
    (f, h, flow)
}

fn token(name: &str, expires_in: u64) -> Vec<u8> {
    format!(r#"{{"access_token":"{name}","expires_in":{expires_in},"token_type":"Bearer"}}"#).into_bytes()
}

#[test]
fn the_first_request_waits_for_the_token_the_next_ones_share_it() {
    let shared = MemStore::default();
    let (mut f, mut h, flow) = request(&shared, "gemini", NOW);
    assert_eq!(flow, Flow::Pause);
    assert_eq!(h.gets, vec![("gce_metadata".to_string(), "/computeMetadata/v1/instance/service-accounts/default/token".to_string(), true)]);
    assert_eq!(h.header("authorization"), None, "never sent before the token is there");
    f.on_callout(&mut h, 1001, Some(200), &token("ya29.one", 3599));
    assert!(h.resumed);
    assert_eq!(h.header("authorization"), Some("Bearer ya29.one"));
    assert_eq!(h.header(":path"), Some("/v1/projects/acme/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"));
    assert_eq!(h.header(":authority"), Some("us-east5-aiplatform.googleapis.com"));
    // Another request (another worker: same shared data) uses it without a callout.
    let (_, h2, flow) = request(&shared, "claude", NOW + 60);
    assert_eq!((flow, h2.gets.len()), (Flow::Continue, 0));
    assert_eq!(h2.header("authorization"), Some("Bearer ya29.one"));
    assert_eq!(h2.header(":path"), Some("/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5%4020250929:rawPredict"));
    let body: serde_json::Value = serde_json::from_slice(&h2.request_body).unwrap();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    // Close to expiry: sent with the old token, the next one fetched meanwhile.
    let (mut f3, mut h3, flow) = request(&shared, "gemini", NOW + 3599 - 100);
    assert_eq!((flow, h3.gets.len()), (Flow::Continue, 1));
    assert_eq!(h3.header("authorization"), Some("Bearer ya29.one"));
    // Another request in the window leaves the refresh to the one that claimed it.
    let (_, h_other, _) = request(&shared, "gemini", NOW + 3599 - 99);
    assert_eq!((h_other.gets.len(), h_other.header("authorization")), (0, Some("Bearer ya29.one")));
    f3.on_callout(&mut h3, 1001, Some(200), &token("ya29.two", 3599));
    let (_, h4, _) = request(&shared, "gemini", NOW + 3599 - 90);
    assert_eq!(h4.header("authorization"), Some("Bearer ya29.two"));
}

#[test]
fn a_silent_metadata_server_is_a_clear_503_and_a_401_drops_the_token() {
    let shared = MemStore::default();
    let (mut f, mut h, _) = request(&shared, "gemini", NOW);
    f.on_callout(&mut h, 1001, None, b"");
    let (status, _, body) = h.reply.clone().unwrap();
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&body).contains("metadata server"));
    assert_eq!(h.header("authorization"), None);
    // A token, then Vertex refuses it: the next request fetches a new one.
    let (mut f, mut h, _) = request(&shared, "gemini", NOW);
    f.on_callout(&mut h, 1001, Some(200), &token("ya29.revoked", 3599));
    h.response_headers = vec![(":status".into(), "401".into()), ("content-type".into(), "application/json".into())];
    f.on_response_headers(&mut h);
    let (_, h2, flow) = request(&shared, "gemini", NOW + 1);
    assert_eq!((flow, h2.gets.len()), (Flow::Pause, 1));
}
