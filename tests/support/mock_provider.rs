//! Mock LLM provider for tollgate's tests: a std-only HTTP/1.1 server speaking the OpenAI
//! (chat completions, embeddings, models), Anthropic Messages and Gemini
//! `generateContent` / `streamGenerateContent` wire formats, with deterministic text and
//! token usage (the `pub const`s below), request recording and failure injection.
//!
//! Routes (matched on the path suffix, so any prefix works; the query string is ignored
//! except `alt=sse` for Gemini):
//! - `POST …/chat/completions` — OpenAI chat; `"stream": true` gives SSE `chat.completion.chunk`s
//!   and, only with `stream_options.include_usage`, a final `choices: []` usage chunk, then
//!   `data: [DONE]`. `model` echoes the request.
//! - `POST …/embeddings` — one embedding per input (string or array), usage
//!   [`EMBEDDING_TOKENS_PER_INPUT`] per input.
//! - `POST …/messages` — Anthropic Messages (JSON, or the `event:`/`data:` SSE sequence).
//! - `POST …/models/{model}:generateContent` / `:streamGenerateContent` — Gemini; streaming is
//!   SSE (`data:` lines separated by `\r\n\r\n`, as Google sends) with `?alt=sse`, otherwise an
//!   incrementally written JSON array. Every stream chunk carries cumulative `usageMetadata`;
//!   the last one is final. `modelVersion` echoes `{model}`.
//! - `POST …/responses` — OpenAI Responses (JSON, or the typed `event: response.*` SSE sequence,
//!   closed by `response.completed` with usage).
//! - `POST …/messages/count_tokens` — Anthropic token count (`input_tokens`: [`COUNT_TOKENS`]).
//! - `POST …/completions` (not `chat/`) — OpenAI legacy text completion.
//! - `GET …/models` — OpenAI model list. Anything else: 404 in OpenAI's error shape.
//!
//! Two behaviours follow the request itself, in every dialect, as a real model's would:
//! - a request whose upstream `model` contains `tool-caller`, that offers tools and whose last
//!   turn is not a tool result, is answered with one call of its first tool, the arguments
//!   built from the tool's JSON Schema (see [`schema_example`]);
//! - a request for structured output (OpenAI `response_format`/`text.format` `json_schema`,
//!   Anthropic `output_config.format`, Gemini `responseJsonSchema`) is answered with a JSON
//!   document built from that schema instead of [`ASSISTANT_TEXT`].
//!
//! A Gemini `tool-caller` signs its calls ([`MOCK_THOUGHT_SIGNATURE`]) and, as Gemini 3 does, a
//! Gemini `gemini-3…` or `tool-caller` model refuses a history whose calls lack their signature.
//!
//! Hostile-upstream fault modes (a 10 MB SSE event, HTML with status 200, unasked-for gzip, …)
//! are chosen by `x-mock-hostile: <mode>` or a model `hostile-<mode>`; see [`hostile_upstream`].
//!
//! Behaviour is chosen per request by `x-mock-*` headers, falling back to the server's
//! default [`Behavior`] (see the field docs for what each does). Every request is recorded
//! (before the response is written) with its body de-chunked. Connections are kept alive
//! (each on its own thread) until the peer closes them or sends `connection: close`.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The assistant reply, identical in every dialect and for streamed and unary responses.
pub const ASSISTANT_TEXT: &str =
    "Hello! I am the tollgate mock provider. This reply is deterministic.";
/// How the streamed responses split [`ASSISTANT_TEXT`] (one piece per content event/chunk).
pub const STREAM_TEXT_PIECES: [&str; 5] = [
    "Hello",
    "! I am the",
    " tollgate mock",
    " provider. This reply",
    " is deterministic.",
];

/// OpenAI chat usage (`usage.*`), unary and in the `include_usage` stream chunk.
pub const OPENAI_PROMPT_TOKENS: u64 = 42;
pub const OPENAI_COMPLETION_TOKENS: u64 = 17;
pub const OPENAI_TOTAL_TOKENS: u64 = 59;
/// `usage.prompt_tokens_details.cached_tokens` (included in `prompt_tokens`).
pub const OPENAI_CACHED_TOKENS: u64 = 16;
/// `usage.completion_tokens_details.reasoning_tokens` (included in `completion_tokens`).
pub const OPENAI_REASONING_TOKENS: u64 = 4;

/// Anthropic usage. In the stream, `message_start` carries the input/cache numbers and
/// `output_tokens: 1`; `message_delta` carries the cumulative totals (all four fields).
pub const ANTHROPIC_INPUT_TOKENS: u64 = 31;
pub const ANTHROPIC_OUTPUT_TOKENS: u64 = 19;
pub const ANTHROPIC_CACHE_CREATION_INPUT_TOKENS: u64 = 12;
pub const ANTHROPIC_CACHE_READ_INPUT_TOKENS: u64 = 64;
/// `output_tokens` in the streamed `message_start` event.
pub const ANTHROPIC_STREAM_START_OUTPUT_TOKENS: u64 = 1;

/// Gemini `usageMetadata` (final values; total = prompt + candidates + thoughts).
pub const GEMINI_PROMPT_TOKENS: u64 = 27;
pub const GEMINI_CANDIDATES_TOKENS: u64 = 14;
pub const GEMINI_THOUGHTS_TOKENS: u64 = 6;
pub const GEMINI_CACHED_TOKENS: u64 = 10;
pub const GEMINI_TOTAL_TOKENS: u64 = 47;

/// OpenAI embeddings: `prompt_tokens` = `total_tokens` = this × number of inputs.
pub const EMBEDDING_TOKENS_PER_INPUT: u64 = 8;
/// Length of every returned embedding vector.
pub const EMBEDDING_DIMENSIONS: usize = 8;

/// Request headers that override the server's default [`Behavior`] for one request.
pub const H_STATUS: &str = "x-mock-status";
pub const H_RETRY_AFTER: &str = "x-mock-retry-after";
pub const H_FAIL_FIRST: &str = "x-mock-fail-first";
pub const H_DELAY_MS: &str = "x-mock-delay-ms";
pub const H_CHUNK_DELAY_MS: &str = "x-mock-chunk-delay-ms";
pub const H_CUT_AFTER_EVENTS: &str = "x-mock-cut-after-events";
pub const H_RESET: &str = "x-mock-reset";
pub const H_END_AFTER_EVENTS: &str = "x-mock-end-after-events";
pub const H_NO_USAGE: &str = "x-mock-no-usage";
pub const H_ECHO: &str = "x-mock-echo";
pub const H_ECHO_TOOL: &str = "x-mock-echo-tool";
/// Response header naming the server ([`Behavior::name`]), when configured.
pub const H_SERVED_BY: &str = "x-mock-served-by";

