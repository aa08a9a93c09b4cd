//! The redaction engine on texts and on request bodies of every endpoint: the pre-scan over the
//! borrowed document and the full walk over `serde_json` agree (a body the pre-scan passes
//! unchanged is one the full walk leaves unchanged and does not block), and `changes` answers
//! what `redact` does.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use serde_json::Value;
use std::sync::OnceLock;
use tollgate::api::Endpoint;
use tollgate::redact::{apply, precheck, Findings, Redactor};
use tollgate_fuzz::mutate;

/// Every built-in detector pseudonymizing, a custom pattern and a deny list; the defaults
/// (blocks included); and failing open without tool scanning.
const CONFIGS: [&str; 3] = [
    r#"{"redaction": {"enabled": true, "detectors": {"private_key": "pseudonymize", "jwt": "pseudonymize", "cloud_key": "pseudonymize", "llm_api_key": "pseudonymize", "github_token": "pseudonymize", "slack_token": "pseudonymize", "email": "pseudonymize", "credit_card": "pseudonymize", "iban": "pseudonymize", "us_ssn": "pseudonymize", "phone": "pseudonymize", "ipv4": "pseudonymize", "ipv6": "pseudonymize"}, "custom": [{"name": "ticket", "pattern": "TCK-[0-9]{4,}", "action": "mask"}], "deny_list": {"action": "mask", "terms": ["project falcon", "secret"]}}}"#,
    r#"{"redaction": {"enabled": true}}"#,
    r#"{"redaction": {"enabled": true, "on_error": "forward", "tools": false, "max_bytes": 512, "detectors": {"email": "block", "ipv4": "audit"}}}"#,
];

fn redactors() -> &'static Vec<Redactor> {
    static R: OnceLock<Vec<Redactor>> = OnceLock::new();
    R.get_or_init(|| CONFIGS.iter().filter_map(|c| tollgate::config::parse(c.as_bytes(), &|_| None).ok()?.redaction).collect())
}

fuzz_target!(|data: &[u8]| {
    let rs = redactors();
    assert_eq!(rs.len(), CONFIGS.len());
    let parsed = serde_json::from_slice::<Value>(data).ok();
    for r in rs {
        if let Ok(text) = std::str::from_utf8(data) {
            let mut a = Findings::default();
            let out = r.redact(text, &mut a);
            let mut b = Findings::default();
            assert_eq!(r.changes(text, &mut b), out.is_some() || a.blocked.is_some(), "changes disagrees with redact");
            let _ = r.matches(text);
        }
        for ep in [Endpoint::ChatCompletions, Endpoint::Messages, Endpoint::Embeddings] {
            let pre = precheck(r, ep, data, &mut Findings::default(), |_| Some(()));
            if let Some(mut v) = parsed.clone() {
                let mut f = Findings::default();
                let full = apply(Some(r), ep, data.len(), &mut v, &mut f);
                if pre == Ok(Some(())) {
                    assert_eq!(full, Ok(false), "{ep:?}: the pre-scan passed a body the full walk changes or refuses");
                }
            } else if pre == Ok(Some(())) {
                panic!("{ep:?}: the pre-scan passed a body serde_json refuses");
            }
        }
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
