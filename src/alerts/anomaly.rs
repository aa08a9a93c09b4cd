//! Spend and token anomalies: each subject's amount in the current window against its own
//! baseline, an exponentially weighted moving average of its past windows, kept in shared data
//! (`tg:anom:<rule>:<subject>`) and updated by compare-and-swap like the limits' counters.
//!
//! A window is anomalous when its amount exceeds `factor` × baseline **and** the absolute
//! `floor`. The check runs as each request settles, so it fires during the window, as soon as
//! the amount so far is over (a partial window can only under-state the rate). It fires once
//! per window per subject: the cell records the window it fired in.
//!
//! What the detector cannot see, and what it does then:
//! - **No history.** A new subject (or one idle for more than [`MAX_GAP`] windows) has no
//!   baseline: the first window it is seen in is partial and is not learned from, and nothing
//!   fires until `min_windows` complete windows have been learned. Budgets still apply.
//! - **Slow drift.** A rate that grows a little each window moves the baseline with it.
//! - **Idle windows** count as zero, so a subject that is busy only in office hours has a low
//!   baseline at the start of the day: use day windows, or a floor above a normal morning.
//! - **Per Envoy.** Shared data is per Envoy (all its workers); a fleet spreads a subject's
//!   traffic over several detectors, each seeing its share.
//! - **What fired is not learned.** A window that fired is learned as `factor` × baseline at
//!   most, so a runaway does not teach the baseline that running away is normal.
//!
//! Value layout (48 bytes, little-endian u64s): `window start | amount | baseline | windows
//! learned | window it fired in | first window seen`.

use crate::limits::{Kind, Scope, SharedStore, StoreError, CREATE_CAS, MAX_ATTEMPTS};

/// Windows of silence after which a subject starts over with no baseline.
pub const MAX_GAP: u64 = 64;

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Raise the event (webhook, counter, log line) and let requests through.
    Alert,
    /// Raise the event and refuse the subject's requests (429 `anomaly_detected`) until the
    /// window ends, or until the amount is no longer anomalous under the current config (an
    /// operator raised the floor or the factor).
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Block => "block",
        }
    }
}

/// One anomaly rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub id: String,
    pub scope: Scope,
    /// Key ids or tenants; empty: all.
    pub subjects: Vec<String>,
    /// `Tokens`, `Spend` (micro-units) or `Requests`.
    pub kind: Kind,
    pub window_seconds: u64,
    /// `factor` × 100 (a factor of 10 is 1000).
    pub factor_pct: u64,
    /// The amount a window must also exceed.
    pub floor: u64,
    /// Complete windows learned before the rule may fire.
    pub min_windows: u64,
    /// Weight of the newest window in the moving average, percent (1..=100).
    pub smoothing_pct: u64,
    pub action: Action,
}

/// A subject's detector state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnomalyCell {
    pub start: u64,
    pub amount: u64,
    pub baseline: u64,
    pub learned: u64,
    pub fired_in: u64,
    pub born: u64,
}

impl AnomalyCell {
    fn decode(b: &[u8]) -> AnomalyCell {
        let w = |i: usize| b.get(i * 8..i * 8 + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes);
        if b.len() != 48 {
            return AnomalyCell::default();
        }
        AnomalyCell { start: w(0), amount: w(1), baseline: w(2), learned: w(3), fired_in: w(4), born: w(5) }
    }

    fn encode(&self) -> [u8; 48] {
        let mut out = [0u8; 48];
        let words = [self.start, self.amount, self.baseline, self.learned, self.fired_in, self.born];
        for (chunk, v) in out.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// The outcome of adding a request's amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The cell after the update.
    pub cell: AnomalyCell,
    /// This update made the window anomalous: raise the event (exactly one update per window does).
    pub fired: bool,
}

impl Anomaly {
    /// The subject this rule watches `key` / `tenant` under, when it applies.
    pub fn subject<'a>(&self, key: &'a str, tenant: Option<&'a str>) -> Option<&'a str> {
        let s = match self.scope {
            Scope::Key => key,
            Scope::Tenant => tenant?,
        };
        (self.subjects.is_empty() || self.subjects.iter().any(|x| x == s)).then_some(s)
    }

