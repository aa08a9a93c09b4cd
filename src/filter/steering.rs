//! The filter's side of steered routing: the signals selection reads (breaker health, latency
//! averages, in-flight counts, all in shared data so every worker sees them; request headers),
//! and what one request writes back (its outcome, latency sample and in-flight count).
//!
//! One shared-data value per target (provider name + upstream model), `tg:rt:<provider>:<model>`,
//! holds all three (see `route::record`); planning reads each target's value once.
//! Only targets that name their upstream model in the config are tracked: a glob route's target
//! that keeps the client's model name would let clients grow the store without bound.

use crate::config::Config;
use crate::gateway::Plan;
use crate::host::Host;
use crate::limits::CREATE_CAS;
use crate::metrics::{Kind, Metric};
use crate::route::health::{retry_after_ms, Failure, Health, Outcome, State, Transition};
use crate::route::record::Record;
use crate::route::select::Signals;
use crate::route::strategy::{average, LatencyMetric, Strategy};
use crate::route::Attempt;
use crate::usage::Usage;

/// CAS attempts per update before giving up (the update is then lost, never blocking).
const MAX_ATTEMPTS: u32 = 16;

/// Envoy's details of its own replies (connect failure, reset, timeout).
const CODE_DETAILS: [&str; 2] = ["response", "code_details"];

fn key(provider: &str, model: &str) -> String {
    format!("tg:rt:{provider}:{model}")
}

/// Read-modify-write of one target's record; `f` returns `None` to leave it.
fn update_record(host: &mut impl Host, provider: &str, model: &str, mut f: impl FnMut(Record) -> Option<Record>) -> Option<Record> {
    let (_, next) = update(host, &key(provider, model), |v| f(Record::decode(v.unwrap_or_default())).map(|r| r.encode().to_vec()))?;
    Some(Record::decode(&next))
}

/// Read-modify-write of one shared value with compare-and-swap; `f` gets the current bytes
/// (`None`: missing) and returns the new ones (`None`: leave it). Returns what `f` was last given
/// and what was written.
fn update(host: &mut impl Host, key: &str, mut f: impl FnMut(Option<&[u8]>) -> Option<Vec<u8>>) -> Option<(Option<Vec<u8>>, Vec<u8>)> {
    for _ in 0..MAX_ATTEMPTS {
        let (value, cas) = host.shared_get(key).ok()?;
        let next = f(value.as_deref())?;
        match host.shared_set(key, &next, cas.unwrap_or(CREATE_CAS)) {
            Ok(()) => return Some((value, next)),
            Err(crate::limits::StoreError::CasMismatch) => continue,
            Err(crate::limits::StoreError::Unavailable) => return None,
        }
    }
    None
}

/// Stat names of a target's breaker: `tollgate.breaker.provider.<p>.model.<m>.<name>`.
fn breaker_metric(kind: Kind, provider: &str, model: &str, name: &str, value: u64) -> Metric {
    let (p, m) = (crate::metrics::tag(provider), crate::metrics::tag(model));
    Metric { kind, name: format!("tollgate.breaker.provider.{p}.model.{m}.{name}"), value }
}

fn transition(host: &mut impl Host, provider: &str, model: &str, t: Transition, state: State) {
    log::info!("breaker {provider}/{model}: {}", t.as_str());
    host.emit(&breaker_metric(Kind::Counter, provider, model, t.as_str(), 1));
    host.emit(&breaker_metric(Kind::Gauge, provider, model, "state", state.gauge()));
}

