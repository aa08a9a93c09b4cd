//! webdis's HTTP form of Redis commands: `POST /` with the command as the body, arguments
//! separated by `/` and percent-encoded (webdis decodes each one), and the JSON reply
//! `{"<COMMAND>": value}`, where an error is `[false, "<message>"]`. A `.` is encoded too:
//! unencoded, webdis reads it as a file extension that picks the reply's format.

/// A Redis reply the fleet limits can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An integer or an array of integers.
    Ints(Vec<i64>),
    /// No reply, a non-200 status, or an error.
    Failed(String),
}

fn encode(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// `EVAL/<script>/<number of keys>/<keys...>/<args...>`.
pub fn eval(script: &str, keys: &[String], args: &[String]) -> Vec<u8> {
    let mut out = b"EVAL/".to_vec();
    encode(&mut out, script);
    out.extend_from_slice(format!("/{}", keys.len()).as_bytes());
    for k in keys.iter().chain(args) {
        out.push(b'/');
        encode(&mut out, k);
    }
    out
}

/// Decodes one percent-encoded argument (tests read commands back with it).
#[cfg(test)]
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads webdis's reply to one command.
pub fn reply(status: Option<u16>, body: &[u8]) -> Reply {
    match status {
        Some(200) => {}
        Some(s) => return Reply::Failed(format!("the store answered HTTP {s}")),
        None => return Reply::Failed("no answer from the store (timeout or connection failure)".to_string()),
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Reply::Failed("the store's reply is not a JSON object".to_string());
    };
    match map.into_iter().next().map(|(_, v)| v) {
        Some(serde_json::Value::Number(n)) => n.as_i64().map_or_else(|| Reply::Failed("not an integer".to_string()), |n| Reply::Ints(vec![n])),
        Some(serde_json::Value::Array(items)) => {
            if let Some(serde_json::Value::String(e)) = items.get(1).filter(|_| items.first() == Some(&serde_json::Value::Bool(false))) {
                return Reply::Failed(format!("the store refused the command: {e}"));
            }
            items.iter().map(serde_json::Value::as_i64).collect::<Option<Vec<_>>>().map_or_else(|| Reply::Failed("not integers".to_string()), Reply::Ints)
        }
        _ => Reply::Failed("unexpected reply".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn arguments_are_percent_encoded_and_round_trip() {
        let cmd = eval("return {KEYS[1], ARGV[1]}", &["tg:a/b c".to_string()], &["-5".to_string()]);
        let text = String::from_utf8(cmd).unwrap();
        assert_eq!(text, "EVAL/return%20%7BKEYS%5B1%5D%2C%20ARGV%5B1%5D%7D/1/tg%3Aa%2Fb%20c/-5");
        let parts: Vec<String> = text.split('/').map(decode).collect();
        assert_eq!(parts, ["EVAL", "return {KEYS[1], ARGV[1]}", "1", "tg:a/b c", "-5"]);
    }

    #[test]
    fn replies() {
        assert_eq!(reply(Some(200), br#"{"EVAL":[0,3,5]}"#), Reply::Ints(vec![0, 3, 5]));
        assert_eq!(reply(Some(200), br#"{"INCRBY":7}"#), Reply::Ints(vec![7]));
        assert!(matches!(reply(Some(200), br#"{"EVAL":[false,"ERR bad"]}"#), Reply::Failed(e) if e.contains("ERR bad")));
        assert!(matches!(reply(None, b""), Reply::Failed(_)));
        assert!(matches!(reply(Some(503), b"{}"), Reply::Failed(_)));
        assert!(matches!(reply(Some(200), b"nope"), Reply::Failed(_)));
    }
}
