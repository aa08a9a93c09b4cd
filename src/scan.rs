//! A validating JSON scanner over raw bytes that builds nothing: the fast paths' reader.
//!
//! It checks RFC 8259's grammar as it goes (string escapes and control characters, number
//! grammar, literals, nesting no deeper than `serde_json` allows) and hands out the raw bytes of
//! strings and numbers. Every method returns `None` on anything it does not accept, and its
//! callers then leave the body to `serde_json`, which decides with its precise error. So it may
//! refuse what `serde_json` accepts, never the reverse: it refuses surrogate escapes that do not
//! pair up, as `serde_json` does. UTF-8 inside strings is left to the caller.
//!
//! Strings are skipped eight bytes at a time (`u64` arithmetic is native in wasm), looking for
//! a quote, a backslash or a control character at once.

/// `serde_json`'s recursion limit: deeper values are refused here, as there.
pub const MAX_DEPTH: usize = 128;

/// Writes `parts` one after another: one call for a run of literal JSON and values, so the
/// writers that build a body piece by piece stay small (`extend_from_slice` inlined at every
/// piece is several times the code).
#[inline(never)]
pub fn put(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// Writes `n` in decimal (no formatting machinery, no allocation).
#[inline(never)]
pub fn put_u64(out: &mut Vec<u8>, n: u64) {
    let (digits, start) = decimal(n);
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// Appends `n` in decimal to a `String` (as [`put_u64`]).
#[inline(never)]
pub fn push_u64(out: &mut String, n: u64) {
    let (digits, start) = decimal(n);
    // Digits are ASCII, so this never fails.
    out.push_str(std::str::from_utf8(digits.get(start..).unwrap_or_default()).unwrap_or_default());
}

/// `n`'s decimal digits, in the buffer from the returned index on.
fn decimal(mut n: u64) -> ([u8; 20], usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    (digits, i)
}

/// The value of a JSON number that is a plain non-negative integer fitting a `u64` (no sign,
/// fraction or exponent), as `serde_json` reads one into a `u64`.
pub fn u64_of(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() {
        return None;
    }
    raw.iter().try_fold(0u64, |n, &d| if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(d - b'0')) } else { None })
}

/// Whether a number (`raw`, valid grammar) is within `f64`'s range, which `serde_json` requires
/// of any number that is not a 64-bit integer. Conservative: a magnitude of 1e308 or more is
/// refused (`f64` reaches 1.79e308), so this never accepts what `serde_json` refuses.
fn in_f64_range(raw: &[u8]) -> bool {
    let split = raw.iter().position(|b| matches!(b, b'e' | b'E')).unwrap_or(raw.len());
    let (mantissa, exp) = raw.split_at(split);
    let exp = exp.get(1..).unwrap_or_default();
    let (negative, exp_digits) = match exp.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, exp),
    };
    // Saturates far beyond any digit count a body can hold.
    let magnitude = exp_digits.iter().fold(0i64, |n, &d| n.saturating_mul(10).saturating_add(i64::from(d - b'0')).min(1 << 40));
    let exp = if negative { -magnitude } else { magnitude };
    let mantissa = mantissa.strip_prefix(b"-").unwrap_or(mantissa);
    let dot = mantissa.iter().position(|&b| b == b'.').unwrap_or(mantissa.len());
    let (int, frac) = (mantissa.get(..dot).unwrap_or_default(), mantissa.get(dot + 1..).unwrap_or_default());
    // The decimal exponent of the leading significant digit.
    let lead = match (int.iter().position(|&d| d != b'0'), frac.iter().position(|&d| d != b'0')) {
        (Some(k), _) => (int.len() - k) as i64 - 1,
        (None, Some(k)) => -(k as i64) - 1,
        (None, None) => return true, // zero, whatever its exponent
    };
    lead.saturating_add(exp) < 308
}

/// A position in a JSON text.
pub struct Scan<'a> {
    pub b: &'a [u8],
    pub i: usize,
}

const ONES: u64 = u64::MAX / 255;
const HIGHS: u64 = ONES << 7;

/// Bytes of `w` equal to `c`, flagged in their high bit (exact for every byte).
fn eq_mask(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    !(((x & !HIGHS).wrapping_add(!HIGHS)) | x) & HIGHS
}

