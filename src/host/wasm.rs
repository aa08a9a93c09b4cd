//! `Host` over `proxy_wasm::hostcalls`: every `Result` handled, failures logged and degraded.

use super::pairs::Pairs;
use super::Host;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType};
use crate::metrics::{Kind, Metric, RequestStats, Series};
use crate::limits::StoreError;
use proxy_wasm::types::{MetricType, Status};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

thread_local! {
    /// Metric ids by name, defined once per VM.
    static METRIC_IDS: RefCell<HashMap<String, u32, BuildFnv>> = const { RefCell::new(HashMap::with_hasher(BuildFnv)) };
    /// The ids of a request's series by their tag prefix ([`RequestStats`]): one lookup per
    /// request instead of one per stat. At most [`MAX_METRICS`] prefixes.
    static SERIES_IDS: RefCell<HashMap<String, SeriesIds, BuildFnv>> = const { RefCell::new(HashMap::with_hasher(BuildFnv)) };
}

/// A prefix's series ids, [`Series::index`]-ed; `None` until the series is first updated.
type SeriesIds = [Option<u32>; Series::ALL.len()];

/// FNV-1a for the metric-id map: a request looks up about ten names of ~80 bytes, which SipHash
/// hashes at several times the cost. The names come from the config and fixed suffixes, and
/// their number is capped ([`MAX_METRICS`]), so flooding resistance buys nothing here.
#[derive(Clone, Copy, Default)]
struct BuildFnv;

struct Fnv(u64);

impl std::hash::BuildHasher for BuildFnv {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Most distinct stat names one VM defines; past it, new names are dropped (and logged once),
/// so a misbehaving config cannot exhaust Envoy's stat memory.
const MAX_METRICS: usize = 10_000;

/// The headers of one map that a callback has read or written, with the writes queued until
/// the end of the callback. The request headers are read at once, as the host's serialized map
/// ([`HeaderCache::read_all`]); any other header is read with its own host call the first time
/// it is asked for. Writes go out one by one at [`WasmHost::flush`], and a write that changes
/// nothing we know of (removing a header read as absent, setting the value a header already
/// has) is not sent at all.
#[derive(Default)]
struct HeaderCache {
    /// Headers as this callback knows them: the host's value when read, or our queued write
    /// (`dirty`), in the order first touched. One entry per name, so a write costs no more
    /// allocations than the name and the value.
    known: Vec<Known>,
    /// The whole map, serialized, and its number of pairs, when read at once
    /// ([`HeaderCache::read_all`]); a name not in `known` is then looked up here, and one not
    /// here is absent.
    map: Option<(Vec<u8>, usize)>,
}

struct Known {
    name: String,
    /// Bytes, not text: a credential header that is not UTF-8 reads as absent but is still
    /// present, so its removal is not skipped.
    value: Option<Vec<u8>>,
    /// Written by us and not yet sent to the host.
    dirty: bool,
}

/// Header bytes as text; a value that is not UTF-8 reads as absent.
fn text(value: Option<&[u8]>) -> Option<String> {
    value.and_then(|b| std::str::from_utf8(b).ok()).map(str::to_string)
}

impl HeaderCache {
    /// What the whole-map read says of `name`: `None` when the map was not read, else its value.
    fn in_map(&self, name: &str) -> Option<Option<&[u8]>> {
        let (bytes, count) = self.map.as_ref()?;
        Some(Pairs::checked(bytes, *count).get(name.as_bytes()))
    }

    fn get(&mut self, kind: MapType, name: &str) -> Option<String> {
        if let Some(k) = self.known.iter().find(|k| k.name == name) {
            return text(k.value.as_deref());
        }
        if let Some(value) = self.in_map(name) {
            return text(value);
        }
        match hostcalls::get_map_value_bytes(kind, name) {
            Ok(value) => {
                let t = text(value.as_deref());
                self.remember(Known { name: name.to_string(), value, dirty: false });
                t
            }
            Err(s) => {
                // Not remembered as absent: a later removal (a client credential) must
                // still reach the host.
                warn("get_header", s);
                None
            }
        }
    }

