//! API dialects: which front door a request came through, and the wire types of each provider.

mod endpoint;

pub use endpoint::{Dialect, Endpoint};
