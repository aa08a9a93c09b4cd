//! Usage from a streamed (SSE) response, fed event by event without holding the stream back.
//!
//! Per dialect:
//! - **OpenAI.** Usage arrives only when the request set `stream_options.include_usage`, in one
//!   extra chunk with `choices: []` just before `data: [DONE]`. [`is_usage_only_chunk`] (or
//!   [`Seen::usage_only`]) lets the filter drop that chunk for a client that did not ask for it.
//! - **Anthropic.** `message_start` gives the baseline (input and cache tokens, an initial
//!   `output_tokens`); each `message_delta` usage is cumulative: its fields replace, never add.
//! - **Gemini.** Every chunk's `usageMetadata` is cumulative; the last one wins.
//! - **OpenAI Responses.** The closing event (`response.completed`, `response.incomplete`,
//!   `response.failed`) carries the response object with its `usage`; it ends the stream.
//!
//! Generated text (content, reasoning, tool-call arguments) is counted on the way with
//! [`TokenCounter`], so a stream that ends without usage can still be charged an estimate.

use super::estimate::TokenCounter;
use super::model::{Usage, UsageDialect};
use super::wire::{AnthropicBody, AnthropicUsage, ConverseEvent, GeminiBody, OpenAiBody, ResponsesEvent};
use crate::sse::SseEvent;

/// What one event told the accumulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// The event carried provider usage.
    pub usage: bool,
    /// An OpenAI chunk that exists only to carry usage (`choices: []`).
    pub usage_only: bool,
    /// The end-of-stream marker (OpenAI `[DONE]`, Anthropic `message_stop`).
    pub done: bool,
}

/// A per-response usage accumulator.
#[derive(Debug, Clone)]
pub struct StreamUsage {
    dialect: UsageDialect,
    /// OpenAI and Gemini: the latest reported usage.
    reported: Option<Usage>,
    /// Anthropic: the merged cumulative fields.
    anthropic: AnthropicUsage,
    /// Anthropic: `message_start` seen / a `message_delta` with usage seen.
    anthropic_start: bool,
    anthropic_final: bool,
    text: TokenCounter,
}

impl StreamUsage {
    /// An accumulator for a stream in `dialect`.
    pub fn new(dialect: UsageDialect) -> StreamUsage {
        StreamUsage {
            dialect,
            reported: None,
            anthropic: AnthropicUsage::default(),
            anthropic_start: false,
            anthropic_final: false,
            text: TokenCounter::new(),
        }
    }

    /// Takes in one event. Events that are not JSON (or not of this dialect) are ignored.
    pub fn on_event(&mut self, event: &SseEvent) -> Seen {
        match self.dialect {
            UsageDialect::OpenAi => self.openai(event),
            UsageDialect::Anthropic => self.anthropic(event),
            UsageDialect::Gemini => self.gemini(event),
            UsageDialect::Converse => self.converse(event),
            UsageDialect::OpenAiResponses => self.responses(event),
        }
    }

    /// Whether complete provider usage has been seen (Anthropic: a `message_delta` with usage).
    pub fn has_usage(&self) -> bool {
        match self.dialect {
            UsageDialect::Anthropic => self.anthropic_final,
            UsageDialect::OpenAi | UsageDialect::Gemini | UsageDialect::Converse | UsageDialect::OpenAiResponses => self.reported.is_some(),
        }
    }

    /// Estimated tokens of the generated text seen so far.
    pub fn generated_estimate(&self) -> u64 {
        self.text.total()
    }

    /// The usage of the stream so far.
    ///
    /// With complete provider usage, that usage. Otherwise `estimated` is set, and:
    /// - nothing reported: `prompt_estimate` (the caller's estimate of the request) and the
    ///   estimate of the generated text;
    /// - Anthropic `message_start` only (stream cut before `message_delta`): its exact input
    ///   and cache figures, with completion the larger of its `output_tokens` and the estimate.
    pub fn finish(&self, prompt_estimate: u64) -> Usage {
        if self.has_usage() {
            let reported = match self.dialect {
                UsageDialect::Anthropic => self.anthropic.normalise(),
                UsageDialect::OpenAi | UsageDialect::Gemini | UsageDialect::Converse | UsageDialect::OpenAiResponses => self.reported.unwrap_or_default(),
            };
            // Figures past belief are no report: the stream is estimated instead.
            if reported.plausible() {
                return reported;
            }
        }
        let generated = self.text.total();
        if self.anthropic_start && self.anthropic.normalise().plausible() {
            let mut usage = self.anthropic.normalise();
            usage.completion_tokens = usage.completion_tokens.max(generated);
            usage.estimated = true;
            return usage;
        }
        Usage {
            prompt_tokens: prompt_estimate,
            completion_tokens: generated,
            estimated: true,
            ..Usage::default()
        }
    }

