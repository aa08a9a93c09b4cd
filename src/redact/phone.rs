//! The phone detector: international numbers (`+` or the `00`/`001` prefix, E.164 lengths),
//! national numbers in the groupings of their numbering plans ([`NATIONAL`]), an optional
//! extension (`x123`, `ext. 123`), and any 7–15 digit number right after a context word
//! ([`super::context`]). A bare digit run without a context word is never a phone: it is an
//! order number or a timestamp far more often.

use super::context;
use super::scan::{at, before, Span};

/// One national grouping: the digit groups' lengths (each a range), the first digit(s) allowed,
/// and where the plan comes from. Written with one separator kind (space, `-`, `.`, `/`), the
/// first separator may differ (`31 4156-8429`, `(030) 1234-567`), parentheses around the
/// first group only.
struct Shape {
    groups: &'static [(u8, u8)],
    /// Allowed first digits.
    lead: &'static [u8],
    /// Allowed second digits (`b"0123456789"` for any).
    second: &'static [u8],
    total: (u8, u8),
}

const ANY: &[u8] = b"0123456789";
const NONZERO: &[u8] = b"123456789";
const N: &[u8] = b"23456789";

/// The national groupings, from the ITU-T E.164 national numbering plans (see the locale table
/// in `docs/redaction.md` and the tests below, which cite one plan a row).
const NATIONAL: &[Shape] = &[
    // Trunk prefix 0, area code (2–6 digits with the 0), subscriber: DE 030 12345678,
    // 030/1234567, NL 06-12345678, IN 022-23456789, PK 0300-1234567, BD 01712-345678,
    // CN 0755-12345678, UK 07700 900123, AT, IT 02 12345678.
    Shape { groups: &[(2, 6), (4, 8)], lead: b"0", second: NONZERO, total: (9, 12) },
    // Trunk 0 in three groups: UK 020 7946 0958, JP 03-1234-5678, KR 010-1234-5678,
    // NG 0803 123 4567, EG 010 1234 5678, PH 0917 123 4567, ID 0812-3456-7890, IR, VN, TH, ET,
    // CD, IT 06 6988 1234, NL 020 123 4567, BR (011) 91234-5678.
    Shape { groups: &[(2, 5), (2, 5), (2, 5)], lead: b"0", second: NONZERO, total: (9, 12) },
    // Trunk 0, pairs at the end: TR 0212 123 45 67, VN 091 234 56 78, ET 0911 23 45 67.
    Shape { groups: &[(2, 4), (2, 3), (2, 2), (2, 2)], lead: b"0", second: NONZERO, total: (9, 12) },
    // FR 01 23 45 67 89 (also BE, MA, CH in pairs).
    Shape { groups: &[(2, 2), (2, 2), (2, 2), (2, 2), (2, 2)], lead: b"0", second: NONZERO, total: (10, 10) },
    // NANP (US, CA) (415) 555-0132, MX 222 123 4567, IT mobile 333 123 4567.
    Shape { groups: &[(3, 3), (3, 3), (4, 4)], lead: N, second: ANY, total: (10, 10) },
    // CN mobile 138 0013 8000.
    Shape { groups: &[(3, 3), (4, 4), (4, 4)], lead: b"1", second: b"3456789", total: (11, 11) },
    // ES 912 345 678, PT 912 345 678.
    Shape { groups: &[(3, 3), (3, 3), (3, 3)], lead: N, second: ANY, total: (9, 9) },
    // PT 21 234 5678.
    Shape { groups: &[(2, 2), (3, 3), (4, 4)], lead: N, second: ANY, total: (9, 9) },
    // BR (11) 91234-5678, 31 4156-8429; MX 55 1234 5678.
    Shape { groups: &[(2, 2), (4, 5), (4, 4)], lead: NONZERO, second: NONZERO, total: (10, 11) },
    // IN mobile 98765 43210.
    Shape { groups: &[(5, 5), (5, 5)], lead: b"6789", second: ANY, total: (10, 10) },
    // IT mobile 333 1234567.
    Shape { groups: &[(3, 3), (7, 7)], lead: b"3", second: ANY, total: (10, 10) },
    // RU (495) 123-45-67, 912 345 67 89.
    Shape { groups: &[(3, 3), (3, 3), (2, 2), (2, 2)], lead: N, second: ANY, total: (10, 10) },
    // ES 91 234 56 78, 612 34 56 78.
    Shape { groups: &[(2, 3), (2, 3), (2, 2), (2, 2)], lead: b"6789", second: ANY, total: (9, 9) },
];

