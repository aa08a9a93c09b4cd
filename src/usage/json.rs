//! Usage from a complete (non-streaming) JSON response body.

use serde::Deserialize;

use super::model::{Usage, UsageDialect};
use crate::scan::Scan;
use super::wire::{AnthropicUsage, ConverseUsage, GeminiUsage, OpenAiUsage};

#[derive(Deserialize)]
struct WithUsage<T> {
    usage: Option<T>,
}

#[derive(Deserialize)]
struct WithUsageMetadata {
    #[serde(default, rename = "usageMetadata")]
    usage_metadata: Option<GeminiUsage>,
}

/// The provider-reported usage in a response body, normalised (see [`Usage`]).
///
/// `None` when the body is not JSON, or has no usage object (absent or `null`), e.g. an error
/// body, or its figures are not counts (negative, fractional, text) or are past
/// [`super::model::MAX_PLAUSIBLE_TOKENS`]. Only the usage object is materialised; the rest of the body is skipped.
pub fn from_response(dialect: UsageDialect, body: &[u8]) -> Option<Usage> {
    reported(dialect, body).filter(Usage::plausible)
}

/// The fast path first: one scan of the body finds the top-level usage member, and only that
/// member is parsed, where `serde_json` would otherwise read (and skip) the whole answer into
/// [`WithUsage`]. Whatever the scan cannot decide goes to [`reported_by_whole_parse`]. Where it
/// decides, it decides as `serde_json` would (a differential unit test and the `usage` fuzz
/// target hold it to that).
fn reported(dialect: UsageDialect, body: &[u8]) -> Option<Usage> {
    let key: &[u8] = if dialect == UsageDialect::Gemini { b"usageMetadata" } else { b"usage" };
    match member_span(body, key) {
        None => reported_by_whole_parse(dialect, body),
        Some(None) => None,
        Some(Some(span)) => usage_value(dialect, body.get(span)?),
    }
}

/// The reference path: the whole body parsed by `serde_json` into a struct that keeps only the
/// usage. [`from_response`] takes it when its fast path cannot decide; the differential test
/// and the `usage` fuzz target compare the two.
#[doc(hidden)]
pub fn reported_by_whole_parse(dialect: UsageDialect, body: &[u8]) -> Option<Usage> {
    match dialect {
        UsageDialect::OpenAi | UsageDialect::OpenAiResponses => parsed::<WithUsage<OpenAiUsage>>(body)?.usage.map(|u| u.normalise()),
        UsageDialect::Anthropic => parsed::<WithUsage<AnthropicUsage>>(body)?.usage.map(|u| u.normalise()),
        UsageDialect::Converse => parsed::<WithUsage<ConverseUsage>>(body)?.usage.map(|u| u.normalise()),
        UsageDialect::Gemini => parsed::<WithUsageMetadata>(body)?.usage_metadata.map(|u| u.normalise()),
    }
}

/// A usage member's value on its own: `null` or a value that is not the dialect's usage object
/// is no usage, as it is inside the whole body.
fn usage_value(dialect: UsageDialect, raw: &[u8]) -> Option<Usage> {
    match dialect {
        UsageDialect::OpenAi | UsageDialect::OpenAiResponses => Some(parsed::<Option<OpenAiUsage>>(raw)??.normalise()),
        UsageDialect::Anthropic => Some(parsed::<Option<AnthropicUsage>>(raw)??.normalise()),
        UsageDialect::Converse => Some(parsed::<Option<ConverseUsage>>(raw)??.normalise()),
        UsageDialect::Gemini => Some(parsed::<Option<GeminiUsage>>(raw)??.normalise()),
    }
}

fn parsed<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

