//! `StreamGuard`: watches a stream that passes in the client's own dialect (no translation).
//! It removes OpenAI's usage-only chunk when the gateway asked for usage and the client did
//! not, and ends a stream the provider stopped early with an explicit error event, so a cut
//! stream never looks complete. Events pass as they arrive; only an incomplete event's bytes
//! wait for the rest of it.

use super::error::incomplete_stream_frame;
use crate::api::Dialect;
use crate::sse::{SseEvent, SseFramer};

/// One streamed response in the client's dialect.
pub struct StreamGuard {
    dialect: Dialect,
    /// Drop OpenAI's usage-only chunk (the client did not ask for it).
    strip_usage: bool,
    framer: SseFramer,
    events: Vec<SseEvent>,
    /// The provider's terminal event was seen (`[DONE]`, `message_stop`, or an error event).
    ended: bool,
    finished: bool,
}

impl StreamGuard {
    pub fn new(dialect: Dialect, strip_usage: bool) -> StreamGuard {
        StreamGuard {
            dialect,
            strip_usage: strip_usage && dialect == Dialect::OpenAiChat,
            framer: SseFramer::new(crate::usage::MAX_SSE_EVENT_BYTES),
            events: Vec::new(),
            ended: false,
            finished: false,
        }
    }

    /// Whether the bytes change (then the guard re-emits events rather than passing chunks).
    pub fn rewrites(&self) -> bool {
        self.strip_usage
    }

    /// The bytes to send in place of `chunk`; `end` is the end of the stream.
    pub fn chunk(&mut self, chunk: &[u8], end: bool) -> Vec<u8> {
        if self.finished {
            return chunk.to_vec();
        }
        self.framer.feed_into(chunk, &mut self.events);
        let mut out = if self.strip_usage { Vec::with_capacity(chunk.len()) } else { chunk.to_vec() };
        for e in self.events.drain(..) {
            let terminal = match self.dialect {
                Dialect::OpenAiChat | Dialect::OpenAiEmbeddings => e.data.trim() == "[DONE]" || e.data.starts_with("{\"error\""),
                Dialect::Anthropic => matches!(e.event.as_deref(), Some("message_stop" | "error")),
            };
            self.ended |= terminal;
            if self.strip_usage && !crate::usage::is_usage_only_chunk(&e) {
                write_event(&mut out, &e);
            }
        }
        if end {
            self.finished = true;
            self.framer.finish();
            if !self.ended {
                out.extend(incomplete_stream_frame(self.dialect));
            }
        }
        out
    }
}

/// Serialises one event (`event`, `id`, then each data line).
fn write_event(out: &mut Vec<u8>, e: &SseEvent) {
    if let Some(name) = &e.event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    if let Some(id) = &e.id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    for line in e.data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OPENAI: &str = include_str!("../../../tests/fixtures/openai_chat_stream.sse");
    const ANTHROPIC: &str = include_str!("../../../tests/fixtures/anthropic_messages_stream.sse");

    fn run(g: &mut StreamGuard, text: &str, step: usize) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let j = (i + step).min(bytes.len());
            out.extend(g.chunk(&bytes[i..j], false));
            i = j;
        }
        out.extend(g.chunk(b"", true));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strips_only_the_usage_chunk_at_any_split() {
        assert!(OPENAI.contains("\"usage\":{"), "fixture has a usage chunk");
        for step in [1, 2, 7, 64, 4096] {
            let out = run(&mut StreamGuard::new(Dialect::OpenAiChat, true), OPENAI, step);
            assert!(!out.contains("\"prompt_tokens\""), "usage chunk removed (step {step})");
            assert!(out.ends_with("data: [DONE]\n\n"));
            let kept = OPENAI.split("\n\n").filter(|e| !e.trim().is_empty() && !e.contains("\"prompt_tokens\"")).count();
            assert_eq!(out.split("\n\n").filter(|e| !e.trim().is_empty()).count(), kept);
        }
    }

    #[test]
    fn passes_bytes_unchanged_when_nothing_is_stripped() {
        let out = run(&mut StreamGuard::new(Dialect::OpenAiChat, false), OPENAI, 5);
        assert_eq!(out, OPENAI);
        let out = run(&mut StreamGuard::new(Dialect::Anthropic, false), ANTHROPIC, 5);
        assert_eq!(out, ANTHROPIC);
    }

    #[test]
    fn an_early_end_gets_an_error_event() {
        let cut = OPENAI.split("data: [DONE]").next().unwrap();
        let out = run(&mut StreamGuard::new(Dialect::OpenAiChat, false), cut, 9);
        assert!(out.ends_with("\n\n") && out.contains("stream_incomplete"), "{out}");
        let cut = ANTHROPIC.split("event: message_stop").next().unwrap();
        let out = run(&mut StreamGuard::new(Dialect::Anthropic, false), cut, 9);
        assert!(out.contains("event: error\ndata: {\"error\":{\"message\"") || out.contains("event: error\n"), "{out}");
        assert!(!out.ends_with("message_stop\"}\n\n"));
    }
}
