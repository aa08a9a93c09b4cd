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
    Sse(SseRestorer),
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
    pub fn publish(&self, host: &mut impl Host, config: &Config) {
        if config.redaction.is_some() {
            host.set_filter_state(FilterStateName::Redactions.as_str(), &self.findings.replaced.to_string());
        }
    }

    /// Chooses the restore mode; `true` when the body will be rewritten (drop `content-length`).
    pub fn on_response_headers(&mut self, dialect: Dialect, status: u16, content_type: &str) -> bool {
        let ct = content_type.trim_start().to_ascii_lowercase();
        let restorer = Restorer::new(self.findings.pseudonyms.restorable());
        self.mode = match restorer {
            Some(r) if (200..300).contains(&status) && ct.starts_with("text/event-stream") => {
                let d = if dialect == Dialect::Anthropic { StreamDialect::Anthropic } else { StreamDialect::OpenAi };
                Mode::Sse(SseRestorer::new(d, r))
            }
            Some(r) if (200..300).contains(&status) && ct.starts_with("application/json") => Mode::Json(r),
            _ => Mode::Off,
        };
        !matches!(self.mode, Mode::Off)
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
