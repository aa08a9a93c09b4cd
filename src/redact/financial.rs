//! Financial and national-identifier detectors: payment cards (issuer ranges and lengths,
//! Luhn), IBANs (mod-97), US SSNs.

use super::scan::{at, before, digits, Span};

/// Luhn checksum over the digits of `t`.
pub fn luhn(t: &[u8]) -> bool {
    let d: Vec<u32> = digits(t).collect();
    let sum: u32 = d.iter().rev().enumerate().map(|(i, &x)| if i % 2 == 1 { if x * 2 > 9 { x * 2 - 9 } else { x * 2 } } else { x }).sum();
    !d.is_empty() && sum.is_multiple_of(10)
}

/// One network's issuer identification number range, as the first four digits of the card
/// number in `lo..=hi` (a shorter prefix scaled up: `51`–`55` is `5100`–`5599`), and the card
/// lengths the network issues.
struct Iin {
    lo: u32,
    hi: u32,
    lengths: &'static [usize],
}

/// The range of the `digits`-digit prefixes `lo..=hi`.
const fn iin(digits: u32, lo: u32, hi: u32, lengths: &'static [usize]) -> Iin {
    let scale = 10u32.pow(4 - digits);
    Iin { lo: lo * scale, hi: (hi + 1) * scale - 1, lengths }
}

const L16_19: &[usize] = &[16, 17, 18, 19];
const L13_19: &[usize] = &[13, 14, 15, 16, 17, 18, 19];

/// The major networks' IIN ranges (ISO/IEC 7812) and the card lengths they issue, as the
/// table in Wikipedia's *Payment card number* lists them: Visa, Mastercard incl. the 2-series,
/// Amex, Discover (incl. the UnionPay co-brand range), JCB, Diners Club, UnionPay, Maestro.
/// Where a network reserves 16–19 digits but issues 16 and 19 (Discover, JCB), only those count,
/// so that a 17- or 18-digit reference passing Luhn is not a card; UnionPay issues all of 16–19.
/// Maestro's 12-digit cards are shorter than the scanner's 13.
const ISSUERS: &[Iin] = &[
    iin(1, 4, 4, &[13, 16, 19]),       // Visa
    iin(2, 51, 55, &[16]),             // Mastercard
    iin(4, 2221, 2720, &[16]),         // Mastercard 2-series
    iin(2, 34, 34, &[15]),             // American Express
    iin(2, 37, 37, &[15]),             // American Express
    iin(4, 6011, 6011, &[16, 19]),     // Discover
    iin(3, 644, 649, &[16, 19]),       // Discover
    iin(2, 65, 65, &[16, 19]),         // Discover
    iin(4, 3528, 3589, &[16, 19]),     // JCB
    iin(3, 300, 305, &[14, 16]),       // Diners Club Carte Blanche / International
    iin(4, 3095, 3095, &[14, 16]),     // Diners Club International
    iin(2, 36, 36, &[14]),             // Diners Club International
    iin(2, 38, 39, &[16]),             // Diners Club International
    iin(2, 62, 62, L16_19),            // UnionPay (and Discover's 622126–622925)
    iin(4, 5018, 5018, L13_19),        // Maestro
    iin(4, 5020, 5020, L13_19),        // Maestro
    iin(4, 5038, 5038, L13_19),        // Maestro
    iin(4, 5893, 5893, L13_19),        // Maestro
    iin(4, 6304, 6304, L13_19),        // Maestro
    iin(4, 6759, 6759, L13_19),        // Maestro (UK)
    iin(4, 6761, 6763, L13_19),        // Maestro
];

/// Whether the card digits `d` start within a known issuer's range and have one of its lengths.
fn known_issuer(d: &[u8]) -> bool {
    let p4 = d.iter().take(4).fold(0u32, |n, b| n * 10 + u32::from(b.wrapping_sub(b'0')));
    ISSUERS.iter().any(|i| (i.lo..=i.hi).contains(&p4) && i.lengths.contains(&d.len()))
}

fn boundary_before(t: &[u8], i: usize) -> bool {
    let p = before(t, i);
    !p.is_ascii_alphanumeric() && !matches!(p, b'-' | b'_' | b'.' | b',' | b'/' | b'+')
}