/// Digit groups and the separators between them, as read from a candidate.
struct Groups {
    lens: [u8; 6],
    n: usize,
    /// Separator kind after each group but the last (`b' '`, `b'-'`, `b'.'`, `b'/'`, or 0 when
    /// only a parenthesis stands between).
    seps: [u8; 5],
    /// Index of the group in parentheses, if any.
    paren: Option<usize>,
}

impl Groups {
    /// `None` when the candidate is not digit groups (at most six) joined by one separator
    /// each (` `, `-`, `.`, `/`, ` / `), with at most one group in parentheses.
    fn read(s: &[u8]) -> Option<Groups> {
        let mut g = Groups { lens: [0; 6], n: 0, seps: [0; 5], paren: None };
        let mut i = 0;
        let mut open = at(s, 0) == b'(';
        if open {
            i = 1;
        }
        loop {
            let start = i;
            i = super::scan::run(s, i, |b| b.is_ascii_digit());
            if i == start {
                return None;
            }
            *g.lens.get_mut(g.n)? = u8::try_from(i - start).ok()?;
            g.n += 1;
            if i >= s.len() {
                return (!open).then_some(g);
            }
            // The separator token up to the next digit.
            let end = super::scan::next_where(s, i, |b| b.is_ascii_digit());
            let mut tok = s.get(i..end)?;
            let closed = tok.first() == Some(&b')');
            if closed != open {
                return None;
            }
            if closed {
                g.paren = Some(g.n - 1);
                tok = tok.get(1..)?;
            }
            open = tok.last() == Some(&b'(');
            if open {
                if g.paren.is_some() {
                    return None;
                }
                tok = tok.get(..tok.len() - 1)?;
            }
            let sep = match tok {
                [] if closed || open => 0,
                [b @ (b' ' | b'-' | b'.' | b'/')] => *b,
                b" / " => b'/',
                _ => return None,
            };
            *g.seps.get_mut(g.n - 1)? = sep;
            i = end;
        }
    }

    /// Groupings that are other numbers: a dotted quad (an IPv4 address), dots between
    /// thousands (`123.456.789`, a count in most of Europe and Latin America, zero-padded
    /// in Brazil's `000.123.456`), a reference and
    /// its year (`06411/2019`), a serial (`0123-4567-8901`; Indonesia's `08xx` mobiles aside).
    fn not_a_phone(&self, digits: &[u8]) -> bool {
        let (lens, seps) = (self.lens(), self.seps());
        let dots = seps.iter().all(|&b| b == b'.');
        let dotted_quad = self.n == 4 && dots && lens.iter().all(|&l| l <= 3);
        let thousands = dots && lens.first().is_some_and(|&l| l <= 3) && lens.iter().skip(1).all(|&l| l == 3);
        let year = seps.last() == Some(&b'/') && lens.last() == Some(&4) && matches!(digits.get(digits.len().saturating_sub(4)..), Some([b'1', b'9', ..] | [b'2', b'0', ..]));
        let serial = lens == [4, 4, 4] && at(digits, 1) != b'8' && seps.iter().all(|&b| b == b'-');
        dotted_quad || thousands || year || serial
    }

    fn lens(&self) -> &[u8] {
        self.lens.get(..self.n).unwrap_or_default()
    }

    fn seps(&self) -> &[u8] {
        self.seps.get(..self.n.saturating_sub(1)).unwrap_or_default()
    }
}

/// The digits of a candidate, on the stack (no phone has more than 17): `None` past that.
fn digits_of(s: &[u8], buf: &mut [u8; 17]) -> Option<usize> {
    let mut n = 0;
    for &b in s.iter().filter(|b| b.is_ascii_digit()) {
        *buf.get_mut(n)? = b;
        n += 1;
    }
    Some(n)
}

