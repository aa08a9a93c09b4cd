//! What the filter publishes as filter state for Envoy's access log and rate-limit filter, and
//! how `telemetry` chooses it: one record per request (`wasm.tollgate`, a JSON object of every
//! field set, written once at the end) plus, separately, only the fields the config names
//! (`telemetry.fields`, by default `total_tokens`, which the rate-limit recipe's `hits_addend`
//! reads). Each separate field is one more host call per request.

use crate::config::{Config, Telemetry};
use crate::host::Host;
use crate::usage::Usage;

/// The filter-state name of the per-request record.
pub const RECORD: &str = "tollgate";

/// A value published as filter state `wasm.<name>` (`%FILTER_STATE(wasm.<name>:PLAIN)%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterStateName {
    KeyId,
    Tenant,
    RequestedModel,
    Provider,
    UpstreamModel,
    PromptTokens,
    CompletionTokens,
    CachedTokens,
    ReasoningTokens,
    TotalTokens,
    /// `true` when any usage figure is the gateway's estimate.
    UsageEstimated,
    /// Cost in micro-units of the pricing currency (set when the model has a price).
    CostMicros,
    /// `true` when a failover route was answered by another provider than the first attempt's.
    FailedOver,
    /// Milliseconds from the request's start to the first response byte (time to first token
    /// for streams).
    TtftMs,
    /// Prompt matches replaced (masked or pseudonymized) before forwarding.
    Redactions,
    /// The response cache's verdict (`hit`, `miss`, `bypass`) on routes that cache.
    Cache,
    /// The plan the upstream role rewrites each failover attempt from (internal; never in the
    /// record, always written).
    Handoff,
}

/// Every access-log field, in record order (not [`FilterStateName::Handoff`]).
pub const FIELDS: [FilterStateName; 16] = [
    FilterStateName::KeyId,
    FilterStateName::Tenant,
    FilterStateName::RequestedModel,
    FilterStateName::Provider,
    FilterStateName::UpstreamModel,
    FilterStateName::PromptTokens,
    FilterStateName::CompletionTokens,
    FilterStateName::CachedTokens,
    FilterStateName::ReasoningTokens,
    FilterStateName::TotalTokens,
    FilterStateName::UsageEstimated,
    FilterStateName::CostMicros,
    FilterStateName::FailedOver,
    FilterStateName::TtftMs,
    FilterStateName::Redactions,
    FilterStateName::Cache,
];

impl FilterStateName {
    /// The filter-state name of the separate value (`wasm.` is the host's prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            FilterStateName::KeyId => "tollgate.key_id",
            FilterStateName::Tenant => "tollgate.tenant",
            FilterStateName::RequestedModel => "tollgate.model",
            FilterStateName::Provider => "tollgate.provider",
            FilterStateName::UpstreamModel => "tollgate.upstream_model",
            FilterStateName::PromptTokens => "tollgate.prompt_tokens",
            FilterStateName::CompletionTokens => "tollgate.completion_tokens",
            FilterStateName::CachedTokens => "tollgate.cached_tokens",
            FilterStateName::ReasoningTokens => "tollgate.reasoning_tokens",
            FilterStateName::TotalTokens => "tollgate.total_tokens",
            FilterStateName::UsageEstimated => "tollgate.usage_estimated",
            FilterStateName::CostMicros => "tollgate.cost_micros",
            FilterStateName::FailedOver => "tollgate.failed_over",
            FilterStateName::Handoff => "tollgate.handoff",
            FilterStateName::TtftMs => "tollgate.ttft_ms",
            FilterStateName::Redactions => "tollgate.redactions",
            FilterStateName::Cache => "tollgate.cache",
        }
    }

    /// The field's name in the record and in `telemetry.fields`.
    pub fn field(self) -> &'static str {
        let name = self.as_str();
        name.get("tollgate.".len()..).unwrap_or(name)
    }

    /// The field named `name` in `telemetry.fields`.
    pub fn by_field(name: &str) -> Option<FilterStateName> {
        FIELDS.into_iter().find(|f| f.field() == name)
    }

    /// The field's bit in [`Telemetry::fields`].
    pub fn bit(self) -> u32 {
        1 << FIELDS.iter().position(|f| *f == self).unwrap_or(31)
    }

}

/// One field's value, kept as it came: the record is rendered once, at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Number(u64),
    Flag(bool),
}

/// The request's exports: the record's fields as they become known, the separate values
/// written at once.
#[derive(Debug, Default)]
pub struct Exports {
    values: [Option<Value>; FIELDS.len()],
}

impl Exports {
    /// Sets a text field, for the record and, if `telemetry.fields` names it, as its own value now.
    pub fn set(&mut self, host: &mut impl Host, config: &Config, name: FilterStateName, value: &str) {
        if self.separately(host, config, name, || value.to_string()) {
            self.put(name, Value::Text(value.to_string()));
        }
    }

    /// Sets a numeric field (as [`Exports::set`]).
    pub fn set_number(&mut self, host: &mut impl Host, config: &Config, name: FilterStateName, value: u64) {
        if self.separately(host, config, name, || decimal(value)) {
            self.put(name, Value::Number(value));
        }
    }

    /// Sets a boolean field (as [`Exports::set`]).
    pub fn set_flag(&mut self, host: &mut impl Host, config: &Config, name: FilterStateName, value: bool) {
        if self.separately(host, config, name, || value.to_string()) {
            self.put(name, Value::Flag(value));
        }
    }

