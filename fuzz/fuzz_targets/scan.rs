//! The validating scanner and the head scan against serde_json: what they accept, serde_json
//! accepts, with the same `model` and `stream`; a plain `u64` reads as serde_json reads it.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use serde_json::Value;
use tollgate::gateway::head::{model_and_stream, span_in, with_model};
use tollgate::scan::{u64_of, Scan};
use tollgate_fuzz::mutate;

fuzz_target!(|data: &[u8]| {
    let serde = serde_json::from_slice::<Value>(data);
    let mut s = Scan::new(data);
    s.ws();
    let scanned = s.value(0).is_some() && s.end().is_some();
    // UTF-8 inside strings is the scanner's callers' to check.
    if scanned && std::str::from_utf8(data).is_ok() {
        assert!(serde.is_ok(), "scan accepts what serde_json refuses: {:?}", serde.err());
    }
    if let Some((model, stream)) = model_and_stream(data) {
        let v = match &serde {
            Ok(v) => v,
            Err(e) => panic!("head scan accepts what serde_json refuses: {e}"),
        };
        assert_eq!(v.get("model").and_then(Value::as_str), Some(model));
        assert_eq!(v.get("stream").and_then(Value::as_bool).unwrap_or(false), stream);
        let span = span_in(data, model).unwrap_or_default();
        let swapped = with_model(data, span, "m\"x").unwrap_or_default();
        let w: Value = serde_json::from_slice(&swapped).unwrap_or_default();
        assert_eq!(w.get("model").and_then(Value::as_str), Some("m\"x"), "with_model broke the body");
    }
    if let Ok(Value::Number(n)) = &serde {
        let raw = std::str::from_utf8(data).unwrap_or_default().trim();
        if let Some(u) = u64_of(raw.as_bytes()) {
            assert_eq!(n.as_u64(), Some(u));
        }
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
