//! The redaction step of planning: size limit, walk, block, fail closed or open.

use super::doc::{Doc, Unread};
use super::{redact_body, BodyKind, Findings, OnError, Redactor, Uninspectable};
use super::body::probe_body;
use crate::api::Endpoint;
use crate::error::{ApiError, ErrorKind};
use serde_json::Value;

/// Runs the request's redaction on the parsed client body, before any translation. `Ok(true)`
/// when the body changed and must be re-serialized. Refuses blocked bodies, and (unless the
/// policy fails open) bodies too large or shaped so that text would escape the scan.
pub fn apply(r: Option<&Redactor>, endpoint: Endpoint, body_len: usize, json: &mut Value, findings: &mut Findings) -> Result<bool, ApiError> {
    let Some(r) = r else { return Ok(false) };
    let Some(kind) = body_kind(endpoint) else { return Ok(false) };
    let uninspectable = |why: String| -> Result<bool, ApiError> {
        match r.on_error {
            OnError::Refuse => Err(ApiError::new(ErrorKind::NotInspectable, why)),
            OnError::Forward => Ok(false),
        }
    };
    if body_len > r.max_bytes {
        return uninspectable(format!("The request body exceeds the {} bytes the gateway's redaction inspects.", r.max_bytes));
    }
    let changed = match redact_body(r, kind, json, findings) {
        Ok(c) => c,
        Err(Uninspectable(field)) => return uninspectable(format!("The gateway cannot inspect `{field}` in this shape.")),
    };
    if let Some(rule) = findings.blocked.and_then(|i| r.rules.get(i)) {
        return Err(ApiError::new(ErrorKind::ContentBlocked, format!("The request was blocked by the gateway's `{}` detector.", rule.name())));
    }
    Ok(changed)
}

