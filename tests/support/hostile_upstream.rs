//! Hostile-upstream fault modes for the mock provider: answers a well-behaved gateway must
//! survive from a provider that misbehaves. A request picks one with the header
//! `x-mock-hostile: <mode>`, or with an upstream `model` that starts with `hostile-<mode>` (so a
//! client that can only choose the model reaches it through routing). The mode answers for the
//! request's dialect, told by its path (`…/messages`: Anthropic, else OpenAI chat), streamed when
//! the body says `"stream": true`.
//!
//! | mode | what the provider sends |
//! |---|---|
//! | `huge-event` | a 200 SSE stream whose first event is a 10 MB `data:` line with no newline, then the end |
//! | `html` | status 200, `content-type: text/html`, an HTML error page |
//! | `not-json` | status 200, `content-type: application/json`, a body that is not JSON |
//! | `gzip` / `brotli` | the normal answer compressed (`content-encoding: gzip` / `br`), though the request never asked |
//! | `lying-type` | a stream labelled `application/json`, or a JSON answer labelled `text/event-stream` |
//! | `keepalive` | a 200 stream of comments (`: keep-alive`; Anthropic `ping` events) every 50 ms, never ending |
//! | `stall` | the head (and, streamed, the first event), then nothing until the peer closes (at most [`STALL_CAP`]) |
//! | `huge-headers` | 100 KB of response headers before the normal answer |
//! | `bad-utf8` | the normal answer with invalid UTF-8 bytes inside the text strings |
//! | `usage-negative` / `usage-huge` / `usage-float` / `usage-string` | usage numbers `-5`, `u64::MAX`, `12.5`, `"42"` |
//!
//! The compressed bodies are real: gzip (RFC 1952) with stored deflate blocks (RFC 1951 §3.2.4),
//! brotli (RFC 7932) with uncompressed meta-blocks. Nothing here needs a compression crate.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// Request header that selects a mode.
pub const H_HOSTILE: &str = "x-mock-hostile";
/// The model prefix that selects a mode (`hostile-<mode>`, anything may follow).
pub const MODEL_PREFIX: &str = "hostile-";
/// Size of the `huge-event` event.
pub const HUGE_EVENT_BYTES: usize = 10 * 1024 * 1024;
/// Size of the `huge-headers` head.
pub const HUGE_HEADER_BYTES: usize = 100 * 1024;
/// The longest a `stall` or `keepalive` answer lasts when the peer never closes.
pub const STALL_CAP: Duration = Duration::from_secs(300);

/// Every mode, by name.
pub const MODES: [&str; 15] = [
    "huge-event",
    "html",
    "not-json",
    "gzip",
    "brotli",
    "lying-type",
    "keepalive",
    "stall",
    "huge-headers",
    "bad-utf8",
    "usage-negative",
    "usage-huge",
    "usage-float",
    "usage-string",
    "reset-mid-body",
];

const OPENAI_CHAT: &str = include_str!("../fixtures/openai_chat.json");
const OPENAI_CHAT_STREAM: &str = include_str!("../fixtures/openai_chat_stream.sse");
const ANTHROPIC_MESSAGES: &str = include_str!("../fixtures/anthropic_messages.json");
const ANTHROPIC_STREAM: &str = include_str!("../fixtures/anthropic_messages_stream.sse");

/// The mode a request asks for: its `x-mock-hostile` header, else its model's prefix.
pub fn mode_of(headers: &[(String, String)], body: &[u8]) -> Option<&'static str> {
    let named = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(H_HOSTILE)).map(|(_, v)| v.trim().to_string());
    let named = named.or_else(|| {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        v["model"].as_str()?.strip_prefix(MODEL_PREFIX).map(str::to_string)
    })?;
    // Longest name first: `usage-huge` must not be read as a shorter mode.
    let mut modes = MODES;
    modes.sort_by_key(|m| std::cmp::Reverse(m.len()));
    modes.into_iter().find(|m| named.starts_with(m))
}

