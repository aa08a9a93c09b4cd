//! Incremental AWS event-stream decoder. A message is
//!
//! ```text
//! total length (u32) | headers length (u32) | prelude CRC (u32, of the 8 bytes before)
//! headers: name length (u8) | name | type (u8) | value   (repeated)
//! payload
//! message CRC (u32, of everything before it)
//! ```
//!
//! all big-endian. Feed it any slices of the stream: a message may straddle chunks and is
//! returned once its last byte arrives. A bad CRC, an impossible length or a malformed header
//! is an error, after which the decoder stays failed (the stream cannot be resynchronised).

use super::crc32::{crc32, update};

/// The largest message accepted (AWS's limit is 16 MiB of payload and 128 KiB of headers).
const MAX_MESSAGE: usize = 16 * 1024 * 1024 + 128 * 1024 + 16;
/// Prelude (12) plus message CRC (4).
const OVERHEAD: usize = 16;

/// One decoded message: its string-valued headers (others are read and skipped) and payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Message {
    /// A string header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why the stream cannot be read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    PreludeCrc,
    MessageCrc,
    Length,
    Header,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrameError::PreludeCrc => "event-stream prelude CRC mismatch",
            FrameError::MessageCrc => "event-stream message CRC mismatch",
            FrameError::Length => "event-stream message length out of range",
            FrameError::Header => "malformed event-stream header",
        })
    }
}

/// The decoder's state: the bytes of the message not yet complete.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    failed: Option<FrameError>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Feeds `chunk`, appending each message it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Message>) -> Result<(), FrameError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.buf.extend_from_slice(chunk);
        let mut at = 0;
        let result = loop {
            match next(&self.buf[at..]) {
                Ok(Some((m, used))) => {
                    out.push(m);
                    at += used;
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.buf.drain(..at);
        if let Err(e) = result {
            self.failed = Some(e);
            self.buf = Vec::new();
        }
        result
    }

    /// Bytes held for a message not complete yet (non-zero at the end: the stream was cut).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The first complete message of `b` and its length, `None` while incomplete.
fn next(b: &[u8]) -> Result<Option<(Message, usize)>, FrameError> {
    if b.len() < 12 {
        return Ok(None);
    }
    let total = be32(&b[0..4]) as usize;
    let headers_len = be32(&b[4..8]) as usize;
    if be32(&b[8..12]) != crc32(&b[0..8]) {
        return Err(FrameError::PreludeCrc);
    }
    if !(OVERHEAD..=MAX_MESSAGE).contains(&total) || headers_len > total - OVERHEAD {
        return Err(FrameError::Length);
    }
    if b.len() < total {
        return Ok(None);
    }
    if be32(&b[total - 4..total]) != update(crc32(&b[0..8]), &b[8..total - 4]) {
        return Err(FrameError::MessageCrc);
    }
    let headers = headers(&b[12..12 + headers_len])?;
    Ok(Some((Message { headers, payload: b[12 + headers_len..total - 4].to_vec() }, total)))
}

/// The headers block: string values kept, the other types (booleans, integers, byte arrays,
/// timestamps, UUIDs) skipped by their size.
fn headers(mut b: &[u8]) -> Result<Vec<(String, String)>, FrameError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let name_len = usize::from(b[0]);
        let name = b.get(1..1 + name_len).ok_or(FrameError::Header)?;
        let kind = *b.get(1 + name_len).ok_or(FrameError::Header)?;
        let rest = &b[2 + name_len..];
        let (value, used) = match kind {
            0 | 1 => (None, 0),
            2 => (None, 1),
            3 => (None, 2),
            4 => (None, 4),
            5 | 8 => (None, 8),
            9 => (None, 16),
            6 | 7 => {
                let len = rest.get(0..2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))).ok_or(FrameError::Header)?;
                let v = rest.get(2..2 + len).ok_or(FrameError::Header)?;
                ((kind == 7).then_some(v), 2 + len)
            }
            _ => return Err(FrameError::Header),
        };
        if rest.len() < used {
            return Err(FrameError::Header);
        }
        if let Some(v) = value {
            let text = |s: &[u8]| String::from_utf8(s.to_vec()).map_err(|_| FrameError::Header);
            out.push((text(name)?, text(v)?));
        }
        b = &rest[used..];
    }
    Ok(out)
}