    /// Writes the separate value when the config names the field; `true` when the record wants it.
    fn separately(&self, host: &mut impl Host, config: &Config, name: FilterStateName, text: impl FnOnce() -> String) -> bool {
        let t = &config.telemetry;
        if !t.filter_state {
            return false;
        }
        if t.fields & name.bit() != 0 {
            host.set_filter_state(name.as_str(), &text());
        }
        t.record
    }

    fn put(&mut self, name: FilterStateName, value: Value) {
        if let Some(slot) = FIELDS.iter().position(|f| *f == name).and_then(|i| self.values.get_mut(i)) {
            *slot = Some(value);
        }
    }

    /// Sets the usage figures (and the cost, when priced).
    pub fn set_usage(&mut self, host: &mut impl Host, config: &Config, u: &Usage, cost_micros: Option<u64>) {
        if !config.telemetry.filter_state {
            return;
        }
        let figures = [
            (FilterStateName::PromptTokens, u.prompt_tokens),
            (FilterStateName::CompletionTokens, u.completion_tokens),
            (FilterStateName::CachedTokens, u.cached_prompt_tokens),
            (FilterStateName::ReasoningTokens, u.reasoning_tokens),
            (FilterStateName::TotalTokens, u.total_tokens()),
        ];
        for (name, value) in figures {
            self.set_number(host, config, name, value);
        }
        self.set_flag(host, config, FilterStateName::UsageEstimated, u.estimated);
        if let Some(cost) = cost_micros {
            self.set_number(host, config, FilterStateName::CostMicros, cost);
        }
    }

    /// Writes the record (`wasm.tollgate`), once, at the end of the request; nothing when no
    /// field was set.
    pub fn write_record(&self, host: &mut impl Host, telemetry: &Telemetry) {
        if !(telemetry.filter_state && telemetry.record) {
            return;
        }
        if let Some(record) = self.record() {
            host.set_filter_state(RECORD, &record);
        }
    }

    /// The record as a JSON object: numbers and booleans bare, names as strings.
    fn record(&self) -> Option<String> {
        let mut out = String::with_capacity(320);
        for (name, value) in FIELDS.iter().zip(&self.values) {
            let Some(v) = value else { continue };
            out.push(if out.is_empty() { '{' } else { ',' });
            out.push('"');
            out.push_str(name.field());
            out.push_str("\":");
            match v {
                Value::Text(t) => json_string(&mut out, t),
                Value::Number(n) => crate::scan::push_u64(&mut out, *n),
                Value::Flag(b) => out.push_str(if *b { "true" } else { "false" }),
            }
        }
        if out.is_empty() {
            return None;
        }
        out.push('}');
        Some(out)
    }
}

/// `n` in decimal, without the formatting machinery.
fn decimal(n: u64) -> String {
    let mut out = String::with_capacity(20);
    crate::scan::push_u64(&mut out, n);
    out
}

/// Appends `s` as a JSON string (RFC 8259 escapes).
fn json_string(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fake::FakeHost;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(telemetry: &str) -> Config {
        crate::config::parse(format!(r#"{{"telemetry": {telemetry}}}"#).as_bytes(), &|_| None).unwrap()
    }

    #[test]
    fn default_writes_one_record_and_total_tokens() {
        let c = config("{}");
        let mut host = FakeHost::default();
        let mut e = Exports::default();
        e.set(&mut host, &c, FilterStateName::KeyId, "k\"1\\\u{1}");
        e.set_usage(&mut host, &c, &Usage { prompt_tokens: 3, completion_tokens: 4, ..Usage::default() }, Some(12));
        assert_eq!(host.filter_state.len(), 1, "only total_tokens goes separately: {:?}", host.filter_state);
        assert_eq!(host.filter_state.get("tollgate.total_tokens").map(String::as_str), Some("7"));
        e.write_record(&mut host, &c.telemetry);
        let record: serde_json::Value = serde_json::from_str(&host.filter_state["tollgate"]).unwrap();
        assert_eq!(record["key_id"], "k\"1\\\u{1}");
        assert_eq!(record["prompt_tokens"], 3);
        assert_eq!(record["usage_estimated"], false);
        assert_eq!(record["cost_micros"], 12);
        assert!(record.get("tenant").is_none());
    }

    #[test]
    fn every_field_separately_and_none() {
        let mut host = FakeHost::default();
        let all = config(r#"{"fields": ["*"], "record": false}"#);
        let mut e = Exports::default();
        for f in FIELDS {
            e.set(&mut host, &all, f, "1");
        }
        e.write_record(&mut host, &all.telemetry);
        assert_eq!(host.filter_state.len(), FIELDS.len());
        let off = config(r#"{"filter_state": false}"#);
        let mut host = FakeHost::default();
        let mut e = Exports::default();
        e.set(&mut host, &off, FilterStateName::KeyId, "k");
        e.write_record(&mut host, &off.telemetry);
        assert!(host.filter_state.is_empty());
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let err = crate::config::parse(br#"{"telemetry": {"fields": ["total_tokens", "tokens"]}}"#, &|_| None).unwrap_err();
        assert!(err.to_string().contains("telemetry.fields[1]"), "{err}");
    }

    #[test]
    fn field_names_round_trip() {
        for f in FIELDS {
            assert_eq!(FilterStateName::by_field(f.field()), Some(f));
        }
        assert_eq!(FilterStateName::by_field("handoff"), None);
    }
}