    /// The shared-data key of a subject's cell.
    pub fn key(&self, subject: &str) -> String {
        format!("tg:anom:{}:{subject}", self.id)
    }

    pub fn window_start(&self, now: u64) -> u64 {
        now - now % self.window_seconds.max(1)
    }

    /// `amount` exceeds both `factor` × `baseline` and the floor.
    pub fn anomalous(&self, amount: u64, baseline: u64) -> bool {
        u128::from(amount) * 100 > u128::from(baseline) * u128::from(self.factor_pct) && amount > self.floor
    }

    fn learn(&self, c: &mut AnomalyCell, value: u64) {
        c.baseline = if c.learned == 0 {
            value
        } else {
            let a = u128::from(self.smoothing_pct.clamp(1, 100));
            u64::try_from((u128::from(c.baseline) * (100 - a) + u128::from(value) * a) / 100).unwrap_or(u64::MAX)
        };
        c.learned = c.learned.saturating_add(1);
    }

    /// The cell as of the window starting at `start`: the windows that ended are learned.
    pub fn rolled(&self, c: AnomalyCell, start: u64) -> AnomalyCell {
        let len = self.window_seconds.max(1);
        if c.start == 0 {
            return AnomalyCell { start, born: start, ..AnomalyCell::default() };
        }
        if c.start >= start {
            return c;
        }
        let gap = (start - c.start) / len;
        if gap > MAX_GAP {
            return AnomalyCell { start, born: start, ..AnomalyCell::default() };
        }
        let mut next = AnomalyCell { start, amount: 0, fired_in: c.fired_in, ..c };
        // The first window is partial (the subject appeared during it): not learned.
        if c.start != c.born {
            let cap = u64::try_from(u128::from(c.baseline) * u128::from(self.factor_pct) / 100).unwrap_or(u64::MAX);
            let value = if c.fired_in == c.start { c.amount.min(cap) } else { c.amount };
            self.learn(&mut next, value);
        }
        for _ in 1..gap {
            self.learn(&mut next, 0);
        }
        next
    }

