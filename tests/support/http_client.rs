//! Minimal blocking HTTP/1.1 client for tollgate's tests (std only): one-shot requests
//! (`connection: close`), a keep-alive [`Conn`], streamed reads that timestamp every body
//! chunk, raw byte exchanges for hostile-request tests, and an SSE parser.
//!
//! Everything talks to 127.0.0.1 with 30 s read/write timeouts. Response bodies may be
//! framed by `content-length`, `transfer-encoding: chunked`, or the connection closing.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_LINE: u64 = 64 * 1024;

/// A fully read response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Header names lowercased, in order, duplicates kept.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics (test failure) if it is not JSON.
    #[allow(clippy::panic)]
    pub fn json(&self) -> Value {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!(
                "response body (status {}) is not JSON ({e}): {}",
                self.status,
                self.text()
            ),
        }
    }
}

/// A response read chunk by chunk, each decoded body chunk stamped with its arrival time.
#[derive(Clone, Debug)]
pub struct StreamedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// For chunked bodies one entry per HTTP chunk; otherwise one per socket read.
    pub chunks: Vec<(Instant, Vec<u8>)>,
    /// When the request was sent.
    pub started: Instant,
    /// False if the body ended early: a chunked body without its terminating `0` chunk, a
    /// short `content-length` body, or a read error/timeout mid-body.
    pub complete: bool,
}

impl StreamedResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// All chunks concatenated.
    pub fn body(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }

    /// Time from sending the request to the first body chunk.
    pub fn first_chunk_after(&self) -> Option<Duration> {
        self.chunks
            .first()
            .map(|(t, _)| t.duration_since(self.started))
    }

    /// Time from sending the request to the last body chunk.
    pub fn last_chunk_after(&self) -> Option<Duration> {
        self.chunks
            .last()
            .map(|(t, _)| t.duration_since(self.started))
    }

    /// The body parsed as server-sent events.
    pub fn sse_events(&self) -> Vec<SseEvent> {
        parse_sse(&self.text())
    }
}

/// One server-sent event.
#[derive(Clone, Debug, PartialEq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

impl SseEvent {
    /// `data` parsed as JSON (`None` for `[DONE]` or anything else that is not JSON).
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

/// Parse an SSE body (LF, CRLF or CR line endings). Comment lines and events without
/// `data` are skipped; a trailing event not closed by a blank line is still returned.
pub fn parse_sse(body: &str) -> Vec<SseEvent> {
    let normalized = body.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::new();
    let mut event = None;
    let mut data: Vec<String> = Vec::new();
    let mut flush = |event: &mut Option<String>, data: &mut Vec<String>| {
        if !data.is_empty() {
            out.push(SseEvent {
                event: event.take(),
                data: data.join("\n"),
            });
        }
        *event = None;
        data.clear();
    };
    for line in normalized.split('\n') {
        if line.is_empty() {
            flush(&mut event, &mut data);
        } else if line.starts_with(':') {
            continue;
        } else {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event = Some(value.to_string()),
                "data" => data.push(value.to_string()),
                _ => {}
            }
        }
    }
    flush(&mut event, &mut data);
    out
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn connect(port: u16) -> io::Result<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Serialize a request. Adds `host`, `content-length` (unless the caller set
/// `content-length` or `transfer-encoding`; then `body` is sent as given) and, when
/// `close`, `connection: close` (unless the caller set `connection`).
fn encode_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    let mut h = format!("{method} {path} HTTP/1.1\r\n");
    if !has("host") {
        h.push_str(&format!("host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    let bodyless = matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "DELETE" | "OPTIONS"
    );
    if !has("content-length") && !has("transfer-encoding") && (!body.is_empty() || !bodyless) {
        h.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    if close && !has("connection") {
        h.push_str("connection: close\r\n");
    }
    h.push_str("\r\n");
    let mut out = h.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Encode `parts` as a chunked body (one chunk per part, then the `0` terminator), for
/// sending with a `transfer-encoding: chunked` header.
pub fn chunked_body(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts.iter().filter(|p| !p.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn read_line<R: BufRead>(r: &mut R) -> io::Result<String> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 || buf.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed mid-line",
        ));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Read a status line and headers, skipping interim 1xx responses.
fn read_head<R: BufRead>(r: &mut R) -> io::Result<(u16, Vec<(String, String)>)> {
    loop {
        let line = read_line(r)?;
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status = parts.next().and_then(|s| s.parse::<u16>().ok());
        let Some(status) = status.filter(|_| version.starts_with("HTTP/")) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            ));
        };
        let mut headers = Vec::new();
        loop {
            let h = read_line(r)?;
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        return Ok((status, headers));
    }
}

enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

fn framing(method: &str, status: u16, headers: &[(String, String)]) -> Framing {
    if method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
        return Framing::None;
    }
    if find_header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return Framing::Chunked;
    }
    match find_header(headers, "content-length").and_then(|v| v.trim().parse().ok()) {
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    }
}

/// Read a body, handing each decoded piece to `sink`. Ok(true) if it ended properly;
/// Ok(false) if the peer closed (or the read failed) mid-body.
fn read_body<R: BufRead>(
    r: &mut R,
    framing: Framing,
    sink: &mut dyn FnMut(Vec<u8>),
) -> io::Result<bool> {
    match framing {
        Framing::None => Ok(true),
        Framing::Length(n) => {
            let mut left = n;
            let mut buf = vec![0u8; 16 * 1024];
            while left > 0 {
                let want = left.min(buf.len());
                match r.read(&mut buf[..want]) {
                    Ok(0) | Err(_) => return Ok(false),
                    Ok(k) => {
                        sink(buf[..k].to_vec());
                        left -= k;
                    }
                }
            }
            Ok(true)
        }
        Framing::UntilClose => {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => return Ok(true),
                    Ok(k) => sink(buf[..k].to_vec()),
                    Err(_) => return Ok(false),
                }
            }
        }
        Framing::Chunked => loop {
            let Ok(line) = read_line(r) else {
                return Ok(false);
            };
            let size_hex = line.split(';').next().unwrap_or("").trim();
            let Ok(size) = usize::from_str_radix(size_hex, 16) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size line {line:?}"),
                ));
            };
            if size == 0 {
                // Trailers up to the blank line.
                loop {
                    match read_line(r) {
                        Ok(l) if l.is_empty() => return Ok(true),
                        Ok(_) => {}
                        Err(_) => return Ok(false),
                    }
                }
            }
            let mut data = vec![0u8; size];
            let mut got = 0;
            while got < size {
                match r.read(&mut data[got..]) {
                    Ok(0) | Err(_) => {
                        data.truncate(got);
                        if !data.is_empty() {
                            sink(data);
                        }
                        return Ok(false);
                    }
                    Ok(k) => got += k,
                }
            }
            sink(data);
            match read_line(r) {
                Ok(l) if l.is_empty() => {}
                _ => return Ok(false),
            }
        },
    }
}

