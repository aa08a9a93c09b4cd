//! Compiled only in tests: `key_loader.rs` includes this file under `#[cfg(test)]`.
//! Tests of the key loader: a file served in ranges, as nginx serves a static file
//! (RFC 9110: `206` with `Content-Range`, `304` for a matching `If-None-Match`, `412` for a
//! failed `If-Match`), several VMs sharing one store, and the index the requests then read.

use super::*;
use crate::host::fake::FakeHost;
use crate::keys::index::{lookup, Lookup};
use crate::keys::Digest;

/// A file server following RFC 9110's range and conditional rules for one file and its ETag.
struct Server {
    file: Vec<u8>,
    etag: String,
    ignore_range: bool,
}

impl Server {
    fn new(n: usize) -> Server {
        Server { file: file(n, ""), etag: "\"v1\"".into(), ignore_range: false }
    }

    /// Answers the host's last GET.
    fn answer(&self, host: &FakeHost) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let req = host.get_headers.last().cloned().unwrap_or_default();
        let h = |n: &str| req.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        if h("if-match").is_some_and(|m| m != self.etag) {
            return (412, vec![], vec![]);
        }
        if h("if-none-match").is_some_and(|m| m == self.etag) {
            return (304, vec![("etag".into(), self.etag.clone())], vec![]);
        }
        let etag = ("etag".to_string(), self.etag.clone());
        let Some(range) = h("range").filter(|_| !self.ignore_range) else { return (200, vec![etag], self.file.clone()) };
        let (a, b) = range.trim_start_matches("bytes=").split_once('-').unwrap();
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        if a >= self.file.len() {
            return (416, vec![("content-range".into(), format!("bytes */{}", self.file.len()))], vec![]);
        }
        let b = b.min(self.file.len() - 1);
        let cr = ("content-range".to_string(), format!("bytes {a}-{b}/{}", self.file.len()));
        (206, vec![etag, cr], self.file[a..=b].to_vec())
    }
}

fn file(n: usize, tag: &str) -> Vec<u8> {
    let mut f = String::new();
    for i in 0..n {
        f.push_str(&format!("{{\"id\":\"k{i}{tag}\",\"tenant\":\"t{}\",\"digests\":[\"{}\"]}}\n", i % 7, Digest::of(format!("sk-{i}{tag}").as_bytes())));
    }
    f.into_bytes()
}

fn source(chunk: u64) -> KeySource {
    KeySource::new("keys", "keys", "/keys.jsonl", 60, 1000, chunk, true)
}

fn at(host: &mut FakeHost, ms: u64) {
    host.now_nanos = 1_800_000_000_000_000_000 + ms * 1_000_000;
}

/// The token of the host's last GET (the fake host numbers them from 1001).
fn last_token(host: &FakeHost) -> u32 {
    u32::try_from(1000 + host.gets.len()).unwrap()
}

/// `server`'s answer to the host's last GET, handed to the loader.
fn answer_last(loader: &mut KeyLoader, host: &mut FakeHost, server: &Server) -> bool {
    let token = last_token(host);
    let (status, headers, body) = server.answer(host);
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let slice = |s: usize, l: usize| Some(body[s..s + l].to_vec());
    loader.answered(host, token, &Answer { status: Some(status), header: &header, body_size: body.len(), body: &slice })
}

/// Delivers answers from `server` until the loader has nothing pending.
fn serve(loader: &mut KeyLoader, host: &mut FakeHost, server: &Server) -> usize {
    let mut answers = 0;
    while loader.owns(last_token(host)) {
        assert!(answer_last(loader, host, server));
        answers += 1;
    }
    answers
}

fn find(host: &FakeHost, prefix: &str, secret: &str) -> Lookup {
    lookup(prefix, &Digest::of(secret.as_bytes()), (host.now_nanos / 1_000_000_000) as i64, &|k| host.shared_get(k).ok().and_then(|(v, _)| v))
}

/// Runs ticks for up to 2 s from `from_ms`; whether a load started.
fn start_load(loader: &mut KeyLoader, host: &mut FakeHost, from_ms: u64) -> bool {
    (from_ms..from_ms + 2_000).step_by(100).any(|ms| {
        at(host, ms);
        loader.tick(host);
        matches!(loader.state, State::Loading(_))
    })
}

/// Runs ticks until a load starts, serves it, and returns the answers it took.
fn load(loader: &mut KeyLoader, host: &mut FakeHost, server: &Server, from_ms: u64) -> usize {
    if start_load(loader, host, from_ms) {
        serve(loader, host, server)
    } else {
        0
    }
}

#[test]
fn loads_in_ranges_and_every_key_is_found() {
    let server = Server::new(3_000);
    let mut host = FakeHost::default();
    let mut l = KeyLoader::new(source(4096), 1);
    let prefix = l.source().prefix.clone();
    assert_eq!(find(&host, &prefix, "sk-1"), Lookup::NotLoaded);
    let answers = load(&mut l, &mut host, &server, 0);
    assert_eq!(answers, server.file.len().div_ceil(4096));
    for i in [0, 1, 1499, 2999] {
        assert!(matches!(find(&host, &prefix, &format!("sk-{i}")), Lookup::Found(p) if p.id == format!("k{i}") && p.tenant == Some(format!("t{}", i % 7))), "key {i}");
    }
    assert_eq!(find(&host, &prefix, "sk-3000"), Lookup::Absent);
    let p = Pointer::decode(&host.shared_get(&prefix).unwrap().0.unwrap()).unwrap();
    assert_eq!((p.keys, p.generation, p.slot, p.etag.as_str()), (3_000, 1, 0, "\"v1\""));
    assert!(host.metrics.iter().any(|m| m.name == "tollgate.keys.source.keys" && m.value == 3_000));
    // Every range asked for the size configured, from where the last one ended.
    assert_eq!(host.get_headers[1].iter().find(|(k, _)| k == "range").unwrap().1, "bytes=4096-8191");
}

