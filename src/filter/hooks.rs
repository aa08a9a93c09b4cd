//! The filter's side of policy webhooks: send the request to the `pre` hook and hold it until
//! the service answers (allow, deny, modify, or a failure handled by `failure_mode`); send a
//! JSON answer to the `post` hook and hold it likewise (a stream's assembled text goes at its
//! end, audit only). Metrics per hook: calls, denials, timeouts, failures and latency.

use super::limits::caller;
use crate::api::Endpoint;
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::gateway::Admission;
use crate::hooks::{decide, post_payload, pre_payload, Decision, Failure, FailureMode, Hook, Stage};
use crate::host::{Callout, Host};
use crate::metrics::{tag, Kind as MetricKind, Metric};
use serde_json::Value;

/// What became of a pre hook's start.
#[derive(Debug)]
pub enum PreStart {
    /// No hook applies: go on.
    None,
    /// Hold the request until the answer (`on_callout`).
    Wait,
    /// Refuse now (the call could not be sent and the hook fails closed).
    Refuse(ApiError),
}

/// A pre hook's verdict, once answered.
#[derive(Debug)]
pub enum PreVerdict {
    /// Go on with this body (`modified`: the service replaced the messages).
    Go { body: Vec<u8>, body_size: usize, modified: bool },
    Refuse(ApiError),
}

/// A post hook's verdict.
#[derive(Debug)]
pub enum PostVerdict {
    /// Let the answer through as it is.
    Pass,
    /// Replace the answer with this error.
    Deny(ApiError),
}

#[derive(Debug)]
struct Pending {
    token: u32,
    stage: Stage,
    hook: usize,
    sent_nanos: u64,
    /// The request body held meanwhile (pre) and its buffered size.
    body: Vec<u8>,
    body_size: usize,
}

/// One request's policy hook calls.
#[derive(Debug, Default)]
pub struct PolicyHooks {
    pending: Option<Pending>,
}

fn metric(hook: &Hook, what: &str, kind: MetricKind, value: u64) -> Metric {
    Metric { kind, name: format!("tollgate.hook.{}.{what}", tag(&hook.id)), value }
}

fn endpoint_name(e: Endpoint) -> &'static str {
    match e {
        Endpoint::ChatCompletions => "chat",
        Endpoint::Embeddings => "embeddings",
        Endpoint::Messages => "messages",
        Endpoint::Models => "models",
        Endpoint::Responses => "responses",
        Endpoint::CountTokens => "count_tokens",
        Endpoint::Completions => "completions",
    }
}

/// The request field a `modify` answer replaces.
fn messages_field(e: Endpoint) -> &'static str {
    match e {
        Endpoint::Responses | Endpoint::Embeddings => "input",
        Endpoint::Completions => "prompt",
        _ => "messages",
    }
}

fn send(host: &mut impl Host, hook: &Hook, body: &[u8]) -> Option<u32> {
    host.emit(&metric(hook, "calls", MetricKind::Counter, 1));
    host.http_call(&Callout { cluster: &hook.cluster, authority: &hook.authority, path: &hook.path, body, timeout_ms: hook.timeout_ms, detached: false, content_type: "application/json" })
}

/// A failed call under `hook`'s failure mode: `Ok` lets the request through.
fn failed(host: &mut impl Host, hook: &Hook, why: Failure) -> Result<(), ApiError> {
    let what = match why {
        Failure::Timeout => "timeouts",
        Failure::Invalid => "failures",
    };
    host.emit(&metric(hook, what, MetricKind::Counter, 1));
    log::warn!("tollgate: policy hook `{}` {} (failure_mode {:?})", hook.id, if why == Failure::Timeout { "did not answer in time" } else { "gave an unusable answer" }, hook.failure_mode);
    match hook.failure_mode {
        FailureMode::Open => Ok(()),
        FailureMode::Closed => Err(ApiError::new(ErrorKind::PolicyUnavailable, "The gateway's policy check is unavailable; retry shortly.").with_header("retry-after", "1")),
    }
}

fn denied(host: &mut impl Host, hook: &Hook, status: u16, message: String) -> ApiError {
    host.emit(&metric(hook, "denials", MetricKind::Counter, 1));
    log::info!("tollgate: policy hook `{}` denied with {status}", hook.id);
    ApiError::new(ErrorKind::PolicyDenied, message).with_status(status)
}

