//! The example policy cases (`examples/policy/cases.yaml` on `examples/policy/config.yaml`) run
//! through the `tollgate test` library function and through real Envoy with the built module:
//! every case passes in both, and both reach the same decision (status, error, provider,
//! cluster, upstream model, path, upstream body). This is what makes a case that passes in CI
//! a statement about the proxy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use support::envoy::{repo, Envoy, Gateway};
use support::http_client::request;
use support::mock_provider::MockProvider;
use tollgate::cli::{load_document, policy_test};
use tollgate::policy::{case_env, check, parse_cases, Decision, RequestSpec};

const CONFIG: &str = "examples/policy/config.yaml";
const CASES: &str = "examples/policy/cases.yaml";

/// Sends one case's request through Envoy and reads the decision from what the client got and
/// what the mock providers received.
fn through_envoy(envoy: &Envoy, mocks: &[(String, MockProvider)], req: &RequestSpec) -> Decision {
    let before: Vec<usize> = mocks.iter().map(|(_, m)| m.request_count()).collect();
    let body = req.body_bytes();
    let mut headers: Vec<(&str, &str)> = req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if !body.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    let r = request(envoy.port, &req.method, &req.path, &headers, &body).unwrap();
    let reached: Vec<&(String, MockProvider)> = mocks.iter().zip(before).filter(|((_, m), n)| m.request_count() > *n).map(|(m, _)| m).collect();
    match reached.as_slice() {
        [] => Decision::reply(r.status, &r.body),
        [(cluster, mock)] => {
            let seen = mock.last_request().unwrap();
            Decision {
                status: r.status,
                forwarded: true,
                provider: r.header("x-tollgate-provider").map(str::to_string),
                upstream_model: r.header("x-tollgate-model").map(str::to_string),
                cluster: Some(cluster.clone()),
                path: Some(seen.path.clone()),
                body: seen.body_text(),
                ..Decision::default()
            }
        }
        many => panic!("one request reached {} providers", many.len()),
    }
}

/// The fields both runs must agree on. A local reply's body is left out (the `/v1/models` list
/// carries the config's load time); its status, code, message and param are compared, with
/// numbers in the message masked (a limit's "Retry after N seconds" depends on the clock).
fn comparable(d: &Decision) -> Decision {
    let body = if d.forwarded { serde_json::from_str::<Value>(&d.body).map_or(d.body.clone(), |v| v.to_string()) } else { String::new() };
    let message = d.message.as_ref().map(|m| {
        let mut out = String::new();
        for c in m.chars() {
            if !c.is_ascii_digit() {
                out.push(c);
            } else if !out.ends_with('#') {
                out.push('#');
            }
        }
        out
    });
    Decision { body, message, ..d.clone() }
}

#[test]
fn example_cases_decide_the_same_in_the_tool_and_in_envoy() {
    let root = repo();
    let (config_path, cases_path) = (root.join(CONFIG), root.join(CASES));
    let (config_path, cases_path) = (config_path.to_str().unwrap(), cases_path.to_str().unwrap());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;

    // The tool.
    let report = policy_test(config_path, cases_path, now).unwrap();
    assert_eq!(report.failed(), 0, "{}", report.render());

    // Real Envoy, one mock provider per cluster, the same environment as the tool's.
    let file = parse_cases(load_document(cases_path).unwrap()).unwrap();
    let config = load_document(config_path).unwrap();
    let providers = config["providers"].as_array().unwrap();
    let mut mocks: Vec<(String, MockProvider)> = Vec::new();
    for p in providers {
        let cluster = p["cluster"].as_str().unwrap().to_string();
        if !mocks.iter().any(|(c, _)| *c == cluster) {
            mocks.push((cluster, MockProvider::start()));
        }
    }
    let env_fn = case_env(&file);
    let vars: Vec<String> = providers.iter().filter_map(|p| p["api_key_env"].as_str().map(str::to_string)).collect();
    let env: Vec<(String, String)> = vars.iter().map(|v| (v.clone(), env_fn(v).unwrap_or_default())).collect();
    let clusters: Vec<(&str, u16)> = mocks.iter().map(|(c, m)| (c.as_str(), m.port())).collect();
    let env_keys: Vec<&str> = vars.iter().map(String::as_str).collect();
    let json = config.to_string();
    let yaml = Gateway { config: &json, clusters: &clusters, pre_filters: "", env_keys: &env_keys }.yaml();
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let envoy = Envoy::start_with_env(&yaml, &env_refs);

    assert_eq!(file.cases.len(), report.results.len());
    assert!(file.cases.len() >= 10, "the example exercises routing, allow-lists, keys, limits and errors");
    for (case, tool) in file.cases.iter().zip(&report.results) {
        let mut got = Decision::default();
        for _ in 0..case.repeat.max(1) {
            got = through_envoy(&envoy, &mocks, &case.request);
        }
        let failures = check(&case.expect, &got);
        assert!(failures.is_empty(), "case `{}` fails in Envoy: {failures:?}\n{got:#?}", case.name);
        assert_eq!(comparable(&tool.decision), comparable(&got), "case `{}`: the tool and Envoy disagree", case.name);
    }
}