/// A national number in one of the [`NATIONAL`] groupings, or a lone trunk or country digit
/// (`1-800-555-0100`, `8 (495) 123-45-67`, `0 (532) 123 45 67`) before one.
fn national(s: &[u8]) -> bool {
    let Some(g) = Groups::read(s) else {
        return false;
    };
    let mut buf = [0u8; 17];
    let Some(n) = digits_of(s, &mut buf) else { return false };
    let digits = buf.get(..n).unwrap_or_default();
    if g.n < 2 || g.not_a_phone(digits) {
        return false;
    }
    if g.lens().first() == Some(&1) && matches!(digits.first(), Some(b'0' | b'1' | b'8')) {
        // The rest as written without the trunk or country digit (`1` only before NANP).
        let l = g.lens;
        let p = g.seps;
        let rest = Groups { lens: [l[1], l[2], l[3], l[4], l[5], 0], n: g.n - 1, seps: [p[1], p[2], p[3], p[4], 0], paren: None };
        let tail = digits.get(1..).unwrap_or_default();
        return g.paren.is_none_or(|p| p == 1) && matches_shape(&rest, tail, at(digits, 0) == b'1');
    }
    g.paren.is_none_or(|p| p == 0) && matches_shape(&g, digits, false)
}

/// Whether the groups follow one of the [`NATIONAL`] shapes (only NANP's when `nanp_only`), with
/// one separator kind after the first and `/` only first.
fn matches_shape(g: &Groups, digits: &[u8], nanp_only: bool) -> bool {
    let (lens, seps) = (g.lens(), g.seps());
    let rest = seps.get(1..).unwrap_or_default();
    if !rest.windows(2).all(|w| w[0] == w[1]) || rest.contains(&b'/') {
        return false;
    }
    let total = digits.len();
    let (first, second) = (at(digits, 0), at(digits, 1));
    let shapes = if nanp_only { NATIONAL.get(4..5).unwrap_or_default() } else { NATIONAL };
    let fits = shapes.iter().any(|sh| {
        sh.groups.len() == lens.len()
            && sh.groups.iter().zip(lens).all(|(&(lo, hi), &l)| (lo..=hi).contains(&l))
            && (usize::from(sh.total.0)..=usize::from(sh.total.1)).contains(&total)
            && sh.lead.contains(&first)
            && sh.second.contains(&second)
    });
    fits
}

/// `+`, or `00` and a country code, then 8–15 digits in any grouping (`+44 (0)20 7946 0958`,
/// `0049 30 12345678`, `001-692-261-9915`).
fn international(s: &[u8]) -> bool {
    let count = |c: u8| s.iter().filter(|&&b| b == c).count();
    let open = count(b'(');
    let digits = s.iter().filter(|b| b.is_ascii_digit()).count();
    if open > 1 || open != count(b')') {
        return false;
    }
    match s {
        [b'+', d, ..] => *d != b'0' && (8..=15).contains(&digits),
        // `00` then a country code, in groups of spaces or dashes (a compact `00…` run is an
        // id, `007.682.125-35` a Brazilian CPF); `00` or `00` and the country code first.
        [b'0', b'0', rest @ ..] => {
            let cc = rest.iter().find(|b| b.is_ascii_digit()).copied().unwrap_or(b'0');
            let mut buf = [0u8; 17];
            let all = digits_of(s, &mut buf).and_then(|n| buf.get(..n)).unwrap_or_default();
            let grouped = Groups::read(s).is_some_and(|g| g.n >= 2 && g.lens[0] <= 5 && !g.not_a_phone(all) && g.seps().iter().all(|&b| matches!(b, b' ' | b'-')));
            cc != b'0' && (10..=17).contains(&digits) && grouped
        }
        _ => false,
    }
}

fn valid_phone(s: &[u8]) -> bool {
    international(s) || national(s)
}

