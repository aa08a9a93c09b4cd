//! Operator-defined detectors: custom regular expressions and deny lists of words and phrases.

use super::scan::{at, before, find_all, Span};

/// A custom pattern, compiled once at config load.
#[derive(Debug, Clone)]
pub struct Pattern(regex_lite::Regex);

impl Pattern {
    /// Compiles `pattern`; the error text is the regex crate's.
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        regex_lite::RegexBuilder::new(pattern).size_limit(1 << 20).build().map(Pattern).map_err(|e| e.to_string())
    }

    /// Non-empty matches, left to right.
    pub fn scan(&self, text: &str, out: &mut Vec<Span>) {
        out.extend(self.0.find_iter(text).filter(|m| !m.is_empty()).map(|m| Span { start: m.start(), end: m.end() }));
    }
}

/// Words and phrases matched case-insensitively (ASCII case folding) at word boundaries; the
/// words of a phrase may be separated by any run of whitespace in the text.
#[derive(Debug, Clone, Default)]
pub struct DenyList {
    /// Each term as its lower-cased words.
    terms: Vec<Vec<Vec<u8>>>,
}

fn wordish(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl DenyList {
    /// Builds the list; blank terms are refused with their index.
    pub fn new(terms: &[String]) -> Result<DenyList, usize> {
        let mut out = Vec::with_capacity(terms.len());
        for (i, t) in terms.iter().enumerate() {
            let words: Vec<Vec<u8>> = t.split_whitespace().map(|w| w.to_ascii_lowercase().into_bytes()).collect();
            if words.is_empty() {
                return Err(i);
            }
            out.push(words);
        }
        Ok(DenyList { terms: out })
    }

    pub fn scan(&self, text: &str, out: &mut Vec<Span>) {
        if self.terms.is_empty() {
            return;
        }
        let lower = text.as_bytes().to_ascii_lowercase();
        for words in &self.terms {
            let Some((first, rest)) = words.split_first() else { continue };
            for s in find_all(&lower, first) {
                if first.first().copied().is_some_and(wordish) && wordish(before(&lower, s)) {
                    continue;
                }
                let mut e = s + first.len();
                let mut ok = true;
                for w in rest {
                    let ws = super::scan::run(&lower, e, |b| b.is_ascii_whitespace());
                    if ws == e || !lower.get(ws..).is_some_and(|r| r.starts_with(w)) {
                        ok = false;
                        break;
                    }
                    e = ws + w.len();
                }
                let last = words.last().and_then(|w| w.last()).copied().unwrap_or(0);
                if ok && !(wordish(last) && wordish(at(&lower, e))) {
                    out.push(Span { start: s, end: e });
                }
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
    fn deny_list_phrases_are_case_insensitive_and_bounded() {
        let d = DenyList::new(&["Project Falcon".into(), "acme".into()]).unwrap();
        let text = "About project\n  FALCON and ACME, not acmes or projectfalcon.";
        let mut out = Vec::new();
        d.scan(text, &mut out);
        let got: Vec<&str> = out.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(got, ["project\n  FALCON", "ACME"]);
        assert_eq!(DenyList::new(&["ok".into(), "  ".into()]).unwrap_err(), 1);
    }

    #[test]
    fn patterns() {
        let p = Pattern::new(r"EMP-\d{6}").unwrap();
        let mut out = Vec::new();
        p.scan("id EMP-123456 and EMP-12", &mut out);
        assert_eq!(out, [Span { start: 3, end: 13 }]);
        assert!(Pattern::new("(").is_err());
    }
}
