//! The shared-data value of one target (provider + upstream model): its breaker health, its
//! latency average and its in-flight count, in one value so that planning reads each target once.
//!
//! Layout (56 bytes, little-endian): the breaker's 32 bytes (see [`Health`]), then `latency
//! average (u64) | latency samples (u64) | in flight (u64)`. A shorter value reads what it has and
//! zeros for the rest.

use super::health::Health;

/// One target's record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    pub health: Health,
    pub latency: u64,
    pub samples: u64,
    pub in_flight: u64,
}

impl Record {
    pub fn decode(b: &[u8]) -> Record {
        let word = |i: usize| b.get(32 + i * 8..40 + i * 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes);
        Record { health: b.get(..32).map_or_else(Health::default, Health::decode), latency: word(0), samples: word(1), in_flight: word(2) }
    }

    pub fn encode(&self) -> [u8; 56] {
        let mut out = [0u8; 56];
        out[..32].copy_from_slice(&self.health.encode());
        for (i, v) in [self.latency, self.samples, self.in_flight].into_iter().enumerate() {
            out[32 + i * 8..40 + i * 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// The latency average, once there is a sample.
    pub fn average(&self) -> Option<u64> {
        (self.samples > 0).then_some(self.latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn round_trip() {
        let r = Record { health: Health { consecutive: 2, open: true, open_until_ms: 9, last_failure_ms: 8, probe_since_ms: 7 }, latency: 120, samples: 3, in_flight: 4 };
        assert_eq!(Record::decode(&r.encode()), r);
        assert_eq!(Record::decode(&r.encode()[..32]), Record { health: r.health, ..Record::default() });
        assert_eq!(Record::decode(b""), Record::default());
        assert_eq!((r.average(), Record::default().average()), (Some(120), None));
    }
}
