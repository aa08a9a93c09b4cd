//! Configuration: JSON DTOs (`dto`), compiled into validated runtime types (`runtime`) at load.

pub mod alerts_dto;
mod cache_dto;
mod check;
pub mod cloud;
mod compile;
mod dto;
mod error;
mod error_path;
pub mod hooks_dto;
mod ids;
pub mod limits_dto;
mod keys_compile;
mod lint;
pub mod pricing_dto;
mod redact_compile;
mod redact_dto;
pub mod routing_dto;
mod runtime;
#[cfg(feature = "schema")]
mod schema;
mod time;

pub use check::check;
pub use compile::parse;
pub use dto::{ConfigDto, KeyDto};
pub use error::ConfigError;
pub use keys_compile::{checked_key, CheckedKey};
pub use redact_dto::RedactionDto;
pub use runtime::{AuthMode, Config, Credential, Provider, ProviderKind, Role, Telemetry};
#[cfg(feature = "schema")]
pub use schema::schema_json;
pub(crate) use time::civil_from_days;
pub use time::{format_rfc3339, parse_rfc3339};
