//! Client-facing errors: one type, mapped to a status and a dialect-shaped JSON body here and nowhere else.

use crate::api::Dialect;

/// What went wrong, in the client's terms. Each kind has a fixed status and a stable `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The body is missing, not JSON, or lacks a required field.
    InvalidRequest,
    /// The body is larger than the filter is configured to read.
    BodyTooLarge,
    /// No, an unknown, a disabled, an expired or a not-yet-valid key.
    InvalidApiKey,
    /// The key is valid but may not use the requested model.
    ModelNotAllowed,
    /// No route matches the requested model.
    ModelNotFound,
    /// The path is not an endpoint the gateway serves.
    UnknownEndpoint,
    /// The method is not allowed on this endpoint.
    MethodNotAllowed,
    /// The route's provider has no credential in the proxy's environment.
    ProviderUnavailable,
    /// The filter has no usable configuration.
    NotConfigured,
    /// A request or token rate limit has no room for the request.
    RateLimitExceeded,
    /// A spend budget has no room for the request.
    BudgetExceeded,
    /// The caller already has as many requests in flight as allowed.
    ConcurrencyLimitExceeded,
    /// The fleet limits' store did not answer and `failure_mode` is `closed`.
    LimitsUnavailable,
    /// A redaction rule with action `block` matched the prompt.
    ContentBlocked,
    /// Redaction could not inspect the body (too large, or text in an unknown shape) and fails closed.
    NotInspectable,
    /// A spend or token anomaly rule with action `block` fired for the caller in this window.
    AnomalyDetected,
    /// A policy webhook denied the request (its status, default 403, and message).
    PolicyDenied,
    /// A policy webhook did not answer usably and its `failure_mode` is `closed`.
    PolicyUnavailable,
    /// The key source's first load has not completed, so an unlisted key cannot be checked yet.
    KeysUnavailable,
}

impl ErrorKind {
    /// HTTP status for this kind.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::ContentBlocked | ErrorKind::NotInspectable => 400,
            ErrorKind::BodyTooLarge => 413,
            ErrorKind::InvalidApiKey => 401,
            ErrorKind::ModelNotAllowed | ErrorKind::PolicyDenied => 403,
            ErrorKind::ModelNotFound | ErrorKind::UnknownEndpoint => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::ProviderUnavailable | ErrorKind::NotConfigured | ErrorKind::LimitsUnavailable | ErrorKind::PolicyUnavailable | ErrorKind::KeysUnavailable => 503,
            ErrorKind::RateLimitExceeded | ErrorKind::BudgetExceeded | ErrorKind::ConcurrencyLimitExceeded | ErrorKind::AnomalyDetected => 429,
        }
    }

    /// Stable machine-readable code (OpenAI `error.code`).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::BodyTooLarge => "request_too_large",
            ErrorKind::InvalidApiKey => "invalid_api_key",
            ErrorKind::ModelNotAllowed => "model_not_allowed",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::UnknownEndpoint => "unknown_endpoint",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::ProviderUnavailable => "provider_unavailable",
            ErrorKind::NotConfigured => "gateway_not_configured",
            ErrorKind::LimitsUnavailable => "limits_unavailable",
            ErrorKind::RateLimitExceeded => "rate_limit_exceeded",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::ConcurrencyLimitExceeded => "concurrency_limit_exceeded",
            ErrorKind::ContentBlocked => "content_blocked",
            ErrorKind::NotInspectable => "content_not_inspectable",
            ErrorKind::AnomalyDetected => "anomaly_detected",
            ErrorKind::PolicyDenied => "policy_denied",
            ErrorKind::PolicyUnavailable => "policy_unavailable",
            ErrorKind::KeysUnavailable => "keys_unavailable",
        }
    }

    /// OpenAI `error.type`.
    fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidApiKey => "authentication_error",
            ErrorKind::ModelNotAllowed | ErrorKind::PolicyDenied => "permission_error",
            ErrorKind::ProviderUnavailable | ErrorKind::NotConfigured | ErrorKind::LimitsUnavailable | ErrorKind::PolicyUnavailable | ErrorKind::KeysUnavailable => "api_error",
            ErrorKind::RateLimitExceeded | ErrorKind::BudgetExceeded | ErrorKind::ConcurrencyLimitExceeded | ErrorKind::AnomalyDetected => "rate_limit_error",
            _ => "invalid_request_error",
        }
    }

    /// Anthropic `error.type`.
    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidApiKey => "authentication_error",
            ErrorKind::ModelNotAllowed | ErrorKind::PolicyDenied => "permission_error",
            ErrorKind::ModelNotFound | ErrorKind::UnknownEndpoint => "not_found_error",
            ErrorKind::BodyTooLarge => "request_too_large",
            ErrorKind::ProviderUnavailable | ErrorKind::NotConfigured | ErrorKind::LimitsUnavailable | ErrorKind::PolicyUnavailable | ErrorKind::KeysUnavailable => "api_error",
            ErrorKind::RateLimitExceeded | ErrorKind::BudgetExceeded | ErrorKind::ConcurrencyLimitExceeded | ErrorKind::AnomalyDetected => "rate_limit_error",
            _ => "invalid_request_error",
        }
    }
}

