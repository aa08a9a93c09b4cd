//! Planning glue for steered routes: the request's facts (read from the body only when the
//! route's rules or context windows need them) and the resolution through [`Signals`].

use super::plan::document;
use crate::config::Config;
use crate::error::ApiError;
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
    Ok(Some(config.router.steer(route, requested, &facts, seed, signals)))
}
