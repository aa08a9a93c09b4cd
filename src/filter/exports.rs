//! Filter-state names the filter publishes for Envoy's access log and rate-limit filter, and
//! the writes that honour `telemetry.filter_state`.

use crate::config::Config;
use crate::host::Host;
use crate::usage::Usage;

/// A value published as filter state `wasm.<name>` (`%FILTER_STATE(wasm.<name>:PLAIN)%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterStateName {
    KeyId,
    Tenant,
    RequestedModel,
    Provider,
    UpstreamModel,
    PromptTokens,
    CompletionTokens,
    CachedTokens,
    ReasoningTokens,
    TotalTokens,
    /// `true` when any usage figure is the gateway's estimate.
    UsageEstimated,
    /// Cost in micro-units of the pricing currency (set when the model has a price).
    CostMicros,
    /// `true` when a failover route was answered by another provider than the first attempt's.
    FailedOver,
    /// Milliseconds from the request's start to the first response byte (time to first token
    /// for streams).
    TtftMs,
    /// The plan the upstream role rewrites each failover attempt from (internal).
    Handoff,
    /// Prompt matches replaced (masked or pseudonymized) before forwarding.
    Redactions,
}

impl FilterStateName {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterStateName::KeyId => "tollgate.key_id",
            FilterStateName::Tenant => "tollgate.tenant",
            FilterStateName::RequestedModel => "tollgate.model",
            FilterStateName::Provider => "tollgate.provider",
            FilterStateName::UpstreamModel => "tollgate.upstream_model",
            FilterStateName::PromptTokens => "tollgate.prompt_tokens",
            FilterStateName::CompletionTokens => "tollgate.completion_tokens",
            FilterStateName::CachedTokens => "tollgate.cached_tokens",
            FilterStateName::ReasoningTokens => "tollgate.reasoning_tokens",
            FilterStateName::TotalTokens => "tollgate.total_tokens",
            FilterStateName::UsageEstimated => "tollgate.usage_estimated",
            FilterStateName::CostMicros => "tollgate.cost_micros",
            FilterStateName::FailedOver => "tollgate.failed_over",
            FilterStateName::Handoff => "tollgate.handoff",
            FilterStateName::TtftMs => "tollgate.ttft_ms",
            FilterStateName::Redactions => "tollgate.redactions",
        }
    }
}
/// Writes one access-log field, unless `telemetry.filter_state` is off.
pub fn export(host: &mut impl Host, config: &Config, name: FilterStateName, value: &str) {
    if config.telemetry.filter_state {
        host.set_filter_state(name.as_str(), value);
    }
}

/// Writes the usage figures (and the cost, when priced) as access-log fields.
pub fn export_usage(host: &mut impl Host, config: &Config, u: &Usage, cost_micros: Option<u64>) {
    if !config.telemetry.filter_state {
        return;
    }
    let figures = [
        (FilterStateName::PromptTokens, u.prompt_tokens),
        (FilterStateName::CompletionTokens, u.completion_tokens),
        (FilterStateName::CachedTokens, u.cached_prompt_tokens),
        (FilterStateName::ReasoningTokens, u.reasoning_tokens),
        (FilterStateName::TotalTokens, u.total_tokens()),
    ];
    for (name, value) in figures {
        export(host, config, name, &value.to_string());
    }
    export(host, config, FilterStateName::UsageEstimated, if u.estimated { "true" } else { "false" });
    if let Some(cost) = cost_micros {
        export(host, config, FilterStateName::CostMicros, &cost.to_string());
    }
}

