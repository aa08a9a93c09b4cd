//! API dialects: which front door a request came through, and the wire types of each provider.

pub mod anthropic;
mod endpoint;
pub mod openai;
pub mod translate;

pub use endpoint::{Dialect, Endpoint};