impl PolicyHooks {
    /// Sends the request to the pre hook that applies, if any.
    pub fn start_pre(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, body: Vec<u8>, body_size: usize) -> (PreStart, Option<Vec<u8>>) {
        if config.hooks.pre.is_empty() {
            return (PreStart::None, Some(body));
        }
        let Ok(request) = serde_json::from_slice::<Value>(&body) else { return (PreStart::None, Some(body)) };
        let model = request.get("model").and_then(Value::as_str).unwrap_or_default();
        let route = config.router.resolve(model, 0).and_then(|r| r.route);
        let names: Vec<&str> = [Some(model), route.as_deref()].into_iter().flatten().collect();
        let (key, tenant) = caller(config, admission);
        let Some((i, hook)) = config.hooks.pre.iter().enumerate().find(|(_, h)| h.applies(&names, key)) else { return (PreStart::None, Some(body)) };
        let key_id = (key != "-").then_some(key);
        let payload = pre_payload(hook, endpoint_name(admission.endpoint), model, key_id, tenant, &request);
        match send(host, hook, &payload) {
            Some(token) => {
                self.pending = Some(Pending { token, stage: Stage::Pre, hook: i, sent_nanos: host.now_nanos(), body, body_size });
                (PreStart::Wait, None)
            }
            None => match failed(host, hook, Failure::Invalid) {
                Ok(()) => (PreStart::None, Some(body)),
                Err(e) => (PreStart::Refuse(e), None),
            },
        }
    }

    /// The answer to callout `token` when it is this request's pre hook call.
    pub fn answer_pre(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, token: u32, status: Option<u16>, answer: &[u8]) -> Option<PreVerdict> {
        if self.pending.as_ref().is_none_or(|p| p.token != token || p.stage != Stage::Pre) {
            return None;
        }
        let p = self.pending.take()?;
        let hook = config.hooks.pre.get(p.hook)?;
        let status = observe_latency(host, hook, p.sent_nanos, status, answer);
        let go = |body: Vec<u8>, modified| PreVerdict::Go { body, body_size: p.body_size, modified };
        Some(match decide(Stage::Pre, status, answer) {
            Ok(Decision::Allow) => go(p.body, false),
            Ok(Decision::Deny { status, message }) => PreVerdict::Refuse(denied(host, hook, status, message)),
            Ok(Decision::Modify { messages }) => match serde_json::from_slice::<Value>(&p.body) {
                Ok(mut request) => {
                    request[messages_field(admission.endpoint)] = messages;
                    host.emit(&metric(hook, "modifications", MetricKind::Counter, 1));
                    go(request.to_string().into_bytes(), true)
                }
                Err(_) => go(p.body, false),
            },
            Err(why) => match failed(host, hook, why) {
                Ok(()) => go(p.body, false),
                Err(e) => PreVerdict::Refuse(e),
            },
        })
    }

    /// The post hook that applies to this request, if any (its index in `hooks.post`).
    pub fn post_hook(config: &Config, admission: &Admission, models: &[&str]) -> Option<usize> {
        let (key, _) = caller(config, admission);
        config.hooks.post.iter().position(|h| h.applies(models, key))
    }

    /// Sends a JSON answer (or, for a stream, its text) to post hook `i`: `Ok(true)` when the
    /// response is held for the answer (JSON answers only: a stream's hook is audit only);
    /// `Err` when the call could not be sent and the hook fails closed.
    #[allow(clippy::too_many_arguments)] // what the payload names, each plain data
    pub fn start_post(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, i: usize, model: &str, status: u16, response: Option<&[u8]>, text: Option<&str>) -> Result<bool, ApiError> {
        let Some(hook) = config.hooks.post.get(i) else { return Ok(false) };
        let (key, tenant) = caller(config, admission);
        let json = response.and_then(|r| serde_json::from_slice::<Value>(r).ok());
        let payload = post_payload(hook, endpoint_name(admission.endpoint), model, (key != "-").then_some(key), tenant, status, json.as_ref(), text);
        if text.is_some() {
            // Audit only: the stream has ended, so the call must outlive the request.
            host.emit(&metric(hook, "calls", MetricKind::Counter, 1));
            let call = Callout { cluster: &hook.cluster, authority: &hook.authority, path: &hook.path, body: &payload, timeout_ms: hook.timeout_ms, detached: true, content_type: "application/json" };
            if host.http_call(&call).is_none() {
                host.emit(&metric(hook, "failures", MetricKind::Counter, 1));
            }
            return Ok(false);
        }
        let Some(token) = send(host, hook, &payload) else {
            // Nothing to wait for: a closed hook still denies a JSON answer it could not check.
            return failed(host, hook, Failure::Invalid).map(|()| false);
        };
        self.pending = Some(Pending { token, stage: Stage::Post, hook: i, sent_nanos: host.now_nanos(), body: Vec::new(), body_size: 0 });
        Ok(true)
    }

