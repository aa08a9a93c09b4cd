//! Secret detectors: cloud access keys, LLM provider keys, GitHub and Slack tokens, PEM private
//! keys and JWTs. Each is a fixed prefix plus a body of a known alphabet and length.

use super::scan::{at, before, find_all, is_word, key_char, run, Sieve, Span};

/// Every `prefix` + body (bytes satisfying `body`, length within `len`) that starts at a word
/// boundary and ends at one, and that `check` accepts.
/// `sieve` (of `t`) skips the search when no word of the text starts like the prefix; inlined,
/// so that for a constant prefix that test folds to two bit loads at the call.
#[inline(always)]
fn prefixed(t: &[u8], sieve: &Sieve, prefix: &[u8], body: fn(u8) -> bool, len: (usize, usize), check: fn(&[u8]) -> bool, out: &mut Vec<Span>) {
    if sieve.may_start(prefix) {
        search(t, prefix, body, len, check, out);
    }
}

/// [`prefixed`]'s search.
fn search(t: &[u8], prefix: &[u8], body: fn(u8) -> bool, len: (usize, usize), check: fn(&[u8]) -> bool, out: &mut Vec<Span>) {
    for s in find_all(t, prefix) {
        if key_char(before(t, s)) {
            continue;
        }
        let b = s + prefix.len();
        let e = run(t, b, body);
        let n = e - b;
        if n >= len.0 && n <= len.1 && !key_char(at(t, e)) && check(t.get(b..e).unwrap_or_default()) {
            out.push(Span { start: s, end: e });
        }
    }
}

fn any(_: &[u8]) -> bool {
    true
}

/// Mixed letters and digits: random tokens have both; prose and identifiers rarely do.
fn mixed(b: &[u8]) -> bool {
    b.iter().any(u8::is_ascii_digit) && b.iter().any(u8::is_ascii_alphabetic)
}

fn upper_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// AWS access key ids (`AKIA`, `ASIA`, `ABIA`, `ACCA` + 16) and Google API keys (`AIza` + 35).
pub fn cloud_key(t: &[u8], sieve: &Sieve, out: &mut Vec<Span>) {
    for p in [&b"AKIA"[..], b"ASIA", b"ABIA", b"ACCA"] {
        prefixed(t, sieve, p, upper_digit, (16, 16), any, out);
    }
    prefixed(t, sieve, b"AIza", key_char, (35, 35), any, out);
}

/// LLM provider keys: OpenAI `sk-`/`sk-proj-`, Anthropic `sk-ant-`, OpenRouter `sk-or-`,
/// Groq `gsk_`, Hugging Face `hf_`, xAI `xai-`.
pub fn llm_key(t: &[u8], sieve: &Sieve, out: &mut Vec<Span>) {
    prefixed(t, sieve, b"sk-", key_char, (20, 300), mixed, out);
    prefixed(t, sieve, b"gsk_", key_char, (40, 100), mixed, out);
    prefixed(t, sieve, b"hf_", |b| b.is_ascii_alphanumeric(), (30, 60), mixed, out);
    prefixed(t, sieve, b"xai-", key_char, (40, 120), mixed, out);
}

/// GitHub tokens: classic `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36, fine-grained `github_pat_`.
pub fn github_token(t: &[u8], sieve: &Sieve, out: &mut Vec<Span>) {
    // One sieve test for each family of prefixes that share their first two bytes.
    if !sieve.may_start(b"gh") && !sieve.may_start(b"gi") {
        return;
    }
    for p in [&b"ghp_"[..], b"gho_", b"ghu_", b"ghs_", b"ghr_"] {
        prefixed(t, sieve, p, |b| b.is_ascii_alphanumeric(), (36, 255), mixed, out);
    }
    prefixed(t, sieve, b"github_pat_", is_word, (22, 255), mixed, out);
}

/// Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxe-`, `xapp-`) and incoming-webhook URLs.
pub fn slack_token(t: &[u8], sieve: &Sieve, out: &mut Vec<Span>) {
    if !sieve.may_start(b"xo") && !sieve.may_start(b"xa") && !sieve.may_start(b"ht") {
        return;
    }
    for p in [&b"xoxb-"[..], b"xoxp-", b"xoxa-", b"xoxr-", b"xoxs-", b"xoxe-", b"xapp-"] {
        prefixed(t, sieve, p, |b| b.is_ascii_alphanumeric() || b == b'-', (10, 255), mixed, out);
    }
    prefixed(t, sieve, b"https://hooks.slack.com/services/", |b| b.is_ascii_alphanumeric() || b == b'/', (20, 120), any, out);
}

