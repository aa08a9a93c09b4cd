//! `tollgate keygen`: a new virtual key (shown once) and its config entry, or a key's digest.

use super::EXIT_OK;
use crate::keys::{config_entry, key_from_random, Digest, KEY_RANDOM_BYTES};
use std::io::{Read, Write};

pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, String> {
    let (mut id, mut tenant, mut digest_of) = (None, None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--id" => &mut id,
            "--tenant" => &mut tenant,
            "--digest-of" => &mut digest_of,
            other => return Err(format!("keygen: unknown argument `{other}`")),
        };
        *slot = Some(it.next().filter(|v| !v.is_empty()).ok_or(format!("keygen: {flag} needs a non-empty value"))?.clone());
    }
    let io = |e: std::io::Error| e.to_string();
    if let Some(key) = digest_of {
        if id.is_some() || tenant.is_some() {
            return Err("keygen: --digest-of takes no other flags".into());
        }
        writeln!(out, "{}", Digest::of(key.as_bytes())).map_err(io)?;
        return Ok(EXIT_OK);
    }
    let mut random = [0u8; KEY_RANDOM_BYTES];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random)).map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    let key = key_from_random(&random);
    writeln!(out, "{key}").map_err(io)?;
    writeln!(out, "{}", config_entry(&key, id.as_deref(), tenant.as_deref())).map_err(io)?;
    writeln!(err, "tollgate keygen: the key above is shown only once; store it now. The config line holds only its digest.").map_err(io)?;
    Ok(EXIT_OK)
}
