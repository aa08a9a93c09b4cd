//! Tollgate: a proxy-wasm filter that turns Envoy (or an Istio mesh) into a self-hosted LLM gateway.
//!
//! Clients speak the OpenAI or Anthropic API to the proxy. Tollgate authenticates them with
//! virtual keys, resolves the requested `model` to a provider cluster, injects the provider's
//! credential from the proxy's environment, and rewrites path, authority and body on the way.
//!
//! # Layout
//! - [`config`]: JSON DTOs (`deny_unknown_fields`) compiled into runtime types; errors name the field.
//! - [`api`]: API dialects and front-door endpoints; `api::translate`, the translation hub (every dialect to and
//!   from the chat shape) with each dialect's translators.
//! - [`cache`]: the response cache: the key, the bounded store in shared data, the hub form answers are kept in.
//! - [`crypto`]: SHA-256, HMAC-SHA256, hex and base64, shared by the features that sign what they send.
//! - [`keys`]: virtual keys: digests, policies, O(1) lookup, SDK header forms; `index` and `source`, the key file
//!   (`auth.key_source`) parsed into one compact index in shared data that every worker reads.
//! - [`route`]: model resolution: exact names, aliases, globs, `provider/model`, weights, fallbacks; steering
//!   (`health`: the circuit breaker per target; `strategy`; `rules`: conditional routes; `select`: their composition).
//! - [`sign`]: credentials for the cloud providers: AWS SigV4 over the request as sent, Google metadata-server tokens.
//! - [`sse`]: incremental Server-Sent Events framer (pure parsing; bytes pass through unchanged).
//! - [`media`]: a response's `content-type` read as SSE, JSON or other, the one way every reader decides it.
//! - [`scan`]: a validating JSON scanner that builds nothing, for the fast paths that read a body without parsing it.
//! - [`usage`]: token usage from JSON bodies and SSE streams per provider, and estimates when it is missing.
//! - [`limits`]: rate limits, token/spend budgets and concurrency caps: CAS counters in shared data, reserve then settle;
//!   fleet rules do the same on Redis through webdis (`EVAL` commands, webdis's wire form).
//! - [`alerts`]: budget alert thresholds (a CAS marker per window and subject), spend and token anomaly
//!   detection over a moving-average baseline, alert events, Standard Webhooks signing, the webhook outbox.
//! - [`hooks`]: policy webhooks: `pre` / `post` hooks, their payloads and the answers' contract.
//! - [`redact`]: prompt redaction: detectors, mask/pseudonymize/block/audit, streaming restore.
//! - [`gateway`]: the decisions (admit on headers, plan on body, per-provider rewrite, failover handoff, and the plan
//!   when the route picks the provider) over plain data; `gateway::cloud`, Bedrock's and Vertex's paths and bodies.
//! - [`metrics`]: per-request stat updates, tags encoded in Envoy stat names.
//! - [`eventstream`]: AWS event streams (Bedrock's streaming framing): an incremental decoder checking both CRC-32s
//!   (its own IEEE table), and the bridge that hands the frames to the SSE translators.
//! - [`error`]: client-facing errors, rendered per dialect at one boundary.
//! - [`filter`]: the per-request state machines, generic over [`host::Host`]: the listener's `HttpFilter` (roles
//!   `downstream` and `guard`, the latter redaction and accounting without routing; either without the header
//!   hold when `hold_headers` is off; its response side in `http_response`) and the `UpstreamFilter`
//!   (role `upstream`) that rewrites each failover attempt; both sign for Bedrock and hold Vertex requests for their
//!   metadata-server token; `provider_faults` turns an answer the gateway
//!   cannot use into an error in the client's dialect; `key_loader` loads a key source from a root context's tick.
//! - [`policy`]: policy cases (request + expected decision) run through the filter over the
//!   in-memory `host::sim::SimHost`; the `tollgate test` command.
//! - [`host`]: the only code that names `proxy_wasm`: the `Host` trait's wasm implementation
//!   and the root/HTTP context glue (the root context's tick sends alert webhooks and loads the key source); `sim`, a pure in-memory
//!   host; a fake host for native tests.
//! - `cli` (feature `cli`): the `tollgate` command-line tool (validate, keygen, keys, test, schema).

pub mod alerts;
pub mod api;
pub mod cache;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod crypto;
pub mod error;
pub mod eventstream;
pub mod filter;
pub mod gateway;
pub mod hooks;
pub mod host;
pub mod keys;
pub mod limits;
pub mod media;
pub mod metrics;
pub mod policy;
pub mod redact;
pub mod route;
pub mod scan;
pub mod sign;
pub mod sse;
#[cfg(test)]
mod testing;
pub mod usage;

/// Crate version, reported in the `x-tollgate` response header and logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(all(target_arch = "wasm32", not(test)))]
#[allow(unsafe_code)] // `proxy_wasm::main!` expands to the `#[no_mangle]` `_initialize` export.
mod entry {
    proxy_wasm::main! {{
        crate::host::start();
    }}
}
