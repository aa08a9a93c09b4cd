//! Native cost of one whole request through `HttpFilter` (the `make bench` request: a ~1 KB
//! OpenAI chat, routed, keyed, metered on a JSON answer), and what it asks of the host.
//! `make bench-request` runs it (`ARGS=bench/other-config.json` for another config). The
//! in-Envoy figure is `make bench`; this isolates the filter's own logic from the host calls.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;
use tollgate::filter::HttpFilter;
use tollgate::host::sim::SimHost;
use tollgate::host::Host;
use tollgate::limits::StoreError;
use tollgate::metrics::Metric;

const RUNS: usize = 15;
const PER_RUN: usize = 2000;

/// Counts what the filter asks of the host, by kind, and passes it on.
struct Counting {
    inner: SimHost,
    calls: BTreeMap<&'static str, usize>,
}

impl Counting {
    fn note(&mut self, what: &'static str) {
        *self.calls.entry(what).or_default() += 1;
    }
}

impl Host for Counting {
    fn request_header(&mut self, name: &str) -> Option<String> {
        self.note("request_header (read)");
        self.inner.request_header(name)
    }
    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        self.note("request_header (write)");
        self.inner.set_request_header(name, value)
    }
    fn request_body(&self, size: usize) -> Option<Vec<u8>> {
        self.inner.request_body(size)
    }
    fn replace_request_body(&mut self, size: usize, body: &[u8]) {
        self.note("request_body (write)");
        self.inner.replace_request_body(size, body)
    }
    fn response_header(&mut self, name: &str) -> Option<String> {
        self.note("response_header (read)");
        self.inner.response_header(name)
    }
    fn response_body(&self, size: usize) -> Option<Vec<u8>> {
        self.inner.response_body(size)
    }
    fn replace_response_body(&mut self, size: usize, body: &[u8]) {
        self.note("response_body (write)");
        self.inner.replace_response_body(size, body)
    }
    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        self.note("response_header (write)");
        self.inner.set_response_header(name, value)
    }
    fn send_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        self.note("send_reply");
        self.inner.send_reply(status, headers, body)
    }
    fn now_nanos(&self) -> u64 {
        self.inner.now_nanos()
    }
    fn set_filter_state(&mut self, name: &str, value: &str) {
        self.note("set_filter_state");
        self.inner.set_filter_state(name, value)
    }
    fn emit(&mut self, metric: &Metric) {
        self.note("emit");
        self.inner.emit(metric)
    }
    fn property_strings(&self, path: &[&str]) -> Vec<String> {
        self.inner.property_strings(path)
    }
    fn shared_get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), StoreError> {
        self.inner.shared_get(key)
    }
    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), StoreError> {
        self.note("shared_set");
        self.inner.shared_set(key, value, cas)
    }
}

fn main() -> Result<(), String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |p: &str| std::fs::read(format!("{root}/{p}")).map_err(|e| format!("{p}: {e}"));
    let config_path = std::env::args().nth(1).unwrap_or_else(|| "bench/tollgate-config.json".into());
    let config = Rc::new(tollgate::config::parse(&read(&config_path)?, &|_| None).map_err(|e| e.to_string())?);
    let request = read("bench/fixtures/chat_request.json")?;
    let response = read("bench/fixtures/chat_response.json")?;
    let once = || {
        let inner = SimHost::request("POST", "/v1/chat/completions", &[("authorization", "Bearer tg-bench-key"), ("content-type", "application/json"), ("content-length", "974")], &request, 1_800_000_000_000_000_000);
        let mut h = Counting { inner, calls: BTreeMap::new() };
        let mut f = HttpFilter::new(Some(config.clone()), 2, 0);
        f.on_request_headers(&mut h, false);
        f.on_request_body(&mut h, request.len(), true);
        if let Some(r) = &h.inner.reply {
            eprintln!("refused: {} {}", r.status, String::from_utf8_lossy(&r.body));
        }
        h.inner.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
        f.on_response_headers(&mut h);
        h.inner.response_body = response.clone();
        f.on_response_body(&mut h, response.len(), true);
        f.on_log(&mut h);
        h.calls
    };
    let calls = once();
    let mut samples: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..PER_RUN {
                std::hint::black_box(once());
            }
            t.elapsed().as_nanos() as f64 / PER_RUN as f64 / 1000.0
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    println!("{config_path}: whole request, native: {:.1} µs (median of {RUNS} × {PER_RUN})", samples[RUNS / 2]);
    for (what, n) in calls {
        println!("  {n:>3} × {what}");
    }
    Ok(())
}
