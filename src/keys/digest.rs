//! SHA-256 digests of virtual keys: the only form in which keys exist in config and memory.

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A SHA-256 digest of a secret key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// Digest of a presented secret.
    pub fn of(secret: &[u8]) -> Digest {
        Digest(Sha256::digest(secret).into())
    }

    /// The digest's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses `sha256:<64 lower- or upper-case hex digits>`.
    pub fn parse(s: &str) -> Result<Digest, &'static str> {
        let hex = s.strip_prefix("sha256:").ok_or("must start with `sha256:`")?;
        if hex.len() != 64 {
            return Err("must have 64 hex digits after `sha256:`");
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or("is not hex")?;
            let lo = hex_val(pair[1]).ok_or("is not hex")?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn known_vector() {
        // sha256("abc")
        let d = Digest::of(b"abc");
        assert_eq!(d.to_string(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Digest::parse(&d.to_string()), Ok(d));
        assert_eq!(Digest::parse(&d.to_string().to_uppercase().replace("SHA256", "sha256")), Ok(d));
    }

    #[test]
    fn rejects_bad_digests() {
        assert!(Digest::parse("md5:abc").is_err());
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&format!("sha256:{}", "g".repeat(64))).is_err());
        assert!(Digest::parse(&format!("sha256:{}", "é".repeat(32))).is_err());
    }
}
