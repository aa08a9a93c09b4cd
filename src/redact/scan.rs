//! Byte helpers shared by the hand-written detectors: bounds-safe access and word boundaries.

/// A matched byte range `[start, end)` of the scanned text (always on ASCII bytes, so on char boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// The byte at `i`, or 0 (a non-word sentinel) outside the text.
pub fn at(t: &[u8], i: usize) -> u8 {
    t.get(i).copied().unwrap_or(0)
}

/// The byte before `i`, or 0 at the start.
pub fn before(t: &[u8], i: usize) -> u8 {
    i.checked_sub(1).map_or(0, |j| at(t, j))
}

/// ASCII letter, digit or `_`.
pub fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end of the run of bytes from `i` that satisfy `f`.
pub fn run(t: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < t.len() && f(at(t, i)) {
        i += 1;
    }
    i
}

/// The first position from `i` whose byte satisfies `f`, or the text's length.
pub fn next_where(t: &[u8], i: usize, f: impl Fn(u8) -> bool) -> usize {
    t.get(i..).and_then(|r| r.iter().position(|&b| f(b))).map_or(t.len(), |k| i + k)
}

/// Positions of `needle` in `t`, left to right: a `memchr` over the needle's rarest byte, then a
/// compare. No searcher is built per call, which matters for the many short texts of a chat
/// (and `memmem`'s SIMD is not available in wasm anyway).
pub fn find_all<'a>(t: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let (off, byte) = needle.iter().copied().enumerate().max_by_key(|(_, b)| rarity(*b)).unwrap_or((0, 0));
    memchr::memchr_iter(byte, t).filter_map(move |p| p.checked_sub(off)).filter(move |&s| !needle.is_empty() && t.get(s..).is_some_and(|r| r.starts_with(needle)))
}

/// How rare a byte is in prose (higher is rarer): lower-case letters by English frequency, then
/// digits, upper case and most punctuation. A table, as `find_all` ranks every needle byte on
/// every call.
fn rarity(b: u8) -> u8 {
    RARITY[usize::from(b)]
}

const RARITY: [u8; 256] = {
    const COMMON: &[u8] = b" etaoinshrdlcumwfgypbvkjxqz";
    let mut table = [32u8; 256];
    let mut d = b'0';
    while d <= b'9' {
        table[d as usize] = 28;
        d += 1;
    }
    table[b'.' as usize] = 5;
    table[b',' as usize] = 5;
    table[b'-' as usize] = 20;
    table[b'\n' as usize] = 20;
    let mut rank = 0;
    while rank < COMMON.len() {
        table[COMMON[rank] as usize] = rank as u8;
        rank += 1;
    }
    table
};

/// What one pass over a text tells the detectors before they search it: which two-byte word
/// starts occur (a 1024-bit Bloom filter, two bits a start) and whether the text has any digit, `@`, `:` or `[`.
/// A detector whose match needs a prefix that starts no word, or a byte the text lacks, skips
/// its own scan; prose usually has none of them, so most detectors cost one bit test instead of
/// a pass.
#[derive(Debug, Clone)]
pub struct Sieve {
    starts: [u64; 16],
    /// Class bits ([`DIGIT`], [`AT`], [`COLON`], [`BRACKET`]) of the bytes seen.
    marks: u8,
}

