//! What the fuzz targets share: chunk splits drawn from the input, a seeded generator, and a
//! structure-aware mutator for JSON bodies and SSE streams of JSON events.
//!
//! Plain byte mutations of a JSON seed mostly break its syntax, so the deep code (translators,
//! redaction walkers, the planner) sees few inputs. Half the time [`mutate`] parses the input
//! (the whole of it as JSON, or one `data:` line of an SSE stream) and edits the document:
//! a node replaced by another type, by a tricky string or number, nested past the parsers'
//! depth limit, wrapped, dropped or copied; or the text re-serialized with a key given twice
//! or a number out of `f64` range. The other half is libFuzzer's own byte-level mutation.

use serde_json::{json, Value};

/// xorshift64: splits and edits must be a function of the input (and libFuzzer's seed), so a
/// crash replays.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// FNV-1a of `data`: the seed of the splits of that input.
pub fn seed_of(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// `data` cut into chunks at points drawn from its own bytes: one byte at a time, short
/// pieces, medium pieces, or whole.
pub fn chunks(data: &[u8]) -> Vec<&[u8]> {
    let mut rng = Rng::new(seed_of(data));
    let most = match rng.next() % 4 {
        0 => 1,
        1 => 7,
        2 => 64,
        _ => data.len().max(1),
    };
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(most)).min(rest.len());
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
    }
    out
}

/// The mutator every target installs with `fuzz_mutator!`.
pub fn mutate(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    let mut rng = Rng::new(u64::from(seed) << 20 | 0x5eed);
    if rng.next() % 2 == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let edited = data.get(..size).and_then(|input| structural(input, &mut rng));
    match edited {
        Some(out) if out.len() <= max_size && out.len() <= data.len() => {
            data[..out.len()].copy_from_slice(&out);
            out.len()
        }
        _ => libfuzzer_sys::fuzzer_mutate(data, size, max_size),
    }
}

/// One structural edit of a JSON input, or of one JSON `data:` line of an SSE input.
fn structural(input: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    if let Ok(mut v) = serde_json::from_slice::<Value>(input) {
        return Some(edit_json(&mut v, rng));
    }
    let text = std::str::from_utf8(input).ok()?;
    let lines: Vec<&str> = text.split('\n').collect();
    let events: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].strip_prefix("data:").is_some_and(|d| d.trim_start().starts_with('{'))).collect();
    if events.is_empty() {
        return None;
    }
    let at = events[rng.below(events.len())];
    let mut v: Value = serde_json::from_str(lines[at].get(5..)?.trim_start()).ok()?;
    let edited = String::from_utf8(edit_json(&mut v, rng)).ok()?;
    let mut out = String::with_capacity(text.len() + edited.len());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if i == at {
            out.push_str("data: ");
            out.push_str(&edited);
        } else {
            out.push_str(line);
        }
    }
    Some(out.into_bytes())
}

/// Keys the translators, walkers and usage readers look for.
const KEYS: [&str; 24] = [
    "model", "messages", "role", "content", "type", "text", "tool_calls", "function", "arguments", "usage", "stream", "max_tokens", "choices", "delta", "index", "id",
    "name", "input", "candidates", "parts", "system", "tools", "prompt_tokens", "input_tokens",
];

const STRINGS: [&str; 14] = [
    "",
    "user",
    "assistant",
    "system",
    "tool_use",
    "text",
    "[EMAIL_1]",
    "a@example.com 10.0.0.1 4111 1111 1111 1111",
    "\u{0}\u{1f}\u{7f}",
    "é\u{1F600}\u{FEFF}",
    "\r\n\r\ndata: [DONE]\n\n",
    "[DONE]",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "{\"a\":",
];

fn number(rng: &mut Rng) -> Value {
    match rng.next() % 8 {
        0 => json!(0),
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(i64::MIN),
        4 => json!(1.5),
        5 => json!(1e300),
        6 => json!(4096),
        _ => json!(rng.next() % 100_000),
    }
}

fn leaf(rng: &mut Rng) -> Value {
    match rng.next() % 6 {
        0 => Value::Null,
        1 => Value::Bool(rng.next() % 2 == 0),
        2 => number(rng),
        3 => json!([]),
        4 => json!({}),
        _ => json!(STRINGS[rng.below(STRINGS.len())]),
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

fn nth(v: &mut Value, mut k: usize) -> Option<&mut Value> {
    fn go<'a>(v: &'a mut Value, k: &mut usize) -> Option<&'a mut Value> {
        if *k == 0 {
            return Some(v);
        }
        *k -= 1;
        match v {
            Value::Array(a) => a.iter_mut().find_map(|x| go(x, k)),
            Value::Object(o) => o.values_mut().find_map(|x| go(x, k)),
            _ => None,
        }
    }
    go(v, &mut k)
}