fn boundary_after(t: &[u8], e: usize) -> bool {
    let n = at(t, e);
    !n.is_ascii_alphanumeric() && n != b'_' && !(matches!(n, b'-' | b'.' | b',' | b'/') && at(t, e + 1).is_ascii_digit())
}

/// Payment card numbers: 13–19 digits, optionally grouped by single spaces or hyphens (one kind),
/// with a known issuer's prefix and length ([`ISSUERS`]) and a valid Luhn check digit.
pub fn credit_card(t: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i < t.len() {
        i = super::scan::next_where(t, i, |b| b.is_ascii_digit());
        if i >= t.len() {
            break;
        }
        if !boundary_before(t, i) {
            i = super::scan::run(t, i, |b| b.is_ascii_digit());
            continue;
        }
        let first = super::scan::run(t, i, |b| b.is_ascii_digit());
        if first - i < 13 && !(matches!(at(t, first), b' ' | b'-') && at(t, first + 1).is_ascii_digit()) {
            i = first;
            continue;
        }
        // Group ends (and digit counts so far): digit runs joined by one separator.
        let mut ends = [(0usize, 0usize); 8];
        let mut n = 0;
        let mut sep = 0u8;
        let (mut j, mut count) = (i, 0);
        loop {
            let e = super::scan::run(t, j, |b| b.is_ascii_digit());
            count += e - j;
            if let Some(slot) = ends.get_mut(n) {
                *slot = (e, count);
                n += 1;
            }
            let s = at(t, e);
            if matches!(s, b' ' | b'-') && (sep == 0 || sep == s) && at(t, e + 1).is_ascii_digit() && n < ends.len() && count < 19 {
                sep = s;
                j = e + 1;
            } else {
                break;
            }
        }
        let found = ends.get(..n).unwrap_or_default().iter().rev().filter(|(_, c)| (13..=19).contains(c)).map(|(e, _)| *e).find(|&e| {
            let mut d = [0u8; 19];
            let mut k = 0;
            for &b in t.get(i..e).unwrap_or_default().iter().filter(|b| b.is_ascii_digit()) {
                if let Some(slot) = d.get_mut(k) {
                    *slot = b;
                    k += 1;
                }
            }
            let d = d.get(..k).unwrap_or_default();
            boundary_after(t, e) && known_issuer(d) && luhn(d)
        });
        match found {
            Some(e) => {
                out.push(Span { start: i, end: e });
                i = e;
            }
            None => i = first.max(i + 1),
        }
    }
}

/// IBAN lengths of the countries most often seen; other country codes take any length 15–34.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AT", 20), (b"BE", 16), (b"CH", 21), (b"CZ", 24), (b"DE", 22), (b"DK", 18), (b"ES", 24), (b"FI", 18), (b"FR", 27),
    (b"GB", 22), (b"GR", 27), (b"IE", 22), (b"IT", 27), (b"LU", 20), (b"NL", 18), (b"NO", 15), (b"PL", 28), (b"PT", 25),
    (b"SE", 24),
];

/// Mod-97 check of an IBAN given without spaces.
pub fn iban_valid(s: &[u8]) -> bool {
    if !(15..=34).contains(&s.len()) || !s.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return false;
    }
    if let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| s.get(..2) == Some(&c[..])) {
        if s.len() != *len {
            return false;
        }
    }
    let (head, tail) = s.split_at(4);
    let mut r: u32 = 0;
    for &b in tail.iter().chain(head) {
        let v = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    r == 1
}

/// IBANs: country code, check digits, account; compact or in space-separated groups of four.
pub fn iban(t: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i + 4 < t.len() {
        let head = at(t, i).is_ascii_uppercase() && at(t, i + 1).is_ascii_uppercase() && at(t, i + 2).is_ascii_digit() && at(t, i + 3).is_ascii_digit();
        if !head || before(t, i).is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let alnum = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
        // Candidate ends after each group: compact run, or groups joined by single spaces.
        let mut ends = Vec::new();
        let mut j = i;
        while alnum(at(t, j)) && j - i < 40 {
            j += 1;
            if at(t, j) == b' ' && alnum(at(t, j + 1)) {
                ends.push(j);
                j += 1;
            }
        }
        ends.push(j);
        let found = ends.iter().rev().copied().find(|&e| {
            let compact: Vec<u8> = t.get(i..e).unwrap_or_default().iter().filter(|&&b| b != b' ').copied().collect();
            !at(t, e).is_ascii_alphanumeric() && iban_valid(&compact)
        });
        match found {
            Some(e) => {
                out.push(Span { start: i, end: e });
                i = e;
            }
            None => i += 1,
        }
    }
}