/// Fault modes (`x-mock-hostile: <mode>` or a model `hostile-<mode>…`): see that file.
#[path = "hostile_upstream.rs"]
pub mod hostile_upstream;

const OPENAI_CHAT: &str = include_str!("../fixtures/openai_chat.json");
const OPENAI_CHAT_STREAM: &str = include_str!("../fixtures/openai_chat_stream.sse");
const OPENAI_EMBEDDINGS: &str = include_str!("../fixtures/openai_embeddings.json");
const OPENAI_MODELS: &str = include_str!("../fixtures/openai_models.json");
const ANTHROPIC_MESSAGES: &str = include_str!("../fixtures/anthropic_messages.json");
const ANTHROPIC_STREAM: &str = include_str!("../fixtures/anthropic_messages_stream.sse");
const GEMINI_GENERATE: &str = include_str!("../fixtures/gemini_generate.json");
const GEMINI_STREAM: &str = include_str!("../fixtures/gemini_stream.sse");
const OPENAI_RESPONSES: &str = include_str!("../fixtures/openai_responses.json");
const OPENAI_RESPONSES_STREAM: &str = include_str!("../fixtures/openai_responses_stream.sse");

/// OpenAI Responses usage (`usage.*`), unary and in `response.completed`.
pub const RESPONSES_INPUT_TOKENS: u64 = 36;
pub const RESPONSES_OUTPUT_TOKENS: u64 = 17;
pub const RESPONSES_CACHED_TOKENS: u64 = 8;
pub const RESPONSES_REASONING_TOKENS: u64 = 3;
/// Anthropic `count_tokens`' answer.
pub const COUNT_TOKENS: u64 = 27;

const MAX_LINE: u64 = 16 * 1024;
const MAX_HEADERS: usize = 256;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target as sent: path plus `?query` if any.
    pub path: String,
    /// Header names lowercased, in arrival order, duplicates kept.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it came with `transfer-encoding: chunked`.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The path without the query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// The query string (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, q)| q)
    }

    /// The body as (lossy) UTF-8.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics (test failure) if it is not JSON.
    #[allow(clippy::panic)]
    pub fn json(&self) -> Value {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!(
                "body of {} {} is not JSON ({e}): {}",
                self.method,
                self.path,
                self.body_text()
            ),
        }
    }
}

/// How the server answers. The server-wide default is given to [`MockProvider::start_with`];
/// each field can be overridden per request by the `x-mock-*` header named in its doc.
#[derive(Clone, Debug, Default)]
pub struct Behavior {
    /// Sent back in the `x-mock-served-by` response header (no header when `None`).
    pub name: Option<String>,
    /// `x-mock-status`: answer with this status. ≥ 400 gives an error body in the route's
    /// dialect (OpenAI `{"error":{message,type,param,code}}`, Anthropic
    /// `{"type":"error","error":{type,message}}`, Gemini `{"error":{code,message,status}}`);
    /// below 400 the normal body is sent with that status.
    pub status: Option<u16>,
    /// `x-mock-retry-after`: add `retry-after: N` to error (≥ 400) responses.
    pub retry_after: Option<u64>,
    /// `x-mock-fail-first`: apply `status` only to the first N requests this server has
    /// seen since start/[`MockProvider::clear`] (all routes count); later ones succeed.
    pub fail_first: Option<usize>,
    /// `x-mock-delay-ms`: sleep this long before the response head (also before a reset).
    pub delay_ms: u64,
    /// `x-mock-chunk-delay-ms`: sleep this long between streamed events (each event is its
    /// own HTTP chunk, written and flushed separately).
    pub chunk_delay_ms: u64,
    /// `x-mock-cut-after-events`: for a stream, send N complete events, then the first half
    /// of the next as one more chunk, then close without the terminating `0` chunk (if the
    /// stream has ≤ N events, all are sent and the terminator is left off). For a unary
    /// response: send the head with the full `content-length` but only half the body, then close.
    pub cut_after_events: Option<usize>,
    /// `x-mock-end-after-events`: for a stream, send N complete events, then end the response
    /// cleanly (the terminating `0` chunk) without the rest: a provider that stopped early.
    pub end_after_events: Option<usize>,
    /// `x-mock-reset: 1`: record the request, then close the connection without writing a
    /// single byte (`shutdown(Both)`; a FIN, not a TCP RST — the crate forbids the `unsafe`
    /// needed for SO_LINGER). Envoy reports it as an upstream connection termination.
    pub reset: bool,
    /// `x-mock-no-usage: 1`: omit usage everywhere (OpenAI `usage` and the include_usage
    /// chunk, Anthropic `usage`, Gemini `usageMetadata`, embeddings `usage`).
    pub no_usage: bool,
    /// `x-mock-echo: N` (N ≥ 1): OpenAI chat and Anthropic Messages answer with the text of the
    /// last request message instead of [`ASSISTANT_TEXT`]; streams carry it in N-byte deltas
    /// (cut forward to char boundaries), so `1` splits every placeholder at every byte.
    pub echo: Option<usize>,
    /// `x-mock-echo-tool: N` (N ≥ 1): a streamed OpenAI chat or Anthropic Messages request is
    /// answered with one call of the tool `echo` whose arguments are `{"text": <last message>}`,
    /// streamed in N-byte pieces of the arguments' JSON text.
    pub echo_tool: Option<usize>,
}

impl Behavior {
    /// A default behaviour that only names the server.
    pub fn named(name: &str) -> Behavior {
        Behavior {
            name: Some(name.to_string()),
            ..Behavior::default()
        }
    }

