//! `HttpFilter`: headers → (hold) → body → plan → forward, or a local reply at any step.

use super::exports::{Exports, FilterStateName};
use super::provider_faults::{self, Fault};
use crate::api::{Dialect, Endpoint};
use crate::config::{AuthMode, Config, ProviderKind, Role};
use crate::error::{ApiError, ErrorKind};
use crate::gateway::{self, Admission, Head, Plan};
use crate::host::Host;
use crate::api::translate::{ResponseTranslator, StreamGuard};
use crate::usage::{ResponseMeter, Usage, UsageDialect};
use std::rc::Rc;

/// What the host should do after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop iteration: hold headers or buffer the body.
    Pause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the request headers.
    Start,
    /// Admitted; buffering the body.
    Body,
    /// Planned; held until the fleet limits' store answers (`on_callout`).
    Waiting,
    /// Read; held until the pre policy hook answers (`on_callout`).
    Hook,
    /// Sent upstream with a plan.
    Forwarded,
    /// Answered locally; nothing more to do.
    Replied,
}

/// One request's filter state.
pub struct HttpFilter {
    config: Option<Rc<Config>>,
    context_id: u32,
    /// Config load time, Unix seconds (the `created` of `/v1/models`).
    loaded_at: i64,
    phase: Phase,
    admission: Option<Admission>,
    plan: Option<Plan>,
    /// Follows the upstream response for usage, once its headers are known.
    meter: Option<ResponseMeter>,
    /// The usage has been published (at most once per request).
    usage_published: bool,
    /// Rewrites the response into the client's dialect when the provider speaks another.
    translator: Option<ResponseTranslator>,
    /// Watches a stream in the client's own dialect (usage chunk, early end).
    guard: Option<StreamGuard>,
    /// Bedrock's event-stream frames, turned into SSE before anything else reads the stream.
    event_stream: Option<crate::eventstream::EventStreamToSse>,
    /// Vertex's metadata-server token for this request.
    vertex: super::vertex_token::TokenGuard,
    /// Timings (host nanoseconds) and outcome, for metrics at the end.
    started_nanos: u64,
    first_byte_nanos: Option<u64>,
    status: u16,
    usage: Option<Usage>,
    /// Cost of `usage` in micro-units, when the model has a price.
    cost_micros: Option<u64>,
    /// Limit reservations to settle at the end.
    limits: super::limits::LimitGuard,
    /// Fleet limit reservation (Redis through webdis), settled at the end too.
    fleet: super::fleet::FleetGuard,
    /// Prompt redaction findings and the response-side restore.
    redaction: super::redaction::Redaction,
    /// The access-log fields as they become known; the record is written at the end.
    exports: Exports,
    /// Without the header hold: the provider the route reached, whose headers already went.
    on_route: Option<gateway::RouteTarget>,
    /// The response cache's lookup and capture.
    cache: super::cache::CacheGuard,
    /// Steered routing: the target's breaker outcome, latency sample and in-flight count.
    steering: super::steering::Steering,
    /// Policy webhook calls (pre and post).
    hooks: super::hooks::PolicyHooks,
    /// The post hook that applies to the response, and the length of the answer held for it.
    post_hook: Option<usize>,
    post_held: Option<usize>,
    /// A streamed answer's text, for its post hook's audit at the end.
    post_stream: Option<(usize, crate::hooks::StreamText)>,
    /// An answer the gateway could not use, replaced by an error in the client's dialect.
    fault: Fault,
}

impl HttpFilter {
    pub fn new(config: Option<Rc<Config>>, context_id: u32, loaded_at: i64) -> HttpFilter {
        HttpFilter { config, context_id, loaded_at, phase: Phase::Start, admission: None, plan: None, meter: None,
            usage_published: false,
            translator: None,
            guard: None,
            event_stream: None,
            vertex: super::vertex_token::TokenGuard::default(),
            started_nanos: 0,
            first_byte_nanos: None,
            status: 0,
            usage: None,
            cost_micros: None,
            limits: super::limits::LimitGuard::default(),
            fleet: super::fleet::FleetGuard::default(),
            redaction: super::redaction::Redaction::default(),
            exports: Exports::default(),
            on_route: None,
            cache: super::cache::CacheGuard::default(),
            steering: super::steering::Steering::default(),
            hooks: super::hooks::PolicyHooks::default(),
            post_hook: None,
            post_held: None,
            post_stream: None,
            fault: Fault::None,
        }
    }

