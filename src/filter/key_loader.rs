//! Loads a key source into the shared index, from a root context's tick, over the `Host` trait.
//!
//! One VM of the process loads; the others only read. The loader is elected with a lease in
//! shared data (`<prefix>.lease`: owner and expiry), claimed with the store's CAS and confirmed on
//! a later tick, so two VMs that both found it free at start-up cannot both go on. The leader
//! fetches the file in `Range` requests of `chunk_bytes` (a server that ignores `Range` sends it
//! whole, which is read in slices all the same), parses each piece as it comes, appends the
//! records to the buckets of the slot not in use, and then points the index at that slot. A
//! reload is a conditional GET (`If-None-Match`): an unchanged file costs one request. Later
//! ranges carry `If-Match`, so a file replaced during a load restarts it rather than mixing
//! two versions. Until the first load completes, requests with keys the config does not list
//! get a 503 (`keys_unavailable`); after that, a failed reload keeps the index as it was.

use crate::host::Host;
use crate::keys::index::{bucket_key, buckets_for, records, Pointer};
use crate::keys::source::{KeySource, Lines};
use crate::metrics::{Kind, Metric};

/// Bytes of an answer handed to the parser at a time.
const SLICE: usize = 64 << 10;
/// How long a claimed lease waits to be confirmed (a tick or two).
const CONFIRM_MS: u64 = 150;
/// Average bytes per line assumed when sizing the index from the file's length.
const BYTES_PER_LINE: u64 = 90;

/// An answer from the source, as the host hands it over.
pub struct Answer<'a> {
    pub status: Option<u16>,
    pub header: &'a dyn Fn(&str) -> Option<String>,
    pub body_size: usize,
    /// `body(start, len)`: a slice of the answer's body.
    pub body: &'a dyn Fn(usize, usize) -> Option<Vec<u8>>,
}

/// One VM's side of a key source.
#[derive(Debug)]
pub struct KeyLoader {
    src: KeySource,
    owner: String,
    state: State,
    next_check_ms: u64,
}

#[derive(Debug)]
enum State {
    Idle,
    Claimed { at_ms: u64 },
    Loading(Box<Job>),
}

#[derive(Debug)]
struct Job {
    token: u32,
    started_ms: u64,
    last_ms: u64,
    prev: Option<Pointer>,
    slot: u8,
    /// Set by the first answer.
    lines: Option<Lines>,
    buckets: u32,
    offset: u64,
    total: u64,
    etag: String,
}

impl KeyLoader {
    /// `owner` tells this VM from the others of the process (a random value).
    pub fn new(src: KeySource, owner: u64) -> KeyLoader {
        KeyLoader { src, owner: format!("{owner:016x}"), state: State::Idle, next_check_ms: 0 }
    }

    pub fn source(&self) -> &KeySource {
        &self.src
    }

    /// Whether `token` is this loader's pending request.
    pub fn owns(&self, token: u32) -> bool {
        matches!(&self.state, State::Loading(j) if j.token == token)
    }

    /// Called on every tick: starts a load when the index is missing or due for a check.
    pub fn tick(&mut self, host: &mut dyn Host) {
        let now = host.now_nanos() / 1_000_000;
        match &self.state {
            State::Loading(job) => {
                if now > job.last_ms + self.src.timeout_ms + 5_000 {
                    log::warn!("tollgate: auth source `{}`: no answer; the load starts over", self.src.cluster);
                    self.release(host, now + 1_000);
                }
            }
            State::Claimed { at_ms } => {
                if now >= at_ms + CONFIRM_MS {
                    if self.lease(host).0.as_deref() == Some(self.owner.as_str()) {
                        self.start(host, now);
                    } else {
                        self.state = State::Idle;
                    }
                }
            }
            State::Idle => {
                if now < self.next_check_ms {
                    return;
                }
                self.next_check_ms = now + 1_000;
                let due = self.pointer(host).is_none_or(|p| u64::try_from(p.checked_at).unwrap_or(0) + self.src.refresh_s <= now / 1_000);
                if !due {
                    return;
                }
                let (holder, until, cas) = self.lease(host);
                if holder.is_some() && until > now {
                    return;
                }
                let lease = format!("{} {}", self.owner, now + CONFIRM_MS + self.src.timeout_ms + 10_000);
                if host.shared_set(&self.lease_key(), lease.as_bytes(), cas).is_ok() {
                    self.state = State::Claimed { at_ms: now };
                }
            }
        }
    }

