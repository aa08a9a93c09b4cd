//! The redaction step of planning: size limit, walk, block, fail closed or open.

use super::{redact_body, BodyKind, Findings, OnError, Redactor, Uninspectable};
use crate::api::Endpoint;
use crate::error::{ApiError, ErrorKind};
use serde_json::Value;

/// Runs the request's redaction on the parsed client body, before any translation. `Ok(true)`
/// when the body changed and must be re-serialized. Refuses blocked bodies, and (unless the
/// policy fails open) bodies too large or shaped so that text would escape the scan.
pub fn apply(r: Option<&Redactor>, endpoint: Endpoint, body_len: usize, json: &mut Value, findings: &mut Findings) -> Result<bool, ApiError> {
    let Some(r) = r else { return Ok(false) };
    let kind = match endpoint {
        Endpoint::ChatCompletions => BodyKind::OpenAiChat,
        Endpoint::Embeddings => BodyKind::OpenAiEmbeddings,
        Endpoint::Messages => BodyKind::Anthropic,
        Endpoint::Models => return Ok(false),
    };
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
