//! The normalised usage record and the provider dialects it is read from.

/// Which provider wire format a usage record is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageDialect {
    /// OpenAI chat completions and embeddings (`usage`; the Responses API's
    /// `input_tokens`/`output_tokens` names are accepted too).
    OpenAi,
    /// Anthropic Messages (`usage` with cache fields).
    Anthropic,
    /// Google Gemini `generateContent` / `streamGenerateContent` (`usageMetadata`).
    Gemini,
    /// AWS Bedrock Converse / ConverseStream (`usage`; in streams, of the `metadata` event).
    Converse,
    /// OpenAI Responses: `usage` of the response object (in streams, of the closing
    /// `response.completed` / `response.incomplete` / `response.failed` event).
    OpenAiResponses,
}

/// Token usage of one request, normalised across providers.
///
/// Normalisation:
/// - **OpenAI.** `prompt_tokens` already includes the cached ones
///   (`prompt_tokens_details.cached_tokens` → `cached_prompt_tokens`), and `completion_tokens`
///   already includes `completion_tokens_details.reasoning_tokens`. Taken as reported.
/// - **Anthropic.** `input_tokens` *excludes* cache writes and reads, so
///   `prompt_tokens = input_tokens + cache_creation_input_tokens + cache_read_input_tokens`,
///   `cached_prompt_tokens = cache_read_input_tokens`,
///   `cache_creation_tokens = cache_creation_input_tokens` (of which
///   `cache_creation.ephemeral_1h_input_tokens` → `cache_creation_1h_tokens`),
///   `completion_tokens = output_tokens`
///   (thinking is billed inside it and not reported apart, so `reasoning_tokens` stays 0).
/// - **Bedrock Converse.** `inputTokens` excludes `cacheReadInputTokens` and
///   `cacheWriteInputTokens`, as Anthropic's does: normalised the same way.
/// - **Gemini.** `promptTokenCount` includes `cachedContentTokenCount`; tool-use prompt tokens
///   (`toolUsePromptTokenCount`) are added to `prompt_tokens`. `thoughtsTokenCount` is billed as
///   output but *not* included in `candidatesTokenCount`, so
///   `completion_tokens = candidatesTokenCount + thoughtsTokenCount` and
///   `reasoning_tokens = thoughtsTokenCount`.
///
/// So everywhere: `prompt_tokens` is every input token (cached ones included),
/// `completion_tokens` is every output token (reasoning included), and
/// `prompt_tokens + completion_tokens` is the billable total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens, including cache reads and writes.
    pub prompt_tokens: u64,
    /// All output tokens, including reasoning.
    pub completion_tokens: u64,
    /// Input tokens served from the provider's prompt cache (a subset of `prompt_tokens`).
    pub cached_prompt_tokens: u64,
    /// Input tokens written to the prompt cache (a subset of `prompt_tokens`; Anthropic only).
    pub cache_creation_tokens: u64,
    /// Of `cache_creation_tokens`, those written with a one-hour lifetime (Anthropic's
    /// `cache_creation.ephemeral_1h_input_tokens`); the others are five-minute writes.
    pub cache_creation_1h_tokens: u64,
    /// Output tokens spent on reasoning (a subset of `completion_tokens`).
    pub reasoning_tokens: u64,
    /// Some figure is our estimate, not the provider's report.
    pub estimated: bool,
}

/// The most tokens one figure of one request may report. More is a provider's error (or a
/// hostile provider draining a budget), read as no report at all: a JSON answer is then not
/// charged, a stream is estimated (docs/reliability.md).
pub const MAX_PLAUSIBLE_TOKENS: u64 = 1_000_000_000;

impl Usage {
    /// Whether every figure is at most [`MAX_PLAUSIBLE_TOKENS`].
    pub fn plausible(&self) -> bool {
        [self.prompt_tokens, self.completion_tokens, self.cached_prompt_tokens, self.cache_creation_tokens, self.reasoning_tokens]
            .iter()
            .all(|n| *n <= MAX_PLAUSIBLE_TOKENS)
    }

    /// `prompt_tokens + completion_tokens`.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}
