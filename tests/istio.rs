//! Istio: every manifest in `examples/istio/` is valid against Istio's CRD schemas (strictly:
//! unknown fields and CEL rules too), every tollgate config embedded in them is the shipped one
//! and loads, and the EnvoyFilter's extension config serves in an Envoy shaped like an Istio
//! sidecar (config over ECDS, Istio-named clusters, routes picked by `:authority`). Also shows
//! why the EnvoyFilter is needed: without `allow_on_headers_stop_iteration`, which WasmPlugin
//! cannot set, requests through tollgate hang.

mod support;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::ecds::EcdsDir;
use support::envoy::{repo, wasm_path, Envoy, Gateway};
use support::http_client::{post_json, raw};
use support::mock_provider::MockProvider;

/// Istio's CRDs: `$TOLLGATE_ISTIO_CRDS`, else the copy in `tests/fixtures/istio/`.
fn crds() -> PathBuf {
    let p = std::env::var_os("TOLLGATE_ISTIO_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("tests/fixtures/istio/customresourcedefinitions.gen.yaml"));
    assert!(p.exists(), "{} is missing (set TOLLGATE_ISTIO_CRDS)", p.display());
    p
}

/// Runs scripts/validate_k8s.py (in the project venv, where `make py-tools` installs its deps).
fn validate(targets: &[PathBuf], extra: &[&str]) -> (bool, String, String) {
    let python = repo().join(".venv/bin/python");
    let out = Command::new(&python)
        .arg(repo().join("scripts/validate_k8s.py"))
        .arg("--crds")
        .arg(crds())
        .args(extra)
        .args(targets)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e} (run `make py-tools`)", python.display()));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("ModuleNotFoundError"), "{stderr}\n(run `make py-tools`)");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn examples() -> PathBuf {
    repo().join("examples/istio")
}

#[test]
fn every_manifest_validates_against_istios_crd_schemas() {
    let (ok, _, report) = validate(&[examples()], &[]);
    assert!(ok, "{report}");
    for kind in ["WasmPlugin", "TrafficExtension", "EnvoyFilter", "ServiceEntry", "DestinationRule", "Gateway", "VirtualService"] {
        assert!(report.contains(&format!(" {kind}")), "no {kind} checked: {report}");
    }
    assert!(report.contains("; 0 failed"), "{report}");
}