    /// This behaviour with the request's `x-mock-*` headers applied; `index` is the
    /// request's 0-based sequence number on this server (for `fail_first`).
    fn for_request(&self, req: &RecordedRequest, index: usize) -> Behavior {
        let mut b = self.clone();
        let num = |h: &str| req.header(h).and_then(|v| v.trim().parse::<u64>().ok());
        let flag = |h: &str| {
            req.header(h)
                .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        };
        if let Some(v) = num(H_STATUS) {
            b.status = u16::try_from(v).ok();
        }
        if let Some(v) = num(H_RETRY_AFTER) {
            b.retry_after = Some(v);
        }
        if let Some(v) = num(H_FAIL_FIRST) {
            b.fail_first = usize::try_from(v).ok();
        }
        if let Some(v) = num(H_DELAY_MS) {
            b.delay_ms = v;
        }
        if let Some(v) = num(H_CHUNK_DELAY_MS) {
            b.chunk_delay_ms = v;
        }
        if let Some(v) = num(H_CUT_AFTER_EVENTS) {
            b.cut_after_events = usize::try_from(v).ok();
        }
        if let Some(v) = num(H_END_AFTER_EVENTS) {
            b.end_after_events = usize::try_from(v).ok();
        }
        if let Some(v) = flag(H_RESET) {
            b.reset = v;
        }
        if let Some(v) = flag(H_NO_USAGE) {
            b.no_usage = v;
        }
        if let Some(v) = num(H_ECHO).filter(|n| *n > 0) {
            b.echo = usize::try_from(v).ok();
        }
        if let Some(v) = num(H_ECHO_TOOL).filter(|n| *n > 0) {
            b.echo_tool = usize::try_from(v).ok();
        }
        if b.fail_first.is_some_and(|n| index >= n) {
            b.status = None;
        }
        b
    }
}

struct Shared {
    behavior: Mutex<Behavior>,
    requests: Mutex<Vec<RecordedRequest>>,
    served: AtomicUsize,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running mock provider. Dropping it stops accepting, closes the listening socket and
/// shuts down every open connection.
pub struct MockProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MockProvider {
    /// Start on 127.0.0.1 with an OS-chosen port and default behaviour.
    pub fn start() -> MockProvider {
        MockProvider::start_with(Behavior::default())
    }

    /// Start on 127.0.0.1 with an OS-chosen port and the given default behaviour.
    #[allow(clippy::expect_used)]
    pub fn start_with(b: Behavior) -> MockProvider {
        MockProvider::bind("127.0.0.1:0", b).expect("mock provider: bind 127.0.0.1:0")
    }

    /// Start on `addr` (e.g. `"127.0.0.1:18080"`).
    pub fn bind(addr: &str, b: Behavior) -> io::Result<MockProvider> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            behavior: Mutex::new(b),
            requests: Mutex::new(Vec::new()),
            served: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
        });
        let s = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("mock-provider-accept".into())
            .spawn(move || accept_loop(listener, s))?;
        Ok(MockProvider {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replace the server-wide default behaviour (affects requests read from now on).
    pub fn set_behavior(&self, b: Behavior) {
        *lock(&self.shared.behavior) = b;
    }

    /// Everything received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// TCP connections accepted so far (to check upstream connection reuse).
    pub fn connection_count(&self) -> usize {
        self.shared.next_conn.load(Ordering::SeqCst) as usize
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared.requests).last().cloned()
    }

    /// Wait until at least `n` requests were recorded; false on timeout.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.request_count() < n {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Forget recorded requests and restart the `fail_first` count.
    pub fn clear(&self) {
        lock(&self.shared.requests).clear();
        self.shared.served.store(0, Ordering::SeqCst);
    }

    /// Block forever while the server runs (for the standalone example).
    pub fn wait(&self) {
        loop {
            thread::park();
        }
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a throwaway connection, then wait for the
        // listener to close so "provider down" tests see connection refused right away.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(h) = self.accept.take() {
                let _ = h.join();
            }
        }
        for (_, c) in lock(&self.shared.conns).drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(_) => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = stream.try_clone() {
            lock(&shared.conns).insert(id, c);
        }
        let s = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("mock-provider-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &s);
                lock(&s.conns).remove(&id);
            });
        if spawned.is_err() {
            lock(&shared.conns).remove(&id);
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while !shared.stop.load(Ordering::SeqCst) {
        let req = match read_request(&mut reader, &mut writer) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    let body = error_body(
                        Dialect::OpenAi,
                        400,
                        Some(&format!("Malformed HTTP request: {e}")),
                    );
                    let _ = write_full(
                        &mut writer,
                        400,
                        "application/json",
                        body.to_string().as_bytes(),
                        &[],
                        false,
                        None,
                    );
                }
                break;
            }
        };
        let index = shared.served.fetch_add(1, Ordering::SeqCst);
        let behavior = lock(&shared.behavior).for_request(&req, index);
        lock(&shared.requests).push(req.clone());
        match respond(&req, &behavior, index, &mut writer) {
            Ok(true) => {}
            _ => break,
        }
    }
    let _ = writer.flush();
    let _ = writer.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------- request parsing

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// One CRLF/LF-terminated line without its terminator; `None` on EOF before any byte.
fn read_line(r: &mut BufReader<TcpStream>) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if n as u64 >= MAX_LINE {
            invalid("line too long")
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-line")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| invalid("non-UTF-8 header line"))
}

