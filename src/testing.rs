//! Test helpers for the differential tests: a seeded xorshift and random byte edits.

/// A xorshift64 generator: a fixed seed, so every run tests the same cases.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One to `most` random edits of `body`, each a byte of `alphabet` written over, removed or
/// inserted at a random place.
pub fn edit(body: &mut Vec<u8>, rng: &mut Rng, alphabet: &[u8], most: u64) {
    for _ in 0..1 + rng.next() % most {
        let at = rng.below(body.len() + 1);
        let c = alphabet[rng.below(alphabet.len())];
        match rng.next() % 3 {
            0 if at < body.len() => body[at] = c,
            1 if at < body.len() => {
                body.remove(at);
            }
            _ => body.insert(at, c),
        }
    }
}

/// A JSON object of `fields` (each `"key":value`) and of each of `extras` whose key is not there
/// yet, taken with odds 1 in `odds`; the first field is swapped with a random one.
pub fn object(rng: &mut Rng, mut fields: Vec<String>, extras: &[&str], odds: u64) -> Vec<u8> {
    for extra in extras {
        if rng.next().is_multiple_of(odds) && !fields.iter().any(|f| f.split(':').next() == extra.split(':').next()) {
            fields.push(extra.to_string());
        }
    }
    let n = fields.len();
    fields.swap(0, rng.below(n));
    format!("{{{}}}", fields.join(",")).into_bytes()
}

/// A direct path's answers against the full path's, over many bodies: each body the direct
/// path answers must get the full path's output.
#[derive(Default)]
pub struct Agreement {
    answered: usize,
    total: usize,
}

impl Agreement {
    /// `both` gives the direct path's output (`None`: not taken) and the full path's.
    pub fn check(&mut self, body: Vec<u8>, both: impl Fn(&str) -> (Option<serde_json::Value>, Result<serde_json::Value, String>)) {
        self.total += 1;
        let Ok(text) = String::from_utf8(body) else { return };
        let (direct, full) = both(&text);
        if let Some(d) = direct {
            self.answered += 1;
            assert_eq!(Ok(d), full, "{text}");
        }
    }

    /// Most bodies, valid ones being most of them, should take the direct path.
    pub fn assert_most_answered(&self) {
        assert!(self.answered > self.total / 3, "most bodies should take the direct path ({} of {})", self.answered, self.total);
    }
}

/// `body` through a direct path (its output read back as JSON) and through the full
/// translation (of the parsed body): the pair [`Agreement::check`] and the fixed cases compare.
pub fn both_paths(
    body: &str,
    direct: impl Fn(&[u8]) -> Option<Vec<u8>>,
    full: impl Fn(&serde_json::Value) -> Result<serde_json::Value, crate::api::translate::TranslateError>,
) -> (Option<serde_json::Value>, Result<serde_json::Value, String>) {
    let direct = direct(body.as_bytes()).map(|b| {
        let written = serde_json::from_slice(&b);
        assert!(written.is_ok(), "invalid JSON written for {body}: {written:?}");
        written.unwrap_or_default()
    });
    let full = serde_json::from_str(body).map_err(|e: serde_json::Error| e.to_string()).and_then(|v| full(&v).map_err(|e| e.message));
    (direct, full)
}
