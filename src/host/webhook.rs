//! Webhook delivery from the root context: each worker's HTTP contexts queue alert events in
//! the worker's [`Outbox`]; the root context's tick signs and sends what is due as its own
//! callouts (so their answers come back to it, whatever became of the request), and retries
//! failures with backoff up to the configured number of attempts. A client request never
//! waits on any of this.

use super::wasm::WasmHost;
use super::Host;
use crate::alerts::{signed_headers, Answer, Outbox, Webhook};
use crate::metrics::{Kind, Metric};
use proxy_wasm::traits::Context;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// The worker's outbox, shared by its root context and its HTTP contexts (one thread).
pub type SharedOutbox = Rc<RefCell<Outbox>>;

/// How often the root context looks at the outbox.
pub const TICK: Duration = Duration::from_millis(100);

fn count(name: &str) {
    WasmHost::default().emit(&Metric { kind: Kind::Counter, name: name.to_string(), value: 1 });
}

/// Sends every due delivery of `outbox` to `hook` as callouts of `root`.
pub fn tick(root: &dyn Context, outbox: &SharedOutbox, hook: &Webhook) {
    let now = WasmHost::default().now_nanos();
    let overflowed = std::mem::take(&mut outbox.borrow_mut().overflowed);
    if overflowed > 0 {
        log::warn!("tollgate: webhook outbox full: {overflowed} alert deliveries dropped");
        WasmHost::default().emit(&Metric { kind: Kind::Counter, name: "tollgate.alerts.webhook.dropped".into(), value: overflowed });
    }
    let due = outbox.borrow_mut().due(now);
    for p in due {
        let ts = now / 1_000_000_000;
        let signed = signed_headers(hook.key.as_deref(), &p.id, ts, &p.body);
        if hook.key.is_none() {
            // Names the environment variable, never its value; the id is the event's own.
            log::warn!("tollgate: webhook signing variable {} is not set: alert {} not sent", hook.secret_env, p.id);
            count("tollgate.alerts.webhook.dropped");
            continue;
        }
        let mut headers = vec![(":method", "POST"), (":path", hook.path.as_str()), (":authority", hook.authority.as_str()), ("content-type", "application/json")];
        headers.extend(signed.iter().map(|(k, v)| (*k, v.as_str())));
        count("tollgate.alerts.webhook.attempts");
        match root.dispatch_http_call(&hook.cluster, headers, Some(&p.body), vec![], Duration::from_millis(hook.timeout_ms)) {
            Ok(token) => outbox.borrow_mut().sent(token, p),
            Err(s) => {
                log::warn!("tollgate: webhook to cluster `{}` could not be sent: {s:?}", hook.cluster);
                let answer = outbox.borrow_mut().unsent(p, now, hook.max_attempts, hook.backoff_ms);
                report(&answer);
            }
        }
    }
}

/// The answer to a webhook callout (`status` none: timeout or reset).
pub fn answered(outbox: &SharedOutbox, hook: &Webhook, token: u32, status: Option<u16>) {
    let now = WasmHost::default().now_nanos();
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let answer = outbox.borrow_mut().answered(token, ok, now, hook.max_attempts, hook.backoff_ms);
    if !ok && answer != Answer::Unknown {
        log::info!("tollgate: webhook attempt failed (status {})", status.map_or_else(|| "none".to_string(), |s| s.to_string()));
    }
    report(&answer);
}

fn report(answer: &Answer) {
    match answer {
        Answer::Delivered { id, attempts } => {
            log::info!("tollgate: alert {id} delivered (attempt {attempts})");
            count("tollgate.alerts.webhook.delivered");
        }
        Answer::Retrying { id, attempts, backoff_ms } => {
            log::info!("tollgate: alert {id} attempt {attempts} failed; retry in {backoff_ms} ms");
            count("tollgate.alerts.webhook.retried");
        }
        Answer::GaveUp { id, attempts } => {
            log::warn!("tollgate: alert {id} dropped after {attempts} attempts");
            count("tollgate.alerts.webhook.dropped");
        }
        Answer::Unknown => {}
    }
}
