//! Steered resolution: a route's strategy, conditional rules, context windows and the circuit
//! breaker, composed into the ordered attempts of one request.
//!
//! Order of the attempts:
//! 1. the target the strategy picks among the eligible (closed, or half-open with the probe
//!    claimed by this request) targets;
//! 2. the other eligible targets, then the eligible fallbacks, in config order;
//! 3. every cooled target and fallback, the least recently failed first. So when everything is
//!    cooled, the least recently failed target is tried: a cooldown never refuses by itself.
//!
//! A target whose `context_window` cannot hold the request is left out (unless none can, when
//! the provider's own answer is better than a guess); so is one over the cost strategy's price cap.

use super::health::{Admit, Breaker, Health};
use super::rules::{Facts, Rule};
use super::strategy::{choose, Candidate, Strategy};
use super::{Attempt, Target};
use crate::usage::cost::PriceTable;

/// A route's routing policy beyond plain weights.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub strategy: Strategy,
    /// Conditional target lists, first match wins.
    pub rules: Vec<Rule>,
}

/// What selection reads from the host: shared data (health, latency, in-flight counts), the
/// clock and the request headers.
pub trait Signals {
    fn now_ms(&mut self) -> u64;
    fn health(&mut self, a: &Attempt) -> Health;
    /// Claims the half-open probe of `a` (seen as `seen`); `false` when another request took it.
    fn claim_probe(&mut self, a: &Attempt, seen: Health) -> bool;
    fn latency(&mut self, a: &Attempt) -> Option<u64>;
    fn in_flight(&mut self, a: &Attempt) -> u64;
    fn header(&mut self, name: &str) -> Option<String>;
}

/// Signals for a host without shared state (policy cases, tools): everything healthy, idle and
/// unmeasured.
#[derive(Debug, Default)]
pub struct NoSignals;

impl Signals for NoSignals {
    fn now_ms(&mut self) -> u64 {
        0
    }
    fn health(&mut self, _: &Attempt) -> Health {
        Health::default()
    }
    fn claim_probe(&mut self, _: &Attempt, _: Health) -> bool {
        true
    }
    fn latency(&mut self, _: &Attempt) -> Option<u64> {
        None
    }
    fn in_flight(&mut self, _: &Attempt) -> u64 {
        0
    }
    fn header(&mut self, _: &str) -> Option<String> {
        None
    }
}

/// One candidate while ordering.
struct Slot {
    attempt: Attempt,
    weight: u32,
    health: Health,
    admit: Admit,
}

/// The ordered attempts for `requested` on a route with `targets`/`fallbacks` and `policy`.
#[allow(clippy::too_many_arguments)] // each is one input of the decision; a struct would only rename them
pub fn order(
    policy: &Policy,
    targets: &[Target],
    fallbacks: &[Target],
    breaker: Option<&Breaker>,
    prices: &PriceTable,
    requested: &str,
    facts: &Facts<'_>,
    seed: u64,
    signals: &mut dyn Signals,
) -> Vec<Attempt> {
    let chosen_list = policy.rules.iter().find(|r| r.when.matches(facts, &mut |n| signals.header(n))).map_or(targets, |r| r.targets.as_slice());
    let fits = |t: &&Target| t.context_window.is_none_or(|w| facts.tokens <= w);
    let (mut primary, mut backup): (Vec<&Target>, Vec<&Target>) = (chosen_list.iter().filter(fits).collect(), fallbacks.iter().filter(fits).collect());
    if primary.is_empty() && backup.is_empty() {
        primary = chosen_list.iter().collect();
        backup = fallbacks.iter().collect();
    }
    let now = if breaker.is_some() { signals.now_ms() } else { 0 };
    let slot = |t: &Target, signals: &mut dyn Signals| {
        let attempt = Attempt { provider: t.provider, model: t.model.clone().unwrap_or_else(|| requested.to_string()) };
        let health = if breaker.is_some() { signals.health(&attempt) } else { Health::default() };
        let admit = breaker.map_or(Admit::Pass, |b| health.admit(b, now));
        Slot { attempt, weight: t.weight, health, admit }
    };
    let mut primary: Vec<Slot> = primary.into_iter().map(|t| slot(t, signals)).collect();
    let mut backup: Vec<Slot> = backup.into_iter().map(|t| slot(t, signals)).collect();
    if let Strategy::Cost { max_price: Some(cap) } = policy.strategy {
        primary.retain(|s| price(prices, &s.attempt).is_some_and(|p| p <= cap));
        backup.retain(|s| price(prices, &s.attempt).is_some_and(|p| p <= cap));
    }
    let mut out = Vec::with_capacity(primary.len() + backup.len());
    // Pick among the eligible targets; a half-open one is eligible if this request wins its probe.
    loop {
        let eligible: Vec<usize> = (0..primary.len()).filter(|&i| primary[i].admit != Admit::Cooled).collect();
        let candidates: Vec<Candidate> = eligible.iter().map(|&i| candidate(policy.strategy, &primary[i], prices, signals)).collect();
        let Some(pick) = choose(policy.strategy, &candidates, seed).and_then(|c| eligible.get(c).copied()) else { break };
        let s = &mut primary[pick];
        if s.admit == Admit::Probe && !signals.claim_probe(&s.attempt, s.health) {
            s.admit = Admit::Cooled;
            continue;
        }
        out.push(primary.remove(pick).attempt);
        break;
    }
    let mut cooled: Vec<Slot> = Vec::new();
    for s in primary.into_iter().chain(backup) {
        if s.admit == Admit::Pass {
            out.push(s.attempt);
        } else {
            cooled.push(s);
        }
    }
    cooled.sort_by_key(|s| s.health.last_failure_ms);
    out.extend(cooled.into_iter().map(|s| s.attempt));
    out
}

