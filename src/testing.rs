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
