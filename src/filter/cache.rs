//! The filter's side of the response cache: after authorization, the plan and the limits, look
//! the request up and answer a hit locally, in the client's dialect and mode; on a miss, follow
//! the provider's answer into the hub's form and store it in the log phase when it was a
//! complete 2xx answer with the provider's own usage.

use super::limits::HostStore;
use super::redaction::Redaction;
use crate::api::translate::{ResponseTranslator, Translation, Wire};
use crate::api::{Dialect, Endpoint};
use crate::cache::{self, Assembler, Entry, KeyInput, Rule, Scope};
use crate::config::{Config, ProviderKind, Role};
use crate::gateway::{Admission, Plan};
use crate::host::{Callout, Host};
use crate::media::Media;
use crate::metrics::{tag, Kind, Metric};
use crate::usage::Usage;

/// The response header (and request header, with `bypass`) naming what the cache did.
pub const HEADER: &str = "x-tollgate-cache";

/// What the cache did for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Hit,
    Miss,
    Bypass,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Hit => "hit",
            Verdict::Miss => "miss",
            Verdict::Bypass => "bypass",
        }
    }
}

/// Follows the provider's answer into the hub's form.
enum Capture {
    Off,
    /// A JSON answer, read whole at its end (`None`: the provider speaks the hub).
    Json(Option<ResponseTranslator>, Option<Vec<u8>>),
    /// A stream: provider events → hub chunks → one completion.
    Sse(Option<ResponseTranslator>, Box<Assembler>),
}

/// What a lookup found.
pub enum Lookup {
    /// Answer locally.
    Hit(Hit),
    /// Forward (and follow the answer for storing, when allowed).
    Miss,
    /// A local miss asked the fleet tier (callout `token`): park the plan until it answers.
    Wait(u32),
}

/// A request parked while the fleet tier is asked.
struct Pending {
    token: u32,
    plan: Plan,
    body_size: usize,
}

/// One request's cache state.
pub struct CacheGuard {
    pending: Option<Pending>,
    verdict: Option<Verdict>,
    digest: Option<[u8; 32]>,
    rule: Option<Rule>,
    /// The answer may be stored (not `no-store`, not bypassed).
    store: bool,
    capture: Capture,
    /// The labels of the metrics: model (route) and tenant.
    labels: String,
}

impl Default for CacheGuard {
    fn default() -> Self {
        CacheGuard { pending: None, verdict: None, digest: None, rule: None, store: false, capture: Capture::Off, labels: String::new() }
    }
}

/// The provider's wire, for the answers the cache can hold; `None` for the rest (a native
/// Responses answer, embeddings, failover routes, the Bedrock and Vertex providers).
fn wire(admission: &Admission, plan: &Plan) -> Option<Wire> {
    let ok = match admission.endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages => true,
        Endpoint::Responses => plan.translation.is_some(),
        _ => false,
    };
    if !ok || plan.failover.is_some() {
        return None;
    }
    match plan.provider_kind {
        ProviderKind::OpenAi | ProviderKind::Azure => Some(Wire::Chat),
        ProviderKind::Anthropic => Some(Wire::Messages),
        ProviderKind::Gemini => Some(Wire::Gemini),
        // Not yet: their answers come as AWS event streams or under the cloud's own envelopes.
        ProviderKind::Bedrock | ProviderKind::Vertex => None,
    }
}

/// The partition the scope gives, and the tenant label of the metrics.
fn partition(config: &Config, admission: &Admission, scope: Scope) -> (String, String) {
    let policy = admission.identity.policy(config);
    let key = policy.map_or("-", |p| p.id.as_str());
    let tenant = policy.and_then(|p| p.tenant.as_deref());
    let label = tag(tenant.unwrap_or(key));
    let part = match (scope, tenant) {
        (Scope::Global, _) => "global".to_string(),
        (Scope::Tenant, Some(t)) => format!("tenant:{t}"),
        (Scope::Tenant | Scope::Key, _) => format!("key:{key}"),
    };
    (part, label)
}