/// The redaction pre-scan, on a borrowed document: `Ok(Some(head(doc)))` when redaction leaves
/// the body as it is (nothing to replace, nothing blocked; audit counts are recorded in
/// `findings`), so the body goes on without a `serde_json::Value` being built or written.
/// `Ok(None)` sends the request down the full path ([`apply`] on the parsed body), which scans
/// it again from empty findings and gives every error its precise message; so does a `head`
/// (the planner's reading of the fields it needs, checked before the scan) that gives `None`.
///
/// A body that repeats a key within an object is refused (unless the policy fails open): the
/// scan reads one copy, and a provider may read the other.
pub fn precheck<T>(r: &Redactor, endpoint: Endpoint, body: &[u8], findings: &mut Findings, head: impl FnOnce(&Doc<'_>) -> Option<T>) -> Result<Option<T>, ApiError> {
    let Some(kind) = body_kind(endpoint) else { return Ok(None) };
    if body.len() > r.max_bytes {
        return Ok(None);
    }
    let mut doc = match Doc::parse(body) {
        Ok(d) => d,
        Err(Unread::RepeatedKey) if r.on_error == OnError::Refuse => {
            return Err(ApiError::new(ErrorKind::NotInspectable, "The request body repeats a key within one object; the gateway cannot tell which copy the provider reads."));
        }
        Err(_) => return Ok(None),
    };
    let Some(head) = head(&doc) else { return Ok(None) };
    match probe_body(r, kind, &mut doc, findings) {
        Ok(false) if findings.blocked.is_none() => Ok(Some(head)),
        _ => {
            *findings = Findings::default();
            Ok(None)
        }
    }
}

fn body_kind(endpoint: Endpoint) -> Option<BodyKind> {
    match endpoint {
        Endpoint::ChatCompletions => Some(BodyKind::OpenAiChat),
        Endpoint::Embeddings => Some(BodyKind::OpenAiEmbeddings),
        Endpoint::Messages | Endpoint::CountTokens => Some(BodyKind::Anthropic),
        Endpoint::Responses => Some(BodyKind::OpenAiResponses),
        Endpoint::Completions => Some(BodyKind::OpenAiCompletions),
        Endpoint::Models => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::node::Node;
    use crate::config::parse;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn redactor(extra: &str) -> Redactor {
        parse(format!(r#"{{"redaction": {{"enabled": true, "max_bytes": 100, "detectors": {{"jwt": "block"}}{extra}}}}}"#).as_bytes(), &|_| None).unwrap().redaction.unwrap()
    }

    #[test]
    fn refuses_blocks_oversize_and_hidden_text_unless_open() {
        let r = redactor("");
        let mut v = json!({"messages": [{"role": "user", "content": "a@example.com"}]});
        assert_eq!(apply(Some(&r), Endpoint::ChatCompletions, 50, &mut v, &mut Findings::default()), Ok(true));
        assert_eq!(v["messages"][0]["content"], "[EMAIL_1]");
        let e = apply(Some(&r), Endpoint::ChatCompletions, 101, &mut v, &mut Findings::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotInspectable);
        let mut hidden = json!({"messages": [{"role": "user", "content": 7}]});
        assert_eq!(apply(Some(&r), Endpoint::ChatCompletions, 50, &mut hidden, &mut Findings::default()).unwrap_err().kind, ErrorKind::NotInspectable);
        let mut jwt = json!({"input": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"});
        let e = apply(Some(&r), Endpoint::Embeddings, 50, &mut jwt, &mut Findings::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ContentBlocked);
        assert!(e.message.contains("`jwt`") && !e.message.contains("eyJ"));
        let open = redactor(r#", "on_error": "forward""#);
        assert_eq!(apply(Some(&open), Endpoint::ChatCompletions, 101, &mut v, &mut Findings::default()), Ok(false));
        assert_eq!(apply(None, Endpoint::ChatCompletions, 101, &mut v, &mut Findings::default()), Ok(false));
    }

    #[test]
    fn precheck_passes_clean_bodies_and_leaves_the_rest_to_the_full_path() {
        let json = r#"{"redaction": {"enabled": true, "detectors": {"jwt": "block", "ipv4": "audit"}}}"#;
        let r = parse(json.as_bytes(), &|_| None).unwrap().redaction.unwrap();
        // The planner's rule, as `head`: a non-empty string `model`, a boolean or absent `stream`.
        let head = |d: &Doc<'_>| {
            let model = d.member("model").and_then(Node::as_text).filter(|m| !m.is_empty())?.to_string();
            let stream = match d.member("stream") {
                None | Some(Doc::Null) => false,
                Some(s) => s.as_bool()?,
            };
            Some((model, stream))
        };
        let pre = |body: &str, f: &mut Findings| precheck(&r, Endpoint::ChatCompletions, body.as_bytes(), f, head);
        let mut f = Findings::default();
        let clean = r#"{"model": "m", "stream": true, "messages": [{"role": "user", "content": "ping 10.0.0.1"}]}"#;
        assert_eq!(pre(clean, &mut f), Ok(Some(("m".to_string(), true))));
        assert_eq!(f.counts.iter().sum::<u64>(), 1, "an audit match is counted and changes nothing");
        let mut f = Findings::default();
        assert_eq!(pre(r#"{"model": "m", "messages": [{"role": "user", "content": "a@example.com"}]}"#, &mut f), Ok(None));
        assert_eq!(f, Findings::default(), "the full path starts from empty findings");
        for full in [r#"{"model": "m", "messages": [{"role": "user", "content": {"text": "x"}}]}"#, r#"{"model": ""}"#, r#"{"model": "m", "stream": 1}"#, "{", "[]"] {
            assert_eq!(pre(full, &mut Findings::default()), Ok(None), "{full}");
        }
        let jwt = r#"{"model": "m", "messages": [{"role": "user", "content": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"}]}"#;
        assert_eq!(pre(jwt, &mut Findings::default()), Ok(None), "a block is refused on the full path");
        let twice = r#"{"model": "m", "messages": [{"role": "user", "content": "a@example.com", "content": "hi"}]}"#;
        assert_eq!(pre(twice, &mut Findings::default()).unwrap_err().kind, ErrorKind::NotInspectable);
        let open = redactor(r#", "on_error": "forward""#);
        assert_eq!(precheck(&open, Endpoint::ChatCompletions, twice.as_bytes(), &mut Findings::default(), head), Ok(None));
    }
}
