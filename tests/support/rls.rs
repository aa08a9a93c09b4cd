//! A rate-limit service (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit) over
//! cleartext HTTP/2, for the fleet-mode test. It records every request's domain, descriptors and
//! hits, and answers as **envoyproxy/ratelimit** does with its Redis fixed-window cache (read in
//! its source, `src/utils/utilities.go` `GetHitsAddends` and `src/redis/fixed_cache_impl.go`
//! `DoLimit`, `src/limiter/base_limiter.go` `GetResponseDescriptorStatus`, commit f2fb157):
//! - a descriptor's hits are its own `hits_addend` when set, **zero included** ("check only, no
//!   increment"); otherwise the request's `hits_addend`, and 1 when that is 0;
//! - each descriptor with a limit is `INCRBY`'d by its hits, also when that takes it over the
//!   limit (the default `STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT=false`);
//! - a descriptor is `OVER_LIMIT` when its count after the increment is `> limit`; the overall
//!   code is `OVER_LIMIT` when any descriptor is;
//! - a descriptor without a configured limit is `OK` and counts nothing.
//!
//! What it leaves out: time windows (one window for the whole test, as a unit longer than the
//! test would be) and the local over-limit cache. The real service is Go, packaged neither in
//! Debian nor on PyPI or crates.io (Limitador's server is not on crates.io either), so CI cannot
//! install it; this is the stand-in.
//!
//! No dependencies: HTTP/2 frames are read and written by hand; request header blocks are
//! skipped (never HPACK-decoded), responses use only literal or static-table header fields, so
//! no HPACK state is needed.
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
    /// The hits charged for the first descriptor, as envoyproxy/ratelimit applies them.
    pub fn hits(&self) -> u64 {
        self.descriptor_hits(0)
    }

    /// envoyproxy/ratelimit's `GetHitsAddends` for descriptor `i`: its own `hits_addend` when
    /// set (0 allowed: check only), else `max(1, request hits_addend)`.
    pub fn descriptor_hits(&self, i: usize) -> u64 {
        self.descriptors.get(i).and_then(|d| d.1).unwrap_or(self.hits_addend.max(1))
    }
}

/// The service's state: limits per descriptor key, counts per descriptor, the calls seen.
#[derive(Default)]
struct State {
    /// `descriptor key` (its first entry's key) → limit (hits per window).
    limits: HashMap<String, u64>,
    /// `domain|k=v|k=v` → count in the (single) window.
    counts: HashMap<String, u64>,
    calls: Vec<RlsCall>,
}

impl State {
    /// Charges a call the way envoyproxy/ratelimit's Redis cache does; one status per descriptor.
    fn charge(&mut self, call: &RlsCall) -> Vec<DescriptorStatus> {
        let mut out = Vec::new();
        for (i, (entries, _)) in call.descriptors.iter().enumerate() {
            let limit = entries.first().and_then(|(k, _)| self.limits.get(k)).copied();
            let Some(limit) = limit else {
                out.push(DescriptorStatus { over: false, limit: None, remaining: 0 });
                continue;
            };
            let key = entries.iter().fold(call.domain.clone(), |k, (a, b)| format!("{k}|{a}={b}"));
            let count = self.counts.entry(key).or_default();
            *count += call.descriptor_hits(i);
            let over = *count > limit;
            out.push(DescriptorStatus { over, limit: Some(limit), remaining: limit.saturating_sub(*count) });
        }
        out
    }
}

struct DescriptorStatus {
    over: bool,
    limit: Option<u64>,
    remaining: u64,
}

pub struct Rls {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Rls {
    /// A service with no limits: every call is `OK` (a recorder).
    pub fn start() -> Rls {
        Rls::with_limits(&[])
    }

    /// A service with a limit (hits per window) per descriptor key, like envoyproxy/ratelimit's
    /// `descriptors: [{key: tenant, rate_limit: {unit: hour, requests_per_unit: N}}]`.
    pub fn with_limits(limits: &[(&str, u64)]) -> Rls {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = State { limits: limits.iter().map(|(k, v)| (k.to_string(), *v)).collect(), ..State::default() };
        let state = Arc::new(Mutex::new(state));
        let c = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let c = c.clone();
                thread::spawn(move || {
                    let _ = serve(stream, &c);
                });
            }
        });
        Rls { port, state }
    }

    /// The count of a descriptor (`domain`, its entries) in the window.
    pub fn count(&self, domain: &str, entries: &[(&str, &str)]) -> u64 {
        let key = entries.iter().fold(domain.to_string(), |k, (a, b)| format!("{k}|{a}={b}"));
        self.state.lock().unwrap().counts.get(&key).copied().unwrap_or(0)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn calls(&self) -> Vec<RlsCall> {
        self.state.lock().unwrap().calls.clone()
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

fn serve(mut s: TcpStream, state: &Mutex<State>) -> io::Result<()> {
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
                    let call = body.get(5..).map(decode_request).unwrap_or_default();
                    let statuses = {
                        let mut st = state.lock().unwrap();
                        let statuses = st.charge(&call);
                        st.calls.push(call);
                        statuses
                    };
                    respond(&mut s, stream, &statuses)?;
                }
            }
            _ => {}
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// RateLimitResponse { Code overall_code = 1; repeated DescriptorStatus statuses = 2 }
/// DescriptorStatus { Code code = 1; RateLimit current_limit = 2; uint32 limit_remaining = 3 }
/// RateLimit { uint32 requests_per_unit = 1; Unit unit = 2 (HOUR = 3) }; Code OK = 1, OVER_LIMIT = 2.
fn response_message(statuses: &[DescriptorStatus]) -> Vec<u8> {
    let code = |over: bool| if over { 2 } else { 1 };
    let mut m = vec![0x08, code(statuses.iter().any(|d| d.over))];
    for d in statuses {
        let mut st = vec![0x08, code(d.over)];
        if let Some(limit) = d.limit {
            let mut rl = vec![0x08];
            put_varint(&mut rl, limit);
            rl.extend_from_slice(&[0x10, 3]);
            put_bytes(&mut st, 2, &rl);
            st.push(0x18);
            put_varint(&mut st, d.remaining);
        }
        put_bytes(&mut m, 2, &st);
    }
    m
}

fn respond(s: &mut TcpStream, stream: u32, statuses: &[DescriptorStatus]) -> io::Result<()> {
    let mut h = vec![0x88]; // :status 200 (static table index 8)
    h.extend(literal("content-type", "application/grpc"));
    s.write_all(&frame(HEADERS, 0x4, stream, &h))?;
    let message = response_message(statuses);
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
