//! The per-request state machine, generic over the host so it runs natively in tests.

mod cost;
mod exports;
mod fleet;
mod forward;
mod guard;
mod http;
mod limits;
mod on_route;
mod outcome;
mod provider_faults;
mod upstream;
mod redaction;

pub use exports::FilterStateName;
pub use http::{Flow, HttpFilter};
pub use upstream::UpstreamFilter;
