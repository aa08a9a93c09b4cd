//! A provider answer the gateway cannot use as it came, turned into a clear error in the
//! client's dialect (docs/reliability.md):
//! - a 2xx answer the gateway must read (to translate it, or to restore redacted values) but
//!   cannot: compressed although the request said nothing of `accept-encoding` (the gateway
//!   removes it), or of a content type it cannot read (an HTML page, a stream where JSON was asked
//!   for). The gateway answers 502 in its place at the response headers (Envoy sends a local
//!   reply while the head has not gone), and the provider's bytes are dropped;
//! - an error status whose body is not JSON (Envoy's own replies such as "upstream request
//!   timeout", an HTML error page from a load balancer): the body is rewritten into the client's
//!   error shape at its end, with the provider's text as the message.
//!
//! Pure decisions over plain data, applied by `HttpFilter` through the `Host` trait.

use crate::api::translate::error_body;
use crate::api::Dialect;
use crate::host::Host;
use crate::media::{self, Media};

/// What happens to the response body.
#[derive(Debug, Default)]
pub enum Fault {
    /// The answer is used as it is (or by the translator and the restore).
    #[default]
    None,
    /// A non-JSON error body, rewritten into the dialect's error shape at its end.
    PlainError(u16, Dialect),
}

/// The answer's head, as `on_response_headers` sees it.
pub struct Head<'a> {
    pub status: u16,
    pub content_type: &'a str,
    pub content_encoding: Option<&'a str>,
}

/// What the gateway does with the body.
pub struct Reading {
    /// The body is translated into another dialect.
    pub translates: bool,
    /// The body is read at all (translated, or redacted values restored).
    pub reads: bool,
    /// The client asked for a stream.
    pub stream: bool,
}

fn is_json(ct: &str) -> bool {
    // A structured-syntax suffix (RFC 6839): `application/problem+json` and the like.
    let structured = |m: &str| m.len().checked_sub(5).and_then(|i| m.as_bytes().get(i..)).is_some_and(|s| s.eq_ignore_ascii_case(b"+json"));
    media::of(ct) == Media::Json || (media::starts_with(ct, "application/") && ct.split(';').next().is_some_and(structured))
}

fn is_sse(ct: &str) -> bool {
    media::of(ct) == Media::Sse
}

