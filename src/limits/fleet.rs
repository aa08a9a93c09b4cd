//! Fleet limits: the same reserve-then-settle as the local limits, on counters in Redis that
//! every Envoy shares, reached over HTTP through webdis. One `EVAL` checks every rule that applies
//! and reserves on all of them, or on none (a Lua script runs atomically in Redis); one `EVAL` at
//! the end charges the real figures and refunds the estimate. Keys carry their window's start and
//! expire with it, so windows roll without resets.

use super::engine::{amount, charge, Amounts, Status};
use super::rules::{Kind, Rule, Who};
use super::webdis::{self, Reply};

/// What happens to a request when the store does not answer in time (or answers an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Admit without reserving: its usage is never counted.
    Open,
    /// Refuse with 503.
    Closed,
}

/// The fleet store and the rules counted in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    /// The Envoy cluster of the webdis endpoints.
    pub cluster: String,
    /// `:authority` of the calls.
    pub authority: String,
    /// Per-call timeout.
    pub timeout_ms: u64,
    pub failure_mode: FailureMode,
    /// Prefix of every Redis key.
    pub prefix: String,
    pub rules: Vec<Rule>,
}

/// Checks every key (`ARGV`: per key need, limit, ttl, shadow flag); when one has no room
/// returns `{index, current}` and changes nothing, else reserves on all and returns
/// `{0, count after, ...}`.
pub const RESERVE_SCRIPT: &str = "for i=1,#KEYS do local b=(i-1)*4 \
if ARGV[b+4]=='0' then local c=tonumber(redis.call('GET',KEYS[i]) or '0') \
if c+tonumber(ARGV[b+1])>tonumber(ARGV[b+2]) then return {i,c} end end end \
local o={0} for i=1,#KEYS do local b=(i-1)*4 o[i+1]=redis.call('INCRBY',KEYS[i],ARGV[b+1]) \
redis.call('EXPIRE',KEYS[i],ARGV[b+3]) end return o";

/// Adds `ARGV[i]` (negative: a refund) to each key that still exists: a key whose window has
/// expired is not brought back.
pub const SETTLE_SCRIPT: &str =
    "for i=1,#KEYS do if redis.call('EXISTS',KEYS[i])==1 then redis.call('INCRBY',KEYS[i],ARGV[i]) end end return 0";

/// A concurrency slot's key lives this long after its last reservation, so slots held by an
/// Envoy that died are given back within the hour.
pub const CONCURRENCY_TTL: u64 = 3600;
/// Window keys outlive their window by this much, so a settle just after the end still lands.
const GRACE: u64 = 300;

/// One counter a request reserved on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub kind: Kind,
    pub key: String,
    pub amount: u64,
}

/// A reservation to send: the webdis command and what it will hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub command: Vec<u8>,
    pub held: Vec<Held>,
    /// Per held counter: the rule's index, its limit, the window's end (0: concurrency).
    rules: Vec<(usize, u64, u64)>,
    now: u64,
}

/// The store's answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Reserved on every counter; the enforced rules' states (for `x-ratelimit-*`), the shadow
    /// rules that went over.
    Reserved { statuses: Vec<Status>, shadow_over: Vec<Kind> },
    /// A rule had no room; nothing was reserved.
    Rejected { kind: Kind, rule: String, retry_after: u64, status: Status },
    /// No usable answer (timeout, store down, error reply): `failure_mode` decides.
    Failed(String),
}

impl Fleet {
    /// Some token or spend rule applies to `who`.
    pub fn needs_estimate(&self, who: &Who<'_>) -> bool {
        super::rules::needs_estimate(&self.rules, who)
    }

