//! The circuit breaker of one target (provider + upstream model), as pure state transitions.
//!
//! The state lives in shared data (one value per target, updated by compare-and-swap, so every
//! worker sees a cooldown at once); this module only decodes, decides and encodes it:
//! - **closed**: requests pass; failures of the configured classes count up, any success resets
//!   the count; `failures` in a row open the breaker for `cooldown_ms`. A 429 carrying
//!   `Retry-After` opens it at once for that long (capped at `max_cooldown_ms`): the provider said
//!   when to come back.
//! - **open** (cooled): the target is skipped when planning, unless every target is cooled.
//! - **half-open**: the cooldown is over; the first request to claim the probe goes, the others
//!   still skip the target until the probe answers (or `probe_timeout_ms` passes). A success
//!   closes the breaker, a failure opens it again.
//!
//! Value layout (32 bytes, little-endian): `consecutive (u32) | open (u32) | open_until_ms (u64)
//! | last_failure_ms (u64) | probe_since_ms (u64)`. A value of another length reads as closed.

/// Why an attempt failed, as far as the breaker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A 5xx answer from the provider.
    ServerError,
    /// A 429 answer.
    RateLimited,
    /// Envoy could not connect.
    ConnectFailure,
    /// The connection was reset or closed before a response.
    Reset,
    /// Envoy's route timeout fired.
    Timeout,
}

impl Failure {
    /// Config names, in bit order.
    pub const NAMES: [&'static str; 5] = ["5xx", "429", "connect_failure", "reset", "timeout"];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub fn parse(name: &str) -> Option<Failure> {
        let all = [Failure::ServerError, Failure::RateLimited, Failure::ConnectFailure, Failure::Reset, Failure::Timeout];
        Failure::NAMES.iter().position(|n| *n == name).and_then(|i| all.get(i).copied())
    }

    /// Classifies a response: its status and, for a 5xx, Envoy's `response.code_details`
    /// (which names a connect failure, a reset or a timeout of Envoy's own making).
    pub fn classify(status: u16, details: &str) -> Option<Failure> {
        match status {
            429 => Some(Failure::RateLimited),
            500..=599 if details.contains("timeout") => Some(Failure::Timeout),
            500..=599 if details.contains("connection_failure") => Some(Failure::ConnectFailure),
            500..=599 if details.contains("reset") || details.contains("termination") => Some(Failure::Reset),
            500..=599 => Some(Failure::ServerError),
            _ => None,
        }
    }
}

/// A set of failure classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classes(u8);

impl Classes {
    pub const ALL: Classes = Classes(0b1_1111);

    pub fn of(failures: impl IntoIterator<Item = Failure>) -> Classes {
        Classes(failures.into_iter().fold(0, |acc, f| acc | f.bit()))
    }

    pub fn contains(self, f: Failure) -> bool {
        self.0 & f.bit() != 0
    }
}

/// A breaker's settings (`breaker` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    pub cooldown_ms: u64,
    /// The cap on a `Retry-After` cooldown.
    pub max_cooldown_ms: u64,
    /// How long a claimed probe keeps others off before another may probe.
    pub probe_timeout_ms: u64,
    pub classes: Classes,
}

/// What one attempt's answer says about its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A failure, with the `Retry-After` it carried (milliseconds).
    Failure(Failure, Option<u64>),
    /// Neither (a client error such as 400): the count stays as it is.
    Neutral,
}

/// A target's state as seen at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    /// The gauge value: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> u64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        }
    }
}

/// Whether a planner may send a request to the target now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Pass,
    /// Half-open and no probe in flight: the request may claim the probe.
    Probe,
    Cooled,
}

/// A state change, counted per target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened,
    HalfOpened,
    Closed,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Opened => "opened",
            Transition::HalfOpened => "half_opened",
            Transition::Closed => "closed",
        }
    }
}

/// One target's stored health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Health {
    pub consecutive: u32,
    pub open: bool,
    pub open_until_ms: u64,
    pub last_failure_ms: u64,
    pub probe_since_ms: u64,
}