    fn set(&mut self, name: &str, value: Option<&str>) {
        let wanted = value.map(str::as_bytes);
        if let Some(k) = self.known.iter_mut().find(|k| k.name == name) {
            // Known to say so already (read from the host, or written before): nothing to send.
            if k.value.as_deref() != wanted {
                k.value = wanted.map(<[u8]>::to_vec);
                k.dirty = true;
            }
            return;
        }
        // The whole map says so already.
        if self.in_map(name).is_some_and(|v| v == wanted) {
            return;
        }
        self.remember(Known { name: name.to_string(), value: wanted.map(<[u8]>::to_vec), dirty: true });
    }

    /// A routed request touches about seven headers: room for them at once, not regrown.
    fn remember(&mut self, k: Known) {
        if self.known.capacity() == 0 {
            self.known.reserve(8);
        }
        self.known.push(k);
    }

    /// Reads the whole map in one host call, kept serialized and looked up in place. Each host
    /// call that returns a value re-enters the VM to allocate it, and that re-entry is most of
    /// the call's cost in Envoy: one whole-map read of a typical request's headers costs about
    /// what two single reads do (`BENCHMARKS.md`, session 7). A map that does not come, or is
    /// not well formed, leaves single reads in place.
    fn read_all(&mut self, kind: MapType) {
        if self.map.is_some() {
            return;
        }
        match super::raw_map::header_map_bytes(kind) {
            Ok(Some(bytes)) => match Pairs::parse(&bytes).map(|p| p.len()) {
                Some(count) => self.map = Some((bytes, count)),
                None => log::warn!("host call get_header_map_pairs returned a malformed map"),
            },
            Ok(None) => log::warn!("host call get_header_map_pairs returned no map"),
            Err(code) => log::warn!("host call get_header_map_pairs failed: status {code}"),
        }
    }

    fn flush(&mut self, kind: MapType) {
        for k in self.known.iter_mut().filter(|k| k.dirty) {
            k.dirty = false;
            if let Err(s) = hostcalls::set_map_value_bytes(kind, &k.name, k.value.as_deref()) {
                warn("set_header", s);
            }
        }
    }

    fn forget(&mut self) {
        self.known.clear();
        self.map = None;
    }
}

/// The current HTTP stream, as seen through the proxy-wasm ABI. One per HTTP context; its
/// header caches live for one phase (request headers and body share one, as the headers are
/// held until the body is read).
#[derive(Default)]
pub struct WasmHost {
    request: HeaderCache,
    response: HeaderCache,
    /// This request's context and its plugin's root context (detached callouts go out as the root).
    context_id: u32,
    root_id: u32,
    /// The worker's webhook outbox (alert events), when a webhook is configured.
    outbox: Option<super::webhook::SharedOutbox>,
}

/// Lets callouts go through the SDK's `Context::dispatch_http_call`, which registers the token
/// so the answer is routed back (a raw hostcall would leave the SDK without the token).
impl proxy_wasm::traits::Context for WasmHost {}

impl WasmHost {
    /// The host of request context `context_id`, whose plugin's root context is `root_id`.
    pub fn for_context(context_id: u32, root_id: u32) -> WasmHost {
        WasmHost { context_id, root_id, ..WasmHost::default() }
    }

    /// Alert events go to the worker's `outbox`.
    pub fn with_outbox(mut self, outbox: Option<super::webhook::SharedOutbox>) -> WasmHost {
        self.outbox = outbox;
        self
    }

    /// A callout's answer: `:status` (none after a timeout or reset) and body.
    pub fn callout_answer(body_size: usize) -> (Option<u16>, Vec<u8>) {
        (Self::callout_status(), Self::callout_body(0, body_size).unwrap_or_default())
    }

    /// The `:status` of the callout answer being handled.
    pub fn callout_status() -> Option<u16> {
        Self::callout_header(":status").and_then(|s| s.parse().ok())
    }

    /// A header of the callout answer being handled.
    pub fn callout_header(name: &str) -> Option<String> {
        match hostcalls::get_map_value(MapType::HttpCallResponseHeaders, name) {
            Ok(v) => v,
            Err(s) => {
                warn("get_map_value(callout header)", s);
                None
            }
        }
    }

    /// `len` bytes of the callout answer's body from `start`.
    pub fn callout_body(start: usize, len: usize) -> Option<Vec<u8>> {
        match hostcalls::get_buffer(BufferType::HttpCallResponseBody, start, len) {
            Ok(b) => Some(b.unwrap_or_default()),
            Err(s) => {
                warn("get_buffer(callout body)", s);
                None
            }
        }
    }

