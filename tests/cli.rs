//! The `tollgate` binary end to end: exit codes and output of validate, keygen, keys, test and schema.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use tollgate::keys::Digest;

/// Runs the tool: (exit code, stdout, stderr).
fn tollgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate")).current_dir(env!("CARGO_MANIFEST_DIR")).args(args).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

fn scratch(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("tollgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn validate_lists_every_error_with_its_path_and_fails() {
    let bad = scratch(
        "bad.yaml",
        "providers:\n  - {name: openai, kind: opnai, cluster: openai}\nmodels:\n  - {name: gpt-4o, targets: [{provider: openia}]}\nkeys:\n  - {id: a, digests: ['sha256:abc']}\n  - {id: b, digests: ['sha256:9f8c758b7ac6cc297cb91c3fe846d7a7dc0a503b8d8c445f1522e3b0818bc239'], models: [gpt-5]}\n",
    );
    let (code, out, _) = tollgate(&["validate", &bad]);
    assert_eq!(code, 1, "{out}");
    for line in [
        "4 errors",
        "  providers[0].kind: unknown provider kind `opnai`",
        "  models[0].targets[0].provider: no provider named `openia`",
        "  keys[0].digests[0]: must have 64 hex digits",
        "  keys[1].models[0]: `gpt-5` matches no model route",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let typo = scratch("typo.json", r#"{"providers": [{"name": "a", "kind": "openai", "clustr": "c"}], "auth": {"mode": 3}}"#);
    let (code, out, _) = tollgate(&["validate", &typo]);
    assert_eq!(code, 1);
    assert!(out.contains("auth.mode: invalid type") && out.contains("providers[0].clustr: unknown field `clustr`"), "{out}");
}

#[test]
fn validate_accepts_yaml_json_and_configs_embedded_in_envoy() {
    let (code, out, err) = tollgate(&["validate", "examples/policy/config.yaml", "bench/tollgate-config.json", "envoy/demo.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("examples/policy/config.yaml: ok (2 providers, 4 model routes, 4 keys)"), "{out}");
    assert!(out.contains("envoy/demo.yaml#static_resources.listeners[0]") && out.contains("configuration: ok"), "{out}");
    // Every benchmark configuration loads (JSON strings are floor-filter modes, not tollgate's).
    let mut bench: Vec<String> = std::fs::read_dir("bench").unwrap().filter_map(|e| e.ok()).map(|e| e.path().display().to_string()).filter(|p| p.contains("tollgate-config") && p.ends_with(".json")).collect();
    bench.sort();
    assert!(bench.len() >= 8, "{bench:?}");
    let args: Vec<&str> = std::iter::once("validate").chain(bench.iter().map(String::as_str)).collect();
    let (code, out, err) = tollgate(&args);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = tollgate(&["validate", "no/such/file.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read no/such/file.yaml"), "{err}");
}

#[test]
fn keygen_prints_a_key_once_and_a_valid_config_line() {
    let (code, out, err) = tollgate(&["keygen", "--id", "alice", "--tenant", "acme"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("tg-") && lines[0].len() == 35, "{out}");
    let entry: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(entry, serde_json::json!({"id": "alice", "tenant": "acme", "digests": [Digest::of(lines[0].as_bytes()).to_string()], "models": ["*"]}));
    assert!(err.contains("only once"));
    let (code, out, _) = tollgate(&["keygen", "--digest-of", "tg-example-team-a"]);
    assert_eq!((code, out.trim()), (0, Digest::of(b"tg-example-team-a").to_string().as_str()));
    assert_eq!(tollgate(&["keygen", "--bogus"]).0, 2);
}

#[test]
fn test_runs_the_example_cases_and_fails_on_a_wrong_expectation() {
    let (code, out, err) = tollgate(&["test", "examples/policy/config.yaml", "examples/policy/cases.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASS  team A may not use gpt-4o\n      got: 403 model_not_allowed"), "{out}");
    assert!(out.trim_end().ends_with("failed") && out.contains(" 0 failed"), "{out}");

    let cases = scratch(
        "wrong.json",
        r#"{"cases": [{"name": "team A may use gpt-4o (wrong)", "request": {"headers": {"authorization": "Bearer tg-example-team-a"}, "body": {"model": "gpt-4o"}}, "expect": {"status": 200, "provider": "openai"}}]}"#,
    );
    let (code, out, _) = tollgate(&["test", "examples/policy/config.yaml", &cases]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  team A may use gpt-4o (wrong)") && out.contains("expected the request to be forwarded, got 403 model_not_allowed"), "{out}");
    assert!(out.contains("policy cases: 0 passed, 1 failed"), "{out}");

    let typo = scratch("typo-cases.yaml", "cases:\n  - name: x\n    request: {}\n    expect: {stauts: 200}\n");
    let (code, out, _) = tollgate(&["test", "examples/policy/config.yaml", &typo]);
    assert_eq!(code, 1);
    assert!(out.contains("at `cases[0].expect.stauts`"), "{out}");
}

#[test]
fn json_renders_a_yaml_config_for_envoy() {
    let (code, out, err) = tollgate(&["json", "examples/policy/config.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(tollgate::config::parse(out.as_bytes(), &|_| None).is_ok());
    assert_eq!(v["models"][2]["name"], "fast");
    let bad = scratch("bad-json.yaml", "providers: [{name: a, kind: nope, cluster: c}]\n");
    let (code, out, err) = tollgate(&["json", &bad]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("providers[0].kind"), "{err}");
}

#[test]
fn schema_prints_the_shipped_schema_and_bad_usage_exits_2() {
    let (code, out, _) = tollgate(&["schema"]);
    assert_eq!(code, 0);
    assert_eq!(out, std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/tollgate.schema.json")).unwrap());
    let (code, _, err) = tollgate(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("usage: tollgate"));
    assert_eq!(tollgate(&[]).0, 2);
    assert_eq!(tollgate(&["test", "only-one-arg"]).0, 2);
}

#[test]
fn keys_export_writes_a_key_file_that_keys_check_accepts_and_bad_lines_are_named() {
    let (code, file, _) = tollgate(&["keys", "export", "examples/policy/config.yaml"]);
    assert_eq!(code, 0);
    assert_eq!(file.lines().count(), 4, "{file}");
    let good = scratch("keys.jsonl", &file);
    let (code, out, _) = tollgate(&["keys", "check", &good]);
    assert_eq!((code, out.trim_end()), (0, format!("{good}: ok (4 keys)").as_str()));
    let first = file.lines().next().unwrap();
    let bad = scratch("bad-keys.jsonl", &format!("{file}# a comment\n{first}\n{{\"id\":\"x\",\"digests\":[\"sha256:zz\"]}}\nnot json\n"));
    let (code, out, _) = tollgate(&["keys", "check", &bad]);
    assert_eq!(code, 1, "{out}");
    for line in ["3 lines refused (4 keys)", "  line 6: a digest or principal is already used by an earlier line", "  line 7: `digests[0]` must have 64 hex digits after `sha256:`", "  line 8: is not a key entry (not valid JSON)"] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert_eq!(tollgate(&["keys", "check"]).0, 2);
}