impl Health {
    pub fn decode(b: &[u8]) -> Health {
        if b.len() != 32 {
            return Health::default();
        }
        let w4 = |i: usize| b.get(i..i + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map_or(0, u32::from_le_bytes);
        let w8 = |i: usize| b.get(i..i + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes);
        Health { consecutive: w4(0), open: w4(4) != 0, open_until_ms: w8(8), last_failure_ms: w8(16), probe_since_ms: w8(24) }
    }

    pub fn encode(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[0..4].copy_from_slice(&self.consecutive.to_le_bytes());
        out[4..8].copy_from_slice(&u32::from(self.open).to_le_bytes());
        out[8..16].copy_from_slice(&self.open_until_ms.to_le_bytes());
        out[16..24].copy_from_slice(&self.last_failure_ms.to_le_bytes());
        out[24..32].copy_from_slice(&self.probe_since_ms.to_le_bytes());
        out
    }

    pub fn state(&self, now_ms: u64) -> State {
        if !self.open {
            State::Closed
        } else if now_ms < self.open_until_ms {
            State::Open
        } else {
            State::HalfOpen
        }
    }

    pub fn admit(&self, b: &Breaker, now_ms: u64) -> Admit {
        match self.state(now_ms) {
            State::Closed => Admit::Pass,
            State::Open => Admit::Cooled,
            State::HalfOpen if self.probe_since_ms != 0 && now_ms < self.probe_since_ms.saturating_add(b.probe_timeout_ms) => Admit::Cooled,
            State::HalfOpen => Admit::Probe,
        }
    }

    /// The state after a request claims the probe.
    pub fn probing(self, now_ms: u64) -> Health {
        Health { probe_since_ms: now_ms.max(1), ..self }
    }

    /// The state after an attempt's `outcome`, and the transition it made, if any.
    pub fn record(self, b: &Breaker, outcome: Outcome, now_ms: u64) -> (Health, Option<Transition>) {
        match outcome {
            Outcome::Neutral => (self, None),
            Outcome::Success => {
                let t = self.open.then_some(Transition::Closed);
                (Health { last_failure_ms: self.last_failure_ms, ..Health::default() }, t)
            }
            Outcome::Failure(f, _) if !b.classes.contains(f) => (self, None),
            Outcome::Failure(f, retry_after) => {
                let consecutive = self.consecutive.saturating_add(1);
                let mut next = Health { consecutive, last_failure_ms: now_ms, ..self };
                let told = retry_after.filter(|_| f == Failure::RateLimited).map(|ms| ms.min(b.max_cooldown_ms));
                let was = self.state(now_ms);
                if was != State::Closed || consecutive >= b.failures || told.is_some() {
                    let period = told.unwrap_or(b.cooldown_ms);
                    next.open = true;
                    next.open_until_ms = now_ms.saturating_add(period).max(if was == State::Open { self.open_until_ms } else { 0 });
                    next.probe_since_ms = 0;
                    let t = (was != State::Open).then_some(Transition::Opened);
                    return (next, t);
                }
                (next, None)
            }
        }
    }
}

/// The cooldown a `Retry-After` value asks for, in milliseconds: delay-seconds only (an
/// HTTP-date is left to the configured cooldown).
pub fn retry_after_ms(value: &str) -> Option<u64> {
    value.trim().parse::<u64>().ok().map(|s| s.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const B: Breaker = Breaker { failures: 3, cooldown_ms: 10_000, max_cooldown_ms: 60_000, probe_timeout_ms: 5_000, classes: Classes::ALL };

    fn fail(h: Health, now: u64) -> (Health, Option<Transition>) {
        h.record(&B, Outcome::Failure(Failure::ServerError, None), now)
    }

    #[test]
    fn consecutive_failures_open_then_probe_then_close() {
        let (h, t) = fail(Health::default(), 1);
        assert_eq!((h.state(1), t), (State::Closed, None));
        let (h, _) = fail(h, 2);
        let (h, t) = fail(h, 3);
        assert_eq!((h.state(3), t, h.admit(&B, 3)), (State::Open, Some(Transition::Opened), Admit::Cooled));
        assert_eq!(h.admit(&B, 10_002), Admit::Cooled);
        assert_eq!((h.state(10_003), h.admit(&B, 10_003)), (State::HalfOpen, Admit::Probe));
        let p = h.probing(10_003);
        assert_eq!(p.admit(&B, 10_004), Admit::Cooled, "one probe at a time");
        assert_eq!(p.admit(&B, 15_003), Admit::Probe, "a lost probe times out");
        let (c, t) = p.record(&B, Outcome::Success, 10_100);
        assert_eq!((c.state(10_100), t, c.consecutive, c.last_failure_ms), (State::Closed, Some(Transition::Closed), 0, 3));
    }

    #[test]
    fn a_success_resets_the_count_and_a_failed_probe_reopens() {
        let (h, _) = fail(Health::default(), 1);
        let (h, _) = fail(h, 2);
        let (h, t) = h.record(&B, Outcome::Success, 3);
        assert_eq!((h.consecutive, t), (0, None));
        let (h, _) = fail(fail(fail(h, 4).0, 5).0, 6);
        let probe = h.probing(10_007);
        let (h, t) = fail(probe, 10_008);
        assert_eq!((h.state(10_008), t, h.open_until_ms, h.probe_since_ms), (State::Open, Some(Transition::Opened), 20_008, 0));
        // A late failure while open extends nothing backwards and counts no new transition.
        let (h2, t) = fail(h, 10_009);
        assert_eq!((h2.open_until_ms, t), (20_009, None));
    }

    #[test]
    fn retry_after_opens_at_once_capped() {
        let (h, t) = Health::default().record(&B, Outcome::Failure(Failure::RateLimited, Some(2_000)), 100);
        assert_eq!((h.state(100), t, h.open_until_ms), (State::Open, Some(Transition::Opened), 2_100));
        let (h, _) = Health::default().record(&B, Outcome::Failure(Failure::RateLimited, Some(3_600_000)), 0);
        assert_eq!(h.open_until_ms, 60_000);
        // A 429 without Retry-After counts like any failure.
        let (h, _) = Health::default().record(&B, Outcome::Failure(Failure::RateLimited, None), 0);
        assert_eq!((h.state(0), h.consecutive), (State::Closed, 1));
    }

    #[test]
    fn unconfigured_classes_and_neutral_outcomes_count_nothing() {
        let only_5xx = Breaker { classes: Classes::of([Failure::ServerError]), ..B };
        let (h, t) = Health::default().record(&only_5xx, Outcome::Failure(Failure::RateLimited, Some(1_000)), 0);
        assert_eq!((h, t), (Health::default(), None));
        assert_eq!(Health::default().record(&B, Outcome::Neutral, 0).0, Health::default());
    }

    #[test]
    fn round_trip_and_classify() {
        let h = Health { consecutive: 7, open: true, open_until_ms: u64::MAX, last_failure_ms: 5, probe_since_ms: 9 };
        assert_eq!(Health::decode(&h.encode()), h);
        assert_eq!(Health::decode(b"short"), Health::default());
        assert_eq!(Failure::classify(429, ""), Some(Failure::RateLimited));
        assert_eq!(Failure::classify(503, "via_upstream"), Some(Failure::ServerError));
        assert_eq!(Failure::classify(503, "upstream_reset_before_response_started{connection_failure}"), Some(Failure::ConnectFailure));
        assert_eq!(Failure::classify(503, "upstream_reset_before_response_started{connection_termination}"), Some(Failure::Reset));
        assert_eq!(Failure::classify(504, "upstream_response_timeout"), Some(Failure::Timeout));
        assert_eq!((Failure::classify(400, ""), Failure::classify(200, "")), (None, None));
        assert_eq!(Failure::parse("connect_failure"), Some(Failure::ConnectFailure));
        assert_eq!(Failure::parse("4xx"), None);
        assert_eq!(retry_after_ms(" 2 "), Some(2_000));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
