//! Token usage: extraction from JSON bodies and SSE streams per provider, and estimation.

pub mod estimate;
pub mod cost;
pub mod json;
mod meter;
mod model;
mod replay;
pub mod stream;
pub(crate) mod wire;

pub use estimate::{estimate_prompt_tokens, estimate_tokens, TokenCounter};
pub use json::from_response;
pub use meter::{ResponseMeter, MAX_SSE_EVENT_BYTES};
pub use model::{Usage, UsageDialect, MAX_PLAUSIBLE_TOKENS};
pub use stream::{is_usage_only_chunk, Seen, StreamUsage};
