//! Contact detectors: email addresses and phone numbers (E.164 and common US, UK, French formats).

use super::scan::{at, before, Span};

fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// Email addresses: a local part, `@`, and a domain of at least two labels with an alphabetic TLD.
pub fn email(t: &[u8], out: &mut Vec<Span>) {
    let mut last_end = 0;
    for a in memchr::memchr_iter(b'@', t) {
        if a < last_end {
            continue;
        }
        let mut s = a;
        while s > last_end && local_char(before(t, s)) {
            s -= 1;
        }
        while s < a && matches!(at(t, s), b'.' | b'-' | b'+') {
            s += 1;
        }
        let mut e = a + 1;
        while domain_char(at(t, e)) {
            e += 1;
        }
        while e > a + 1 && matches!(before(t, e), b'.' | b'-') {
            e -= 1;
        }
        let (Some(local), Some(domain)) = (t.get(s..a), t.get(a + 1..e)) else { continue };
        if local.is_empty() || local.len() > 64 || local.windows(2).any(|w| w == b"..") || !valid_domain(domain) {
            continue;
        }
        out.push(Span { start: s, end: e });
        last_end = e;
    }
}

fn valid_domain(d: &[u8]) -> bool {
    let labels: Vec<&[u8]> = d.split(|&b| b == b'.').collect();
    let tld_ok = labels.last().is_some_and(|l| l.len() >= 2 && l.iter().all(u8::is_ascii_alphabetic));
    labels.len() >= 2
        && tld_ok
        && labels.iter().all(|l| !l.is_empty() && l.len() <= 63 && l.first() != Some(&b'-') && l.last() != Some(&b'-'))
}

fn phone_char(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')')
}

