//! Prints tollgate's prompt-token estimate of each JSON request body given as an argument, one a
//! line: what a token limit reserves for the prompt (plus `max_tokens`). `bench/soak.py` uses it to
//! check, at the end of a soak, that the token counter holds exactly the metered usage.
//!
//! ```text
//! cargo run -q --example estimate -- '{"model":"m","messages":[{"role":"user","content":"hi"}]}'
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for arg in std::env::args().skip(1) {
        match serde_json::from_str::<serde_json::Value>(&arg) {
            Ok(body) => println!("{}", tollgate::usage::estimate_prompt_tokens(&body)),
            Err(e) => {
                eprintln!("estimate: not JSON ({e})");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
