//! The request's pseudonym table: `[LABEL_n]` per distinct value, and the placeholders the client
//! wrote literally (those are never restored: an answer naming them would be ambiguous).

use std::collections::{HashMap, HashSet};

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pseudonyms {
    /// (label, value) → placeholder.
    by_value: HashMap<(String, String), String>,
    /// Next number per label.
    next: HashMap<String, u32>,
    /// (placeholder, original), in order of first use.
    entries: Vec<(String, String)>,
    /// Placeholder-shaped tokens already present in the client's text.
    literals: HashSet<String>,
}

impl Pseudonyms {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The placeholder for `value`, the same for every occurrence within the request.
    pub fn placeholder(&mut self, label: &str, value: &str) -> String {
        let key = (label.to_string(), value.to_string());
        if let Some(p) = self.by_value.get(&key) {
            return p.clone();
        }
        let n = self.next.entry(label.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let p = format!("[{label}_{n}]");
        self.entries.push((p.clone(), value.to_string()));
        self.by_value.insert(key, p.clone());
        p
    }

    /// Remembers `[UPPER_…]` tokens the client wrote itself.
    pub fn note_literals(&mut self, text: &str) {
        let t = text.as_bytes();
        for i in memchr::memchr_iter(b'[', t) {
            let e = super::scan::run(t, i + 1, placeholder_char);
            if e > i + 1 && super::scan::at(t, e) == b']' {
                if let Some(s) = text.get(i..=e) {
                    self.literals.insert(s.to_string());
                }
            }
        }
    }

    /// Whether any pseudonym may be put back into the answer (what [`Self::restorable`] would list).
    pub fn restores(&self) -> bool {
        self.entries.iter().any(|(p, _)| !self.literals.contains(p))
    }

    /// (placeholder, original) pairs that may be put back into the answer.
    pub fn restorable(&self) -> Vec<(String, String)> {
        self.entries.iter().filter(|(p, _)| !self.literals.contains(p)).cloned().collect()
    }
}

/// A byte that may appear between the brackets of a placeholder.
pub fn placeholder_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn stable_numbering_and_literal_collisions() {
        let mut p = Pseudonyms::default();
        p.note_literals("the template says [EMAIL_2] here");
        assert_eq!(p.placeholder("EMAIL", "a@x.io"), "[EMAIL_1]");
        assert_eq!(p.placeholder("EMAIL", "b@x.io"), "[EMAIL_2]");
        assert_eq!(p.placeholder("EMAIL", "a@x.io"), "[EMAIL_1]");
        assert_eq!(p.placeholder("PHONE", "a@x.io"), "[PHONE_1]");
        assert_eq!(p.restorable(), vec![("[EMAIL_1]".to_string(), "a@x.io".to_string()), ("[PHONE_1]".to_string(), "a@x.io".to_string())]);
    }
}