/// Read one whole response from `r` (errors if the body is incomplete).
fn read_response<R: BufRead>(r: &mut R, method: &str) -> io::Result<Response> {
    let (status, headers) = read_head(r)?;
    let mut body = Vec::new();
    let complete = read_body(r, framing(method, status, &headers), &mut |c| {
        body.extend_from_slice(&c)
    })?;
    if !complete {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "response body incomplete (status {status}, {} bytes read)",
                body.len()
            ),
        ));
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// One request on a fresh connection with `connection: close`; reads the whole response.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let mut s = connect(port)?;
    s.write_all(&encode_request(port, method, path, headers, body, true))?;
    s.flush()?;
    read_response(&mut BufReader::new(s), method)
}

/// POST a JSON body (adds `content-type: application/json` unless given).
pub fn post_json(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> io::Result<Response> {
    let mut h: Vec<(&str, &str)> = headers.to_vec();
    if !h
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        h.push(("content-type", "application/json"));
    }
    request(port, "POST", path, &h, body.to_string().as_bytes())
}

pub fn get(port: u16, path: &str) -> io::Result<Response> {
    request(port, "GET", path, &[], b"")
}

/// Like [`request`], but records each body chunk with its arrival time. A body that stops
/// early yields `complete: false` rather than an error; errors only before the head is read.
pub fn request_streamed(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<StreamedResponse> {
    let mut s = connect(port)?;
    let started = Instant::now();
    s.write_all(&encode_request(port, method, path, headers, body, true))?;
    s.flush()?;
    let mut r = BufReader::new(s);
    let (status, headers) = read_head(&mut r)?;
    let mut chunks = Vec::new();
    let complete = read_body(&mut r, framing(method, status, &headers), &mut |c| {
        chunks.push((Instant::now(), c))
    })
    .unwrap_or(false);
    Ok(StreamedResponse {
        status,
        headers,
        chunks,
        started,
        complete,
    })
}

/// Send `bytes` as-is and return everything read until EOF, reset or `timeout` (whatever
/// arrived so far is returned in every case; only a failed connect is an error).
pub fn raw(port: u16, bytes: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_write_timeout(Some(timeout))?;
    let deadline = Instant::now() + timeout;
    let _ = s.write_all(bytes).and_then(|_| s.flush());
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    Ok(out)
}

/// A keep-alive connection: several requests, one after another, on one TCP connection.
pub struct Conn {
    port: u16,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(port: u16) -> io::Result<Conn> {
        let stream = connect(port)?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Conn {
            port,
            stream,
            reader,
        })
    }

    /// Send one request (no `connection: close` unless given) and read its response.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        self.stream.write_all(&encode_request(
            self.port, method, path, headers, body, false,
        ))?;
        self.stream.flush()?;
        read_response(&mut self.reader, method)
    }

    pub fn post_json(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> io::Result<Response> {
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        if !h
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            h.push(("content-type", "application/json"));
        }
        self.send("POST", path, &h, body.to_string().as_bytes())
    }
}
