//! The filter's side of fleet limits: after the plan (and the local limits), send one
//! reservation to the fleet store and hold the request until it answers; forward, refuse (429),
//! or follow `failure_mode` when it does not answer; in the log phase, send the settlement as a
//! detached call that the end of the request cannot cancel.

use super::limits::{caller, counter, estimate, rejected, LimitGuard};
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::gateway::{Admission, Plan};
use crate::host::{Callout, Host};
use crate::limits::{fleet_settle, Amounts, FailureMode, Fleet, FleetAnswer, FleetHeld, FleetReservation, Who};
use crate::usage::Usage;

/// What to do after the reservation was sent (or not).
// Returned once per request and matched at once, never stored: boxing the plan would only add an
// allocation to every request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Start {
    /// No fleet rule applies, or the store is down and `failure_mode` is `open`: forward now.
    Forward(Plan),
    /// Hold the request until the store answers (`on_callout`).
    Wait,
    /// Refuse (store down and `failure_mode` `closed`).
    Refuse(ApiError),
}

/// A request parked while its reservation is in flight.
#[derive(Debug)]
struct Pending {
    token: u32,
    reservation: FleetReservation,
    plan: Plan,
    body_size: usize,
}

/// One request's fleet reservation.
#[derive(Debug, Default)]
pub struct FleetGuard {
    pending: Option<Pending>,
    held: Vec<FleetHeld>,
    settled: bool,
}

fn call<'a>(fleet: &'a Fleet, body: &'a [u8], detached: bool) -> Callout<'a> {
    Callout { cluster: &fleet.cluster, authority: &fleet.authority, path: "/", body, timeout_ms: fleet.timeout_ms, detached, content_type: "text/plain" }
}

/// The store did not answer: admit uncounted (`open`) or refuse with 503 (`closed`).
fn unavailable(host: &mut impl Host, fleet: &Fleet, why: &str) -> Result<(), ApiError> {
    log::warn!("tollgate: fleet limits store unavailable ({why}); failure_mode {:?}", fleet.failure_mode);
    host.emit(&counter("tollgate.limits.fleet.unavailable", 1));
    match fleet.failure_mode {
        FailureMode::Open => Ok(()),
        FailureMode::Closed => Err(ApiError::new(ErrorKind::LimitsUnavailable, "The gateway cannot check its limits right now; retry shortly.")
            .with_header("retry-after", "1")),
    }
}

impl FleetGuard {
    /// Sends the reservation for this request when a fleet rule applies. On `Wait` the guard
    /// keeps the plan until [`FleetGuard::answer`] hands it back.
    pub fn start(&mut self, host: &mut impl Host, config: &Config, admission: &Admission, plan: Plan, body: &[u8], body_size: usize) -> Start {
        let Some(fleet) = &config.limits.fleet else { return Start::Forward(plan) };
        let (key, tenant) = caller(config, admission);
        let models = super::cost::model_names(&plan);
        let who = Who { key, tenant, models: &models };
        let estimate = if fleet.needs_estimate(&who) { estimate(config, admission.endpoint, &models, body) } else { Amounts::default() };
        let Some(reservation) = fleet.reservation(&who, estimate, host.now_nanos() / 1_000_000_000) else {
            return Start::Forward(plan);
        };
        let Some(token) = host.http_call(&call(fleet, &reservation.command, false)) else {
            return match unavailable(host, fleet, "the callout could not be sent") {
                Ok(()) => Start::Forward(plan),
                Err(e) => Start::Refuse(e),
            };
        };
        self.pending = Some(Pending { token, reservation, plan, body_size });
        Start::Wait
    }

    /// The store's answer to callout `token`: `None` when it is not this guard's; otherwise the
    /// parked plan and body size, with the verdict (`Err`: the reply to send). The fleet rules'
    /// states join the local ones in `limits`, for the `x-ratelimit-*` headers.
    pub fn answer(&mut self, host: &mut impl Host, config: &Config, limits: &mut LimitGuard, token: u32, status: Option<u16>, body: &[u8]) -> Option<(Plan, usize, Result<(), ApiError>)> {
        if self.pending.as_ref().is_none_or(|p| p.token != token) {
            return None;
        }
        let p = self.pending.take()?;
        let fleet = config.limits.fleet.as_ref()?;
        let verdict = match fleet.answer(&p.reservation, status, body) {
            FleetAnswer::Reserved { statuses, shadow_over } => {
                for k in shadow_over {
                    host.emit(&counter(&format!("tollgate.limits.{}.shadow_rejected", k.as_str()), 1));
                }
                host.emit(&counter("tollgate.limits.fleet.reserved", 1));
                limits.add_statuses(statuses);
                self.held = p.reservation.held;
                Ok(())
            }
            FleetAnswer::Rejected { kind, rule, retry_after, status } => {
                limits.add_statuses(vec![status]);
                Err(limits.with_headers(rejected(host, kind, &rule, retry_after, false)))
            }
            FleetAnswer::Failed(why) => unavailable(host, fleet, &why),
        };
        Some((p.plan, p.body_size, verdict))
    }

