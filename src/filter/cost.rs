//! The price of a planned request's usage, looked up by the names its model goes by.

use crate::config::Config;
use crate::gateway::Plan;
use crate::usage::Usage;

/// Names the model of `plan` goes by, in price-lookup order: upstream model, requested model,
/// route (when one matched).
pub fn model_names(plan: &Plan) -> ModelNames<'_> {
    let names = [plan.upstream_model.as_str(), plan.requested_model.as_str(), plan.route.as_deref().unwrap_or_default()];
    ModelNames { names, len: if plan.route.is_some() { 3 } else { 2 } }
}

/// [`model_names`]: two or three names, without an allocation (read on every request).
pub struct ModelNames<'a> {
    names: [&'a str; 3],
    len: usize,
}

impl<'a> std::ops::Deref for ModelNames<'a> {
    type Target = [&'a str];
    fn deref(&self) -> &[&'a str] {
        self.names.get(..self.len).unwrap_or_default()
    }
}

/// Cost of `usage` in micro-units of the pricing currency; `None` when the model has no price.
pub fn cost_of(config: Option<&Config>, plan: Option<&Plan>, usage: &Usage) -> Option<u64> {
    let (config, plan) = (config?, plan?);
    config.pricing.price(&model_names(plan)).map(|p| p.cost_micros(usage))
}
