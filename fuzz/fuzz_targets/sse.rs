//! The SSE framer: the events of a stream do not depend on how it is cut into chunks, and the
//! framer never holds more than its bound.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use tollgate::sse::{SseEvent, SseFramer};
use tollgate_fuzz::{chunks, mutate, seed_of};

fn run(data: &[u8], max: usize, split: bool) -> (Vec<SseEvent>, tollgate::sse::Finish) {
    let mut f = SseFramer::new(max);
    let mut events = Vec::new();
    if split {
        for c in chunks(data) {
            f.feed_into(c, &mut events);
            assert!(f.buffered() <= max, "held {} bytes over the bound {max}", f.buffered());
        }
    } else {
        f.feed_into(data, &mut events);
    }
    (events, f.finish())
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(run(data, 1 << 20, true), run(data, 1 << 20, false), "chunking changed the events");
    // A small bound: events over it are dropped the same way at any split.
    let max = 1 + (seed_of(data) % 64) as usize;
    let (events, finish) = run(data, max, true);
    assert_eq!((events.clone(), finish), run(data, max, false), "chunking changed the events under bound {max}");
    for e in &events {
        assert!(e.data.len() <= max * 4, "an event larger than the bound came out");
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
