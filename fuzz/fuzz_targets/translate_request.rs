//! Request translation through the hub, every client dialect to every provider wire (strict and
//! lenient), and the direct translators against the full ones: where a direct path answers, it
//! writes valid JSON equal to the full translation's.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use serde_json::Value;
use tollgate::api::translate::{chat_to_gemini, chat_to_messages, plain_chat_to_gemini, plain_chat_to_messages, Lenience, Translation, Wire};
use tollgate::api::Dialect;
use tollgate_fuzz::mutate;

fn agree(direct: Option<Vec<u8>>, full: &Result<Value, String>, what: &str) {
    let Some(out) = direct else { return };
    let written: Value = match serde_json::from_slice(&out) {
        Ok(v) => v,
        Err(e) => panic!("{what}: the direct path wrote invalid JSON ({e})"),
    };
    assert_eq!(Ok(&written), full.as_ref(), "{what}: direct and full translations differ");
}

fuzz_target!(|data: &[u8]| {
    let parsed = serde_json::from_slice::<Value>(data).map_err(|e| e.to_string());
    let (to_messages, to_gemini) = match &parsed {
        Ok(v) => {
            // Every other client dialect through the hub to every wire, lenient and strict.
            for client in [Dialect::Anthropic, Dialect::OpenAiResponses] {
                for provider in [Wire::Chat, Wire::Messages, Wire::Gemini, Wire::Converse] {
                    for strict in [false, true] {
                        let _ = Translation { client, provider }.request(v, "m", &mut Lenience::new(strict));
                    }
                }
            }
            let _ = Translation { client: Dialect::OpenAiChat, provider: Wire::Messages }.request(v, "m", &mut Lenience::default());
            let strict = || Lenience::new(true);
            (chat_to_messages(v, "claude-x", &mut strict()).map_err(|e| e.message), chat_to_gemini(v, &mut strict()).map_err(|e| e.message))
        }
        Err(e) => (Err(e.clone()), Err(e.clone())),
    };
    agree(plain_chat_to_messages(data, "claude-x"), &to_messages, "chat → messages");
    agree(plain_chat_to_gemini(data), &to_gemini, "chat → gemini");
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
