//! The filter's side of limits: reserve after the plan, add `x-ratelimit-*` headers to the
//! response, settle (or release) in the log phase, which runs for every request, cancelled too.

use crate::api::Endpoint;
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::gateway::{Admission, Plan};
use crate::host::Host;
use crate::limits::{headers, Amounts, Held, Kind, SharedStore, Status, StoreError, Who};
use crate::metrics::{Kind as MetricKind, Metric};
use crate::usage::{estimate_prompt_tokens, Usage};

/// A `Host`'s shared data as a [`SharedStore`].
pub(super) struct HostStore<'a, H: Host>(pub(super) &'a mut H);

impl<H: Host> SharedStore for HostStore<'_, H> {
    fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), StoreError> {
        self.0.shared_get(key)
    }
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), StoreError> {
        self.0.shared_set(key, value, cas)
    }
}

/// One request's reservations and the limits' states for its response headers.
#[derive(Debug, Default)]
pub struct LimitGuard {
    held: Vec<Held>,
    statuses: Vec<Status>,
    settled: bool,
}

pub(super) fn counter(name: &str, value: u64) -> Metric {
    Metric { kind: MetricKind::Counter, name: name.to_string(), value }
}

impl LimitGuard {
    /// Reserves the request's estimate on every limit that applies; `Err` is the 429 to send.
    pub fn reserve(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, plan: &Plan, body: &[u8]) -> Result<(), ApiError> {
        let limits = &config.limits;
        if limits.is_empty() {
            return Ok(());
        }
        let (key, tenant) = caller(config, admission);
        let models = super::cost::model_names(plan);
        let who = Who { key, tenant, models: &models };
        let estimate = if limits.needs_estimate(&who) { estimate(config, admission.endpoint, &models, body) } else { Amounts::default() };
        let now = host.now_nanos() / 1_000_000_000;
        let outcome = limits.reserve(&mut HostStore(host), &who, estimate, now);
        let updates = u64::try_from(outcome.held.len()).unwrap_or(0) + u64::from(outcome.rejected.is_some());
        host.emit(&counter("tollgate.limits.counter_updates", updates));
        if outcome.conflicts > 0 {
            host.emit(&counter("tollgate.limits.cas_conflicts", u64::from(outcome.conflicts)));
        }
        for k in &outcome.shadow_rejected {
            host.emit(&counter(&format!("tollgate.limits.{}.shadow_rejected", k.as_str()), 1));
        }
        self.held = outcome.held;
        self.statuses = outcome.statuses;
        let Some(r) = outcome.rejected else { return Ok(()) };
        Err(self.with_headers(rejected(host, r.kind, &r.rule, r.retry_after, r.contended)))
    }

    /// More limits' states (the fleet rules'), reported with the local ones.
    pub fn add_statuses(&mut self, statuses: Vec<Status>) {
        self.statuses.extend(statuses);
    }

    /// `e` with the `x-ratelimit-*` headers of the limits' states.
    pub fn with_headers(&self, mut e: ApiError) -> ApiError {
        for (k, v) in headers(&self.statuses) {
            e = e.with_header(k, v);
        }
        e
    }

    /// The `x-ratelimit-*` headers, for an answer the filter sends itself (a cache hit).
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        headers(&self.statuses)
    }

    /// `x-ratelimit-*` headers on the upstream response.
    pub fn response_headers(&self, host: &mut impl Host) {
        if self.statuses.is_empty() {
            return;
        }
        for (k, v) in headers(&self.statuses) {
            host.set_response_header(&k, Some(&v));
        }
    }

    /// Settles with the real usage and cost (none: a failed or cancelled request releases its
    /// token and spend reservations); concurrency is always released. Runs at most once.
    pub fn settle(&mut self, host: &mut impl Host, config: &Config, usage: Option<&Usage>, cost_micros: Option<u64>) {
        if self.settled || self.held.is_empty() {
            return;
        }
        self.settled = true;
        let actual = Amounts { tokens: usage.map_or(0, Usage::total_tokens), spend: cost_micros.unwrap_or(0) };
        let now = host.now_nanos() / 1_000_000_000;
        let conflicts = config.limits.settle(&mut HostStore(host), &self.held, actual, now);
        super::alerts::budgets(host, config, &self.held, now);
        host.emit(&counter("tollgate.limits.counter_updates", u64::try_from(self.held.len()).unwrap_or(0)));
        if conflicts > 0 {
            host.emit(&counter("tollgate.limits.cas_conflicts", u64::from(conflicts)));
        }
    }
}

