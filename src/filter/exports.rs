//! Filter-state names the filter publishes for Envoy's access log and rate-limit filter.

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
            FilterStateName::Redactions => "tollgate.redactions",
        }
    }
}