/// Records one attempt's outcome on the breaker of `provider`/`model`.
pub fn record(host: &mut impl Host, config: &Config, provider: &str, model: &str, outcome: Outcome) {
    let Some(b) = config.router.breaker().copied() else { return };
    let tracked = config.providers.iter().position(|p| p.name == provider).is_some_and(|i| config.router.tracks(i, model));
    if outcome == Outcome::Neutral || !tracked {
        return;
    }
    let now = host.now_nanos() / 1_000_000;
    let mut made = None;
    let written = update_record(host, provider, model, |r| {
        let (health, t) = r.health.record(&b, outcome, now);
        made = t;
        // A success on a closed breaker with no count changes nothing: spare the write.
        (health != r.health).then_some(Record { health, ..r })
    });
    if let (Some(next), Some(t)) = (written, made) {
        transition(host, provider, model, t, next.health.state(now));
    }
}

/// The breaker outcome of a response whose headers just arrived, and whether the response is
/// Envoy's own (a 5xx whose `response.code_details` is not `via_upstream`: connect failure,
/// reset, timeout, no healthy host).
pub fn outcome(host: &mut impl Host, status: u16) -> (Outcome, bool) {
    match status {
        200..=399 => (Outcome::Success, false),
        429 => (Outcome::Failure(Failure::RateLimited, host.response_header("retry-after").as_deref().and_then(retry_after_ms)), false),
        500..=599 => {
            let details = host.property_strings(&CODE_DETAILS).into_iter().next().unwrap_or_default();
            let envoys = !details.is_empty() && details != "via_upstream";
            (Failure::classify(status, &details).map_or(Outcome::Neutral, |f| Outcome::Failure(f, None)), envoys)
        }
        _ => (Outcome::Neutral, false),
    }
}

/// [`Signals`] over a host's shared data, the config's prices and the request headers.
pub struct HostSignals<'a, H: Host> {
    pub host: &'a mut H,
    pub config: &'a Config,
    now_ms: Option<u64>,
    /// Records read while planning this request, by provider index and model.
    read: Vec<(usize, String, Record)>,
}

impl<'a, H: Host> HostSignals<'a, H> {
    pub fn new(host: &'a mut H, config: &'a Config) -> Self {
        HostSignals { host, config, now_ms: None, read: Vec::new() }
    }

    fn name(&self, a: &Attempt) -> &str {
        self.config.provider(a.provider).map_or("", |p| p.name.as_str())
    }

    /// The target's record, read from shared data once per request.
    fn get(&mut self, a: &Attempt) -> Record {
        if !self.config.router.tracks(a.provider, &a.model) {
            return Record::default();
        }
        if let Some((_, _, r)) = self.read.iter().find(|(p, m, _)| *p == a.provider && *m == a.model) {
            return *r;
        }
        let value = self.host.shared_get(&key(self.name(a), &a.model)).ok().and_then(|(v, _)| v);
        let r = value.map_or_else(Record::default, |v| Record::decode(&v));
        self.read.push((a.provider, a.model.clone(), r));
        r
    }
}

impl<H: Host> Signals for HostSignals<'_, H> {
    fn now_ms(&mut self) -> u64 {
        *self.now_ms.get_or_insert_with(|| self.host.now_nanos() / 1_000_000)
    }
    fn health(&mut self, a: &Attempt) -> Health {
        self.get(a).health
    }
    fn claim_probe(&mut self, a: &Attempt, seen: Health) -> bool {
        if !self.config.router.tracks(a.provider, &a.model) {
            return true;
        }
        let now = self.now_ms();
        let provider = self.name(a).to_string();
        let claimed = update_record(self.host, &provider, &a.model, |r| (r.health == seen).then(|| Record { health: r.health.probing(now), ..r }));
        if claimed.is_some() {
            transition(self.host, &provider, &a.model, Transition::HalfOpened, State::HalfOpen);
        }
        claimed.is_some()
    }
    fn latency(&mut self, a: &Attempt) -> Option<u64> {
        self.get(a).average()
    }
    fn in_flight(&mut self, a: &Attempt) -> u64 {
        self.get(a).in_flight
    }
    fn header(&mut self, name: &str) -> Option<String> {
        self.host.request_header(name)
    }
}

