//! A recording in-memory `Host` for native tests of the filter state machine.

use super::Host;
use std::collections::BTreeMap;

/// A local reply: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// What the filter did, recorded for assertions.
#[derive(Debug, Default)]
pub struct FakeHost {
    pub request_headers: Vec<(String, String)>,
    pub request_body: Vec<u8>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
    pub reply: Option<Reply>,
    pub filter_state: BTreeMap<String, String>,
    pub properties: BTreeMap<String, Vec<String>>,
    pub now_nanos: u64,
    pub metrics: Vec<crate::metrics::Metric>,
    /// Shared data; clone one store into several hosts to share counters between requests.
    pub shared: crate::limits::MemStore,
    /// Callouts sent: cluster, body, detached; the token of call `i` is `i + 1`.
    pub calls: Vec<(String, Vec<u8>, bool)>,
    /// Refuse callouts (a cluster the host does not know).
    pub no_callouts: bool,
    /// `resume_request` was called.
    pub resumed: bool,
    /// `resume_response` was called.
    pub resumed_response: bool,
    /// Alert events queued for the webhook: message id, body.
    pub delivered: Vec<(String, Vec<u8>)>,
    /// GET callouts sent: cluster, path, and whether `Metadata-Flavor: Google` was set.
    pub gets: Vec<(String, String, bool)>,
    /// The headers of each GET callout.
    pub get_headers: Vec<Vec<(String, String)>>,
}

impl FakeHost {
    pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> FakeHost {
        let mut h = vec![(":method".to_string(), method.to_string()), (":path".to_string(), path.to_string())];
        h.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        FakeHost { request_headers: h, request_body: body.to_vec(), now_nanos: 1_800_000_000_000_000_000, ..FakeHost::default() }
    }

    /// An access-log field as the access log would read it: its separate value
    /// `tollgate.<field>`, else the field of the record `tollgate` (written at `on_log`).
    pub fn exported(&self, field: &str) -> Option<String> {
        if let Some(v) = self.filter_state.get(&format!("tollgate.{field}")) {
            return Some(v.clone());
        }
        let record: serde_json::Value = serde_json::from_str(self.filter_state.get("tollgate")?).ok()?;
        match record.get(field)? {
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.request_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn reply_json(&self) -> serde_json::Value {
        self.reply.as_ref().and_then(|r| serde_json::from_slice(&r.2).ok()).unwrap_or_default()
    }
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    headers.retain(|(k, _)| k != name);
    if let Some(v) = value {
        headers.push((name.to_string(), v.to_string()));
    }
}

impl Host for FakeHost {
    fn request_header(&mut self, name: &str) -> Option<String> {
        self.header(name).map(str::to_string)
    }
    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        set(&mut self.request_headers, name, value)
    }
    fn request_body(&self, size: usize) -> Option<Vec<u8>> {
        Some(self.request_body[..size.min(self.request_body.len())].to_vec())
    }
    fn replace_request_body(&mut self, _size: usize, body: &[u8]) {
        self.request_body = body.to_vec();
    }
    fn response_header(&mut self, name: &str) -> Option<String> {
        self.response_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
    fn response_body(&self, size: usize) -> Option<Vec<u8>> {
        Some(self.response_body[..size.min(self.response_body.len())].to_vec())
    }
    fn replace_response_body(&mut self, _size: usize, body: &[u8]) {
        self.response_body = body.to_vec();
    }
    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        set(&mut self.response_headers, name, value)
    }
    fn send_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let h = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.reply = Some((status, h, body.to_vec()));
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
        crate::limits::SharedStore::get(&self.shared, key)
    }
    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), crate::limits::StoreError> {
        crate::limits::SharedStore::set(&mut self.shared, key, value, cas)
    }
    fn http_call(&mut self, call: &super::Callout<'_>) -> Option<u32> {
        if self.no_callouts {
            return None;
        }
        self.calls.push((call.cluster.to_string(), call.body.to_vec(), call.detached));
        u32::try_from(self.calls.len()).ok()
    }
    fn http_get(&mut self, cluster: &str, _authority: &str, path: &str, headers: &[(&str, &str)], _timeout_ms: u64) -> Option<u32> {
        if self.no_callouts {
            return None;
        }
        let flavor = headers.iter().any(|(k, v)| *k == "metadata-flavor" && *v == "Google");
        self.gets.push((cluster.to_string(), path.to_string(), flavor));
        self.get_headers.push(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        u32::try_from(1000 + self.gets.len()).ok()
    }
    fn resume_request(&mut self) {
        self.resumed = true;
    }
    fn resume_response(&mut self) {
        self.resumed_response = true;
    }
    fn deliver(&mut self, id: String, body: Vec<u8>) {
        self.delivered.push((id, body));
    }
}