/// A number after a context word: 7–15 digits in any grouping, except a date's and the
/// groupings of [`Groups::not_a_phone`].
fn after_context(s: &[u8]) -> bool {
    let digits = s.iter().filter(|b| b.is_ascii_digit()).count();
    let mut buf = [0u8; 17];
    let Some(all) = digits_of(s, &mut buf).and_then(|n| buf.get(..n)) else { return false };
    let Some(g) = Groups::read(s) else { return false };
    let date = g.n == 3 && matches!(g.lens(), [2, 2, 4] | [4, 2, 2] | [2, 2, 2]);
    (7..=15).contains(&digits) && !date && !g.not_a_phone(all)
}

/// The end of an extension right after `e` (`x123`, ` x 123`, ` ext. 123`, `, ext 12`), if any.
fn extension(t: &[u8], e: usize) -> Option<usize> {
    let mut i = e;
    if at(t, i) == b',' {
        i += 1;
    }
    if at(t, i) == b' ' {
        i += 1;
    }
    let word = [b"ext." as &[u8], b"extn", b"ext", b"x"].into_iter().find(|w| t.get(i..i + w.len()).is_some_and(|p| p.eq_ignore_ascii_case(w)))?;
    // `x` only right after the number (`5136x74193`) or after one space.
    if word == b"x" && i > e + 1 {
        return None;
    }
    i += word.len();
    if at(t, i) == b' ' {
        i += 1;
    }
    let end = super::scan::run(t, i, |b| b.is_ascii_digit());
    let ok = (1..=6).contains(&(end - i)) && !at(t, end).is_ascii_alphanumeric();
    ok.then_some(end)
}

fn phone_char(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/')
}

/// Appends the phone numbers in `t`; `words` are the context words (lower case, with their
/// Bloom filter) that make a bare or unusually grouped number count.
pub fn phone<W: AsRef<[u8]>>(t: &[u8], words: &[W], bloom: &context::Bloom, out: &mut Vec<Span>) {
    let mut i = 0;
    while i < t.len() {
        i = super::scan::next_where(t, i, |b| b.is_ascii_digit() || b == b'+' || b == b'(');
        let c = at(t, i);
        let starts = (matches!(c, b'+' | b'(') && at(t, i + 1).is_ascii_digit()) || c.is_ascii_digit();
        let p = before(t, i);
        let bounded = !(p.is_ascii_alphanumeric() || matches!(p, b'-' | b'_' | b'.' | b'/' | b'+' | b':' | b',' | b'$' | b'#'));
        // After a context word, `tel:+49…` and `Tel.:030…` start a number too.
        let glued = !bounded && matches!(p, b':' | b'.' | b'#' | b'-') && !before(t, i - 1).is_ascii_digit();
        if !starts || !(bounded || glued) {
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
        // Every phone has at least 7 digits (8 without a context word); most digit runs in
        // prose have fewer.
        let digits = t.get(i..j).map_or(0, |c| c.iter().filter(|b| b.is_ascii_digit()).count());
        let mut found = if digits >= 8 && bounded { best_phone(t, i, j, valid_phone) } else { None };
        // A context word also lets a number run on in a grouping no plan lists.
        if found.is_none_or(|f| f.end < j) && digits >= 7 && context::follows_word(t, i, words, bloom) {
            found = best_phone(t, i, j, |s| valid_phone(s) || after_context(s));
        }
        match found {
            Some(span) => {
                out.push(span);
                i = span.end;
            }
            None => i = j.max(i + 1),
        }
    }
}

/// The longest valid phone inside the candidate `[s, e)`, trying starts and ends at spaces,
/// with its extension.
fn best_phone(t: &[u8], s: usize, e: usize, valid: impl Fn(&[u8]) -> bool) -> Option<Span> {
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
            let ext = extension(t, b);
            let next = at(t, b);
            let tail_ok = ext.is_some() || !(next.is_ascii_alphanumeric() || (matches!(next, b'-' | b'.' | b'/' | b',') && at(t, b + 1).is_ascii_digit()));
            let head_ok = a == s || !at(t, a).is_ascii_punctuation() || at(t, a) == b'+' || at(t, a) == b'(';
            if tail_ok && head_ok && t.get(a..b).is_some_and(&valid) {
                return Some(Span { start: a, end: ext.unwrap_or(b) });
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "phone_tests.rs"]
mod tests;
