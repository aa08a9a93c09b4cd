//! Cost of a request in integer micro-units of currency, from a per-model price table.
//!
//! Prices are per million tokens and held as integer micro-units per million tokens (a price of
//! `0.15` USD per million is `150_000`). The cost of a request is
//!
//! ```text
//! ((prompt - cached - written) * input + cached * cached_input
//!     + (written - written_1h) * cache_write_input + written_1h * cache_write_input_1h
//!     + completion * output) / 1_000_000
//! ```
//!
//! summed in `u128` and divided once, rounding **up** to the next micro-unit, so the rounding
//! error is under one micro-unit per request and never in the caller's favour. `prompt_tokens`
//! includes the cached tokens in every dialect (see [`Usage`]), so cached tokens are priced once,
//! at the cached rate, and tokens written to the cache (`written`, Anthropic's
//! `cache_creation_input_tokens`) once, at the cache-write rate of their lifetime (`written_1h`:
//! Anthropic's `cache_creation.ephemeral_1h_input_tokens`).

use super::Usage;
use std::collections::HashMap;

/// Micro-units per whole currency unit.
pub const MICROS: u64 = 1_000_000;

/// Prices of one model, in micro-units of currency per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub input: u64,
    pub output: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_input: u64,
    /// Input tokens written to the provider's prompt cache (five-minute lifetime).
    pub cache_write_input: u64,
    /// Input tokens written to the provider's prompt cache with a one-hour lifetime.
    pub cache_write_input_1h: u64,
}

impl Price {
    /// Cost of `u` in micro-units, rounded up; saturates at `u64::MAX`.
    pub fn cost_micros(&self, u: &Usage) -> u64 {
        let cached = u.cached_prompt_tokens.min(u.prompt_tokens);
        let written = u.cache_creation_tokens.min(u.prompt_tokens - cached);
        let written_1h = u.cache_creation_1h_tokens.min(written);
        let fresh = u.prompt_tokens - cached - written;
        // Each product fits in u128 (u64 x u64); only the sum can overflow.
        let total = (u128::from(fresh) * u128::from(self.input))
            .saturating_add(u128::from(cached) * u128::from(self.cached_input))
            .saturating_add(u128::from(written - written_1h) * u128::from(self.cache_write_input))
            .saturating_add(u128::from(written_1h) * u128::from(self.cache_write_input_1h))
            .saturating_add(u128::from(u.completion_tokens) * u128::from(self.output));
        let micros = total.div_ceil(1_000_000);
        u64::try_from(micros).unwrap_or(u64::MAX)
    }
}

/// The price table: currency and prices keyed by model name (upstream model, requested model or
/// route name, looked up in that order; `*` is the fallback).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    pub currency: String,
    pub models: HashMap<String, Price>,
}

impl PriceTable {
    /// The first price found for `names` (in order), else the `*` entry.
    pub fn price(&self, names: &[&str]) -> Option<&Price> {
        names.iter().find_map(|n| self.models.get(*n)).or_else(|| self.models.get("*"))
    }
}

