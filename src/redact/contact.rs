//! The email detector (phone numbers are in [`super::phone`]).

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
}
