//! One counter in the shared store, updated by compare-and-swap with bounded retries.
//!
//! Value layout (24 bytes, little-endian): `bucket start (u64) | current (u64) | previous (u64)`.
//! The key never changes (`tg:lim:<limit-id>:<subject>`), so the store holds one entry per
//! limit and subject however long the proxy runs; a value whose bucket start is behind the
//! clock is rolled forward on read (its `current` becomes `previous` when it is the bucket just
//! before, else both become 0). A value of another length reads as zero.

use super::store::{SharedStore, StoreError, CREATE_CAS};
use super::window::Window;

/// Attempts per update before giving up; each failed attempt is a CAS conflict.
pub const MAX_ATTEMPTS: u32 = 64;

/// A counter's decoded value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    pub start: u64,
    pub current: u64,
    pub previous: u64,
}

impl Cell {
    pub fn decode(b: &[u8]) -> Cell {
        let word = |i: usize| b.get(i * 8..i * 8 + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes);
        if b.len() != 24 {
            return Cell::default();
        }
        Cell { start: word(0), current: word(1), previous: word(2) }
    }

    pub fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        for (chunk, v) in out.chunks_exact_mut(8).zip([self.start, self.current, self.previous]) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// The cell as of bucket `start` (`None` window: a gauge that never rolls).
    pub fn rolled(self, window: Option<Window>, start: u64) -> Cell {
        let Some(w) = window else { return self };
        if self.start == start {
            self
        } else if self.start == w.previous(start) {
            Cell { start, current: 0, previous: self.current }
        } else {
            Cell { start, current: 0, previous: 0 }
        }
    }
}

/// What an update found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// The cell after the update (or as found, when refused).
    pub cell: Cell,
    /// The amount was added.
    pub applied: bool,
    /// CAS conflicts met on the way.
    pub conflicts: u32,
}

/// Why an update could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterError {
    /// Still conflicting after `MAX_ATTEMPTS`.
    Contended { conflicts: u32 },
    /// The store refused the call.
    Unavailable,
}

/// Adds `amount` to the current bucket, unless `admit(found cell)` says no (the cell is then
/// returned unchanged with `applied: false`). The check and the write are one CAS step, so two
/// workers can never both pass a check that only one of them fits.
pub fn add(
    store: &mut impl SharedStore,
    key: &str,
    window: Option<Window>,
    start: u64,
    amount: u64,
    admit: &dyn Fn(&Cell) -> bool,
) -> Result<Update, CounterError> {
    let mut conflicts = 0;
    while conflicts < MAX_ATTEMPTS {
        let (bytes, cas) = store.get(key).map_err(|_| CounterError::Unavailable)?;
        let cell = bytes.as_deref().map(Cell::decode).unwrap_or_default().rolled(window, start);
        if !admit(&cell) {
            return Ok(Update { cell, applied: false, conflicts });
        }
        let next = Cell { current: cell.current.saturating_add(amount), ..cell };
        match store.set(key, &next.encode(), cas.unwrap_or(CREATE_CAS)) {
            Ok(()) => return Ok(Update { cell: next, applied: true, conflicts }),
            Err(StoreError::CasMismatch) => conflicts += 1,
            Err(StoreError::Unavailable) => return Err(CounterError::Unavailable),
        }
    }
    Err(CounterError::Contended { conflicts })
}

/// Settles a reservation made in bucket `reserved_in`: adds `charge` and takes back `refund`
/// (saturating at 0) in that bucket, wherever it now sits (current or previous). A bucket that
/// has left the window is not touched: its count no longer matters.
pub fn settle(
    store: &mut impl SharedStore,
    key: &str,
    window: Option<Window>,
    now_start: u64,
    reserved_in: u64,
    charge: u64,
    refund: u64,
) -> Result<u32, CounterError> {
    if charge == refund {
        return Ok(0);
    }
    let fix = |v: u64| v.saturating_add(charge).saturating_sub(refund);
    let mut conflicts = 0;
    while conflicts < MAX_ATTEMPTS {
        let (bytes, cas) = store.get(key).map_err(|_| CounterError::Unavailable)?;
        let cell = bytes.as_deref().map(Cell::decode).unwrap_or_default().rolled(window, now_start);
        let next = if cell.start == reserved_in {
            Cell { current: fix(cell.current), ..cell }
        } else if window.is_some_and(|w| w.previous(cell.start) == reserved_in) {
            Cell { previous: fix(cell.previous), ..cell }
        } else {
            return Ok(conflicts);
        };
        match store.set(key, &next.encode(), cas.unwrap_or(CREATE_CAS)) {
            Ok(()) => return Ok(conflicts),
            Err(StoreError::CasMismatch) => conflicts += 1,
            Err(StoreError::Unavailable) => return Err(CounterError::Unavailable),
        }
    }
    Err(CounterError::Contended { conflicts })
}

