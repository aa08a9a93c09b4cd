//! The benchmark "floor": the cheapest possible proxy-wasm HTTP filter that
//! still does what any body-inspecting gateway must do — buffer the whole
//! request body and copy it into the wasm VM. Nothing else: no parsing, no
//! header changes, no logging. Comparing tollgate against this isolates the
//! cost of tollgate's own logic from the fixed cost of the wasm runtime and
//! body buffering.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FloorRoot { hold: false, route: false, calls: false, calls_map: false, translate: false, translate_min: false, probe: Probe::default() }) });
}}

/// With the plugin configuration `"hold"` (a JSON string), the floor also holds the request headers until the body
/// is read, as tollgate must (`allow_on_headers_stop_iteration`); this isolates that cost.
///
/// With `"route"`, it makes the host calls that any gateway routing on the body's `model` with
/// a client key cannot avoid, and no logic at all: hold the request headers (untouched) until
/// the body is complete, read the body, read the key header, remove it, set the cluster header.
/// This is the floor of body-based routing inside proxy-wasm.
///
/// With `"calls"`, it makes exactly the host calls of tollgate's routing path for the bench
/// request, in the same phases, and no logic: read `:method`, `:path` and the three key headers,
/// remove `authorization` and hold; then read the body and set the cluster header and
/// `:authority`. The gap between this and tollgate is tollgate's own work.
///
/// With `"translate"`, it makes the host calls of a request translated into another provider's
/// dialect and its JSON answer translated back, and no logic: hold the request headers (one
/// whole-map read, `authorization` removed); read the body, set the cluster, `:path`,
/// `:authority`, credential, `anthropic-version` and `content-length` headers and write the body
/// back; drop the answer's `content-length`, hold the answer to its end, read it and write it
/// back. The bytes written are the ones read, so any upstream answers as it would to the floor.
/// This is the floor of body translation inside proxy-wasm.
///
/// `"translate min"` leaves out the two writes an Envoy route could make instead (`:authority`
/// by `auto_host_rewrite`, `anthropic-version` by `request_headers_to_add`): the least any
/// translating filter must do.
struct FloorRoot {
    hold: bool,
    route: bool,
    calls: bool,
    /// `"calls map"`: one whole-map read in place of the five header reads.
    calls_map: bool,
    translate: bool,
    translate_min: bool,
    probe: Probe,
}

/// With the configuration `"probe hold get=N set=N prop=N stat=N"`, the floor also makes that many
/// host calls per request after reading the body (header reads, header writes, filter-state
/// writes, counter increments), to measure what each kind of host call costs. `rget`/`rset`:
/// response header reads and writes; `shared`: shared-data read-then-write pairs; `resp=1`: hold
/// and read the response body.
#[derive(Clone, Copy, Default)]
struct Probe {
    get: u32,
    set: u32,
    prop: u32,
    stat: u32,
    metric: u32,
    /// Whole-map header reads and writes (`get_map`/`set_map`), histogram records, clock reads.
    getmap: u32,
    setmap: u32,
    hist: u32,
    hist_metric: u32,
    time: u32,
    /// Hold the response body to its end and read it, as JSON accounting does.
    resp: bool,
    /// Response header reads and writes (in the response-headers phase).
    rget: u32,
    rset: u32,
    /// Shared-data reads followed by a write of the same key (a limit counter's CAS update).
    shared: u32,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, size: usize) -> bool {
        if let Ok(Some(c)) = proxy_wasm::hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size) {
            let text = String::from_utf8_lossy(c.trim_ascii()).trim_matches('"').to_string();
            self.hold = text.split_whitespace().any(|t| t == "hold");
            self.route = text.split_whitespace().any(|t| t == "route");
            self.calls = text.split_whitespace().any(|t| t == "calls");
            self.calls_map = self.calls && text.split_whitespace().any(|t| t == "map");
            self.translate = text.split_whitespace().any(|t| t == "translate");
            self.translate_min = self.translate && text.split_whitespace().any(|t| t == "min");
            if let Some(rest) = text.strip_prefix("probe") {
                for kv in rest.split_whitespace().filter(|t| t.contains('=')) {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, "0"));
                    let n = v.parse().unwrap_or(0);
                    match k {
                        "get" => self.probe.get = n,
                        "set" => self.probe.set = n,
                        "prop" => self.probe.prop = n,
                        "stat" => self.probe.stat = n,
                        "getmap" => self.probe.getmap = n,
                        "setmap" => self.probe.setmap = n,
                        "hist" => self.probe.hist = n,
                        "time" => self.probe.time = n,
                        "resp" => self.probe.resp = n > 0,
                        "rget" => self.probe.rget = n,
                        "rset" => self.probe.rset = n,
                        "shared" => self.probe.shared = n,
                        _ => {}
                    }
                }
                if self.probe.hist > 0 {
                    self.probe.hist_metric = proxy_wasm::hostcalls::define_metric(proxy_wasm::types::MetricType::Histogram, "floor.probe_hist").unwrap_or(0);
                }
                if self.probe.stat > 0 {
                    self.probe.metric = proxy_wasm::hostcalls::define_metric(proxy_wasm::types::MetricType::Counter, "floor.probe").unwrap_or(0);
                }
            }
        }
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Floor { bytes_seen: 0, hold: self.hold, route: self.route, calls: self.calls, calls_map: self.calls_map, translate: self.translate, translate_min: self.translate_min, probe: self.probe }))
    }
}