/// Answers one request in `mode`; Ok(false): the connection must close.
pub fn respond(mode: &str, path: &str, body: &[u8], w: &mut TcpStream) -> io::Result<bool> {
    let anthropic = path.split('?').next().unwrap_or("").trim_end_matches('/').ends_with("/messages");
    let stream = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v["stream"].as_bool()).unwrap_or(false);
    let (json, sse) = if anthropic { (ANTHROPIC_MESSAGES, ANTHROPIC_STREAM) } else { (OPENAI_CHAT, OPENAI_CHAT_STREAM) };
    let (normal, normal_type) = if stream { (sse, "text/event-stream") } else { (json, "application/json") };
    match mode {
        "huge-event" => {
            write_head(w, 200, "text/event-stream", &[], None)?;
            let block = vec![b'x'; 64 * 1024];
            write_chunk(w, b"data: {\"junk\":\"")?;
            let mut sent = 0;
            while sent < HUGE_EVENT_BYTES {
                write_chunk(w, &block)?;
                sent += block.len();
            }
            end_chunks(w)?;
            Ok(false)
        }
        "html" => {
            let page = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n";
            write_full(w, 200, "text/html", &[], page)
        }
        "not-json" => write_full(w, 200, "application/json", &[], b"{\"id\": \"chatcmpl-1\", \"choices\": [oops this is not JSON"),
        "gzip" => write_full(w, 200, normal_type, &[("content-encoding", "gzip")], &gzip_stored(normal.as_bytes())),
        "brotli" => write_full(w, 200, normal_type, &[("content-encoding", "br")], &brotli_stored(normal.as_bytes())),
        "lying-type" => {
            let lie = if stream { "application/json" } else { "text/event-stream" };
            write_full(w, 200, lie, &[], normal.as_bytes())
        }
        "keepalive" => {
            write_head(w, 200, "text/event-stream", &[], None)?;
            let beat: &[u8] = if anthropic { b"event: ping\ndata: {\"type\": \"ping\"}\n\n" } else { b": keep-alive\n\n" };
            let deadline = Instant::now() + STALL_CAP;
            while Instant::now() < deadline {
                write_chunk(w, beat)?;
                thread::sleep(Duration::from_millis(50));
            }
            Ok(false)
        }
        "stall" => {
            if stream {
                write_head(w, 200, "text/event-stream", &[], None)?;
                let first = normal.split_inclusive("\n\n").next().unwrap_or_default();
                write_chunk(w, first.as_bytes())?;
            } else {
                write_head(w, 200, "application/json", &[], Some(json.len()))?;
            }
            wait_for_close(w, STALL_CAP);
            Ok(false)
        }
        "huge-headers" => {
            let filler = "h".repeat(1000);
            let extra: Vec<(String, String)> = (0..HUGE_HEADER_BYTES / 1000).map(|i| (format!("x-junk-{i}"), filler.clone())).collect();
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            write_full(w, 200, normal_type, &extra, normal.as_bytes())
        }
        "bad-utf8" => {
            // "Hello" → "He\xff\xfelo" wherever the text appears (every content event, or the answer).
            let bytes = normal.replace("Hello", "He\u{1}\u{2}lo").into_bytes();
            let bytes: Vec<u8> = bytes.into_iter().map(|b| match b { 1 => 0xff, 2 => 0xfe, b => b }).collect();
            write_full(w, 200, normal_type, &[], &bytes)
        }
        m if m.starts_with("usage-") => {
            let value = match m {
                "usage-negative" => "-5",
                "usage-huge" => "18446744073709551615",
                "usage-float" => "12.5",
                _ => "\"42\"",
            };
            write_full(w, 200, normal_type, &[], usage_replaced(normal, value).as_bytes())
        }
        // `reset-mid-body`: the head and half the answer, then the connection closes.
        _ => {
            write_head(w, 200, normal_type, &[], Some(normal.len()))?;
            w.write_all(&normal.as_bytes()[..normal.len() / 2])?;
            w.flush()?;
            Ok(false)
        }
    }
}

/// Every usage number (OpenAI and Anthropic field names) replaced by `value`.
fn usage_replaced(text: &str, value: &str) -> String {
    let fields = ["prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens", "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for f in fields {
            for sep in ["\": ", "\":"] {
                let key = format!("\"{f}{sep}");
                if let Some(after) = rest.strip_prefix(key.as_str()) {
                    let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
                    if digits > 0 {
                        out.push_str(&key);
                        out.push_str(value);
                        rest = &after[digits..];
                        continue 'scan;
                    }
                }
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn write_head(w: &mut TcpStream, status: u16, content_type: &str, extra: &[(&str, &str)], length: Option<usize>) -> io::Result<()> {
    let mut h = format!("HTTP/1.1 {status} OK\r\ncontent-type: {content_type}\r\nconnection: close\r\n");
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    match length {
        Some(n) => h.push_str(&format!("content-length: {n}\r\n\r\n")),
        None => h.push_str("transfer-encoding: chunked\r\n\r\n"),
    }
    w.write_all(h.as_bytes())?;
    w.flush()
}

fn write_full(w: &mut TcpStream, status: u16, content_type: &str, extra: &[(&str, &str)], body: &[u8]) -> io::Result<bool> {
    write_head(w, status, content_type, extra, Some(body.len()))?;
    w.write_all(body)?;
    w.flush()?;
    Ok(false)
}

fn write_chunk(w: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    w.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")?;
    w.flush()
}

fn end_chunks(w: &mut TcpStream) -> io::Result<()> {
    w.write_all(b"0\r\n\r\n")?;
    w.flush()
}

/// Blocks until the peer closes the connection (a read returns 0 or fails) or `cap` passes.
fn wait_for_close(w: &TcpStream, cap: Duration) {
    let Ok(mut r) = w.try_clone() else { return };
    let _ = r.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + cap;
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        match r.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, as gzip's trailer uses).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// `data` as a gzip member whose deflate stream is stored (uncompressed) blocks.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65_535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len())); // BFINAL, BTYPE 00
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// `data` as a brotli stream of uncompressed meta-blocks (WBITS 16, ≤ 65,536 bytes each).
pub fn brotli_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut first = true;
    for block in data.chunks(65_536) {
        // Bits, LSB first: [WBITS=0 once], ISLAST=0, MNIBBLES=00 (4), MLEN-1 (16), ISUNCOMPRESSED=1.
        let (mut bits, mut n) = (0u64, 0u32);
        if first {
            n += 1;
            first = false;
        }
        n += 1 + 2;
        bits |= ((block.len() as u64) - 1) << n;
        n += 16;
        bits |= 1 << n;
        n += 1;
        for i in 0..n.div_ceil(8) {
            out.push((bits >> (8 * i)) as u8);
        }
        out.extend_from_slice(block);
    }
    // The last, empty meta-block: ISLAST=1, ISLASTEMPTY=1 (after the WBITS bit if nothing came before).
    out.push(if first { 0b110 } else { 0b11 });
    out
}
