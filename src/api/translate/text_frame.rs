//! A stream frame cut around its one text value, so the commonest stream events (text deltas)
//! are written without building and serialising a JSON document.

/// The string a template frame is built with; `"\u0000"` once serialised.
pub(crate) const MARK: &str = "\u{0}";
const MARK_JSON: &[u8] = br#""\u0000""#;

/// A frame split around its text value (quotes included): prefix, then the escaped text, then
/// suffix give the bytes the general path would have built for that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextFrame {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
}

impl TextFrame {
    /// Cuts `frame`, built with [`MARK`] as the text; `None` unless the marked value occurs
    /// exactly once (a NUL in an id or a model name makes the frame ambiguous).
    pub(crate) fn cut(frame: &[u8]) -> Option<TextFrame> {
        // A plain scan (frames are short, and built once per stream or block).
        let mut found = frame.windows(MARK_JSON.len()).enumerate().filter(|(_, w)| *w == MARK_JSON).map(|(i, _)| i);
        let at = found.next()?;
        if found.next().is_some() {
            return None;
        }
        Some(TextFrame { prefix: frame.get(..at)?.to_vec(), suffix: frame.get(at + MARK_JSON.len()..)?.to_vec() })
    }

    /// The frame with `text`, escaped as a JSON string, in place of the mark.
    pub(crate) fn with(&self, text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.prefix.len() + text.len() + 2 + self.suffix.len());
        out.extend_from_slice(&self.prefix);
        serde_json::to_writer(&mut out, text).ok()?;
        out.extend_from_slice(&self.suffix);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn fills_in_the_text_as_the_document_would() {
        let frame = |t: &str| format!("data: {}\n\n", json!({"a": "x", "delta": {"content": t}, "z": 1})).into_bytes();
        let cut = TextFrame::cut(&frame(MARK)).unwrap();
        for t in ["", "plain", "quote \" \\ slash", "ctl \u{1}\n\t", "日本 🚀", "\u{2028}</script>"] {
            assert_eq!(cut.with(t).unwrap(), frame(t), "{t:?}");
        }
    }

    #[test]
    fn an_ambiguous_frame_is_refused() {
        let twice = format!("data: {}\n\n", json!({"id": MARK, "delta": {"content": MARK}}));
        assert_eq!(TextFrame::cut(twice.as_bytes()), None);
        assert_eq!(TextFrame::cut(b"data: {}\n\n"), None);
    }
}
