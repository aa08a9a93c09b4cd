//! Per-request metrics as Envoy stat names. proxy-wasm stats have no labels, so tags are encoded
//! in the name (`tollgate.model.<m>.provider.<p>.tenant.<t>.status.<c>.<metric>`) and Envoy's
//! `stats_tags` (see `envoy/demo.yaml`) turns them back into Prometheus labels.

use crate::usage::Usage;

/// Counter, histogram or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
    /// Set to the value (a state, such as a circuit breaker's).
    Gauge,
}

/// One stat update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub kind: Kind,
    pub name: String,
    pub value: u64,
}

/// What one finished request contributes.
#[derive(Debug, Default)]
pub struct RequestRecord<'a> {
    pub model: &'a str,
    pub provider: &'a str,
    /// Tenant, else key id, else `-`.
    pub principal: &'a str,
    pub status: u16,
    pub usage: Option<Usage>,
    pub duration_ms: Option<u64>,
    pub ttft_ms: Option<u64>,
    pub output_tokens_per_second: Option<u64>,
    /// Cost in micro-units of the pricing currency.
    pub cost_micros: Option<u64>,
}

/// Stat names may not contain `.` inside a tag value (it separates tags), nor characters Envoy
/// or Prometheus would mangle; anything else becomes `_`. Empty becomes `-`.
pub fn tag(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(64));
    push_tag(&mut out, value);
    out
}

/// Appends `value` as a tag (see [`tag`]) without a string of its own.
fn push_tag(out: &mut String, value: &str) {
    if value.is_empty() {
        out.push('-');
        return;
    }
    out.extend(value.chars().take(64).map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }));
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

/// One of the per-request stats: a fixed suffix and kind under the request's tag prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Requests,
    TokensInput,
    TokensOutput,
    TokensCached,
    TokensReasoning,
    UsageEstimated,
    OutputTokens,
    CostMicros,
    RequestDurationMs,
    TimeToFirstTokenMs,
    OutputTokensPerSecond,
}

impl Series {
    /// Every series, in the order a request's updates are made.
    pub const ALL: [Series; 11] = [
        Series::Requests,
        Series::TokensInput,
        Series::TokensOutput,
        Series::TokensCached,
        Series::TokensReasoning,
        Series::UsageEstimated,
        Series::OutputTokens,
        Series::CostMicros,
        Series::RequestDurationMs,
        Series::TimeToFirstTokenMs,
        Series::OutputTokensPerSecond,
    ];

    /// The stat name's last part, after the prefix.
    pub fn suffix(self) -> &'static str {
        match self {
            Series::Requests => "requests",
            Series::TokensInput => "tokens.input",
            Series::TokensOutput => "tokens.output",
            Series::TokensCached => "tokens.cached",
            Series::TokensReasoning => "tokens.reasoning",
            Series::UsageEstimated => "usage_estimated",
            Series::OutputTokens => "output_tokens",
            Series::CostMicros => "cost_micros",
            Series::RequestDurationMs => "request_duration_ms",
            Series::TimeToFirstTokenMs => "time_to_first_token_ms",
            Series::OutputTokensPerSecond => "output_tokens_per_second",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Series::OutputTokens | Series::RequestDurationMs | Series::TimeToFirstTokenMs | Series::OutputTokensPerSecond => Kind::Histogram,
            _ => Kind::Counter,
        }
    }

    /// Its place in [`Series::ALL`] (and in a host's table of ids per prefix).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One request's stat updates: the tag prefix they share (`tollgate.model.….status.2xx.`) and a
/// value per series it updates. A host can look the prefix up once and keep the ids of its
/// series, where building and looking up every full name costs an allocation and a hash each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestStats {
    pub prefix: String,
    pub values: [Option<u64>; Series::ALL.len()],
}

impl RequestStats {
    /// The full name of one of its series.
    pub fn name(&self, series: Series) -> String {
        let mut name = String::with_capacity(self.prefix.len() + series.suffix().len());
        name.push_str(&self.prefix);
        name.push_str(series.suffix());
        name
    }

    /// The updates as named metrics, in [`Series::ALL`] order.
    pub fn metrics(&self) -> Vec<Metric> {
        Series::ALL
            .iter()
            .zip(&self.values)
            .filter_map(|(s, v)| v.map(|value| Metric { kind: s.kind(), name: self.name(*s), value }))
            .collect()
    }
}