    /// Sends the settlement (real usage and cost; none: the estimate is refunded). At most once.
    /// A settlement the store does not receive is lost: the counters keep the estimate.
    pub fn settle(&mut self, host: &mut impl Host, config: &Config, usage: Option<&Usage>, cost_micros: Option<u64>) {
        if self.settled || self.held.is_empty() {
            return;
        }
        self.settled = true;
        let Some(fleet) = &config.limits.fleet else { return };
        let actual = Amounts { tokens: usage.map_or(0, Usage::total_tokens), spend: cost_micros.unwrap_or(0) };
        let Some(command) = fleet_settle(&self.held, actual) else { return };
        if host.http_call(&call(fleet, &command, true)).is_none() {
            log::warn!("tollgate: fleet limits settlement could not be sent; the estimate stays counted");
            host.emit(&counter("tollgate.limits.fleet.unsettled", 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{parse, Config};
    use crate::filter::limits::tests::respond;
    use crate::filter::{Flow, HttpFilter};
    use crate::host::fake::FakeHost;
    use crate::keys::Digest;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(failure_mode: &str) -> Rc<Config> {
        let json = format!(
            r#"{{"providers": [{{"name": "mock", "kind": "openai", "cluster": "c"}}],
                "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "mock"}}]}}],
                "keys": [{{"id": "team-a", "tenant": "acme", "digests": ["{}"]}}],
                "limits": {{"fleet": {{"cluster": "webdis", "failure_mode": "{failure_mode}"}}, "rules": [
                  {{"id": "tpm", "scope": "tenant", "kind": "tokens", "window": "minute", "limit": 1000, "store": "fleet"}}]}}}}"#,
            Digest::of(b"tg-good")
        );
        Rc::new(parse(json.as_bytes(), &|_| None).unwrap())
    }

    const CHAT: &str = r#"{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#;

    /// Headers and body of one request: the body phase must hold the request for the store.
    fn start(c: &Rc<Config>) -> (FakeHost, HttpFilter, Flow) {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], CHAT.as_bytes());
        let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
        f.on_request_headers(&mut h, false);
        let n = h.request_body.len();
        let flow = f.on_request_body(&mut h, n, true);
        (h, f, flow)
    }

    #[test]
    fn held_until_reserved_then_forwarded_and_settled_detached() {
        let c = config("open");
        let (mut h, mut f, flow) = start(&c);
        assert_eq!(flow, Flow::Pause);
        assert!(h.reply.is_none() && !h.resumed && h.header("x-tollgate-cluster").is_none(), "held, not yet forwarded");
        assert_eq!(h.calls.len(), 1);
        assert_eq!((h.calls[0].0.as_str(), h.calls[0].2), ("webdis", false));
        f.on_callout(&mut h, 99, Some(200), br#"{"EVAL":[0,108]}"#);
        assert!(!h.resumed, "another callout's answer is not this one");
        f.on_callout(&mut h, 1, Some(200), br#"{"EVAL":[0,108]}"#);
        assert!(h.resumed && h.reply.is_none());
        assert_eq!(h.header("x-tollgate-cluster"), Some("c"));
        respond(&mut h, &mut f);
        let header = |name: &str| h.response_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        assert_eq!(header("x-ratelimit-limit-tokens").as_deref(), Some("1000"));
        assert_eq!(header("x-ratelimit-remaining-tokens").as_deref(), Some("892"), "1000 - the 108 the store counted");
        assert_eq!(h.calls.len(), 2);
        let settle = String::from_utf8(h.calls[1].1.clone()).unwrap();
        assert!(h.calls[1].2, "the settlement outlives the request");
        let reserve = String::from_utf8(h.calls[0].1.clone()).unwrap();
        let reserved: u64 = reserve.split('/').nth(4).unwrap().parse().unwrap();
        assert!(settle.ends_with(&format!("/-{}", reserved - 59)), "refund the estimate down to the 59 tokens used: {settle}");
    }

    #[test]
    fn a_rule_without_room_refuses_and_settles_nothing() {
        let (mut h, mut f, _) = start(&config("open"));
        f.on_callout(&mut h, 1, Some(200), br#"{"EVAL":[1,990]}"#);
        let reply = h.reply.clone().unwrap();
        assert_eq!(reply.0, 429);
        assert_eq!(h.reply_json()["error"]["code"], "rate_limit_exceeded");
        assert!(reply.1.iter().any(|(k, v)| k == "retry-after" && v.parse::<u64>().unwrap() >= 1));
        assert!(reply.1.iter().any(|(k, v)| k == "x-ratelimit-remaining-tokens" && v == "10"), "{:?}", reply.1);
        assert!(!h.resumed);
        f.on_log(&mut h);
        assert_eq!(h.calls.len(), 1, "nothing was reserved, nothing to settle");
    }

    #[test]
    fn a_store_that_does_not_answer_follows_failure_mode() {
        let (mut h, mut f, _) = start(&config("open"));
        f.on_callout(&mut h, 1, None, b"");
        assert!(h.resumed && h.reply.is_none(), "open: forwarded uncounted");
        f.on_log(&mut h);
        assert_eq!(h.calls.len(), 1, "nothing reserved, nothing settled");
        assert!(h.metrics.iter().any(|m| m.name == "tollgate.limits.fleet.unavailable"));

        let (mut h, mut f, _) = start(&config("closed"));
        f.on_callout(&mut h, 1, Some(502), b"");
        assert_eq!(h.reply.as_ref().unwrap().0, 503);
        assert_eq!(h.reply_json()["error"]["code"], "limits_unavailable");

        // A callout the host cannot send at all (no such cluster) is decided at once.
        let c = config("closed");
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], CHAT.as_bytes());
        h.no_callouts = true;
        let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
        f.on_request_headers(&mut h, false);
        f.on_request_body(&mut h, CHAT.len(), true);
        assert_eq!(h.reply.as_ref().unwrap().0, 503);
    }
}
