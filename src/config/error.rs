//! `ConfigError`: why a configuration was refused, naming the JSON path of the field at fault.

use std::fmt;

/// A configuration the filter refuses to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// JSON path of the offending field, e.g. `providers[1].cluster`; `.` for the document.
    pub field: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid tollgate config at `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}