    /// Sends the header writes queued during a callback (called at the end of every callback).
    pub fn flush(&mut self) {
        self.request.flush(MapType::HttpRequestHeaders);
        self.response.flush(MapType::HttpResponseHeaders);
    }

    /// The request headers went on upstream: later phases must not read or write them.
    pub fn forget_request(&mut self) {
        self.request.forget();
    }

    /// The response headers went on downstream.
    pub fn forget_response(&mut self) {
        self.response.forget();
    }
}

fn warn(what: &str, status: proxy_wasm::types::Status) {
    log::warn!("host call {what} failed: {status:?}");
}

/// The id of a stat, defined on first use (at most [`MAX_METRICS`] per VM).
fn metric_id(kind: Kind, name: &str) -> Option<u32> {
    METRIC_IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return Some(*id);
        }
        if ids.len() >= MAX_METRICS {
            return None;
        }
        let host_kind = match kind {
            Kind::Counter => MetricType::Counter,
            Kind::Histogram => MetricType::Histogram,
            Kind::Gauge => MetricType::Gauge,
        };
        match hostcalls::define_metric(host_kind, name) {
            Ok(id) => {
                ids.insert(name.to_string(), id);
                if ids.len() == MAX_METRICS {
                    log::warn!("tollgate: {MAX_METRICS} distinct stats defined; further ones are dropped");
                }
                Some(id)
            }
            Err(s) => {
                warn("define_metric", s);
                None
            }
        }
    })
}

/// One stat update. A counter adding nothing is not sent (defining it made the stat exist at 0).
fn update_metric(id: u32, kind: Kind, value: u64) {
    if kind == Kind::Counter && value == 0 {
        return;
    }
    let result = match kind {
        Kind::Counter => hostcalls::increment_metric(id, i64::try_from(value).unwrap_or(i64::MAX)),
        Kind::Histogram | Kind::Gauge => hostcalls::record_metric(id, value),
    };
    if let Err(s) = result {
        warn("update_metric", s);
    }
}

