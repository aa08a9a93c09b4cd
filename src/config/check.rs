//! `check`: every error in a configuration, for `tollgate validate` and CI (the filter itself
//! stops at the first). Structure, then the compiler's checks, then cross-references.

use super::compile::compile;
use super::dto::ConfigDto;
use super::lint::lint;
use super::ConfigError;
use serde_json::Value;

fn de<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        ConfigError::new(path, e.into_inner().to_string())
    })
}

/// Every error in `doc` (a JSON value; YAML reaches here converted), each naming its JSON path.
/// Empty when the filter would load the config. `env` is the proxy environment (provider keys).
pub fn check(doc: &Value, env: &dyn Fn(&str) -> Option<String>) -> Vec<ConfigError> {
    let errs = shape_errors(doc);
    if !errs.is_empty() {
        return errs;
    }
    let dto: ConfigDto = match de(doc.clone()) {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let lints = lint(&dto);
    let mut errs = compile(dto, env).err().unwrap_or_default();
    errs.extend(lints);
    errs
}

/// Structural errors (types, unknown or missing fields), one per top-level field and one per
/// element of each top-level list: every field of `ConfigDto` has a default, so each one
/// deserializes on its own. New config sections are covered without change here.
fn shape_errors(doc: &Value) -> Vec<ConfigError> {
    let Some(obj) = doc.as_object() else {
        return vec![ConfigError::new(".", "the configuration must be an object (a JSON object or a YAML mapping)")];
    };
    let mut errs = Vec::new();
    for (k, v) in obj {
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let one = Value::Object([(k.clone(), Value::Array(vec![item.clone()]))].into_iter().collect());
                    if let Err(mut e) = de::<ConfigDto>(one) {
                        if let Some(rest) = e.field.strip_prefix(&format!("{k}[0]")) {
                            e.field = format!("{k}[{i}]{rest}");
                        }
                        errs.push(e);
                    }
                }
            }
            _ => {
                let one = Value::Object([(k.clone(), v.clone())].into_iter().collect());
                errs.extend(de::<ConfigDto>(one).err());
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn fields(doc: Value) -> Vec<String> {
        check(&doc, &|_| None).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn collects_every_structural_error() {
        let doc = serde_json::json!({
            "bogus": 1,
            "providers": [{"name": "a", "kind": "openai", "cluster": "c", "typo": 1}, {"name": "b", "kind": "openai"}],
            "max_request_bytes": "big"
        });
        assert_eq!(fields(doc), ["bogus", "max_request_bytes", "providers[0].typo", "providers[1]"]);
        assert_eq!(fields(serde_json::json!([1])), ["."]);
    }

    #[test]
    fn collects_every_semantic_and_cross_reference_error() {
        let d = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let doc = serde_json::json!({
            "providers": [{"name": "a", "kind": "nope", "cluster": "c"}, {"name": "b", "kind": "openai", "cluster": ""}],
            "models": [{"name": "m", "targets": [{"provider": "ghost"}]}, {"name": "n", "targets": [{"provider": "a"}]}],
            "keys": [{"id": "k", "digests": ["sha256:zz"]}, {"id": "j", "digests": [d], "models": ["n", "gpt-5"]}],
            "cluster_header": "X Bad"
        });
        assert_eq!(
            fields(doc),
            ["providers[0].kind", "providers[1].cluster", "models[0].targets[0].provider", "keys[0].digests[0]", "cluster_header", "keys[1].models[1]"]
        );
    }

    #[test]
    fn a_good_config_has_no_errors() {
        let doc = serde_json::json!({
            "$schema": "./schema/tollgate.schema.json",
            "providers": [{"name": "a", "kind": "openai", "cluster": "c"}],
            "models": [{"name": "gpt-4o*", "targets": [{"provider": "a"}]}],
            "auth": {"mode": "none"}
        });
        assert!(check(&doc, &|_| None).is_empty());
    }
}
