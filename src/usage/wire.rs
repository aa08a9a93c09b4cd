//! Serde shapes of the providers' usage objects and the chunks that carry them.
//!
//! Every field is optional and unknown fields are ignored, so a provider adding fields (or an
//! OpenAI-compatible server leaving some out) does not break extraction.

use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;

use super::model::Usage;

/// OpenAI `usage` (chat, embeddings; Responses API names as fallbacks).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenAiUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    prompt_tokens_details: Option<Details>,
    input_tokens_details: Option<Details>,
    completion_tokens_details: Option<Details>,
    output_tokens_details: Option<Details>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Details {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

impl OpenAiUsage {
    pub(crate) fn normalise(&self) -> Usage {
        let details = |a: &Option<Details>, b: &Option<Details>, f: fn(&Details) -> Option<u64>| {
            a.as_ref().and_then(f).or_else(|| b.as_ref().and_then(f)).unwrap_or(0)
        };
        Usage {
            prompt_tokens: self.prompt_tokens.or(self.input_tokens).unwrap_or(0),
            completion_tokens: self.completion_tokens.or(self.output_tokens).unwrap_or(0),
            cached_prompt_tokens: details(&self.prompt_tokens_details, &self.input_tokens_details, |d| {
                d.cached_tokens
            }),
            cache_creation_tokens: 0,
            cache_creation_1h_tokens: 0,
            reasoning_tokens: details(&self.completion_tokens_details, &self.output_tokens_details, |d| {
                d.reasoning_tokens
            }),
            estimated: false,
        }
    }
}

/// Anthropic `usage`; in streams, a field absent from an event keeps its earlier value.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct AnthropicUsage {
    pub(crate) input_tokens: Option<u64>,
    pub(crate) output_tokens: Option<u64>,
    pub(crate) cache_creation_input_tokens: Option<u64>,
    pub(crate) cache_read_input_tokens: Option<u64>,
    /// The cache writes split by lifetime (absent from older responses: all five-minute).
    pub(crate) cache_creation: Option<AnthropicCacheCreation>,
}

/// Anthropic `usage.cache_creation`: cache writes by lifetime.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct AnthropicCacheCreation {
    pub(crate) ephemeral_5m_input_tokens: Option<u64>,
    pub(crate) ephemeral_1h_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Takes every field `later` reports (Anthropic's stream figures are cumulative).
    pub(crate) fn merge(&mut self, later: &AnthropicUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = later.cache_creation_input_tokens.or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = later.cache_read_input_tokens.or(self.cache_read_input_tokens);
        self.cache_creation = later.cache_creation.or(self.cache_creation);
    }

    pub(crate) fn normalise(&self) -> Usage {
        let split = self.cache_creation.unwrap_or_default();
        let one_hour = split.ephemeral_1h_input_tokens.unwrap_or(0);
        // The total is reported beside the split; without it, the split's sum stands in.
        let creation = self.cache_creation_input_tokens.unwrap_or_else(|| split.ephemeral_5m_input_tokens.unwrap_or(0).saturating_add(one_hour));
        let read = self.cache_read_input_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(creation)
                .saturating_add(read),
            completion_tokens: self.output_tokens.unwrap_or(0),
            cached_prompt_tokens: read,
            cache_creation_tokens: creation,
            cache_creation_1h_tokens: one_hour.min(creation),
            reasoning_tokens: 0,
            estimated: false,
        }
    }
}

/// Bedrock Converse `usage` (camelCase; `inputTokens` excludes the cache reads and writes).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ConverseUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_write_input_tokens: Option<u64>,
}

impl ConverseUsage {
    pub(crate) fn normalise(&self) -> Usage {
        AnthropicUsage {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_creation_input_tokens: self.cache_write_input_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
            cache_creation: None,
        }
        .normalise()
    }
}

