//! Budget thresholds: which of a rule's thresholds a count has crossed for the first time in
//! its window. A marker in shared data (`tg:alert:<rule>:<subject>`) holds the window's start
//! and a bit per threshold already fired; it is updated by compare-and-swap, so whichever worker
//! sets a bit is the only one that fires it: once per window per subject, never twice.
//!
//! Value layout (16 bytes, little-endian): `window start (u64) | fired bits (u64)`.

use crate::limits::{SharedStore, StoreError, CREATE_CAS, MAX_ATTEMPTS};

/// Thresholds are in basis points of the limit (0.8 is 8000); at most 64 per rule.
pub const MAX_THRESHOLDS: usize = 64;

fn decode(b: &[u8]) -> (u64, u64) {
    let word = |i: usize| b.get(i * 8..i * 8 + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes);
    if b.len() == 16 {
        (word(0), word(1))
    } else {
        (0, 0)
    }
}

fn encode(start: u64, bits: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&start.to_le_bytes());
    out[8..].copy_from_slice(&bits.to_le_bytes());
    out
}

/// The thresholds (basis points, in `thresholds` order) that `used` out of `limit` reaches and
/// that nobody fired yet in the window starting at `start`; they are marked fired before this
/// returns. `Err` when the marker could not be written (contended or the store refused): then
/// nothing is fired here, and the next settlement tries again.
pub fn crossed(store: &mut impl SharedStore, key: &str, start: u64, used: u64, limit: u64, thresholds: &[u32]) -> Result<Vec<u32>, StoreError> {
    let reached: u64 = thresholds
        .iter()
        .take(MAX_THRESHOLDS)
        .enumerate()
        .filter(|(_, t)| u128::from(used) * 10_000 >= u128::from(limit) * u128::from(**t))
        .fold(0, |bits, (i, _)| bits | (1 << i));
    if reached == 0 {
        return Ok(Vec::new());
    }
    for _ in 0..MAX_ATTEMPTS {
        let (bytes, cas) = store.get(key)?;
        let (at, fired) = bytes.as_deref().map_or((0, 0), decode);
        let fired = if at == start { fired } else { 0 };
        let new = reached & !fired;
        if new == 0 {
            return Ok(Vec::new());
        }
        match store.set(key, &encode(start, fired | new), cas.unwrap_or(CREATE_CAS)) {
            Ok(()) => return Ok(thresholds.iter().enumerate().filter(|(i, _)| new & (1 << i) != 0).map(|(_, t)| *t).collect()),
            Err(StoreError::CasMismatch) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::CasMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MemStore;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const T: &[u32] = &[5000, 8000, 10_000];

    #[test]
    fn each_threshold_fires_once_per_window() {
        let mut s = MemStore::default();
        assert_eq!(crossed(&mut s, "k", 60, 49, 100, T).unwrap(), Vec::<u32>::new());
        assert_eq!(crossed(&mut s, "k", 60, 50, 100, T).unwrap(), vec![5000]);
        assert_eq!(crossed(&mut s, "k", 60, 70, 100, T).unwrap(), Vec::<u32>::new(), "0.5 already fired");
        assert_eq!(crossed(&mut s, "k", 60, 120, 100, T).unwrap(), vec![8000, 10_000], "a jump crosses two at once");
        assert_eq!(crossed(&mut s, "k", 60, 120, 100, T).unwrap(), Vec::<u32>::new());
        assert_eq!(crossed(&mut s, "k", 120, 60, 100, T).unwrap(), vec![5000], "a new window fires again");
    }

    #[test]
    fn conflicts_are_retried() {
        let mut s = MemStore::conflicting(2);
        assert_eq!(crossed(&mut s, "k", 60, 90, 100, T).unwrap(), vec![5000, 8000]);
    }

    /// Many threads cross the same thresholds at once: each fires exactly once in all.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn racing_threads_fire_each_threshold_exactly_once() {
        let s = MemStore::default();
        let handles: Vec<_> = (0..8u64)
            .map(|i| {
                let mut s = s.clone();
                std::thread::spawn(move || (0..50u64).flat_map(|j| crossed(&mut s, "hot", 60, i * 5 + j * 3, 100, T).unwrap()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u32> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, T.to_vec());
    }
}
