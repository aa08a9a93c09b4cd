//! An in-memory `Host`, pure and compiled everywhere: the `tollgate` tool drives the filter's own
//! state machine through it, so a policy case decided here is decided the same way in Envoy.

use super::Host;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Shared data with Envoy's semantics (one global cas counter, compare-and-swap writes), in
/// memory. Clones share one store, so counters persist from one simulated request to the next.
#[derive(Debug, Clone, Default)]
pub struct SimShared(Rc<RefCell<SharedMap>>);

/// Values with their cas tokens, and the last cas handed out.
#[derive(Debug, Default)]
struct SharedMap {
    entries: BTreeMap<String, (Vec<u8>, u32)>,
    cas: u32,
}

impl SimShared {
    /// The value and its cas token; `(None, None)` when the key does not exist.
    pub fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.0.try_borrow().ok().and_then(|m| m.entries.get(key).map(|(v, c)| (Some(v.clone()), Some(*c)))).unwrap_or((None, None))
    }

    /// Writes `value` if the key is missing, `cas` is 0 or equals the key's cas; `false` on a
    /// cas mismatch (read again and retry).
    pub fn set(&self, key: &str, value: &[u8], cas: u32) -> bool {
        let Ok(mut m) = self.0.try_borrow_mut() else { return false };
        m.cas = m.cas.wrapping_add(1).max(1);
        let next = m.cas;
        match m.entries.get_mut(key) {
            Some(e) if cas != 0 && cas != e.1 => false,
            Some(e) => {
                *e = (value.to_vec(), next);
                true
            }
            None => {
                m.entries.insert(key.to_string(), (value.to_vec(), next));
                true
            }
        }
    }
}

/// A simulated proxy for one request: headers and body in, everything the filter did recorded.
#[derive(Debug, Default, Clone)]
pub struct SimHost {
    /// Request headers (lower-case names, pseudo-headers included), as the filter left them.
    pub request_headers: Vec<(String, String)>,
    /// The request body, as the filter left it (the body sent upstream when forwarded).
    pub request_body: Vec<u8>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
    /// The local reply, when the filter answered itself: status, headers, body.
    pub reply: Option<SimReply>,
    /// Filter state written as `wasm.<name>`, by name.
    pub filter_state: BTreeMap<String, String>,
    /// Properties by `/`-joined path (e.g. JWT claims in dynamic metadata).
    pub properties: BTreeMap<String, Vec<String>>,
    /// The clock, Unix nanoseconds.
    pub now_nanos: u64,
    /// Stat updates, in order.
    pub metrics: Vec<crate::metrics::Metric>,
    /// Shared data (limit counters); the policy runner gives every case the same store.
    pub shared: SimShared,
}

/// A local reply the filter sent instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SimHost {
    /// A request with `:method`, `:path`, the given headers (names lower-cased) and body.
    pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8], now_nanos: u64) -> SimHost {
        let mut h = vec![(":method".to_string(), method.to_string()), (":path".to_string(), path.to_string())];
        h.extend(headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())));
        SimHost { request_headers: h, request_body: body.to_vec(), now_nanos, ..SimHost::default() }
    }

    /// A request header's current value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    headers.retain(|(k, _)| k != name);
    if let Some(v) = value {
        headers.push((name.to_string(), v.to_string()));
    }
}

fn prefix(bytes: &[u8], size: usize) -> Vec<u8> {
    bytes.get(..size.min(bytes.len())).unwrap_or_default().to_vec()
}

impl Host for SimHost {
    fn request_header(&mut self, name: &str) -> Option<String> {
        self.header(name).map(str::to_string)
    }
    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        set(&mut self.request_headers, name, value)
    }
    fn request_body(&self, size: usize) -> Option<Vec<u8>> {
        Some(prefix(&self.request_body, size))
    }
    fn replace_request_body(&mut self, _size: usize, body: &[u8]) {
        self.request_body = body.to_vec();
    }
    fn response_header(&mut self, name: &str) -> Option<String> {
        self.response_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
    fn response_body(&self, size: usize) -> Option<Vec<u8>> {
        Some(prefix(&self.response_body, size))
    }
    fn replace_response_body(&mut self, _size: usize, body: &[u8]) {
        self.response_body = body.to_vec();
    }
    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        set(&mut self.response_headers, name, value)
    }
    fn send_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.reply = Some(SimReply { status, headers, body: body.to_vec() });
    }
    fn now_nanos(&self) -> u64 {
        self.now_nanos
    }
    fn set_filter_state(&mut self, name: &str, value: &str) {
        self.filter_state.insert(name.to_string(), value.to_string());
    }
    fn emit(&mut self, metric: &crate::metrics::Metric) {
        self.metrics.push(metric.clone());
    }
    fn property_strings(&self, path: &[&str]) -> Vec<String> {
        self.properties.get(&path.join("/")).cloned().unwrap_or_default()
    }
    fn shared_get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), crate::limits::StoreError> {
        Ok(self.shared.get(key))
    }
    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), crate::limits::StoreError> {
        if self.shared.set(key, value, cas) {
            Ok(())
        } else {
            Err(crate::limits::StoreError::CasMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn records_what_the_filter_does() {
        let mut h = SimHost::request("POST", "/v1/x", &[("Authorization", "Bearer k")], b"abc", 5);
        assert_eq!(h.request_header("authorization").as_deref(), Some("Bearer k"));
        assert_eq!(h.request_body(10), Some(b"abc".to_vec()));
        assert_eq!(h.request_body(2), Some(b"ab".to_vec()));
        h.set_request_header("authorization", None);
        h.set_request_header(":path", Some("/v1/y"));
        assert_eq!((h.header("authorization"), h.header(":path")), (None, Some("/v1/y")));
        h.send_reply(403, &[("content-type", "application/json")], b"{}");
        assert_eq!(h.reply.as_ref().map(|r| r.status), Some(403));
        h.set_filter_state("tollgate.provider", "p");
        assert_eq!(h.filter_state["tollgate.provider"], "p");
        assert_eq!(h.now_nanos(), 5);
    }

    #[test]
    fn shared_data_is_compare_and_swap_and_shared_by_clones() {
        let a = SimShared::default();
        let b = a.clone();
        assert_eq!(a.get("k"), (None, None));
        assert!(a.set("k", b"1", 0));
        let (v, cas) = b.get("k");
        assert_eq!(v.as_deref(), Some(&b"1"[..]));
        let cas = cas.unwrap();
        assert!(b.set("k", b"2", cas));
        assert!(!a.set("k", b"3", cas), "stale cas");
        assert_eq!(a.get("k").0.as_deref(), Some(&b"2"[..]));
    }
}
