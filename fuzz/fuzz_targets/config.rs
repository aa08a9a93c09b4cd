//! The config compiler: any bytes give a config or an error naming a field, never a crash; the
//! linter-style check runs over any JSON document.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use tollgate_fuzz::mutate;

fuzz_target!(|data: &[u8]| {
    let env = |k: &str| (k != "UNSET").then(|| format!("secret-{k}"));
    match tollgate::config::parse(data, &env) {
        Ok(_) => {}
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Ok(v) = serde_json::from_slice(data) {
        let _ = tollgate::config::check(&v, &env);
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
