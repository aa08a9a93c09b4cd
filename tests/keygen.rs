//! The key generator example (`cargo run --example keygen`): it prints a fresh `tg-` key and a
//! config entry holding that key's digest, which tollgate accepts and matches against the key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use tollgate::keys::Digest;

/// Runs the example through cargo (builds it if needed): (exit code, stdout, stderr).
fn keygen(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "-q", "--example", "keygen", "--"])
        .args(args)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn new_key_comes_with_a_config_entry_holding_its_digest() {
    let (code, out, err) = keygen(&["--id", "alice", "--tenant", "team-a"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let key = lines[0];
    let secret = key.strip_prefix("tg-").unwrap_or_else(|| panic!("key without tg- prefix: {key}"));
    assert_eq!(secret.len(), 32, "24 random bytes in unpadded base64url");
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{key}");
    assert!(err.contains("once"), "stderr warns the key is shown once: {err}");

    let entry: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let digest = Digest::of(key.as_bytes()).to_string();
    assert_eq!(entry, serde_json::json!({"id": "alice", "tenant": "team-a", "digests": [digest], "models": ["*"]}));
    assert!(!lines[1].contains(secret), "the config line never holds the key");

    // The entry is a valid tollgate key, and the printed key authenticates as it.
    let config = tollgate::config::parse(format!(r#"{{"keys": [{}]}}"#, lines[1]).as_bytes(), &|_| None).unwrap();
    let idx = config.keys.by_secret(key).expect("the printed key matches its entry");
    let policy = config.keys.get(idx).unwrap();
    assert_eq!((policy.id.as_str(), policy.tenant.as_deref()), ("alice", Some("team-a")));
}

#[test]
fn keys_are_random_and_ids_default_from_the_digest() {
    let (_, a, _) = keygen(&[]);
    let (_, b, _) = keygen(&[]);
    let (ka, kb) = (a.lines().next().unwrap(), b.lines().next().unwrap());
    assert_ne!(ka, kb);
    let entry: serde_json::Value = serde_json::from_str(a.lines().nth(1).unwrap()).unwrap();
    let digest = Digest::of(ka.as_bytes()).to_string();
    assert_eq!(entry["id"], format!("key-{}", &digest[7..15]));
    assert!(entry.get("tenant").is_none(), "no tenant unless asked: {entry}");
}

#[test]
fn digest_of_an_existing_key_and_bad_arguments() {
    let (code, out, _) = keygen(&["--digest-of", "tg-demo-key"]);
    assert_eq!((code, out.trim()), (0, Digest::of(b"tg-demo-key").to_string().as_str()));
    for args in [&["--bogus"][..], &["--id"], &["--digest-of", "k", "--id", "x"]] {
        let (code, out, err) = keygen(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty() && err.contains("usage"), "{args:?}: {out}{err}");
    }
}