/// Why a 2xx answer the gateway must read cannot be read, if it cannot.
pub fn unreadable(head: &Head<'_>, reading: &Reading) -> Option<&'static str> {
    if !(200..300).contains(&head.status) || !reading.reads {
        return None;
    }
    let encoded = head.content_encoding.is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
    if encoded {
        return Some("The provider sent a compressed answer the gateway did not ask for and cannot read.");
    }
    if !reading.translates || head.content_type.trim().is_empty() {
        return None;
    }
    let expected = if reading.stream { is_sse(head.content_type) } else { is_json(head.content_type) };
    // A JSON answer to a stream request is read as JSON (some providers answer so); the reverse is not.
    if expected || (reading.stream && is_json(head.content_type)) {
        return None;
    }
    Some("The provider's answer is not of the content type its API promises.")
}

/// Whether an error answer in the client's own dialect needs its body rewritten.
pub fn plain_error(head: &Head<'_>) -> bool {
    head.status >= 400 && !is_json(head.content_type)
}

/// Sets the head of an error body the gateway rewrites (JSON, no encoding, no length).
pub fn error_head(host: &mut impl Host) {
    host.set_response_header("content-type", Some("application/json"));
    host.set_response_header("content-encoding", None);
    host.set_response_header("content-length", None);
}

/// The 502 body for an unusable answer, in the client's dialect.
pub fn unusable_body(message: &str, dialect: Dialect) -> Vec<u8> {
    error_body(message.as_bytes(), 502, dialect)
}

impl Fault {
    /// Handles one body callback; `None` when the answer is not replaced.
    pub fn on_body(&self, host: &mut impl Host, body_size: usize, end_of_stream: bool) -> Option<super::Flow> {
        match self {
            Fault::None => None,
            Fault::PlainError(status, dialect) => {
                if !end_of_stream {
                    return Some(super::Flow::Pause);
                }
                let body = host.response_body(body_size).unwrap_or_default();
                host.replace_response_body(body_size, &error_body(&body, *status, *dialect));
                Some(super::Flow::Continue)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const READS: Reading = Reading { translates: false, reads: true, stream: false };
    const TRANSLATES: Reading = Reading { translates: true, reads: true, stream: false };
    const TRANSLATES_STREAM: Reading = Reading { translates: true, reads: true, stream: true };

    fn head<'a>(status: u16, ct: &'a str, ce: Option<&'a str>) -> Head<'a> {
        Head { status, content_type: ct, content_encoding: ce }
    }

    #[test]
    fn compressed_answers_the_gateway_must_read_are_refused() {
        for ce in ["gzip", "br", " GZIP ", "deflate"] {
            assert!(unreadable(&head(200, "application/json", Some(ce)), &READS).is_some(), "{ce}");
            assert!(unreadable(&head(200, "text/event-stream", Some(ce)), &TRANSLATES_STREAM).is_some(), "{ce}");
        }
        assert!(unreadable(&head(200, "application/json", Some("identity")), &TRANSLATES).is_none());
        // Passed through untouched (accounting alone estimates): the client may decode it.
        assert!(unreadable(&head(200, "application/json", Some("gzip")), &Reading { translates: false, reads: false, stream: false }).is_none());
        // Error statuses are the error path's.
        assert!(unreadable(&head(503, "application/json", Some("gzip")), &READS).is_none());
    }

    #[test]
    fn a_translated_answer_must_be_of_the_promised_type() {
        assert!(unreadable(&head(200, "text/html", None), &TRANSLATES).is_some());
        assert!(unreadable(&head(200, "text/event-stream", None), &TRANSLATES).is_some(), "a stream where JSON was asked for");
        assert!(unreadable(&head(200, "text/html; charset=utf-8", None), &TRANSLATES_STREAM).is_some());
        assert!(unreadable(&head(200, "application/json; charset=utf-8", None), &TRANSLATES).is_none());
        assert!(unreadable(&head(200, "application/problem+json", None), &TRANSLATES).is_none());
        assert!(unreadable(&head(200, "application/json", None), &TRANSLATES_STREAM).is_none(), "read as JSON");
        assert!(unreadable(&head(200, "Text/Event-Stream", None), &TRANSLATES_STREAM).is_none());
        assert!(unreadable(&head(200, "", None), &TRANSLATES).is_none(), "no type: left to the translator");
        // In the client's own dialect the provider is the judge of its own types.
        assert!(unreadable(&head(200, "text/html", None), &READS).is_none());
    }

    #[test]
    fn plain_error_bodies_are_rewritten() {
        assert!(plain_error(&head(504, "text/plain", None)));
        assert!(plain_error(&head(502, "text/html", None)));
        assert!(plain_error(&head(503, "", None)));
        assert!(!plain_error(&head(429, "application/json", None)));
        assert!(!plain_error(&head(200, "text/plain", None)));
        let out: serde_json::Value = serde_json::from_slice(&error_body(b"upstream request timeout", 504, Dialect::Anthropic)).unwrap_or_default();
        assert_eq!(out["type"], "error");
        assert_eq!(out["error"]["message"], "upstream request timeout");
        let out: serde_json::Value = serde_json::from_slice(&unusable_body("x", Dialect::OpenAiChat)).unwrap_or_default();
        assert_eq!(out["error"]["message"], "x");
    }
}

/// The filter over the fake host: each fault as Envoy would show it to `HttpFilter`.
#[cfg(test)]
mod filter_tests {
    use crate::filter::{Flow, HttpFilter};
    use crate::host::fake::FakeHost;
    use crate::keys::Digest;
    use serde_json::Value;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A filter that forwarded `model` from the OpenAI chat door (`gpt-*` native, `claude-*` translated).
    fn forwarded(model: &str) -> (FakeHost, HttpFilter) {
        let json = format!(
            r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}}, {{"name": "claude", "kind": "anthropic", "cluster": "anthropic"}}],
                "models": [{{"name": "gpt-*", "targets": [{{"provider": "openai"}}]}}, {{"name": "claude-*", "targets": [{{"provider": "claude"}}]}}],
                "keys": [{{"id": "k", "tenant": "t", "digests": ["{}"]}}]}}"#,
            Digest::of(b"tg-good")
        );
        let config = Rc::new(crate::config::parse(json.as_bytes(), &|_| None).unwrap_or_else(|e| panic!("{e:?}")));
        let body = format!(r#"{{"model":"{model}","max_tokens":8,"messages":[{{"role":"user","content":"hi"}}]}}"#);
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], body.as_bytes());
        let mut f = HttpFilter::new(Some(config), 1, 0);
        f.on_request_headers(&mut h, false);
        let n = h.request_body.len();
        assert_eq!(f.on_request_body(&mut h, n, true), Flow::Continue, "{:?}", h.reply);
        (h, f)
    }

    fn answer(h: &mut FakeHost, status: &str, headers: &[(&str, &str)]) {
        h.response_headers = vec![(":status".into(), status.into())];
        h.response_headers.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }

    fn resp<'a>(h: &'a FakeHost, name: &str) -> Option<&'a str> {
        h.response_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    }

    #[test]
    fn a_compressed_answer_to_translate_becomes_a_502_at_its_head() {
        let (mut h, mut f) = forwarded("claude-x");
        answer(&mut h, "200", &[("content-type", "application/json"), ("content-encoding", "gzip")]);
        assert_eq!(f.on_response_headers(&mut h), Flow::Pause);
        let (status, _, body) = h.reply.clone().unwrap_or_else(|| panic!("no reply"));
        assert_eq!(status, 502);
        let v = json(&body);
        assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("compressed")), "{v}");
    }

    #[test]
    fn a_translated_answer_that_is_not_json_turns_its_held_head_into_a_502() {
        for bad in [&b"{\"id\": [oops"[..], b"<html>502</html>", b"{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"\xff\"}]}"] {
            let (mut h, mut f) = forwarded("claude-x");
            answer(&mut h, "200", &[("content-type", "application/json")]);
            assert_eq!(f.on_response_headers(&mut h), Flow::Pause, "the head waits for the body");
            h.response_body = bad.to_vec();
            assert_eq!(f.on_response_body(&mut h, bad.len(), true), Flow::Continue);
            assert_eq!(resp(&h, ":status"), Some("502"));
            assert!(json(&h.response_body)["error"]["message"].is_string());
        }
        // A good answer keeps its 200.
        let (mut h, mut f) = forwarded("claude-x");
        answer(&mut h, "200", &[("content-type", "application/json")]);
        f.on_response_headers(&mut h);
        h.response_body = include_bytes!("../../tests/fixtures/anthropic_messages.json").to_vec();
        let n = h.response_body.len();
        f.on_response_body(&mut h, n, true);
        assert_eq!(resp(&h, ":status"), Some("200"));
        assert_eq!(json(&h.response_body)["object"], "chat.completion");
    }

    #[test]
    fn envoys_plain_text_errors_are_rewritten_into_the_clients_dialect() {
        let (mut h, mut f) = forwarded("gpt-4o");
        answer(&mut h, "504", &[("content-type", "text/plain"), ("content-length", "24")]);
        assert_eq!(f.on_response_headers(&mut h), Flow::Continue);
        assert_eq!(resp(&h, "content-type"), Some("application/json"));
        assert_eq!(resp(&h, "content-length"), None);
        h.response_body = b"upstream request timeout".to_vec();
        assert_eq!(f.on_response_body(&mut h, 10, false), Flow::Pause);
        assert_eq!(f.on_response_body(&mut h, 24, true), Flow::Continue);
        let v = json(&h.response_body);
        assert_eq!(v["error"]["message"], "upstream request timeout");
        assert!(v["error"]["type"].is_string());
        // Translated, Envoy's text becomes the client's error shape, labelled JSON (it was `text/plain`).
        let (mut h, mut f) = forwarded("claude-x");
        answer(&mut h, "502", &[("content-type", "text/plain")]);
        f.on_response_headers(&mut h);
        assert_eq!(resp(&h, "content-type"), Some("application/json"));
        h.response_body = b"upstream connect error or disconnect/reset before headers".to_vec();
        f.on_response_body(&mut h, 57, true);
        assert!(json(&h.response_body)["error"]["message"].as_str().is_some_and(|m| m.starts_with("upstream connect error")));
        // A JSON error in the client's own dialect passes as the provider sent it.
        let (mut h, mut f) = forwarded("gpt-4o");
        answer(&mut h, "429", &[("content-type", "application/json")]);
        f.on_response_headers(&mut h);
        assert_eq!(resp(&h, "content-type"), Some("application/json"));
        h.response_body = br#"{"error":{"message":"slow down","type":"requests"}}"#.to_vec();
        f.on_response_body(&mut h, 10, true);
        assert_eq!(json(&h.response_body)["error"]["message"], "slow down");
    }
}
