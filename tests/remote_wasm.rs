//! Remote module loading: Envoy fetches `tollgate.wasm` over HTTP (`vm_config.code.remote`)
//! from a loopback server and checks its sha256 before it serves; a wrong sha256 is refused.

mod support;

use sha2::{Digest as _, Sha256};
use support::envoy::{wasm_path, Envoy, Gateway};
use support::file_server::FileServer;
use support::http_client::post_json;
use support::mock_provider::{MockProvider, ASSISTANT_TEXT};

const CONFIG: &str = r#"{"providers": [{"name": "mock", "kind": "openai", "cluster": "mock"}],
                         "models": [{"name": "*", "targets": [{"provider": "mock"}]}],
                         "auth": {"mode": "none"}}"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The gateway bootstrap with the module fetched from `server` and checked against `sha256`.
fn remote_yaml(mock: &MockProvider, server: &FileServer, sha256: &str) -> String {
    let clusters = [("mock", mock.port()), ("wasm_server", server.port)];
    let yaml = Gateway { config: CONFIG, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml();
    let local = format!("code: {{ local: {{ filename: {} }} }}", wasm_path().display());
    assert!(yaml.contains(&local));
    let remote = format!(
        "code:\n                    remote:\n                      http_uri: {{ uri: \"http://127.0.0.1:{port}/tollgate.wasm\", cluster: wasm_server, timeout: 10s }}\n                      sha256: \"{sha256}\"\n                      retry_policy: {{ num_retries: 1, retry_back_off: {{ base_interval: 0.1s, max_interval: 0.2s }} }}",
        port = server.port
    );
    yaml.replace(&local, &remote)
}

#[test]
fn module_is_fetched_over_http_and_checked_by_sha256() {
    let wasm = std::fs::read(wasm_path()).unwrap();
    let sha = hex(&Sha256::digest(&wasm));
    let server = FileServer::start("/tollgate.wasm", wasm);
    let mock = MockProvider::start();
    let envoy = Envoy::start(&remote_yaml(&mock, &server, &sha));
    assert!(server.hits() >= 1, "Envoy fetched the module from the server");
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &serde_json::json!({"model": "m", "messages": []})).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(r.header("x-tollgate"), Some(env!("CARGO_PKG_VERSION")));
}

/// What Envoy really does with a module whose sha256 does not match (1.36 and 1.40 alike): it
/// fetches (and retries), refuses the module (`Plugin tollgate failed to load`), and, the
/// filter being fail-closed, answers every request 503 without reaching the provider. The
/// listener itself stays up; nothing runs unchecked code.
#[test]
fn wrong_sha256_is_refused() {
    let wasm = std::fs::read(wasm_path()).unwrap();
    let server = FileServer::start("/tollgate.wasm", wasm);
    let mock = MockProvider::start();
    let envoy = Envoy::start(&remote_yaml(&mock, &server, &"0".repeat(64)));
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &serde_json::json!({"model": "m", "messages": []})).unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("x-tollgate"), None);
    assert_eq!(mock.request_count(), 0, "nothing reaches the provider without the checked module");
    assert!(server.hits() >= 2, "the fetch is retried before giving up ({} hits)", server.hits());
    let log = envoy.log();
    assert!(log.contains("Plugin tollgate failed to load"), "{log}");
}
