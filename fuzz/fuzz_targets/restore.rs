//! Pseudonymization and the restore: a text pseudonymized then restored is the text again,
//! whole or fed in pieces; the SSE and JSON restorers take any provider bytes, and the SSE one
//! gives the same output at any chunking.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use std::sync::OnceLock;
use tollgate::redact::{restore_json, Findings, Redactor, Restorer, SseRestorer, StreamDialect};
use tollgate_fuzz::{chunks, mutate, Rng, seed_of};

const CONFIG: &str = r#"{"redaction": {"enabled": true, "detectors": {"private_key": "pseudonymize", "jwt": "pseudonymize", "cloud_key": "pseudonymize", "llm_api_key": "pseudonymize", "github_token": "pseudonymize", "slack_token": "pseudonymize", "email": "pseudonymize", "credit_card": "pseudonymize", "iban": "pseudonymize", "us_ssn": "pseudonymize", "phone": "pseudonymize", "ipv4": "pseudonymize", "ipv6": "pseudonymize"}, "custom": [{"name": "ticket", "pattern": "TCK-[0-9]{4,}", "action": "pseudonymize"}]}}"#;

fn redactor() -> Option<&'static Redactor> {
    static R: OnceLock<Option<Redactor>> = OnceLock::new();
    R.get_or_init(|| tollgate::config::parse(CONFIG.as_bytes(), &|_| None).ok()?.redaction).as_ref()
}

/// `text` cut at character boundaries, at points drawn from it.
fn pieces(text: &str) -> Vec<&str> {
    let mut rng = Rng::new(seed_of(text.as_bytes()));
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut n = (1 + rng.below(12)).min(rest.len());
        while !rest.is_char_boundary(n) {
            n += 1;
        }
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

fn sse(restorer: &Restorer, dialect: StreamDialect, parts: &[&[u8]]) -> Vec<u8> {
    let mut s = SseRestorer::new(dialect, restorer.clone());
    let mut out = Vec::new();
    for (i, c) in parts.iter().enumerate() {
        out.extend(s.chunk(c, i + 1 == parts.len()));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some(r) = redactor() else { panic!("the fuzz config does not compile") };
    let fixed = Restorer::new(vec![("[EMAIL_1]".into(), "a@example.com".into()), ("[PHONE_12]".into(), "\"quoted\"\n".into())]);
    if let Ok(text) = std::str::from_utf8(data) {
        let mut f = Findings::default();
        f.pseudonyms.note_literals(text);
        if let Some(redacted) = r.redact(text, &mut f) {
            if let Some(mut restorer) = Restorer::new(f.pseudonyms.restorable()) {
                let whole = restorer.whole(&redacted).unwrap_or_else(|| redacted.clone());
                // A placeholder the client wrote itself is never restored, nor the value that
                // was given the same placeholder (by design: the answer would be ambiguous).
                if f.pseudonyms.restorable().len() == f.pseudonyms.len() {
                    assert_eq!(whole, text, "pseudonymize then restore is not the identity");
                }
                let mut streamed = String::new();
                for p in pieces(&redacted) {
                    streamed.push_str(&restorer.feed(3, p));
                }
                streamed.push_str(&restorer.flush(3));
                assert_eq!(streamed, whole, "the streamed restore differs from the whole one");
                assert!(restorer.pending().is_empty());
            }
        }
    }
    if let Some(fixed) = fixed {
        let _ = restore_json(&fixed, data);
        let split = chunks(data);
        for d in [StreamDialect::OpenAi, StreamDialect::Anthropic] {
            assert_eq!(sse(&fixed, d, &split), sse(&fixed, d, &[data]), "{d:?}: chunking changed the restored stream");
        }
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