fn read_request(
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<Option<RecordedRequest>> {
    let request_line = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(l) if l.trim().is_empty() => continue, // tolerate stray CRLFs between requests
            Some(l) => break l,
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line {request_line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(invalid(format!("unsupported version {version:?}")));
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in headers"))?;
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(invalid("too many headers"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut req = RecordedRequest {
        method: method.to_string(),
        path: target.to_string(),
        headers,
        body: Vec::new(),
    };
    if version == "HTTP/1.0" && req.header("connection").is_none() {
        // HTTP/1.0 defaults to close; remember it the way respond() looks for it.
        req.headers.push(("connection".into(), "close".into()));
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = match req.header("content-length") {
        Some(v) => Some(
            v.trim()
                .parse::<usize>()
                .map_err(|_| invalid(format!("bad content-length {v:?}")))?,
        ),
        None => None,
    };
    if (chunked || length.is_some_and(|n| n > 0))
        && req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(invalid("body too large"));
        }
        req.body = vec![0; n];
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn read_chunked(r: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let eof = || io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in chunked body");
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(eof)?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers (ignored) up to the blank line.
            while !read_line(r)?.ok_or_else(eof)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if !read_line(r)?.ok_or_else(eof)?.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

#[path = "cloud_mock.rs"]
pub mod cloud;

// ---------------------------------------------------------------- routing

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
}

#[derive(Debug, PartialEq)]
enum Route {
    OpenAiChat,
    OpenAiResponses,
    OpenAiCompletions,
    AnthropicCountTokens,
    OpenAiEmbeddings,
    OpenAiModels,
    AnthropicMessages,
    GeminiGenerate(String),
    GeminiStream(String),
    NotFound,
}

impl Route {
    fn dialect(&self) -> Dialect {
        match self {
            Route::AnthropicMessages | Route::AnthropicCountTokens => Dialect::Anthropic,
            Route::GeminiGenerate(_) | Route::GeminiStream(_) => Dialect::Gemini,
            _ => Dialect::OpenAi,
        }
    }
}

fn route(method: &str, path: &str) -> Route {
    let path = path.replace("%3A", ":").replace("%3a", ":");
    let path = path.trim_end_matches('/');
    let post = method.eq_ignore_ascii_case("POST");
    if post {
        if let Some((prefix, action)) = path.rsplit_once(':') {
            if let Some(i) = prefix.rfind("/models/") {
                let model = &prefix[i + "/models/".len()..];
                if !model.is_empty() && !model.contains('/') {
                    return match action {
                        "generateContent" => Route::GeminiGenerate(model.to_string()),
                        "streamGenerateContent" => Route::GeminiStream(model.to_string()),
                        _ => Route::NotFound,
                    };
                }
            }
        }
        if path.ends_with("/chat/completions") {
            return Route::OpenAiChat;
        }
        if path.ends_with("/completions") {
            return Route::OpenAiCompletions;
        }
        if path.ends_with("/responses") {
            return Route::OpenAiResponses;
        }
        if path.ends_with("/messages/count_tokens") {
            return Route::AnthropicCountTokens;
        }
        if path.ends_with("/embeddings") {
            return Route::OpenAiEmbeddings;
        }
        if path.ends_with("/messages") {
            return Route::AnthropicMessages;
        }
    } else if method.eq_ignore_ascii_case("GET") && path.ends_with("/models") {
        return Route::OpenAiModels;
    }
    Route::NotFound
}

// ---------------------------------------------------------------- responses

enum Body {
    /// A unary body sent with `content-length`.
    Full(Vec<u8>),
    /// Pieces sent as separate HTTP chunks (SSE events, or Gemini JSON-array elements).
    Stream(Vec<Vec<u8>>),
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Body,
}

fn json_reply(status: u16, v: &Value) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: Body::Full(v.to_string().into_bytes()),
    }
}

/// Answer one request; Ok(true) means the connection may serve another request.
fn respond(
    req: &RecordedRequest,
    b: &Behavior,
    index: usize,
    w: &mut TcpStream,
) -> io::Result<bool> {
    if b.delay_ms > 0 {
        thread::sleep(Duration::from_millis(b.delay_ms));
    }
    if b.reset {
        return Ok(false);
    }
    if let Some(mode) = hostile_upstream::mode_of(&req.headers, &req.body) {
        return hostile_upstream::respond(mode, &req.path, &req.body, w);
    }
    let keep_alive = !req
        .header("connection")
        .is_some_and(|v| v.to_ascii_lowercase().contains("close"));
    // Bedrock and Vertex paths (cloud_mock.rs).
    let mut cloud_extra = vec![("x-request-id", format!("mock-req-{index}"))];
    cloud_extra.extend(b.name.iter().map(|n| (H_SERVED_BY, n.clone())));
    let route = match cloud::respond(req, b, w, &cloud_extra, keep_alive) {
        Some(cloud::Cloud::Done(done)) => return done,
        Some(cloud::Cloud::As(r)) => r,
        None => route(&req.method, req.path_only()),
    };
    let dialect = route.dialect();
    let reply = if route == Route::NotFound {
        let msg = format!(
            "Unknown request URL: {} {}. Please check the URL for typos, or see the docs at https://platform.openai.com/docs/api-reference/.",
            req.method,
            req.path_only()
        );
        let mut v = error_body(Dialect::OpenAi, 404, Some(&msg));
        v["error"]["code"] = json!("unknown_url");
        json_reply(404, &v)
    } else if let Some(status) = b.status.filter(|s| *s >= 400) {
        json_reply(status, &error_body(dialect, status, None))
    } else if let Some(msg) = unsigned_gemini_call(&route, &req.body) {
        json_reply(400, &error_body(dialect, 400, Some(&msg)))
    } else {
        match build_success(&route, req, b) {
            Ok(mut r) => {
                if let Some(s) = b.status {
                    r.status = s;
                }
                r
            }
            Err(msg) => json_reply(400, &error_body(dialect, 400, Some(&msg))),
        }
    };
    let reply = match b.echo {
        Some(step) if reply.status < 400 && matches!(route, Route::OpenAiChat | Route::AnthropicMessages) => echo(reply, &echo_source(&req.body), step),
        _ => reply,
    };
    let request: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let reply = match (reply.status < 400).then(|| structured_schema(&request)).flatten() {
        Some(schema) => echo(reply, &schema_example(&schema).to_string(), 8),
        None => reply,
    };
    let reply = match (reply.status < 400).then(|| tool_to_call(&route, &request)).flatten() {
        Some((name, args)) => tool_reply(&route, request.get("stream") == Some(&Value::Bool(true)), &name, &args, reply),
        None => reply,
    };
    let reply = match b.echo_tool {
        Some(step) if reply.status < 400 && matches!(reply.body, Body::Stream(_)) && matches!(route, Route::OpenAiChat | Route::AnthropicMessages) => {
            echo_tool(route == Route::AnthropicMessages, &echo_source(&req.body), step, reply)
        }
        _ => reply,
    };
    let mut extra: Vec<(&str, String)> = vec![("x-request-id", format!("mock-req-{index}"))];
    if let Some(name) = &b.name {
        extra.push((H_SERVED_BY, name.clone()));
    }
    if let (Some(ra), true) = (b.retry_after, reply.status >= 400) {
        extra.push(("retry-after", ra.to_string()));
    }
    match reply.body {
        Body::Full(bytes) => {
            write_full(
                w,
                reply.status,
                reply.content_type,
                &bytes,
                &extra,
                keep_alive,
                b.cut_after_events,
            )?;
            Ok(keep_alive && b.cut_after_events.is_none())
        }
        Body::Stream(events) => {
            let complete = write_stream(
                w,
                reply.status,
                reply.content_type,
                &events,
                &extra,
                keep_alive,
                b,
            )?;
            Ok(keep_alive && complete)
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Site Overloaded",
        _ => "Unknown",
    }
}

fn head(status: u16, content_type: &str, extra: &[(&str, String)], keep_alive: bool) -> String {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\n",
        reason(status)
    );
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if !keep_alive {
        h.push_str("connection: close\r\n");
    }
    h
}

fn write_full(
    w: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, String)],
    keep_alive: bool,
    cut: Option<usize>,
) -> io::Result<()> {
    let mut out = head(status, content_type, extra, keep_alive).into_bytes();
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    match cut {
        Some(_) => out.extend_from_slice(&body[..body.len() / 2]),
        None => out.extend_from_slice(body),
    }
    w.write_all(&out)?;
    w.flush()
}

/// Write a chunked stream, one HTTP chunk per piece; Ok(false) if it was cut on purpose.
fn write_stream(
    w: &mut TcpStream,
    status: u16,
    content_type: &str,
    pieces: &[Vec<u8>],
    extra: &[(&str, String)],
    keep_alive: bool,
    b: &Behavior,
) -> io::Result<bool> {
    let mut h = head(status, content_type, extra, keep_alive);
    h.push_str("cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n");
    w.write_all(h.as_bytes())?;
    w.flush()?;
    let chunk = |data: &[u8]| {
        let mut c = format!("{:x}\r\n", data.len()).into_bytes();
        c.extend_from_slice(data);
        c.extend_from_slice(b"\r\n");
        c
    };
    for (i, piece) in pieces.iter().enumerate() {
        if b.end_after_events == Some(i) {
            break;
        }
        if i > 0 && b.chunk_delay_ms > 0 {
            thread::sleep(Duration::from_millis(b.chunk_delay_ms));
        }
        if b.cut_after_events == Some(i) {
            let half = (piece.len() / 2).max(1);
            w.write_all(&chunk(&piece[..half]))?;
            w.flush()?;
            return Ok(false);
        }
        w.write_all(&chunk(piece))?;
        w.flush()?;
    }
    if b.cut_after_events.is_some_and(|n| n >= pieces.len()) {
        return Ok(false);
    }
    w.write_all(b"0\r\n\r\n")?;
    w.flush()?;
    Ok(true)
}

/// The dialect's error body for `status` (`message` overrides the default text).
fn error_body(dialect: Dialect, status: u16, message: Option<&str>) -> Value {
    let (openai_type, anthropic_type, gemini_status, default_msg) = match status {
        400 => (
            "invalid_request_error",
            "invalid_request_error",
            "INVALID_ARGUMENT",
            "Invalid request.",
        ),
        401 => (
            "invalid_request_error",
            "authentication_error",
            "UNAUTHENTICATED",
            "Incorrect API key provided.",
        ),
        403 => (
            "invalid_request_error",
            "permission_error",
            "PERMISSION_DENIED",
            "Permission denied.",
        ),
        404 => (
            "invalid_request_error",
            "not_found_error",
            "NOT_FOUND",
            "Not found.",
        ),
        413 => (
            "invalid_request_error",
            "request_too_large",
            "INVALID_ARGUMENT",
            "Request too large.",
        ),
        429 => (
            "requests",
            "rate_limit_error",
            "RESOURCE_EXHAUSTED",
            "Rate limit reached. Please try again later.",
        ),
        503 | 529 => (
            "server_error",
            "overloaded_error",
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "server_error",
            "api_error",
            "DEADLINE_EXCEEDED",
            "The request timed out.",
        ),
        _ => (
            "server_error",
            "api_error",
            "INTERNAL",
            "The server had an error while processing your request.",
        ),
    };
    let msg = message.unwrap_or(default_msg);
    match dialect {
        Dialect::OpenAi => {
            let code = if status == 429 {
                json!("rate_limit_exceeded")
            } else {
                Value::Null
            };
            json!({"error": {"message": msg, "type": openai_type, "param": null, "code": code}})
        }
        Dialect::Anthropic => {
            json!({"type": "error", "error": {"type": anthropic_type, "message": msg}, "request_id": "req_011CMockProviderRequest"})
        }
        Dialect::Gemini => {
            json!({"error": {"code": status, "message": msg, "status": gemini_status}})
        }
    }
}

fn fixture(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("mock provider fixture is not JSON: {e}"))
}

