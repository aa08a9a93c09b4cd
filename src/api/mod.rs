//! API dialects: which front door a request came through, and the wire types of each provider.

pub mod anthropic;
mod endpoint;
pub mod openai;
pub mod translate;

pub use endpoint::{Dialect, Endpoint};

/// A JSON value's compact bytes, written straight into the buffer. `Value`'s `Display` (its
/// `to_string`) goes through `core::fmt` one token at a time, about twice the work.
pub fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    // Writing a `Value` (string keys, finite numbers) into a `Vec` cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// [`json_bytes`] as text.
pub fn json_text(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
