//! `GET /v1/models`, answered by the gateway: the routes this caller may use, in OpenAI's list
//! shape, or in Anthropic's for an Anthropic client (one that sends `anthropic-version`).

use super::Identity;
use crate::config::Config;

/// The list of model objects the identity may use. `created` is the config load time;
/// `anthropic`: Anthropic's shape (`data` of `type: model`, `has_more`, `first_id`, `last_id`).
pub fn models_list(config: &Config, identity: &Identity, created: i64, anthropic: bool) -> String {
    let policy = identity.policy(config);
    let names = config.router.listed_names().filter(|name| policy.is_none_or(|p| p.allows(name, None)));
    if anthropic {
        let at = crate::config::format_rfc3339(created);
        let data: Vec<serde_json::Value> = names.map(|name| serde_json::json!({"type": "model", "id": name, "display_name": name, "created_at": at})).collect();
        let (first, last) = (data.first().map(|m| m["id"].clone()), data.last().map(|m| m["id"].clone()));
        return crate::api::json_text(&serde_json::json!({"data": data, "has_more": false, "first_id": first, "last_id": last}));
    }
    let data: Vec<serde_json::Value> = names.map(|name| serde_json::json!({"id": name, "object": "model", "created": created, "owned_by": "tollgate"})).collect();
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
        let v: serde_json::Value = serde_json::from_str(&models_list(&c, &Identity::Key(0), 7, false)).unwrap();
        assert_eq!(v["object"], "list");
        let ids: Vec<&str> = v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["gpt-4o-mini"]);
        let all: serde_json::Value = serde_json::from_str(&models_list(&c, &Identity::Anonymous, 7, false)).unwrap();
        assert_eq!(all["data"].as_array().unwrap().len(), 2);
        assert_eq!(all["data"][0]["created"], 7);
        let a: serde_json::Value = serde_json::from_str(&models_list(&c, &Identity::Anonymous, 7, true)).unwrap();
        assert_eq!((a["data"][0]["type"].as_str(), a["data"][0]["created_at"].as_str()), (Some("model"), Some("1970-01-01T00:00:07Z")));
        assert_eq!((a["first_id"].as_str(), a["last_id"].as_str(), a["has_more"].as_bool()), (Some("gpt-4o"), Some("gpt-4o-mini"), Some(false)));
    }
}