    /// Adds a settled request's `amount` at `now` and decides, in the same compare-and-swap
    /// step, whether this update makes the window anomalous.
    pub fn add(&self, store: &mut impl SharedStore, subject: &str, amount: u64, now: u64) -> Result<Verdict, StoreError> {
        let key = self.key(subject);
        let start = self.window_start(now);
        for _ in 0..MAX_ATTEMPTS {
            let (bytes, cas) = store.get(&key)?;
            let cell = self.rolled(bytes.as_deref().map(AnomalyCell::decode).unwrap_or_default(), start);
            let mut next = AnomalyCell { amount: cell.amount.saturating_add(amount), ..cell };
            let fired = next.fired_in != start && next.learned >= self.min_windows.max(1) && self.anomalous(next.amount, next.baseline);
            if fired {
                next.fired_in = start;
            }
            if next == cell && bytes.is_some() {
                return Ok(Verdict { cell, fired: false });
            }
            match store.set(&key, &next.encode(), cas.unwrap_or(CREATE_CAS)) {
                Ok(()) => return Ok(Verdict { cell: next, fired }),
                Err(StoreError::CasMismatch) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::CasMismatch)
    }

    /// For `block` rules: the seconds until the window ends when the subject's window fired and
    /// is still anomalous under this rule's current settings; `None`: admit.
    pub fn blocked(&self, store: &impl SharedStore, subject: &str, now: u64) -> Option<u64> {
        if self.action != Action::Block {
            return None;
        }
        let start = self.window_start(now);
        let (bytes, _) = store.get(&self.key(subject)).ok()?;
        let c = AnomalyCell::decode(&bytes?);
        let blocked = c.start == start && c.fired_in == start && self.anomalous(c.amount, c.baseline);
        blocked.then(|| (start + self.window_seconds.max(1)).saturating_sub(now).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MemStore;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn rule(action: Action) -> Anomaly {
        Anomaly { id: "a".into(), scope: Scope::Tenant, subjects: vec![], kind: Kind::Tokens, window_seconds: 60, factor_pct: 500, floor: 100, min_windows: 2, smoothing_pct: 50, action }
    }

    #[test]
    fn cells_round_trip() {
        let c = AnomalyCell { start: 1, amount: 2, baseline: 3, learned: 4, fired_in: 5, born: 6 };
        assert_eq!(AnomalyCell::decode(&c.encode()), c);
        assert_eq!(AnomalyCell::decode(b"junk"), AnomalyCell::default());
    }

    #[test]
    fn steady_traffic_never_fires_and_a_burst_fires_once() {
        let r = rule(Action::Alert);
        let mut s = MemStore::default();
        let t0 = 6_000;
        // The first (partial) window is not learned; then two windows of 100 each.
        for w in 0..4u64 {
            for i in 0..10 {
                assert!(!r.add(&mut s, "acme", 10, t0 + w * 60 + i).unwrap().fired, "steady window {w}");
            }
        }
        let burst = t0 + 4 * 60;
        let fired: Vec<bool> = (0..100).map(|i| r.add(&mut s, "acme", 10, burst + i % 50).unwrap().fired).collect();
        assert_eq!(fired.iter().filter(|f| **f).count(), 1, "once per window");
        assert!(fired.iter().position(|f| *f).unwrap() >= 50, "fires once the amount passes 5 x 100");
        assert_eq!(r.blocked(&s, "acme", burst + 55), None, "alert rules never block");
    }

    #[test]
    fn no_baseline_no_alarm_and_the_floor_holds() {
        let r = rule(Action::Alert);
        let mut s = MemStore::default();
        assert!(!r.add(&mut s, "new", 1_000_000, 6_000).unwrap().fired, "a new subject has no baseline");
        assert!(!r.add(&mut s, "new", 1_000_000, 6_060).unwrap().fired, "one learned window is fewer than min_windows");
        let mut small = MemStore::default();
        for w in 0..4u64 {
            r.add(&mut small, "tiny", 1, 6_000 + w * 60).unwrap();
        }
        assert!(!r.add(&mut small, "tiny", 90, 6_000 + 4 * 60).unwrap().fired, "90 x the baseline, but under the floor");
    }

    #[test]
    fn block_holds_until_the_window_ends_or_the_floor_rises() {
        let mut r = rule(Action::Block);
        let mut s = MemStore::default();
        for w in 0..4u64 {
            r.add(&mut s, "acme", 100, 6_000 + w * 60).unwrap();
        }
        let t = 6_000 + 4 * 60;
        assert!(r.add(&mut s, "acme", 1_000, t).unwrap().fired);
        assert_eq!(r.blocked(&s, "acme", t + 10), Some(50));
        assert_eq!(r.blocked(&s, "acme", t + 60), None, "a new window");
        r.floor = 10_000;
        assert_eq!(r.blocked(&s, "acme", t + 10), None, "an operator raised the floor");
    }

    #[test]
    fn fired_windows_are_learned_capped_and_long_gaps_start_over() {
        let r = rule(Action::Alert);
        let c = AnomalyCell { start: 600, amount: 1_000_000, baseline: 100, learned: 5, fired_in: 600, born: 0 };
        let next = r.rolled(c, 660);
        assert_eq!(next.baseline, (100 + 500) / 2, "learned as factor x baseline at most");
        let idle = r.rolled(c, 600 + 60 * (MAX_GAP + 1) + 60);
        assert_eq!((idle.learned, idle.baseline), (0, 0));
    }
}
