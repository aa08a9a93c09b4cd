//! The compiled redaction policy: runs every rule over a text, resolves overlapping matches and
//! applies the actions, recording counts and pseudonyms in the request's [`Findings`].

use super::custom::{DenyList, Pattern};
use super::detector::{Action, Builtin};
use super::pseudonym::Pseudonyms;
use super::scan::{Sieve, Span};

/// What a rule looks for.
#[derive(Debug, Clone)]
pub enum Detector {
    Builtin(Builtin),
    /// The `phone` detector with the operator's context words (compiled, lower case).
    Phone { context: super::context::Compiled },
    /// An operator regex; `label` is its upper-cased name.
    Custom { name: String, label: String, pattern: Pattern },
    DenyList(DenyList),
}

/// One detector with its action.
#[derive(Debug, Clone)]
pub struct Rule {
    pub detector: Detector,
    pub action: Action,
}

impl Rule {
    /// The name in config, errors and metrics.
    pub fn name(&self) -> &str {
        match &self.detector {
            Detector::Builtin(b) => b.name(),
            Detector::Phone { .. } => Builtin::Phone.name(),
            Detector::Custom { name, .. } => name,
            Detector::DenyList(_) => "deny_list",
        }
    }

    /// The placeholder stem (`EMAIL` in `[EMAIL]` and `[EMAIL_1]`).
    pub fn label(&self) -> String {
        match &self.detector {
            Detector::Builtin(b) => b.name().to_ascii_uppercase(),
            Detector::Phone { .. } => Builtin::Phone.name().to_ascii_uppercase(),
            Detector::Custom { label, .. } => label.clone(),
            Detector::DenyList(_) => "REDACTED".to_string(),
        }
    }

    fn scan(&self, text: &str, sieve: &Sieve, out: &mut Vec<Span>) {
        match &self.detector {
            Detector::Builtin(b) => b.scan_sieved(text, sieve, out),
            Detector::Phone { context } if sieve.digits() => super::phone::phone(text.as_bytes(), &context.list, &context.bloom, out),
            Detector::Phone { .. } => {}
            Detector::Custom { pattern, .. } => pattern.scan(text, out),
            Detector::DenyList(d) => d.scan(text, out),
        }
    }
}

/// What to do when a body cannot be inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Refuse the request (fail closed, the default).
    Refuse,
    /// Forward it unscanned (fail open).
    Forward,
}

/// The compiled `redaction` section.
#[derive(Debug, Clone)]
pub struct Redactor {
    pub rules: Vec<Rule>,
    /// Pre-computed placeholder stems, one per rule.
    labels: Vec<String>,
    /// Some rule pseudonymizes (only then do placeholder-shaped literals in the prompt matter).
    pseudonymizes: bool,
    /// Inspect tool-call arguments and tool results too.
    pub tools: bool,
    /// Largest body inspected; larger ones follow `on_error`.
    pub max_bytes: usize,
    pub on_error: OnError,
}

/// One request's redaction record: match counts per rule, the blocking rule, the pseudonyms.
/// Its `Debug` never prints matched values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Matches per rule index (every match, whatever the action).
    pub counts: Vec<u64>,
    /// The first rule with action `block` that matched.
    pub blocked: Option<usize>,
    /// Matches replaced in the forwarded body (mask and pseudonymize).
    pub replaced: u64,
    pub pseudonyms: Pseudonyms,
}

impl std::fmt::Debug for Findings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Findings(counts: {:?}, blocked: {:?}, replaced: {}, pseudonyms: {})", self.counts, self.blocked, self.replaced, self.pseudonyms.len())
    }
}

impl Redactor {
    pub fn new(rules: Vec<Rule>, tools: bool, max_bytes: usize, on_error: OnError) -> Redactor {
        let labels = rules.iter().map(Rule::label).collect();
        let pseudonymizes = rules.iter().any(|r| r.action == Action::Pseudonymize);
        Redactor { rules, labels, pseudonymizes, tools, max_bytes, on_error }
    }

    /// Scans `text` and returns its rewritten form, or `None` when nothing is replaced. Counts
    /// every match; a `block` match sets `findings.blocked` (the caller refuses the request).
    pub fn redact(&self, text: &str, findings: &mut Findings) -> Option<String> {
        let hits = self.hits(text, findings, false);
        if hits.is_empty() || findings.blocked.is_some() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for (span, i) in resolve(hits) {
            let (Some(before), Some(value), Some(rule), Some(label)) = (text.get(pos..span.start), text.get(span.start..span.end), self.rules.get(i), self.labels.get(i)) else {
                continue;
            };
            out.push_str(before);
            match rule.action {
                Action::Pseudonymize => out.push_str(&findings.pseudonyms.placeholder(label, value)),
                _ => {
                    out.push('[');
                    out.push_str(label);
                    out.push(']');
                }
            }
            findings.replaced = findings.replaced.saturating_add(1);
            pos = span.end;
        }
        out.push_str(text.get(pos..).unwrap_or_default());
        Some(out)
    }

    /// Whether [`Redactor::redact`] would replace something in `text` or block it, found out
    /// with the rules in order up to the first that does (the redaction pre-scan's question).
    pub fn changes(&self, text: &str, findings: &mut Findings) -> bool {
        !self.hits(text, findings, true).is_empty() || findings.blocked.is_some()
    }

