//! `ResponseTranslator`: turns one provider response (JSON, SSE or error) into the client's
//! dialect, chunk by chunk for streams, so nothing is held back.

use super::{
    completion_to_message, error_body, gemini_to_completion, message_to_completion, AnthropicToOpenAiStream, GeminiToOpenAiStream,
    OpenAiToAnthropicStream,
};
use crate::api::Dialect;
use crate::sse::{SseEvent, SseFramer};
use serde_json::Value;

/// Which way a request was translated (the response goes the other way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// OpenAI chat client, Anthropic provider.
    ChatToAnthropic,
    /// Anthropic Messages client, OpenAI-compatible provider.
    MessagesToOpenAi,
    /// OpenAI chat client, Gemini provider.
    ChatToGemini,
    /// Anthropic Messages client, Gemini provider (through the OpenAI chat shape both ways).
    MessagesToGemini,
}

impl Translation {
    fn client(self) -> Dialect {
        match self {
            Translation::ChatToAnthropic | Translation::ChatToGemini => Dialect::OpenAiChat,
            Translation::MessagesToOpenAi | Translation::MessagesToGemini => Dialect::Anthropic,
        }
    }
}

enum Stream {
    ToOpenAi(AnthropicToOpenAiStream),
    ToAnthropic(OpenAiToAnthropicStream),
    FromGemini(GeminiToOpenAiStream),
    /// Gemini to OpenAI chunks, and those to Anthropic events.
    GeminiToAnthropic(GeminiToOpenAiStream, OpenAiToAnthropicStream),
}

/// Feeds OpenAI `data:` frames (as the stream translators write them: one line each) to the
/// Anthropic stream translator.
fn relay(frames: &[u8], to: &mut OpenAiToAnthropicStream) -> Vec<u8> {
    let text = String::from_utf8_lossy(frames);
    let mut out = Vec::new();
    for frame in text.split("\n\n") {
        if let Some(data) = frame.strip_prefix("data: ") {
            out.extend(to.push(data));
        }
    }
    out
}

#[allow(clippy::large_enum_variant)] // one per request; boxing would only add an allocation
enum Mode {
    /// A complete JSON body, translated at its end.
    Json,
    /// An error status: the body is rewritten into the client's error shape.
    Error(u16),
    /// SSE, translated event by event.
    Sse(SseFramer, Stream, Vec<SseEvent>),
    /// Anything else passes untouched.
    Passthrough,
}

/// Translates one response. Create it at the response headers.
pub struct ResponseTranslator {
    translation: Translation,
    model: String,
    created: u64,
    mode: Mode,
}

impl ResponseTranslator {
    /// `model` is the model name the client asked for; `created` the Unix time to report;
    /// `include_usage` the OpenAI client's `stream_options.include_usage`.
    pub fn new(translation: Translation, model: &str, created: u64, include_usage: bool, status: u16, content_type: &str) -> Self {
        let ct = content_type.trim_start().to_ascii_lowercase();
        let mode = if !(200..300).contains(&status) {
            Mode::Error(status)
        } else if ct.starts_with("text/event-stream") {
            let stream = match translation {
                Translation::ChatToAnthropic => Stream::ToOpenAi(AnthropicToOpenAiStream::new(model, created, include_usage)),
                Translation::MessagesToOpenAi => Stream::ToAnthropic(OpenAiToAnthropicStream::new(model)),
                Translation::ChatToGemini => Stream::FromGemini(GeminiToOpenAiStream::new(model, created, include_usage)),
                Translation::MessagesToGemini => Stream::GeminiToAnthropic(GeminiToOpenAiStream::new(model, created, true), OpenAiToAnthropicStream::new(model)),
            };
            Mode::Sse(SseFramer::new(crate::usage::MAX_SSE_EVENT_BYTES), stream, Vec::new())
        } else if ct.starts_with("application/json") {
            Mode::Json
        } else {
            Mode::Passthrough
        };
        ResponseTranslator { translation, model: model.to_string(), created, mode }
    }

