//! `pricing`: per-model prices per million tokens, compiled to integer micro-units at load.

use super::ConfigError;
use crate::usage::cost::{parse_micros, Price, PriceTable};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The price table, e.g.
/// `{"currency": "USD", "models": {"gpt-4o-mini": {"input": 0.15, "output": 0.60, "cached_input": 0.075}}}`
/// (Anthropic models may add `cache_write_input` and `cache_write_input_1h`).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PricingDto {
    /// Currency label (informational; costs are reported in its micro-units).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Prices keyed by model: the upstream model name, the requested name or the route name
    /// (looked up in that order); `*` prices every other model.
    #[serde(default)]
    pub models: BTreeMap<String, PriceDto>,
}

/// Prices of one model per million tokens, as decimal numbers or strings (`0.15` or `"0.15"`),
/// at most six decimals.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PriceDto {
    /// Uncached input tokens.
    pub input: Value,
    /// Output tokens (reasoning included).
    pub output: Value,
    /// Input tokens read from the prompt cache; defaults to `input`.
    #[serde(default)]
    pub cached_input: Option<Value>,
    /// Input tokens written to the prompt cache (Anthropic's `cache_creation_input_tokens`,
    /// billed at 1.25× `input` for the 5-minute cache); defaults to `input`.
    #[serde(default)]
    pub cache_write_input: Option<Value>,
    /// Input tokens written to the one-hour prompt cache (Anthropic's
    /// `cache_creation.ephemeral_1h_input_tokens`, billed at 2× `input`); defaults to
    /// `cache_write_input`.
    #[serde(default)]
    pub cache_write_input_1h: Option<Value>,
}

fn default_currency() -> String {
    "USD".to_string()
}

/// A non-negative decimal (JSON number or string) as micro-units; the error names `at`.
pub fn decimal_micros(at: &str, v: &Value) -> Result<u64, ConfigError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(ConfigError::new(at, "must be a decimal number or a string like \"0.15\"")),
    };
    parse_micros(&text).ok_or_else(|| ConfigError::new(at, format!("`{text}` is not a non-negative decimal with at most six decimals (write small prices as strings, e.g. \"0.000125\")")))
}

/// Compiles the table; `None` in gives an empty table.
pub fn compile(dto: Option<PricingDto>) -> Result<PriceTable, ConfigError> {
    let Some(dto) = dto else { return Ok(PriceTable::default()) };
    if dto.currency.is_empty() {
        return Err(ConfigError::new("pricing.currency", "must not be empty"));
    }
    let mut models = std::collections::HashMap::with_capacity(dto.models.len());
    for (name, p) in dto.models {
        let at = |f: &str| format!("pricing.models.{name}.{f}");
        if name.is_empty() {
            return Err(ConfigError::new("pricing.models", "model names must not be empty"));
        }
        let input = decimal_micros(&at("input"), &p.input)?;
        let output = decimal_micros(&at("output"), &p.output)?;
        let cached_input = match &p.cached_input {
            Some(v) => decimal_micros(&at("cached_input"), v)?,
            None => input,
        };
        let cache_write_input = match &p.cache_write_input {
            Some(v) => decimal_micros(&at("cache_write_input"), v)?,
            None => input,
        };
        let cache_write_input_1h = match &p.cache_write_input_1h {
            Some(v) => decimal_micros(&at("cache_write_input_1h"), v)?,
            None => cache_write_input,
        };
        models.insert(name, Price { input, output, cached_input, cache_write_input, cache_write_input_1h });
    }
    Ok(PriceTable { currency: dto.currency, models })
}
