//! Configuration: JSON DTOs (`dto`), compiled into validated runtime types (`runtime`) at load.

mod compile;
mod dto;
mod error;
pub mod limits_dto;
pub mod pricing_dto;
mod redact_compile;
mod redact_dto;
mod runtime;
mod time;

pub use compile::parse;
pub use dto::ConfigDto;
pub use error::ConfigError;
pub use redact_dto::RedactionDto;
pub use runtime::{AuthMode, Config, Credential, Provider, ProviderKind, Role};
pub use time::parse_rfc3339;