#[test]
fn a_server_ignoring_range_still_loads() {
    let server = Server { ignore_range: true, ..Server::new(500) };
    let mut host = FakeHost::default();
    let mut l = KeyLoader::new(source(4096), 1);
    assert_eq!(load(&mut l, &mut host, &server, 0), 1);
    assert!(matches!(find(&host, &l.source().prefix.clone(), "sk-499"), Lookup::Found(_)));
}

#[test]
fn reloads_only_when_changed_into_the_other_slot() {
    let mut server = Server::new(200);
    let mut host = FakeHost::default();
    let mut l = KeyLoader::new(source(4096), 1);
    let prefix = l.source().prefix.clone();
    load(&mut l, &mut host, &server, 0);
    // Before refresh_s, no request; after it, one conditional request answered 304.
    assert_eq!(load(&mut l, &mut host, &server, 10_000), 0);
    let gets = host.gets.len();
    assert_eq!(load(&mut l, &mut host, &server, 61_000), 1);
    assert_eq!(host.get_headers[gets].iter().find(|(k, _)| k == "if-none-match").unwrap().1, "\"v1\"");
    // A new file (a key revoked, one added) loads into slot 1; the old key is gone.
    server.file = file(150, "");
    server.file.extend(file(1, "new"));
    server.etag = "\"v2\"".into();
    load(&mut l, &mut host, &server, 125_000);
    let p = Pointer::decode(&host.shared_get(&prefix).unwrap().0.unwrap()).unwrap();
    assert_eq!((p.generation, p.slot, p.keys), (2, 1, 151));
    assert!(matches!(find(&host, &prefix, "sk-0new"), Lookup::Found(_)));
    assert_eq!(find(&host, &prefix, "sk-199"), Lookup::Absent);
    // A third version reuses slot 0, emptied first: nothing of the first version survives.
    server.file = file(10, "third");
    server.etag = "\"v3\"".into();
    load(&mut l, &mut host, &server, 190_000);
    assert_eq!(find(&host, &prefix, "sk-5"), Lookup::Absent);
    assert!(matches!(find(&host, &prefix, "sk-5third"), Lookup::Found(_)));
}

#[test]
fn a_file_replaced_mid_load_starts_over_and_failures_keep_the_index() {
    let mut server = Server::new(400);
    let mut host = FakeHost::default();
    let mut l = KeyLoader::new(source(4096), 1);
    let prefix = l.source().prefix.clone();
    load(&mut l, &mut host, &server, 0);
    // The next version changes between the first and second range: 412, then a clean reload.
    server.file = file(400, "b");
    server.etag = "\"v2\"".into();
    assert!(start_load(&mut l, &mut host, 61_000));
    assert!(answer_last(&mut l, &mut host, &server));
    server.etag = "\"v3\"".into();
    serve(&mut l, &mut host, &server);
    assert!(matches!(l.state, State::Idle));
    assert!(matches!(find(&host, &prefix, "sk-3"), Lookup::Found(_)), "the old index still answers");
    server.file = file(400, "c");
    load(&mut l, &mut host, &server, 63_000);
    assert!(matches!(find(&host, &prefix, "sk-3c"), Lookup::Found(_)));
    // A source that fails (503) leaves the index as it was.
    let mut l2 = KeyLoader::new(source(4096), 2);
    let mut h2 = FakeHost::default();
    at(&mut h2, 0);
    l2.tick(&mut h2);
    at(&mut h2, 200);
    l2.tick(&mut h2);
    let token = last_token(&h2);
    let none = |_: &str| None;
    let empty = |_: usize, _: usize| None;
    assert!(l2.answered(&mut h2, token, &Answer { status: Some(503), header: &none, body_size: 0, body: &empty }));
    assert_eq!(find(&h2, &prefix, "sk-1"), Lookup::NotLoaded);
    assert!(h2.metrics.iter().any(|m| m.name == "tollgate.keys.source.failures"));
}

#[test]
fn one_vm_of_several_loads() {
    let server = Server::new(100);
    let mut host = FakeHost::default();
    let mut vms: Vec<KeyLoader> = (1..=4).map(|i| KeyLoader::new(source(4096), i)).collect();
    // All four find the index missing at the same instant and race for the lease.
    for ms in (0..1_000).step_by(100) {
        at(&mut host, ms);
        for vm in vms.iter_mut() {
            vm.tick(&mut host);
        }
    }
    let loading: Vec<usize> = (0..4).filter(|i| matches!(vms[*i].state, State::Loading(_))).collect();
    assert_eq!(loading.len(), 1, "exactly one VM loads");
    serve(&mut vms[loading[0]], &mut host, &server);
    assert_eq!(host.gets.len(), server.file.len().div_ceil(4096), "one VM's ranges only");
    assert!(matches!(find(&host, &vms[0].source().prefix.clone(), "sk-42"), Lookup::Found(_)));
}

