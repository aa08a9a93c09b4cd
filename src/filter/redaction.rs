//! The request's redaction state as the filter sees it: the findings of the request side, the
//! access-log count, the metrics, and the response-side restore (JSON whole, SSE per chunk).

use super::FilterStateName;
use crate::api::Dialect;
use crate::config::Config;
use crate::host::Host;
use crate::metrics::Metric;
use crate::redact::{restore_json, Findings, Restorer, SseRestorer, StreamDialect};

enum Mode {
    /// Nothing to restore (no pseudonyms, an error status, or an opaque body).
    Off,
    /// A JSON body, restored at its end.
    Json(Restorer),
    /// An event stream, restored event by event.
    Sse(Box<SseRestorer>),
}

/// Owned by `HttpFilter`.
pub struct Redaction {
    /// Filled by planning (`gateway::plan_redacted`).
    pub findings: Findings,
    mode: Mode,
}

impl Default for Redaction {
    fn default() -> Self {
        Redaction { findings: Findings::default(), mode: Mode::Off }
    }
}

impl Redaction {
    /// Publishes the replacement count for the access log, when redaction is on.
    pub fn publish(&self, host: &mut impl Host, config: &Config, exports: &mut super::exports::Exports) {
        if config.redaction.is_some() {
            exports.set_number(host, config, FilterStateName::Redactions, self.findings.replaced);
        }
    }

    /// Chooses the restore mode; `true` when the body will be rewritten (drop `content-length`).
    pub fn on_response_headers(&mut self, dialect: Dialect, status: u16, content_type: &str) -> bool {
        let media = crate::media::of(content_type);
        let restorer = Restorer::new(self.findings.pseudonyms.restorable());
        self.mode = match restorer {
            Some(r) if (200..300).contains(&status) && media == crate::media::Media::Sse => {
                let d = match dialect {
                    Dialect::Anthropic => StreamDialect::Anthropic,
                    Dialect::OpenAiResponses => StreamDialect::Responses,
                    Dialect::OpenAiChat | Dialect::OpenAiEmbeddings => StreamDialect::OpenAi,
                };
                Mode::Sse(Box::new(SseRestorer::new(d, r)))
            }
            Some(r) if (200..300).contains(&status) && media == crate::media::Media::Json => Mode::Json(r),
            _ => Mode::Off,
        };
        !matches!(self.mode, Mode::Off)
    }

    /// Whether the request's pseudonyms call for a restore of the answer.
    pub fn restores(&self) -> bool {
        self.findings.pseudonyms.restores()
    }

    pub fn active(&self) -> bool {
        !matches!(self.mode, Mode::Off)
    }

    pub fn buffers_body(&self) -> bool {
        matches!(self.mode, Mode::Json(_))
    }

    /// The restored whole body, if it changed.
    pub fn whole(&self, body: &[u8]) -> Option<Vec<u8>> {
        match &self.mode {
            Mode::Json(r) => restore_json(r, body),
            _ => None,
        }
    }

    /// The restored chunk (streams), or `None` when this response is not restored per chunk.
    pub fn chunk(&mut self, chunk: &[u8], end: bool) -> Option<Vec<u8>> {
        match &mut self.mode {
            Mode::Sse(s) => Some(s.chunk(chunk, end)),
            _ => None,
        }
    }

    /// Per-rule match counters.
    pub fn metrics(&self, config: &Config) -> Vec<Metric> {
        let Some(r) = &config.redaction else { return Vec::new() };
        let rules = r.rules.iter().zip(self.findings.counts.iter()).map(|(rule, n)| (rule.name(), rule.action.as_str(), *n));
        crate::metrics::redaction_metrics(rules)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::filter::{Flow, HttpFilter};
    use crate::host::fake::FakeHost;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn filter() -> HttpFilter {
        let json = r#"{"providers": [{"name": "p", "kind": "openai", "cluster": "c"}],
                       "models": [{"name": "*", "targets": [{"provider": "p"}]}],
                       "auth": {"mode": "none"}, "redaction": {"enabled": true, "detectors": {"cloud_key": "block"}}}"#;
        HttpFilter::new(Some(Rc::new(parse(json.as_bytes(), &|_| None).unwrap())), 1, 0)
    }

    fn send(f: &mut HttpFilter, h: &mut FakeHost) -> Flow {
        f.on_request_headers(h, false);
        let n = h.request_body.len();
        f.on_request_body(h, n, true)
    }

    #[test]
    fn request_is_redacted_and_json_answer_restored() {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], br#"{"model":"m","messages":[{"role":"user","content":"mail jane@example.com"}]}"#);
        let mut f = filter();
        assert_eq!(send(&mut f, &mut h), Flow::Continue);
        let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!(sent["messages"][0]["content"], "mail [EMAIL_1]");
        h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), " Application/JSON; charset=utf-8".into()), ("content-length".into(), "99".into())];
        f.on_response_headers(&mut h);
        assert!(!h.response_headers.iter().any(|(k, _)| k == "content-length"));
        h.response_body = br#"{"choices":[{"message":{"content":"Wrote to [EMAIL_1]."}}]}"#.to_vec();
        let n = h.response_body.len();
        assert_eq!(f.on_response_body(&mut h, n, false), Flow::Pause, "held to its end");
        assert_eq!(f.on_response_body(&mut h, n, true), Flow::Continue);
        let got: serde_json::Value = serde_json::from_slice(&h.response_body).unwrap();
        assert_eq!(got["choices"][0]["message"]["content"], "Wrote to jane@example.com.");
        f.on_log(&mut h);
        assert_eq!(h.exported("redactions").as_deref(), Some("1"));
        assert!(h.metrics.iter().any(|m| m.name == "tollgate.redaction.detector.email.action.pseudonymize.matches" && m.value == 1));
    }

    #[test]
    fn blocked_request_is_refused_and_counted() {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], br#"{"model":"m","messages":[{"role":"user","content":"AKIAIOSFODNN7EXAMPLE"}]}"#);
        let mut f = filter();
        send(&mut f, &mut h);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(400));
        assert_eq!(h.reply_json()["error"]["code"], "content_blocked");
        f.on_log(&mut h);
        assert!(h.metrics.iter().any(|m| m.name == "tollgate.redaction.detector.cloud_key.action.block.matches"));
    }
}
