//! The response cache's pure logic: the key (what changes an answer), the bounded store over
//! shared data, and the hub forms an answer is kept in (a chat completion) and replayed from.

mod hub;
mod key;
mod settings;
mod store;

pub use hub::{synthesize, Assembler};
pub use key::{digest, KeyInput};
pub use settings::{Cache, Rule, Scope, Shape};
pub use store::{get, put, Entry, Put};