    fn openai(&mut self, event: &SseEvent) -> Seen {
        if event.data.trim() == "[DONE]" {
            return Seen {
                done: true,
                ..Seen::default()
            };
        }
        let Ok(chunk) = serde_json::from_str::<OpenAiBody>(&event.data) else {
            return Seen::default();
        };
        for delta in chunk.choices.iter().flatten().filter_map(|c| c.delta.as_ref()) {
            for text in [&delta.content, &delta.reasoning_content, &delta.refusal]
                .into_iter()
                .flatten()
            {
                self.text.push_str(text);
            }
            for function in delta.tool_calls.iter().flatten().filter_map(|t| t.function.as_ref()) {
                for text in [&function.name, &function.arguments].into_iter().flatten() {
                    self.text.push_str(text);
                }
            }
        }
        let Some(usage) = chunk.usage else {
            return Seen::default();
        };
        self.reported = Some(usage.normalise());
        let usage_only = chunk.choices.as_ref().is_some_and(Vec::is_empty);
        Seen {
            usage: true,
            usage_only,
            done: false,
        }
    }

    fn anthropic(&mut self, event: &SseEvent) -> Seen {
        let Ok(body) = serde_json::from_str::<AnthropicBody>(&event.data) else {
            return Seen::default();
        };
        let kind = body.kind.as_deref().or(event.event.as_deref()).unwrap_or_default();
        match kind {
            "message_start" => {
                let Some(usage) = body.message.and_then(|m| m.usage) else {
                    return Seen::default();
                };
                self.anthropic.merge(&usage);
                self.anthropic_start = true;
                Seen {
                    usage: true,
                    ..Seen::default()
                }
            }
            "message_delta" => {
                let Some(usage) = body.usage else {
                    return Seen::default();
                };
                self.anthropic.merge(&usage);
                self.anthropic_final = true;
                Seen {
                    usage: true,
                    ..Seen::default()
                }
            }
            "content_block_delta" => {
                if let Some(delta) = body.delta {
                    for text in [&delta.text, &delta.partial_json, &delta.thinking]
                        .into_iter()
                        .flatten()
                    {
                        self.text.push_str(text);
                    }
                }
                Seen::default()
            }
            "message_stop" => Seen {
                done: true,
                ..Seen::default()
            },
            _ => Seen::default(),
        }
    }

    fn responses(&mut self, event: &SseEvent) -> Seen {
        let Ok(e) = serde_json::from_str::<ResponsesEvent>(&event.data) else {
            return Seen::default();
        };
        if let Some(delta) = e.delta.as_deref().filter(|_| e.kind.ends_with(".delta")) {
            self.text.push_str(delta);
        }
        if !matches!(e.kind.as_ref(), "response.completed" | "response.incomplete" | "response.failed") {
            return Seen::default();
        }
        let usage = e.response.and_then(|r| r.usage);
        if let Some(u) = &usage {
            self.reported = Some(u.normalise());
        }
        Seen { usage: usage.is_some(), usage_only: false, done: true }
    }

    /// ConverseStream, as SSE (`eventstream::to_sse`): text in `contentBlockDelta`, usage in
    /// `metadata`, the end at `messageStop` (the `metadata` event follows it).
    fn converse(&mut self, event: &SseEvent) -> Seen {
        let Ok(e) = serde_json::from_str::<ConverseEvent>(&event.data) else {
            return Seen::default();
        };
        if let Some(text) = e.delta.as_ref().and_then(|d| d.text.as_deref().or(d.tool_use.as_ref().and_then(|t| t.input.as_deref()))) {
            self.text.push_str(text);
        }
        let Some(usage) = e.usage else {
            return Seen::default();
        };
        self.reported = Some(usage.normalise());
        Seen { usage: true, usage_only: false, done: true }
    }

    fn gemini(&mut self, event: &SseEvent) -> Seen {
        let Ok(chunk) = serde_json::from_str::<GeminiBody>(&event.data) else {
            return Seen::default();
        };
        let parts = chunk.candidates.iter().flatten().filter_map(|c| c.content.as_ref());
        for part in parts.filter_map(|c| c.parts.as_ref()).flatten() {
            if let Some(text) = &part.text {
                self.text.push_str(text);
            }
        }
        let Some(usage) = chunk.usage_metadata else {
            return Seen::default();
        };
        self.reported = Some(usage.normalise());
        Seen {
            usage: true,
            ..Seen::default()
        }
    }
}

