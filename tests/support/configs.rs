//! Tollgate configs several test files share.

use tollgate::keys::Digest;

/// OpenAI (`gpt-*`) and Anthropic (`claude-*`) routes, one key per entry of `keys` (`(id,
/// tenant)`, secret `sk-<id>`), a price for every model, the limit `rules` (a JSON array) with a
/// default of 100 completion tokens, and `extra` top-level fields (`, "name": value…` or empty).
pub fn limited(keys: &[(&str, &str)], rules: &str, extra: &str) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|(id, tenant)| format!(r#"{{"id": "{id}", "tenant": "{tenant}", "digests": ["{}"]}}"#, Digest::of(format!("sk-{id}").as_bytes())))
        .collect();
    format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}}, {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}}],
            "models": [{{"name": "gpt-*", "targets": [{{"provider": "openai"}}]}}, {{"name": "claude-*", "targets": [{{"provider": "anthropic"}}]}}],
            "keys": [{}],
            "pricing": {{"models": {{"*": {{"input": 1000, "output": 2000, "cached_input": 500}}}}}},
            "limits": {{"default_completion_tokens": 100, "rules": {rules}}}{extra}}}"#,
        keys.join(",")
    )
}