/// Encodes a message with string headers (the mock provider's and the tests' frames).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        h.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
        h.push(7);
        let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&value.as_bytes()[..usize::from(len)]);
    }
    let total = u32::try_from(h.len() + payload.len() + OVERHEAD).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&u32::try_from(h.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&crc32(&out[0..8]).to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32(&out).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn frames() -> Vec<u8> {
        let mut s = encode(&[(":event-type", "messageStart"), (":content-type", "application/json"), (":message-type", "event")], br#"{"role":"assistant"}"#);
        s.extend(encode(&[(":event-type", "contentBlockDelta"), (":message-type", "event")], br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#));
        s.extend(encode(&[], b""));
        s
    }

    #[test]
    fn frames_cut_at_every_byte_offset() {
        let s = frames();
        let mut whole = Vec::new();
        Decoder::new().feed(&s, &mut whole).unwrap();
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].header(":event-type"), Some("messageStart"));
        assert_eq!(whole[1].payload, br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#);
        for cut in 0..=s.len() {
            for second in cut..=s.len() {
                let mut d = Decoder::new();
                let mut got = Vec::new();
                for part in [&s[..cut], &s[cut..second], &s[second..]] {
                    d.feed(part, &mut got).unwrap();
                }
                assert_eq!(got, whole, "cut at {cut} and {second}");
                assert_eq!(d.pending(), 0);
            }
        }
        // Byte by byte.
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in &s {
            d.feed(std::slice::from_ref(b), &mut got).unwrap();
        }
        assert_eq!(got, whole);
    }

    #[test]
    fn a_flipped_bit_anywhere_is_an_error() {
        let s = encode(&[(":message-type", "event")], b"{}");
        for i in 0..s.len() {
            let mut bad = s.clone();
            bad[i] ^= 0x10;
            let e = Decoder::new().feed(&bad, &mut Vec::new());
            // A longer claimed length waits for more bytes; every other flip is caught.
            assert!(e.is_err(), "byte {i}");
        }
        let mut bad = s.clone();
        bad[12] ^= 1;
        let mut d = Decoder::new();
        assert_eq!(d.feed(&bad, &mut Vec::new()), Err(FrameError::MessageCrc));
        assert_eq!(d.feed(&s, &mut Vec::new()), Err(FrameError::MessageCrc), "stays failed");
        let mut bad = s;
        bad[9] ^= 1;
        assert_eq!(Decoder::new().feed(&bad, &mut Vec::new()), Err(FrameError::PreludeCrc));
    }

    #[test]
    fn other_header_types_are_skipped() {
        // A bool, an int32 and a byte-array header before a string one.
        let mut h = vec![1, b'a', 0, 1, b'b', 4, 0, 0, 0, 7, 1, b'c', 6, 0, 2, 9, 9];
        h.extend([2, b'd', b'd', 7, 0, 1, b'x']);
        let total = (h.len() + 16) as u32;
        let mut m = total.to_be_bytes().to_vec();
        m.extend((h.len() as u32).to_be_bytes());
        m.extend(crc32(&m).to_be_bytes());
        m.extend(&h);
        m.extend(crc32(&m).to_be_bytes());
        let mut out = Vec::new();
        Decoder::new().feed(&m, &mut out).unwrap();
        assert_eq!(out[0].headers, vec![("dd".to_string(), "x".to_string())]);
        let mut cut = m[..12].to_vec();
        cut[3] = 10;
        assert_eq!(Decoder::new().feed(&cut[..8], &mut Vec::new()), Ok(()));
    }
}