/// US Social Security numbers written `123-45-6789` (or with spaces), excluding never-issued
/// areas (000, 666, 900–999), group 00, serial 0000 and the published advertising numbers.
pub fn us_ssn(t: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i + 11 <= t.len() {
        i = super::scan::next_where(t, i, |b| b.is_ascii_digit());
        let Some(c) = t.get(i..i + 11) else { break };
        let sep = at(c, 3);
        let shape = matches!(sep, b'-' | b' ')
            && at(c, 6) == sep
            && c.iter().enumerate().all(|(k, b)| k == 3 || k == 6 || b.is_ascii_digit());
        let p = before(t, i);
        let n = at(t, i + 11);
        let bounded = !(p.is_ascii_alphanumeric()
            || matches!(p, b'-' | b'.' | b'_' | b'/')
            || n.is_ascii_alphanumeric()
            || (matches!(n, b'-' | b'.' | b'/') && at(t, i + 12).is_ascii_digit()));
        if shape && bounded && ssn_valid(c) {
            out.push(Span { start: i, end: i + 11 });
            i += 11;
        } else {
            // No number starts inside a digit run.
            i = super::scan::run(t, i, |b| b.is_ascii_digit());
        }
    }
}

fn ssn_valid(c: &[u8]) -> bool {
    let num = |r: std::ops::Range<usize>| c.get(r).and_then(|p| std::str::from_utf8(p).ok()).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let (area, group, serial) = (num(0..3), num(4..6), num(7..11));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !matches!((area, group, serial), (78, 5, 1120) | (219, 9, 9999))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn found(f: fn(&[u8], &mut Vec<Span>), text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        f(text.as_bytes(), &mut out);
        out.iter().map(|s| &text[s.start..s.end]).collect()
    }

    #[test]
    fn cards() {
        let text = "Visa 4111 1111 1111 1111, MC 5555-5555-5555-4444, Amex 378282246310005, 4111111111111112 (bad Luhn), 1234567812345670 (no issuer)";
        assert_eq!(found(credit_card, text), ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"]);
        assert!(found(credit_card, "4111-1111 1111-1111, 2024-03-15, ORD-4111111111111111").is_empty());
    }

    #[test]
    fn issuer_ranges_and_lengths() {
        // Test numbers the networks publish, one or two a network.
        for n in ["4111111111111111", "4222222222222", "5555555555554444", "2223003122003222", "378282246310005", "6011111111111117", "6445644564456445",
            "3530111333300000", "30569309025904", "36227206271667", "3841001111222233", "6200000000000005", "6759649826438453", "6304000000000000"] {
            assert!(luhn(n.as_bytes()) && known_issuer(n.as_bytes()), "{n}");
        }
        // Luhn-valid 18-digit reference numbers: no network issues this prefix at this length.
        for n in ["400000000000000002", "555555555555444400", "378282246310005002", "351234567890123451", "712345678901234564", "601234567890123459", "220012345678901231", "301234567890123456", "381234567890123458", "651234567890123454"] {
            assert!(luhn(n.as_bytes()), "{n} passes Luhn");
            assert!(!known_issuer(n.as_bytes()), "{n}");
        }
        assert!(found(credit_card, "reference 400000000000000002 and 351234567890123451").is_empty());
    }

    #[test]
    fn ibans() {
        let text = "Pay DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432 now; not DE89 3704 0044 0532 0130 01.";
        assert_eq!(found(iban, text), ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"]);
        assert!(iban_valid(b"FR1420041010050500013M02606"));
    }

    #[test]
    fn ssns() {
        assert_eq!(found(us_ssn, "SSN 123-45-6789 and 536 22 1234."), ["123-45-6789", "536 22 1234"]);
        assert!(found(us_ssn, "000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000 078-05-1120 2024-03-1599 1-123-45-6789").is_empty());
    }
}