impl Sieve {
    /// Eight bytes at a time: the letters and digits and the marks of each 8-byte chunk come
    /// from a few integer operations on it as one `u64` (no branch per byte); then only the
    /// word starts with a tracked first byte are visited.
    pub fn new(t: &[u8]) -> Sieve {
        let mut sieve = Sieve { starts: [0; 16], marks: 0 };
        let mut prev_alnum = 0u64;
        // The marks' bytes, flagged in their high bits, gathered over the whole text.
        let mut seen = [0u64; 4];
        let chunks = t.chunks_exact(8);
        let tail = chunks.remainder();
        for (c, chunk) in chunks.enumerate() {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word);
            let (alnum, tracked, marks) = swar_classes(w);
            for (s, m) in seen.iter_mut().zip(marks) {
                *s |= m;
            }
            let mut starts = alnum & !(alnum << 8 | prev_alnum >> 56) & tracked;
            prev_alnum = alnum;
            if starts == 0 {
                continue;
            }
            // A start's byte and the one after it, straight from the word (shifted so that
            // the start is its low byte); the chunk's last byte takes its follower from the text.
            let after = u64::from(at(t, c * 8 + 8)) << 56;
            while starts != 0 {
                let shift = starts.trailing_zeros() - 7;
                let pair = (w >> shift | after >> shift << 8) as u16;
                sieve.note_pair(pair);
                starts &= starts - 1;
            }
        }
        for (s, bit) in seen.iter().zip([DIGIT, AT, COLON, BRACKET]) {
            if *s != 0 {
                sieve.marks |= bit;
            }
        }
        let base = t.len() - tail.len();
        let mut prev = prev_alnum >> 63 != 0;
        for (j, &b) in tail.iter().enumerate() {
            sieve.marks |= CLASS[usize::from(b)] & !KEY;
            if !prev && is_tracked(b) {
                sieve.note_start(b, at(t, base + j + 1));
            }
            prev = b.is_ascii_alphanumeric();
        }
        sieve
    }

    fn note_start(&mut self, a: u8, b: u8) {
        self.note_pair(u16::from_le_bytes([a, b]));
    }

    /// Notes the word start `pair` (its first byte low).
    fn note_pair(&mut self, pair: u16) {
        for bit in bigram_bits(pair) {
            self.starts[bit >> 6 & 15] |= 1 << (bit & 63);
        }
    }

    /// Whether `prefix` (two bytes or more, its first a key character) may begin a word of the
    /// text, that is, right after a byte that is not a key character. False means it never does.
    /// Inlined: for the detectors' constant prefixes the test folds to two bit loads.
    #[inline(always)]
    pub fn may_start(&self, prefix: &[u8]) -> bool {
        if !is_tracked(at(prefix, 0)) {
            return true;
        }
        bigram_bits(u16::from_le_bytes([at(prefix, 0), at(prefix, 1)])).iter().all(|&bit| self.starts[bit >> 6 & 15] & (1 << (bit & 63)) != 0)
    }

    /// Whether the text has an ASCII digit.
    pub fn digits(&self) -> bool {
        self.marks & DIGIT != 0
    }

    /// Whether the text has the byte `b`, for `@`, `:` and `[` (any other byte: true, as the
    /// sieve does not track it).
    pub fn has(&self, b: u8) -> bool {
        let mark = match b {
            b'@' => AT,
            b':' => COLON,
            b'[' => BRACKET,
            _ => return true,
        };
        self.marks & mark != 0
    }
}

/// Letters, digits, `_` and `-`: the bytes of a token; a match must not start right after one.
pub fn key_char(b: u8) -> bool {
    CLASS[usize::from(b)] & KEY != 0
}

const KEY: u8 = 1;
const DIGIT: u8 = 2;
const AT: u8 = 4;
const COLON: u8 = 8;
const BRACKET: u8 = 16;

/// Byte classes for the sieve's single pass: `KEY` (a [`key_char`]), `DIGIT` (ASCII digit), and
/// the marks `AT`, `COLON`, `BRACKET` of `@`, `:`, `[`.
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' {
            table[b] = KEY;
        }
        if c.is_ascii_digit() {
            table[b] |= DIGIT;
        }
        table[b] |= match c {
            b'@' => AT,
            b':' => COLON,
            b'[' => BRACKET,
            _ => 0,
        };
        b += 1;
    }
    table
};

/// For the eight bytes of `x`, each as the high bit of its byte: the ASCII letters and digits;
/// the first bytes of the detectors' prefixes ([`is_tracked`]); and the digits, `@`, `:` and `[`
/// (one mask each, in the order of `DIGIT`, `AT`, `COLON`, `BRACKET`). Bytes of 0x80 and up are
/// none. Branch-free: the caller ORs the marks over the whole text. (Word starts are taken after
/// any byte that is not a letter or digit: after `_` and `-` too, which key characters are, so
/// the sieve notes a few starts more than a detector accepts, never fewer.)
fn swar_classes(x: u64) -> (u64, u64, [u64; 4]) {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const fn splat(b: u8) -> u64 {
        0x0101_0101_0101_0101 * b as u64
    }
    let ascii = !x & HIGH;
    let low = x & LOW;
    // High bit set where `lo <= byte <= hi`, for 7-bit bytes (no carry crosses a byte).
    let within = |v: u64, lo: u8, hi: u8| (v + splat(0x80 - lo)) & !(v + splat(0x7F - hi)) & ascii;
    let digit = within(low, b'0', b'9');
    // Upper and lower case at once: setting 0x20 maps `A`–`Z` onto `a`–`z` and no other byte there.
    let letter = within(low | splat(0x20), b'a', b'z');
    let tracked = within(low, b'A', b'B') | within(low, b'e', b'h') | within(low, b's', b's') | within(low, b'x', b'x');
    (digit | letter, tracked, [digit, within(low, b'@', b'@'), within(low, b':', b':'), within(low, b'[', b'[')])
}

/// The first bytes of the detectors' prefixes (`AKIA`, `BEGIN`, `eyJ`, `gsk_`, `ghp_`, `hf_`,
/// `https://`, `sk-`, `xoxb-`, …): only word starts with one of these are noted (`A`–`B` and
/// `e`–`h` as ranges), so prose's many other words cost nothing past the word-at-a-time test.
/// A prefix starting with another byte is never ruled out.
#[inline(always)]
fn is_tracked(b: u8) -> bool {
    matches!(b, b'A'..=b'B' | b'e'..=b'h' | b's' | b'x')
}