    /// Whether the body is rewritten whole at its end (JSON and errors) rather than per chunk.
    pub fn buffers_body(&self) -> bool {
        matches!(self.mode, Mode::Json | Mode::Error(_))
    }

    /// Whether the body changes at all (the response `content-length` must go).
    pub fn rewrites(&self) -> bool {
        !matches!(self.mode, Mode::Passthrough)
    }

    /// Translates a whole body (JSON or error mode). A body that does not parse as the expected
    /// provider shape becomes a 502-style error in the client's dialect.
    pub fn whole(&self, body: &[u8]) -> Vec<u8> {
        match self.mode {
            Mode::Error(status) => error_body(body, status, self.translation.client()),
            Mode::Json => {
                // A plain answer, straight from its bytes; anything else through the document.
                let plain = match self.translation {
                    Translation::ChatToAnthropic => super::plain_message_to_completion(body, &self.model, self.created),
                    Translation::ChatToGemini => super::plain_gemini_to_completion(body, &self.model, self.created),
                    Translation::MessagesToOpenAi | Translation::MessagesToGemini => None,
                };
                if let Some(out) = plain {
                    return out;
                }
                let translated = serde_json::from_slice::<Value>(body).ok().and_then(|v| match self.translation {
                    Translation::ChatToAnthropic => message_to_completion(&v, &self.model, self.created).ok(),
                    Translation::MessagesToOpenAi => completion_to_message(&v, &self.model).ok(),
                    Translation::ChatToGemini => gemini_to_completion(&v, &self.model, self.created).ok(),
                    Translation::MessagesToGemini => gemini_to_completion(&v, &self.model, self.created).ok().and_then(|c| completion_to_message(&c, &self.model).ok()),
                });
                match translated {
                    Some(v) => crate::api::json_bytes(&v),
                    None => error_body(b"The provider's response could not be translated.", 502, self.translation.client()),
                }
            }
            _ => body.to_vec(),
        }
    }

