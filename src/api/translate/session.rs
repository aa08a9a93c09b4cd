//! `ResponseTranslator`: turns one provider response (JSON, SSE or error) into the client's
//! dialect, chunk by chunk for streams, so nothing is held back.

use super::hub::{Translation, Wire};
use super::{
    completion_to_message, completion_to_response, error_body, gemini_to_completion, message_to_completion, AnthropicToOpenAiStream, ChatToResponsesStream,
    GeminiToOpenAiStream, OpenAiToAnthropicStream, ConverseToOpenAiStream, converse_to_completion,
};
use crate::api::Dialect;
use crate::sse::{SseEvent, SseFramer};
use serde_json::Value;

/// Provider stream → hub chunks (`None`: the provider speaks the hub).
enum Decoder {
    Anthropic(AnthropicToOpenAiStream),
    Gemini(GeminiToOpenAiStream),
    Converse(ConverseToOpenAiStream),
}

/// Hub chunks → the client's stream (`None`: the client speaks the hub).
enum Encoder {
    Anthropic(OpenAiToAnthropicStream),
    Responses(ChatToResponsesStream),
}

impl Decoder {
    fn push(&mut self, e: &SseEvent) -> Vec<u8> {
        match self {
            Decoder::Anthropic(s) => s.push(e.event.as_deref().unwrap_or_default(), &e.data),
            Decoder::Gemini(s) => s.push(&e.data),
            Decoder::Converse(s) => s.push(e.event.as_deref().unwrap_or_default(), &e.data),
        }
    }

    fn finish(&mut self) -> Vec<u8> {
        match self {
            Decoder::Anthropic(s) => s.finish(),
            Decoder::Gemini(s) => s.finish(),
            Decoder::Converse(s) => s.finish(),
        }
    }
}

impl Encoder {
    fn push(&mut self, data: &str) -> Vec<u8> {
        match self {
            Encoder::Anthropic(s) => s.push(data),
            Encoder::Responses(s) => s.push(data),
        }
    }

    fn finish(&mut self) -> Vec<u8> {
        match self {
            Encoder::Anthropic(s) => s.finish(),
            Encoder::Responses(s) => s.finish(),
        }
    }

    /// Feeds hub `data:` frames (as the decoders write them: one line each).
    fn relay(&mut self, frames: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(frames);
        let mut out = Vec::new();
        for frame in text.split("\n\n") {
            if let Some(data) = frame.strip_prefix("data: ") {
                out.extend(self.push(data));
            }
        }
        out
    }
}

#[allow(clippy::large_enum_variant)] // one per request; boxing would only add an allocation
enum Mode {
    /// A complete JSON body, translated at its end.
    Json,
    /// An error status: the body is rewritten into the client's error shape.
    Error(u16),
    /// SSE, translated event by event.
    Sse(SseFramer, Option<Decoder>, Option<Encoder>, Vec<SseEvent>),
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
        let media = crate::media::of(content_type);
        let mode = if !(200..300).contains(&status) {
            Mode::Error(status)
        } else if media == crate::media::Media::Sse {
            let encoder = match translation.client {
                Dialect::Anthropic => Some(Encoder::Anthropic(OpenAiToAnthropicStream::new(model))),
                Dialect::OpenAiResponses => Some(Encoder::Responses(ChatToResponsesStream::new(model, created))),
                Dialect::OpenAiChat | Dialect::OpenAiEmbeddings => None,
            };
            // An encoder needs the hub's usage chunk whatever the client asked for.
            let usage = include_usage || encoder.is_some();
            let decoder = match translation.provider {
                Wire::Messages => Some(Decoder::Anthropic(AnthropicToOpenAiStream::new(model, created, usage))),
                Wire::Gemini => Some(Decoder::Gemini(GeminiToOpenAiStream::new(model, created, usage))),
                Wire::Converse => Some(Decoder::Converse(ConverseToOpenAiStream::new(model, created, usage))),
                Wire::Chat => None,
            };
            Mode::Sse(SseFramer::new(crate::usage::MAX_SSE_EVENT_BYTES), decoder, encoder, Vec::new())
        } else if media == crate::media::Media::Json {
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
        self.translate_whole(body).unwrap_or_else(|error| error)
    }

