//! Wire shape of the `redaction` section: which detectors run, what each does, and how to fail.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// The `redaction` section.
pub struct RedactionDto {
    /// Scan prompts at all (default off).
    #[serde(default)]
    pub enabled: bool,
    /// Built-in detector name → `mask`, `pseudonymize`, `block`, `audit` or `off`. Detectors not
    /// listed keep their default action (see the README).
    #[serde(default)]
    pub detectors: BTreeMap<String, String>,
    /// Context words per detector (`phone` only): words that make a 7–15 digit number right
    /// after them a phone, in any grouping. They replace the defaults (docs/redaction.md); `[]`
    /// turns context off. Whole words, ASCII case-insensitive.
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
    /// Operator regexes, each with a name (its placeholder is the upper-cased name) and an action.
    #[serde(default)]
    pub custom: Vec<CustomPatternDto>,
    /// Words and phrases, matched case-insensitively at word boundaries.
    #[serde(default)]
    pub deny_list: Option<DenyListDto>,
    /// Also scan tool-call arguments and tool results (default true).
    #[serde(default = "default_true")]
    pub tools: bool,
    /// Largest body inspected, in bytes; larger bodies follow `on_error`.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// `refuse` (default: fail closed) or `forward` (fail open) for bodies that cannot be inspected.
    #[serde(default = "default_on_error")]
    pub on_error: String,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomPatternDto {
    /// Lower-case `[a-z0-9_]` name, used in metrics, errors and as the placeholder stem.
    pub name: String,
    /// Regular expression (Rust `regex` syntax without Unicode classes: `\d`, `\w`, `\s` are
    /// ASCII; no look-around or back-references). Matched in linear time.
    pub pattern: String,
    /// `mask` (default), `pseudonymize`, `block` or `audit`.
    #[serde(default = "default_mask")]
    pub action: String,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DenyListDto {
    /// `block` (default), `mask`, `pseudonymize` or `audit`.
    #[serde(default = "default_block")]
    pub action: String,
    /// Words or phrases; the words of a phrase match across any whitespace.
    pub terms: Vec<String>,
}

fn default_true() -> bool {
    true
}
fn default_max_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_on_error() -> String {
    "refuse".to_string()
}
fn default_mask() -> String {
    "mask".to_string()
}
fn default_block() -> String {
    "block".to_string()
}