    /// Translates one streamed chunk; `end` closes the stream (completing it if the provider
    /// stopped early). Returns the bytes to send in its place.
    pub fn chunk(&mut self, chunk: &[u8], end: bool) -> Vec<u8> {
        let Mode::Sse(framer, stream, events) = &mut self.mode else { return chunk.to_vec() };
        framer.feed_into(chunk, events);
        let mut out = Vec::new();
        for e in events.drain(..) {
            out.extend(match stream {
                Stream::ToOpenAi(s) => s.push(e.event.as_deref().unwrap_or_default(), &e.data),
                Stream::ToAnthropic(s) => s.push(&e.data),
                Stream::FromGemini(s) => s.push(&e.data),
                Stream::GeminiToAnthropic(g, a) => relay(&g.push(&e.data), a),
            });
        }
        if end {
            framer.finish();
            out.extend(match stream {
                Stream::ToOpenAi(s) => s.finish(),
                Stream::ToAnthropic(s) => s.finish(),
                Stream::FromGemini(s) => s.finish(),
                Stream::GeminiToAnthropic(g, a) => {
                    let mut out = relay(&g.finish(), a);
                    out.extend(a.finish());
                    out
                }
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const ANTHROPIC_SSE: &str = include_str!("../../../tests/fixtures/anthropic_messages_stream.sse");
    const OPENAI_SSE: &str = include_str!("../../../tests/fixtures/openai_chat_stream.sse");
    const ANTHROPIC_JSON: &str = include_str!("../../../tests/fixtures/anthropic_messages.json");

    fn run(t: &mut ResponseTranslator, input: &str, step: usize) -> String {
        let bytes = input.as_bytes();
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = bytes.chunks(step).collect();
        for (i, c) in chunks.iter().enumerate() {
            out.extend(t.chunk(c, i + 1 == chunks.len()));
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn anthropic_stream_becomes_openai_chunks_at_any_split() {
        let mut whole = ResponseTranslator::new(Translation::ChatToAnthropic, "claude-x", 1, true, 200, "text/event-stream");
        let expected = run(&mut whole, ANTHROPIC_SSE, ANTHROPIC_SSE.len());
        assert!(expected.contains("chat.completion.chunk") && expected.ends_with("data: [DONE]\n\n"), "{expected}");
        for step in [1, 3, 17] {
            let mut t = ResponseTranslator::new(Translation::ChatToAnthropic, "claude-x", 1, true, 200, "text/event-stream");
            assert_eq!(run(&mut t, ANTHROPIC_SSE, step), expected, "step {step}");
        }
    }

    #[test]
    fn openai_stream_becomes_anthropic_events() {
        let mut t = ResponseTranslator::new(Translation::MessagesToOpenAi, "gpt-x", 1, false, 200, "text/event-stream");
        let out = run(&mut t, OPENAI_SSE, 5);
        assert!(out.starts_with("event: message_start"), "{out}");
        assert!(out.contains("event: message_stop"));
    }

    #[test]
    fn gemini_stream_becomes_openai_chunks() {
        let sse = include_str!("../../../tests/fixtures/gemini_stream.sse");
        let mut t = ResponseTranslator::new(Translation::ChatToGemini, "gemini-x", 1, true, 200, "text/event-stream");
        let out = run(&mut t, sse, 9);
        assert!(out.contains("chat.completion.chunk") && out.ends_with("data: [DONE]\n\n"), "{out}");
        assert!(out.contains("\"choices\":[]"), "usage chunk when asked");
    }

    #[test]
    fn gemini_answers_an_anthropic_client() {
        let sse = include_str!("../../../tests/fixtures/gemini_stream.sse");
        for step in [1, 9, 4096] {
            let mut t = ResponseTranslator::new(Translation::MessagesToGemini, "gemini-x", 1, false, 200, "text/event-stream");
            let out = run(&mut t, sse, step);
            assert!(out.starts_with("event: message_start\n"), "{out}");
            assert!(out.contains("event: content_block_delta") && out.contains("text_delta"));
            assert!(out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "{out}");
            let delta = out.split("event: message_delta\ndata: ").nth(1).and_then(|r| r.split("\n\n").next()).unwrap();
            let delta: Value = serde_json::from_str(delta).unwrap();
            assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0, "usage carried through: {delta}");
        }
        let cut = sse.split("\n\n").next().unwrap();
        let mut t = ResponseTranslator::new(Translation::MessagesToGemini, "gemini-x", 1, false, 200, "text/event-stream");
        let out = run(&mut t, &format!("{cut}\n\n"), 7);
        assert!(out.contains("event: error") && !out.contains("message_stop"), "{out}");
        let json = include_str!("../../../tests/fixtures/gemini_generate.json");
        let t = ResponseTranslator::new(Translation::MessagesToGemini, "gemini-x", 1, false, 200, "application/json");
        let v: Value = serde_json::from_slice(&t.whole(json.as_bytes())).unwrap();
        assert_eq!((v["type"].as_str(), v["role"].as_str(), v["model"].as_str()), (Some("message"), Some("assistant"), Some("gemini-x")));
        assert!(v["content"][0]["text"].is_string(), "{v}");
    }

    #[test]
    fn json_and_errors() {
        let t = ResponseTranslator::new(Translation::ChatToAnthropic, "claude-x", 1, false, 200, "application/json");
        assert!(t.buffers_body());
        let v: Value = serde_json::from_slice(&t.whole(ANTHROPIC_JSON.as_bytes())).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "claude-x");
        let e = ResponseTranslator::new(Translation::ChatToAnthropic, "claude-x", 1, false, 429, "application/json");
        let v: Value = serde_json::from_slice(&e.whole(br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#)).unwrap();
        assert_eq!(v["error"]["message"], "slow down");
        let bad: Value = serde_json::from_slice(&t.whole(b"not json")).unwrap();
        assert!(bad["error"]["message"].is_string());
        let p = ResponseTranslator::new(Translation::ChatToAnthropic, "m", 1, false, 200, "text/plain");
        assert!(!p.rewrites());
    }
}