impl Host for WasmHost {
    fn request_header(&mut self, name: &str) -> Option<String> {
        self.request.get(MapType::HttpRequestHeaders, name)
    }

    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        self.request.set(name, value);
    }

    fn read_request_headers(&mut self) {
        self.request.read_all(MapType::HttpRequestHeaders);
    }

    fn request_body(&self, size: usize) -> Option<Vec<u8>> {
        match hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size) {
            Ok(b) => b,
            Err(s) => {
                warn("get_request_body", s);
                None
            }
        }
    }

    fn replace_request_body(&mut self, size: usize, body: &[u8]) {
        if let Err(s) = hostcalls::set_buffer(BufferType::HttpRequestBody, 0, size, body) {
            warn("set_request_body", s);
        }
    }

    fn response_header(&mut self, name: &str) -> Option<String> {
        self.response.get(MapType::HttpResponseHeaders, name)
    }

    fn read_response_headers(&mut self) {
        self.response.read_all(MapType::HttpResponseHeaders);
    }

    fn response_body(&self, size: usize) -> Option<Vec<u8>> {
        match hostcalls::get_buffer(BufferType::HttpResponseBody, 0, size) {
            Ok(b) => b,
            Err(s) => {
                warn("get_response_body", s);
                None
            }
        }
    }

    fn replace_response_body(&mut self, size: usize, body: &[u8]) {
        if let Err(s) = hostcalls::set_buffer(BufferType::HttpResponseBody, 0, size, body) {
            warn("set_response_body", s);
        }
    }

    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        self.response.set(name, value);
    }

    fn send_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        // The request is answered here: queued header writes have nowhere to go.
        self.request.forget();
        self.response.forget();
        if let Err(s) = hostcalls::send_http_response(u32::from(status), headers.to_vec(), Some(body)) {
            warn("send_http_response", s);
        }
    }

    fn now_nanos(&self) -> u64 {
        match hostcalls::get_current_time() {
            Ok(t) => t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            Err(s) => {
                warn("get_current_time", s);
                0
            }
        }
    }

    fn set_filter_state(&mut self, name: &str, value: &str) {
        if let Err(s) = hostcalls::set_property(vec![name], Some(value.as_bytes())) {
            warn("set_property", s);
        }
    }

    fn emit(&mut self, metric: &Metric) {
        if let Some(id) = metric_id(metric.kind, &metric.name) {
            update_metric(id, metric.kind, metric.value);
        }
    }

    fn emit_request(&mut self, stats: &RequestStats) {
        let known = SERIES_IDS.with(|t| t.borrow().get(&stats.prefix).copied());
        let mut ids = known.unwrap_or_default();
        let mut defined = false;
        for (series, (value, id)) in Series::ALL.iter().zip(stats.values.iter().zip(ids.iter_mut())) {
            let Some(value) = *value else { continue };
            let id = match *id {
                Some(id) => id,
                None => {
                    let Some(new) = metric_id(series.kind(), &stats.name(*series)) else { continue };
                    *id = Some(new);
                    defined = true;
                    new
                }
            };
            update_metric(id, series.kind(), value);
        }
        if defined {
            SERIES_IDS.with(|t| {
                let mut t = t.borrow_mut();
                if t.len() < MAX_METRICS || t.contains_key(&stats.prefix) {
                    t.insert(stats.prefix.clone(), ids);
                }
            });
        }
    }

    fn shared_get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), StoreError> {
        match hostcalls::get_shared_data(key) {
            Ok(v) => Ok(v),
            Err(s) => {
                warn("get_shared_data", s);
                Err(StoreError::Unavailable)
            }
        }
    }

    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), StoreError> {
        match hostcalls::set_shared_data(key, Some(value), (cas != 0).then_some(cas)) {
            Ok(()) => Ok(()),
            Err(Status::CasMismatch) => Err(StoreError::CasMismatch),
            Err(s) => {
                warn("set_shared_data", s);
                Err(StoreError::Unavailable)
            }
        }
    }

    fn http_call(&mut self, call: &super::Callout<'_>) -> Option<u32> {
        let headers = vec![(":method", "POST"), (":path", call.path), (":authority", call.authority), ("content-type", call.content_type)];
        let timeout = std::time::Duration::from_millis(call.timeout_ms);
        // A detached call belongs to the root context, so the end of this request cannot cancel it.
        let detached = call.detached
            && match hostcalls::set_effective_context(self.root_id) {
                Ok(()) => true,
                Err(s) => {
                    warn("set_effective_context(root)", s);
                    false
                }
            };
        let sent = proxy_wasm::traits::Context::dispatch_http_call(self, call.cluster, headers, Some(call.body), vec![], timeout);
        if detached {
            if let Err(s) = hostcalls::set_effective_context(self.context_id) {
                warn("set_effective_context", s);
            }
        }
        match sent {
            Ok(token) => Some(token),
            Err(s) => {
                warn("dispatch_http_call", s);
                None
            }
        }
    }

    fn resume_response(&mut self) {
        self.flush();
        if let Err(s) = hostcalls::resume_http_response() {
            warn("resume_http_response", s);
        }
    }

    fn deliver(&mut self, id: String, body: Vec<u8>) {
        let now = self.now_nanos();
        if let Some(o) = &self.outbox {
            o.borrow_mut().push(id, body, now);
        }
    }

    fn http_get(&mut self, cluster: &str, authority: &str, path: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Option<u32> {
        let mut all = vec![(":method", "GET"), (":path", path), (":authority", authority)];
        all.extend_from_slice(headers);
        let timeout = std::time::Duration::from_millis(timeout_ms);
        match proxy_wasm::traits::Context::dispatch_http_call(self, cluster, all, None, vec![], timeout) {
            Ok(token) => Some(token),
            Err(s) => {
                warn("dispatch_http_call", s);
                None
            }
        }
    }

    fn resume_request(&mut self) {
        self.flush();
        if let Err(s) = hostcalls::resume_http_request() {
            warn("resume_http_request", s);
        }
    }

    fn property_strings(&self, path: &[&str]) -> Vec<String> {
        match hostcalls::get_property(path.to_vec()) {
            Ok(Some(bytes)) => super::property::strings(&bytes),
            Ok(None) => Vec::new(),
            Err(s) => {
                warn("get_property", s);
                Vec::new()
            }
        }
    }
}
