//! The host boundary: what the filter needs from Envoy, as a trait. `wasm` implements it over
//! `proxy_wasm` (the only code naming that crate); `fake` implements it for native tests; `sim`
//! is the pure in-memory host the `tollgate` tool runs policy cases through.

#[cfg(test)]
pub mod fake;
#[cfg(all(target_arch = "wasm32", not(test)))]
mod context;
#[cfg(all(target_arch = "wasm32", not(test)))]
pub use context::start;
pub mod pairs;
pub mod property;
#[cfg(all(target_arch = "wasm32", not(test)))]
mod raw_map;
pub mod sim;
#[cfg(all(target_arch = "wasm32", not(test)))]
mod wasm;
#[cfg(all(target_arch = "wasm32", not(test)))]
mod webhook;

/// Per-request access to the proxy. Every call is infallible from the filter's view: the wasm
/// implementation maps host errors to `None`/no-ops and logs them, never panics.
pub trait Host {
    /// A request header by lower-case name; `None` when absent or not valid UTF-8.
    fn request_header(&mut self, name: &str) -> Option<String>;
    /// Sets (`Some`) or removes (`None`) a request header.
    fn set_request_header(&mut self, name: &str, value: Option<&str>);
    /// A hint that this callback will read several request headers (the request-headers
    /// callback reads at least `:method` and `:path`): the host may fetch them all in one call.
    /// Reads and writes behave the same either way.
    fn read_request_headers(&mut self) {}
    /// The buffered request body, `size` bytes from the start.
    fn request_body(&self, size: usize) -> Option<Vec<u8>>;
    /// Replaces the buffered request body (`size` is the current length).
    fn replace_request_body(&mut self, size: usize, body: &[u8]);
    /// A response header by lower-case name; `None` when absent or not valid UTF-8.
    fn response_header(&mut self, name: &str) -> Option<String>;
    /// As [`Host::read_request_headers`], for the response headers (a response that is read
    /// asks for at least `:status` and `content-type`).
    fn read_response_headers(&mut self) {}
    /// The response body bytes the host currently holds (the current chunk when streaming).
    fn response_body(&self, size: usize) -> Option<Vec<u8>>;
    /// Replaces the response body bytes the host holds (`size` is their current length).
    fn replace_response_body(&mut self, size: usize, body: &[u8]);
    /// Sets (`Some`) or removes (`None`) a response header.
    fn set_response_header(&mut self, name: &str, value: Option<&str>);
    /// Ends the request with a local reply.
    fn send_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]);
    /// Wall-clock time, Unix nanoseconds.
    fn now_nanos(&self) -> u64;
    /// Writes filter state `wasm.<name>`, readable as `%FILTER_STATE(wasm.<name>:PLAIN)%`.
    fn set_filter_state(&mut self, name: &str, value: &str);
    /// Applies one stat update (the metric is defined on first use).
    fn emit(&mut self, metric: &crate::metrics::Metric);
    /// Applies one request's stat updates (see [`crate::metrics::RequestStats`]). A host that
    /// keeps the ids per prefix overrides this; the default emits each as a named metric.
    fn emit_request(&mut self, stats: &crate::metrics::RequestStats) {
        for m in stats.metrics() {
            self.emit(&m);
        }
    }
    /// A property (e.g. dynamic metadata) as strings: a string leaf gives one value, a list of
    /// strings gives each; absent gives none.
    fn property_strings(&self, path: &[&str]) -> Vec<String>;
    /// Shared data (one store per `vm_id`, shared by all worker threads): the value and its cas
    /// token, `(None, None)` when the key does not exist.
    fn shared_get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), crate::limits::StoreError>;
    /// Writes shared data if the key's cas still equals `cas` (0: unconditionally; a missing
    /// key is always created). `Err(CasMismatch)` is a normal outcome: read again and retry.
    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), crate::limits::StoreError>;
    /// Sends an HTTP callout; its answer comes to the filter's `on_callout` with the returned
    /// token (a detached call's answer is dropped). `None`: the host could not send it (no such
    /// cluster, or a host without callouts).
    fn http_call(&mut self, _call: &Callout<'_>) -> Option<u32> {
        None
    }
    /// Sends a `GET <path>` callout with `headers` (the Google metadata server's token); its
    /// answer comes to `on_callout` like [`Host::http_call`]'s. `None`: it could not be sent.
    fn http_get(&mut self, _cluster: &str, _authority: &str, _path: &str, _headers: &[(&str, &str)], _timeout_ms: u64) -> Option<u32> {
        None
    }
    /// Resumes a request held (`Flow::Pause`) while a callout was pending.
    fn resume_request(&mut self) {}
    /// Resumes a response held (`Flow::Pause`) while a callout was pending.
    fn resume_response(&mut self) {}
    /// Queues an alert event for the webhook: message id and JSON body. The host sends it
    /// later, off the request's path (the root context's tick), with bounded retries.
    fn deliver(&mut self, _id: String, _body: Vec<u8>) {}
}

/// One HTTP callout: `POST <path>` with `body` to `cluster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Callout<'a> {
    pub cluster: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    pub timeout_ms: u64,
    /// The call outlives the request that sends it (a charge sent from the log phase): the host
    /// sends it on behalf of the plugin, not of the request, so the request's end cannot cancel it.
    pub detached: bool,
    /// The body's `content-type`.
    pub content_type: &'a str,
}
