//! Per-event cost of tollgate's stream work, natively: a 500-event OpenAI chat stream (and a
//! 500-event Anthropic stream) fed in 4 KiB chunks through the SSE framer, the usage meter,
//! the stream guard and the Anthropic→OpenAI translator. `make bench-stream` runs it.
//! Prints nanoseconds per event (median of 15 runs). In-Envoy figures: `BENCH_SSE_EVENTS=500
//! make bench` (see BENCHMARKS.md).

use std::time::Instant;
use tollgate::api::translate::{ResponseTranslator, StreamGuard, Translation};
use tollgate::api::Dialect;
use tollgate::sse::SseFramer;
use tollgate::usage::{ResponseMeter, UsageDialect};

const EVENTS: usize = 500;
const CHUNK: usize = 4096;
const RUNS: usize = 15;

fn openai_stream() -> Vec<u8> {
    let head = r#"{"id":"chatcmpl-B","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":["#;
    let mut s = format!("data: {head}{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n");
    for i in 0..EVENTS {
        s.push_str(&format!("data: {head}{{\"index\":0,\"delta\":{{\"content\":\"tok{} \"}},\"finish_reason\":null}}]}}\n\n", i % 10));
    }
    s.push_str(&format!("data: {head}{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n"));
    s.push_str(&format!("data: {head}],\"usage\":{{\"prompt_tokens\":231,\"completion_tokens\":{EVENTS},\"total_tokens\":{}}}}}\n\n", 231 + EVENTS));
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

fn anthropic_stream() -> Vec<u8> {
    let mut s = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"usage\":{\"input_tokens\":231,\"output_tokens\":1}}}\n\n");
    s.push_str("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    for i in 0..EVENTS {
        s.push_str(&format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"tok{} \"}}}}\n\n", i % 10));
    }
    s.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
    s.push_str(&format!("event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{{\"output_tokens\":{EVENTS}}}}}\n\n"));
    s.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s.into_bytes()
}

fn gemini_stream() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..EVENTS {
        s.push_str(&format!("data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": \"tok{} \"}}],\"role\": \"model\"}},\"index\": 0}}],\"usageMetadata\": {{\"promptTokenCount\": 231,\"candidatesTokenCount\": {i},\"totalTokenCount\": {}}},\"modelVersion\": \"gemini-2.0-flash\"}}\r\n\r\n", i % 10, 231 + i));
    }
    s.push_str(&format!("data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": \"\"}}],\"role\": \"model\"}},\"finishReason\": \"STOP\",\"index\": 0}}],\"usageMetadata\": {{\"promptTokenCount\": 231,\"candidatesTokenCount\": {EVENTS},\"totalTokenCount\": {}}},\"modelVersion\": \"gemini-2.0-flash\"}}\r\n\r\n", 231 + EVENTS));
    s.into_bytes()
}

/// Median nanoseconds per event over the stream; `make` gives fresh state for each run.
fn per_event<F: FnMut(&[u8], bool) -> usize>(stream: &[u8], make: impl Fn() -> F) -> f64 {
    let mut samples: Vec<f64> = (0..RUNS)
        .map(|_| {
            let mut f = make();
            let t = Instant::now();
            let mut sink = 0usize;
            let chunks: Vec<&[u8]> = stream.chunks(CHUNK).collect();
            for (i, c) in chunks.iter().enumerate() {
                sink = sink.wrapping_add(f(c, i + 1 == chunks.len()));
            }
            std::hint::black_box(sink);
            t.elapsed().as_nanos() as f64 / EVENTS as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[RUNS / 2]
}

fn main() {
    let openai = openai_stream();
    let anthropic = anthropic_stream();
    let gemini = gemini_stream();
    println!("{EVENTS}-event streams, {CHUNK} B chunks, median of {RUNS} runs (native, this machine):");
    println!("  OpenAI stream: {} B; Anthropic stream: {} B", openai.len(), anthropic.len());
    let rows: Vec<(&str, f64)> = vec![
        ("framer only (OpenAI)", per_event(&openai, || {
            let mut framer = SseFramer::new(1 << 18);
            move |c, _| framer.feed(c).len()
        })),
        ("usage meter (OpenAI)", per_event(&openai, || {
            let mut m = ResponseMeter::for_response(UsageDialect::OpenAi, 200, "text/event-stream");
            move |c, end| {
                m.feed(c);
                if end {
                    m.stream_usage(0).map_or(0, |u| u.total_tokens() as usize)
                } else {
                    0
                }
            }
        })),
        ("stream guard, pass-through (OpenAI)", per_event(&openai, || {
            let mut g = StreamGuard::new(Dialect::OpenAiChat, false);
            move |c, end| g.chunk(c, end).map_or(c.len(), |o| o.len())
        })),
        ("stream guard, usage chunk removed (OpenAI)", per_event(&openai, || {
            let mut g = StreamGuard::new(Dialect::OpenAiChat, true);
            move |c, end| g.chunk(c, end).map_or(c.len(), |o| o.len())
        })),
        ("usage meter (Anthropic)", per_event(&anthropic, || {
            let mut m = ResponseMeter::for_response(UsageDialect::Anthropic, 200, "text/event-stream");
            move |c, end| {
                m.feed(c);
                if end {
                    m.stream_usage(0).map_or(0, |u| u.total_tokens() as usize)
                } else {
                    0
                }
            }
        })),
        ("translate Anthropic → OpenAI", per_event(&anthropic, || {
            let mut t = ResponseTranslator::new(Translation::CHAT_TO_ANTHROPIC, "claude", 1, true, 200, "text/event-stream");
            move |c, end| t.chunk(c, end).len()
        })),
        ("translate OpenAI → Anthropic", per_event(&openai, || {
            let mut t = ResponseTranslator::new(Translation::MESSAGES_TO_OPENAI, "gpt-4o-mini", 1, true, 200, "text/event-stream");
            move |c, end| t.chunk(c, end).len()
        })),
        ("translate Gemini → OpenAI", per_event(&gemini, || {
            let mut t = ResponseTranslator::new(Translation::CHAT_TO_GEMINI, "gemini-2.0-flash", 1, true, 200, "text/event-stream");
            move |c, end| t.chunk(c, end).len()
        })),
    ];
    for (name, ns) in rows {
        println!("  {name:<45} {ns:>8.0} ns/event");
    }
}
