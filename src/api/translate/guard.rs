//! `StreamGuard`: watches a stream that passes in the client's own dialect (no translation).
//! It removes OpenAI's usage-only chunk when the gateway asked for usage and the client did
//! not, and ends a stream the provider stopped early with an explicit error event, so a cut
//! stream never looks complete. Events pass as they arrive, byte for byte; when the usage
//! chunk may be removed, an incomplete event's bytes wait for the rest of it.

use super::error::incomplete_stream_frame;
use crate::api::Dialect;
use crate::sse::SseFramer;

/// One streamed response in the client's dialect. It splits the raw bytes at blank lines
/// (LF, CRLF or CR line ends) without decoding them: a pass-through stream is forwarded as it
/// came, and only an event that mentions `"usage"` is parsed.
pub struct StreamGuard {
    dialect: Dialect,
    /// Drop OpenAI's usage-only chunk (the client did not ask for it).
    strip_usage: bool,
    /// Bytes of the event being received (complete lines and the current one).
    pending: Vec<u8>,
    /// Length of the current line so far.
    line_len: usize,
    /// The previous byte was a CR (a following LF belongs to the same line end).
    after_cr: bool,
    /// The provider's terminal event was seen (`[DONE]`, `message_stop`, or an error event).
    ended: bool,
    finished: bool,
}

impl StreamGuard {
    pub fn new(dialect: Dialect, strip_usage: bool) -> StreamGuard {
        StreamGuard {
            dialect,
            strip_usage: strip_usage && dialect == Dialect::OpenAiChat,
            pending: Vec::new(),
            line_len: 0,
            after_cr: false,
            ended: false,
            finished: false,
        }
    }

    /// Whether the bytes change (the usage chunk may be removed).
    pub fn rewrites(&self) -> bool {
        self.strip_usage
    }

    /// The bytes to send in place of `chunk`, or `None` when `chunk` goes on unchanged (a
    /// pass-through stream is never copied); `end` is the end of the stream.
    pub fn chunk(&mut self, chunk: &[u8], end: bool) -> Option<Vec<u8>> {
        if self.finished {
            return None;
        }
        // Pass-through: only an early end adds bytes, so nothing is built until then.
        let mut out = if self.strip_usage { Vec::with_capacity(chunk.len()) } else { Vec::new() };
        let mut start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            let terminator = b == b'\n' || b == b'\r';
            if !terminator {
                self.line_len += 1;
                self.after_cr = false;
                continue;
            }
            if b == b'\n' && self.after_cr {
                // The LF of a CRLF: the line already ended at the CR.
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            let blank = self.line_len == 0;
            self.line_len = 0;
            if blank {
                // A blank line ends the event: up to and including this byte (and the LF of
                // a CRLF, which then starts the next event's bytes; harmless).
                let upto = i + 1;
                self.pending.extend_from_slice(chunk.get(start..upto).unwrap_or_default());
                start = upto;
                let event = std::mem::take(&mut self.pending);
                self.on_event(&event, &mut out);
            }
        }
        self.pending.extend_from_slice(chunk.get(start..).unwrap_or_default());
        if self.pending.len() > crate::usage::MAX_SSE_EVENT_BYTES {
            // Not a usage chunk (far too big): let it go as it is.
            let event = std::mem::take(&mut self.pending);
            if self.strip_usage {
                out.extend_from_slice(&event);
            }
        }
        if end {
            self.finished = true;
            let rest = std::mem::take(&mut self.pending);
            if self.strip_usage {
                out.extend_from_slice(&rest);
            }
            if !self.ended {
                if !self.strip_usage {
                    out = chunk.to_vec();
                }
                out.extend(incomplete_stream_frame(self.dialect));
                return Some(out);
            }
        }
        self.strip_usage.then_some(out)
    }

    /// One complete event's raw bytes (with its blank line).
    fn on_event(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        // Providers start these events with the named line; no need to look further. (The LF
        // of a CRLF blank line may lead the bytes.)
        let head = raw.iter().position(|&b| b != b'\n' && b != b'\r').and_then(|i| raw.get(i..)).unwrap_or_default();
        let terminal = match self.dialect {
            Dialect::OpenAiChat | Dialect::OpenAiEmbeddings => head.starts_with(b"data: [DONE]") || head.starts_with(b"data: {\"error\""),
            Dialect::Anthropic => head.starts_with(b"event: message_stop") || head.starts_with(b"event: error"),
            Dialect::OpenAiResponses => [&b"event: response.completed"[..], b"event: response.incomplete", b"event: response.failed", b"event: error"]
                .iter()
                .any(|t| head.starts_with(t)),
        };
        self.ended |= terminal;
        if !self.strip_usage {
            return;
        }
        if contains(raw, b"\"usage\"") && is_usage_only(raw) {
            return;
        }
        out.extend_from_slice(raw);
    }
}

/// Substring search keyed on the needle's first byte.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    haystack.iter().enumerate().any(|(i, &b)| b == first && haystack.get(i..i + needle.len()) == Some(needle))
}

/// Parses one raw event (rare: only those that mention usage).
fn is_usage_only(raw: &[u8]) -> bool {
    let mut framer = SseFramer::new(crate::usage::MAX_SSE_EVENT_BYTES);
    let mut events = framer.feed(raw);
    events.extend(framer.feed(b"\n\n"));
    events.first().is_some_and(crate::usage::is_usage_only_chunk)
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
            out.extend(g.chunk(&bytes[i..j], false).unwrap_or_else(|| bytes[i..j].to_vec()));
            i = j;
        }
        out.extend(g.chunk(b"", true).unwrap_or_default());
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
    fn crlf_and_cr_line_ends() {
        for eol in ["\r\n", "\r"] {
            let text = OPENAI.replace('\n', eol);
            for step in [1, 3, 50] {
                let out = run(&mut StreamGuard::new(Dialect::OpenAiChat, true), &text, step);
                assert!(!out.contains("\"prompt_tokens\""), "{eol:?} step {step}");
                assert!(!out.contains("stream_incomplete"), "{eol:?} step {step}: [DONE] seen");
                assert!(out.ends_with(&format!("data: [DONE]{eol}{eol}")));
            }
        }
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