/// Parses a non-negative decimal (`"0.15"`, `"3"`, `"0.000125"`) into micro-units: at most six
/// fractional digits (further digits must be zeros). `None` for anything else.
pub fn parse_micros(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (kept, rest) = frac.split_at(frac.len().min(6));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f: u64 = if kept.is_empty() { 0 } else { kept.parse().ok()? };
    for _ in kept.len()..6 {
        f = f.checked_mul(10)?;
    }
    whole.checked_mul(MICROS)?.checked_add(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn decimals_become_micros() {
        assert_eq!(parse_micros("0.15"), Some(150_000));
        assert_eq!(parse_micros("3"), Some(3_000_000));
        assert_eq!(parse_micros("0.075"), Some(75_000));
        assert_eq!(parse_micros(".5"), Some(500_000));
        assert_eq!(parse_micros("1.2500000"), Some(1_250_000));
        assert_eq!(parse_micros("0.0000001"), None, "below a micro-unit");
        assert_eq!(parse_micros("-1"), None);
        assert_eq!(parse_micros("1e-3"), None);
        assert_eq!(parse_micros(""), None);
        assert_eq!(parse_micros("."), None);
        assert_eq!(parse_micros("99999999999999999999"), None);
    }

    #[test]
    fn cached_tokens_are_priced_once_at_the_cached_rate() {
        // gpt-4o-mini: 0.15 / 0.60 / 0.075 per million.
        let p = Price { input: 150_000, output: 600_000, cached_input: 75_000, cache_write_input: 150_000, cache_write_input_1h: 150_000 };
        let u = Usage { prompt_tokens: 1_000_000, cached_prompt_tokens: 400_000, completion_tokens: 1_000_000, ..Usage::default() };
        // 600k fresh * 0.15 + 400k cached * 0.075 + 1M * 0.60 = 0.09 + 0.03 + 0.60
        assert_eq!(p.cost_micros(&u), 720_000);
    }

    #[test]
    fn cache_writes_are_priced_once_at_the_write_rate() {
        // claude-sonnet-4-5: 3 input, 3.75 cache write (1.25x), 0.30 cache read, 15 output.
        let p = Price { input: 3_000_000, output: 15_000_000, cached_input: 300_000, cache_write_input: 3_750_000, cache_write_input_1h: 3_750_000 };
        // Anthropic's normalised usage: prompt = input 31 + cache writes 12 + cache reads 64.
        let u = Usage { prompt_tokens: 107, cached_prompt_tokens: 64, cache_creation_tokens: 12, completion_tokens: 19, ..Usage::default() };
        // 31*3 + 12*3.75 + 64*0.30 + 19*15 = 93 + 45 + 19.2 + 285 = 442.2 → 443 micros
        assert_eq!(p.cost_micros(&u), 443);
        // Writes beyond the uncached prompt (inconsistent figures) are capped, never negative.
        let odd = Usage { prompt_tokens: 10, cached_prompt_tokens: 8, cache_creation_tokens: 50, ..Usage::default() };
        assert_eq!(p.cost_micros(&odd), (8 * 300_000 + 2 * 3_750_000_u64).div_ceil(1_000_000));
    }

    #[test]
    fn one_hour_cache_writes_are_priced_at_their_own_rate() {
        // claude-sonnet-4-5: 5-minute writes 3.75 (1.25x input), 1-hour writes 6 (2x input).
        let p = Price { input: 3_000_000, output: 15_000_000, cached_input: 300_000, cache_write_input: 3_750_000, cache_write_input_1h: 6_000_000 };
        // 12 writes, 5 of them for an hour.
        let u = Usage { prompt_tokens: 107, cached_prompt_tokens: 64, cache_creation_tokens: 12, cache_creation_1h_tokens: 5, completion_tokens: 19, ..Usage::default() };
        // 31*3 + 7*3.75 + 5*6 + 64*0.30 + 19*15 = 93 + 26.25 + 30 + 19.2 + 285 = 453.45 → 454 micros
        assert_eq!(p.cost_micros(&u), 454);
        // A one-hour figure above the writes (inconsistent) is capped at them.
        let odd = Usage { cache_creation_1h_tokens: 99, ..u };
        assert_eq!(p.cost_micros(&odd), (31 * 3_000_000 + 12 * 6_000_000 + 64 * 300_000 + 19 * 15_000_000_u64).div_ceil(1_000_000));
    }

    #[test]
    fn rounding_is_up_to_the_next_micro() {
        let p = Price { input: 150_000, output: 600_000, cached_input: 75_000, cache_write_input: 150_000, cache_write_input_1h: 150_000 };
        let u = Usage { prompt_tokens: 1, ..Usage::default() };
        assert_eq!(p.cost_micros(&u), 1, "0.15 micro rounds up");
        assert_eq!(p.cost_micros(&Usage::default()), 0);
        let u = Usage { prompt_tokens: 42, cached_prompt_tokens: 16, completion_tokens: 17, ..Usage::default() };
        // 26*150000 + 16*75000 + 17*600000 = 3_900_000 + 1_200_000 + 10_200_000 = 15.3 micros
        assert_eq!(p.cost_micros(&u), 16);
    }

    #[test]
    fn huge_figures_saturate_instead_of_overflowing() {
        let p = Price { input: u64::MAX, output: u64::MAX, cached_input: u64::MAX, cache_write_input: u64::MAX, cache_write_input_1h: u64::MAX };
        let u = Usage { prompt_tokens: u64::MAX, completion_tokens: u64::MAX, cached_prompt_tokens: u64::MAX, ..Usage::default() };
        assert_eq!(p.cost_micros(&u), u64::MAX);
    }

    #[test]
    fn lookup_order_and_fallback() {
        let mut t = PriceTable::default();
        t.models.insert("a".into(), Price { input: 1, output: 1, cached_input: 1, cache_write_input: 1, cache_write_input_1h: 1 });
        t.models.insert("*".into(), Price { input: 2, output: 2, cached_input: 2, cache_write_input: 2, cache_write_input_1h: 2 });
        assert_eq!(t.price(&["x", "a"]).map(|p| p.input), Some(1));
        assert_eq!(t.price(&["x"]).map(|p| p.input), Some(2));
    }
}
