//! Reserve, then settle: admit a request only if every limit that applies still has room for
//! its estimate, and later correct each counter by the real usage.

use super::counter::{self, CounterError};
use super::rules::{Kind, Limits, Rule, Who};
use super::store::SharedStore;

/// The estimate reserved at admission, or the real figures at settlement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amounts {
    pub tokens: u64,
    /// Micro-units of currency.
    pub spend: u64,
}

/// One counter a request holds a reservation on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub kind: Kind,
    pub key: String,
    rule: usize,
    /// Bucket the reservation went into.
    start: u64,
    pub amount: u64,
}

impl Held {
    /// The index of its rule in `Limits::rules`.
    pub fn rule_index(&self) -> usize {
        self.rule
    }
}

/// A limit's state for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub kind: Kind,
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets (0 for concurrency).
    pub reset: u64,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub kind: Kind,
    pub rule: String,
    /// Seconds until it may fit.
    pub retry_after: u64,
    /// The counters were too contended to decide (fail closed).
    pub contended: bool,
}

/// The result of a reservation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Reservations to settle at the end (empty when rejected: they were rolled back).
    pub held: Vec<Held>,
    /// Enforced limits' states after the reservation (or at the rejection).
    pub statuses: Vec<Status>,
    pub rejected: Option<Rejection>,
    /// Shadow limits that would have rejected.
    pub shadow_rejected: Vec<Kind>,
    pub conflicts: u32,
    /// Counters the store refused (those limits were skipped: fail open).
    pub unavailable: u32,
}

/// What a rule of `kind` reserves out of an estimate.
pub(super) fn amount(kind: Kind, a: Amounts) -> u64 {
    match kind {
        Kind::Requests | Kind::Concurrency => 1,
        Kind::Tokens => a.tokens,
        Kind::Spend => a.spend,
    }
}

impl Limits {
    /// Reserves `estimate` on every limit that applies to `who`, in order; on the first that
    /// has no room, rolls back what was reserved and reports the rejection.
    pub fn reserve(&self, store: &mut impl SharedStore, who: &Who<'_>, estimate: Amounts, now: u64) -> Outcome {
        let mut out = Outcome::default();
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(subject) = rule.subject(who) else { continue };
            let key = format!("tg:lim:{}:{subject}", rule.id);
            let need = amount(rule.kind, estimate);
            let start = rule.window.map_or(0, |w| w.start(now));
            let used = |c: &counter::Cell| rule.window.map_or(c.current, |w| w.effective(c.start, now, c.current, c.previous));
            let fits = |c: &counter::Cell| used(c).saturating_add(need) <= rule.limit;
            let check = |c: &counter::Cell| rule.shadow || fits(c);
            match counter::add(store, &key, rule.window, start, need, &check) {
                Ok(u) => {
                    out.conflicts += u.conflicts;
                    if u.applied {
                        let before = counter::Cell { current: u.cell.current.saturating_sub(need), ..u.cell };
                        if rule.shadow && !fits(&before) {
                            out.shadow_rejected.push(rule.kind);
                        }
                        out.held.push(Held { kind: rule.kind, key, rule: i, start, amount: need });
                        if !rule.shadow {
                            out.statuses.push(status(rule, &u.cell, now));
                        }
                    } else {
                        let c = u.cell;
                        let retry_after = match rule.window {
                            Some(w) => w.retry_after(c.start, now, c.current, c.previous, rule.limit, need),
                            None => 1,
                        };
                        out.statuses.push(status(rule, &c, now));
                        out.rejected = Some(Rejection { kind: rule.kind, rule: rule.id.clone(), retry_after, contended: false });
                        break;
                    }
                }
                Err(CounterError::Contended { conflicts }) => {
                    out.conflicts += conflicts;
                    if !rule.shadow {
                        out.rejected = Some(Rejection { kind: rule.kind, rule: rule.id.clone(), retry_after: 1, contended: true });
                        break;
                    }
                }
                Err(CounterError::Unavailable) => out.unavailable += 1,
            }
        }
        if out.rejected.is_some() {
            let held = std::mem::take(&mut out.held);
            out.conflicts += self.release(store, &held, now);
        }
        out
    }

    /// Settles reservations with the real figures: requests stay counted, tokens and spend are
    /// charged `actual` and refunded their estimate, concurrency is released. Returns conflicts.
    pub fn settle(&self, store: &mut impl SharedStore, held: &[Held], actual: Amounts, now: u64) -> u32 {
        let mut conflicts = 0;
        for h in held {
            conflicts += self.correct(store, h, now, charge(h.kind, h.amount, actual));
        }
        conflicts
    }

    /// Gives every reservation back (the request never reached the provider).
    pub fn release(&self, store: &mut impl SharedStore, held: &[Held], now: u64) -> u32 {
        held.iter().map(|h| self.correct(store, h, now, 0)).sum()
    }

    fn correct(&self, store: &mut impl SharedStore, h: &Held, now: u64, charge: u64) -> u32 {
        let Some(rule) = self.rules.get(h.rule) else { return 0 };
        let now_start = rule.window.map_or(0, |w| w.start(now));
        match counter::settle(store, &h.key, rule.window, now_start, h.start, charge, h.amount) {
            Ok(c) => c,
            Err(CounterError::Contended { conflicts }) => {
                log::warn!("tollgate: limit `{}` could not be settled: counter contended", rule.id);
                conflicts
            }
            Err(CounterError::Unavailable) => 0,
        }
    }
}