    /// [`Self::whole`], telling an answer that did not translate (`Err`, the client's 502 error body)
    /// from one that did.
    pub fn translate_whole(&self, body: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
        match self.mode {
            Mode::Error(status) => Ok(error_body(body, status, self.translation.client)),
            Mode::Json => {
                // A plain answer, straight from its bytes; anything else through the hub.
                let plain = match self.translation {
                    Translation::CHAT_TO_ANTHROPIC => super::plain_message_to_completion(body, &self.model, self.created),
                    Translation::CHAT_TO_GEMINI => super::plain_gemini_to_completion(body, &self.model, self.created),
                    _ => None,
                };
                if let Some(out) = plain {
                    return Ok(out);
                }
                match serde_json::from_slice::<Value>(body).ok().and_then(|v| self.through_hub(&v)) {
                    Some(v) => Ok(crate::api::json_bytes(&v)),
                    None => Err(error_body(b"The provider's response could not be translated.", 502, self.translation.client)),
                }
            }
            _ => Ok(body.to_vec()),
        }
    }

    /// A provider answer → the hub's completion → the client's answer.
    fn through_hub(&self, v: &Value) -> Option<Value> {
        let hub = match self.translation.provider {
            Wire::Messages => message_to_completion(v, &self.model, self.created).ok()?,
            Wire::Gemini => gemini_to_completion(v, &self.model, self.created).ok()?,
            Wire::Converse => converse_to_completion(v, &self.model, self.created).ok()?,
            Wire::Chat => v.clone(),
        };
        match self.translation.client {
            Dialect::Anthropic => completion_to_message(&hub, &self.model).ok(),
            Dialect::OpenAiResponses => completion_to_response(&hub, &self.model, self.created).ok(),
            Dialect::OpenAiChat | Dialect::OpenAiEmbeddings => Some(hub),
        }
    }

