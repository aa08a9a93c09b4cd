//! Response translation of whole bodies, every way and for every status, and the direct
//! translators against the full ones.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use serde_json::Value;
use tollgate::api::translate::{
    completion_to_message, completion_to_response, gemini_to_completion, message_to_completion, plain_gemini_to_completion, plain_message_to_completion, ResponseTranslator,
};
use tollgate_fuzz::{TRANSLATIONS as ALL, mutate, seed_of};


fn agree(direct: Option<Vec<u8>>, full: Result<Value, String>, what: &str) {
    let Some(out) = direct else { return };
    let written: Value = match serde_json::from_slice(&out) {
        Ok(v) => v,
        Err(e) => panic!("{what}: the direct path wrote invalid JSON ({e})"),
    };
    assert_eq!(Ok(written), full, "{what}: direct and full translations differ");
}

fuzz_target!(|data: &[u8]| {
    let parsed = serde_json::from_slice::<Value>(data).map_err(|e| e.to_string());
    let full = |f: &dyn Fn(&Value) -> Result<Value, String>| parsed.as_ref().map_err(Clone::clone).and_then(f);
    agree(plain_message_to_completion(data, "claude-x", 7), full(&|v| message_to_completion(v, "claude-x", 7).map_err(|e| e.message)), "message → completion");
    agree(plain_gemini_to_completion(data, "gemini-x", 7), full(&|v| gemini_to_completion(v, "gemini-x", 7).map_err(|e| e.message)), "gemini → completion");
    let _ = full(&|v| completion_to_message(v, "gpt-x").map_err(|e| e.message));
    let _ = full(&|v| completion_to_response(v, "gpt-x", 7).map_err(|e| e.message));
    // Every translation on a 200, and one error status per input (drawn from it).
    let status = [400, 401, 404, 413, 429, 500, 503, 529][(seed_of(data) % 8) as usize];
    for t in ALL {
        for status in [200, status] {
            let out = ResponseTranslator::new(t, "m", 7, false, status, "application/json; charset=utf-8").whole(data);
            // The client always gets JSON: the translation, or an error in its dialect.
            if let Err(e) = serde_json::from_slice::<Value>(&out) {
                panic!("{t:?} status {status}: the client got invalid JSON ({e})");
            }
        }
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