/// Where the top-level member `key`'s value lies (`Some(None)`: absent). `None`: undecided, for
/// the whole parse: a body the scanner refuses (it is stricter than `serde_json`, never looser),
/// invalid UTF-8 anywhere (checked once, as the other fast paths do), a top level that is not
/// an object, a key with an escape, or `key` given twice.
fn member_span(body: &[u8], key: &[u8]) -> Option<Option<std::ops::Range<usize>>> {
    std::str::from_utf8(body).ok()?;
    let mut s = Scan::new(body);
    let mut member = None;
    s.object(&mut |s, k| {
        if k != key {
            return s.value(1);
        }
        if member.is_some() {
            return None;
        }
        let start = s.i;
        s.value(1)?;
        member = Some(start..s.i);
        Some(())
    })?;
    s.end()?;
    Some(member)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OPENAI: &str = include_str!("../../tests/fixtures/openai_chat.json");
    const EMBEDDINGS: &str = include_str!("../../tests/fixtures/openai_embeddings.json");
    const ANTHROPIC: &str = include_str!("../../tests/fixtures/anthropic_messages.json");
    const GEMINI: &str = include_str!("../../tests/fixtures/gemini_generate.json");

    /// A hostile provider's usage (tests/hostile_upstream.rs): none of it is charged.
    #[test]
    fn usage_that_is_not_a_believable_count_is_no_usage() {
        for value in ["-5", "12.5", "\"42\"", "1e30", "18446744073709551615", "1000000001"] {
            let body = OPENAI.replace("\"prompt_tokens\": 42", &format!("\"prompt_tokens\": {value}"));
            assert_eq!(from_response(UsageDialect::OpenAi, body.as_bytes()), None, "{value}");
            let body = ANTHROPIC.replace("\"output_tokens\": 19", &format!("\"output_tokens\": {value}"));
            assert_eq!(from_response(UsageDialect::Anthropic, body.as_bytes()), None, "{value}");
        }
        let body = OPENAI.replace("\"prompt_tokens\": 42", "\"prompt_tokens\": 1000000000");
        assert_eq!(from_response(UsageDialect::OpenAi, body.as_bytes()).map(|u| u.prompt_tokens), Some(1_000_000_000), "the bound itself is believed");
    }

    /// The fast path decides as the whole parse does: on the fixtures, on bodies it must leave to
    /// the whole parse (escaped or repeated keys, invalid UTF-8 in an ignored string, a top-level
    /// array, trailing bytes, depth at `serde_json`'s limit) and on usage that is not a count.
    #[test]
    fn the_fast_path_agrees_with_the_whole_parse() {
        let deep = |n: usize| format!(r#"{{"x": {}1{}, "usage": {{"prompt_tokens": 1, "completion_tokens": 2}}}}"#, "[".repeat(n), "]".repeat(n));
        let mut bodies: Vec<Vec<u8>> = [
            OPENAI,
            EMBEDDINGS,
            ANTHROPIC,
            GEMINI,
            r#"{"usage": null}"#,
            r#"{}"#,
            r#"{"usage": {"prompt_tokens": 1}, "usage": {"prompt_tokens": 2}}"#,
            r#"{"us\u0061ge": {"prompt_tokens": 1, "completion_tokens": 2}}"#,
            r#"{"usage": {"prompt_tokens": "1"}}"#,
            r#"{"usage": [1, 2]}"#,
            r#"[{"prompt_tokens": 1, "completion_tokens": 2}]"#,
            r#"{"usage": {"prompt_tokens": 1, "completion_tokens": 2}} x"#,
            r#"{"usage": {"prompt_tokens": 1, "completion_tokens": 2}, "x": "\ud800"}"#,
            r#"{"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4}, "usageMetadata": null}"#,
            r#"{"usage": {"input_tokens": 5, "output_tokens": 6, "input_tokens": 7}}"#,
        ]
        .iter()
        .map(|b| b.as_bytes().to_vec())
        .collect();
        bodies.extend([125, 126, 127, 128].map(|n| deep(n).into_bytes()));
        let mut bad_utf8 = br#"{"x": "?", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}"#.to_vec();
        bad_utf8[7] = 0xff;
        bodies.push(bad_utf8);
        assert!(member_span(OPENAI.as_bytes(), b"usage").is_some(), "the fast path decides the common answer");
        assert!(member_span(GEMINI.as_bytes(), b"usageMetadata").is_some());
        for body in &bodies {
            for d in [UsageDialect::OpenAi, UsageDialect::Anthropic, UsageDialect::Converse, UsageDialect::Gemini, UsageDialect::OpenAiResponses] {
                assert_eq!(reported(d, body), reported_by_whole_parse(d, body), "{d:?}: {}", String::from_utf8_lossy(body));
            }
        }
    }

    fn usage(p: u64, c: u64, cached: u64, creation: u64, reasoning: u64) -> Usage {
        Usage {
            prompt_tokens: p,
            completion_tokens: c,
            cached_prompt_tokens: cached,
            cache_creation_tokens: creation,
            cache_creation_1h_tokens: 0,
            reasoning_tokens: reasoning,
            estimated: false,
        }
    }

    #[test]
    fn fixtures() {
        assert_eq!(
            from_response(UsageDialect::OpenAi, OPENAI.as_bytes()),
            Some(usage(42, 17, 16, 0, 4))
        );
        assert_eq!(
            from_response(UsageDialect::OpenAi, EMBEDDINGS.as_bytes()),
            Some(usage(8, 0, 0, 0, 0))
        );
        // 31 uncached + 12 written (5 of them for an hour) + 64 read.
        let anthropic = from_response(UsageDialect::Anthropic, ANTHROPIC.as_bytes());
        assert_eq!(anthropic, Some(Usage { cache_creation_1h_tokens: 5, ..usage(107, 19, 64, 12, 0) }));
        // Without the total, the split's sum stands in; without the split, all writes are 5-minute.
        let split_only = r#"{"usage": {"input_tokens": 1, "output_tokens": 1, "cache_creation": {"ephemeral_5m_input_tokens": 2, "ephemeral_1h_input_tokens": 3}}}"#;
        let u = from_response(UsageDialect::Anthropic, split_only.as_bytes());
        assert_eq!(u.map(|u| (u.prompt_tokens, u.cache_creation_tokens, u.cache_creation_1h_tokens)), Some((6, 5, 3)));
        let total_only = r#"{"usage": {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 4}}"#;
        let u = from_response(UsageDialect::Anthropic, total_only.as_bytes());
        assert_eq!(u.map(|u| (u.cache_creation_tokens, u.cache_creation_1h_tokens)), Some((4, 0)));
        // 14 candidates + 6 thoughts; total 47 as Gemini reports it.
        let gemini = from_response(UsageDialect::Gemini, GEMINI.as_bytes());
        assert_eq!(gemini, Some(usage(27, 20, 10, 0, 6)));
        assert_eq!(gemini.map(|u| u.total_tokens()), Some(47));
    }

    #[test]
    fn missing_null_or_garbage() {
        for dialect in [UsageDialect::OpenAi, UsageDialect::Anthropic, UsageDialect::Gemini] {
            assert_eq!(
                from_response(dialect, b"{\"usage\": null, \"usageMetadata\": null}"),
                None
            );
            assert_eq!(from_response(dialect, b"{\"error\": {\"message\": \"x\"}}"), None);
            assert_eq!(from_response(dialect, b"not json"), None);
            assert_eq!(from_response(dialect, b"[1, 2]"), None);
        }
    }

    #[test]
    fn responses_api_names_and_partial_fields() {
        let body = br#"{"usage": {"input_tokens": 5, "output_tokens": 7,
            "input_tokens_details": {"cached_tokens": 2}, "output_tokens_details": {"reasoning_tokens": 3}}}"#;
        assert_eq!(from_response(UsageDialect::OpenAi, body), Some(usage(5, 7, 2, 0, 3)));
        let body = br#"{"usage": {"input_tokens": 5, "output_tokens": 7}}"#;
        assert_eq!(from_response(UsageDialect::Anthropic, body), Some(usage(5, 7, 0, 0, 0)));
        let body = br#"{"usageMetadata": {"promptTokenCount": 3, "toolUsePromptTokenCount": 2}}"#;
        assert_eq!(from_response(UsageDialect::Gemini, body), Some(usage(5, 0, 0, 0, 0)));
    }

    #[test]
    fn bedrock_converse_counts_cache_apart_from_input() {
        let body = br#"{"output": {"message": {"content": []}}, "usage": {"inputTokens": 10, "outputTokens": 3, "totalTokens": 19, "cacheReadInputTokens": 4, "cacheWriteInputTokens": 2}}"#;
        assert_eq!(from_response(UsageDialect::Converse, body), Some(usage(16, 3, 4, 2, 0)));
    }
}