    /// The answer to callout `token` when it is this request's post hook call.
    pub fn answer_post(&mut self, host: &mut impl Host, config: &Config, token: u32, status: Option<u16>, answer: &[u8]) -> Option<PostVerdict> {
        if self.pending.as_ref().is_none_or(|p| p.token != token || p.stage != Stage::Post) {
            return None;
        }
        let p = self.pending.take()?;
        let hook = config.hooks.post.get(p.hook)?;
        let status = observe_latency(host, hook, p.sent_nanos, status, answer);
        Some(match decide(Stage::Post, status, answer) {
            Ok(Decision::Deny { status, message }) => PostVerdict::Deny(denied(host, hook, status, message)),
            Ok(_) => PostVerdict::Pass,
            Err(why) => match failed(host, hook, why) {
                Ok(()) => PostVerdict::Pass,
                Err(e) => PostVerdict::Deny(e),
            },
        })
    }
}

/// Replaces a held answer of `len` bytes with `e` in the client's `dialect`; returns its status.
pub fn deny_answer(host: &mut impl Host, len: usize, e: &ApiError, dialect: crate::api::Dialect) -> u16 {
    host.set_response_header(":status", Some(&e.status().to_string()));
    host.set_response_header("content-type", Some("application/json"));
    host.replace_response_body(len, e.body(dialect).as_bytes());
    e.status()
}

/// Records the call's latency; returns the answer's status, `None` for a timeout. Envoy
/// answers a callout that ran out of time with its own 504 `upstream request timeout`; its
/// clock is the event loop's, so a timeout can measure a little under the configured time.
fn observe_latency(host: &mut impl Host, hook: &Hook, sent_nanos: u64, status: Option<u16>, answer: &[u8]) -> Option<u16> {
    let ms = host.now_nanos().saturating_sub(sent_nanos) / 1_000_000;
    host.emit(&metric(hook, "latency_ms", MetricKind::Histogram, ms));
    let timed_out = |s: &u16| !(200..300).contains(s) && (answer.starts_with(b"upstream request timeout") || ms.saturating_mul(10) >= hook.timeout_ms.saturating_mul(9));
    status.filter(|s| !timed_out(s))
}

