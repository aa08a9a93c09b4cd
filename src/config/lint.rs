//! Cross-reference checks the filter does not need at load but CI wants: allow-list entries
//! that match no route, and glob routes an earlier glob always wins over.

use super::dto::ConfigDto;
use super::ConfigError;
use crate::route::Glob;

/// Mistakes that load but cannot be what the operator meant.
pub fn lint(dto: &ConfigDto) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    let routes: Vec<Glob> = dto.models.iter().map(|m| Glob::new(&m.name)).collect();
    for (i, k) in dto.keys.iter().enumerate() {
        for (j, allowed) in k.models.iter().enumerate() {
            if !reaches_a_route(allowed, &routes, dto) {
                errs.push(ConfigError::new(
                    format!("keys[{i}].models[{j}]"),
                    format!("`{allowed}` matches no model route, so key `{}` can never use it", k.id),
                ));
            }
        }
    }
    for (j, later) in routes.iter().enumerate().filter(|(_, g)| !g.is_literal()) {
        let earlier = routes.iter().take(j).position(|g| !g.is_literal() && g.matches(&later.as_string()));
        if let Some(i) = earlier {
            errs.push(ConfigError::new(
                format!("models[{j}].name"),
                format!("glob `{}` is never used: the earlier glob `{}` (models[{i}]) matches every name it matches", later.as_string(), routes[i].as_string()),
            ));
        }
    }
    errs
}

/// Whether an allow-list entry admits any routable name: a route name it matches (or a glob
/// route that overlaps it), or a `provider/model` name of a configured provider.
fn reaches_a_route(allowed: &str, routes: &[Glob], dto: &ConfigDto) -> bool {
    let a = Glob::new(allowed);
    let text = |g: &Glob| g.as_string();
    routes.iter().any(|r| a.matches(&text(r)) || (!r.is_literal() && r.matches(allowed)))
        || dto.providers.iter().any(|p| a.matches(&format!("{}/", p.name)) || allowed.split_once('/').is_some_and(|(prov, _)| prov == p.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn lint_json(v: serde_json::Value) -> Vec<String> {
        let dto: ConfigDto = serde_json::from_value(v).unwrap();
        lint(&dto).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn allow_lists_must_reach_a_route() {
        let v = serde_json::json!({
            "providers": [{"name": "openai", "kind": "openai", "cluster": "c"}],
            "models": [{"name": "gpt-4o-mini", "targets": [{"provider": "openai"}]}, {"name": "claude-*", "targets": [{"provider": "openai"}]}],
            "keys": [{"id": "k", "models": ["*", "gpt-4o-mini", "gpt-4o*", "claude-sonnet-4", "claude-*", "openai/o3", "gpt-5", "mistral-*"]}]
        });
        assert_eq!(lint_json(v), ["keys[0].models[6]", "keys[0].models[7]"]);
    }

    #[test]
    fn shadowed_globs() {
        let v = serde_json::json!({
            "models": [{"name": "gpt-*", "targets": []}, {"name": "gpt-4o*", "targets": []}, {"name": "gpt-4o", "targets": []}, {"name": "claude-*", "targets": []}]
        });
        assert_eq!(lint_json(v), ["models[1].name"]);
    }
}