/// The caller's key id (`-` when anonymous) and tenant, as limits count them.
pub(super) fn caller<'a>(config: &'a Config, admission: &'a Admission) -> (&'a str, Option<&'a str>) {
    let policy = admission.identity.policy(config);
    (policy.map_or("-", |p| p.id.as_str()), policy.and_then(|p| p.tenant.as_deref()))
}

/// The 429 for a rule with no room (counted in `tollgate_limits_<kind>_rejected`).
pub(super) fn rejected(host: &mut impl Host, kind: Kind, rule: &str, retry_after: u64, contended: bool) -> ApiError {
    host.emit(&counter(&format!("tollgate.limits.{}.rejected", kind.as_str()), 1));
    let (error, what) = match kind {
        Kind::Requests => (ErrorKind::RateLimitExceeded, "request rate limit"),
        Kind::Tokens => (ErrorKind::RateLimitExceeded, "token rate limit"),
        Kind::Spend => (ErrorKind::BudgetExceeded, "spend budget"),
        Kind::Concurrency => (ErrorKind::ConcurrencyLimitExceeded, "concurrent request limit"),
    };
    let msg = if contended {
        format!("The gateway could not update the {what} `{rule}` under contention; retry shortly.")
    } else {
        format!("This request exceeds the {what} `{rule}`. Retry after {retry_after} seconds.")
    };
    ApiError::new(error, msg).with_header("retry-after", retry_after.to_string())
}

/// Estimated tokens and cost: prompt tokens estimated from the body plus the completion the
/// request may produce (`max_completion_tokens`, `max_tokens`, Responses' `max_output_tokens`,
/// else the configured default; none for embeddings).
pub(super) fn estimate(config: &Config, endpoint: Endpoint, models: &[&str], body: &[u8]) -> Amounts {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else { return Amounts::default() };
    let prompt = estimate_prompt_tokens(&json);
    let completion = if endpoint == Endpoint::Embeddings {
        0
    } else {
        ["max_completion_tokens", "max_tokens", "max_output_tokens"]
            .iter()
            .find_map(|k| json.get(*k).and_then(serde_json::Value::as_u64))
            .unwrap_or(config.limits.default_completion_tokens)
    };
    let usage = Usage { prompt_tokens: prompt, completion_tokens: completion, ..Usage::default() };
    let spend = config.pricing.price(models).map_or(0, |p| p.cost_micros(&usage));
    Amounts { tokens: usage.total_tokens(), spend }
}

