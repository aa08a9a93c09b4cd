//! A std-only HTTP/1.1 server on loopback that serves one file at one path (404 elsewhere) and
//! counts the requests: the "remote" for Envoy's `vm_config.code.remote`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct FileServer {
    pub port: u16,
    hits: Arc<AtomicUsize>,
}

impl FileServer {
    /// Serves `body` at `path` until the test process ends (the thread is detached).
    pub fn start(path: &str, body: Vec<u8>) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let (path, counter) = (path.to_string(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let found = request_line.split_whitespace().nth(1) == Some(path.as_str());
                let (status, payload): (&str, &[u8]) = if found { ("200 OK", &body) } else { ("404 Not Found", b"") };
                let mut s = reader.into_inner();
                let head = format!("HTTP/1.1 {status}\r\ncontent-type: application/wasm\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", payload.len());
                let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(payload));
            }
        });
        FileServer { port, hits }
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
