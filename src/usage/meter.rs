//! `ResponseMeter`: follows one upstream response (JSON or SSE) and yields its usage, exact or estimated.

use super::{from_response, StreamUsage, Usage, UsageDialect};
use crate::media::Media;
use crate::sse::{SseEvent, SseFramer};

/// Largest incomplete SSE event the meter buffers before dropping it (the stream itself is
/// forwarded untouched; only accounting loses that event).
pub const MAX_SSE_EVENT_BYTES: usize = 256 * 1024;

/// How the response body is metered, chosen from its headers. One lives per request, so the
/// size difference between variants costs nothing worth a heap allocation.
#[allow(clippy::large_enum_variant)]
pub enum ResponseMeter {
    /// `application/json`: read once at the end of the body.
    Json { dialect: UsageDialect },
    /// `text/event-stream`: every chunk is framed and fed as it passes.
    Sse { framer: SseFramer, usage: StreamUsage, events: Vec<SseEvent> },
    /// Anything else (or an error status): no usage to read.
    Off,
}

impl ResponseMeter {
    /// Picks the mode from the response status and `content-type`.
    pub fn for_response(dialect: UsageDialect, status: u16, content_type: &str) -> ResponseMeter {
        if !(200..300).contains(&status) {
            return ResponseMeter::Off;
        }
        match crate::media::of(content_type) {
            Media::Sse => ResponseMeter::Sse { framer: SseFramer::new(MAX_SSE_EVENT_BYTES), usage: StreamUsage::new(dialect), events: Vec::new() },
            Media::Json => ResponseMeter::Json { dialect },
            Media::Other => ResponseMeter::Off,
        }
    }

    /// Whether the body must be held until its end (JSON) rather than streamed.
    pub fn buffers_body(&self) -> bool {
        matches!(self, ResponseMeter::Json { .. })
    }

    /// Feeds one streamed chunk (SSE mode; ignored otherwise).
    pub fn feed(&mut self, chunk: &[u8]) {
        if let ResponseMeter::Sse { framer, usage, events } = self {
            framer.feed_into(chunk, events);
            for e in events.drain(..) {
                usage.on_event(&e);
            }
        }
    }

    /// Usage of a complete JSON body.
    pub fn json_usage(&self, body: &[u8]) -> Option<Usage> {
        match self {
            ResponseMeter::Json { dialect } => from_response(*dialect, body),
            _ => None,
        }
    }

    /// Usage of a stream at its end (or when it was cut): exact where the provider reported it,
    /// otherwise estimated from `prompt_estimate` and the text seen.
    pub fn stream_usage(&mut self, prompt_estimate: u64) -> Option<Usage> {
        match self {
            ResponseMeter::Sse { framer, usage, .. } => {
                let finish = framer.finish();
                let mut u = usage.finish(prompt_estimate);
                u.estimated |= finish.cut && !usage.has_usage();
                Some(u)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OPENAI_SSE: &str = include_str!("../../tests/fixtures/openai_chat_stream.sse");
    const OPENAI_JSON: &str = include_str!("../../tests/fixtures/openai_chat.json");

    #[test]
    fn modes() {
        assert!(ResponseMeter::for_response(UsageDialect::OpenAi, 200, "application/json; charset=utf-8").buffers_body());
        assert!(matches!(ResponseMeter::for_response(UsageDialect::OpenAi, 200, "text/event-stream"), ResponseMeter::Sse { .. }));
        assert!(matches!(ResponseMeter::for_response(UsageDialect::OpenAi, 500, "application/json"), ResponseMeter::Off));
        assert!(matches!(ResponseMeter::for_response(UsageDialect::OpenAi, 200, "text/plain"), ResponseMeter::Off));
    }

    #[test]
    fn json_body() {
        let m = ResponseMeter::for_response(UsageDialect::OpenAi, 200, "application/json");
        let u = m.json_usage(OPENAI_JSON.as_bytes()).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_prompt_tokens, u.estimated), (42, 17, 16, false));
    }

    #[test]
    fn stream_in_small_chunks() {
        let mut m = ResponseMeter::for_response(UsageDialect::OpenAi, 200, "text/event-stream");
        for c in OPENAI_SSE.as_bytes().chunks(7) {
            m.feed(c);
        }
        let u = m.stream_usage(0).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.estimated), (42, 17, false));
    }

    #[test]
    fn cut_stream_is_estimated() {
        let mut m = ResponseMeter::for_response(UsageDialect::OpenAi, 200, "text/event-stream");
        m.feed(&OPENAI_SSE.as_bytes()[..OPENAI_SSE.len() / 3]);
        let u = m.stream_usage(10).unwrap();
        assert!(u.estimated);
        assert_eq!(u.prompt_tokens, 10);
        assert!(u.completion_tokens > 0);
    }
}
