//! Routing strategies: which of a route's eligible (not cooled) targets goes first.
//!
//! Pure: the caller reads the signals (latency averages, in-flight counts, prices) from shared
//! data and the config, and passes them in as [`Candidate`]s.

/// How a route picks its first target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// A weighted random choice (the default).
    #[default]
    Weighted,
    /// The first eligible target in config order.
    Priority,
    /// The lowest moving average of `metric`; `exploration_permille` of requests pick uniformly
    /// instead, so that a target that got faster is noticed.
    Latency { metric: LatencyMetric, exploration_permille: u32 },
    /// The fewest requests in flight (ties split at random).
    LeastBusy,
    /// The cheapest priced target; `max_price` (micro-units per million input plus per million
    /// output tokens) drops dearer and unpriced targets from the route.
    Cost { max_price: Option<u64> },
}

/// What the latency strategy averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyMetric {
    /// Time to the first response byte, milliseconds.
    Ttft,
    /// Duration per output token, microseconds.
    PerToken,
}

impl LatencyMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyMetric::Ttft => "ttft",
            LatencyMetric::PerToken => "per_token",
        }
    }
}

/// What a strategy knows of one eligible target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Candidate {
    pub weight: u32,
    /// The moving average, `None` before the first sample.
    pub latency: Option<u64>,
    pub in_flight: u64,
    /// Micro-units per million input plus per million output tokens; `None` when unpriced.
    pub price: Option<u64>,
}

/// Index (into `candidates`) of the target to try first; `None` when there are none.
pub fn choose(strategy: Strategy, candidates: &[Candidate], seed: u64) -> Option<usize> {
    if candidates.len() <= 1 {
        return (!candidates.is_empty()).then_some(0);
    }
    Some(match strategy {
        Strategy::Weighted => weighted(candidates, seed),
        Strategy::Priority => 0,
        Strategy::Latency { exploration_permille, .. } => {
            if (seed >> 40) % 1000 < u64::from(exploration_permille) {
                // Spread over all candidates, independent of the bits used above.
                (seed % candidates.len() as u64) as usize
            } else {
                // An untried target goes first: it needs a sample.
                lowest(candidates, seed, |c| c.latency.unwrap_or(0))
            }
        }
        Strategy::LeastBusy => lowest(candidates, seed, |c| c.in_flight),
        Strategy::Cost { .. } => lowest(candidates, seed, |c| c.price.unwrap_or(u64::MAX)),
    })
}

/// A weighted random pick; all-zero weights pick the first.
fn weighted(candidates: &[Candidate], seed: u64) -> usize {
    let total: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
    if total == 0 {
        return 0;
    }
    let mut point = seed % total;
    for (i, c) in candidates.iter().enumerate() {
        let w = u64::from(c.weight);
        if point < w {
            return i;
        }
        point -= w;
    }
    0
}

/// The candidate with the lowest `key`; ties are split by `seed`.
fn lowest(candidates: &[Candidate], seed: u64, key: impl Fn(&Candidate) -> u64) -> usize {
    let best = candidates.iter().map(&key).min().unwrap_or(0);
    let tied = candidates.iter().filter(|c| key(c) == best).count().max(1);
    let pick = (seed % tied as u64) as usize;
    candidates.iter().enumerate().filter(|(_, c)| key(c) == best).nth(pick).map_or(0, |(i, _)| i)
}

/// Folds one sample into a moving average (weight 1/4 for the new sample, so a change shows
/// within a handful of requests); the first sample is the average.
pub fn average(previous: Option<u64>, sample: u64) -> u64 {
    match previous {
        None => sample,
        Some(p) => p - p / 4 + sample / 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn c(weight: u32, latency: Option<u64>, in_flight: u64, price: Option<u64>) -> Candidate {
        Candidate { weight, latency, in_flight, price }
    }

    #[test]
    fn weighted_and_priority() {
        let cs = [c(3, None, 0, None), c(1, None, 0, None)];
        let firsts = (0..400).filter(|s| choose(Strategy::Weighted, &cs, *s) == Some(0)).count();
        assert_eq!(firsts, 300);
        assert!((0..50).all(|s| choose(Strategy::Priority, &cs, s) == Some(0)));
        assert_eq!(choose(Strategy::Priority, &[], 0), None);
        assert_eq!(choose(Strategy::Weighted, &[c(0, None, 0, None), c(0, None, 0, None)], 7), Some(0));
    }

    #[test]
    fn latency_prefers_the_fastest_and_tries_the_untried() {
        let none = Strategy::Latency { metric: LatencyMetric::Ttft, exploration_permille: 0 };
        let cs = [c(1, Some(300), 0, None), c(1, Some(20), 0, None), c(1, Some(90), 0, None)];
        assert!((0..100).all(|s| choose(none, &cs, s) == Some(1)));
        let cs2 = [c(1, Some(300), 0, None), c(1, None, 0, None)];
        assert_eq!(choose(none, &cs2, 0), Some(1), "no sample yet: try it");
        // A tenth explores: over many seeds, the slow targets get some traffic.
        let some = Strategy::Latency { metric: LatencyMetric::Ttft, exploration_permille: 100 };
        let seeds = (0..10_000u64).map(|s| s.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let slow = seeds.filter(|s| choose(some, &cs, *s) != Some(1)).count();
        assert!((400..900).contains(&slow), "{slow}");
    }

    #[test]
    fn least_busy_and_cost() {
        let cs = [c(1, None, 4, Some(900)), c(1, None, 1, None), c(1, None, 1, Some(300)), c(1, None, 9, Some(100))];
        let picks: std::collections::BTreeSet<_> = (0..20).filter_map(|s| choose(Strategy::LeastBusy, &cs, s)).collect();
        assert_eq!(picks.into_iter().collect::<Vec<_>>(), vec![1, 2], "ties split");
        assert!((0..20).all(|s| choose(Strategy::Cost { max_price: None }, &cs, s) == Some(3)));
    }

    #[test]
    fn moving_average() {
        assert_eq!(average(None, 100), 100);
        assert_eq!(average(Some(100), 20), 80);
        let mut a = Some(300);
        for _ in 0..10 {
            a = Some(average(a, 10));
        }
        assert!(a.unwrap() < 30);
    }
}