/// The model names written in the fixtures (each appears only as the model field's value).
const FIXTURE_OPENAI_MODEL: &str = "gpt-4o-mini-2024-07-18";
const FIXTURE_ANTHROPIC_MODEL: &str = "claude-sonnet-4-20250514";
const FIXTURE_GEMINI_MODEL: &str = "gemini-2.5-flash";
const FIXTURE_RESPONSES_MODEL: &str = "gpt-4.1-2025-04-14";

/// Fixture JSON text with its model name replaced by `model`, keeping the fixture's bytes
/// (key order, whitespace) otherwise untouched.
fn with_model(text: &str, fixture_model: &str, model: &str) -> String {
    text.replace(
        &format!("\"{fixture_model}\""),
        &Value::from(model).to_string(),
    )
}

/// `text` (JSON) as-is, or re-serialized without `key` (top level) when `strip`.
fn strip_key(text: String, key: &str, strip: bool) -> Result<String, String> {
    if !strip {
        return Ok(text);
    }
    let mut v = fixture(&text)?;
    remove_key(&mut v, key);
    Ok(v.to_string())
}

/// Split an SSE fixture into (event name, data) pairs.
fn sse_fixture(text: &str) -> Vec<(Option<String>, String)> {
    let text = text.replace("\r\n", "\n");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut event = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if event.is_some() || !data.is_empty() {
            out.push((event, data.join("\n")));
        }
    }
    out
}

fn remove_key(v: &mut Value, key: &str) {
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
}

fn text_reply(content_type: &'static str, text: String) -> Reply {
    Reply {
        status: 200,
        content_type,
        body: Body::Full(text.into_bytes()),
    }
}

fn stream_reply(content_type: &'static str, events: Vec<String>) -> Reply {
    Reply {
        status: 200,
        content_type,
        body: Body::Stream(events.into_iter().map(String::into_bytes).collect()),
    }
}

