//! Request translation both ways (OpenAI chat → Anthropic, Anthropic → OpenAI chat, OpenAI chat
//! → Gemini), and the direct translators against the full ones: where a direct path answers, it
//! writes valid JSON equal to the full translation's.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use serde_json::Value;
use tollgate::api::translate::{chat_to_gemini, chat_to_messages, messages_to_chat, plain_chat_to_gemini, plain_chat_to_messages};
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
            if let Ok(chat) = messages_to_chat(v, "gpt-x") {
                // What the Anthropic client's request becomes goes on to Gemini.
                let _ = chat_to_gemini(&chat);
            }
            (chat_to_messages(v, "claude-x").map_err(|e| e.message), chat_to_gemini(v).map_err(|e| e.message))
        }
        Err(e) => (Err(e.clone()), Err(e.clone())),
    };
    agree(plain_chat_to_messages(data, "claude-x"), &to_messages, "chat → messages");
    agree(plain_chat_to_gemini(data), &to_gemini, "chat → gemini");
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