#[cfg(test)]
pub(super) mod tests {
    use crate::config::{parse, Config};
    use crate::filter::{Flow, HttpFilter};
    use crate::host::fake::FakeHost;
    use crate::keys::Digest;
    use crate::limits::MemStore;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(rules: &str) -> Rc<Config> {
        let json = format!(
            r#"{{"providers": [{{"name": "mock", "kind": "openai", "cluster": "c"}}, {{"name": "claude", "kind": "anthropic", "cluster": "a"}}],
                "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "mock"}}]}}, {{"name": "claude-*", "targets": [{{"provider": "claude"}}]}}],
                "keys": [{{"id": "team-a", "tenant": "acme", "digests": ["{}"]}}],
                "pricing": {{"models": {{"gpt-4o-mini": {{"input": 1000, "output": 2000, "cached_input": 500}}}}}},
                "limits": {{"default_completion_tokens": 100, "rules": {rules}}}}}"#,
            Digest::of(b"tg-good")
        );
        Rc::new(parse(json.as_bytes(), &|_| None).unwrap())
    }

    /// Runs one request through headers and body on a host sharing `store`.
    fn start(config: &Rc<Config>, store: &MemStore, path: &str, body: &str) -> (FakeHost, HttpFilter) {
        let mut h = FakeHost::request("POST", path, &[("authorization", "Bearer tg-good")], body.as_bytes());
        h.shared = store.clone();
        let mut f = HttpFilter::new(Some(config.clone()), 1, 0);
        f.on_request_headers(&mut h, false);
        let n = h.request_body.len();
        f.on_request_body(&mut h, n, true);
        (h, f)
    }

    /// The mock provider's JSON answer (59 tokens) through the response phases, then the log phase.
    pub(in crate::filter) fn respond(h: &mut FakeHost, f: &mut HttpFilter) {
        h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
        f.on_response_headers(h);
        h.response_body = include_bytes!("../../tests/fixtures/openai_chat.json").to_vec();
        let n = h.response_body.len();
        f.on_response_body(h, n, true);
        f.on_log(h);
    }

    fn header<'a>(h: &'a FakeHost, name: &str) -> Option<&'a str> {
        h.response_headers.iter().chain(h.reply.iter().flat_map(|r| r.1.iter())).find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    const CHAT: &str = r#"{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#;

    #[test]
    fn token_budget_reserves_settles_and_rejects_with_headers() {
        let c = config(r#"[{"id": "tpd", "scope": "tenant", "kind": "tokens", "window": "day", "limit": 280}]"#);
        let store = MemStore::default();
        let (mut h1, mut f1) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h1.reply.is_none());
        let (h2, _f2) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h2.reply.is_none(), "two estimates of ~108 fit in 280");
        let (h3, _) = start(&c, &store, "/v1/chat/completions", CHAT);
        let reply = h3.reply.as_ref().unwrap();
        assert_eq!(reply.0, 429);
        assert_eq!(h3.reply_json()["error"]["code"], "rate_limit_exceeded");
        assert!(header(&h3, "retry-after").is_some_and(|v| v.parse::<u64>().unwrap() > 0));
        assert_eq!(header(&h3, "x-ratelimit-limit-tokens"), Some("280"));
        // The first request used 59 tokens: its ~108 estimate is settled to 59, so a third fits (59 + 2 * 108 <= 280).
        respond(&mut h1, &mut f1);
        assert!(header(&h1, "x-ratelimit-remaining-tokens").is_some());
        let (h4, _) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h4.reply.is_none(), "{:?}", h4.reply_json());
    }

    #[test]
    fn concurrency_is_released_by_the_log_phase_of_a_cancelled_request() {
        let c = config(r#"[{"id": "cc", "scope": "key", "kind": "concurrency", "limit": 1}]"#);
        let store = MemStore::default();
        let (mut h1, mut f1) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h1.reply.is_none());
        let (h2, _) = start(&c, &store, "/v1/messages", r#"{"model":"claude-x","max_tokens":5,"messages":[]}"#);
        assert_eq!(h2.reply.as_ref().unwrap().0, 429);
        assert_eq!(h2.reply_json()["error"]["type"], "rate_limit_error", "Anthropic's error shape");
        f1.on_log(&mut h1); // the client went away: no response at all
        let (h3, _) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h3.reply.is_none());
    }

    #[test]
    fn spend_budget_and_cost_filter_state() {
        // Prices are 1000 / 2000 / 500 per million tokens, i.e. 1000 / 2000 / 500 micros per token.
        // Estimate: ~8 prompt * 1000 + 100 * 2000 ≈ 208_000; actual: 26*1000 + 16*500 + 17*2000 = 68_000.
        let c = config(r#"[{"id": "usd", "scope": "tenant", "kind": "spend", "window": "month", "limit": "0.3"}]"#);
        let store = MemStore::default();
        let (mut h1, mut f1) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h1.reply.is_none());
        let (h2, _) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert_eq!(h2.reply_json()["error"]["code"], "budget_exceeded");
        respond(&mut h1, &mut f1);
        f1.on_log(&mut h1);
        assert_eq!(h1.exported("cost_micros").unwrap(), "68000");
        assert!(h1.metrics.iter().any(|m| m.name.ends_with(".cost_micros") && m.value == 68_000));
        let (h3, _) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h3.reply.is_none(), "68_000 spent + ~208_000 reserved fits in 300_000");
    }

    #[test]
    fn shadow_limits_admit_and_count() {
        let c = config(r#"[{"id": "rpm", "scope": "key", "kind": "requests", "window": "minute", "limit": 1, "shadow": true}]"#);
        let store = MemStore::default();
        let (h1, _) = start(&c, &store, "/v1/chat/completions", CHAT);
        let (h2, _) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h1.reply.is_none() && h2.reply.is_none());
        assert!(h2.metrics.iter().any(|m| m.name == "tollgate.limits.requests.shadow_rejected"));
        assert!(!h1.metrics.iter().any(|m| m.name == "tollgate.limits.requests.shadow_rejected"));
    }

    #[test]
    fn no_limits_touch_nothing() {
        let c = config("[]");
        let store = MemStore::default();
        let (mut h, mut f) = start(&c, &store, "/v1/chat/completions", CHAT);
        assert!(h.reply.is_none());
        respond(&mut h, &mut f);
        assert!(!h.response_headers.iter().any(|(k, _)| k.starts_with("x-ratelimit")));
        assert!(!h.metrics.iter().any(|m| m.name.starts_with("tollgate.limits")));
        let _ = Flow::Continue;
    }
}