impl<'a> Scan<'a> {
    pub fn new(b: &'a [u8]) -> Scan<'a> {
        Scan { b, i: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    pub fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    pub fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    /// Whitespace, then the end of the text.
    pub fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    pub fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string without escapes: its raw bytes (the body's bytes, so valid UTF-8 is left to
    /// the caller).
    pub fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        self.skip_plain();
        let end = self.i;
        self.eat(b'"')?;
        self.b.get(start..end)
    }

    /// Advances to the next quote, backslash or control character (or the end).
    pub fn skip_plain(&mut self) {
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let w = u64::from_le_bytes(w);
            // A control byte is one below 0x20: its high bit is clear and it is under 0x20 with
            // the high bit masked off.
            let ctrl = !(((w & !HIGHS).wrapping_add(ONES * (0x80 - 0x20))) | w) & HIGHS;
            let hit = ctrl | eq_mask(w, b'"') | eq_mask(w, b'\\');
            if hit != 0 {
                self.i += (hit.trailing_zeros() / 8) as usize;
                return;
            }
            self.i += 8;
        }
        while matches!(self.peek(), Some(c) if c >= 0x20 && c != b'"' && c != b'\\') {
            self.i += 1;
        }
    }

    /// Any string, escapes checked: the raw bytes between its quotes, escapes as written (so
    /// they can be copied into another JSON string as they are).
    pub fn string(&mut self) -> Option<&'a [u8]> {
        let (raw, _) = self.string_span()?;
        self.b.get(raw)
    }

    /// [`Scan::string`] as the range of its raw bytes in the input, and whether it has an escape.
    pub fn string_span(&mut self) -> Option<(std::ops::Range<usize>, bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.skip_plain();
            match self.peek()? {
                b'"' => {
                    let raw = start..self.i;
                    self.i += 1;
                    return Some((raw, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            self.i += 1;
                            let unit = self.hex4()?;
                            if (0xD800..0xDC00).contains(&unit) {
                                // A leading surrogate needs its trailing one, escaped right after.
                                self.literal(b"\\u")?;
                                if !(0xDC00..0xE000).contains(&self.hex4()?) {
                                    return None;
                                }
                            } else if (0xDC00..0xE000).contains(&unit) {
                                return None;
                            }
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a control character
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let hex = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &h in hex {
            v = v * 16 + char::from(h).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    fn digits(&mut self) -> Option<()> {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }

    /// A number: its raw bytes. One beyond `f64`'s range (`1e400`) is refused, as `serde_json`
    /// refuses it.
    pub fn number(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        if self.peek()? == b'-' {
            self.i += 1;
        }
        let int_start = self.i;
        if self.peek()? == b'0' {
            self.i += 1;
        } else {
            self.digits()?;
        }
        let long = self.i - int_start > 300;
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digits()?;
        }
        let mut exponent = false;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            exponent = true;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits()?;
        }
        let raw = self.b.get(start..self.i)?;
        // Only a long integer part or an exponent can reach past `f64`.
        (!(long || exponent) || in_f64_range(raw)).then_some(raw)
    }

    /// Any value, nested `depth` levels deep.
    pub fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            open @ (b'[' | b'{') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                let close = if open == b'[' { b']' } else { b'}' };
                self.ws();
                if self.peek()? == close {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        c if c == close => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// The members of an object, opening brace included: calls `member` with each key (its
    /// raw bytes) with the scanner at the value, which `member` must read. `None` when the
    /// object is malformed or `member` says so, and for a key with an escape in it, which could
    /// spell a name the caller looks for.
    pub fn object(&mut self, member: &mut dyn FnMut(&mut Scan<'a>, &'a [u8]) -> Option<()>) -> Option<()> {
        self.ws();
        self.eat(b'{')?;
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            let key = self.plain_string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The elements of an array, opening bracket included: calls `element` with the scanner at
    /// each element, which `element` must read.
    pub fn array(&mut self, element: &mut dyn FnMut(&mut Scan<'a>) -> Option<()>) -> Option<()> {
        self.ws();
        self.eat(b'[')?;
        self.ws();
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            element(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null`, if that is what comes next.
    pub fn null(&mut self) -> bool {
        self.literal(b"null").is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn integers_both_ways() {
        for n in [0, 7, 10, 4096, u64::MAX] {
            let mut out = Vec::new();
            put_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
            assert_eq!(u64_of(&out), Some(n));
        }
        for bad in ["", "-1", "1.0", "1e3", "18446744073709551616"] {
            assert_eq!(u64_of(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn numbers_beyond_f64_are_refused_as_serde_refuses_them() {
        // Found by fuzzing (fuzz target `scan`): the scanner took `1e400`, which serde_json refuses.
        let long = format!("1{}", "0".repeat(400));
        for (n, ok) in [("1e400", false), ("-1e400", false), ("1.5E+308", false), (long.as_str(), false), ("1e307", true), ("9.99e306", true),
            ("0.0001e310", true), ("1e-400", true), ("0e99999999999999999999", true), ("1e99999999999999999999", false), ("12.5", true), ("18446744073709551616", true)]
        {
            let scanned = Scan::new(n.as_bytes()).number().is_some();
            assert_eq!(scanned, ok, "{n}");
            if scanned {
                assert!(serde_json::from_str::<serde_json::Value>(n).is_ok(), "serde_json takes {n} too");
            } else if n != "1.5E+308" {
                assert!(serde_json::from_str::<serde_json::Value>(n).is_err(), "serde_json refuses {n} too");
            }
        }
    }

    #[test]
    fn finds_specials_in_any_position() {
        for n in 0..40 {
            for special in [b'"', b'\\', 0x1f, 0x00] {
                let mut b = vec![b'a'; n];
                b.push(special);
                b.extend_from_slice(b"tail 0123456789");
                let mut s = Scan::new(&b);
                s.skip_plain();
                assert_eq!(s.i, n, "special {special:#x} after {n} bytes");
            }
            // High bytes (UTF-8) and bytes just above the control range are not special.
            let b: Vec<u8> = (0..n).map(|k| [0x20u8, 0x7f, 0x80, 0xe9, 0xff, b'!', b']'][k % 7]).collect();
            let mut s = Scan::new(&b);
            s.skip_plain();
            assert_eq!(s.i, n);
        }
    }

    #[test]
    fn strings_keep_their_escapes_and_refuse_what_serde_refuses() {
        let raw = |t: &str| Scan::new(t.as_bytes()).string().map(|r| String::from_utf8(r.to_vec()).unwrap());
        assert_eq!(raw(r#""a\"b\n\u00e9\ud83d\ude00" tail"#).as_deref(), Some(r#"a\"b\n\u00e9\ud83d\ude00"#));
        for bad in [r#""\ud800""#, r#""\ud800x""#, r#""\ud800\u0041""#, r#""\udc00""#, r#""\x""#, r#""\u12g4""#, "\"a\u{1}\"", r#""open"#] {
            assert_eq!(raw(bad), None, "{bad}");
            assert!(serde_json::from_str::<serde_json::Value>(bad).is_err(), "serde refuses {bad} too");
        }
    }

    #[test]
    fn objects_and_arrays_hand_out_members() {
        let mut seen = Vec::new();
        let mut s = Scan::new(br#" { "a" : [1, "x", null] , "b":{} } "#);
        s.object(&mut |s, k| {
            seen.push(String::from_utf8_lossy(k).into_owned());
            if k == b"a" {
                let mut n = 0;
                s.array(&mut |s| {
                    n += 1;
                    s.value(2)
                })?;
                assert_eq!(n, 3);
                Some(())
            } else {
                s.value(1)
            }
        })
        .unwrap();
        assert_eq!(s.end(), Some(()));
        assert_eq!(seen, ["a", "b"]);
        for bad in [r#"{"a":1,}"#, r#"{"a" 1}"#, r#"[1,]"#, r#"{"a":1"#, r#"{"\u0061":1}"#] {
            let mut s = Scan::new(bad.as_bytes());
            let ok = if bad.starts_with('{') { s.object(&mut |s, _| s.value(1)) } else { s.array(&mut |s| s.value(1)) };
            assert_eq!(ok, None, "{bad}");
        }
    }
}
