//! The usage parsers: JSON bodies of every provider, and streams metered chunk by chunk, where
//! the usage read does not depend on the chunking, and where the JSON fast path decides it
//! agrees with the whole parse.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use tollgate::usage::{estimate_prompt_tokens, estimate_tokens, from_response, ResponseMeter, Usage, UsageDialect};
use tollgate_fuzz::{chunks, mutate, seed_of};

const ALL: [UsageDialect; 4] = [UsageDialect::OpenAi, UsageDialect::Anthropic, UsageDialect::Gemini, UsageDialect::OpenAiResponses];

fn metered(d: UsageDialect, parts: &[&[u8]]) -> Option<Usage> {
    let mut m = ResponseMeter::for_response(d, 200, "text/event-stream");
    for c in parts {
        m.feed(c);
    }
    m.stream_usage(11)
}

fuzz_target!(|data: &[u8]| {
    for d in ALL {
        let fast = from_response(d, data);
        let whole = tollgate::usage::json::reported_by_whole_parse(d, data).filter(Usage::plausible);
        assert_eq!(fast, whole, "{d:?}: the fast path and the whole parse disagree");
        if let Some(u) = fast {
            let _ = u.total_tokens();
        }
        let m = ResponseMeter::for_response(d, 200, "application/json");
        let _ = m.json_usage(data);
    }
    // The stream in one dialect per input (drawn from it).
    let d = ALL[(seed_of(data) % ALL.len() as u64) as usize];
    assert_eq!(metered(d, &chunks(data)), metered(d, &[data]), "{d:?}: chunking changed the stream's usage");
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = estimate_tokens(text);
    }
    if let Ok(v) = serde_json::from_slice(data) {
        let _ = estimate_prompt_tokens(&v);
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