/// An error to send back to the client instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// The request field at fault, when there is one (OpenAI `error.param`).
    pub param: Option<&'static str>,
    /// Extra response headers (e.g. `retry-after`, `x-ratelimit-*`).
    pub headers: Vec<(String, String)>,
    /// A status other than the kind's (a policy webhook's deny).
    pub status: Option<u16>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError { kind, message: message.into(), param: None, headers: Vec::new(), status: None }
    }

    /// Adds a response header to the reply.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    /// Answers with `status` instead of the kind's.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn status(&self) -> u16 {
        self.status.unwrap_or_else(|| self.kind.status())
    }

    /// The JSON body in the client's dialect.
    pub fn body(&self, dialect: Dialect) -> String {
        let v = match dialect {
            Dialect::Anthropic => serde_json::json!({
                "type": "error",
                "error": { "type": self.kind.anthropic_type(), "message": self.message },
            }),
            _ => serde_json::json!({
                "error": {
                    "message": self.message,
                    "type": self.kind.openai_type(),
                    "param": self.param,
                    "code": self.kind.code(),
                }
            }),
        };
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn openai_shape_has_all_four_fields() {
        let e = ApiError::new(ErrorKind::ModelNotFound, "no such model").with_param("model");
        let v: serde_json::Value = serde_json::from_str(&e.body(Dialect::OpenAiChat)).unwrap();
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["message"], "no such model");
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn anthropic_shape() {
        let e = ApiError::new(ErrorKind::InvalidApiKey, "invalid x-api-key");
        let v: serde_json::Value = serde_json::from_str(&e.body(Dialect::Anthropic)).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert_eq!(e.status(), 401);
    }

    #[test]
    fn limit_kinds_are_429_with_distinct_codes() {
        for (k, code) in [(ErrorKind::RateLimitExceeded, "rate_limit_exceeded"), (ErrorKind::BudgetExceeded, "budget_exceeded"), (ErrorKind::ConcurrencyLimitExceeded, "concurrency_limit_exceeded")] {
            let e = ApiError::new(k, "slow down").with_header("retry-after", "3");
            assert_eq!(e.status(), 429);
            let v: serde_json::Value = serde_json::from_str(&e.body(Dialect::OpenAiChat)).unwrap();
            assert_eq!(v["error"]["code"], code);
            let v: serde_json::Value = serde_json::from_str(&e.body(Dialect::Anthropic)).unwrap();
            assert_eq!(v["error"]["type"], "rate_limit_error");
            assert_eq!(e.headers, vec![("retry-after".to_string(), "3".to_string())]);
        }
    }

    #[test]
    fn null_param_is_present() {
        let e = ApiError::new(ErrorKind::InvalidRequest, "bad");
        let v: serde_json::Value = serde_json::from_str(&e.body(Dialect::OpenAiChat)).unwrap();
        assert!(v["error"].as_object().unwrap().contains_key("param"));
    }
}
