//! Config hot reload over ECDS (`envoy/ecds.yaml`): the filter config comes from a watched file,
//! the path an Istio update takes. Under load, a new config revokes a key and adds a model: new
//! requests see it, no request in flight fails, a refused config leaves the old one serving,
//! and the VM (with its shared data, where local limit counters live) is reused, not rebuilt.

mod support;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::ecds::EcdsDir;
use support::envoy::{repo, Envoy};
use support::http_client::post_json;
use support::mock_provider::MockProvider;
use tollgate::keys::Digest;

/// tollgate's config: keys `tg-a` and `tg-b` (disabled when `revoke_b`), model `gpt-4o-mini`,
/// plus `new-model` when `add_model`.
fn config(revoke_b: bool, add_model: bool) -> String {
    let mut models = vec![json!({"name": "gpt-4o-mini", "targets": [{"provider": "mock"}]})];
    if add_model {
        models.push(json!({"name": "new-model", "targets": [{"provider": "mock", "model": "gpt-4o-mini"}]}));
    }
    json!({
        "providers": [{"name": "mock", "kind": "openai", "cluster": "mock"}],
        "models": models,
        "keys": [
            {"id": "a", "digests": [Digest::of(b"tg-a").to_string()]},
            {"id": "b", "digests": [Digest::of(b"tg-b").to_string()], "disabled": revoke_b},
        ]
    })
    .to_string()
}

/// The extension config shipped in envoy/ecds/tollgate.json with tollgate's config replaced.
fn extension(tollgate_config: &str) -> Value {
    let shipped: Value = serde_json::from_slice(&std::fs::read(repo().join("envoy/ecds/tollgate.json")).unwrap()).unwrap();
    let mut ext = shipped["resources"][0].clone();
    ext["typed_config"]["config"]["configuration"]["value"] = json!(tollgate_config);
    ext
}

/// envoy/ecds.yaml on ephemeral ports, the mock on `mock_port`, the config read from `ecds`.
fn ecds_yaml(mock_port: u16, ecds: &EcdsDir) -> String {
    let src = std::fs::read_to_string(repo().join("envoy/ecds.yaml")).unwrap();
    for needle in ["port_value: 10000", "port_value: 9901", "port_value: 18080", "path: envoy/ecds/tollgate.json", "path: envoy/ecds }"] {
        assert!(src.contains(needle), "envoy/ecds.yaml lost `{needle}`");
    }
    src.replace("port_value: 10000", "port_value: 0")
        .replace("port_value: 9901", "port_value: 0")
        .replace("port_value: 18080", &format!("port_value: {mock_port}"))
        .replace("path: envoy/ecds/tollgate.json", &format!("path: {}", ecds.file.display()))
        .replace("path: envoy/ecds }", &format!("path: {} }}", ecds.dir.display()))
}

fn chat(port: u16, key: &str, model: &str, delay_ms: u64) -> u16 {
    let delay = delay_ms.to_string();
    let headers = [("authorization", &*format!("Bearer {key}")), ("x-mock-delay-ms", &*delay)];
    let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    post_json(port, "/v1/chat/completions", &headers, &body).map(|r| r.status).unwrap_or(0)
}

/// Polls until `f` holds (Envoy applies a file update asynchronously, within milliseconds).
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Envoy's live Wasm VM gauge `wasm.envoy.wasm.runtime.v8.active` (1.36 and 1.40 have it).
fn live_vms(envoy: &Envoy) -> u64 {
    let name = "wasm.envoy.wasm.runtime.v8.active";
    let stats = envoy.admin(&format!("/stats?filter={name}")).unwrap_or_default();
    stats.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(": ")?.trim().parse().ok()).unwrap_or_else(|| panic!("no {name} in {stats:?}"))
}

struct Sample {
    start: Instant,
    end: Instant,
    status: u16,
}