/// The two Bloom bits (0..1024) of a two-byte word start, its first byte low: with some forty
/// tracked starts in a long text, two bits a start keep a false "may start" near 0.5 % a
/// prefix, where one bit gave about 4 % (each costs a search of the text).
#[inline(always)]
fn bigram_bits(pair: u16) -> [usize; 2] {
    let h = u32::from(pair).wrapping_mul(0x9E37_79B1);
    [(h >> 22) as usize, (h >> 12 & 1023) as usize]
}

/// The digits of `t`, as values.
pub fn digits(t: &[u8]) -> impl Iterator<Item = u32> + '_ {
    t.iter().filter(|b| b.is_ascii_digit()).map(|b| u32::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn helpers_are_bounds_safe() {
        assert_eq!((at(b"ab", 5), before(b"ab", 0), before(b"ab", 1)), (0, 0, b'a'));
        assert_eq!(run(b"aa1", 0, |b| b == b'a'), 2);
        assert_eq!(find_all(b"xaxax", b"ax").collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(find_all(b"a eyJ eyJx", b"eyJ").collect::<Vec<_>>(), vec![2, 6]);
        assert_eq!(find_all(b"Jx", b"eyJ").count(), 0, "no underflow before the rare byte");
        assert_eq!(find_all(b"abc", b"").count(), 0);
        assert_eq!(digits(b"1-2").sum::<u32>(), 3);
    }

    #[test]
    fn sieve_knows_word_starts_and_digits() {
        let s = Sieve::new(b"Use key sk-abc and (ghp_x) or wordeyJ token");
        assert!(s.may_start(b"sk-") && s.may_start(b"ghp_") && s.may_start(b"Use"));
        assert!(!s.may_start(b"eyJ"), "`eyJ` inside a word starts none");
        assert!(!s.may_start(b"AKIA") && !s.digits());
        assert!(Sieve::new(b"room 101").digits() && !Sieve::new(b"").may_start(b"sk-"));
        assert!(Sieve::new(b"sk").may_start(b"sk-"), "a word at the very end still counts");
        // Every prefix a detector asks about (secrets.rs) starts with a tracked byte.
        for p in [&b"AKIA"[..], b"ASIA", b"ABIA", b"ACCA", b"AIza", b"sk-", b"gsk_", b"hf_", b"xai-", b"ghp_", b"github_pat_", b"xoxb-", b"xapp-", b"https://hooks", b"eyJ", b"BEGIN"] {
            assert!(is_tracked(p[0]) && !Sieve::new(b"plain words only").may_start(p), "{p:?}");
        }
        assert!((0..=255u8).all(|b| key_char(b) == (b.is_ascii_alphanumeric() || b == b'_' || b == b'-')));
    }

    /// The byte-at-a-time sieve the word-at-a-time one replaced, as the reference.
    fn reference(t: &[u8]) -> Sieve {
        let mut s = Sieve { starts: [0; 16], marks: 0 };
        let mut prev = false;
        for (i, &b) in t.iter().enumerate() {
            s.marks |= CLASS[usize::from(b)] & !KEY;
            if !prev && is_tracked(b) {
                s.note_start(b, at(t, i + 1));
            }
            prev = b.is_ascii_alphanumeric();
        }
        s
    }

    #[test]
    fn word_at_a_time_sieve_equals_the_byte_loop() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let alphabet = b"aZ09_- .\n\"/:@[\x7f\x80\xc3\xa9\xffkQ";
        for len in 0..200 {
            for _ in 0..20 {
                let t: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let (a, b) = (Sieve::new(&t), reference(&t));
                assert_eq!((a.starts, a.marks), (b.starts, b.marks), "{t:?}");
            }
        }
        for b in 0..=255u8 {
            let (key, tracked, marks) = swar_classes(u64::from(b) * 0x0101_0101_0101_0101);
            let marks = [DIGIT, AT, COLON, BRACKET].iter().zip(marks).filter(|(_, m)| *m != 0).fold(0, |a, (bit, _)| a | bit);
            assert_eq!((key != 0, marks), (b.is_ascii_alphanumeric(), CLASS[usize::from(b)] & !KEY), "byte {b}");
            assert_eq!(tracked != 0, is_tracked(b), "byte {b}");
        }
        let s = Sieve::new(b"mail me at jane@example.com [EMAIL_1] or fe80::1 please");
        assert!(s.has(b'@') && s.has(b':') && s.has(b'[') && s.has(b'x'));
        let s = Sieve::new(b"plain prose without any of those marks, long enough for words");
        assert!(!s.has(b'@') && !s.has(b':') && !s.has(b'[') && !s.digits());
    }

    #[test]
    fn rarity_ranks_prose_bytes() {
        assert_eq!((rarity(b' '), rarity(b'e'), rarity(b'z')), (0, 1, 26));
        assert_eq!((rarity(b'.'), rarity(b'-'), rarity(b'7'), rarity(b'Q'), rarity(b'/')), (5, 20, 28, 32, 32));
    }
}