/// A target's price for the cost strategy: its upstream model's `pricing` entry (else `*`),
/// input plus output per million tokens.
pub fn price(prices: &PriceTable, a: &Attempt) -> Option<u64> {
    prices.price(&[&a.model]).map(|p| p.input.saturating_add(p.output))
}

fn candidate(strategy: Strategy, s: &Slot, prices: &PriceTable, signals: &mut dyn Signals) -> Candidate {
    let mut c = Candidate { weight: s.weight, ..Candidate::default() };
    match strategy {
        Strategy::Latency { .. } => c.latency = signals.latency(&s.attempt),
        Strategy::LeastBusy => c.in_flight = signals.in_flight(&s.attempt),
        Strategy::Cost { .. } => c.price = price(prices, &s.attempt),
        Strategy::Weighted | Strategy::Priority => {}
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::health::{Classes, Outcome, Failure};
    use super::super::rules::When;
    use super::super::strategy::LatencyMetric;
    use crate::usage::cost::Price;
    use super::*;
    use std::collections::HashMap;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const B: Breaker = Breaker { failures: 1, cooldown_ms: 1_000, max_cooldown_ms: 10_000, probe_timeout_ms: 1_000, classes: Classes::ALL };

    #[derive(Default)]
    struct Fake {
        now: u64,
        health: HashMap<usize, Health>,
        latency: HashMap<usize, u64>,
        busy: HashMap<usize, u64>,
        probe_taken: bool,
        claimed: Vec<usize>,
    }

    impl Signals for Fake {
        fn now_ms(&mut self) -> u64 {
            self.now
        }
        fn health(&mut self, a: &Attempt) -> Health {
            self.health.get(&a.provider).copied().unwrap_or_default()
        }
        fn claim_probe(&mut self, a: &Attempt, _: Health) -> bool {
            self.claimed.push(a.provider);
            !self.probe_taken
        }
        fn latency(&mut self, a: &Attempt) -> Option<u64> {
            self.latency.get(&a.provider).copied()
        }
        fn in_flight(&mut self, a: &Attempt) -> u64 {
            self.busy.get(&a.provider).copied().unwrap_or(0)
        }
        fn header(&mut self, n: &str) -> Option<String> {
            (n == "x-tier").then(|| "batch".to_string())
        }
    }

    fn t(provider: usize, window: Option<u64>) -> Target {
        Target { provider, model: Some(format!("m{provider}")), weight: 1, context_window: window }
    }

    fn providers(policy: &Policy, targets: &[Target], fallbacks: &[Target], facts: &Facts<'_>, s: &mut Fake) -> Vec<usize> {
        let mut prices = PriceTable::default();
        for (m, p) in [("m0", 900), ("m1", 500), ("m2", 100)] {
            prices.models.insert(m.to_string(), Price { input: p, output: 0, cached_input: 0, cache_write_input: 0, cache_write_input_1h: 0 });
        }
        order(policy, targets, fallbacks, Some(&B), &prices, "req", facts, 0, s).iter().map(|a| a.provider).collect()
    }

    fn opened(at: u64) -> Health {
        Health::default().record(&B, Outcome::Failure(Failure::ServerError, None), at).0
    }

    #[test]
    fn cooled_targets_go_last_least_recently_failed_first() {
        let priority = Policy { strategy: Strategy::Priority, rules: vec![] };
        let ts = [t(0, None), t(1, None), t(2, None)];
        let mut s = Fake { now: 500, ..Fake::default() };
        s.health.insert(0, opened(400));
        assert_eq!(providers(&priority, &ts, &[t(3, None)], &Facts::default(), &mut s), vec![1, 2, 3, 0]);
        // Everything cooled: still tried, the least recently failed first.
        s.health.extend([(1, opened(300)), (2, opened(450)), (3, opened(100))]);
        assert_eq!(providers(&priority, &ts, &[t(3, None)], &Facts::default(), &mut s), vec![3, 1, 0, 2]);
    }

    #[test]
    fn half_open_probe_is_claimed_once() {
        let priority = Policy { strategy: Strategy::Priority, rules: vec![] };
        let ts = [t(0, None), t(1, None)];
        let mut s = Fake { now: 2_000, ..Fake::default() };
        s.health.insert(0, opened(100));
        assert_eq!(providers(&priority, &ts, &[], &Facts::default(), &mut s), vec![0, 1], "this request probes");
        assert_eq!(s.claimed, vec![0]);
        s.probe_taken = true;
        assert_eq!(providers(&priority, &ts, &[], &Facts::default(), &mut s), vec![1, 0], "another worker probes");
    }

    #[test]
    fn strategies_pick_first() {
        let ts = [t(0, None), t(1, None), t(2, None)];
        let mut s = Fake::default();
        s.latency.extend([(0, 300), (1, 20), (2, 90)]);
        s.busy.extend([(0, 0), (1, 5), (2, 3)]);
        let latency = Policy { strategy: Strategy::Latency { metric: LatencyMetric::Ttft, exploration_permille: 0 }, rules: vec![] };
        assert_eq!(providers(&latency, &ts, &[], &Facts::default(), &mut s), vec![1, 0, 2]);
        let busy = Policy { strategy: Strategy::LeastBusy, rules: vec![] };
        assert_eq!(providers(&busy, &ts, &[], &Facts::default(), &mut s)[0], 0);
        let cheap = Policy { strategy: Strategy::Cost { max_price: None }, rules: vec![] };
        assert_eq!(providers(&cheap, &ts, &[], &Facts::default(), &mut s), vec![2, 0, 1]);
        // The cheapest is cooled: the next cheapest goes first.
        s.now = 10;
        s.health.insert(2, opened(5));
        assert_eq!(providers(&cheap, &ts, &[], &Facts::default(), &mut s)[0], 1);
        let capped = Policy { strategy: Strategy::Cost { max_price: Some(600) }, rules: vec![] };
        assert_eq!(providers(&capped, &ts, &[], &Facts::default(), &mut s), vec![1, 2], "over the cap: dropped");
    }

    #[test]
    fn context_windows_and_rules() {
        let plain = Policy::default();
        let ts = [t(0, Some(8_000)), t(1, Some(200_000))];
        let small = Facts { tokens: 1_000, ..Facts::default() };
        let big = Facts { tokens: 50_000, ..Facts::default() };
        assert_eq!(providers(&Policy { strategy: Strategy::Priority, rules: vec![] }, &ts, &[], &small, &mut Fake::default()), vec![0, 1]);
        assert_eq!(providers(&plain, &ts, &[], &big, &mut Fake::default()), vec![1]);
        let huge = Facts { tokens: 500_000, ..Facts::default() };
        assert_eq!(providers(&plain, &ts, &[], &huge, &mut Fake::default()).len(), 2, "nothing fits: all are left to answer");
        let rules = Policy {
            strategy: Strategy::Priority,
            rules: vec![Rule { when: When { header: Some(("x-tier".into(), Some("batch".into()))), ..When::default() }, targets: vec![t(7, None)] }],
        };
        assert_eq!(providers(&rules, &ts, &[t(9, None)], &small, &mut Fake::default()), vec![7, 9]);
    }
}