    /// The reservation for `who`, or `None` when no rule applies.
    pub fn reservation(&self, who: &Who<'_>, estimate: Amounts, now: u64) -> Option<Reservation> {
        let mut keys = Vec::new();
        let mut args = Vec::new();
        let mut held = Vec::new();
        let mut rules = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(subject) = rule.subject(who) else { continue };
            let need = amount(rule.kind, estimate);
            let (key, ttl, end) = match rule.window {
                Some(w) => {
                    let start = w.start(now);
                    let end = w.end(start);
                    (format!("{}{}:{subject}:{start}", self.prefix, rule.id), end.saturating_sub(now) + GRACE, end)
                }
                None => (format!("{}{}:{subject}", self.prefix, rule.id), CONCURRENCY_TTL, 0),
            };
            args.extend([need.to_string(), rule.limit.to_string(), ttl.to_string(), u8::from(rule.shadow).to_string()]);
            keys.push(key.clone());
            held.push(Held { kind: rule.kind, key, amount: need });
            rules.push((i, rule.limit, end));
        }
        if keys.is_empty() {
            return None;
        }
        let command = webdis::eval(RESERVE_SCRIPT, &keys, &args);
        Some(Reservation { command, held, rules, now })
    }

    /// Reads the store's reply to `r` (`status`: the HTTP status, `None` when the call failed).
    pub fn answer(&self, r: &Reservation, status: Option<u16>, body: &[u8]) -> Answer {
        let values = match webdis::reply(status, body) {
            Reply::Ints(v) => v,
            Reply::Failed(why) => return Answer::Failed(why),
        };
        match values.first() {
            Some(0) if values.len() == r.held.len() + 1 => {
                let (mut statuses, mut shadow_over) = (Vec::new(), Vec::new());
                for ((i, limit, end), after) in r.rules.iter().zip(values.iter().skip(1)) {
                    let Some(rule) = self.rules.get(*i) else { continue };
                    let after = u64::try_from(*after).unwrap_or(0);
                    if rule.shadow {
                        if after > *limit {
                            shadow_over.push(rule.kind);
                        }
                    } else {
                        statuses.push(rule_status(rule.kind, *limit, after, *end, r.now));
                    }
                }
                Answer::Reserved { statuses, shadow_over }
            }
            Some(&n) if n >= 1 => {
                let idx = usize::try_from(n - 1).unwrap_or(usize::MAX);
                let Some((rule, limit, end)) = r.rules.get(idx).and_then(|(i, limit, end)| Some((self.rules.get(*i)?, *limit, *end))) else {
                    return Answer::Failed(format!("the store named counter {n} of {}", r.held.len()));
                };
                let retry_after = if end == 0 { 1 } else { end.saturating_sub(r.now).max(1) };
                let current = values.get(1).and_then(|c| u64::try_from(*c).ok()).unwrap_or(limit);
                Answer::Rejected { kind: rule.kind, rule: rule.id.clone(), retry_after, status: rule_status(rule.kind, limit, current, end, r.now) }
            }
            _ => Answer::Failed("unexpected reply to the reservation".to_string()),
        }
    }
}

/// A rule's state for the `x-ratelimit-*` headers: `used` of `limit`, resetting at `end` (0: never).
fn rule_status(kind: Kind, limit: u64, used: u64, end: u64, now: u64) -> Status {
    Status { kind, limit, remaining: limit.saturating_sub(used), reset: end.saturating_sub(now) }
}

/// The settle command: requests stay counted, tokens and spend are charged `actual` and
/// refunded their estimate, concurrency is released. `None` when nothing changes.
pub fn settle(held: &[Held], actual: Amounts) -> Option<Vec<u8>> {
    let mut keys = Vec::new();
    let mut deltas = Vec::new();
    for h in held {
        let delta = i128::from(charge(h.kind, h.amount, actual)) - i128::from(h.amount);
        if delta != 0 {
            keys.push(h.key.clone());
            deltas.push(delta.to_string());
        }
    }
    (!keys.is_empty()).then(|| webdis::eval(SETTLE_SCRIPT, &keys, &deltas))
}

#[cfg(test)]
mod tests {
    use super::super::rules::Scope;
    use super::super::window::{Period, Window};
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn rule(id: &str, kind: Kind, limit: u64, shadow: bool) -> Rule {
        let window = (kind != Kind::Concurrency).then_some(Window { period: Period::Minute, rolling: false });
        Rule { id: id.into(), scope: Scope::Tenant, subjects: vec![], model: None, kind, window, limit, shadow, alerts: vec![] }
    }

    fn fleet(rules: Vec<Rule>) -> Fleet {
        Fleet { cluster: "webdis".into(), authority: "webdis".into(), timeout_ms: 100, failure_mode: FailureMode::Open, prefix: "tg:".into(), rules }
    }

    const NOW: u64 = 1_800_000_030;
    const WHO: Who<'static> = Who { key: "k", tenant: Some("acme"), models: &["m"] };
    const EST: Amounts = Amounts { tokens: 120, spend: 7 };