/// What a reservation of `reserved` on a rule of `kind` finally counts: requests stay counted,
/// tokens and spend count the real figures, a concurrency slot is given back.
pub(super) fn charge(kind: Kind, reserved: u64, actual: Amounts) -> u64 {
    match kind {
        Kind::Requests => reserved,
        Kind::Concurrency => 0,
        Kind::Tokens => actual.tokens,
        Kind::Spend => actual.spend,
    }
}

fn status(rule: &Rule, c: &counter::Cell, now: u64) -> Status {
    let (used, reset) = match rule.window {
        Some(w) => (w.effective(c.start, now, c.current, c.previous), w.end(c.start).saturating_sub(now)),
        None => (c.current, 0),
    };
    Status { kind: rule.kind, limit: rule.limit, remaining: rule.limit.saturating_sub(used), reset }
}

#[cfg(test)]
mod tests {
    use super::super::rules::Scope;
    use super::super::store::MemStore;
    use super::super::window::{Period, Window};
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn rule(id: &str, scope: Scope, kind: Kind, limit: u64) -> Rule {
        let window = (kind != Kind::Concurrency).then_some(Window { period: Period::Day, rolling: false });
        Rule { id: id.into(), scope, subjects: vec![], model: None, kind, window, limit, shadow: false, alerts: vec![] }
    }

    const NOW: u64 = 1_773_578_096;
    const A: Who<'static> = Who { key: "a", tenant: Some("acme"), models: &["gpt-4o-mini"] };
    const B: Who<'static> = Who { key: "b", tenant: Some("acme"), models: &["gpt-4o-mini"] };

    #[test]
    fn key_and_tenant_limits_combine() {
        let l = Limits { rules: vec![rule("k", Scope::Key, Kind::Requests, 2), rule("t", Scope::Tenant, Kind::Requests, 3)], default_completion_tokens: 0, fleet: None };
        let mut s = MemStore::default();
        let est = Amounts::default();
        assert!(l.reserve(&mut s, &A, est, NOW).rejected.is_none());
        assert!(l.reserve(&mut s, &A, est, NOW).rejected.is_none());
        let r = l.reserve(&mut s, &A, est, NOW).rejected.unwrap();
        assert_eq!((r.kind, r.rule.as_str()), (Kind::Requests, "k"));
        assert!(l.reserve(&mut s, &B, est, NOW).rejected.is_none());
        let r = l.reserve(&mut s, &B, est, NOW).rejected.unwrap();
        assert_eq!(r.rule, "t", "the tenant's budget is shared by its keys");
        // B's key reservation was rolled back when the tenant refused.
        let key_b = counter::Cell::decode(&s.get("tg:lim:k:b").unwrap().0.unwrap());
        assert_eq!(key_b.current, 1);
    }

    #[test]
    fn tokens_are_reserved_then_settled() {
        let l = Limits { rules: vec![rule("tpd", Scope::Key, Kind::Tokens, 1000)], default_completion_tokens: 0, fleet: None };
        let mut s = MemStore::default();
        let est = Amounts { tokens: 400, spend: 0 };
        let first = l.reserve(&mut s, &A, est, NOW);
        assert_eq!(first.statuses[0].remaining, 600);
        let second = l.reserve(&mut s, &A, est, NOW);
        assert!(second.rejected.is_none());
        let third = l.reserve(&mut s, &A, est, NOW);
        assert_eq!(third.rejected.as_ref().map(|r| r.kind), Some(Kind::Tokens));
        assert!(third.rejected.unwrap().retry_after > 0);
        // The first used only 50 tokens: 350 come back, so a third fits.
        l.settle(&mut s, &first.held, Amounts { tokens: 50, spend: 0 }, NOW);
        assert!(l.reserve(&mut s, &A, est, NOW).rejected.is_none());
        let c = counter::Cell::decode(&s.get("tg:lim:tpd:a").unwrap().0.unwrap());
        assert_eq!(c.current, 850);
    }

    #[test]
    fn concurrency_is_released_at_the_end() {
        let l = Limits { rules: vec![rule("c", Scope::Key, Kind::Concurrency, 1)], default_completion_tokens: 0, fleet: None };
        let mut s = MemStore::default();
        let one = l.reserve(&mut s, &A, Amounts::default(), NOW);
        let two = l.reserve(&mut s, &A, Amounts::default(), NOW);
        assert_eq!(two.rejected.map(|r| r.kind), Some(Kind::Concurrency));
        l.settle(&mut s, &one.held, Amounts::default(), NOW);
        assert!(l.reserve(&mut s, &A, Amounts::default(), NOW).rejected.is_none());
    }

