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
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FloorRoot { hold: false }) });
}}

/// With the plugin configuration `"hold"` (a JSON string), the floor also holds the request headers until the body
/// is read, as tollgate must (`allow_on_headers_stop_iteration`); this isolates that cost.
struct FloorRoot {
    hold: bool,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, size: usize) -> bool {
        if let Ok(Some(c)) = proxy_wasm::hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size) {
            self.hold = c.trim_ascii() == b"\"hold\"";
        }
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Floor { bytes_seen: 0, hold: self.hold }))
    }
}

struct Floor {
    bytes_seen: usize,
    hold: bool,
}

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
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
        match proxy_wasm::hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size) {
            Ok(Some(body)) => {
                // "Touch" the body so the copy cannot be optimised away.
                self.bytes_seen = self.bytes_seen.wrapping_add(body.len());
                if body.first() == Some(&0) {
                    self.bytes_seen = self.bytes_seen.wrapping_add(1);
                }
            }
            Ok(None) => {}
            Err(_) => {}
        }
        Action::Continue
    }
}