/// Phone numbers: `+` and 8–15 digits (E.164, any grouping), or a national number with
/// separators in a known grouping (US `(555) 123-4567`, `555.123.4567`, `1-555-123-4567`;
/// UK `020 7946 0958`, `07700 900123`; France `01 23 45 67 89`). Bare digit runs are never
/// phones: they are order numbers and timestamps far more often.
pub fn phone(t: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i < t.len() {
        i = super::scan::next_where(t, i, |b| b.is_ascii_digit() || b == b'+' || b == b'(');
        let c = at(t, i);
        let starts = (c == b'+' && at(t, i + 1).is_ascii_digit()) || (c == b'(' && at(t, i + 1).is_ascii_digit()) || c.is_ascii_digit();
        let p = before(t, i);
        if !starts || p.is_ascii_alphanumeric() || matches!(p, b'-' | b'_' | b'.' | b'/' | b'+' | b':' | b',' | b'$' | b'#') {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while phone_char(at(t, j)) && !(at(t, j) == b' ' && at(t, j + 1) == b' ') {
            j += 1;
        }
        while j > i && !(at(t, j - 1).is_ascii_digit()) {
            j -= 1;
        }
        // Every phone has at least 8 digits; most digit runs in prose have fewer.
        let enough = t.get(i..j).is_some_and(|c| c.iter().filter(|b| b.is_ascii_digit()).count() >= 8);
        match if enough { best_phone(t, i, j) } else { None } {
            Some(span) => {
                out.push(span);
                i = span.end;
            }
            None => i = j.max(i + 1),
        }
    }
}

/// The longest valid phone inside the candidate `[s, e)`, trying starts and ends at spaces.
fn best_phone(t: &[u8], s: usize, e: usize) -> Option<Span> {
    // Up to 8 spaces: the candidate's possible group boundaries.
    let mut spaces = [0usize; 8];
    let mut n = 0;
    for k in (s..e).filter(|&k| at(t, k) == b' ') {
        let Some(slot) = spaces.get_mut(n) else { break };
        *slot = k;
        n += 1;
    }
    let spaces = spaces.get(..n).unwrap_or_default();
    let paren = if at(t, s) == b'(' { Some(s + 1) } else { None };
    let starts = std::iter::once(s).chain(paren).chain(spaces.iter().map(|k| k + 1));
    for a in starts {
        for b in std::iter::once(e).chain(spaces.iter().rev().copied()).filter(|&b| b > a) {
            let mut b = b;
            while b > a && !before(t, b).is_ascii_digit() {
                b -= 1;
            }
            let next = at(t, b);
            let tail_ok = !(next.is_ascii_alphanumeric() || (matches!(next, b'-' | b'.') && at(t, b + 1).is_ascii_digit()));
            let head_ok = a == s || !at(t, a).is_ascii_punctuation() || at(t, a) == b'+' || at(t, a) == b'(';
            if tail_ok && head_ok && t.get(a..b).is_some_and(valid_phone) {
                return Some(Span { start: a, end: b });
            }
        }
    }
    None
}

fn valid_phone(s: &[u8]) -> bool {
    let digits = s.iter().filter(|b| b.is_ascii_digit()).count();
    let count = |c: u8| s.iter().filter(|&&b| b == c).count();
    if s.first() == Some(&b'+') {
        let open = count(b'(');
        return (8..=15).contains(&digits) && at(s, 1) != b'0' && open <= 1 && open == count(b')');
    }
    let mut groups = [0usize; 6];
    let mut n = 0;
    for g in s.split(|b| !b.is_ascii_digit()).filter(|g| !g.is_empty()) {
        let Some(slot) = groups.get_mut(n) else { return false };
        *slot = g.len();
        n += 1;
    }
    let groups = groups.get(..n).unwrap_or_default();
    if groups.len() < 2 {
        return false;
    }
    // Parentheses only around the first group.
    let parens = count(b'(') + count(b')');
    if parens != 0 && !(parens == 2 && s.first() == Some(&b'(') && at(s, groups.first().copied().unwrap_or(0) + 1) == b')') {
        return false;
    }
    // One kind of separator between groups (the space of a `) ` after the area code aside).
    let mut skip_space = parens == 2;
    let mut kind = 0u8;
    for &b in s.iter().filter(|b| matches!(b, b' ' | b'-' | b'.')) {
        if b == b' ' && std::mem::replace(&mut skip_space, false) {
            continue;
        }
        if kind != 0 && kind != b {
            return false;
        }
        kind = b;
    }
    let lead = s.iter().find(|b| b.is_ascii_digit()).copied().unwrap_or(0);
    match groups {
        [3, 3, 4] => (b'2'..=b'9').contains(&lead),
        [1, 3, 3, 4] => lead == b'1' && parens == 0,
        [2, 2, 2, 2, 2] => lead == b'0' && parens == 0,
        [3, 4, 4] | [4, 3, 4] | [5, 6] | [5, 3, 3] => lead == b'0' && digits == 11,
        _ => false,
    }
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
    fn emails() {
        assert_eq!(found(email, "mail jane.doe+tag@example.co.uk. or bob@mail.example.com!"), ["jane.doe+tag@example.co.uk", "bob@mail.example.com"]);
        assert!(found(email, "user@localhost, @handle, a@b.c, x@-bad.com, v1.2@3.4").is_empty());
    }

    #[test]
    fn phones() {
        assert_eq!(found(phone, "user=+33 6 93 68 45 81 (01 01 71 00 32) (07036 185623 and"), ["+33 6 93 68 45 81", "01 01 71 00 32", "07036 185623"]);
        let text = "Call +1 (415) 555-0132 or +44 20 7946 0958, +4915112345678, (212) 555-0199, 415.555.0100, 020 7946 0958, 07700 900123, 01 23 45 67 89, 1-800-555-0100.";
        assert_eq!(
            found(phone, text),
            ["+1 (415) 555-0132", "+44 20 7946 0958", "+4915112345678", "(212) 555-0199", "415.555.0100", "020 7946 0958", "07700 900123", "01 23 45 67 89", "1-800-555-0100"]
        );
        let misses = "Order 4155550132, on 2024-03-15 at 10:30:00, v1.2.3, $1,234.56, id 550e8400-e29b-41d4-a716-446655440000, ts 1700000000, ORD-415-555-0132, 192.168.10.200, 3.14159";
        assert!(found(phone, misses).is_empty(), "{:?}", found(phone, misses));
    }
}