#[cfg(test)]
mod tests {
    use super::super::store::MemStore;
    use super::super::window::Period;
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const MIN: Option<Window> = Some(Window { period: Period::Minute, rolling: false });

    #[test]
    fn cells_round_trip_and_foreign_values_read_as_zero() {
        let c = Cell { start: 60, current: 7, previous: u64::MAX };
        assert_eq!(Cell::decode(&c.encode()), c);
        assert_eq!(Cell::decode(b"junk"), Cell::default());
    }

    #[test]
    fn windows_roll_on_read() {
        let c = Cell { start: 60, current: 7, previous: 3 };
        assert_eq!(c.rolled(MIN, 60), c);
        assert_eq!(c.rolled(MIN, 120), Cell { start: 120, current: 0, previous: 7 });
        assert_eq!(c.rolled(MIN, 600), Cell { start: 600, current: 0, previous: 0 });
        assert_eq!(c.rolled(None, 600), c, "gauges never roll");
    }

    #[test]
    fn add_checks_and_writes_in_one_step() {
        let mut s = MemStore::default();
        let fits = |c: &Cell| c.current + 4 <= 10;
        assert!(add(&mut s, "k", MIN, 60, 4, &fits).unwrap().applied);
        assert!(add(&mut s, "k", MIN, 60, 4, &fits).unwrap().applied);
        let u = add(&mut s, "k", MIN, 60, 4, &fits).unwrap();
        assert!(!u.applied);
        assert_eq!(u.cell.current, 8);
        assert!(add(&mut s, "k", MIN, 120, 4, &fits).unwrap().applied, "a new window starts empty");
    }

    #[test]
    fn conflicts_are_retried_and_bounded() {
        let mut s = MemStore::conflicting(2);
        let u = add(&mut s, "k", MIN, 60, 1, &|_| true).unwrap();
        let u2 = add(&mut s, "k", MIN, 60, 1, &|_| true).unwrap();
        assert_eq!(u.conflicts + u2.conflicts, 1);
        assert_eq!(u2.cell.current, 2);
        let mut always = MemStore::conflicting(1);
        assert_eq!(add(&mut always, "k", MIN, 60, 1, &|_| true), Err(CounterError::Contended { conflicts: MAX_ATTEMPTS }));
    }

    #[test]
    fn settle_charges_or_refunds_the_reserving_bucket() {
        let mut s = MemStore::default();
        add(&mut s, "k", MIN, 60, 100, &|_| true).unwrap();
        settle(&mut s, "k", MIN, 60, 60, 30, 100).unwrap();
        assert_eq!(Cell::decode(&s.get("k").unwrap().0.unwrap()).current, 30);
        // The window moved on: the reservation's bucket is now the previous one.
        add(&mut s, "k", MIN, 120, 5, &|_| true).unwrap();
        settle(&mut s, "k", MIN, 120, 60, 50, 0).unwrap();
        assert_eq!(Cell::decode(&s.get("k").unwrap().0.unwrap()), Cell { start: 120, current: 5, previous: 80 });
        // Too old: untouched.
        settle(&mut s, "k", MIN, 120, 0, 0, 1000).unwrap();
        assert_eq!(Cell::decode(&s.get("k").unwrap().0.unwrap()).previous, 80);
        // Refunds never go below zero.
        settle(&mut s, "k", MIN, 120, 120, 0, 1000).unwrap();
        assert_eq!(Cell::decode(&s.get("k").unwrap().0.unwrap()).current, 0);
    }

    #[test]
    fn a_creating_write_never_overwrites_a_key_created_meanwhile() {
        let mut s = MemStore::default();
        s.set("k", &Cell { start: 60, current: 5, previous: 0 }.encode(), 0).unwrap();
        assert_eq!(s.set("k", &Cell::default().encode(), CREATE_CAS), Err(StoreError::CasMismatch));
    }

    /// Many threads race on one hot key with a cap: exactly the cap is admitted, none is lost.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn threads_never_overshoot_or_lose_updates() {
        let s = MemStore::default();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let mut s = s.clone();
                std::thread::spawn(move || {
                    let mut admitted = 0u64;
                    for _ in 0..500 {
                        loop {
                            match add(&mut s, "hot", MIN, 60, 1, &|c| c.current < 1000) {
                                Ok(u) => {
                                    admitted += u64::from(u.applied);
                                    break;
                                }
                                Err(CounterError::Contended { .. }) => continue,
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                    }
                    admitted
                })
            })
            .collect();
        let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 1000);
        assert_eq!(Cell::decode(&s.get("hot").unwrap().0.unwrap()).current, 1000);
    }
}
