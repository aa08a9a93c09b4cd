//! The end of a request: its timings as the `ttft_ms` access-log field, the access-log record,
//! and its outcome as the per-model stats.

use super::exports::{Exports, FilterStateName};
use crate::config::{Config, Role};
use crate::gateway::{Identity, Plan};
use crate::host::Host;
use crate::metrics::{Metric, RequestRecord};
use crate::usage::Usage;

/// What one finished request reports.
pub struct Outcome<'a> {
    pub identity: Option<&'a Identity>,
    pub plan: Option<&'a Plan>,
    pub status: u16,
    pub usage: Option<Usage>,
    pub cost_micros: Option<u64>,
    /// Host nanoseconds at the request headers and at the first response byte.
    pub started_nanos: u64,
    pub first_byte_nanos: Option<u64>,
}

/// Exports the outcome as `telemetry` allows; `more` gives further stat updates (redaction's),
/// made only when stats are on.
pub fn report(host: &mut impl Host, config: &Config, exports: &mut Exports, o: &Outcome<'_>, more: impl FnOnce() -> Vec<Metric>) {
    if !(config.telemetry.stats || config.telemetry.filter_state) {
        return;
    }
    let now = host.now_nanos();
    let ms = |from: u64, to: u64| to.checked_sub(from).map(|d| d / 1_000_000);
    let ttft_ms = o.first_byte_nanos.and_then(|t| ms(o.started_nanos, t));
    if let (Some(t), true) = (ttft_ms, o.plan.is_some()) {
        exports.set_number(host, config, FilterStateName::TtftMs, t);
    }
    exports.write_record(host, &config.telemetry);
    if !config.telemetry.stats {
        return;
    }
    let policy = o.identity.and_then(|i| i.policy(config));
    let (model, provider) = match o.plan {
        // The guard's models are the clients' own names, unbounded; its provider is the route's.
        Some(_) if config.role == Role::Guard => ("-", "-"),
        // Exact routes report the model; globs and `provider/model` report the route, so
        // client-chosen names cannot grow the number of stats without bound.
        Some(p) => (p.route.as_deref().unwrap_or("provider-prefixed"), p.provider_name.as_str()),
        None => ("-", "-"),
    };
    let tps = match (o.usage, o.first_byte_nanos) {
        (Some(u), Some(first)) if now > first && u.completion_tokens > 0 => Some(u.completion_tokens.saturating_mul(1_000_000_000) / (now - first).max(1)),
        _ => None,
    };
    let record = RequestRecord {
        model,
        provider,
        principal: policy.map_or("-", |p| p.tenant.as_deref().unwrap_or(&p.id)),
        status: o.status,
        usage: o.usage,
        duration_ms: ms(o.started_nanos, now),
        ttft_ms,
        output_tokens_per_second: tps,
        cost_micros: o.cost_micros,
    };
    host.emit_request(&crate::metrics::request_stats(&record));
    for m in more() {
        host.emit(&m);
    }
}
