//! The filter's side of alerts: budget thresholds checked as each reservation settles, anomaly
//! detectors fed with each request's settled amount, `block` anomalies refused at admission.
//! Every event goes three ways: a counter, a log line (no secret), and the worker's webhook
//! outbox, which the root context drains on its tick (never on the request's path).

use super::limits::{caller, counter};
use crate::alerts::{crossed, message_id, Event, EventKind};
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::gateway::Admission;
use crate::host::Host;
use super::limits::HostStore as Store;
use crate::limits::{Cell, Held, Kind};
use crate::usage::Usage;

/// Counts, logs and queues one event for the webhook.
fn raise(host: &mut impl Host, config: &Config, e: &Event) {
    let name = match e.kind {
        EventKind::Budget { .. } => "tollgate.alerts.budget_fired",
        EventKind::Anomaly { .. } => "tollgate.alerts.anomaly_fired",
    };
    host.emit(&counter(name, 1));
    log::warn!("{}", e.log_line());
    if config.alerts.webhook.is_some() {
        host.deliver(message_id(&e.identity()), e.payload(&config.pricing.currency));
    }
}

/// After the settlement of `held`: the thresholds of each token or spend rule its counter now
/// reaches for the first time in the window fire (the count includes reservations still in
/// flight, as the rule's own admission check does).
pub fn budgets(host: &mut impl Host, config: &Config, held: &[Held], now: u64) {
    for h in held {
        let Some(rule) = held_rule(config, h) else { continue };
        let (Some(window), Some(subject)) = (rule.window, h.key.strip_prefix(&format!("tg:lim:{}:", rule.id))) else { continue };
        let start = window.start(now);
        let Ok((Some(bytes), _)) = host.shared_get(&h.key) else { continue };
        let cell = Cell::decode(&bytes).rolled(Some(window), start);
        let used = window.effective(cell.start, now, cell.current, cell.previous);
        let fired = match crossed(&mut Store(host), &format!("tg:alert:{}:{subject}", rule.id), start, used, rule.limit, &rule.alerts) {
            Ok(f) => f,
            Err(_) => {
                host.emit(&counter("tollgate.alerts.marker_unavailable", 1));
                continue;
            }
        };
        for threshold in fired {
            let e = Event {
                kind: EventKind::Budget { threshold, limit: rule.limit },
                rule: rule.id.clone(),
                scope: rule.scope,
                subject: subject.to_string(),
                measure: rule.kind,
                window_start: start,
                window_end: window.end(start),
                amount: used,
                at: now,
            };
            raise(host, config, &e);
        }
    }
}

/// The rule of a held reservation, when it carries alert thresholds.
fn held_rule<'a>(config: &'a Config, h: &Held) -> Option<&'a crate::limits::Rule> {
    if !matches!(h.kind, Kind::Tokens | Kind::Spend) {
        return None;
    }
    config.limits.rules.get(h.rule_index()).filter(|r| !r.alerts.is_empty())
}

/// Feeds every anomaly rule that watches the caller with the request's settled amount.
pub fn anomalies(host: &mut impl Host, config: &Config, admission: &Admission, usage: Option<&Usage>, cost_micros: Option<u64>) {
    if config.alerts.anomalies.is_empty() {
        return;
    }
    let (key, tenant) = caller(config, admission);
    let now = host.now_nanos() / 1_000_000_000;
    for rule in &config.alerts.anomalies {
        let Some(subject) = rule.subject(key, tenant) else { continue };
        let amount = match rule.kind {
            Kind::Tokens => usage.map_or(0, Usage::total_tokens),
            Kind::Spend => cost_micros.unwrap_or(0),
            _ => 1,
        };
        if amount == 0 {
            continue;
        }
        let verdict = match rule.add(&mut Store(host), subject, amount, now) {
            Ok(v) => v,
            Err(_) => {
                host.emit(&counter("tollgate.alerts.anomaly_unavailable", 1));
                continue;
            }
        };
        if verdict.fired {
            let c = verdict.cell;
            let e = Event {
                kind: EventKind::Anomaly { baseline: c.baseline, factor_pct: rule.factor_pct, floor: rule.floor, blocking: rule.action == crate::alerts::Action::Block },
                rule: rule.id.clone(),
                scope: rule.scope,
                subject: subject.to_string(),
                measure: rule.kind,
                window_start: c.start,
                window_end: c.start.saturating_add(rule.window_seconds),
                amount: c.amount,
                at: now,
            };
            raise(host, config, &e);
        }
    }
}

