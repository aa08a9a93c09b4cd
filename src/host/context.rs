//! proxy-wasm root and HTTP contexts: load the config, then hand each callback to `HttpFilter`.

use super::wasm::WasmHost;
use super::webhook::SharedOutbox;
use super::Host;
use crate::config::{self, Config, Role};
use crate::filter::key_loader::{Answer, KeyLoader};
use crate::filter::{Flow, HttpFilter, UpstreamFilter};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel};
use std::rc::Rc;

/// Registers the root context; called once per VM from `_initialize`.
pub fn start() {
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|id| Box::new(Root { id, config: None, loaded_at: 0, outbox: None, keys: None }));
}

struct Root {
    id: u32,
    config: Option<Rc<Config>>,
    loaded_at: i64,
    /// This worker's alert webhook outbox (with a webhook configured), drained on the tick.
    outbox: Option<SharedOutbox>,
    /// This VM's side of the key source (`auth.key_source`): it may be the one that loads it.
    keys: Option<KeyLoader>,
}

/// A value telling this VM from the others of the process (WASI randomness via `RandomState`,
/// and the clock).
fn vm_owner() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(WasmHost::default().now_nanos());
    h.finish()
}

impl Context for Root {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        if let Some(loader) = self.keys.as_mut().filter(|l| l.owns(token_id)) {
            let answer = Answer { status: WasmHost::callout_status(), header: &WasmHost::callout_header, body_size, body: &WasmHost::callout_body };
            loader.answered(&mut WasmHost::default(), token_id, &answer);
            return;
        }
        let (Some(outbox), Some(hook)) = (&self.outbox, self.config.as_ref().and_then(|c| c.alerts.webhook.as_ref())) else { return };
        let (status, _) = WasmHost::callout_answer(0);
        super::webhook::answered(outbox, hook, token_id, status);
    }
}

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
                if c.alerts.webhook.is_some() {
                    if self.outbox.is_none() {
                        self.outbox = Some(SharedOutbox::default());
                    }
                } else {
                    self.outbox = None;
                }
                match &c.auth.key_source {
                    Some(src) if self.keys.as_ref().is_some_and(|l| l.source() == src) => {}
                    Some(src) => self.keys = Some(KeyLoader::new(src.clone(), vm_owner())),
                    None => self.keys = None,
                }
                if self.outbox.is_some() || self.keys.is_some() {
                    self.set_tick_period(super::webhook::TICK);
                }
                self.config = Some(Rc::new(c));
                true
            }
            Err(e) => {
                log::error!("tollgate: {e}");
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if let Some(loader) = self.keys.as_mut() {
            loader.tick(&mut WasmHost::default());
        }
        let (Some(outbox), Some(hook)) = (&self.outbox, self.config.as_ref().and_then(|c| c.alerts.webhook.as_ref())) else { return };
        if !outbox.borrow().is_idle() {
            super::webhook::tick(self, outbox, hook);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        if self.config.as_ref().is_some_and(|c| c.role == Role::Upstream) {
            return Some(Box::new(Upstream { filter: UpstreamFilter::new(self.config.clone(), context_id), host: WasmHost::default() }));
        }
        Some(Box::new(Http { filter: HttpFilter::new(self.config.clone(), context_id, self.loaded_at), host: WasmHost::for_context(context_id, self.id).with_outbox(self.outbox.clone()) }))
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
