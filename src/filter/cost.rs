//! The price of a planned request's usage, looked up by the names its model goes by.

use crate::config::Config;
use crate::gateway::Plan;
use crate::usage::Usage;

/// Names the model of `plan` goes by, in price-lookup order: upstream model, requested model,
/// route (when one matched).
pub fn model_names(plan: &Plan) -> Vec<&str> {
    [Some(plan.upstream_model.as_str()), Some(plan.requested_model.as_str()), plan.route.as_deref()].into_iter().flatten().collect()
}

/// Cost of `usage` in micro-units of the pricing currency; `None` when the model has no price.
pub fn cost_of(config: Option<&Config>, plan: Option<&Plan>, usage: &Usage) -> Option<u64> {
    let (config, plan) = (config?, plan?);
    config.pricing.price(&model_names(plan)).map(|p| p.cost_micros(usage))
}