    /// Takes the answer to this loader's request (`false`: not ours).
    pub fn answered(&mut self, host: &mut dyn Host, token: u32, a: &Answer<'_>) -> bool {
        if !self.owns(token) {
            return false;
        }
        let now = host.now_nanos() / 1_000_000;
        let State::Loading(mut job) = std::mem::replace(&mut self.state, State::Idle) else { return true };
        job.last_ms = now;
        match a.status {
            Some(304) if job.lines.is_none() => {
                if let Some(p) = &job.prev {
                    let p = Pointer { checked_at: secs(now), ..p.clone() };
                    let _ = host.shared_set(&self.src.prefix, p.encode().as_bytes(), 0);
                }
                self.release(host, now + 1_000);
            }
            Some(200 | 206) => self.take_range(host, job, a, now),
            Some(416) if job.lines.is_none() => {
                job.lines = Some(Lines::new(16, self.src.need_digests));
                job.buckets = 16;
                self.finish(host, job, now);
            }
            Some(412) => {
                log::info!("tollgate: auth source `{}`: the file changed during the load; starting over", self.src.cluster);
                self.release(host, now);
            }
            status => {
                let s = status.map_or_else(|| "no answer".to_string(), |s| format!("status {s}"));
                log::warn!("tollgate: auth source `{}` {}: {s}; the index stays as it was", self.src.cluster, self.src.path);
                host.emit(&Metric { kind: Kind::Counter, name: "tollgate.keys.source.failures".into(), value: 1 });
                self.release(host, now + 5_000);
            }
        }
        true
    }

    fn take_range(&mut self, host: &mut dyn Host, mut job: Box<Job>, a: &Answer<'_>, now: u64) {
        let ranged = a.status == Some(206);
        if job.lines.is_none() {
            job.total = if ranged { (a.header)("content-range").as_deref().and_then(range_total).unwrap_or(0) } else { a.body_size as u64 };
            job.buckets = buckets_for(job.total / BYTES_PER_LINE + 1);
            job.etag = (a.header)("etag").unwrap_or_default().replace(' ', "");
            job.lines = Some(Lines::new(job.buckets, self.src.need_digests));
            self.clear_slot(host, job.slot, job.buckets);
        } else if !ranged {
            log::warn!("tollgate: auth source `{}`: a range request got the whole file; starting over", self.src.cluster);
            return self.release(host, now);
        }
        let mut start = 0;
        while start < a.body_size {
            let len = SLICE.min(a.body_size - start);
            if let (Some(bytes), Some(lines)) = ((a.body)(start, len), job.lines.as_mut()) {
                lines.feed(&bytes);
            }
            self.flush(host, &mut job);
            start += len;
        }
        job.offset += a.body_size as u64;
        if ranged && a.body_size > 0 && job.offset < job.total {
            let if_match = job.etag.clone();
            let headers: Vec<(&str, &str)> = if if_match.is_empty() { vec![] } else { vec![("if-match", if_match.as_str())] };
            if self.request(host, &mut job, &headers) {
                self.renew(host, now);
                self.state = State::Loading(job);
            } else {
                self.release(host, now + 5_000);
            }
            return;
        }
        self.finish(host, job, now);
    }

    fn finish(&mut self, host: &mut dyn Host, mut job: Box<Job>, now: u64) {
        if let Some(l) = job.lines.as_mut() {
            l.finish();
        }
        self.flush(host, &mut job);
        let Some(lines) = job.lines.take() else { return self.release(host, now) };
        let p = Pointer {
            generation: job.prev.as_ref().map_or(1, |p| p.generation + 1),
            slot: job.slot,
            buckets: job.buckets,
            other_buckets: job.prev.as_ref().map_or(0, |p| p.buckets),
            keys: lines.keys,
            checked_at: secs(now),
            etag: job.etag.clone(),
        };
        let _ = host.shared_set(&self.src.prefix, p.encode().as_bytes(), 0);
        log::info!(
            "tollgate: auth source `{}` {}: {} entries loaded in {} ms ({} lines refused{}{})",
            self.src.cluster,
            self.src.path,
            lines.keys,
            now.saturating_sub(job.started_ms),
            lines.refused,
            if lines.refused > 0 { "; first: " } else { "" },
            lines.first_refusal.as_deref().unwrap_or("")
        );
        host.emit(&Metric { kind: Kind::Gauge, name: "tollgate.keys.source.keys".into(), value: lines.keys });
        host.emit(&Metric { kind: Kind::Gauge, name: "tollgate.keys.source.refused".into(), value: lines.refused });
        host.emit(&Metric { kind: Kind::Counter, name: "tollgate.keys.source.loads".into(), value: 1 });
        self.release(host, now + 1_000);
    }