fn build_success(route: &Route, req: &RecordedRequest, b: &Behavior) -> Result<Reply, String> {
    const JSON: &str = "application/json";
    const SSE: &str = "text/event-stream; charset=utf-8";
    if *route == Route::OpenAiModels {
        return Ok(text_reply(JSON, OPENAI_MODELS.to_string()));
    }
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| format!("We could not parse the JSON body of your request. ({e})"))?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string();
    let streaming = body.get("stream") == Some(&Value::Bool(true));
    match route {
        Route::OpenAiChat if streaming => {
            let include_usage = body.pointer("/stream_options/include_usage")
                == Some(&Value::Bool(true))
                && !b.no_usage;
            let mut events = Vec::new();
            for (_, data) in sse_fixture(OPENAI_CHAT_STREAM) {
                let mut data = with_model(&data, FIXTURE_OPENAI_MODEL, &model);
                if !include_usage {
                    // Without include_usage OpenAI sends neither the usage chunk nor
                    // `"usage": null` on the other chunks.
                    if data.contains("\"choices\":[]") {
                        continue;
                    }
                    data = data.replace(",\"usage\":null", "");
                }
                events.push(format!("data: {data}\n\n"));
            }
            Ok(stream_reply(SSE, events))
        }
        Route::OpenAiChat => {
            let text = with_model(OPENAI_CHAT, FIXTURE_OPENAI_MODEL, &model);
            Ok(text_reply(JSON, strip_key(text, "usage", b.no_usage)?))
        }
        Route::OpenAiEmbeddings => {
            let count = match body.get("input") {
                Some(Value::String(_)) => 1,
                // An array of token ids is a single input; otherwise one per element.
                Some(Value::Array(a)) if a.first().is_some_and(Value::is_number) => 1,
                Some(Value::Array(a)) => a.len(),
                _ => return Err("'input' is a required property".into()),
            };
            let mut v = fixture(OPENAI_EMBEDDINGS)?;
            let template = v["data"][0].clone();
            let data: Vec<Value> = (0..count)
                .map(|i| {
                    let mut e = template.clone();
                    e["index"] = json!(i);
                    e
                })
                .collect();
            v["data"] = Value::Array(data);
            v["model"] = json!(model);
            let tokens = EMBEDDING_TOKENS_PER_INPUT * count as u64;
            v["usage"] = json!({"prompt_tokens": tokens, "total_tokens": tokens});
            if b.no_usage {
                remove_key(&mut v, "usage");
            }
            Ok(json_reply(200, &v))
        }
        Route::AnthropicMessages if streaming => {
            let mut events = Vec::new();
            for (name, data) in sse_fixture(ANTHROPIC_STREAM) {
                let mut data = with_model(&data, FIXTURE_ANTHROPIC_MODEL, &model);
                if b.no_usage && data.contains("\"usage\"") {
                    let mut v = fixture(&data)?;
                    if let Some(m) = v.get_mut("message") {
                        remove_key(m, "usage");
                    }
                    remove_key(&mut v, "usage");
                    data = v.to_string();
                }
                events.push(format!(
                    "event: {}\ndata: {data}\n\n",
                    name.unwrap_or_default()
                ));
            }
            Ok(stream_reply(SSE, events))
        }
        Route::AnthropicMessages => {
            let text = with_model(ANTHROPIC_MESSAGES, FIXTURE_ANTHROPIC_MODEL, &model);
            Ok(text_reply(JSON, strip_key(text, "usage", b.no_usage)?))
        }
        Route::GeminiGenerate(model) => {
            let text = with_model(GEMINI_GENERATE, FIXTURE_GEMINI_MODEL, model);
            Ok(text_reply(
                JSON,
                strip_key(text, "usageMetadata", b.no_usage)?,
            ))
        }
        Route::GeminiStream(model) => {
            let sse = req
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
            let mut chunks = Vec::new();
            for (_, data) in sse_fixture(GEMINI_STREAM) {
                let text = with_model(&data, FIXTURE_GEMINI_MODEL, model);
                chunks.push(strip_key(text, "usageMetadata", b.no_usage)?);
            }
            if sse {
                // Google separates SSE events with CRLF CRLF.
                let events = chunks
                    .iter()
                    .map(|c| format!("data: {c}\r\n\r\n"))
                    .collect();
                return Ok(stream_reply("text/event-stream", events));
            }
            // Without alt=sse: a JSON array written element by element, as Google streams it.
            let last = chunks.len().saturating_sub(1);
            let pieces = chunks
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let open = if i == 0 { "[" } else { ",\r\n" };
                    let close = if i == last { "]" } else { "" };
                    format!("{open}{c}{close}")
                })
                .collect();
            Ok(stream_reply("application/json; charset=UTF-8", pieces))
        }
        Route::OpenAiResponses if streaming => {
            let mut events = Vec::new();
            for (name, data) in sse_fixture(OPENAI_RESPONSES_STREAM) {
                let mut data = with_model(&data, FIXTURE_RESPONSES_MODEL, &model);
                if b.no_usage && data.contains("\"usage\"") {
                    let mut v = fixture(&data)?;
                    if let Some(r) = v.get_mut("response") {
                        r["usage"] = Value::Null;
                    }
                    data = v.to_string();
                }
                events.push(format!("event: {}\ndata: {data}\n\n", name.unwrap_or_default()));
            }
            Ok(stream_reply(SSE, events))
        }
        Route::OpenAiResponses => {
            let text = with_model(OPENAI_RESPONSES, FIXTURE_RESPONSES_MODEL, &model);
            Ok(text_reply(JSON, strip_key(text, "usage", b.no_usage)?))
        }
        Route::OpenAiCompletions => {
            let v = json!({"id": "cmpl-mock", "object": "text_completion", "created": 1, "model": model,
                "choices": [{"text": ASSISTANT_TEXT, "index": 0, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": OPENAI_PROMPT_TOKENS, "completion_tokens": OPENAI_COMPLETION_TOKENS, "total_tokens": OPENAI_TOTAL_TOKENS}});
            Ok(json_reply(200, &v))
        }
        Route::AnthropicCountTokens => Ok(json_reply(200, &json!({"input_tokens": COUNT_TOKENS}))),
        Route::OpenAiModels | Route::NotFound => Err("unreachable route".into()),
    }
}

// ---------------------------------------------------------------- echo

/// The text of the last message of a chat or Messages request (string or text parts).
fn echo_source(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match v.pointer("/messages").and_then(Value::as_array).and_then(|m| m.last()).and_then(|m| m.get("content")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    }
}

/// `text` as the inside of a JSON string.
fn json_inner(text: &str) -> String {
    let s = Value::String(text.to_string()).to_string();
    s[1..s.len() - 1].to_string()
}

/// `text` in `step`-byte pieces, each cut forward to a char boundary.
fn pieces(text: &str, step: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + step).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// Replaces the deterministic reply text by `text`: in a unary body as is, in a stream as
/// `step`-byte deltas (cut on char boundaries) in place of the fixture's text events.
fn echo(reply: Reply, text: &str, step: usize) -> Reply {
    let body = match reply.body {
        Body::Full(bytes) => {
            let s = String::from_utf8_lossy(&bytes).replace(ASSISTANT_TEXT, &json_inner(text));
            Body::Full(s.into_bytes())
        }
        Body::Stream(events) => {
            let pieces = pieces(text, step);
            let mut out = Vec::new();
            let mut done = false;
            for e in events {
                let s = String::from_utf8_lossy(&e).to_string();
                let Some(piece) = STREAM_TEXT_PIECES.iter().find(|p| ["content", "text", "delta"].iter().any(|k| s.contains(&format!("\"{k}\":\"{p}\"")))) else {
                    // Events that repeat the whole text (Responses' `….done`, `response.completed`).
                    out.push(s.replace(ASSISTANT_TEXT, &json_inner(text)).into_bytes());
                    continue;
                };
                if std::mem::replace(&mut done, true) {
                    continue;
                }
                for p in &pieces {
                    let replaced = ["content", "text", "delta"].iter().fold(s.clone(), |s, k| s.replace(&format!("\"{k}\":\"{piece}\""), &format!("\"{k}\":\"{}\"", json_inner(p))));
                    out.push(replaced.into_bytes());
                }
            }
            Body::Stream(out)
        }
    };
    Reply { body, ..reply }
}

/// A stream holding one call of the tool `echo`, its arguments `{"text": text}` sent in
/// `step`-byte pieces (cut forward to char boundaries).
fn echo_tool(anthropic: bool, text: &str, step: usize, reply: Reply) -> Reply {
    let args = json!({"text": text}).to_string();
    let pieces = pieces(&args, step);
    let mut events: Vec<String> = Vec::new();
    if anthropic {
        let ev = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n");
        events.push(ev("message_start", json!({"type": "message_start", "message": {"id": "msg_mock_tool", "type": "message", "role": "assistant", "model": "mock", "content": [], "stop_reason": null, "usage": {"input_tokens": 5, "output_tokens": 1}}})));
        events.push(ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_mock", "name": "echo", "input": {}}})));
        for p in &pieces {
            events.push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": p}})));
        }
        events.push(ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
        events.push(ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}})));
        events.push(ev("message_stop", json!({"type": "message_stop"})));
    } else {
        let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-mock-tool", "object": "chat.completion.chunk", "created": 1, "model": "mock", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        let call = json!({"index": 0, "id": "call_mock", "type": "function", "function": {"name": "echo", "arguments": ""}});
        events.push(format!("data: {}\n\n", chunk(json!({"role": "assistant", "content": null, "tool_calls": [call]}), Value::Null)));
        for p in &pieces {
            events.push(format!("data: {}\n\n", chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}), Value::Null)));
        }
        events.push(format!("data: {}\n\n", chunk(json!({}), json!("tool_calls"))));
        let usage = json!({"id": "chatcmpl-mock-tool", "object": "chat.completion.chunk", "created": 1, "model": "mock", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}});
        events.push(format!("data: {usage}\n\n"));
        events.push("data: [DONE]\n\n".to_string());
    }
    Reply { body: Body::Stream(events.into_iter().map(String::into_bytes).collect()), ..reply }
}