    #[test]
    fn one_eval_reserves_every_rule_with_keys_that_expire_with_the_window() {
        let f = fleet(vec![rule("rpm", Kind::Requests, 10, false), rule("tpm", Kind::Tokens, 1000, false), rule("cc", Kind::Concurrency, 2, false)]);
        let r = f.reservation(&WHO, EST, NOW).unwrap();
        let text = String::from_utf8(r.command.clone()).unwrap();
        assert!(text.starts_with("EVAL/"), "{text}");
        let parts: Vec<String> = text.split('/').map(webdis::decode).collect();
        assert_eq!(parts[1], RESERVE_SCRIPT);
        assert_eq!(parts[2], "3");
        // Minute windows: the bucket started at 1_800_000_000 (NOW is 30 s in), ends 30 s from now.
        assert_eq!(&parts[3..6], ["tg:rpm:acme:1800000000", "tg:tpm:acme:1800000000", "tg:cc:acme"]);
        assert_eq!(&parts[6..], ["1", "10", "330", "0", "120", "1000", "330", "0", "1", "2", "3600", "0"]);
        assert_eq!(r.held.iter().map(|h| h.amount).collect::<Vec<_>>(), [1, 120, 1]);
    }

    #[test]
    fn no_rule_applies_no_call() {
        let mut r = rule("t", Kind::Tokens, 1, false);
        r.subjects = vec!["other".into()];
        assert!(fleet(vec![r]).reservation(&WHO, EST, NOW).is_none());
    }

    #[test]
    fn answers_reserve_reject_or_fail() {
        let f = fleet(vec![rule("rpm", Kind::Requests, 10, false), rule("tpm", Kind::Tokens, 1000, false), rule("sh", Kind::Tokens, 100, true)]);
        let r = f.reservation(&WHO, EST, NOW).unwrap();
        let st = |kind, limit, remaining| Status { kind, limit, remaining, reset: 30 };
        let statuses = vec![st(Kind::Requests, 10, 7), st(Kind::Tokens, 1000, 500)];
        assert_eq!(f.answer(&r, Some(200), br#"{"EVAL":[0,3,500,130]}"#), Answer::Reserved { statuses: statuses.clone(), shadow_over: vec![Kind::Tokens] });
        assert_eq!(f.answer(&r, Some(200), br#"{"EVAL":[0,3,500,90]}"#), Answer::Reserved { statuses, shadow_over: vec![] });
        assert_eq!(
            f.answer(&r, Some(200), br#"{"EVAL":[2,950]}"#),
            Answer::Rejected { kind: Kind::Tokens, rule: "tpm".into(), retry_after: 30, status: st(Kind::Tokens, 1000, 50) }
        );
        for (status, body) in [(None, &b""[..]), (Some(503), &b""[..]), (Some(200), &br#"{"EVAL":[false,"ERR x"]}"#[..]), (Some(200), &br#"{"EVAL":[0,1]}"#[..]), (Some(200), &br#"{"EVAL":[9,1]}"#[..])] {
            assert!(matches!(f.answer(&r, status, body), Answer::Failed(_)), "{status:?} {body:?}");
        }
    }

    #[test]
    fn settle_charges_usage_refunds_estimate_and_releases_slots() {
        let f = fleet(vec![rule("rpm", Kind::Requests, 10, false), rule("tpm", Kind::Tokens, 1000, false), rule("usd", Kind::Spend, 1000, false), rule("cc", Kind::Concurrency, 2, false)]);
        let r = f.reservation(&WHO, EST, NOW).unwrap();
        let cmd = String::from_utf8(settle(&r.held, Amounts { tokens: 59, spend: 7 }).unwrap()).unwrap();
        let parts: Vec<String> = cmd.split('/').map(webdis::decode).collect();
        assert_eq!(parts[1], SETTLE_SCRIPT);
        // Requests stay, spend used exactly its estimate: only tokens (refund 61) and the slot move.
        assert_eq!(&parts[2..], ["2", "tg:tpm:acme:1800000000", "tg:cc:acme", "-61", "-1"]);
        let none = settle(&r.held[..1], Amounts::default());
        assert!(none.is_none(), "a request rule settles nothing");
        let failed = String::from_utf8(settle(&r.held[1..2], Amounts::default()).unwrap()).unwrap();
        assert!(failed.ends_with("/-120"), "no usage: the whole estimate is refunded: {failed}");
    }
}