fn nested(depth: usize, inner: Value) -> Value {
    (0..depth).fold(inner, |v, _| Value::Array(vec![v]))
}

/// One edit of the document, returned serialized (some edits work on the text).
fn edit_json(v: &mut Value, rng: &mut Rng) -> Vec<u8> {
    let n = count(v);
    let other = nth(v, rng.below(n)).map(|x| x.clone()).unwrap_or(Value::Null);
    let choice = rng.next() % 12;
    if let Some(node) = nth(v, rng.below(n)) {
        match choice {
            0 | 1 => *node = leaf(rng),
            2 => *node = other,
            3 => *node = nested([127, 128, 129, 300][rng.below(4)], node.take()),
            4 => *node = json!([node.take()]),
            5 => *node = json!({ KEYS[rng.below(KEYS.len())]: node.take() }),
            6 => match node {
                Value::Array(a) if !a.is_empty() => {
                    let i = rng.below(a.len());
                    if rng.next() % 2 == 0 {
                        a.remove(i);
                    } else {
                        let x = a[i].clone();
                        a.insert(i, x);
                    }
                }
                Value::Object(o) if !o.is_empty() => {
                    let key = o.keys().nth(rng.below(o.len())).cloned().unwrap_or_default();
                    o.remove(&key);
                }
                _ => *node = leaf(rng),
            },
            7 => match node {
                Value::Object(o) => {
                    o.insert(KEYS[rng.below(KEYS.len())].to_string(), leaf(rng));
                }
                _ => *node = json!({ KEYS[rng.below(KEYS.len())]: leaf(rng) }),
            },
            _ => {}
        }
    }
    let mut out = serde_json::to_vec(v).unwrap_or_default();
    match choice {
        8 => duplicate_key(&mut out, rng),
        9 => raw_number(&mut out, rng),
        _ => {}
    }
    out
}

/// Gives an object's first key twice (another value first), in the text.
fn duplicate_key(out: &mut Vec<u8>, rng: &mut Rng) {
    let opens: Vec<usize> = out.windows(2).enumerate().filter(|(_, w)| w == b"{\"").map(|(i, _)| i).collect();
    if opens.is_empty() {
        return;
    }
    let at = opens[rng.below(opens.len())] + 1;
    let Some(len) = out[at + 1..].iter().position(|&b| b == b'"') else { return };
    let key = out[at..at + len + 2].to_vec();
    let mut member = key;
    member.push(b':');
    member.extend(serde_json::to_vec(&leaf(rng)).unwrap_or_default());
    member.push(b',');
    out.splice(at..at, member);
}

/// Writes a number serde_json would not produce over one it did.
fn raw_number(out: &mut Vec<u8>, rng: &mut Rng) {
    let starts: Vec<usize> = (1..out.len()).filter(|&i| out[i].is_ascii_digit() && matches!(out[i - 1], b':' | b'[' | b',')).collect();
    if starts.is_empty() {
        return;
    }
    let at = starts[rng.below(starts.len())];
    let end = at + out[at..].iter().position(|b| !matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')).unwrap_or(out.len() - at);
    let raw: &[u8] = [&b"1e400"[..], b"-1e400", b"1E+2", b"-0", b"0.0", b"1e-400", b"18446744073709551616", b"4.2e1", b"100000000000000000000000"][rng.below(9)];
    out.splice(at..end, raw.iter().copied());
}

/// Every client dialect × provider wire the hub translates between.
pub const TRANSLATIONS: [tollgate::api::translate::Translation; 10] = {
    use tollgate::api::translate::{Translation, Wire};
    use tollgate::api::Dialect;
    [
        Translation::CHAT_TO_ANTHROPIC,
        Translation::MESSAGES_TO_OPENAI,
        Translation::CHAT_TO_GEMINI,
        Translation::MESSAGES_TO_GEMINI,
        Translation { client: Dialect::OpenAiResponses, provider: Wire::Chat },
        Translation { client: Dialect::OpenAiResponses, provider: Wire::Messages },
        Translation { client: Dialect::OpenAiResponses, provider: Wire::Gemini },
        Translation { client: Dialect::OpenAiChat, provider: Wire::Converse },
        Translation { client: Dialect::Anthropic, provider: Wire::Converse },
        Translation { client: Dialect::OpenAiResponses, provider: Wire::Converse },
    ]
};