/// The stat updates for one request.
pub fn request_stats(r: &RequestRecord<'_>) -> RequestStats {
    let mut prefix = String::with_capacity(96);
    for (label, value) in [("tollgate.model.", r.model), (".provider.", r.provider), (".tenant.", r.principal)] {
        prefix.push_str(label);
        push_tag(&mut prefix, value);
    }
    prefix.push_str(".status.");
    prefix.push_str(status_class(r.status));
    prefix.push('.');
    let mut values = [None; Series::ALL.len()];
    let mut set = |s: Series, v: u64| {
        if let Some(slot) = values.get_mut(s.index()) {
            *slot = Some(v);
        }
    };
    set(Series::Requests, 1);
    if let Some(u) = r.usage {
        set(Series::TokensInput, u.prompt_tokens);
        set(Series::TokensOutput, u.completion_tokens);
        set(Series::TokensCached, u.cached_prompt_tokens);
        set(Series::TokensReasoning, u.reasoning_tokens);
        if u.estimated {
            set(Series::UsageEstimated, 1);
        }
        set(Series::OutputTokens, u.completion_tokens);
    }
    let optional = [
        (Series::CostMicros, r.cost_micros),
        (Series::RequestDurationMs, r.duration_ms),
        (Series::TimeToFirstTokenMs, r.ttft_ms),
        (Series::OutputTokensPerSecond, r.output_tokens_per_second),
    ];
    for (s, v) in optional {
        if let Some(v) = v {
            set(s, v);
        }
    }
    RequestStats { prefix, values }
}

/// Redaction counters for one request: `tollgate.redaction.detector.<d>.action.<a>.matches`
/// per rule that matched (a blocked request counts its matches under `block`).
pub fn redaction_metrics<'a>(rules: impl Iterator<Item = (&'a str, &'static str, u64)>) -> Vec<Metric> {
    rules
        .filter(|(_, _, n)| *n > 0)
        .map(|(d, a, n)| Metric { kind: Kind::Counter, name: format!("tollgate.redaction.detector.{}.action.{a}.matches", tag(d)), value: n })
        .collect()
}

/// Translation counters for one request: `tollgate.translation.dropped.field.<f>.requests` per
/// request field dropped under the lenient policy.
pub fn dropped_metrics(fields: &[&str]) -> Vec<Metric> {
    fields.iter().map(|f| Metric { kind: Kind::Counter, name: format!("tollgate.translation.dropped.field.{}.requests", tag(f)), value: 1 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A host keeps a prefix's ids by [`Series::index`]: every series has its own place.
    #[test]
    fn series_index_their_place() {
        for (i, s) in Series::ALL.iter().enumerate() {
            assert_eq!(s.index(), i, "{s:?}");
        }
        let r = RequestRecord { model: "m", provider: "p", principal: "t", status: 200, duration_ms: Some(3), ..Default::default() };
        let stats = request_stats(&r);
        assert_eq!(stats.prefix, "tollgate.model.m.provider.p.tenant.t.status.2xx.");
        assert_eq!(stats.name(Series::RequestDurationMs), "tollgate.model.m.provider.p.tenant.t.status.2xx.request_duration_ms");
        let names: Vec<_> = stats.metrics().into_iter().map(|m| (m.name, m.kind, m.value)).collect();
        assert_eq!(names, [
            ("tollgate.model.m.provider.p.tenant.t.status.2xx.requests".to_string(), Kind::Counter, 1),
            ("tollgate.model.m.provider.p.tenant.t.status.2xx.request_duration_ms".to_string(), Kind::Histogram, 3),
        ]);
    }

    #[test]
    fn tags_are_safe() {
        assert_eq!(tag("gpt-4.1-mini"), "gpt-4_1-mini");
        assert_eq!(tag("claude 3/x"), "claude_3_x");
        assert_eq!(tag(""), "-");
    }

    #[test]
    fn names_carry_tags_and_values() {
        let u = Usage { prompt_tokens: 42, completion_tokens: 17, cached_prompt_tokens: 16, ..Usage::default() };
        let r = RequestRecord { model: "gpt-4o-mini", provider: "openai", principal: "acme", status: 200, usage: Some(u), duration_ms: Some(12), ..Default::default() };
        let m = request_stats(&r).metrics();
        assert_eq!(m[0], Metric { kind: Kind::Counter, name: "tollgate.model.gpt-4o-mini.provider.openai.tenant.acme.status.2xx.requests".into(), value: 1 });
        assert!(m.iter().any(|x| x.name.ends_with(".tokens.input") && x.value == 42));
        assert!(m.iter().any(|x| x.name.ends_with(".request_duration_ms") && x.kind == Kind::Histogram));
        assert!(!m.iter().any(|x| x.name.ends_with(".cost_micros")), "no price, no cost");
        let priced = request_stats(&RequestRecord { cost_micros: Some(68_000), ..r }).metrics();
        assert!(priced.iter().any(|x| x.name == "tollgate.model.gpt-4o-mini.provider.openai.tenant.acme.status.2xx.cost_micros" && x.value == 68_000));
        assert_eq!(dropped_metrics(&["top_k"])[0].name, "tollgate.translation.dropped.field.top_k.requests");
        let rejected = request_stats(&RequestRecord { status: 401, ..Default::default() }).metrics();
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].name.starts_with("tollgate.model.-.provider.-.tenant.-.status.4xx"));
    }
}
