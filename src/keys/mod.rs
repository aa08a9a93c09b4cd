//! Virtual API keys: digests, policies, lookup and the checks each request passes; the shared
//! index of keys loaded from a key source (`index`, `source`).

mod digest;
mod extract;
mod generate;
pub mod index;
mod policy;
pub mod source;
mod store;

pub use digest::Digest;
pub use extract::presented_key;
pub use generate::{config_entry, key_from_random, KEY_RANDOM_BYTES};
pub use policy::{KeyPolicy, TimeCheck};
pub use store::KeyStore;