    fn start(&mut self, host: &mut dyn Host, now: u64) {
        let prev = self.pointer(host);
        let slot = prev.as_ref().map_or(0, |p| 1 - p.slot);
        let mut job = Box::new(Job { token: 0, started_ms: now, last_ms: now, prev, slot, lines: None, buckets: 0, offset: 0, total: 0, etag: String::new() });
        let etag = job.prev.as_ref().map(|p| p.etag.clone()).unwrap_or_default();
        let headers: Vec<(&str, &str)> = if etag.is_empty() { vec![] } else { vec![("if-none-match", etag.as_str())] };
        if self.request(host, &mut job, &headers) {
            self.state = State::Loading(job);
        } else {
            self.release(host, now + 5_000);
        }
    }

    /// Asks for the next range; `false` when the host could not send it.
    fn request(&self, host: &mut dyn Host, job: &mut Job, extra: &[(&str, &str)]) -> bool {
        let range = format!("bytes={}-{}", job.offset, job.offset + self.src.chunk_bytes - 1);
        let mut headers = vec![("range", range.as_str())];
        headers.extend_from_slice(extra);
        match host.http_get(&self.src.cluster, &self.src.authority, &self.src.path, &headers, self.src.timeout_ms) {
            Some(t) => {
                job.token = t;
                true
            }
            None => {
                log::warn!("tollgate: auth source: cluster `{}` could not be called", self.src.cluster);
                false
            }
        }
    }

    /// Appends the parsed records to their buckets (this VM holds the lease: no other writer).
    fn flush(&self, host: &mut dyn Host, job: &mut Job) {
        let Some(lines) = job.lines.as_mut() else { return };
        for (b, recs) in lines.take() {
            let key = bucket_key(&self.src.prefix, job.slot, b);
            let mut bucket = host.shared_get(&key).ok().and_then(|(v, _)| v).unwrap_or_default();
            let before = bucket.len();
            for (digest, _, whole) in records(&recs) {
                if records(&bucket[..before]).any(|(d, _, _)| d == digest) {
                    lines.duplicate_loaded();
                    continue;
                }
                bucket.extend_from_slice(whole);
            }
            let _ = host.shared_set(&key, &bucket, 0);
        }
    }

    /// Empties the slot's buckets a previous load may have filled.
    fn clear_slot(&self, host: &mut dyn Host, slot: u8, buckets: u32) {
        let extent_key = format!("{}.extent.{slot}", self.src.prefix);
        let extent = host.shared_get(&extent_key).ok().and_then(|(v, _)| v).and_then(|v| String::from_utf8(v).ok()?.parse::<u32>().ok()).unwrap_or(0);
        for b in 0..extent {
            let _ = host.shared_set(&bucket_key(&self.src.prefix, slot, b), b"", 0);
        }
        let _ = host.shared_set(&extent_key, buckets.max(extent).to_string().as_bytes(), 0);
    }

    fn pointer(&self, host: &dyn Host) -> Option<Pointer> {
        host.shared_get(&self.src.prefix).ok().and_then(|(v, _)| v).as_deref().and_then(Pointer::decode)
    }

    fn lease_key(&self) -> String {
        format!("{}.lease", self.src.prefix)
    }

    /// The lease's holder, its expiry (ms) and the cas to replace it with.
    fn lease(&self, host: &dyn Host) -> (Option<String>, u64, u32) {
        let Ok((value, cas)) = host.shared_get(&self.lease_key()) else { return (None, u64::MAX, 0) };
        let text = value.and_then(|v| String::from_utf8(v).ok()).unwrap_or_default();
        let (holder, until) = text.split_once(' ').unwrap_or(("", "0"));
        ((!holder.is_empty()).then(|| holder.to_string()), until.parse().unwrap_or(0), cas.unwrap_or(0))
    }

    fn renew(&self, host: &mut dyn Host, now: u64) {
        let lease = format!("{} {}", self.owner, now + self.src.timeout_ms + 10_000);
        let _ = host.shared_set(&self.lease_key(), lease.as_bytes(), 0);
    }

    /// Gives the lease up (after a load, a 304, or a failure) and waits until `next_check_ms`.
    fn release(&mut self, host: &mut dyn Host, next_check_ms: u64) {
        let _ = host.shared_set(&self.lease_key(), b"", 0);
        self.state = State::Idle;
        self.next_check_ms = next_check_ms;
    }
}

fn secs(ms: u64) -> i64 {
    i64::try_from(ms / 1_000).unwrap_or(i64::MAX)
}

/// The total of a `Content-Range: bytes a-b/total` header.
fn range_total(v: &str) -> Option<u64> {
    v.rsplit_once('/')?.1.trim().parse().ok()
}

#[cfg(test)]
#[path = "key_loader_tests.rs"]
mod tests;
