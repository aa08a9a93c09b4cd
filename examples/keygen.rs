//! Makes a new tollgate virtual key, or the digest of an existing one.
//!
//! ```text
//! cargo run -q --example keygen -- [--id ID] [--tenant TENANT]   # new key + its config entry
//! cargo run -q --example keygen -- --digest-of tg-...            # digest only (rotation)
//! ```
//!
//! A new key is `tg-` and 24 random bytes from `/dev/urandom` in unpadded base64url. stdout gets
//! the key on the first line and the `keys[]` entry for the filter config on the second; the
//! config only ever holds the digest, so the key itself is shown once and never again.
//! `tollgate keygen` (the command-line tool) does the same through the same library functions.

use std::io::Read;
use std::process::ExitCode;
use tollgate::keys::{config_entry, key_from_random, Digest, KEY_RANDOM_BYTES};

const USAGE: &str = "usage: keygen [--id ID] [--tenant TENANT] | keygen --digest-of KEY";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keygen: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (mut id, mut tenant, mut digest_of) = (None, None, None);
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--id" => &mut id,
            "--tenant" => &mut tenant,
            "--digest-of" => &mut digest_of,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`")),
        };
        *slot = Some(it.next().filter(|v| !v.is_empty()).ok_or(format!("{flag} needs a non-empty value"))?);
    }
    if let Some(key) = digest_of {
        if id.is_some() || tenant.is_some() {
            return Err("--digest-of takes no other flags".into());
        }
        println!("{}", Digest::of(key.as_bytes()));
        return Ok(());
    }

    let mut random = [0u8; KEY_RANDOM_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    let key = key_from_random(&random);
    println!("{key}");
    println!("{}", config_entry(&key, id.as_deref(), tenant.as_deref()));
    eprintln!("keygen: the key above is shown only once; store it now. The config line holds only its digest.");
    Ok(())
}
