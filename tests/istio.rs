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

/// Envoy Gateway's `EnvoyExtensionPolicy` (examples/envoy-gateway/) validates against its CRD
/// (a copy of the upstream file in tests/fixtures/envoy-gateway/), its tollgate config loads
/// without the header hold, and a policy the API server would refuse is refused.
#[test]
fn envoy_gateway_policy_validates_and_its_config_loads() {
    let eg_crd = repo().join("tests/fixtures/envoy-gateway/gateway.envoyproxy.io_envoyextensionpolicies.yaml");
    let crds = ["--crds".to_string(), eg_crd.display().to_string(), "--plugin-configs".to_string()];
    let extra: Vec<&str> = crds.iter().map(String::as_str).collect();
    let policy = repo().join("examples/envoy-gateway/envoyextensionpolicy.yaml");
    let (ok, stdout, report) = validate(std::slice::from_ref(&policy), &extra);
    assert!(ok && report.contains("1 EnvoyExtensionPolicy") && report.contains("; 0 failed"), "{report}");
    let out: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let config = tollgate::config::parse(out["pluginConfig"].to_string().as_bytes(), &|_| Some("k".into())).unwrap();
    assert!(!config.hold_headers);
    assert_eq!(out["env"], json!(["OPENAI_API_KEY"]));
    let text = std::fs::read_to_string(&policy).unwrap();
    let dir = std::env::temp_dir().join(format!("tollgate-badeg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (what, bad, expected) in [("Image without image", text.replace("      image:\n        url: registry.example.com/tollgate:0.1.0\n", ""), "image field needs to be set"), ("misspelt field", text.replace("failOpen:", "failOpn:"), "unknown field `failOpn`")] {
        let f = dir.join("bad.yaml");
        std::fs::write(&f, bad).unwrap();
        let (ok, _, report) = validate(&[f], &extra);
        assert!(!ok && report.contains(expected), "{what}: {report}");
    }
    let _ = std::fs::remove_dir_all(dir);
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
    // WasmPlugin and TrafficExtension carry the config without the header hold; the
    // EnvoyFilters the one that routes on the body.
    let load = |file: &str| -> Value {
        let text = std::fs::read_to_string(examples().join(file)).unwrap();
        let env = |name: &str| Some(format!("test-{name}"));
        if let Err(e) = tollgate::config::parse(text.as_bytes(), &env) {
            panic!("{file} does not load: {e:?}");
        }
        serde_json::from_str(&text).unwrap()
    };
    let (routed, unheld) = (load("tollgate-config.json"), load("tollgate-config-wasmplugin.json"));
    let outputs = plugin_outputs();
    for kind in ["WasmPlugin/", "TrafficExtension/", "examples/istio/envoyfilter.yaml", "egress/envoyfilter.yaml"] {
        assert!(outputs.iter().any(|o| o["manifest"].as_str().unwrap().contains(kind)), "no tollgate config found in {kind}");
    }
    // Every provider key the config reads is handed to the VM and to the proxy's environment,
    // else that provider would be silently unavailable.
    let key_envs = |c: &Value| -> Vec<String> { c["providers"].as_array().unwrap().iter().filter_map(|p| p["api_key_env"].as_str().map(str::to_string)).collect() };
    let names = |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect() };
    let mut proxies = 0;
    for o in &outputs {
        let (manifest, env) = (o["manifest"].as_str().unwrap(), o.get("env").or(o.get("proxyEnv")).map(names).unwrap_or_default());
        let (shipped, file) = if manifest.contains("WasmPlugin/") || manifest.contains("TrafficExtension/") { (&unheld, "tollgate-config-wasmplugin.json") } else { (&routed, "tollgate-config.json") };
        for var in key_envs(&routed) {
            assert!(o.get("proxyEnv").is_none() || env.contains(&var), "{manifest} does not pass {var} (has {env:?})");
        }
        if o.get("proxyEnv").is_some() {
            proxies += 1;
            continue;
        }
        for var in key_envs(shipped) {
            assert!(env.contains(&var), "{manifest} does not pass {var} (has {env:?})");
        }
        assert_eq!(o["pluginConfig"], *shipped, "{manifest} differs from {file}");
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

/// What the header hold needs and a WasmPlugin cannot give: the routing config without
/// `allow_on_headers_stop_iteration`. Envoy turns tollgate's header hold into "stop all and
/// buffer", so tollgate never sees the body and the request never reaches the provider; the
/// routing config is refused in that mode for this reason (`hold_headers: false` is the
/// WasmPlugin install, tested below).
#[test]
fn without_allow_on_headers_stop_iteration_the_hold_hangs() {
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

/// The WasmPlugin install, as Istio configures it: the filter over ECDS with the plugin's
/// config and without `allow_on_headers_stop_iteration`, in the mesh-shaped Envoy, routes picked
/// by the ServiceEntry host the app calls. Keys, credentials, translation on the Anthropic route,
/// redaction with block and restore, accounting and a 429 from limits all work without the hold.
#[test]
fn wasmplugin_install_serves_without_the_header_hold() {
    let outputs = plugin_outputs();
    let envoyfilter = outputs.iter().find(|o| o["manifest"].as_str().unwrap().contains("/examples/istio/envoyfilter.yaml")).unwrap();
    let wasmplugin = outputs.iter().find(|o| o["manifest"].as_str().unwrap().contains("WasmPlugin/")).unwrap();
    // What Istio generates for the WasmPlugin: the same Wasm filter config, the plugin's own
    // configuration, and no header hold. Redaction and a limit are added for this test.
    let mut config = wasmplugin["pluginConfig"].clone();
    config["redaction"] = json!({"enabled": true, "detectors": {"email": "pseudonymize", "cloud_key": "block"}});
    config["limits"] = json!({"rules": [{"id": "per-tenant", "scope": "tenant", "kind": "requests", "window": "minute", "limit": 6}]});
    let mut extension = envoyfilter["extensionConfig"].clone();
    let wasm = &mut extension["typed_config"]["config"];
    wasm["vm_config"]["code"] = json!({"local": {"filename": wasm_path()}});
    wasm["configuration"]["value"] = json!(config.to_string());
    wasm.as_object_mut().unwrap().remove("allow_on_headers_stop_iteration");
    assert!(!extension.to_string().contains("allow_on_headers_stop_iteration"));
    let ecds = EcdsDir::new();
    ecds.publish(&[extension]);

    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let clusters = [("api.openai.com", "outbound|80||api.openai.com", openai.port()), ("api.anthropic.com", "outbound|80||api.anthropic.com", anthropic.port())];
    let env = [("OPENAI_API_KEY", "sk-mesh-openai"), ("ANTHROPIC_API_KEY", "sk-mesh-anthropic")];
    let envoy = Envoy::start_with_env(&mesh_yaml(&ecds, &envoyfilter["httpFilter"], &clusters), &env);

    let on = |host: &'static str| [("host", host), ("authorization", "Bearer tg-demo-key"), ("x-mock-echo", "3")];
    let chat = |model: &str, text: &str| json!({"model": model, "stream": true, "messages": [{"role": "user", "content": text}]});
    // OpenAI route: the provider key replaces the tollgate key; the email is pseudonymized on
    // the way out and restored in the streamed answer.
    let r = support::http_client::request_streamed(envoy.port, "POST", "/v1/chat/completions", &on("api.openai.com"), chat("gpt-4o", "mail jane@example.com now").to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = openai.last_request().unwrap();
    assert_eq!(seen.header("authorization"), Some("Bearer sk-mesh-openai"));
    assert!(!seen.body_text().contains("jane@example.com") && seen.body_text().contains("[EMAIL_1]"), "{}", seen.body_text());
    let text: String = r.sse_events().iter().filter_map(|e| e.json()).filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string)).collect();
    assert_eq!(text, "mail jane@example.com now");
    // Anthropic route, OpenAI client: translated on the body, the path set on the headers.
    let r = post_json(envoy.port, "/v1/chat/completions", &on("api.anthropic.com"), &json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]})).unwrap();
    assert_eq!((r.status, r.json()["object"].as_str()), (200, Some("chat.completion")), "{}", r.text());
    let seen = anthropic.last_request().unwrap();
    assert_eq!((seen.path.as_str(), seen.header("x-api-key")), ("/v1/messages", Some("sk-mesh-anthropic")));
    // A blocked secret: refused from the body phase; the provider never gets the body.
    let before = openai.request_count();
    let r = post_json(envoy.port, "/v1/chat/completions", &on("api.openai.com"), &chat("gpt-4o", "key AKIAIOSFODNN7EXAMPLE")).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("cloud_key"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(openai.requests().iter().skip(before).all(|q| !q.body_text().contains("AKIAIOSFODNN7EXAMPLE")), "the blocked body reached the provider");
    // A bad key: 401 on the headers.
    let r = post_json(envoy.port, "/v1/chat/completions", &[("host", "api.openai.com"), ("authorization", "Bearer tg-wrong")], &chat("gpt-4o", "x")).unwrap();
    assert_eq!(r.status, 401);
    // Accounting: the provider's exact output tokens in the per-model stats.
    let stats = envoy.admin("/stats?filter=tokens.output").unwrap_or_default();
    let anthropic_tokens = format!("provider.anthropic.tenant.acme.status.2xx.tokens.output: {}", support::mock_provider::ANTHROPIC_OUTPUT_TOKENS);
    assert!(stats.contains(&anthropic_tokens), "{stats}");
    // Limits: two requests admitted so far; the tenant's sixth in the minute is the last
    // admitted, the seventh gets 429.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(post_json(envoy.port, "/v1/chat/completions", &on("api.openai.com"), &json!({"model": "gpt-4o", "messages": []})).unwrap().status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
}
