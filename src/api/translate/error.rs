//! Translation errors, and provider error bodies rewritten into the client's dialect.

use crate::api::{anthropic, openai, Dialect};
use serde_json::Value;
use std::fmt;

/// A request (or upstream response) that cannot be expressed in the other dialect.
/// For a client request the lead maps it to a 400 naming `param`; for an upstream
/// response (`param` = `"response"`) it means the provider's body had an unexpected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateError {
    /// The request field at fault (OpenAI `error.param`).
    pub param: &'static str,
    pub message: String,
}

impl TranslateError {
    pub fn new(param: &'static str, message: impl Into<String>) -> Self {
        TranslateError { param, message: message.into() }
    }
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.param, self.message)
    }
}

impl std::error::Error for TranslateError {}

/// Longest message kept from a body that is not a recognised error object.
const MAX_RAW_MESSAGE: usize = 512;

/// Rewrites a provider's error body (OpenAI or Anthropic shape, detected from the body) into the
/// shape `to` expects. `status` is the provider's HTTP status, used to pick an error type when the
/// body carries none. Bodies that are not JSON become an error whose message is their (truncated) text.
/// The event that ends a stream the provider stopped before it was complete (after the first
/// byte, so there is no failing over): an OpenAI error frame, or Anthropic's `error` event.
pub fn incomplete_stream_frame(to: Dialect) -> Vec<u8> {
    const MESSAGE: &str = "The provider's stream ended before the answer was complete.";
    match to {
        Dialect::Anthropic => {
            let body = super::obj(&mut [("type", Value::from("error")), ("error", super::obj(&mut [("type", Value::from("api_error")), ("message", Value::from(MESSAGE))]))]);
            format!("event: error\ndata: {body}\n\n").into_bytes()
        }
        Dialect::OpenAiChat | Dialect::OpenAiEmbeddings => {
            let body = super::obj(&mut [("error", super::obj(&mut [("message", Value::from(MESSAGE)), ("type", Value::from("server_error")), ("param", Value::Null), ("code", Value::from("stream_incomplete"))]))]);
            format!("data: {body}\n\n").into_bytes()
        }
        Dialect::OpenAiResponses => super::responses_stream::failed_frame("stream_incomplete", MESSAGE),
    }
}

pub fn error_body(body: &[u8], status: u16, to: Dialect) -> Vec<u8> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let err = json.as_ref().and_then(|j| j.get("error"));
    let text = |k: &str| err.and_then(|e| e.get(k)).and_then(Value::as_str);
    // Bedrock's errors are `{"message": …}` at the top level.
    let top = json.as_ref().and_then(|j| j.get("message")).and_then(Value::as_str);
    let message = match text("message").or(top) {
        Some(m) => m.to_string(),
        None => {
            let raw = String::from_utf8_lossy(body);
            let raw = raw.trim();
            match raw.char_indices().nth(MAX_RAW_MESSAGE) {
                Some((cut, _)) => format!("{}…", raw.get(..cut).unwrap_or(raw)),
                None if raw.is_empty() => format!("The provider returned HTTP {status}."),
                None => raw.to_string(),
            }
        }
    };
    let kind = text("type");
    let out = match to {
        Dialect::Anthropic => {
            let kind = kind.filter(|k| is_anthropic_type(k)).unwrap_or_else(|| anthropic::error_type_for_status(status));
            anthropic::error_body(kind, &message)
        }
        Dialect::OpenAiChat | Dialect::OpenAiEmbeddings | Dialect::OpenAiResponses => {
            let kind = match kind {
                Some("api_error" | "overloaded_error") => "server_error",
                Some(k) => k,
                None => openai::error_type_for_status(status),
            };
            let code = text("code").or_else(|| (kind != "invalid_request_error").then_some(kind));
            let code = code.or_else(|| err.and_then(|e| e.get("type")).and_then(Value::as_str));
            let mut v = openai::error_body(&message, kind, code);
            if let (Some(p), Some(e)) = (err.and_then(|e| e.get("param")), v.get_mut("error")) {
                if let Some(map) = e.as_object_mut() {
                    map.insert("param".into(), p.clone());
                }
            }
            v
        }
    };
    crate::api::json_bytes(&out)
}

fn is_anthropic_type(kind: &str) -> bool {
    matches!(
        kind,
        "invalid_request_error"
            | "authentication_error"
            | "billing_error"
            | "permission_error"
            | "not_found_error"
            | "request_too_large"
            | "rate_limit_error"
            | "api_error"
            | "overloaded_error"
            | "timeout_error"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn parse(b: Vec<u8>) -> Value {
        serde_json::from_slice(&b).unwrap()
    }

    #[test]
    fn anthropic_to_openai() {
        let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        let v = parse(error_body(body, 529, Dialect::OpenAiChat));
        assert_eq!(v, json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": "server_error"}}));
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: required"}}"#;
        let v = parse(error_body(body, 400, Dialect::OpenAiChat));
        assert_eq!((v["error"]["type"].as_str(), v["error"]["code"].as_str()), (Some("invalid_request_error"), Some("invalid_request_error")));
    }

    #[test]
    fn openai_to_anthropic() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let v = parse(error_body(body, 429, Dialect::Anthropic));
        assert_eq!(v, json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached"}}));
        let body = br#"{"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":null}}"#;
        let v = parse(error_body(body, 400, Dialect::Anthropic));
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn non_json_and_empty_bodies() {
        let v = parse(error_body(b"upstream connect error", 503, Dialect::Anthropic));
        assert_eq!(v["error"], json!({"type": "overloaded_error", "message": "upstream connect error"}));
        let v = parse(error_body(b"", 502, Dialect::OpenAiChat));
        assert_eq!(v["error"]["message"], "The provider returned HTTP 502.");
        assert_eq!(v["error"]["type"], "server_error");
        let long = "x".repeat(2000);
        let v = parse(error_body(long.as_bytes(), 500, Dialect::OpenAiChat));
        assert!(v["error"]["message"].as_str().unwrap().chars().count() <= MAX_RAW_MESSAGE + 1);
    }

    #[test]
    fn openai_to_openai_keeps_param() {
        let body = br#"{"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":null}}"#;
        let v = parse(error_body(body, 400, Dialect::OpenAiChat));
        assert_eq!(v["error"]["param"], "messages");
    }
}
