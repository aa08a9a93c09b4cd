//! A stand-in for the GCE/GKE metadata server's token endpoint, following Google's documented
//! behaviour (the "Access tokens" and "About VM metadata" pages of the Compute Engine docs):
//! - `GET /computeMetadata/v1/instance/service-accounts/default/token` answers
//!   `{"access_token", "expires_in", "token_type": "Bearer"}` as `application/json`, with the
//!   response header `Metadata-Flavor: Google`;
//! - a request without the header `Metadata-Flavor: Google`, or with an `X-Forwarded-For`
//!   header, is refused with 403;
//! - any other path is 404.
//!
//! Tokens are `ya29.mock-<n>` (n counts from 1); `expires_in` is settable, so tests can make a
//! token expire within seconds.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

/// The token path.
pub const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

#[derive(Default)]
struct State {
    issued: AtomicU64,
    refused: AtomicU64,
    expires_in: AtomicU64,
    stop: AtomicBool,
}

/// A running fake metadata server on 127.0.0.1.
pub struct Metadata {
    pub port: u16,
    state: Arc<State>,
}

impl Metadata {
    pub fn start(expires_in: u64) -> Metadata {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State { expires_in: AtomicU64::new(expires_in), ..State::default() });
        let s = Arc::clone(&state);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(c) = conn {
                    let s = Arc::clone(&s);
                    thread::spawn(move || serve(c, &s));
                }
            }
        });
        Metadata { port, state }
    }

    /// Tokens handed out so far.
    pub fn issued(&self) -> u64 {
        self.state.issued.load(Ordering::SeqCst)
    }

    /// Requests refused (no `Metadata-Flavor: Google`, or `X-Forwarded-For`).
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::SeqCst)
    }

    /// The lifetime of the tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.state.expires_in.store(secs, Ordering::SeqCst);
    }
}

impl Drop for Metadata {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, s: &State) {
    let mut r = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut w = conn;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let has = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (status, body) = if path.split('?').next() != Some(TOKEN_PATH) || method != "GET" {
            ("404 Not Found", "Not Found".to_string())
        } else if has("metadata-flavor") != Some("Google") || has("x-forwarded-for").is_some() {
            s.refused.fetch_add(1, Ordering::SeqCst);
            ("403 Forbidden", "Missing Metadata-Flavor:Google header.".to_string())
        } else {
            let n = s.issued.fetch_add(1, Ordering::SeqCst) + 1;
            let expires_in = s.expires_in.load(Ordering::SeqCst);
            ("200 OK", format!(r#"{{"access_token":"ya29.mock-{n}","expires_in":{expires_in},"token_type":"Bearer"}}"#))
        };
        let out = format!("HTTP/1.1 {status}\r\nmetadata-flavor: Google\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        if w.write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}
