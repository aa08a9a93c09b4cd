//! The per-request state machine, generic over the host so it runs natively in tests.

mod exports;
mod http;
mod redaction;

pub use exports::FilterStateName;
pub use http::{Flow, HttpFilter};
