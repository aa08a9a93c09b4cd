//! The policy service's contract.
//!
//! **Request** (`POST <path>`, `content-type: application/json`):
//! `{"hook": id, "stage": "pre"|"post", "endpoint": "chat"|..., "model": requested model,
//!   "key_id": id|null, "tenant": name|null, "request": <the client's JSON body>}` (pre), or
//! `{..., "status": upstream status, "stream": bool, "response": <the JSON answer>|null,
//!   "text": <the assembled text of a stream>|null}` (post). The client's credential is never sent.
//!
//! **Answer** (2xx, JSON): `{"action": "allow"}`, `{"action": "deny", "status": 400..=599,
//! "message": "..."}` (status defaults to 403), or (pre only) `{"action": "modify",
//! "messages": [...]}`: the request's `messages` (its `input` on the Responses endpoint) are
//! replaced, in the client's own dialect, and the request goes on through redaction and translation.
//! Anything else (no answer within the timeout, another status, a body that is not this) is a
//! failure, handled by the hook's `failure_mode`.

use super::rules::{Hook, Stage};
use serde_json::{json, Value};

/// Who asks, for the payload.
pub struct Caller<'a> {
    pub endpoint: &'a str,
    pub model: &'a str,
    pub key_id: Option<&'a str>,
    pub tenant: Option<&'a str>,
}

fn envelope(hook: &Hook, c: &Caller<'_>) -> Value {
    json!({"hook": hook.id, "stage": hook.stage.as_str(), "endpoint": c.endpoint, "model": c.model, "key_id": c.key_id, "tenant": c.tenant})
}

/// The pre hook's payload: the envelope and the client's request.
pub fn pre_payload(hook: &Hook, endpoint: &str, model: &str, key_id: Option<&str>, tenant: Option<&str>, request: &Value) -> Vec<u8> {
    let mut v = envelope(hook, &Caller { endpoint, model, key_id, tenant });
    v["request"] = request.clone();
    v.to_string().into_bytes()
}

/// The post hook's payload: the envelope, the status, and the JSON answer or a stream's text.
#[allow(clippy::too_many_arguments)] // the envelope's fields, each plain data
pub fn post_payload(hook: &Hook, endpoint: &str, model: &str, key_id: Option<&str>, tenant: Option<&str>, status: u16, response: Option<&Value>, text: Option<&str>) -> Vec<u8> {
    let mut v = envelope(hook, &Caller { endpoint, model, key_id, tenant });
    v["status"] = json!(status);
    v["stream"] = json!(text.is_some());
    v["response"] = response.cloned().unwrap_or(Value::Null);
    v["text"] = text.map_or(Value::Null, |t| json!(t));
    v.to_string().into_bytes()
}

/// The service's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Allow,
    Deny { status: u16, message: String },
    /// Replace the request's messages (pre hooks only).
    Modify { messages: Value },
}

/// Why an answer could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the timeout (or the connection failed).
    Timeout,
    /// A status other than 2xx, or a body that is not the contract's.
    Invalid,
}

/// Reads the service's answer to a hook of `stage`.
pub fn decide(stage: Stage, status: Option<u16>, body: &[u8]) -> Result<Decision, Failure> {
    let Some(status) = status else { return Err(Failure::Timeout) };
    if !(200..300).contains(&status) {
        return Err(Failure::Invalid);
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| Failure::Invalid)?;
    match v.get("action").and_then(Value::as_str) {
        Some("allow") => Ok(Decision::Allow),
        Some("deny") => {
            let status = match v.get("status") {
                None | Some(Value::Null) => 403,
                Some(s) => s.as_u64().and_then(|s| u16::try_from(s).ok()).filter(|s| (400..=599).contains(s)).ok_or(Failure::Invalid)?,
            };
            let message = v.get("message").and_then(Value::as_str).unwrap_or("The request was denied by a gateway policy.").to_string();
            Ok(Decision::Deny { status, message })
        }
        Some("modify") if stage == Stage::Pre => match v.get("messages") {
            Some(m @ Value::Array(_)) => Ok(Decision::Modify { messages: m.clone() }),
            _ => Err(Failure::Invalid),
        },
        _ => Err(Failure::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::FailureMode;
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn answers_and_failures() {
        assert_eq!(decide(Stage::Pre, Some(200), br#"{"action":"allow"}"#), Ok(Decision::Allow));
        assert_eq!(decide(Stage::Pre, Some(200), br#"{"action":"deny","message":"no"}"#), Ok(Decision::Deny { status: 403, message: "no".into() }));
        assert_eq!(decide(Stage::Pre, Some(200), br#"{"action":"deny","status":451,"message":"x"}"#), Ok(Decision::Deny { status: 451, message: "x".into() }));
        assert_eq!(decide(Stage::Pre, Some(200), br#"{"action":"deny","status":200}"#), Err(Failure::Invalid));
        assert_eq!(decide(Stage::Pre, Some(200), br#"{"action":"modify","messages":[]}"#), Ok(Decision::Modify { messages: json!([]) }));
        assert_eq!(decide(Stage::Post, Some(200), br#"{"action":"modify","messages":[]}"#), Err(Failure::Invalid));
        assert_eq!(decide(Stage::Pre, Some(500), br#"{"action":"allow"}"#), Err(Failure::Invalid));
        assert_eq!(decide(Stage::Pre, None, b""), Err(Failure::Timeout));
        assert_eq!(decide(Stage::Pre, Some(200), b"ok"), Err(Failure::Invalid));
    }

    #[test]
    fn payloads_carry_the_request_not_the_credential() {
        let h = Hook { id: "mod".into(), stage: Stage::Pre, cluster: "c".into(), authority: "c".into(), path: "/".into(), timeout_ms: 1, failure_mode: FailureMode::Closed, models: vec![], keys: vec![] };
        let v: Value = serde_json::from_slice(&pre_payload(&h, "chat", "gpt", Some("a1"), None, &json!({"messages": [1]}))).unwrap();
        assert_eq!((v["hook"].as_str(), v["stage"].as_str(), v["key_id"].as_str()), (Some("mod"), Some("pre"), Some("a1")));
        assert_eq!(v["request"]["messages"], json!([1]));
        let v: Value = serde_json::from_slice(&post_payload(&h, "chat", "gpt", None, None, 200, None, Some("hello"))).unwrap();
        assert_eq!((v["stream"].as_bool(), v["text"].as_str()), (Some(true), Some("hello")));
    }
}
