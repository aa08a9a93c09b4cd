//! `SharedStore`: the compare-and-swap key-value store counters live in (proxy-wasm shared
//! data in Envoy, one per `vm_id`, shared by every worker thread), and an in-memory one for tests.

/// Why a write did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// Another writer changed the value since it was read: a normal outcome, read and retry.
    CasMismatch,
    /// The host refused the call; the counter cannot be used.
    Unavailable,
}

/// The `cas` to write with when `get` found no value. Envoy inserts a missing key whatever
/// the `cas`, but checks a non-zero `cas` against an existing one, so a creating write with this
/// value cannot overwrite a key another worker created meanwhile (its cas is a small counter).
pub const CREATE_CAS: u32 = u32::MAX;

/// A compare-and-swap key-value store.
pub trait SharedStore {
    /// The value and its cas token; `(None, None)` when the key does not exist.
    fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), StoreError>;
    /// Writes `value` if the key's cas still equals `cas` (or the key is missing).
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), StoreError>;
}

#[cfg(test)]
pub use mem::MemStore;

#[cfg(test)]
mod mem {
    use super::{SharedStore, StoreError};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// Values with their cas tokens, by key.
    type Entries = HashMap<String, (Vec<u8>, u32)>;

    /// Envoy's shared-data semantics in memory; clones share one map (across threads too).
    /// `conflict_every`: fail every n-th write with `CasMismatch`, to exercise retries.
    #[derive(Debug, Clone, Default)]
    pub struct MemStore {
        map: Arc<Mutex<(Entries, u32)>>,
        pub conflict_every: u32,
        writes: Arc<Mutex<u32>>,
    }

    impl MemStore {
        /// A store that fails every `n`-th write with `CasMismatch`.
        pub fn conflicting(n: u32) -> MemStore {
            MemStore { conflict_every: n, ..MemStore::default() }
        }
    }

    impl SharedStore for MemStore {
        fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), StoreError> {
            let m = self.map.lock().map_err(|_| StoreError::Unavailable)?;
            Ok(m.0.get(key).map_or((None, None), |(v, c)| (Some(v.clone()), Some(*c))))
        }

        fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), StoreError> {
            if self.conflict_every > 0 {
                let mut w = self.writes.lock().map_err(|_| StoreError::Unavailable)?;
                *w += 1;
                if *w % self.conflict_every == 0 {
                    return Err(StoreError::CasMismatch);
                }
            }
            let mut m = self.map.lock().map_err(|_| StoreError::Unavailable)?;
            // Like proxy-wasm-cpp-host's SharedData::set: one global cas counter, skipping 0.
            m.1 = m.1.wrapping_add(1).max(1);
            let next = m.1;
            match m.0.get_mut(key) {
                Some(e) if cas != 0 && cas != e.1 => Err(StoreError::CasMismatch),
                Some(e) => {
                    *e = (value.to_vec(), next);
                    Ok(())
                }
                None => {
                    m.0.insert(key.to_string(), (value.to_vec(), next));
                    Ok(())
                }
            }
        }
    }
}