/// What one request tracks for its target.
#[derive(Debug, Default)]
pub struct Steering {
    /// Provider name and upstream model the request was sent to.
    target: Option<(String, String)>,
    breaker: bool,
    latency: Option<LatencyMetric>,
    busy: bool,
    sent_ms: u64,
    first_byte_ms: Option<u64>,
    status: u16,
    settled: bool,
}

impl Steering {
    /// The plan was forwarded: note its target, and count it in flight for `least_busy`.
    pub fn forwarded(&mut self, host: &mut impl Host, config: &Config, plan: &Plan) {
        let Some(route) = config.router.steered_route(&plan.requested_model) else { return };
        let candidates = route.targets.len() + route.fallbacks.len() + route.policy.rules.iter().map(|r| r.targets.len()).sum::<usize>();
        self.breaker = config.router.breaker().is_some() && candidates > 1 && plan.failover.is_none();
        self.latency = match route.policy.strategy {
            Strategy::Latency { metric, .. } => Some(metric),
            _ => None,
        };
        self.busy = route.policy.strategy == Strategy::LeastBusy;
        if !config.router.tracks(plan.provider, &plan.upstream_model) {
            // A name the client chose (a glob route's target without a model): not tracked.
            return;
        }
        self.target = Some((plan.provider_name.clone(), plan.upstream_model.clone()));
        if self.latency.is_some() {
            self.sent_ms = host.now_nanos() / 1_000_000;
        }
        if self.busy {
            self.add_busy(host, 1);
        }
    }

    /// The response headers: the breaker's outcome (a failover route's attempts are recorded
    /// by the upstream role instead). `true` when the answer is Envoy's own (connect failure,
    /// reset, timeout: every target was tried and failed), whose plain-text body the filter then
    /// rewrites into the client's dialect.
    pub fn response_headers(&mut self, host: &mut impl Host, config: &Config) -> bool {
        if !self.breaker && self.latency.is_none() {
            return false;
        }
        let Some((provider, model)) = self.target.clone() else { return false };
        self.status = host.response_header(":status").and_then(|s| s.parse().ok()).unwrap_or(0);
        if !self.breaker {
            return false;
        }
        let (o, envoys) = outcome(host, self.status);
        record(host, config, &provider, &model, o);
        envoys
    }

    /// A response body chunk arrived.
    pub fn body(&mut self, host: &mut impl Host) {
        if self.latency.is_some() && self.first_byte_ms.is_none() {
            self.first_byte_ms = Some(host.now_nanos() / 1_000_000);
        }
    }

    /// The end of the request: the latency sample, and the in-flight count settled.
    pub fn settle(&mut self, host: &mut impl Host, usage: Option<&Usage>) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        if self.busy {
            self.add_busy(host, -1);
        }
        let (Some(metric), Some((provider, model))) = (self.latency, self.target.clone()) else { return };
        if !(200..300).contains(&self.status) {
            return;
        }
        let sample = match metric {
            LatencyMetric::Ttft => self.first_byte_ms.map(|t| t.saturating_sub(self.sent_ms)),
            LatencyMetric::PerToken => {
                let tokens = usage.map_or(0, |u| u.completion_tokens);
                let micros = (host.now_nanos() / 1_000).saturating_sub(self.sent_ms.saturating_mul(1_000));
                (tokens > 0).then(|| micros / tokens)
            }
        };
        let Some(sample) = sample else { return };
        update_record(host, &provider, &model, |r| Some(Record { latency: average(r.average(), sample), samples: r.samples.saturating_add(1), ..r }));
    }

    fn add_busy(&self, host: &mut impl Host, delta: i64) {
        let Some((provider, model)) = &self.target else { return };
        update_record(host, provider, model, |r| Some(Record { in_flight: r.in_flight.saturating_add_signed(delta), ..r }));
    }
}

#[cfg(test)]
#[path = "steering_tests.rs"]
mod tests;