/// A ConverseStream event's data, reduced to what usage needs: a `contentBlockDelta`'s text or
/// tool input, or the `metadata` event's usage.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ConverseEvent {
    pub(crate) delta: Option<ConverseDelta>,
    pub(crate) usage: Option<ConverseUsage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ConverseDelta {
    pub(crate) text: Option<String>,
    pub(crate) tool_use: Option<ConverseToolDelta>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConverseToolDelta {
    pub(crate) input: Option<String>,
}

/// Gemini `usageMetadata`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GeminiUsage {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
    tool_use_prompt_token_count: Option<u64>,
}

impl GeminiUsage {
    pub(crate) fn normalise(&self) -> Usage {
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        let prompt = self.prompt_token_count.unwrap_or(0);
        Usage {
            prompt_tokens: prompt.saturating_add(self.tool_use_prompt_token_count.unwrap_or(0)),
            completion_tokens: self.candidates_token_count.unwrap_or(0).saturating_add(thoughts),
            cached_prompt_tokens: self.cached_content_token_count.unwrap_or(0),
            cache_creation_tokens: 0,
            cache_creation_1h_tokens: 0,
            reasoning_tokens: thoughts,
            estimated: false,
        }
    }
}

/// An OpenAI response body or stream chunk, reduced to what usage needs (stream translation
/// reads text chunks with it too).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenAiBody<'a> {
    pub(crate) usage: Option<OpenAiUsage>,
    #[serde(borrow)]
    pub(crate) choices: Option<Vec<OpenAiChoice<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenAiChoice<'a> {
    #[serde(borrow)]
    pub(crate) delta: Option<OpenAiDelta<'a>>,
    /// Read by stream translation (a chunk with a finish reason ends the text).
    pub(crate) finish_reason: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenAiDelta<'a> {
    #[serde(borrow)]
    pub(crate) content: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) refusal: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) tool_calls: Option<Vec<OpenAiToolCall<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenAiToolCall<'a> {
    #[serde(borrow)]
    pub(crate) function: Option<OpenAiFunction<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenAiFunction<'a> {
    #[serde(borrow)]
    pub(crate) name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) arguments: Option<Cow<'a, str>>,
}

/// An Anthropic response body or stream event, reduced to what usage needs (stream translation
/// reads text deltas with it too).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AnthropicBody<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
    pub(crate) usage: Option<AnthropicUsage>,
    pub(crate) message: Option<AnthropicMessage>,
    #[serde(borrow)]
    pub(crate) delta: Option<AnthropicDelta<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AnthropicMessage {
    pub(crate) usage: Option<AnthropicUsage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AnthropicDelta<'a> {
    /// Read by stream translation (only a `text_delta` is text for the client).
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) partial_json: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) thinking: Option<Cow<'a, str>>,
}

/// A Gemini response body or stream chunk, reduced to what usage needs (stream translation
/// reads text events with it too).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GeminiBody<'a> {
    pub(crate) usage_metadata: Option<GeminiUsage>,
    #[serde(borrow)]
    pub(crate) candidates: Option<Vec<GeminiCandidate<'a>>>,
    /// Read by stream translation (a blocked prompt ends the answer).
    pub(crate) prompt_feedback: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GeminiCandidate<'a> {
    #[serde(borrow)]
    pub(crate) content: Option<GeminiContent<'a>>,
    /// Read by stream translation (a finish reason ends the text).
    pub(crate) finish_reason: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GeminiContent<'a> {
    #[serde(borrow)]
    pub(crate) parts: Option<Vec<GeminiPart<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GeminiPart<'a> {
    #[serde(borrow)]
    pub(crate) text: Option<Cow<'a, str>>,
    /// Read by stream translation (thoughts and calls are not plain text).
    pub(crate) thought: Option<IgnoredAny>,
    pub(crate) function_call: Option<IgnoredAny>,
}

/// One OpenAI Responses stream event: its type, a text or arguments `delta`, and the
/// response object's usage on the closing events.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) delta: Option<Cow<'a, str>>,
    pub(crate) response: Option<ResponsesEnvelope>,
}

/// The part of a Responses `response` object that accounting reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResponsesEnvelope {
    pub(crate) usage: Option<OpenAiUsage>,
}