/// PEM private-key blocks, `-----BEGIN … PRIVATE KEY-----` through the matching END line. A block
/// whose END never comes is masked to the end of the text (fail closed).
pub fn private_key(t: &[u8], sieve: &Sieve, out: &mut Vec<Span>) {
    // `BEGIN` follows a `-`, so it starts a word for the sieve.
    if !sieve.may_start(b"BE") {
        return;
    }
    let mut from = 0;
    for s in find_all(t, b"-----BEGIN ") {
        if s < from {
            continue;
        }
        let label_start = s + 11;
        let Some(label_len) = t.get(label_start..).and_then(|r| r.iter().take(64).position(|&b| b == b'-' || b == b'\n')) else { continue };
        let label = t.get(label_start..label_start + label_len).unwrap_or_default();
        if !label.ends_with(b"PRIVATE KEY") || t.get(label_start + label_len..).is_none_or(|r| !r.starts_with(b"-----")) {
            continue;
        }
        let mut end_marker = b"-----END ".to_vec();
        end_marker.extend_from_slice(label);
        end_marker.extend_from_slice(b"-----");
        let body = label_start + label_len + 5;
        let e = find_all(t.get(body..).unwrap_or_default(), &end_marker).next().map_or(t.len(), |k| body + k + end_marker.len());
        out.push(Span { start: s, end: e });
        from = e;
    }
}

fn b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// JWTs: three base64url segments (`eyJ…` header) whose header decodes to JSON naming an `alg`.
pub fn jwt(t: &[u8], sieve: &Sieve, out: &mut Vec<Span>) {
    if !sieve.may_start(b"eyJ") {
        return;
    }
    for s in find_all(t, b"eyJ") {
        if key_char(before(t, s)) || out.last().is_some_and(|l| s < l.end) {
            continue;
        }
        let h = run(t, s, b64url);
        if at(t, h) != b'.' || h - s < 10 {
            continue;
        }
        let p = run(t, h + 1, b64url);
        if at(t, p) != b'.' || p - h - 1 < 10 {
            continue;
        }
        let sig = run(t, p + 1, b64url);
        if key_char(at(t, sig)) || (at(t, sig) == b'.' && b64url(at(t, sig + 1))) {
            continue;
        }
        let header = decode_b64url(t.get(s..h).unwrap_or_default());
        if header.first() == Some(&b'{') && find_all(&header, b"\"alg\"").next().is_some() {
            out.push(Span { start: s, end: sig });
        }
    }
}

/// Decodes unpadded base64url, ignoring a trailing partial sextet.
fn decode_b64url(s: &[u8]) -> Vec<u8> {
    let val = |b: u8| -> u32 {
        match b {
            b'A'..=b'Z' => u32::from(b - b'A'),
            b'a'..=b'z' => u32::from(b - b'a') + 26,
            b'0'..=b'9' => u32::from(b - b'0') + 52,
            b'-' => 62,
            _ => 63,
        }
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in s {
        acc = (acc << 6 | val(b)) & 0xFF_FFFF;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn found(f: fn(&[u8], &Sieve, &mut Vec<Span>), text: &str) -> Vec<String> {
        let mut out = Vec::new();
        f(text.as_bytes(), &Sieve::new(text.as_bytes()), &mut out);
        out.iter().map(|s| text[s.start..s.end].to_string()).collect()
    }

    #[test]
    fn cloud_and_llm_keys() {
        assert_eq!(found(cloud_key, "key=AKIAIOSFODNN7EXAMPLE; g AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"), ["AKIAIOSFODNN7EXAMPLE", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"]);
        assert!(found(cloud_key, "AKIAIOSFODNN7EXAMPLE1 xAKIAIOSFODNN7EXAMPLE").is_empty());
        let k = "sk-proj-4f9Qm2ZxT7LbN8vR1cW3yH6uJ0kS5dA9";
        assert_eq!(found(llm_key, &format!("export OPENAI_API_KEY={k}\n")), [k]);
        assert!(found(llm_key, "task-management-and-scheduling-tools, sk-short1").is_empty());
    }

    #[test]
    fn vcs_and_chat_tokens() {
        let g = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5";
        assert_eq!(found(github_token, &format!("token {g}.")), [g]);
        let s = "xoxb-2048-1024-AbCdEf123456";
        assert_eq!(found(slack_token, s), [s]);
    }

    #[test]
    fn pem_blocks() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----";
        assert_eq!(found(private_key, &format!("x\n{pem}\ny")), [pem]);
        assert_eq!(found(private_key, "-----BEGIN PRIVATE KEY-----\nMIIE cut"), ["-----BEGIN PRIVATE KEY-----\nMIIE cut"]);
        assert!(found(private_key, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----").is_empty());
        assert_eq!(found(private_key, &format!("key:{pem}")).len(), 1, "glued to the text before it");
    }

    #[test]
    fn jwts() {
        let j = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(found(jwt, &format!("Bearer {j}")), [j]);
        assert!(found(jwt, "eyJub3QiOiJqd3QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig").is_empty(), "no alg");
    }
}
