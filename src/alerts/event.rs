//! The events alerts raise, and their JSON payload: the rule, the subject (a key id or a
//! tenant, never a key), the window, the amount, the threshold or factor, and the baseline.
//! No prompt, completion or credential is ever part of an event.

use crate::config::format_rfc3339;
use crate::limits::{Kind, Scope};
use serde_json::{json, Value};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A budget rule's count reached one of its thresholds (basis points of the limit).
    Budget { threshold: u32, limit: u64 },
    /// An anomaly rule fired: the window's amount exceeds factor × baseline and the floor.
    Anomaly { baseline: u64, factor_pct: u64, floor: u64, blocking: bool },
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub rule: String,
    pub scope: Scope,
    pub subject: String,
    /// What the rule counts: tokens, spend (micro-units of `currency`) or requests.
    pub measure: Kind,
    pub window_start: u64,
    pub window_end: u64,
    /// The subject's count in the window when the event fired.
    pub amount: u64,
    /// When it fired, Unix seconds.
    pub at: u64,
}

impl Event {
    /// The Standard Webhooks `type`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            EventKind::Budget { .. } => "budget.threshold_crossed",
            EventKind::Anomaly { .. } => "spend.anomaly_detected",
        }
    }

    /// The stable identity of the event: rule, subject, window and threshold. It names the
    /// webhook message (`webhook-id`), so a receiver can drop a duplicate delivery.
    pub fn identity(&self) -> String {
        let detail = match self.kind {
            EventKind::Budget { threshold, .. } => threshold.to_string(),
            EventKind::Anomaly { .. } => "anomaly".to_string(),
        };
        format!("{}|{}|{}|{}|{}", self.type_name(), self.rule, self.subject, self.window_start, detail)
    }

    /// The JSON body of the webhook: `{"type", "timestamp", "data": {...}}` (the envelope the
    /// Standard Webhooks spec recommends).
    pub fn payload(&self, currency: &str) -> Vec<u8> {
        let scope = match self.scope {
            Scope::Key => "key",
            Scope::Tenant => "tenant",
        };
        let mut data = json!({
            "rule": self.rule,
            "scope": scope,
            "subject": self.subject,
            "measure": self.measure.as_str(),
            "window": {"start": format_rfc3339(secs(self.window_start)), "end": format_rfc3339(secs(self.window_end))},
            "amount": self.amount,
        });
        if self.measure == Kind::Spend {
            data["unit"] = json!(format!("micro-{currency}"));
        }
        match self.kind {
            EventKind::Budget { threshold, limit } => {
                data["threshold"] = json!(f64::from(threshold) / 10_000.0);
                data["limit"] = json!(limit);
            }
            EventKind::Anomaly { baseline, factor_pct, floor, blocking } => {
                data["baseline"] = json!(baseline);
                data["factor"] = json!(factor_pct as f64 / 100.0);
                data["floor"] = json!(floor);
                data["action"] = json!(if blocking { "block" } else { "alert" });
            }
        }
        let v: Value = json!({"type": self.type_name(), "timestamp": format_rfc3339(secs(self.at)), "data": data});
        v.to_string().into_bytes()
    }

    /// The log line: what and whom, no secret.
    pub fn log_line(&self) -> String {
        match self.kind {
            EventKind::Budget { threshold, limit } => format!(
                "tollgate alert: budget `{}` for {} reached {}% ({} of {} {})",
                self.rule,
                self.subject,
                f64::from(threshold) / 100.0,
                self.amount,
                limit,
                self.measure.as_str()
            ),
            EventKind::Anomaly { baseline, factor_pct, blocking, .. } => format!(
                "tollgate alert: anomaly `{}` for {}: {} {} this window vs baseline {} (factor {}){}",
                self.rule,
                self.subject,
                self.amount,
                self.measure.as_str(),
                baseline,
                factor_pct as f64 / 100.0,
                if blocking { "; blocking until the window ends" } else { "" }
            ),
        }
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn payload_names_rule_subject_window_amount_threshold() {
        let e = Event {
            kind: EventKind::Budget { threshold: 8000, limit: 1_000_000 },
            rule: "usd-month".into(),
            scope: Scope::Tenant,
            subject: "acme".into(),
            measure: Kind::Spend,
            window_start: 1_772_323_200,
            window_end: 1_775_001_600,
            amount: 812_000,
            at: 1_773_578_096,
        };
        let v: Value = serde_json::from_slice(&e.payload("USD")).unwrap();
        assert_eq!(v["type"], "budget.threshold_crossed");
        assert_eq!(v["data"]["threshold"], 0.8);
        assert_eq!(v["data"]["window"]["start"], "2026-03-01T00:00:00Z");
        assert_eq!(v["data"]["unit"], "micro-USD");
        assert_eq!((v["data"]["subject"].as_str(), v["data"]["amount"].as_u64()), (Some("acme"), Some(812_000)));
        assert!(e.log_line().contains("80%"));
        let a = Event { kind: EventKind::Anomaly { baseline: 100, factor_pct: 1000, floor: 50, blocking: true }, measure: Kind::Tokens, ..e };
        let v: Value = serde_json::from_slice(&a.payload("USD")).unwrap();
        assert_eq!((v["data"]["baseline"].as_u64(), v["data"]["factor"].as_f64(), v["data"]["action"].as_str()), (Some(100), Some(10.0), Some("block")));
        assert_ne!(a.identity(), Event { kind: EventKind::Budget { threshold: 5000, limit: 1 }, ..a.clone() }.identity());
    }
}