#[cfg(test)]
mod tests {
    use crate::config::{parse, Config};
    use crate::filter::{Flow, HttpFilter};
    use crate::host::fake::FakeHost;
    use crate::keys::Digest;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(hooks: &str) -> Rc<Config> {
        let json = format!(
            r#"{{"providers": [{{"name": "mock", "kind": "openai", "cluster": "c"}}, {{"name": "claude", "kind": "anthropic", "cluster": "a"}}],
                "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "mock"}}]}}, {{"name": "claude-*", "targets": [{{"provider": "claude"}}]}}],
                "keys": [{{"id": "team-a", "tenant": "acme", "digests": ["{}"]}}],
                "policy_hooks": {hooks}}}"#,
            Digest::of(b"tg-good")
        );
        Rc::new(parse(json.as_bytes(), &|_| None).unwrap())
    }

    const PRE: &str = r#"[{"id": "mod", "stage": "pre", "cluster": "policy", "models": ["gpt-4o-mini"]}]"#;
    const CHAT: &str = r#"{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;

    fn start(c: &Rc<Config>, path: &str, body: &str) -> (FakeHost, HttpFilter, Flow) {
        let mut h = FakeHost::request("POST", path, &[("authorization", "Bearer tg-good")], body.as_bytes());
        let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
        f.on_request_headers(&mut h, false);
        let flow = f.on_request_body(&mut h, body.len(), true);
        (h, f, flow)
    }

    #[test]
    fn pre_hook_holds_then_allows_denies_or_modifies() {
        let c = config(PRE);
        let (mut h, mut f, flow) = start(&c, "/v1/chat/completions", CHAT);
        assert_eq!(flow, Flow::Pause);
        assert!(h.header("x-tollgate-cluster").is_none(), "held before planning");
        let sent: serde_json::Value = serde_json::from_slice(&h.calls[0].1).unwrap();
        assert_eq!((sent["hook"].as_str(), sent["key_id"].as_str(), sent["request"]["messages"][0]["content"].as_str()), (Some("mod"), Some("team-a"), Some("hi")));
        assert!(!String::from_utf8_lossy(&h.calls[0].1).contains("tg-good"), "never the client's key");
        f.on_callout(&mut h, 1, Some(200), br#"{"action":"allow"}"#);
        assert!(h.resumed && h.reply.is_none());
        assert_eq!(h.header("x-tollgate-cluster"), Some("c"));
        assert!(h.metrics.iter().any(|m| m.name == "tollgate.hook.mod.latency_ms"));

        let (mut h, mut f, _) = start(&c, "/v1/chat/completions", CHAT);
        f.on_callout(&mut h, 1, Some(200), br#"{"action":"deny","status":451,"message":"Not here."}"#);
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(451));
        assert_eq!((h.reply_json()["error"]["code"].as_str(), h.reply_json()["error"]["message"].as_str()), (Some("policy_denied"), Some("Not here.")));
        assert!(h.metrics.iter().any(|m| m.name == "tollgate.hook.mod.denials"));

        let (mut h, mut f, _) = start(&c, "/v1/chat/completions", CHAT);
        f.on_callout(&mut h, 1, Some(200), br#"{"action":"modify","messages":[{"role":"user","content":"hello there"}]}"#);
        assert!(h.resumed);
        let forwarded: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
        assert_eq!(forwarded["messages"][0]["content"], "hello there");
    }

    #[test]
    fn failures_follow_failure_mode_and_other_routes_pass() {
        let (mut h, mut f, _) = start(&config(PRE), "/v1/chat/completions", CHAT);
        f.on_callout(&mut h, 1, None, b"");
        assert_eq!(h.reply.as_ref().map(|r| r.0), Some(503), "closed by default");
        assert_eq!(h.reply_json()["error"]["code"], "policy_unavailable");
        assert!(h.metrics.iter().any(|m| m.name == "tollgate.hook.mod.timeouts"));
        let open = config(&PRE.replace(r#""cluster""#, r#""failure_mode": "open", "cluster""#));
        let (mut h, mut f, _) = start(&open, "/v1/chat/completions", CHAT);
        f.on_callout(&mut h, 1, Some(500), b"oops");
        assert!(h.resumed && h.reply.is_none(), "open: through");
        let (h, _, flow) = start(&config(PRE), "/v1/messages", r#"{"model":"claude-x","max_tokens":5,"messages":[]}"#);
        assert_eq!((flow, h.calls.len()), (Flow::Continue, 0), "the hook is for gpt-4o-mini only");
    }

    #[test]
    fn post_hook_holds_a_json_answer_and_may_deny_it() {
        let c = config(r#"[{"id": "audit", "stage": "post", "cluster": "policy"}]"#);
        let (mut h, mut f, _) = start(&c, "/v1/chat/completions", CHAT);
        h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
        assert_eq!(f.on_response_headers(&mut h), Flow::Pause);
        h.response_body = include_bytes!("../../tests/fixtures/openai_chat.json").to_vec();
        let n = h.response_body.len();
        assert_eq!(f.on_response_body(&mut h, n, true), Flow::Pause);
        let sent: serde_json::Value = serde_json::from_slice(&h.calls[0].1).unwrap();
        assert_eq!((sent["stage"].as_str(), sent["status"].as_u64(), sent["stream"].as_bool()), (Some("post"), Some(200), Some(false)));
        assert!(sent["response"]["choices"].is_array());
        f.on_callout(&mut h, 1, Some(200), br#"{"action":"deny","message":"Leaks a secret."}"#);
        assert!(h.resumed_response);
        assert_eq!(h.response_headers.iter().find(|(k, _)| k == ":status").map(|(_, v)| v.as_str()), Some("403"));
        let body: serde_json::Value = serde_json::from_slice(&h.response_body).unwrap();
        assert_eq!(body["error"]["code"], "policy_denied");
    }
}