    /// The plan the request was forwarded with, if any.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    pub fn on_request_headers(&mut self, host: &mut impl Host, end_of_stream: bool) -> Flow {
        let Some(config) = self.config.clone() else {
            return self.reply(host, Dialect::OpenAiChat, &ApiError::new(ErrorKind::NotConfigured, "The gateway has no valid configuration."));
        };
        // The clock is a host call: read it only for a key's time window or for timings.
        if config.keys.time_bounded() || config.telemetry.stats || config.telemetry.filter_state {
            self.started_nanos = host.now_nanos();
        }
        if config.role == Role::Guard {
            return self.guard_headers(host, &config, end_of_stream);
        }
        // `:method`, `:path` and every key header (read, then stripped): one whole-map read
        // costs less in Envoy than even two single reads.
        host.read_request_headers();
        let method = host.request_header(":method").unwrap_or_default();
        let path = host.request_header(":path").unwrap_or_default();
        let principals = match &config.auth.mode {
            AuthMode::Jwt { filter, payload_key, claim } => host.property_strings(&["metadata", "filter_metadata", filter, payload_key, claim]),
            _ => Vec::new(),
        };
        let names = &config.auth.headers;
        let values: Vec<Option<String>> = names.iter().map(|n| host.request_header(n)).collect();
        let lookup = |n: &str| names.iter().position(|h| h == n).and_then(|i| values[i].as_deref());
        let now = i64::try_from(self.started_nanos / 1_000_000_000).unwrap_or(i64::MAX);
        let shared = |k: &str| host.shared_get(k).ok().and_then(|(v, _)| v);
        let head = Head { method: &method, path: &path, header: &lookup, principals: &principals, now, shared: &shared };
        let admission = match gateway::admit(&config, &head) {
            Ok(a) => a,
            Err(r) => {
                if let Some(why) = r.refusal {
                    log::info!("ctx={} key refused: {}", self.context_id, why.as_str());
                }
                let dialect = r.endpoint.map_or(Dialect::OpenAiChat, Endpoint::dialect);
                return self.reply(host, dialect, &r.error);
            }
        };
        if admission.endpoint == Endpoint::Models {
            let anthropic = host.request_header("anthropic-version").is_some();
            let body = gateway::models_list(&config, &admission.identity, self.loaded_at, anthropic);
            host.send_reply(200, &[("content-type", "application/json"), ("x-tollgate", crate::VERSION)], body.as_bytes());
            self.status = 200;
            self.phase = Phase::Replied;
            return Flow::Pause;
        }
        for h in &config.auth.headers {
            host.set_request_header(h, None);
        }
        if !config.hold_headers {
            // The route picked the provider: its headers go now, the body is planned later.
            let authority = host.request_header(":authority").unwrap_or_default();
            match gateway::route_target(&config, &admission, &authority) {
                Ok(t) => {
                    super::on_route::send_headers(host, &config, &admission, &t);
                    self.on_route = Some(t);
                }
                Err(e) => return self.reply(host, admission.endpoint.dialect(), &e),
            }
        }
        self.admission = Some(admission);
        self.phase = Phase::Body;
        if end_of_stream {
            // No body at all: plan on the empty body, which answers 400.
            return self.on_request_body(host, 0, true);
        }
        if config.hold_headers {
            Flow::Pause
        } else {
            Flow::Continue
        }
    }

    /// Role `guard`: the endpoint comes from the end of the path (one header read) and nobody
    /// is authenticated. A request with no body passes, and so does one to a path the guard
    /// does not know, unless redaction fails closed: then a body it cannot inspect is refused.
    fn guard_headers(&mut self, host: &mut impl Host, config: &Config, end_of_stream: bool) -> Flow {
        if end_of_stream {
            return Flow::Continue;
        }
        let path = host.request_header(":path").unwrap_or_default();
        let endpoint = match super::guard::endpoint(config, &path) {
            Ok(Some(e)) => e,
            Ok(None) => return Flow::Continue,
            Err(e) => return self.reply(host, Dialect::OpenAiChat, &e),
        };
        self.admission = Some(Admission { endpoint, identity: gateway::Identity::Anonymous, beta: false });
        self.phase = Phase::Body;
        if config.hold_headers {
            return Flow::Pause;
        }
        // The body may still change (redaction, the usage request) and the answer be read.
        host.set_request_header("content-length", None);
        host.set_request_header("accept-encoding", None);
        Flow::Continue
    }

    pub fn on_request_body(&mut self, host: &mut impl Host, body_size: usize, end_of_stream: bool) -> Flow {
        if self.phase != Phase::Body {
            return Flow::Continue;
        }
        let (Some(config), Some(admission)) = (self.config.clone(), self.admission.clone()) else {
            return Flow::Continue;
        };
        let dialect = admission.endpoint.dialect();
        if body_size > config.max_request_bytes {
            let msg = format!("The request body exceeds the gateway's limit of {} bytes.", config.max_request_bytes);
            return self.reply(host, dialect, &ApiError::new(ErrorKind::BodyTooLarge, msg));
        }
        if !end_of_stream {
            return Flow::Pause;
        }
        let body = if body_size == 0 { Vec::new() } else { host.request_body(body_size).unwrap_or_default() };
        let body = match self.hooks.start_pre(host, &config, &admission, body, body_size) {
            (super::hooks::PreStart::None, Some(b)) => b,
            (super::hooks::PreStart::Refuse(e), _) => return self.reply(host, dialect, &e),
            _ => {
                self.phase = Phase::Hook;
                return Flow::Pause;
            }
        };
        self.plan_and_send(host, config, admission, body, body_size, false)
    }

    /// Plans the (read, and when a pre hook ran, checked) body, reserves the limits and forwards;
    /// `modified`: a pre hook replaced the messages, so the body goes on rewritten.
    fn plan_and_send(&mut self, host: &mut impl Host, config: Rc<Config>, admission: Admission, body: Vec<u8>, body_size: usize, modified: bool) -> Flow {
        let dialect = admission.endpoint.dialect();
        // Context ids count up per VM; the load time and (when read) the clock vary the sequence.
        let seed = mix(self.started_nanos ^ u64::from(self.context_id) ^ (self.loaded_at as u64).rotate_left(32));
        let planned = match &self.on_route {
            Some(t) => gateway::plan_on_route(&config, &admission, t, &body, &mut self.redaction.findings),
            None => gateway::plan_steered(&config, &admission, &body, seed, &mut self.redaction.findings, &mut super::steering::HostSignals::new(host, &config)),
        };
        self.redaction.publish(host, &config, &mut self.exports);
        let mut plan = match planned {
            Ok(p) => p,
            Err(e) => return self.reply(host, dialect, &e),
        };
        if modified && plan.body.is_none() {
            plan.body = Some(body.clone());
        }
        if let Some(answer) = &plan.answer {
            host.send_reply(200, &[("content-type", "application/json"), ("x-tollgate", crate::VERSION), ("x-tollgate-estimated", "true")], answer);
            self.status = 200;
            self.phase = Phase::Replied;
            return Flow::Pause;
        }
        if !plan.dropped.is_empty() {
            log::debug!("ctx={} translation dropped fields: {}", self.context_id, plan.dropped.join(","));
        }
        // Counting tokens is free at the provider: nothing to reserve.
        if admission.endpoint == Endpoint::CountTokens {
            return self.forward(host, &config, &admission, plan, body_size);
        }
        if let Err(e) = super::alerts::admit(host, &config, &admission) {
            return self.reply(host, dialect, &e);
        }
        if let Err(e) = self.limits.reserve(host, &config, &admission, &plan, &body) {
            return self.reply(host, dialect, &e);
        }
        match self.fleet.start(host, &config, &admission, plan, &body, body_size) {
            super::fleet::Start::Forward(plan) => self.forward(host, &config, &admission, plan, body_size),
            super::fleet::Start::Refuse(e) => self.reply(host, dialect, &e),
            super::fleet::Start::Wait => {
                self.phase = Phase::Waiting;
                Flow::Pause
            }
        }
    }

    /// Forwards `plan`, once it has its Vertex token (or holds the request for it).
    fn forward(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, plan: Plan, body_size: usize) -> Flow {
        // After authorization and the limits: a hit is answered here, charging no tokens.
        match self.cache.lookup(host, config, admission, &plan, body_size, &mut self.redaction) {
            super::cache::Lookup::Hit(hit) => return self.reply_hit(host, plan, &hit),
            super::cache::Lookup::Wait(token) => {
                self.cache.park(token, plan, body_size);
                self.phase = Phase::Waiting;
                return Flow::Pause;
            }
            super::cache::Lookup::Miss => {}
        }
        self.send_upstream(host, config, admission, plan, body_size)
    }

    /// A cache hit, answered locally.
    fn reply_hit(&mut self, host: &mut impl Host, plan: Plan, hit: &super::cache::Hit) -> Flow {
        // A hit carries the limits' `x-ratelimit-*` headers like an upstream answer.
        let limits = self.limits.header_pairs();
        let mut headers: Vec<(&str, &str)> = hit.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        headers.extend(limits.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        host.send_reply(200, &headers, &hit.body);
        self.plan = Some(plan);
        self.status = 200;
        self.phase = Phase::Replied;
        Flow::Pause
    }

    /// A miss (or an uncached route) goes upstream, once its credential is at hand: a Vertex
    /// metadata-server token may still be on its way.
    fn send_upstream(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, plan: Plan, body_size: usize) -> Flow {
        match self.vertex.start(host, config, plan, body_size) {
            super::vertex_token::Start::Forward(plan) => self.send_on(host, config, admission, plan, body_size),
            super::vertex_token::Start::Wait => {
                self.phase = Phase::Waiting;
                Flow::Pause
            }
            super::vertex_token::Start::Refuse(e) => self.reply(host, admission.endpoint.dialect(), &e),
        }
    }

    fn send_on(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, plan: Plan, body_size: usize) -> Flow {
        super::forward::apply(host, config, &mut self.exports, admission, &plan, body_size, self.redaction.restores(), config.hold_headers);
        self.steering.forwarded(host, config, &plan);
        self.plan = Some(plan);
        self.phase = Phase::Forwarded;
        Flow::Continue
    }

    /// A callout's answer (the cache's fleet tier, a policy hook's, or the fleet limits'
    /// reservation): forward and resume, or refuse, or answer from the cache.
    pub fn on_callout(&mut self, host: &mut impl Host, token: u32, status: Option<u16>, body: &[u8]) {
        let (Some(config), Some(admission)) = (self.config.clone(), self.admission.clone()) else { return };
        if let Some((plan, body_size, hit)) = self.cache.answer(host, &config, &admission, token, status, body, &mut self.redaction) {
            if self.phase != Phase::Waiting {
                return;
            }
            match hit {
                Some(hit) => {
                    self.reply_hit(host, plan, &hit);
                }
                None => {
                    if self.send_upstream(host, &config, &admission, plan, body_size) == Flow::Continue {
                        host.resume_request();
                    }
                }
            }
            return;
        }
        if let Some(v) = self.hooks.answer_pre(host, &config, &admission, token, status, body) {
            if self.phase != Phase::Hook {
                return;
            }
            match v {
                super::hooks::PreVerdict::Go { body, body_size, modified } => {
                    self.phase = Phase::Body;
                    let flow = self.plan_and_send(host, config, admission, body, body_size, modified);
                    if flow == Flow::Continue && self.phase == Phase::Forwarded {
                        host.resume_request();
                    }
                }
                super::hooks::PreVerdict::Refuse(e) => {
                    self.reply(host, admission.endpoint.dialect(), &e);
                }
            }
            return;
        }
        if let Some(answer) = self.vertex.answer(host, token, status, body) {
            // The metadata server's token: a held request goes on (or gets its 503).
            if let (Some((plan, body_size, verdict)), Phase::Waiting) = (answer, self.phase) {
                match verdict {
                    Ok(()) => {
                        self.send_on(host, &config, &admission, plan, body_size);
                        host.resume_request();
                    }
                    Err(e) => {
                        self.reply(host, admission.endpoint.dialect(), &e);
                    }
                }
            }
            return;
        }
        if let Some(v) = self.hooks.answer_post(host, &config, token, status, body) {
            if let (super::hooks::PostVerdict::Deny(e), Some(len)) = (v, self.post_held.take()) {
                self.status = super::hooks::deny_answer(host, len, &e, admission.endpoint.dialect());
            }
            host.resume_response();
            return;
        }
        let Some((plan, body_size, verdict)) = self.fleet.answer(host, &config, &mut self.limits, token, status, body) else { return };
        if self.phase != Phase::Waiting {
            return;
        }
        match verdict {
            Ok(()) => {
                if self.forward(host, &config, &admission, plan, body_size) == Flow::Continue {
                    host.resume_request();
                }
            }
            Err(e) => {
                self.reply(host, admission.endpoint.dialect(), &e);
            }
        }
    }

    /// End of the exchange: a stream that never ended (cut, or the client went away) still
    /// produces a usage record, estimated where the provider reported nothing.
    pub fn on_log(&mut self, host: &mut impl Host) {
        self.finish_stream(host);
        let Some(config) = self.config.clone() else { return };
        self.cache.finish(host, &config, self.usage.as_ref());
        self.limits.settle(host, &config, self.usage.as_ref(), self.cost_micros);
        self.fleet.settle(host, &config, self.usage.as_ref(), self.cost_micros);
        self.steering.settle(host, self.usage.as_ref());
        if let (Some(a), Some(_)) = (self.admission.as_ref(), self.plan.as_ref()) {
            super::alerts::anomalies(host, &config, a, self.usage.as_ref(), self.cost_micros);
        }
        if self.phase == Phase::Start {
            return;
        }
        if let Some(v) = self.cache.verdict() {
            self.exports.set(host, &config, FilterStateName::Cache, v.as_str());
        }
        let outcome = super::outcome::Outcome {
            identity: self.admission.as_ref().map(|a| &a.identity),
            plan: self.plan.as_ref(),
            status: self.status,
            usage: self.usage,
            cost_micros: self.cost_micros,
            started_nanos: self.started_nanos,
            first_byte_nanos: self.first_byte_nanos,
        };
        let dropped = self.plan.as_ref().map(|p| p.dropped.as_slice()).unwrap_or_default();
        super::outcome::report(host, &config, &mut self.exports, &outcome, || {
            let mut more = self.redaction.metrics(&config);
            more.extend(crate::metrics::dropped_metrics(dropped));
            more
        });
    }

    fn reply(&mut self, host: &mut impl Host, dialect: Dialect, error: &ApiError) -> Flow {
        self.status = error.status();
        let body = error.body(dialect);
        let mut headers = vec![("content-type", "application/json"), ("x-tollgate", crate::VERSION)];
        headers.extend(error.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        host.send_reply(error.status(), &headers, body.as_bytes());
        self.phase = Phase::Replied;
        Flow::Pause
    }
}

fn usage_dialect(plan: &Plan) -> UsageDialect {
    match plan.provider_kind {
        ProviderKind::OpenAi | ProviderKind::Azure => UsageDialect::OpenAi,
        ProviderKind::Anthropic => UsageDialect::Anthropic,
        ProviderKind::Gemini => UsageDialect::Gemini,
        // A cloud's wire depends on the model; a native request there is Anthropic's.
        ProviderKind::Bedrock | ProviderKind::Vertex => match plan.translation.map(|t| t.provider) {
            Some(crate::api::translate::Wire::Gemini) => UsageDialect::Gemini,
            Some(crate::api::translate::Wire::Converse) => UsageDialect::Converse,
            _ => UsageDialect::Anthropic,
        },
    }
}

/// SplitMix64 finaliser: spreads a per-request number for weighted choice.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[path = "http_response.rs"]
mod response;

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
