//! The response cache's pure logic: the key (what changes an answer), the bounded store over
//! shared data, and the hub forms an answer is kept in (a chat completion) and replayed from.

mod fleet;
mod hub;
mod key;
mod settings;
mod store;

pub use fleet::{fleet_get, fleet_reply, fleet_set};
pub use hub::{synthesize, Assembler};
pub use key::{digest, KeyInput};
pub use settings::{Cache, FleetTier, Rule, Scope, Shape};
pub use store::{decode, encode, get, put, Entry, Put};