// ---------------------------------------------------------------- agents and schemas

/// The JSON Schema a request asks its answer to follow, in any dialect.
fn structured_schema(req: &Value) -> Option<Value> {
    [
        "/response_format/json_schema/schema",
        "/text/format/schema",
        "/output_config/format/schema",
        "/output_format/schema",
        "/generationConfig/responseJsonSchema",
        "/generationConfig/responseSchema",
    ]
    .iter()
    .find_map(|p| req.pointer(p))
    .cloned()
}

/// A value that follows `schema`: each property (required or not) by its type, the first
/// `enum` value where there is one.
pub fn schema_example(schema: &Value) -> Value {
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        Some(Value::String(t)) => t.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind.to_ascii_lowercase().as_str() {
        "object" => {
            let props = schema.get("properties").and_then(Value::as_object);
            Value::Object(props.into_iter().flatten().map(|(k, v)| (k.clone(), schema_example(v))).collect())
        }
        "array" => json!([schema.get("items").map(schema_example).unwrap_or(json!("mock"))]),
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!("mock"),
    }
}

/// The `thoughtSignature` the mock's Gemini `tool-caller` puts on the calls it makes.
pub const MOCK_THOUGHT_SIGNATURE: &str = "bW9jay1zaWduYXR1cmUtMQ==";

/// As Gemini 3 does (https://ai.google.dev/gemini-api/docs/thought-signatures), for a Gemini
/// model named `gemini-3…` or `…tool-caller…`: a history whose model turn has a function call
/// without a signature on its first call is refused (400 `INVALID_ARGUMENT`), as is a signature
/// the mock never gave; Google's placeholder `skip_thought_signature_validator` passes.
fn unsigned_gemini_call(route: &Route, body: &[u8]) -> Option<String> {
    let (Route::GeminiGenerate(model) | Route::GeminiStream(model)) = route else { return None };
    if !(model.starts_with("gemini-3") || model.contains("tool-caller")) {
        return None;
    }
    let req: Value = serde_json::from_slice(body).ok()?;
    for (i, turn) in req.get("contents")?.as_array()?.iter().enumerate().filter(|(_, t)| t["role"] == "model") {
        let Some(first) = turn["parts"].as_array().into_iter().flatten().find(|p| p.get("functionCall").is_some()) else { continue };
        match first.get("thoughtSignature").and_then(Value::as_str) {
            Some(MOCK_THOUGHT_SIGNATURE | "skip_thought_signature_validator") => {}
            Some(_) => return Some(format!("Corrupted thought signature in contents[{i}].")),
            None => return Some(format!("Function call is missing a thought_signature in functionCall parts (contents[{i}]).")),
        }
    }
    None
}

