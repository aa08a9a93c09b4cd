//! Stream translation every way, and the pass-through stream guard: whatever the provider
//! sends, the output does not depend on how the stream was cut into chunks.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use tollgate::api::translate::{ResponseTranslator, StreamGuard, Translation};
use tollgate::api::Dialect;
use tollgate_fuzz::{TRANSLATIONS as ALL, chunks, mutate, seed_of};


fn translate(t: Translation, pieces: &[&[u8]]) -> Vec<u8> {
    let mut tr = ResponseTranslator::new(t, "m", 7, true, 200, "text/event-stream");
    let mut out = Vec::new();
    for (i, c) in pieces.iter().enumerate() {
        out.extend(tr.chunk(c, i + 1 == pieces.len()));
    }
    if pieces.is_empty() {
        out.extend(tr.chunk(b"", true));
    }
    out
}

fn guard(d: Dialect, strip: bool, pieces: &[&[u8]]) -> Vec<u8> {
    let mut g = StreamGuard::new(d, strip);
    let mut out = Vec::new();
    for (i, c) in pieces.iter().enumerate() {
        match g.chunk(c, i + 1 == pieces.len()) {
            Some(b) => out.extend(b),
            None => out.extend_from_slice(c),
        }
    }
    if pieces.is_empty() {
        out.extend(g.chunk(b"", true).unwrap_or_default());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let split = chunks(data);
    let whole: Vec<&[u8]> = if data.is_empty() { vec![] } else { vec![data] };
    // One translation and one guard per input (drawn from it): a quarter of the work per run.
    let pick = seed_of(data) as usize;
    let t = ALL[pick % ALL.len()];
    assert_eq!(translate(t, &split), translate(t, &whole), "{t:?}: chunking changed the translation");
    let (d, strip) = [(Dialect::OpenAiChat, false), (Dialect::OpenAiChat, true), (Dialect::Anthropic, false), (Dialect::Anthropic, true), (Dialect::OpenAiResponses, false)][(pick >> 8) % 5];
    assert_eq!(guard(d, strip, &split), guard(d, strip, &whole), "{d:?} guard (strip {strip}): chunking changed the stream");
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
