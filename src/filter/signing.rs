//! Signing a request for its cloud provider, over the request exactly as it leaves: the final
//! `:path`, `:authority` and body (after translation and redaction). Bedrock with `sigv4`
//! credentials gets `x-amz-date`, `x-amz-security-token` (temporary keys) and a SigV4
//! `authorization`; every other provider is left as it is (its credential is a plain header).

use crate::config::cloud::{AwsAuth, Cloud};
use crate::config::Provider;
use crate::host::Host;
use crate::sign::sigv4::{sign_request, Keys, Scope};

/// The service name Bedrock's runtime signs under.
const BEDROCK_SERVICE: &str = "bedrock";

/// Signs the request to `provider` (`path` and `body` as sent; the authority is the provider's
/// host, or the request's). Removes any signature headers a previous attempt or the client set.
pub(super) fn sign(host: &mut impl Host, provider: &Provider, path: &str, body: &[u8]) {
    let Some(Cloud::Bedrock { region, auth: AwsAuth::SigV4(Some(keys)) }) = &provider.cloud else { return };
    host.set_request_header("x-amz-security-token", None);
    let authority = match &provider.host {
        Some(h) => h.clone(),
        None => host.request_header(":authority").unwrap_or_default(),
    };
    let keys = Keys { access_key_id: &keys.access_key_id, secret_access_key: &keys.secret_access_key, session_token: keys.session_token.as_deref() };
    let now = host.now_nanos() / 1_000_000_000;
    let signed = sign_request(&keys, Scope { region, service: BEDROCK_SERVICE }, now, "POST", &authority, path, body);
    host.set_request_header("x-amz-date", Some(&signed.amz_date));
    if let Some(t) = &signed.security_token {
        host.set_request_header("x-amz-security-token", Some(t));
    }
    host.set_request_header("authorization", Some(&signed.authorization));
}

/// A Bedrock InvokeModel body with the client's `anthropic-beta` header as its `anthropic_beta`
/// list (Bedrock reads beta flags from the body; the header, unsigned, stays for a failover's
/// later attempts). `None`: nothing to add.
pub(super) fn with_beta(host: &mut impl Host, provider: &Provider, model: &str, body: &[u8]) -> Option<Vec<u8>> {
    let bedrock_messages = provider.kind == crate::config::ProviderKind::Bedrock && crate::gateway::cloud::wire(provider, model) == Some(crate::api::translate::Wire::Messages);
    if !bedrock_messages {
        return None;
    }
    let header = host.request_header("anthropic-beta")?;
    let mut json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let flags = json.as_object_mut()?.entry("anthropic_beta").or_insert_with(|| serde_json::Value::Array(Vec::new()));
    let list = flags.as_array_mut()?;
    for flag in header.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !list.iter().any(|v| v.as_str() == Some(flag)) {
            list.push(serde_json::Value::from(flag));
        }
    }
    Some(crate::api::json_bytes(&json))
}

