//! The webhook outbox of one worker: events wait here until the root context's tick sends
//! them, so no client request ever waits on a delivery. A delivery that fails (no answer in
//! time, a non-2xx status, a cluster that cannot be reached) is retried with exponential
//! backoff up to `max_attempts` in all, then dropped and counted. The queue is bounded.

use std::collections::{HashMap, VecDeque};

/// Events queued at once per worker; past it the oldest waiting one is dropped.
pub const MAX_QUEUED: usize = 1_000;

/// A delivery waiting to be (re)sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The Standard Webhooks message id (the same for every attempt).
    pub id: String,
    pub body: Vec<u8>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time (host nanoseconds).
    pub due_nanos: u64,
}

/// What became of an answered attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Delivered { id: String, attempts: u32 },
    /// Will be retried after `backoff_ms`.
    Retrying { id: String, attempts: u32, backoff_ms: u64 },
    /// Out of attempts: dropped.
    GaveUp { id: String, attempts: u32 },
    /// Not one of ours.
    Unknown,
}

/// Waiting and in-flight deliveries.
#[derive(Debug, Default)]
pub struct Outbox {
    waiting: VecDeque<Pending>,
    in_flight: HashMap<u32, Pending>,
    /// Deliveries dropped because the queue was full, not yet reported.
    pub overflowed: u64,
}

impl Outbox {
    /// Queues a new delivery, due at once.
    pub fn push(&mut self, id: String, body: Vec<u8>, now_nanos: u64) {
        if self.waiting.len() >= MAX_QUEUED {
            self.waiting.pop_front();
            self.overflowed += 1;
        }
        self.waiting.push_back(Pending { id, body, attempts: 0, due_nanos: now_nanos });
    }

    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.in_flight.is_empty()
    }

    /// Takes the deliveries due at `now_nanos`, to send now.
    pub fn due(&mut self, now_nanos: u64) -> Vec<Pending> {
        let (due, later): (Vec<Pending>, Vec<Pending>) = self.waiting.drain(..).partition(|p| p.due_nanos <= now_nanos);
        self.waiting = later.into();
        due
    }

    /// `p` went out as callout `token`.
    pub fn sent(&mut self, token: u32, mut p: Pending) {
        p.attempts += 1;
        self.in_flight.insert(token, p);
    }

    /// `p` could not be sent at all: counts as a failed attempt.
    pub fn unsent(&mut self, mut p: Pending, now_nanos: u64, max_attempts: u32, backoff_ms: u64) -> Answer {
        p.attempts += 1;
        self.retry(p, now_nanos, max_attempts, backoff_ms)
    }

    /// The answer to callout `token`: `ok` when the receiver took it (2xx).
    pub fn answered(&mut self, token: u32, ok: bool, now_nanos: u64, max_attempts: u32, backoff_ms: u64) -> Answer {
        let Some(p) = self.in_flight.remove(&token) else { return Answer::Unknown };
        if ok {
            return Answer::Delivered { id: p.id, attempts: p.attempts };
        }
        self.retry(p, now_nanos, max_attempts, backoff_ms)
    }

    fn retry(&mut self, mut p: Pending, now_nanos: u64, max_attempts: u32, backoff_ms: u64) -> Answer {
        if p.attempts >= max_attempts {
            return Answer::GaveUp { id: p.id, attempts: p.attempts };
        }
        // backoff, 2 x backoff, 4 x backoff, ...
        let wait = backoff_ms.saturating_mul(1 << (p.attempts - 1).min(16));
        p.due_nanos = now_nanos.saturating_add(wait.saturating_mul(1_000_000));
        let answer = Answer::Retrying { id: p.id.clone(), attempts: p.attempts, backoff_ms: wait };
        self.waiting.push_back(p);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const MS: u64 = 1_000_000;

    #[test]
    fn retries_back_off_and_are_bounded() {
        let mut o = Outbox::default();
        o.push("m".into(), b"{}".to_vec(), 0);
        let p = o.due(0).pop().unwrap();
        o.sent(7, p);
        assert_eq!(o.answered(7, false, 0, 3, 100), Answer::Retrying { id: "m".into(), attempts: 1, backoff_ms: 100 });
        assert!(o.due(99 * MS).is_empty());
        let p = o.due(100 * MS).pop().unwrap();
        assert_eq!(o.unsent(p, 100 * MS, 3, 100), Answer::Retrying { id: "m".into(), attempts: 2, backoff_ms: 200 });
        let p = o.due(300 * MS).pop().unwrap();
        o.sent(8, p);
        assert_eq!(o.answered(8, false, 300 * MS, 3, 100), Answer::GaveUp { id: "m".into(), attempts: 3 });
        assert!(o.is_idle());
        assert_eq!(o.answered(8, true, 0, 3, 100), Answer::Unknown);
    }

    #[test]
    fn delivered_on_2xx_and_the_queue_is_bounded() {
        let mut o = Outbox::default();
        for i in 0..=MAX_QUEUED {
            o.push(i.to_string(), Vec::new(), 0);
        }
        assert_eq!(o.overflowed, 1);
        let due = o.due(0);
        assert_eq!((due.len(), due[0].id.as_str()), (MAX_QUEUED, "1"), "the oldest was dropped");
        o.sent(1, due[0].clone());
        assert_eq!(o.answered(1, true, 0, 3, 100), Answer::Delivered { id: "1".into(), attempts: 1 });
    }
}
