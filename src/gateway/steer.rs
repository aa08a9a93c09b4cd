//! Planning glue for steered routes: the request's facts (read from the body only when the
//! route's rules or context windows need them) and the resolution through [`Signals`].

use super::plan::document;
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::keys::KeyPolicy;
use crate::route::rules::Facts;
use crate::route::select::Signals;
use crate::route::Resolution;
use serde_json::Value;

/// Resolves `requested`: through its route's steering when it has any, else plainly. A body the
/// steering reads is parsed once into `parsed`, for the rest of planning to reuse.
pub(super) fn resolve(
    config: &Config,
    requested: &str,
    seed: u64,
    key: Option<&KeyPolicy>,
    body: &[u8],
    parsed: &mut Option<Value>,
    signals: &mut dyn Signals,
) -> Result<Option<Resolution>, ApiError> {
    let Some(route) = config.router.steered_route(requested) else { return Ok(config.router.resolve(requested, seed)) };
    let mut facts = Facts { tenant: key.and_then(|p| p.tenant.as_deref()), labels: key.map(|p| &p.labels), ..Facts::default() };
    if route.reads_body() {
        if parsed.is_none() {
            *parsed = Some(document(body)?);
        }
        if let Some(json) = parsed.as_ref() {
            (facts.tokens, facts.tools, facts.images) = Facts::of_body(json);
        }
    }
    let resolution = config.router.steer(route, requested, &facts, seed, &config.pricing, signals);
    if resolution.attempts.is_empty() {
        // Only the cost strategy's cap leaves a route without targets.
        return Err(ApiError::new(ErrorKind::ProviderUnavailable, format!("No target for `{requested}` is priced within the route's `max_price`.")));
    }
    Ok(Some(resolution))
}

#[cfg(test)]
mod tests {
    use crate::api::Endpoint;
    use crate::config::parse;
    use crate::error::ErrorKind;
    use crate::gateway::{plan, Admission, Identity};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_price_cap_over_every_target_is_a_clear_error() {
        let json = r#"{"providers": [{"name": "a", "kind": "openai", "cluster": "a"}],
            "pricing": {"models": {"big": {"input": 10, "output": 30}, "small": {"input": 1, "output": 2}}},
            "models": [{"name": "m", "strategy": "cost", "max_price": "5", "targets": [{"provider": "a", "model": "big"}]},
                       {"name": "n", "strategy": "cost", "max_price": "5", "targets": [{"provider": "a", "model": "big"}, {"provider": "a", "model": "small"}]}],
            "auth": {"mode": "none"}}"#;
        let config = parse(json.as_bytes(), &|_| None).unwrap();
        let adm = Admission { endpoint: Endpoint::ChatCompletions, identity: Identity::Anonymous, beta: false };
        let e = plan(&config, &adm, br#"{"model": "m", "messages": []}"#, 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ProviderUnavailable);
        assert!(e.message.contains("max_price"), "{}", e.message);
        assert_eq!(plan(&config, &adm, br#"{"model": "n", "messages": []}"#, 0).unwrap().upstream_model, "small");
    }
}
