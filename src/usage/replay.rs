//! Replays the recorded provider streams (`tests/fixtures/*.sse`) through [`crate::sse::SseFramer`]
//! and [`super::StreamUsage`] under every kind of chunking; test-only.

#[cfg(test)]
mod tests {
    use super::super::{is_usage_only_chunk, Seen, StreamUsage, Usage, UsageDialect};
    use crate::sse::{SseEvent, SseFramer};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OPENAI: &str = include_str!("../../tests/fixtures/openai_chat_stream.sse");
    const ANTHROPIC: &str = include_str!("../../tests/fixtures/anthropic_messages_stream.sse");
    const GEMINI: &str = include_str!("../../tests/fixtures/gemini_stream.sse");

    fn fixtures() -> [(UsageDialect, &'static str, Usage); 3] {
        let u = |p, c, cached, creation, reasoning| Usage {
            prompt_tokens: p,
            completion_tokens: c,
            cached_prompt_tokens: cached,
            cache_creation_tokens: creation,
            cache_creation_1h_tokens: 0,
            reasoning_tokens: reasoning,
            estimated: false,
        };
        [
            (UsageDialect::OpenAi, OPENAI, u(42, 17, 16, 0, 4)),
            // message_start splits the 12 writes (5 for an hour); message_delta repeats only the total.
            (UsageDialect::Anthropic, ANTHROPIC, Usage { cache_creation_1h_tokens: 5, ..u(31 + 12 + 64, 19, 64, 12, 0) }),
            (UsageDialect::Gemini, GEMINI, u(27, 14 + 6, 10, 0, 6)),
        ]
    }

    /// Frames `chunks` and accumulates usage; returns the events, the usage and the seen flags.
    fn run<'a>(dialect: UsageDialect, chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<SseEvent>, Usage, Vec<Seen>) {
        let mut framer = SseFramer::new(1 << 16);
        let mut acc = StreamUsage::new(dialect);
        let mut events = Vec::new();
        for chunk in chunks {
            framer.feed_into(chunk, &mut events);
        }
        assert!(!framer.finish().cut);
        let seen = events.iter().map(|e| acc.on_event(e)).collect();
        (events, acc.finish(0), seen)
    }

    /// xorshift64*: deterministic, no crates.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
        }
    }

    #[test]
    fn fixtures_give_the_mock_numbers() {
        for (dialect, text, want) in fixtures() {
            let (events, usage, seen) = run(dialect, [text.as_bytes()]);
            assert_eq!(usage, want, "{dialect:?}");
            assert!(seen.iter().any(|s| s.usage));
            let usage_only: Vec<bool> = events.iter().map(is_usage_only_chunk).collect();
            assert_eq!(usage_only, seen.iter().map(|s| s.usage_only).collect::<Vec<_>>());
            let expect_only = usize::from(dialect == UsageDialect::OpenAi);
            assert_eq!(usage_only.iter().filter(|b| **b).count(), expect_only, "{dialect:?}");
            assert_eq!(seen.last().map(|s| s.done), Some(dialect != UsageDialect::Gemini));
        }
    }

    #[test]
    fn any_split_gives_same_events_and_usage() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for (dialect, text, want) in fixtures() {
            let variants = [text.to_owned(), text.replace('\n', "\r\n"), text.replace('\n', "\r")];
            for input in variants.iter().map(String::as_bytes) {
                let (events, usage, _) = run(dialect, [input]);
                assert_eq!(usage, want);
                assert!(!events.is_empty());
                let bytes = run(dialect, input.chunks(1));
                assert_eq!((&bytes.0, bytes.1), (&events, usage), "{dialect:?} byte by byte");
                for _ in 0..200 {
                    let mut chunks = Vec::new();
                    let mut rest = input;
                    while !rest.is_empty() {
                        let (head, tail) = rest.split_at(1 + rng.below(rest.len().min(97)));
                        chunks.push(head);
                        rest = tail;
                    }
                    let got = run(dialect, chunks.iter().copied());
                    assert_eq!(
                        (&got.0, got.1),
                        (&events, usage),
                        "{dialect:?} split {:?}",
                        chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
                    );
                }
            }
        }
    }
}