/// The validator is only worth something if it refuses what the API server would refuse.
#[test]
fn validator_refuses_what_the_api_server_would() {
    let wasmplugin = std::fs::read_to_string(examples().join("wasmplugin.yaml")).unwrap();
    let providers = std::fs::read_to_string(examples().join("providers.yaml")).unwrap();
    let envoyfilter = std::fs::read_to_string(examples().join("envoyfilter.yaml")).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("misspelt field", wasmplugin.replace("  pluginConfig:", "  pluginConfg:"), "unknown field `pluginConfg`"),
        ("bad enum", wasmplugin.replace("failStrategy: FAIL_CLOSE", "failStrategy: FAIL_SOMETIMES"), "FAIL_SOMETIMES"),
        ("selector and targetRefs", wasmplugin.replace("  selector:\n", "  targetRefs: [{kind: Gateway, name: gw}]\n  selector:\n"), "only one of targetRefs or selector"),
        ("url scheme", wasmplugin.replace("url: oci://", "url: ftp://"), "url must have schema"),
        ("HOST with a value", wasmplugin.replace("      valueFrom: HOST\n", "      valueFrom: HOST\n      value: sk-inline\n"), "value may only be set when valueFrom is INLINE"),
        ("bad sha256", wasmplugin.replace("  # sha256: <64 hex digits>", "  sha256: ABC"), "does not match"),
        ("port out of range", providers.replacen("number: 80\n    name: http", "number: 70000\n    name: http", 1), "port must be between 1-65535"),
        ("unknown applyTo", envoyfilter.replace("applyTo: HTTP_FILTER", "applyTo: HTTP_FILTERS"), "HTTP_FILTERS"),
        ("no kind schema", "apiVersion: networking.istio.io/v9\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n".to_string(), "no schema"),
    ];
    let dir = std::env::temp_dir().join(format!("tollgate-badmanifests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (what, text, expected) in cases {
        let f = dir.join("bad.yaml");
        std::fs::write(&f, &text).unwrap();
        let (ok, _, report) = validate(&[f], &[]);
        assert!(!ok, "{what}: accepted");
        assert!(report.contains(expected), "{what}: expected `{expected}` in:\n{report}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn plugin_outputs() -> Vec<Value> {
    let (ok, stdout, report) = validate(&[examples()], &["--plugin-configs"]);
    assert!(ok, "{report}");
    stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn every_embedded_tollgate_config_is_the_shipped_one_and_loads() {
    let shipped_text = std::fs::read_to_string(examples().join("tollgate-config.json")).unwrap();
    let shipped: Value = serde_json::from_str(&shipped_text).unwrap();
    let env = |name: &str| Some(format!("test-{name}"));
    if let Err(e) = tollgate::config::parse(shipped_text.as_bytes(), &env) {
        panic!("tollgate-config.json does not load: {e:?}");
    }
    let outputs = plugin_outputs();
    for kind in ["WasmPlugin/", "TrafficExtension/", "examples/istio/envoyfilter.yaml", "egress/envoyfilter.yaml"] {
        assert!(outputs.iter().any(|o| o["manifest"].as_str().unwrap().contains(kind)), "no tollgate config found in {kind}");
    }
    // Every provider key the config reads is handed to the VM and to the proxy's environment,
    // else that provider would be silently unavailable.
    let key_envs: Vec<&str> = shipped["providers"].as_array().unwrap().iter().filter_map(|p| p["api_key_env"].as_str()).collect();
    let names = |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect() };
    let mut proxies = 0;
    for o in &outputs {
        let (manifest, env) = (o["manifest"].as_str().unwrap(), o.get("env").or(o.get("proxyEnv")).map(names).unwrap_or_default());
        for var in &key_envs {
            assert!(env.iter().any(|e| e == var), "{manifest} does not pass {var} (has {env:?})");
        }
        if o.get("proxyEnv").is_some() {
            proxies += 1;
        } else {
            assert_eq!(o["pluginConfig"], shipped, "{manifest} differs from tollgate-config.json");
        }
    }
    assert_eq!(proxies, 2, "sidecar-env.yaml and egress/gateway-env.yaml");
}

/// An Envoy shaped like an Istio sidecar's outbound port-80 listener: one virtual host per
/// ServiceEntry host, routing to Istio-named clusters; the HTTP filter and its ECDS config are
/// taken from examples/istio/envoyfilter.yaml, with the code rewritten to the local module the
/// way istio-agent rewrites a pulled `oci://` module.
fn mesh_yaml(ecds: &EcdsDir, http_filter: &Value, clusters: &[(&str, &str, u16)]) -> String {
    let mut filter = http_filter.clone();
    filter["config_discovery"]["config_source"] = ecds.config_source();
    let vhosts: Vec<Value> = clusters
        .iter()
        .map(|(host, cluster, _)| json!({"name": format!("{host}:80"), "domains": [host, format!("{host}:80")],
                                         "routes": [{"match": {"prefix": "/"}, "route": {"cluster": cluster, "timeout": "30s"}}]}))
        .collect();
    let cluster_defs: Vec<Value> = clusters
        .iter()
        .map(|(_, cluster, port)| json!({"name": cluster, "type": "STATIC", "connect_timeout": "2s",
            "load_assignment": {"cluster_name": cluster, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}}))
        .collect();
    let hcm = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "outbound_0.0.0.0_80",
        "route_config": {"name": "80", "virtual_hosts": vhosts},
        "http_filters": [filter, {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
    });
    let bootstrap = json!({
        // xDS subscriptions (ECDS here) need a node identity, as every Istio proxy has.
        "node": {"id": "sidecar~10.0.0.1~app-0.apps~apps.svc.cluster.local", "cluster": "app.apps"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [{"name": "0.0.0.0_80", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                           "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}]}],
            "clusters": cluster_defs,
        }
    });
    serde_json::to_string_pretty(&bootstrap).unwrap()
}

#[test]
fn envoyfilter_extension_config_serves_in_a_mesh_shaped_envoy() {
    let out = plugin_outputs().into_iter().find(|o| o["manifest"].as_str().unwrap().contains("/examples/istio/envoyfilter.yaml")).unwrap();
    let mut extension = out["extensionConfig"].clone();
    let code = &mut extension["typed_config"]["config"]["vm_config"]["code"];
    assert!(code["remote"]["http_uri"]["uri"].as_str().unwrap().starts_with("oci://"));
    *code = json!({"local": {"filename": wasm_path()}});
    let ecds = EcdsDir::new();
    ecds.publish(&[extension]);

    let (openai, anthropic, gemini) = (MockProvider::start(), MockProvider::start(), MockProvider::start());
    let clusters = [
        ("api.openai.com", "outbound|80||api.openai.com", openai.port()),
        ("api.anthropic.com", "outbound|80||api.anthropic.com", anthropic.port()),
        ("generativelanguage.googleapis.com", "outbound|80||generativelanguage.googleapis.com", gemini.port()),
    ];
    let env = [("OPENAI_API_KEY", "sk-mesh-openai"), ("ANTHROPIC_API_KEY", "sk-mesh-anthropic"), ("GEMINI_API_KEY", "mesh-gemini")];
    let envoy = Envoy::start_with_env(&mesh_yaml(&ecds, &out["httpFilter"], &clusters), &env);

    // The app calls api.openai.com with its tollgate key, as the README tells it to.
    let key = [("host", "api.openai.com"), ("authorization", "Bearer tg-demo-key")];
    let chat = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let r = post_json(envoy.port, "/v1/chat/completions", &key, &chat("gpt-4o-mini")).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = openai.last_request().unwrap();
    assert_eq!(seen.header("authorization"), Some("Bearer sk-mesh-openai"));

    // A Claude model: tollgate translates and rewrites :authority; Envoy re-picks the route,
    // so the request reaches the Anthropic ServiceEntry's cluster, not the one first matched.
    let r = post_json(envoy.port, "/v1/chat/completions", &key, &chat("claude-sonnet-4-5")).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["object"], "chat.completion");
    let seen = anthropic.last_request().expect("the Anthropic cluster got the request");
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-mesh-anthropic"));
    assert_eq!(seen.header("host"), Some("api.anthropic.com"));
    assert_eq!(openai.request_count(), 1, "the Claude request did not go to the OpenAI cluster");

    let r = post_json(envoy.port, "/v1/chat/completions", &key, &chat("gemini-2.5-flash")).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(gemini.request_count(), 1);

    let r = post_json(envoy.port, "/v1/chat/completions", &[("host", "api.openai.com"), ("authorization", "Bearer tg-wrong")], &chat("gpt-4o")).unwrap();
    assert_eq!(r.status, 401);
}

/// What a WasmPlugin (or TrafficExtension) install would give today: the same filter without
/// `allow_on_headers_stop_iteration`. Envoy turns tollgate's header hold into "stop all and
/// buffer", so tollgate never sees the body and the request never reaches the provider.
#[test]
fn without_allow_on_headers_stop_iteration_requests_hang() {
    let mock = MockProvider::start();
    let config = r#"{"providers": [{"name": "mock", "kind": "openai", "cluster": "mock"}],
                     "models": [{"name": "*", "targets": [{"provider": "mock"}]}], "auth": {"mode": "none"}}"#;
    let yaml = Gateway { config, clusters: &[("mock", mock.port())], pre_filters: "", env_keys: &[] }
        .yaml()
        .replace("allow_on_headers_stop_iteration: true", "allow_on_headers_stop_iteration: false");
    let envoy = Envoy::start(&yaml);
    let body = r#"{"model": "m", "messages": []}"#;
    let req = format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    let answer = raw(envoy.port, req.as_bytes(), Duration::from_secs(3)).unwrap_or_default();
    assert!(answer.is_empty(), "expected no answer, got {}", String::from_utf8_lossy(&answer));
    assert_eq!(mock.request_count(), 0);
}
