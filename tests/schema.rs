//! The shipped JSON Schema (`schema/tollgate.schema.json`) is exactly what the DTOs generate,
//! and every example config in the repository (bench, envoy, examples, README) passes both the
//! schema, checked by an independent validator, and `tollgate validate`'s checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use tollgate::cli::{load_documents, parse_document, tollgate_configs};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("schema/tollgate.schema.json")).unwrap()).unwrap()
}

#[test]
fn shipped_schema_matches_the_types() {
    let shipped = std::fs::read_to_string(repo().join("schema/tollgate.schema.json")).unwrap();
    assert!(
        shipped == tollgate::config::schema_json(),
        "schema/tollgate.schema.json is stale: regenerate it with\n  cargo run -q --features cli --bin tollgate -- schema > schema/tollgate.schema.json"
    );
}

/// Files under `dir` (recursively) with one of `exts`.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, exts, out);
        } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e)) {
            out.push(p);
        }
    }
}

/// Every tollgate config the repository ships: (label, document).
fn example_configs() -> Vec<(String, Value)> {
    let root = repo();
    let mut paths = Vec::new();
    files(&root.join("envoy"), &["yaml", "yml", "json"], &mut paths);
    files(&root.join("examples"), &["yaml", "yml", "json"], &mut paths);
    files(&root.join("bench"), &["json"], &mut paths);
    let mut out = Vec::new();
    for p in paths {
        let rel = p.strip_prefix(&root).unwrap().display().to_string();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        // Policy-case files, the floor filter's config and the bench's request/response
        // fixtures are not tollgate configs.
        if name.contains("cases") || rel.starts_with("bench/floor") || rel.starts_with("bench/fixtures") || name.ends_with(".tmpl") {
            continue;
        }
        let docs = load_documents(p.to_str().unwrap()).unwrap_or_else(|e| panic!("{e}"));
        for doc in &docs {
            for s in tollgate_configs(&rel, doc) {
                out.push((s.label.clone(), s.doc.unwrap_or_else(|e| panic!("{}: {e}", s.label))));
            }
        }
    }
    // README and docs/: every ```json block that is a whole config (it names providers);
    // placeholders (`sha256:…`) stand for real digests.
    let mut docs = vec![root.join("README.md")];
    files(&root.join("docs"), &["md"], &mut docs);
    let digest = format!("sha256:{}", "0".repeat(64));
    for doc in docs {
        let rel = doc.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(&doc).unwrap();
        for (i, block) in text.split("```json\n").skip(1).enumerate() {
            let text = block.split("```").next().unwrap().replace("sha256:…", &digest);
            if let Ok(v) = parse_document(&text, false) {
                if v.get("providers").is_some() {
                    out.push((format!("{rel} json block {i}"), v));
                }
            }
        }
    }
    out
}

#[test]
fn every_example_config_passes_the_schema_and_the_checks() {
    let validator = jsonschema::validator_for(&shipped_schema()).unwrap();
    let configs = example_configs();
    let labels: Vec<&str> = configs.iter().map(|(l, _)| l.as_str()).collect();
    for must in ["envoy/demo.yaml", "examples/policy/config.yaml", "bench/tollgate-config.json", "docs/configuration.md"] {
        assert!(labels.iter().any(|l| l.starts_with(must)), "{must} not among the checked configs: {labels:?}");
    }
    let mut problems = Vec::new();
    for (label, doc) in &configs {
        for e in validator.iter_errors(doc) {
            problems.push(format!("{label}: schema: {} at {}", e, e.instance_path()));
        }
        for e in tollgate::config::check(doc, &|_| None) {
            problems.push(format!("{label}: {e}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("checked {} configs: {labels:#?}", configs.len());
}

#[test]
fn the_schema_catches_what_validate_catches() {
    let validator = jsonschema::validator_for(&shipped_schema()).unwrap();
    let bad = [
        serde_json::json!({"providrs": []}),
        serde_json::json!({"providers": [{"name": "a", "kind": "opnai", "cluster": "c"}]}),
        serde_json::json!({"providers": [{"name": "a", "kind": "openai"}]}),
        serde_json::json!({"keys": [{"id": "k", "digests": ["sha256:abc"]}]}),
        serde_json::json!({"auth": {"mode": "magic"}}),
        serde_json::json!({"models": [{"name": "m", "targets": [{"provider": "p", "weight": -1}]}]}),
    ];
    for doc in bad {
        assert!(!validator.is_valid(&doc), "schema accepts {doc}");
        assert!(!tollgate::config::check(&doc, &|_| None).is_empty(), "check accepts {doc}");
    }
    assert!(validator.is_valid(&serde_json::json!({})));
}