    /// Translates one streamed chunk; `end` closes the stream (completing it if the provider
    /// stopped early). Returns the bytes to send in its place.
    pub fn chunk(&mut self, chunk: &[u8], end: bool) -> Vec<u8> {
        let Mode::Sse(framer, decoder, encoder, events) = &mut self.mode else { return chunk.to_vec() };
        framer.feed_into(chunk, events);
        let mut out = Vec::new();
        for e in events.drain(..) {
            match (decoder.as_mut(), encoder.as_mut()) {
                (Some(d), None) => out.extend(d.push(&e)),
                (Some(d), Some(c)) => out.extend(c.relay(&d.push(&e))),
                (None, Some(c)) => out.extend(c.push(&e.data)),
                (None, None) => {}
            }
        }
        if end {
            framer.finish();
            let tail = decoder.as_mut().map(Decoder::finish).unwrap_or_default();
            match encoder.as_mut() {
                Some(c) => {
                    out.extend(c.relay(&tail));
                    out.extend(c.finish());
                }
                None => out.extend(tail),
            }
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
        let mut whole = ResponseTranslator::new(Translation::CHAT_TO_ANTHROPIC, "claude-x", 1, true, 200, "text/event-stream");
        let expected = run(&mut whole, ANTHROPIC_SSE, ANTHROPIC_SSE.len());
        assert!(expected.contains("chat.completion.chunk") && expected.ends_with("data: [DONE]\n\n"), "{expected}");
        for step in [1, 3, 17] {
            let mut t = ResponseTranslator::new(Translation::CHAT_TO_ANTHROPIC, "claude-x", 1, true, 200, "text/event-stream");
            assert_eq!(run(&mut t, ANTHROPIC_SSE, step), expected, "step {step}");
        }
    }

    #[test]
    fn openai_stream_becomes_anthropic_events() {
        let mut t = ResponseTranslator::new(Translation::MESSAGES_TO_OPENAI, "gpt-x", 1, false, 200, "text/event-stream");
        let out = run(&mut t, OPENAI_SSE, 5);
        assert!(out.starts_with("event: message_start"), "{out}");
        assert!(out.contains("event: message_stop"));
    }

    #[test]
    fn gemini_stream_becomes_openai_chunks() {
        let sse = include_str!("../../../tests/fixtures/gemini_stream.sse");
        let mut t = ResponseTranslator::new(Translation::CHAT_TO_GEMINI, "gemini-x", 1, true, 200, "text/event-stream");
        let out = run(&mut t, sse, 9);
        assert!(out.contains("chat.completion.chunk") && out.ends_with("data: [DONE]\n\n"), "{out}");
        assert!(out.contains("\"choices\":[]"), "usage chunk when asked");
    }

    #[test]
    fn gemini_answers_an_anthropic_client() {
        let sse = include_str!("../../../tests/fixtures/gemini_stream.sse");
        for step in [1, 9, 4096] {
            let mut t = ResponseTranslator::new(Translation::MESSAGES_TO_GEMINI, "gemini-x", 1, false, 200, "text/event-stream");
            let out = run(&mut t, sse, step);
            assert!(out.starts_with("event: message_start\n"), "{out}");
            assert!(out.contains("event: content_block_delta") && out.contains("text_delta"));
            assert!(out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "{out}");
            let delta = out.split("event: message_delta\ndata: ").nth(1).and_then(|r| r.split("\n\n").next()).unwrap();
            let delta: Value = serde_json::from_str(delta).unwrap();
            assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0, "usage carried through: {delta}");
        }
        let cut = sse.split("\n\n").next().unwrap();
        let mut t = ResponseTranslator::new(Translation::MESSAGES_TO_GEMINI, "gemini-x", 1, false, 200, "text/event-stream");
        let out = run(&mut t, &format!("{cut}\n\n"), 7);
        assert!(out.contains("event: error") && !out.contains("message_stop"), "{out}");
        let json = include_str!("../../../tests/fixtures/gemini_generate.json");
        let t = ResponseTranslator::new(Translation::MESSAGES_TO_GEMINI, "gemini-x", 1, false, 200, "application/json");
        let v: Value = serde_json::from_slice(&t.whole(json.as_bytes())).unwrap();
        assert_eq!((v["type"].as_str(), v["role"].as_str(), v["model"].as_str()), (Some("message"), Some("assistant"), Some("gemini-x")));
        assert!(v["content"][0]["text"].is_string(), "{v}");
    }

    #[test]
    fn json_and_errors() {
        let t = ResponseTranslator::new(Translation::CHAT_TO_ANTHROPIC, "claude-x", 1, false, 200, "application/json");
        assert!(t.buffers_body());
        let v: Value = serde_json::from_slice(&t.whole(ANTHROPIC_JSON.as_bytes())).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "claude-x");
        let e = ResponseTranslator::new(Translation::CHAT_TO_ANTHROPIC, "claude-x", 1, false, 429, "application/json");
        let v: Value = serde_json::from_slice(&e.whole(br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#)).unwrap();
        assert_eq!(v["error"]["message"], "slow down");
        let bad: Value = serde_json::from_slice(&t.whole(b"not json")).unwrap();
        assert!(bad["error"]["message"].is_string());
        assert!(t.translate_whole(b"not json").is_err(), "told apart, so the status can say 502");
        assert!(t.translate_whole(b"{\"type\":\"message\",\"content\":[\"\xff\"]}").is_err(), "invalid UTF-8");
        assert!(t.translate_whole(ANTHROPIC_JSON.as_bytes()).is_ok());
        let p = ResponseTranslator::new(Translation::CHAT_TO_ANTHROPIC, "m", 1, false, 200, "text/plain");
        assert!(!p.rewrites());
    }
}
