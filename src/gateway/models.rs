//! `GET /v1/models`, answered by the gateway: the routes this caller may use, in OpenAI's list shape.

use super::Identity;
use crate::config::Config;

/// The OpenAI `list` of model objects the identity may use. `created` is the config load time.
pub fn models_list(config: &Config, identity: &Identity, created: i64) -> String {
    let policy = match identity {
        Identity::Key(i) => config.keys.get(*i),
        Identity::Anonymous => None,
    };
    let data: Vec<serde_json::Value> = config
        .router
        .listed_names()
        .filter(|name| policy.is_none_or(|p| p.allows(name, None)))
        .map(|name| serde_json::json!({"id": name, "object": "model", "created": created, "owned_by": "tollgate"}))
        .collect();
    crate::api::json_text(&serde_json::json!({"object": "list", "data": data}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::keys::Digest;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn lists_only_allowed_exact_routes() {
        let json = format!(
            r#"{{"providers": [{{"name": "p", "kind": "openai", "cluster": "c"}}],
                "models": [{{"name": "gpt-4o", "targets": [{{"provider": "p"}}]}},
                           {{"name": "gpt-4o-mini", "targets": [{{"provider": "p"}}]}},
                           {{"name": "claude-*", "targets": [{{"provider": "p"}}]}}],
                "keys": [{{"id": "k", "digests": ["{}"], "models": ["gpt-4o-mini"]}}]}}"#,
            Digest::of(b"x")
        );
        let c = parse(json.as_bytes(), &|_| None).unwrap();
        let v: serde_json::Value = serde_json::from_str(&models_list(&c, &Identity::Key(0), 7)).unwrap();
        assert_eq!(v["object"], "list");
        let ids: Vec<&str> = v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["gpt-4o-mini"]);
        let all: serde_json::Value = serde_json::from_str(&models_list(&c, &Identity::Anonymous, 7)).unwrap();
        assert_eq!(all["data"].as_array().unwrap().len(), 2);
        assert_eq!(all["data"][0]["created"], 7);
    }
}