struct Floor {
    bytes_seen: usize,
    hold: bool,
    route: bool,
    calls: bool,
    calls_map: bool,
    translate: bool,
    translate_min: bool,
    probe: Probe,
}

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        // Header reads only here: once the headers went on, the SDK panics on reading them.
        for _ in 0..self.probe.get {
            if let Ok(Some(v)) = proxy_wasm::hostcalls::get_map_value(proxy_wasm::types::MapType::HttpRequestHeaders, ":path") {
                self.bytes_seen = self.bytes_seen.wrapping_add(v.len());
            }
        }
        for _ in 0..self.probe.getmap {
            if let Ok(m) = proxy_wasm::hostcalls::get_map_bytes(proxy_wasm::types::MapType::HttpRequestHeaders) {
                self.bytes_seen = self.bytes_seen.wrapping_add(m.len());
            }
        }
        for _ in 0..self.probe.time {
            let _ = proxy_wasm::hostcalls::get_current_time();
        }
        if self.calls {
            use proxy_wasm::types::MapType::HttpRequestHeaders;
            if self.calls_map {
                // `"calls map"`: the same, with one whole-map read instead of the five reads.
                if let Ok(m) = proxy_wasm::hostcalls::get_map_bytes(HttpRequestHeaders) {
                    self.bytes_seen = self.bytes_seen.wrapping_add(m.len());
                }
            } else {
                for name in [":method", ":path", "authorization", "x-api-key", "api-key"] {
                    if let Ok(Some(v)) = proxy_wasm::hostcalls::get_map_value_bytes(HttpRequestHeaders, name) {
                        self.bytes_seen = self.bytes_seen.wrapping_add(v.len());
                    }
                }
            }
            let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, "authorization", None);
        }
        if self.translate {
            use proxy_wasm::types::MapType::HttpRequestHeaders;
            if let Ok(m) = proxy_wasm::hostcalls::get_map_bytes(HttpRequestHeaders) {
                self.bytes_seen = self.bytes_seen.wrapping_add(m.len());
            }
            let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, "authorization", None);
        }
        if (self.route || self.calls || self.translate) && !end_of_stream {
            return Action::Pause;
        }
        if self.hold && !end_of_stream {
            let _ = proxy_wasm::hostcalls::set_map_value(proxy_wasm::types::MapType::HttpRequestHeaders, "content-length", None);
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            // Let the host keep buffering until the whole body is there.
            return Action::Pause;
        }
        let mut read = None;
        match proxy_wasm::hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size) {
            Ok(Some(body)) => {
                // "Touch" the body so the copy cannot be optimised away.
                self.bytes_seen = self.bytes_seen.wrapping_add(body.len());
                if body.first() == Some(&0) {
                    self.bytes_seen = self.bytes_seen.wrapping_add(1);
                }
                read = Some(body);
            }
            Ok(None) => {}
            Err(_) => {}
        }
        use proxy_wasm::types::MapType::HttpRequestHeaders;
        if self.translate {
            for (name, value) in [("x-tollgate-cluster", "upstream"), (":path", "/v1/messages"), (":authority", "upstream.local"), ("x-api-key", "sk-floor"), ("anthropic-version", "2023-06-01")] {
                if !(self.translate_min && (name == ":authority" || name == "anthropic-version")) {
                    let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, name, Some(value));
                }
            }
            if let Some(body) = read {
                let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, "content-length", Some(&body.len().to_string()));
                let _ = proxy_wasm::hostcalls::set_buffer(BufferType::HttpRequestBody, 0, body_size, &body);
            }
        }
        if self.route {
            if let Ok(Some(key)) = proxy_wasm::hostcalls::get_map_value_bytes(HttpRequestHeaders, "authorization") {
                self.bytes_seen = self.bytes_seen.wrapping_add(key.len());
            }
            let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, "authorization", None);
            let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, "x-tollgate-cluster", Some("upstream"));
        }
        if self.calls {
            let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, "x-tollgate-cluster", Some("upstream"));
            let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, ":authority", Some("upstream.local"));
        }
        for i in 0..self.probe.set {
            let _ = proxy_wasm::hostcalls::set_map_value(HttpRequestHeaders, "x-floor-probe", Some(if i % 2 == 0 { "a" } else { "b" }));
        }
        for _ in 0..self.probe.prop {
            let _ = proxy_wasm::hostcalls::set_property(vec!["floor.probe"], Some(b"42"));
        }
        for _ in 0..self.probe.stat {
            let _ = proxy_wasm::hostcalls::increment_metric(self.probe.metric, 1);
        }
        for _ in 0..self.probe.hist {
            let _ = proxy_wasm::hostcalls::record_metric(self.probe.hist_metric, 42);
        }
        for i in 0..self.probe.shared {
            let key = format!("floor.probe.{i}");
            let (_, cas) = proxy_wasm::hostcalls::get_shared_data(&key).unwrap_or((None, None));
            let _ = proxy_wasm::hostcalls::set_shared_data(&key, Some(b"42"), cas);
        }
        for _ in 0..self.probe.setmap {
            if let Ok(m) = proxy_wasm::hostcalls::get_map_bytes(HttpRequestHeaders) {
                let pairs: Vec<(&str, &[u8])> = m.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
                let _ = proxy_wasm::hostcalls::set_map_bytes(HttpRequestHeaders, pairs);
            }
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        use proxy_wasm::types::MapType::HttpResponseHeaders;
        for _ in 0..self.probe.rget {
            if let Ok(Some(v)) = proxy_wasm::hostcalls::get_map_value_bytes(HttpResponseHeaders, ":status") {
                self.bytes_seen = self.bytes_seen.wrapping_add(v.len());
            }
        }
        for i in 0..self.probe.rset {
            let _ = proxy_wasm::hostcalls::set_map_value(HttpResponseHeaders, "x-floor-probe", Some(if i % 2 == 0 { "a" } else { "b" }));
        }
        if self.translate {
            let _ = proxy_wasm::hostcalls::set_map_value(proxy_wasm::types::MapType::HttpResponseHeaders, "content-length", None);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.probe.resp && !self.translate {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        if let Ok(Some(b)) = proxy_wasm::hostcalls::get_buffer(BufferType::HttpResponseBody, 0, body_size) {
            self.bytes_seen = self.bytes_seen.wrapping_add(b.len());
            if self.translate {
                let _ = proxy_wasm::hostcalls::set_buffer(BufferType::HttpResponseBody, 0, body_size, &b);
            }
        }
        Action::Continue
    }
}