/// Whether `event` is OpenAI's usage-only chunk (`choices: []` with a `usage` object), which a
/// client that did not ask for `include_usage` must not receive.
pub fn is_usage_only_chunk(event: &SseEvent) -> bool {
    if !event.data.contains("\"usage\"") {
        return false;
    }
    match serde_json::from_str::<OpenAiBody>(&event.data) {
        Ok(chunk) => chunk.usage.is_some() && chunk.choices.as_ref().is_some_and(Vec::is_empty),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseFramer;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OPENAI: &str = include_str!("../../tests/fixtures/openai_chat_stream.sse");
    const ANTHROPIC: &str = include_str!("../../tests/fixtures/anthropic_messages_stream.sse");

    /// A hostile provider's stream usage (tests/hostile_upstream.rs): estimated, never charged as sent.
    #[test]
    fn usage_past_belief_is_estimated() {
        let huge = "18446744073709551615";
        for (dialect, text, field) in [(UsageDialect::OpenAi, OPENAI, "\"completion_tokens\":17"), (UsageDialect::Anthropic, ANTHROPIC, "\"output_tokens\":19"), (UsageDialect::Anthropic, ANTHROPIC, "\"input_tokens\":31")] {
            let name = field.split(':').next().unwrap_or_default();
            let hostile = text.replace(field, &format!("{name}:{huge}"));
            assert_ne!(hostile, text, "{field}");
            let mut framer = SseFramer::new(4096);
            let mut acc = StreamUsage::new(dialect);
            for event in framer.feed(hostile.as_bytes()) {
                acc.on_event(&event);
            }
            let usage = acc.finish(40);
            assert!(usage.estimated && usage.plausible(), "{field}: {usage:?}");
            assert!(usage.total_tokens() < 1000, "{field}: {usage:?}");
        }
    }

    #[test]
    fn without_usage_the_text_is_estimated() {
        let text = "Hello! I am the tollgate mock provider. This reply is deterministic.";
        let expect = crate::usage::estimate::estimate_tokens(text);
        // OpenAI without include_usage: drop the usage chunk.
        let no_usage: String = OPENAI
            .split("\n\n")
            .filter(|e| !e.contains("\"usage\":{"))
            .map(|e| format!("{e}\n\n"))
            .collect();
        let mut framer = SseFramer::new(4096);
        let mut acc = StreamUsage::new(UsageDialect::OpenAi);
        for event in framer.feed(no_usage.as_bytes()) {
            acc.on_event(&event);
        }
        assert!(!acc.has_usage());
        let usage = acc.finish(40);
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 40,
                completion_tokens: expect,
                estimated: true,
                ..Usage::default()
            }
        );
        // Anthropic cut before message_delta: exact input, estimated output.
        let cut = ANTHROPIC.split("event: message_delta").next().unwrap_or_default();
        let mut framer = SseFramer::new(4096);
        let mut acc = StreamUsage::new(UsageDialect::Anthropic);
        for event in framer.feed(cut.as_bytes()) {
            acc.on_event(&event);
        }
        let usage = acc.finish(999);
        assert!(usage.estimated && !acc.has_usage());
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.cached_prompt_tokens,
                usage.cache_creation_tokens
            ),
            (107, 64, 12)
        );
        assert_eq!(usage.completion_tokens, expect.max(1));
        assert_eq!(acc.generated_estimate(), expect);
    }

    #[test]
    fn anthropic_delta_is_cumulative_and_may_omit_input() {
        let mut acc = StreamUsage::new(UsageDialect::Anthropic);
        let ev = |data: &str| SseEvent {
            event: None,
            data: data.to_owned(),
            id: None,
        };
        acc.on_event(&ev(
            r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}"#,
        ));
        acc.on_event(&ev(r#"{"type":"message_delta","usage":{"output_tokens":5}}"#));
        acc.on_event(&ev(
            r#"{"type":"message_delta","usage":{"output_tokens":9,"cache_read_input_tokens":3}}"#,
        ));
        let usage = acc.finish(0);
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens, usage.cached_prompt_tokens),
            (13, 9, 3)
        );
        assert!(!usage.estimated);
    }

    #[test]
    fn usage_only_detection() {
        let ev = |data: &str| SseEvent {
            event: None,
            data: data.to_owned(),
            id: None,
        };
        assert!(is_usage_only_chunk(&ev(
            r#"{"choices":[],"usage":{"prompt_tokens":1}}"#
        )));
        assert!(!is_usage_only_chunk(&ev(r#"{"choices":[],"usage":null}"#)));
        assert!(!is_usage_only_chunk(&ev(
            r#"{"choices":[{"delta":{}}],"usage":{"prompt_tokens":1}}"#
        )));
        assert!(!is_usage_only_chunk(&ev("[DONE]")));
    }
}
