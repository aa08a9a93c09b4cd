//! The policy-case file: strict serde DTOs (a request and the decision expected for it).

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A file of policy cases, run in order against one config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Environment of the simulated proxy (provider credentials). A provider's `api_key_env`
    /// that is not listed gets a placeholder value, so every provider is available; map it to
    /// `""` to test an unavailable provider.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Clock for every case (RFC 3339), for key validity windows; default: the current time.
    #[serde(default)]
    pub now: Option<String>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One request and what the gateway must decide for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Shown in the report.
    pub name: String,
    pub request: RequestSpec,
    pub expect: Expect,
    /// Send the request this many times (each through a fresh filter, as separate requests);
    /// `expect` applies to the last one. For limits: "the 4th request gets 429".
    #[serde(default = "one")]
    pub repeat: u32,
    /// Clock for this case (RFC 3339), overriding the file's `now`.
    #[serde(default)]
    pub now: Option<String>,
}

/// The client's request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_path")]
    pub path: String,
    /// Request headers (names are case-insensitive).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body: a JSON value is sent as JSON; a string is sent as it is (raw text).
    #[serde(default)]
    pub body: Option<Value>,
    /// Values of the configured JWT claim, as Envoy's jwt_authn would provide (auth mode `jwt`).
    #[serde(default)]
    pub jwt_claim: Vec<String>,
}

impl RequestSpec {
    /// The body bytes sent.
    pub fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            None => Vec::new(),
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(v) => v.to_string().into_bytes(),
        }
    }
}

/// The decision expected. Every field is optional; each one given is checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// HTTP status: the local reply's, or 200 for a request forwarded upstream.
    #[serde(default)]
    pub status: Option<u16>,
    /// The error code of a local reply (`error.code`; on `/v1/messages`, Anthropic's `error.type`).
    #[serde(default)]
    pub code: Option<String>,
    /// `true`: forwarded upstream; `false`: answered by the gateway.
    #[serde(default)]
    pub forwarded: Option<bool>,
    /// Provider chosen (config `providers[].name`).
    #[serde(default)]
    pub provider: Option<String>,
    /// Envoy cluster chosen (the cluster header's value).
    #[serde(default)]
    pub cluster: Option<String>,
    /// Model name sent upstream.
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// `:path` sent upstream (query included).
    #[serde(default)]
    pub path: Option<String>,
    /// Substrings the upstream body must contain (e.g. a redaction placeholder).
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Substrings the upstream body must not contain (e.g. the secret a redaction rule masks).
    #[serde(default)]
    pub body_not_contains: Vec<String>,
    /// The request was refused by this redaction detector: it appears as the error's `param`
    /// or in its message.
    #[serde(default)]
    pub blocked_detector: Option<String>,
    /// A substring of the local reply's error message.
    #[serde(default)]
    pub message_contains: Option<String>,
}

fn one() -> u32 {
    1
}
fn default_method() -> String {
    "POST".to_string()
}
fn default_path() -> String {
    "/v1/chat/completions".to_string()
}

/// Reads a case file from a JSON value; the error names the JSON path at fault.
pub fn parse_cases(doc: Value) -> Result<CaseFile, crate::config::ConfigError> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        crate::config::ConfigError::new(path, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn defaults_and_paths_of_errors() {
        let f = parse_cases(serde_json::json!({"cases": [{"name": "a", "request": {"body": {"model": "m"}}, "expect": {"status": 200}}]})).unwrap();
        let c = &f.cases[0];
        assert_eq!((c.request.method.as_str(), c.request.path.as_str(), c.repeat), ("POST", "/v1/chat/completions", 1));
        assert_eq!(c.request.body_bytes(), br#"{"model":"m"}"#);
        let e = parse_cases(serde_json::json!({"cases": [{"name": "a", "request": {}, "expect": {"stauts": 1}}]})).unwrap_err();
        assert_eq!(e.field, "cases[0].expect.stauts");
    }

    #[test]
    fn string_bodies_are_sent_raw() {
        let r = RequestSpec { method: "POST".into(), path: "/".into(), headers: BTreeMap::new(), body: Some(Value::String("{not json".into())), jwt_claim: vec![] };
        assert_eq!(r.body_bytes(), b"{not json");
    }
}
