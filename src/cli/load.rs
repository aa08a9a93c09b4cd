//! Reading configs and case files: JSON or YAML (by extension, else by trying JSON first), and
//! finding the tollgate config inside an Envoy bootstrap or an Istio `WasmPlugin`.

use serde::Deserialize;
use serde_json::Value;

/// A tollgate config found in a file, and where.
#[derive(Debug, Clone)]
pub struct Source {
    /// `file` for a plain config, `file#<json path>` for an embedded one.
    pub label: String,
    /// The config document; `Err` when an embedded string is not JSON.
    pub doc: Result<Value, String>,
}

/// Parses JSON or YAML text, each YAML document (`---`) on its own. `yaml` forces YAML;
/// otherwise JSON is tried first (JSON is YAML, but the JSON parser gives better messages).
/// An empty document is `{}`.
pub fn parse_documents(text: &str, yaml: bool) -> Result<Vec<Value>, String> {
    if text.trim().is_empty() {
        return Ok(vec![Value::Object(serde_json::Map::new())]);
    }
    if !yaml {
        match serde_json::from_str(text) {
            Ok(v) => return Ok(vec![v]),
            Err(e) if text.trim_start().starts_with(['{', '[']) => return Err(format!("invalid JSON: {e}")),
            Err(_) => {}
        }
    }
    let mut docs = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(de).map_err(|e| format!("invalid YAML: {e}"))?;
        docs.push(if v.is_null() { Value::Object(serde_json::Map::new()) } else { v });
    }
    Ok(docs)
}

/// Parses a single JSON or YAML document (see [`parse_documents`]).
pub fn parse_document(text: &str, yaml: bool) -> Result<Value, String> {
    let mut docs = parse_documents(text, yaml)?;
    match docs.len() {
        1 => Ok(docs.remove(0)),
        n => Err(format!("expected one document, found {n}")),
    }
}

/// Reads and parses every document of a file (`.yaml`/`.yml` as YAML, anything else JSON or YAML).
pub fn load_documents(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let yaml = path.ends_with(".yaml") || path.ends_with(".yml");
    parse_documents(&text, yaml).map_err(|e| format!("{path}: {e}"))
}

/// Reads a file holding one JSON or YAML document.
pub fn load_document(path: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let yaml = path.ends_with(".yaml") || path.ends_with(".yml");
    parse_document(&text, yaml).map_err(|e| format!("{path}: {e}"))
}

/// The tollgate configs in a document: each tollgate wasm filter's `configuration` (a
/// `google.protobuf.StringValue` holding JSON) wherever it sits (Envoy bootstrap, ECDS
/// resource, Istio `EnvoyFilter` patch); the `spec.pluginConfig` of an Istio `WasmPlugin` (or
/// `spec.wasm.pluginConfig` of a `TrafficExtension`); none in another Kubernetes
/// manifest or Envoy document; else the document itself, as a plain tollgate config.
pub fn tollgate_configs(file: &str, doc: &Value) -> Vec<Source> {
    let mut found = Vec::new();
    walk(doc, String::new(), &mut |path, v| {
        let is_tollgate = v.get("root_id").and_then(Value::as_str) == Some("tollgate") || v.get("name").and_then(Value::as_str) == Some("tollgate");
        let Some(cfg) = v.get("configuration").filter(|_| is_tollgate) else { return };
        let label = format!("{file}#{path}.configuration");
        let doc = match cfg.get("value") {
            Some(Value::String(s)) => parse_document(s, false).map_err(|e| format!("the StringValue must hold JSON: {e}")),
            _ => Err("expected a google.protobuf.StringValue with a JSON `value`".into()),
        };
        found.push(Source { label, doc });
    });
    if !found.is_empty() {
        return found;
    }
    let text = |k: &str| doc.get(k).and_then(Value::as_str);
    let plugin_config = match text("kind") {
        Some("WasmPlugin") => Some("spec.pluginConfig"),
        Some("TrafficExtension") => Some("spec.wasm.pluginConfig"),
        _ => None,
    };
    if let Some(at) = plugin_config {
        let config = doc.pointer(&format!("/{}", at.replace('.', "/"))).cloned().unwrap_or(Value::Object(serde_json::Map::new()));
        return vec![Source { label: format!("{file}#{at}"), doc: Ok(config) }];
    }
    let envoy_keys = ["apiVersion", "static_resources", "dynamic_resources", "resources", "admin", "@type", "node"];
    if envoy_keys.iter().any(|k| doc.get(k).is_some()) {
        return Vec::new();
    }
    vec![Source { label: file.to_string(), doc: Ok(doc.clone()) }]
}

fn walk(v: &Value, path: String, f: &mut dyn FnMut(&str, &Value)) {
    match v {
        Value::Object(m) => {
            f(&path, v);
            for (k, child) in m {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                walk(child, p, f);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{path}[{i}]"), f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml() {
        assert_eq!(parse_document(r#"{"a": [1]}"#, false).unwrap(), serde_json::json!({"a": [1]}));
        assert_eq!(parse_document("a:\n  - 1\n", false).unwrap(), serde_json::json!({"a": [1]}));
        assert_eq!(parse_document("a: [1]", true).unwrap(), serde_json::json!({"a": [1]}));
        assert_eq!(parse_document("  \n", true).unwrap(), serde_json::json!({}));
        assert!(parse_document("{\"a\": ", false).unwrap_err().starts_with("invalid JSON"));
        assert!(parse_document("a: [1", true).unwrap_err().contains("line"));
        assert_eq!(parse_documents("a: 1\n---\nb: 2\n", true).unwrap().len(), 2);
        assert!(parse_document("a: 1\n---\nb: 2\n", true).is_err());
    }

    #[test]
    fn finds_embedded_configs() {
        let bootstrap = serde_json::json!({"static_resources": {"listeners": [{"filters": [
            {"config": {"root_id": "tollgate", "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": "{\"auth\": {\"mode\": \"none\"}}"}}},
            {"config": {"root_id": "other", "configuration": {"value": "not ours"}}}
        ]}]}});
        let found = tollgate_configs("e.yaml", &bootstrap);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, "e.yaml#static_resources.listeners[0].filters[0].config.configuration");
        assert_eq!(found[0].doc.as_ref().unwrap(), &serde_json::json!({"auth": {"mode": "none"}}));
        assert!(tollgate_configs("x.yaml", &serde_json::json!({"apiVersion": "v1", "kind": "Service"})).is_empty());
        assert_eq!(tollgate_configs("c.json", &serde_json::json!({"providers": []}))[0].label, "c.json");
        let plugin = serde_json::json!({"kind": "WasmPlugin", "spec": {"pluginConfig": {"auth": {"mode": "none"}}}});
        assert_eq!(tollgate_configs("p.yaml", &plugin)[0].label, "p.yaml#spec.pluginConfig");
        let ext = serde_json::json!({"kind": "TrafficExtension", "spec": {"wasm": {"pluginConfig": {"keys": []}}}});
        let found = tollgate_configs("t.yaml", &ext);
        assert_eq!((found[0].label.as_str(), found[0].doc.as_ref().unwrap()), ("t.yaml#spec.wasm.pluginConfig", &serde_json::json!({"keys": []})));
    }
}
