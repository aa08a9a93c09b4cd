//! The assembled text of a streamed answer, for a `post` hook's audit: the stream the client
//! gets is framed as it passes (events may straddle chunks) and the text deltas of each dialect
//! are joined: OpenAI chat `choices[].delta.content`, Anthropic `content_block_delta`'s
//! `delta.text`, Responses' `response.output_text.delta`. Bounded: past `MAX_TEXT` bytes the
//! rest is dropped (and `truncated` says so).

use crate::sse::SseFramer;
use serde_json::Value;

/// The most text kept per stream.
pub const MAX_TEXT: usize = 1 << 20;

/// Follows one stream.
#[derive(Debug, Clone)]
pub struct StreamText {
    framer: SseFramer,
    pub text: String,
    pub truncated: bool,
}

impl Default for StreamText {
    fn default() -> Self {
        StreamText { framer: SseFramer::new(MAX_TEXT), text: String::new(), truncated: false }
    }
}

impl StreamText {
    /// Feeds the next chunk the client gets.
    pub fn feed(&mut self, chunk: &[u8]) {
        for e in self.framer.feed(chunk) {
            let Ok(v) = serde_json::from_str::<Value>(&e.data) else { continue };
            let pieces: Vec<&str> = if let Some(choices) = v.get("choices").and_then(Value::as_array) {
                choices.iter().filter_map(|c| c.pointer("/delta/content").and_then(Value::as_str)).collect()
            } else {
                match v.get("type").and_then(Value::as_str) {
                    Some("content_block_delta") => v.pointer("/delta/text").and_then(Value::as_str).into_iter().collect(),
                    Some("response.output_text.delta") => v.get("delta").and_then(Value::as_str).into_iter().collect(),
                    _ => Vec::new(),
                }
            };
            for p in pieces {
                if self.text.len() + p.len() > MAX_TEXT {
                    self.truncated = true;
                    return;
                }
                self.text.push_str(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn joins_each_dialects_deltas_across_chunks() {
        let mut t = StreamText::default();
        let openai = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n";
        for piece in openai.as_bytes().chunks(7) {
            t.feed(piece);
        }
        assert_eq!(t.text, "Hello");
        let mut a = StreamText::default();
        a.feed(b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n");
        a.feed(b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\" there\"}\n\n");
        assert_eq!(a.text, "Hi there");
    }
}
