//! The per-request state machine, generic over the host so it runs natively in tests.

mod alerts;
mod cache;
mod cost;
mod exports;
mod fleet;
mod forward;
mod guard;
mod hooks;
pub mod key_loader;
mod http;
mod limits;
mod on_route;
mod outcome;
mod provider_faults;
mod steering;
mod upstream;
mod vertex_token;
mod redaction;
mod signing;

pub use exports::{FilterStateName, FIELDS as EXPORTED_FIELDS};
pub use http::{Flow, HttpFilter};
pub use upstream::UpstreamFilter;