/// Whether requests to `provider` are signed here (their body must then be read whole, even
/// when it goes on unchanged).
pub(super) fn signs(provider: &Provider) -> bool {
    matches!(&provider.cloud, Some(Cloud::Bedrock { auth: AwsAuth::SigV4(Some(_)), .. }))
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::filter::{Flow, HttpFilter};
    use crate::host::fake::FakeHost;
    use crate::sign::sigv4::{sign, Keys, Request, Scope};
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn send(credentials: &str, path: &str, body: &[u8]) -> FakeHost {
        send_with(credentials, path, &[], body)
    }

    fn send_with(credentials: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> FakeHost {
        let json = format!(
            r#"{{"auth": {{"mode": "none"}}, "providers": [{{"name": "b", "kind": "bedrock", "cluster": "bedrock", "region": "eu-central-1", "credentials": "{credentials}"}}],
                "models": [{{"name": "claude", "targets": [{{"provider": "b", "model": "anthropic.claude-3-haiku-20240307-v1:0"}}]}}]}}"#
        );
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some(SECRET.to_string()),
            "AWS_SESSION_TOKEN" => Some("session-tok".to_string()),
            "AWS_BEARER_TOKEN_BEDROCK" => Some("bedrock-api-key".to_string()),
            _ => None,
        };
        let config = Rc::new(parse(json.as_bytes(), &env).unwrap());
        let mut headers = vec![("authorization", "Bearer client"), ("x-amz-date", "19990101T000000Z")];
        headers.extend_from_slice(extra);
        let mut h = FakeHost::request("POST", path, &headers, body);
        let mut f = HttpFilter::new(Some(config), 1, 0);
        assert_eq!(f.on_request_headers(&mut h, false), Flow::Pause);
        let size = h.request_body.len();
        assert_eq!(f.on_request_body(&mut h, size, true), Flow::Continue, "{:?}", h.reply);
        h
    }

    #[test]
    fn bedrock_requests_are_signed_over_the_body_as_sent() {
        let h = send("sigv4", "/v1/chat/completions", br#"{"model": "claude", "messages": [{"role": "user", "content": "hi"}]}"#);
        let path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";
        assert_eq!((h.header(":path"), h.header(":authority")), (Some(path), Some("bedrock-runtime.eu-central-1.amazonaws.com")));
        let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!((sent["anthropic_version"].as_str(), sent.get("model")), (Some("bedrock-2023-05-31"), None));
        let date = h.header("x-amz-date").unwrap();
        assert_eq!(date, "20270115T080000Z");
        let headers = [("host", "bedrock-runtime.eu-central-1.amazonaws.com"), ("x-amz-date", date), ("x-amz-security-token", "session-tok")];
        let keys = Keys { access_key_id: "AKIDEXAMPLE", secret_access_key: SECRET, session_token: None };
        let want = sign(&keys, Scope { region: "eu-central-1", service: "bedrock" }, date, &Request { method: "POST", path, headers: &headers, body: &h.request_body });
        assert_eq!(h.header("authorization"), Some(want.authorization.as_str()));
        assert_eq!(h.header("x-amz-security-token"), Some("session-tok"));
    }

    #[test]
    fn anthropic_beta_flags_go_in_the_signed_body() {
        let h = send_with("sigv4", "/v1/messages", &[("anthropic-beta", "context-1m-2025-08-07, interleaved-thinking-2025-05-14")], br#"{"model": "claude", "max_tokens": 5, "messages": []}"#);
        let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!(sent["anthropic_beta"], serde_json::json!(["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"]));
        assert_eq!(h.header("content-length"), Some(h.request_body.len().to_string().as_str()));
        let date = h.header("x-amz-date").unwrap();
        let headers = [("host", "bedrock-runtime.eu-central-1.amazonaws.com"), ("x-amz-date", date), ("x-amz-security-token", "session-tok")];
        let keys = Keys { access_key_id: "AKIDEXAMPLE", secret_access_key: SECRET, session_token: None };
        let path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";
        let want = sign(&keys, Scope { region: "eu-central-1", service: "bedrock" }, date, &Request { method: "POST", path, headers: &headers, body: &h.request_body });
        assert_eq!(h.header("authorization"), Some(want.authorization.as_str()));
    }

    #[test]
    fn api_keys_and_envoy_signing_send_no_signature() {
        let h = send("api_key", "/v1/messages", br#"{"model": "claude", "max_tokens": 5, "messages": []}"#);
        assert_eq!(h.header("authorization"), Some("Bearer bedrock-api-key"));
        let h = send("envoy", "/v1/messages", br#"{"model": "claude", "max_tokens": 5, "stream": true, "messages": []}"#);
        assert_eq!(h.header("authorization"), None, "Envoy's aws_request_signing signs");
        assert_eq!(h.header(":path"), Some("/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream"));
    }
}

#[cfg(test)]
#[path = "bedrock_tests.rs"]
mod bedrock_tests;