fn counter(name: String, value: u64) -> Metric {
    Metric { kind: Kind::Counter, name, value }
}

/// A hit's local reply: status 200, its headers and body.
pub struct Hit {
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl CacheGuard {
    /// Whether a verdict was reached (the route caches).
    pub fn verdict(&self) -> Option<Verdict> {
        self.verdict
    }

    /// Looks the planned request up: locally, then (on a local miss) in the fleet tier.
    pub fn lookup(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, plan: &Plan, body_size: usize, redaction: &mut Redaction) -> Lookup {
        if config.role != Role::Downstream {
            return Lookup::Miss;
        }
        let Some(rule) = config.cache.rule(plan.route.as_deref()).cloned() else { return Lookup::Miss };
        let (part, tenant) = partition(config, admission, rule.scope);
        self.labels = format!("model.{}.tenant.{}", tag(plan.route.as_deref().unwrap_or("-")), tenant);
        let control = host.request_header("cache-control").unwrap_or_default().to_ascii_lowercase();
        let bypass = host.request_header(HEADER).is_some_and(|v| v.trim().eq_ignore_ascii_case("bypass"));
        if bypass {
            host.set_request_header(HEADER, None);
        }
        // A post hook judges each answer: one served from the store would skip it.
        let bypass = bypass || super::hooks::PolicyHooks::post_hook(config, admission, &super::cost::model_names(plan)).is_some();
        let digest = wire(admission, plan).and_then(|_| {
            let sent = plan.body.clone().or_else(|| host.request_body(body_size)).unwrap_or_default();
            let endpoint = admission.endpoint.provider_suffix();
            cache::digest(&KeyInput {
                endpoint,
                route: plan.route.as_deref().unwrap_or_default(),
                provider: &plan.provider_name,
                upstream_model: &plan.upstream_model,
                requested_model: &plan.requested_model,
                partition: &part,
                body: &sent,
            })
        });
        let Some(digest) = digest.filter(|_| !bypass) else {
            self.set_verdict(host, config, Verdict::Bypass);
            return Lookup::Miss;
        };
        self.digest = Some(digest);
        self.rule = Some(rule);
        self.store = !control.contains("no-store");
        let now = host.now_nanos() / 1_000_000_000;
        if !control.contains("no-cache") {
            let found = cache::get(&HostStore(host), &config.cache.shape, &digest, now);
            if let Ok(Some(entry)) = found {
                if let Some(hit) = self.replay(host, config, admission, plan, &entry, now, redaction) {
                    return Lookup::Hit(hit);
                }
            }
            if let Some(f) = &config.cache.fleet {
                let body = cache::fleet_get(&digest);
                let call = Callout { cluster: &f.cluster, authority: &f.authority, path: "/", body: &body, timeout_ms: f.timeout_ms, content_type: "text/plain", detached: false };
                if let Some(token) = host.http_call(&call) {
                    return Lookup::Wait(token);
                }
                host.emit(&counter("tollgate.cache.fleet.unavailable".to_string(), 1));
            }
        }
        self.set_verdict(host, config, Verdict::Miss);
        Lookup::Miss
    }

    /// Keeps the plan while the fleet tier is asked (callout `token`).
    pub fn park(&mut self, token: u32, plan: Plan, body_size: usize) {
        self.pending = Some(Pending { token, plan, body_size });
    }

    /// The fleet tier's answer to callout `token`: `None` when it is not this guard's;
    /// otherwise the parked plan and body size, with the hit to reply (`None`: a miss, forward).
    /// A fleet hit is copied into the local store; any failure is a miss.
    #[allow(clippy::too_many_arguments)]
    pub fn answer(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, token: u32, status: Option<u16>, body: &[u8], redaction: &mut Redaction) -> Option<(Plan, usize, Option<Hit>)> {
        if self.pending.as_ref().is_none_or(|p| p.token != token) {
            return None;
        }
        let p = self.pending.take()?;
        let now = host.now_nanos() / 1_000_000_000;
        let entry = self.digest.and_then(|d| cache::fleet_reply(status, body, &d, now).map(|e| (d, e)));
        if status != Some(200) && config.telemetry.stats {
            host.emit(&counter("tollgate.cache.fleet.unavailable".to_string(), 1));
        }
        if let Some((digest, entry)) = entry {
            if let Some(hit) = self.replay(host, config, admission, &p.plan, &entry, now, redaction) {
                if let Err(e) = cache::put(&mut HostStore(host), &config.cache.shape, &digest, &entry, now) {
                    log::warn!("tollgate: response cache store unavailable ({e:?})");
                }
                return Some((p.plan, p.body_size, Some(hit)));
            }
        }
        self.set_verdict(host, config, Verdict::Miss);
        Some((p.plan, p.body_size, None))
    }

    fn set_verdict(&mut self, host: &mut impl Host, config: &Config, v: Verdict) {
        self.verdict = Some(v);
        if config.telemetry.stats {
            let name = match v {
                Verdict::Hit => "hits",
                Verdict::Miss => "misses",
                Verdict::Bypass => "bypasses",
            };
            host.emit(&counter(format!("tollgate.cache.{}.{name}", self.labels), 1));
        }
    }

    /// The stored answer in the client's dialect and mode, with the request's pseudonyms restored.
    #[allow(clippy::too_many_arguments)]
    fn replay(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, plan: &Plan, entry: &Entry, now: u64, redaction: &mut Redaction) -> Option<Hit> {
        let dialect = admission.endpoint.dialect();
        let model = plan.requested_model.as_str();
        let to_client = Translation { client: dialect, provider: Wire::Chat };
        let (content_type, body) = if plan.stream {
            let hub: serde_json::Value = serde_json::from_slice(&entry.body).ok()?;
            let chunks = cache::synthesize(&hub, plan.include_usage || dialect != Dialect::OpenAiChat)?;
            let out = if dialect == Dialect::OpenAiChat { chunks } else { ResponseTranslator::new(to_client, model, now, plan.include_usage, 200, "text/event-stream").chunk(&chunks, true) };
            ("text/event-stream", out)
        } else if dialect == Dialect::OpenAiChat {
            ("application/json", entry.body.clone())
        } else {
            ("application/json", ResponseTranslator::new(to_client, model, now, false, 200, "application/json").whole(&entry.body))
        };
        let body = if redaction.on_response_headers(dialect, 200, content_type) {
            redaction.whole(&body).or_else(|| redaction.chunk(&body, true)).unwrap_or(body)
        } else {
            body
        };
        self.set_verdict(host, config, Verdict::Hit);
        if config.telemetry.stats {
            let u = &entry.usage;
            host.emit(&counter(format!("tollgate.cache.{}.tokens_saved", self.labels), u.total_tokens()));
            if let Some(cost) = super::cost::cost_of(Some(config), Some(plan), u) {
                host.emit(&counter(format!("tollgate.cache.{}.cost_saved_micros", self.labels), cost));
            }
        }
        let mut headers = vec![("content-type", content_type.to_string()), ("x-tollgate", crate::VERSION.to_string()), (HEADER, "hit".to_string()), ("age", now.saturating_sub(entry.stored_at).to_string())];
        if config.response_headers {
            headers.push(("x-tollgate-provider", plan.provider_name.clone()));
            headers.push(("x-tollgate-model", plan.upstream_model.clone()));
        }
        Some(Hit { headers, body })
    }

    /// At the provider's response headers: names the verdict, and follows a 2xx JSON or SSE
    /// answer that may be stored.
    pub fn on_response_headers(&mut self, host: &mut impl Host, admission: &Admission, plan: &Plan, status: u16, content_type: &str) {
        let Some(v) = self.verdict else { return };
        host.set_response_header(HEADER, Some(v.as_str()));
        let (Some(rule), Some(wire), true, true) = (&self.rule, wire(admission, plan), self.store, (200..300).contains(&status)) else { return };
        let to_hub = (wire != Wire::Chat).then(|| ResponseTranslator::new(Translation { client: Dialect::OpenAiChat, provider: wire }, &plan.requested_model, 0, true, status, content_type));
        self.capture = match crate::media::of(content_type) {
            Media::Sse => Capture::Sse(to_hub, Box::new(Assembler::new(rule.max_entry_bytes))),
            Media::Json => Capture::Json(to_hub, None),
            Media::Other => Capture::Off,
        };
    }

    /// A JSON answer is read whole (the body is held to its end).
    pub fn buffers_body(&self) -> bool {
        matches!(self.capture, Capture::Json(..))
    }

    pub fn active(&self) -> bool {
        !matches!(self.capture, Capture::Off)
    }

    /// The provider's whole JSON body.
    pub fn whole(&mut self, body: &[u8]) {
        if let Capture::Json(to_hub, hub) = &mut self.capture {
            *hub = Some(to_hub.as_ref().map_or_else(|| body.to_vec(), |t| t.whole(body)));
        }
    }

    /// One chunk of the provider's stream.
    pub fn chunk(&mut self, chunk: &[u8], end: bool) {
        if let Capture::Sse(to_hub, asm) = &mut self.capture {
            match to_hub {
                Some(t) => asm.feed(&t.chunk(chunk, end)),
                None => asm.feed(chunk),
            }
        }
    }

    /// The log phase: stores a complete answer whose usage the provider reported.
    pub fn finish(&mut self, host: &mut impl Host, config: &Config, usage: Option<&Usage>) {
        let hub = match std::mem::replace(&mut self.capture, Capture::Off) {
            Capture::Off => return,
            Capture::Json(_, hub) => hub,
            Capture::Sse(_, asm) => asm.finish(),
        };
        let (Some(hub), Some(rule), Some(digest), Some(usage)) = (hub, &self.rule, self.digest, usage) else { return };
        if usage.estimated || hub.len() > rule.max_entry_bytes || !complete(&hub) {
            return;
        }
        let now = host.now_nanos() / 1_000_000_000;
        let entry = Entry { stored_at: now, expires_at: now.saturating_add(rule.ttl_secs), usage: *usage, body: hub };
        match cache::put(&mut HostStore(host), &config.cache.shape, &digest, &entry, now) {
            Ok(p) if config.telemetry.stats => {
                if p.stored {
                    host.emit(&counter("tollgate.cache.stored_bytes".to_string(), entry.body.len() as u64));
                    host.emit(&counter(format!("tollgate.cache.{}.stores", self.labels), 1));
                }
                if p.evicted > 0 {
                    host.emit(&counter("tollgate.cache.evictions".to_string(), u64::from(p.evicted)));
                }
            }
            Ok(_) => {}
            Err(e) => log::warn!("tollgate: response cache store unavailable ({e:?})"),
        }
        if let Some(f) = &config.cache.fleet {
            let body = cache::fleet_set(&digest, &entry, rule.ttl_secs);
            if host.http_call(&Callout { cluster: &f.cluster, authority: &f.authority, path: "/", body: &body, timeout_ms: f.timeout_ms, content_type: "text/plain", detached: true }).is_none() {
                host.emit(&counter("tollgate.cache.fleet.unavailable".to_string(), 1));
            }
        }
    }
}

/// A one-choice chat completion with usage: the only form a hit replays.
fn complete(hub: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(hub) else { return false };
    v.get("choices").and_then(serde_json::Value::as_array).is_some_and(|c| c.len() == 1) && v.get("usage").is_some_and(serde_json::Value::is_object) && v.get("error").is_none()
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