/// At admission: a `block` anomaly rule whose window fired refuses the caller (429
/// `anomaly_detected`, `retry-after` the end of the window).
pub fn admit(host: &mut impl Host, config: &Config, admission: &Admission) -> Result<(), ApiError> {
    if config.alerts.anomalies.is_empty() {
        return Ok(());
    }
    let (key, tenant) = caller(config, admission);
    let now = host.now_nanos() / 1_000_000_000;
    for rule in &config.alerts.anomalies {
        let Some(subject) = rule.subject(key, tenant) else { continue };
        if let Some(wait) = rule.blocked(&Store(host), subject, now) {
            host.emit(&counter("tollgate.alerts.anomaly_blocked", 1));
            let msg = format!("Unusual {} for this {} (anomaly rule `{}`); requests are paused until the window ends in {wait} seconds.", rule.kind.as_str(), scope_name(rule.scope), rule.id);
            return Err(ApiError::new(ErrorKind::AnomalyDetected, msg).with_header("retry-after", wait.to_string()));
        }
    }
    Ok(())
}

fn scope_name(s: crate::limits::Scope) -> &'static str {
    match s {
        crate::limits::Scope::Key => "key",
        crate::limits::Scope::Tenant => "tenant",
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{parse, Config};
    use crate::filter::limits::tests::respond;
    use crate::filter::HttpFilter;
    use crate::host::fake::FakeHost;
    use crate::keys::Digest;
    use crate::limits::MemStore;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(extra: &str) -> Rc<Config> {
        let json = format!(
            r#"{{"providers": [{{"name": "mock", "kind": "openai", "cluster": "c"}}],
                "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "mock"}}]}}],
                "keys": [{{"id": "team-a", "tenant": "acme", "digests": ["{}"]}}],
                "pricing": {{"models": {{"gpt-4o-mini": {{"input": 1000, "output": 2000, "cached_input": 500}}}}}},
                {extra}}}"#,
            Digest::of(b"tg-good")
        );
        Rc::new(parse(json.as_bytes(), &|_| None).unwrap())
    }

    const CHAT: &str = r#"{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#;

    /// One whole request (the mock's 59-token answer) at `now` seconds on a host sharing `store`.
    fn run(c: &Rc<Config>, store: &MemStore, now: u64) -> FakeHost {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-good")], CHAT.as_bytes());
        h.shared = store.clone();
        h.now_nanos = now * 1_000_000_000;
        let mut f = HttpFilter::new(Some(c.clone()), 1, 0);
        f.on_request_headers(&mut h, false);
        f.on_request_body(&mut h, CHAT.len(), true);
        if h.reply.is_none() {
            respond(&mut h, &mut f);
        }
        h
    }

    #[test]
    fn budget_thresholds_fire_once_each_with_a_payload_and_a_counter() {
        let c = config(
            r#""alerts": {"webhook": {"cluster": "hooks"}},
               "limits": {"rules": [{"id": "tpd", "scope": "tenant", "kind": "tokens", "window": "day", "limit": 1000, "alerts": [0.1, 0.15, 0.5]}]}"#,
        );
        let store = MemStore::default();
        let now = 1_800_000_000;
        let fired: Vec<Vec<serde_json::Value>> =
            (0..3).map(|_| run(&c, &store, now).delivered.iter().map(|(_, b)| serde_json::from_slice(b).unwrap()).collect()).collect();
        // 59, 118, 177 tokens settled: 0.1 fires on the 2nd, 0.15 on the 3rd, 0.5 never.
        assert_eq!(fired.iter().map(Vec::len).collect::<Vec<_>>(), vec![0, 1, 1]);
        let e = &fired[1][0];
        assert_eq!((e["type"].as_str(), e["data"]["threshold"].as_f64(), e["data"]["subject"].as_str()), (Some("budget.threshold_crossed"), Some(0.1), Some("acme")));
        assert_eq!(e["data"]["amount"], 118);
        assert!(!e.to_string().contains("hi") && !e.to_string().contains("tg-good"), "no prompt, no key");
        let h = run(&c, &store, now + 86_400);
        assert!(h.delivered.is_empty(), "a new day: 59 of 1000 is under every threshold");
    }

    #[test]
    fn a_block_anomaly_refuses_until_the_window_ends() {
        let c = config(r#""alerts": {"anomalies": [{"id": "spike", "scope": "key", "kind": "tokens", "window_seconds": 60, "factor": 3, "floor": 100, "min_windows": 1, "action": "block"}]}"#);
        let store = MemStore::default();
        let t0 = 1_800_000_000; // a minute boundary
        run(&c, &store, t0); // born: not learned
        run(&c, &store, t0 + 60); // learned: baseline 59
        let mut last = None;
        for i in 0..5 {
            last = Some(run(&c, &store, t0 + 120 + i));
        }
        let h = last.unwrap();
        let reply = h.reply.as_ref().expect("the 4th settles 236 tokens, over 3 x 59 and the floor: the 5th is refused");
        assert_eq!(reply.0, 429);
        assert_eq!(h.reply_json()["error"]["code"], "anomaly_detected");
        assert!(reply.1.iter().any(|(k, v)| k == "retry-after" && v == "56"));
        assert!(run(&c, &store, t0 + 180).reply.is_none(), "the next window admits");
    }
}
