//! Network-address detectors: IPv4 dotted quads and IPv6 addresses (validated by the std parser).

use super::scan::{at, before, Span};

/// IPv4: four decimal octets 0–255 without leading zeros, not part of a longer dotted run
/// (so `1.2.3.4.5` and `v1.2.3.4` are not addresses).
pub fn ipv4(t: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i < t.len() {
        i = super::scan::next_where(t, i, |b| b.is_ascii_digit());
        let p = before(t, i);
        if i >= t.len() || p.is_ascii_alphanumeric() || matches!(p, b'.' | b'_' | b'-') {
            i = super::scan::run(t, i, |b| b.is_ascii_digit()).max(i + 1);
            continue;
        }
        match quad(t, i) {
            Some(e) => {
                out.push(Span { start: i, end: e });
                i = e;
            }
            None => i = super::scan::run(t, i, |b| b.is_ascii_digit()).max(i + 1),
        }
    }
}

fn quad(t: &[u8], s: usize) -> Option<usize> {
    let mut j = s;
    for k in 0..4 {
        if k > 0 {
            if at(t, j) != b'.' {
                return None;
            }
            j += 1;
        }
        let e = super::scan::run(t, j, |b| b.is_ascii_digit());
        let octet = t.get(j..e)?;
        if octet.is_empty() || octet.len() > 3 || (octet.len() > 1 && octet.first() == Some(&b'0')) {
            return None;
        }
        let v: u32 = std::str::from_utf8(octet).ok()?.parse().ok()?;
        if v > 255 {
            return None;
        }
        j = e;
    }
    let n = at(t, j);
    if n.is_ascii_alphanumeric() || n == b'_' || (matches!(n, b'.' | b'-') && at(t, j + 1).is_ascii_alphanumeric()) {
        return None;
    }
    Some(j)
}

fn v6_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// IPv6: a run of hex digits, colons (at least two) and dots that the standard parser accepts
/// (full, `::`-compressed, or with an embedded IPv4). Times like `10:30:00` are rejected by it.
pub fn ipv6(t: &[u8], out: &mut Vec<Span>) {
    // Driven by the colons (rare in prose): each one not yet covered starts a candidate at the
    // beginning of its run of address characters.
    let mut done = 0;
    for colon in memchr::memchr_iter(b':', t) {
        if colon < done {
            continue;
        }
        let mut i = colon;
        while i > done && v6_char(before(t, i)) && colon - i < 45 {
            i -= 1;
        }
        while at(t, i) == b'.' {
            i += 1;
        }
        let p = before(t, i);
        if p.is_ascii_alphanumeric() || matches!(p, b':' | b'.' | b'_' | b'-') {
            done = super::scan::run(t, colon, v6_char);
            continue;
        }
        let mut e = super::scan::run(t, i, v6_char);
        while e > i && before(t, e) == b'.' {
            e -= 1;
        }
        // A trailing single colon is punctuation ("address fe80::1:"), not part of the address.
        if before(t, e) == b':' && at(t, e.saturating_sub(2)) != b':' {
            e -= 1;
        }
        let cand = t.get(i..e).unwrap_or_default();
        let colons = cand.iter().filter(|&&b| b == b':').count();
        let n = at(t, e);
        let ok = colons >= 2
            && cand.len() > 2
            && !n.is_ascii_alphanumeric()
            && n != b'_'
            && std::str::from_utf8(cand).ok().and_then(|s| s.parse::<std::net::Ipv6Addr>().ok()).is_some();
        if ok {
            out.push(Span { start: i, end: e });
        }
        done = super::scan::run(t, colon, v6_char).max(e);
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
    fn v4() {
        assert_eq!(found(ipv4, "hosts 10.0.0.1, 192.168.1.254. and 8.8.8.8"), ["10.0.0.1", "192.168.1.254", "8.8.8.8"]);
        assert!(found(ipv4, "v1.2.3.4 1.2.3.4.5 256.1.1.1 01.2.3.4 1.2.3 3.14").is_empty());
    }

    #[test]
    fn v6() {
        assert_eq!(found(ipv6, "at 2001:db8::8a2e:370:7334, fe80::1: and ::ffff:192.0.2.1."), ["2001:db8::8a2e:370:7334", "fe80::1", "::ffff:192.0.2.1"]);
        assert!(found(ipv6, "at 10:30:00, mac 00:1A:2B:3C:4D:5E, ratio 3:2, cafe:babe").is_empty());
    }
}
