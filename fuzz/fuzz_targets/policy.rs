//! The policy-case loader, and the cases it loads run through the whole filter (`HttpFilter` over
//! the in-memory host) with the example policy (keys, routing, translation, limits, redaction):
//! any request a case describes ends in a reply or a forward, never a crash.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use std::rc::Rc;
use tollgate::config::Config;
use tollgate::policy::{case_env, parse_cases, run_cases};
use tollgate_fuzz::mutate;

/// examples/policy/config.yaml as JSON (fuzz/policy-config.json, written from it by `make fuzz`).
const CONFIG: &str = include_str!("../policy-config.json");

fuzz_target!(|data: &[u8]| {
    static FRESH: std::sync::Once = std::sync::Once::new();
    FRESH.call_once(|| assert!(tollgate::config::parse(CONFIG.as_bytes(), &|k| Some(k.to_string())).is_ok(), "fuzz/policy-config.json is stale"));
    let Ok(doc) = serde_json::from_slice(data) else { return };
    let Ok(file) = parse_cases(doc) else { return };
    let config = match tollgate::config::parse(CONFIG.as_bytes(), &case_env(&file)) {
        Ok(c) => Rc::new(c),
        Err(_) => return, // the file's `env` took away a credential the config needs
    };
    let _: &Config = &config;
    let _ = run_cases(&config, &file, 1_700_000_000_000_000_000);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
