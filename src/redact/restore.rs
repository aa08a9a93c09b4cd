//! `Restorer`: puts original values back in place of `[LABEL_n]` placeholders, over whole texts
//! or streamed pieces. A streamed piece that ends inside what may be a placeholder holds that
//! tail back (never more than the longest placeholder) and emits it with the next piece.

use super::pseudonym::placeholder_char;
use std::collections::HashMap;

/// Restores placeholders; `channel` separates independent streams of text (choices, blocks).
#[derive(Debug, Clone, Default)]
pub struct Restorer {
    map: HashMap<String, String>,
    /// Length of the longest placeholder, brackets included.
    max_len: usize,
    /// Held-back tails per channel.
    held: Vec<(u64, String)>,
}

enum Step {
    /// A complete placeholder (or not one) ends at this index (exclusive).
    Token(usize),
    /// The text ends inside a possible placeholder.
    Partial,
    /// The `[` starts nothing.
    Literal,
}

impl Restorer {
    /// `None` when there is nothing to restore.
    pub fn new(entries: Vec<(String, String)>) -> Option<Restorer> {
        let max_len = entries.iter().map(|(p, _)| p.len()).max()?;
        Some(Restorer { map: entries.into_iter().collect(), max_len, held: Vec::new() })
    }

    fn step(&self, t: &[u8], open: usize) -> Step {
        let e = super::scan::run(t, open + 1, placeholder_char);
        if e - open >= self.max_len {
            return Step::Literal;
        }
        match t.get(e) {
            Some(b']') => Step::Token(e + 1),
            None => Step::Partial,
            Some(_) => Step::Literal,
        }
    }

    /// Restores `text`; with `hold`, a possible placeholder cut at the end is returned apart.
    fn run(&self, text: &str, hold: bool) -> (String, Option<String>) {
        let t = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        let mut i = 0;
        while let Some(k) = t.get(i..).and_then(|r| r.iter().position(|&b| b == b'[')) {
            let open = i + k;
            match self.step(t, open) {
                Step::Token(end) => {
                    let token = text.get(open..end).unwrap_or_default();
                    if let Some(orig) = self.map.get(token) {
                        out.push_str(text.get(pos..open).unwrap_or_default());
                        out.push_str(orig);
                        pos = end;
                    }
                    i = end;
                }
                Step::Partial if hold => {
                    out.push_str(text.get(pos..open).unwrap_or_default());
                    return (out, Some(text.get(open..).unwrap_or_default().to_string()));
                }
                Step::Partial | Step::Literal => i = open + 1,
            }
        }
        out.push_str(text.get(pos..).unwrap_or_default());
        (out, None)
    }

    /// Restores a complete text; `None` when it holds no known placeholder.
    pub fn whole(&self, text: &str) -> Option<String> {
        if !text.contains('[') {
            return None;
        }
        let (out, _) = self.run(text, false);
        (out != text).then_some(out)
    }

    /// Feeds the next piece of `channel`'s text and returns what can be emitted now.
    pub fn feed(&mut self, channel: u64, piece: &str) -> String {
        let mut text = self.take(channel);
        text.push_str(piece);
        let (out, tail) = self.run(&text, true);
        if let Some(tail) = tail {
            self.held.push((channel, tail));
        }
        out
    }

    /// Ends `channel`: returns its held-back tail as is.
    pub fn flush(&mut self, channel: u64) -> String {
        self.take(channel)
    }

    /// The same placeholders with their originals JSON-escaped, for text that is itself JSON
    /// (streamed tool-call arguments), where an original lands inside a string literal.
    pub fn json_escaped(&self) -> Restorer {
        let escape = |v: &String| {
            let quoted = serde_json::to_string(v).unwrap_or_default();
            quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default().to_string()
        };
        let map = self.map.iter().map(|(k, v)| (k.clone(), escape(v))).collect();
        Restorer { map, max_len: self.max_len, held: Vec::new() }
    }

    /// Channels with a held-back tail.
    pub fn pending(&self) -> Vec<u64> {
        self.held.iter().map(|(c, _)| *c).collect()
    }

    fn take(&mut self, channel: u64) -> String {
        match self.held.iter().position(|(c, _)| *c == channel) {
            Some(k) => self.held.swap_remove(k).1,
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn restorer() -> Restorer {
        Restorer::new(vec![("[EMAIL_1]".into(), "jane@example.com".into()), ("[PHONE_12]".into(), "+1 415 555 0132".into())]).unwrap()
    }

    #[test]
    fn whole_texts() {
        let r = restorer();
        assert_eq!(r.whole("Write to [EMAIL_1] or call [PHONE_12]; [EMAIL_9] and [x] stay").unwrap(), "Write to jane@example.com or call +1 415 555 0132; [EMAIL_9] and [x] stay");
        assert_eq!(r.whole("nothing [here]"), None);
        assert!(Restorer::new(Vec::new()).is_none());
    }

    #[test]
    fn split_at_every_byte() {
        let text = "Hi [EMAIL_1], [[PHONE_12]] [EMAIL_1";
        let want = "Hi jane@example.com, [+1 415 555 0132] [EMAIL_1";
        for cut in 0..=text.len() {
            let mut r = restorer();
            let mut got = r.feed(0, &text[..cut]);
            got.push_str(&r.feed(0, &text[cut..]));
            got.push_str(&r.flush(0));
            assert_eq!(got, want, "cut at {cut}");
        }
        // Byte by byte, on two interleaved channels.
        let mut r = restorer();
        let (mut a, mut b) = (String::new(), String::new());
        for i in 0..text.len() {
            a.push_str(&r.feed(1, &text[i..=i]));
            b.push_str(&r.feed(2, &text[i..=i]));
            assert!(r.held.iter().all(|(_, h)| h.len() < 10), "bounded hold");
        }
        a.push_str(&r.flush(1));
        b.push_str(&r.flush(2));
        assert_eq!((a.as_str(), b.as_str()), (want, want));
    }
}
