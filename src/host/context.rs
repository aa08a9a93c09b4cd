//! proxy-wasm root and HTTP contexts: load the config, then hand each callback to `HttpFilter`.

use super::wasm::WasmHost;
use super::Host;
use crate::config::{self, Config, Role};
use crate::filter::{Flow, HttpFilter, UpstreamFilter};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel};
use std::rc::Rc;

/// Registers the root context; called once per VM from `_initialize`.
pub fn start() {
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|id| Box::new(Root { id, config: None, loaded_at: 0 }));
}

struct Root {
    id: u32,
    config: Option<Rc<Config>>,
    loaded_at: i64,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let bytes = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size) {
            Ok(b) => b.unwrap_or_default(),
            Err(s) => {
                log::error!("tollgate: cannot read plugin configuration: {s:?}");
                return false;
            }
        };
        let env = |name: &str| std::env::var(name).ok();
        match config::parse(&bytes, &env) {
            Ok(c) => {
                for p in c.providers.iter().filter(|p| !p.available()) {
                    if let Some(var) = &p.credential_env {
                        log::warn!("tollgate: provider `{}` is unavailable: environment variable {var} is not set", p.name);
                    }
                }
                log::info!(
                    "tollgate {} configured ({:?} role): {} providers, {} keys",
                    crate::VERSION,
                    c.role,
                    c.providers.len(),
                    c.keys.len()
                );
                self.loaded_at = i64::try_from(WasmHost::default().now_nanos() / 1_000_000_000).unwrap_or(0);
                self.config = Some(Rc::new(c));
                true
            }
            Err(e) => {
                log::error!("tollgate: {e}");
                false
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        if self.config.as_ref().is_some_and(|c| c.role == Role::Upstream) {
            return Some(Box::new(Upstream { filter: UpstreamFilter::new(self.config.clone(), context_id), host: WasmHost::default() }));
        }
        Some(Box::new(Http { filter: HttpFilter::new(self.config.clone(), context_id, self.loaded_at), host: WasmHost::for_context(context_id, self.id) }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Http {
    filter: HttpFilter,
    host: WasmHost,
}

fn action(flow: Flow) -> Action {
    match flow {
        Flow::Continue => Action::Continue,
        Flow::Pause => Action::Pause,
    }
}

/// Runs one callback, then sends the header writes it queued.
fn phase(host: &mut WasmHost, f: impl FnOnce(&mut WasmHost) -> Flow) -> Action {
    let flow = f(host);
    host.flush();
    action(flow)
}

/// The response-headers callback: the request headers went upstream (never touched again), and
/// the response header map is good for this callback only.
fn response_headers_phase(host: &mut WasmHost, f: impl FnOnce(&mut WasmHost) -> Flow) -> Action {
    host.forget_request();
    let flow = f(host);
    host.flush();
    host.forget_response();
    action(flow)
}

impl Context for Http {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let (status, body) = WasmHost::callout_answer(body_size);
        self.filter.on_callout(&mut self.host, token_id, status, &body);
        self.host.flush();
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        phase(&mut self.host, |h| self.filter.on_request_headers(h, end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        phase(&mut self.host, |h| self.filter.on_request_body(h, body_size, end_of_stream))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let action = response_headers_phase(&mut self.host, |h| self.filter.on_response_headers(h));
        // The head waits only for a body to come; without one it would wait forever.
        if end_of_stream { Action::Continue } else { action }
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        phase(&mut self.host, |h| self.filter.on_response_body(h, body_size, end_of_stream))
    }

    fn on_log(&mut self) {
        self.filter.on_log(&mut self.host);
    }
}

/// The `upstream` role: one context per attempt.
struct Upstream {
    filter: UpstreamFilter,
    host: WasmHost,
}

impl Context for Upstream {}

impl HttpContext for Upstream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        phase(&mut self.host, |h| self.filter.on_request_headers(h, end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        phase(&mut self.host, |h| self.filter.on_request_body(h, body_size, end_of_stream))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        response_headers_phase(&mut self.host, |h| self.filter.on_response_headers(h))
    }
}