    /// The matches to replace, rule by rule, each counted; a `block` match sets
    /// `findings.blocked`. `first`: stop at the first rule that replaces or blocks.
    fn hits(&self, text: &str, findings: &mut Findings, first: bool) -> Vec<(Span, usize)> {
        if findings.counts.len() != self.rules.len() {
            findings.counts = vec![0; self.rules.len()];
        }
        let sieve = Sieve::new(text.as_bytes());
        if self.pseudonymizes && !first && sieve.has(b'[') {
            findings.pseudonyms.note_literals(text);
        }
        let mut hits: Vec<(Span, usize)> = Vec::new();
        let mut spans = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            spans.clear();
            rule.scan(text, &sieve, &mut spans);
            if spans.is_empty() {
                continue;
            }
            if let Some(c) = findings.counts.get_mut(i) {
                *c = c.saturating_add(spans.len() as u64);
            }
            match rule.action {
                Action::Block => {
                    findings.blocked.get_or_insert(i);
                }
                Action::Audit => continue,
                Action::Mask | Action::Pseudonymize => hits.extend(spans.iter().map(|s| (*s, i))),
            }
            if first {
                break;
            }
        }
        hits
    }

    /// Every rule's matches in `text` with overlaps resolved, whatever the actions (for
    /// evaluation and benchmarks).
    pub fn matches(&self, text: &str) -> Vec<(Span, usize)> {
        let mut hits = Vec::new();
        let mut spans = Vec::new();
        let sieve = Sieve::new(text.as_bytes());
        for (i, rule) in self.rules.iter().enumerate() {
            spans.clear();
            rule.scan(text, &sieve, &mut spans);
            hits.extend(spans.iter().map(|s| (*s, i)));
        }
        resolve(hits)
    }
}

/// Drops overlapping matches: the earliest start wins; at the same start the longer match,
/// then the earlier rule. The order is total (the rule's index last), so an unstable sort gives
/// the one result, without the stable sort's code in the module.
fn resolve(mut hits: Vec<(Span, usize)>) -> Vec<(Span, usize)> {
    hits.sort_unstable_by(|(a, i), (b, j)| a.start.cmp(&b.start).then(b.end.cmp(&a.end)).then(i.cmp(j)));
    let mut pos = 0;
    hits.retain(|(s, _)| {
        let keep = s.start >= pos;
        if keep {
            pos = s.end;
        }
        keep
    });
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    pub fn all(action: Action) -> Redactor {
        let rules = Builtin::ALL.into_iter().map(|b| Rule { detector: Detector::Builtin(b), action }).collect();
        Redactor::new(rules, true, 1 << 20, OnError::Refuse)
    }

    #[test]
    fn masks_and_pseudonymizes_stably() {
        let r = all(Action::Pseudonymize);
        let mut f = Findings::default();
        let out = r.redact("mail a@example.com, then b@example.com and a@example.com again", &mut f).unwrap();
        assert_eq!(out, "mail [EMAIL_1], then [EMAIL_2] and [EMAIL_1] again");
        assert_eq!(f.replaced, 3);
        let out = all(Action::Mask).redact("card 4111 1111 1111 1111 ip 10.0.0.1", &mut Findings::default()).unwrap();
        assert_eq!(out, "card [CREDIT_CARD] ip [IPV4]");
    }

    #[test]
    fn block_and_audit() {
        let mut f = Findings::default();
        assert_eq!(all(Action::Audit).redact("a@example.com", &mut f), None);
        assert_eq!(f.counts.iter().sum::<u64>(), 1);
        let mut f = Findings::default();
        assert_eq!(all(Action::Block).redact("x AKIAIOSFODNN7EXAMPLE", &mut f), None);
        assert_eq!(f.blocked.map(|i| all(Action::Block).rules[i].name().to_string()).as_deref(), Some("cloud_key"));
    }

    #[test]
    fn changes_answers_like_redact_and_stops_at_the_first_rule_that_changes() {
        for action in [Action::Mask, Action::Pseudonymize, Action::Block, Action::Audit] {
            let r = all(action);
            for t in ["nothing here", "mail a@example.com or call +44 20 7946 0958", "x AKIAIOSFODNN7EXAMPLE", "ip 10.0.0.1"] {
                let mut full = Findings::default();
                let redacted = r.redact(t, &mut full).is_some() || full.blocked.is_some();
                assert_eq!(r.changes(t, &mut Findings::default()), redacted, "{action:?} {t}");
            }
        }
        let r = all(Action::Mask);
        let mut f = Findings::default();
        assert!(r.changes("mail a@example.com or call +44 20 7946 0958", &mut f));
        assert_eq!(f.counts.iter().sum::<u64>(), 1, "the phone rule, after email, never ran");
    }

    /// Known ambiguities: text that has the exact shape of the data is flagged, context or not.
    #[test]
    fn known_ambiguities_are_flagged() {
        let r = all(Action::Mask);
        let names = |t: &str| r.matches(t).into_iter().map(|(_, i)| r.rules[i].name()).collect::<Vec<_>>();
        assert_eq!(names("firmware 2.4.1.0"), ["ipv4"], "a four-part version with small parts");
        assert_eq!(names("order 4111111111111111"), ["credit_card"], "a Visa-prefixed, Luhn-valid order number");
        assert_eq!(names("ref 212-555-0199"), ["phone"], "a reference number in US phone grouping");
    }

    #[test]
    fn overlaps_keep_the_longest() {
        // The email contains an IPv4-looking domain part; the PEM block contains everything.
        let r = all(Action::Mask);
        let out = r.redact("-----BEGIN PRIVATE KEY-----\na@example.com 10.0.0.1\n-----END PRIVATE KEY----- end", &mut Findings::default()).unwrap();
        assert_eq!(out, "[PRIVATE_KEY] end");
        assert_eq!(r.redact("no personal data here", &mut Findings::default()), None);
    }
}