    #[test]
    fn shadow_limits_count_but_never_reject() {
        let mut r = rule("s", Scope::Key, Kind::Requests, 1);
        r.shadow = true;
        let l = Limits { rules: vec![r], default_completion_tokens: 0, fleet: None };
        let mut s = MemStore::default();
        assert!(l.reserve(&mut s, &A, Amounts::default(), NOW).shadow_rejected.is_empty());
        let o = l.reserve(&mut s, &A, Amounts::default(), NOW);
        assert!(o.rejected.is_none());
        assert_eq!(o.shadow_rejected, vec![Kind::Requests]);
        assert!(o.statuses.is_empty(), "shadow limits send no headers");
    }

    #[test]
    fn model_and_subject_filters() {
        let mut r = rule("m", Scope::Key, Kind::Requests, 0);
        r.model = Some("gpt-4o".into());
        let mut only_b = rule("b", Scope::Key, Kind::Requests, 0);
        only_b.subjects = vec!["b".into()];
        let l = Limits { rules: vec![r, only_b], default_completion_tokens: 0, fleet: None };
        let mut s = MemStore::default();
        assert!(l.reserve(&mut s, &A, Amounts::default(), NOW).rejected.is_none());
        assert!(l.reserve(&mut s, &B, Amounts::default(), NOW).rejected.is_some());
        let other = Who { models: &["gpt-4o"], ..A };
        assert!(l.reserve(&mut s, &other, Amounts::default(), NOW).rejected.is_some());
    }

    #[test]
    fn rolling_windows_carry_the_previous_bucket_over() {
        let mut r = rule("rpm", Scope::Key, Kind::Requests, 4);
        r.window = Some(Window { period: Period::Minute, rolling: true });
        let l = Limits { rules: vec![r], default_completion_tokens: 0, fleet: None };
        let mut s = MemStore::default();
        let t0 = 1_773_578_040; // a minute boundary
        for _ in 0..4 {
            assert!(l.reserve(&mut s, &A, Amounts::default(), t0 + 50).rejected.is_none());
        }
        // 15 s into the next minute, 3/4 of the previous minute's 4 still count: 3 + 1 fits, 3 + 2 not.
        assert!(l.reserve(&mut s, &A, Amounts::default(), t0 + 75).rejected.is_none());
        let r = l.reserve(&mut s, &A, Amounts::default(), t0 + 75).rejected.unwrap();
        assert!(r.retry_after >= 1 && r.retry_after <= 45, "{r:?}");
        // A calendar minute would have admitted all of them.
        let mut cal = rule("cal", Scope::Key, Kind::Requests, 4);
        cal.window = Some(Window { period: Period::Minute, rolling: false });
        let l = Limits { rules: vec![cal], default_completion_tokens: 0, fleet: None };
        let mut s = MemStore::default();
        for _ in 0..4 {
            l.reserve(&mut s, &A, Amounts::default(), t0 + 50);
        }
        for _ in 0..4 {
            assert!(l.reserve(&mut s, &A, Amounts::default(), t0 + 75).rejected.is_none());
        }
    }

    #[test]
    fn contention_fails_closed() {
        let l = Limits { rules: vec![rule("k", Scope::Key, Kind::Requests, 10)], default_completion_tokens: 0, fleet: None };
        let mut s = MemStore::conflicting(1);
        let o = l.reserve(&mut s, &A, Amounts::default(), NOW);
        assert!(o.rejected.unwrap().contended);
        assert_eq!(o.conflicts, counter::MAX_ATTEMPTS);
    }

    /// N threads reserve against a budget admitting K while holding their reservations:
    /// exactly K are admitted; settling refunds the unused estimate.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn concurrent_reservations_admit_exactly_the_budget() {
        let l = std::sync::Arc::new(Limits { rules: vec![rule("tpd", Scope::Tenant, Kind::Tokens, 10 * 100 + 50)], default_completion_tokens: 0, fleet: None });
        let s = MemStore::default();
        let handles: Vec<_> = (0..40)
            .map(|_| {
                let (l, mut s) = (l.clone(), s.clone());
                std::thread::spawn(move || l.reserve(&mut s, &A, Amounts { tokens: 100, spend: 0 }, NOW))
            })
            .collect();
        let outcomes: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(outcomes.iter().filter(|o| o.rejected.is_none()).count(), 10);
        let mut s2 = s.clone();
        for o in &outcomes {
            l.settle(&mut s2, &o.held, Amounts { tokens: 60, spend: 0 }, NOW);
        }
        assert_eq!(counter::Cell::decode(&s.get("tg:lim:tpd:acme").unwrap().0.unwrap()).current, 600);
    }
}