#[test]
fn config_changes_apply_under_load_without_failing_requests_in_flight() {
    let mock = MockProvider::start();
    let ecds = EcdsDir::new();
    ecds.publish(&[extension(&config(false, false))]);
    let envoy = Envoy::start(&ecds_yaml(mock.port(), &ecds));
    let port = envoy.port;
    assert_eq!(chat(port, "tg-b", "gpt-4o-mini", 0), 200);
    assert_eq!(chat(port, "tg-a", "new-model", 0), 404);
    let vms = live_vms(&envoy);

    // Load: 4 clients, each request held 300 ms by the provider, so some are always in flight.
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, samples) = (stop.clone(), samples.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    let start = Instant::now();
                    let status = chat(port, "tg-a", "gpt-4o-mini", 300);
                    samples.lock().unwrap().push(Sample { start, end: Instant::now(), status });
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(450));

    // Revoke key b, add a model: one atomic file move, as an Istio push would deliver it.
    let published = Instant::now();
    ecds.publish(&[extension(&config(true, true))]);
    eventually("key b revoked", || chat(port, "tg-b", "gpt-4o-mini", 0) == 401);
    let applied = Instant::now();
    assert_eq!(chat(port, "tg-a", "new-model", 0), 200, "the added model routes");

    // A config tollgate refuses is rejected by Envoy; the previous one keeps serving.
    ecds.publish(&[extension(r#"{"providers": [{"name": "mock", "kind": "bogus", "cluster": "mock"}]}"#)]);
    eventually("bad config refused", || envoy.log().contains("invalid tollgate config at `providers[0].kind`"));
    assert_eq!(chat(port, "tg-a", "new-model", 0), 200);
    assert_eq!(chat(port, "tg-b", "gpt-4o-mini", 0), 401);
    std::thread::sleep(Duration::from_millis(400));

    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let samples = samples.lock().unwrap();
    let failed: Vec<u16> = samples.iter().map(|s| s.status).filter(|&s| s != 200).collect();
    assert!(failed.is_empty(), "requests under load failed: {failed:?} of {}", samples.len());
    let straddling = samples.iter().filter(|s| s.start < published && s.end > applied).count();
    assert!(straddling >= 1, "no request was in flight across the update ({} samples)", samples.len());
    eprintln!("{} requests under load, {} in flight across the update, applied within {:?}", samples.len(), straddling, applied - published);

    // Same vm_id, code and VM config: the plugin config is swapped inside the running VMs (Envoy
    // builds one short-lived VM per update to check the new config, then drops it).
    assert_eq!(live_vms(&envoy), vms, "a config update must keep the same live VMs");
}

/// Local limit counters live in proxy-wasm shared data, one store per vm_id, which outlives
/// config updates: a key that spent part of its budget before an update has only the rest after.
#[test]
fn limit_counters_survive_a_config_update() {
    let mock = MockProvider::start();
    let ecds = EcdsDir::new();
    let with_limit = |add_model: bool| {
        let mut c: Value = serde_json::from_str(&config(false, add_model)).unwrap();
        c["limits"] = json!({"rules": [{"id": "rpm-a", "scope": "key", "subjects": ["a"], "kind": "requests", "window": "minute", "align": "rolling", "limit": 3}]});
        c.to_string()
    };
    ecds.publish(&[extension(&with_limit(false))]);
    let envoy = Envoy::start(&ecds_yaml(mock.port(), &ecds));
    let port = envoy.port;
    assert_eq!(chat(port, "tg-a", "gpt-4o-mini", 0), 200);
    assert_eq!(chat(port, "tg-a", "gpt-4o-mini", 0), 200);
    ecds.publish(&[extension(&with_limit(true))]);
    eventually("new config applied", || chat(port, "tg-b", "new-model", 0) == 200);
    assert_eq!(chat(port, "tg-a", "new-model", 0), 200, "the third of three requests");
    assert_eq!(chat(port, "tg-a", "gpt-4o-mini", 0), 429, "the count from before the update still holds");
}

/// `envoy/ecds.yaml` with its shipped `envoy/ecds/tollgate.json`, unchanged, serves the demo key.
#[test]
fn shipped_ecds_config_serves() {
    let mock = MockProvider::start();
    let ecds = EcdsDir::new();
    std::fs::copy(repo().join("envoy/ecds/tollgate.json"), &ecds.file).unwrap();
    let envoy = Envoy::start(&ecds_yaml(mock.port(), &ecds));
    assert_eq!(chat(envoy.port, "tg-demo-key", "gpt-4o-mini", 0), 200);
    assert_eq!(chat(envoy.port, "tg-other", "gpt-4o-mini", 0), 401);
    assert_eq!(mock.request_count(), 1);
}
