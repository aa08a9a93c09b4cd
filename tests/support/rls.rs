//! A minimal rate-limit service (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit)
//! over cleartext HTTP/2, for the fleet-mode test: it records every request's domain,
//! descriptors and hits and answers `OK`. No dependencies: HTTP/2 frames are read and written
//! by hand; request header blocks are skipped (never HPACK-decoded), responses use only
//! literal or static-table header fields, so no HPACK state is needed.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A descriptor's entries `(key, value)` and its `hits_addend`.
pub type Descriptor = (Vec<(String, String)>, Option<u64>);

/// One `ShouldRateLimit` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RlsCall {
    pub domain: String,
    /// Each descriptor's entries `(key, value)` and its `hits_addend` (descriptor-level).
    pub descriptors: Vec<Descriptor>,
    /// Request-level `hits_addend` (0 when absent).
    pub hits_addend: u64,
    /// The raw request message.
    pub raw: Vec<u8>,
}

impl RlsCall {
    /// The hits charged for the first descriptor, as the RLS would apply them.
    pub fn hits(&self) -> u64 {
        self.descriptors.first().and_then(|d| d.1).unwrap_or(if self.hits_addend == 0 { 1 } else { self.hits_addend })
    }
}

pub struct Rls {
    port: u16,
    calls: Arc<Mutex<Vec<RlsCall>>>,
}

impl Rls {
    pub fn start() -> Rls {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c = calls.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let c = c.clone();
                thread::spawn(move || {
                    let _ = serve(stream, &c);
                });
            }
        });
        Rls { port, calls }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn calls(&self) -> Vec<RlsCall> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until `n` calls arrived (or 10 s passed); returns what arrived.
    pub fn wait_calls(&self, n: usize) -> Vec<RlsCall> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let c = self.calls();
            if c.len() >= n || Instant::now() > deadline {
                return c;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// HPACK literal header field without indexing, new name (lengths < 127, no Huffman).
fn literal(name: &str, value: &str) -> Vec<u8> {
    let mut b = vec![0x00, name.len() as u8];
    b.extend_from_slice(name.as_bytes());
    b.push(value.len() as u8);
    b.extend_from_slice(value.as_bytes());
    b
}

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;

fn serve(mut s: TcpStream, calls: &Mutex<Vec<RlsCall>>) -> io::Result<()> {
    let mut preface = [0u8; 24];
    s.read_exact(&mut preface)?;
    if &preface != b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
        return Ok(());
    }
    s.write_all(&frame(SETTINGS, 0, 0, &[]))?;
    let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head)?;
        let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload)?;
        match kind {
            SETTINGS if flags & 1 == 0 => s.write_all(&frame(SETTINGS, 1, 0, &[]))?,
            PING if flags & 1 == 0 => s.write_all(&frame(PING, 1, 0, &payload))?,
            GOAWAY => return Ok(()),
            HEADERS => {
                bodies.entry(stream).or_default();
            }
            DATA => {
                let data = if flags & 0x8 != 0 {
                    let pad = usize::from(*payload.first().unwrap_or(&0));
                    payload.get(1..payload.len().saturating_sub(pad)).unwrap_or_default().to_vec()
                } else {
                    payload.clone()
                };
                if len > 0 {
                    s.write_all(&frame(WINDOW_UPDATE, 0, 0, &(len as u32).to_be_bytes()))?;
                }
                let body = bodies.entry(stream).or_default();
                body.extend_from_slice(&data);
                if flags & 1 != 0 {
                    let body = bodies.remove(&stream).unwrap_or_default();
                    if let Some(call) = body.get(5..).map(decode_request) {
                        calls.lock().unwrap().push(call);
                    }
                    respond(&mut s, stream)?;
                }
            }
            _ => {}
        }
    }
}

fn respond(s: &mut TcpStream, stream: u32) -> io::Result<()> {
    let mut h = vec![0x88]; // :status 200 (static table index 8)
    h.extend(literal("content-type", "application/grpc"));
    s.write_all(&frame(HEADERS, 0x4, stream, &h))?;
    let message = [0x08, 0x01]; // RateLimitResponse { overall_code: OK }
    let mut grpc = vec![0u8];
    grpc.extend_from_slice(&(message.len() as u32).to_be_bytes());
    grpc.extend_from_slice(&message);
    s.write_all(&frame(DATA, 0, stream, &grpc))?;
    s.write_all(&frame(HEADERS, 0x5, stream, &literal("grpc-status", "0")))
}

/// Protobuf fields of a message: `(number, varint or bytes)`.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn fields(b: &[u8]) -> Vec<(u64, Field<'_>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let Some(key) = varint(b, &mut i) else { break };
        let (num, wire) = (key >> 3, key & 7);
        match wire {
            0 => match varint(b, &mut i) {
                Some(v) => out.push((num, Field::Varint(v))),
                None => break,
            },
            2 => {
                let Some(len) = varint(b, &mut i) else { break };
                let Some(bytes) = b.get(i..i + len as usize) else { break };
                i += len as usize;
                out.push((num, Field::Bytes(bytes)));
            }
            1 => i += 8,
            5 => i += 4,
            _ => break,
        }
    }
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// RateLimitRequest { domain = 1; repeated RateLimitDescriptor descriptors = 2; uint32 hits_addend = 3 }
/// RateLimitDescriptor { repeated Entry entries = 1; ...; google.protobuf.UInt64Value hits_addend = 3 }
/// Entry { key = 1; value = 2 }
fn decode_request(b: &[u8]) -> RlsCall {
    let mut call = RlsCall { raw: b.to_vec(), ..RlsCall::default() };
    for (n, f) in fields(b) {
        match (n, f) {
            (1, Field::Bytes(d)) => call.domain = text(d),
            (3, Field::Varint(v)) => call.hits_addend = v,
            (2, Field::Bytes(d)) => {
                let mut entries = Vec::new();
                let mut hits = None;
                for (n, f) in fields(d) {
                    match (n, f) {
                        (1, Field::Bytes(e)) => {
                            let (mut k, mut v) = (String::new(), String::new());
                            for (n, f) in fields(e) {
                                match (n, f) {
                                    (1, Field::Bytes(x)) => k = text(x),
                                    (2, Field::Bytes(x)) => v = text(x),
                                    _ => {}
                                }
                            }
                            entries.push((k, v));
                        }
                        (3, Field::Bytes(w)) => {
                            hits = Some(fields(w).into_iter().find_map(|(n, f)| match (n, f) {
                                (1, Field::Varint(v)) => Some(v),
                                _ => None,
                            }).unwrap_or(0));
                        }
                        _ => {}
                    }
                }
                call.descriptors.push((entries, hits));
            }
            _ => {}
        }
    }
    call
}