/// For a `tool-caller` model offered tools, whose last turn is not a tool result: the first
/// tool's name and arguments.
fn tool_to_call(route: &Route, req: &Value) -> Option<(String, Value)> {
    if !req.get("model").and_then(Value::as_str).unwrap_or_default().contains("tool-caller") && !matches!(route, Route::GeminiGenerate(m) | Route::GeminiStream(m) if m.contains("tool-caller")) {
        return None;
    }
    let last = |k: &str| req.get(k).and_then(Value::as_array).and_then(|a| a.last()).cloned().unwrap_or(Value::Null);
    let (tool, answered) = match route {
        Route::OpenAiChat => (req.pointer("/tools/0/function").cloned(), last("messages")["role"] == "tool"),
        Route::AnthropicMessages => {
            let turn = last("messages");
            let blocks = turn["content"].as_array().cloned().unwrap_or_default();
            (req.pointer("/tools/0").cloned(), blocks.iter().any(|b| b["type"] == "tool_result"))
        }
        Route::GeminiGenerate(_) | Route::GeminiStream(_) => {
            let parts = last("contents")["parts"].as_array().cloned().unwrap_or_default();
            (req.pointer("/tools/0/functionDeclarations/0").cloned(), parts.iter().any(|p| p.get("functionResponse").is_some()))
        }
        Route::OpenAiResponses => (req.pointer("/tools/0").cloned(), last("input")["type"] == "function_call_output"),
        _ => return None,
    };
    let tool = tool.filter(|_| !answered)?;
    let name = tool.get("name").and_then(Value::as_str)?.to_string();
    let schema = ["parameters", "input_schema", "parametersJsonSchema"].iter().find_map(|k| tool.get(*k)).cloned().unwrap_or(json!({"type": "object"}));
    Some((name, schema_example(&schema)))
}

/// Numbers the Gemini tool replies' `responseId`s, as Google's differ from answer to answer.
static TOOL_REPLIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// One call of tool `name` with `args`, in the route's dialect, unary or streamed.
fn tool_reply(route: &Route, streaming: bool, name: &str, args: &Value, reply: Reply) -> Reply {
    let args_text = args.to_string();
    let (input, output) = (OPENAI_PROMPT_TOKENS, 9);
    let ev = |kind: &str, v: Value| format!("event: {kind}\ndata: {v}\n\n");
    let body = match route {
        Route::OpenAiChat => {
            let call = json!({"id": "call_mock_1", "type": "function", "function": {"name": name, "arguments": args_text}});
            if !streaming {
                return json_reply(200, &json!({"id": "chatcmpl-mock-tool", "object": "chat.completion", "created": 1, "model": "mock",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [call]}, "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}}));
            }
            let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-mock-tool", "object": "chat.completion.chunk", "created": 1, "model": "mock", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
            let mut first = call.clone();
            first["index"] = json!(0);
            first["function"]["arguments"] = json!("");
            vec![
                format!("data: {}\n\n", chunk(json!({"role": "assistant", "content": null, "tool_calls": [first]}), Value::Null)),
                format!("data: {}\n\n", chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": args_text}}]}), Value::Null)),
                format!("data: {}\n\n", chunk(json!({}), json!("tool_calls"))),
                format!("data: {}\n\n", json!({"id": "chatcmpl-mock-tool", "object": "chat.completion.chunk", "created": 1, "model": "mock", "choices": [], "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}})),
                "data: [DONE]\n\n".to_string(),
            ]
        }
        Route::AnthropicMessages => {
            let block = json!({"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": args});
            if !streaming {
                return json_reply(200, &json!({"id": "msg_mock_tool", "type": "message", "role": "assistant", "model": "mock", "content": [block],
                    "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": input, "output_tokens": output}}));
            }
            vec![
                ev("message_start", json!({"type": "message_start", "message": {"id": "msg_mock_tool", "type": "message", "role": "assistant", "model": "mock", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": input, "output_tokens": 1}}})),
                ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": {}}})),
                ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": args_text}})),
                ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
                ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": output}})),
                ev("message_stop", json!({"type": "message_stop"})),
            ]
        }
        Route::GeminiGenerate(_) | Route::GeminiStream(_) => {
            let v = json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": args}, "thoughtSignature": MOCK_THOUGHT_SIGNATURE}]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": input, "candidatesTokenCount": output, "totalTokenCount": input + output}, "modelVersion": "mock", "responseId": format!("mock-tool-{}", TOOL_REPLIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed))});
            if matches!(route, Route::GeminiGenerate(_)) {
                return json_reply(200, &v);
            }
            vec![format!("data: {v}\r\n\r\n")]
        }
        Route::OpenAiResponses => {
            let item = json!({"type": "function_call", "id": "fc_mock_1", "call_id": "call_mock_1", "name": name, "arguments": args_text, "status": "completed"});
            let mut resp: Value = serde_json::from_str(OPENAI_RESPONSES).unwrap_or(Value::Null);
            resp["output"] = json!([item]);
            resp["usage"] = json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": input + output});
            if !streaming {
                return json_reply(200, &resp);
            }
            let mut added = item.clone();
            added["arguments"] = json!("");
            added["status"] = json!("in_progress");
            let mut created = resp.clone();
            created["status"] = json!("in_progress");
            created["output"] = json!([]);
            created["usage"] = Value::Null;
            vec![
                ev("response.created", json!({"type": "response.created", "sequence_number": 0, "response": created})),
                ev("response.output_item.added", json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": added})),
                ev("response.function_call_arguments.delta", json!({"type": "response.function_call_arguments.delta", "sequence_number": 2, "item_id": "fc_mock_1", "output_index": 0, "delta": args_text})),
                ev("response.function_call_arguments.done", json!({"type": "response.function_call_arguments.done", "sequence_number": 3, "item_id": "fc_mock_1", "output_index": 0, "name": name, "arguments": args_text})),
                ev("response.output_item.done", json!({"type": "response.output_item.done", "sequence_number": 4, "output_index": 0, "item": item})),
                ev("response.completed", json!({"type": "response.completed", "sequence_number": 5, "response": resp})),
            ]
        }
        _ => return reply,
    };
    let content_type = if matches!(route, Route::GeminiStream(_)) { "text/event-stream" } else { "text/event-stream; charset=utf-8" };
    stream_reply(content_type, body)
}
