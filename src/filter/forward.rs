//! Sending an admitted, planned request on: cluster, path, authority and credential headers,
//! the rewritten body, and the request's filter-state exports.

use super::exports::{Exports, FilterStateName};
use crate::config::{Config, Credential, ProviderKind, Role};
use crate::gateway::{Admission, Plan};
use crate::host::Host;

/// Applies `plan` to the request: its headers when they are `held` (without the hold they went
/// with the route's provider already) and, when rewritten, its body.
/// In role `guard` the route's cluster, path, authority and credential stay as they came.
#[allow(clippy::too_many_arguments)]
pub(super) fn apply(host: &mut impl Host, config: &Config, exports: &mut Exports, admission: &Admission, plan: &Plan, body_size: usize, restores: bool, held: bool) {
    let guard = config.role == Role::Guard;
    if held && reads_response(config, plan, restores) {
        // The response is parsed here, so it must come uncompressed.
        host.set_request_header("accept-encoding", None);
    }
    if held && !guard {
        route(host, config, plan);
    }
    // Bedrock takes Anthropic's beta flags in the body.
    let routed = (held && !guard && plan.failover.is_none()).then(|| config.provider(plan.provider)).flatten();
    let beta = routed.and_then(|p| super::signing::with_beta(host, p, &plan.upstream_model, plan.body.as_deref()?));
    if let Some(b) = beta.as_ref().or(plan.body.as_ref()) {
        // Held headers still carry the new length, so the upstream gets a plain body rather
        // than a chunked one; an unchanged body keeps the client's.
        if held {
            host.set_request_header("content-length", Some(&b.len().to_string()));
        }
        host.replace_request_body(body_size, b);
    }
    // Signed over the body as it leaves (the failover's attempts are signed upstream).
    if let Some(p) = routed.filter(|p| super::signing::signs(p)) {
        let sent = beta.or_else(|| plan.body.clone()).or_else(|| host.request_body(body_size)).unwrap_or_default();
        super::signing::sign(host, p, &plan.path, &sent);
    }
    if let Some(p) = admission.identity.policy(config) {
        exports.set(host, config, FilterStateName::KeyId, &p.id);
        if let Some(t) = &p.tenant {
            exports.set(host, config, FilterStateName::Tenant, t);
            if let (true, Some(h)) = (held, &config.auth.tenant_header) {
                host.set_request_header(h, Some(t));
            }
        }
    }
    if guard {
        if !plan.requested_model.is_empty() {
            exports.set(host, config, FilterStateName::RequestedModel, &plan.requested_model);
        }
        return;
    }
    exports.set(host, config, FilterStateName::RequestedModel, &plan.requested_model);
    exports.set(host, config, FilterStateName::Provider, &plan.provider_name);
    exports.set(host, config, FilterStateName::UpstreamModel, &plan.upstream_model);
}

/// The request's route to the planned provider: the cluster, and the path, authority,
/// credential and version headers or (runtime failover) the hand-off the upstream role
/// rewrites each attempt from.
fn route(host: &mut impl Host, config: &Config, plan: &Plan) {
    host.set_request_header(&config.cluster_header, Some(&plan.cluster));
    if let Some(f) = &plan.failover {
        // The upstream role sets path, authority and credential per attempt.
        let mut handoff = f.handoff.clone();
        handoff.path = host.request_header(":path").unwrap_or_default();
        handoff.authority = host.request_header(":authority").unwrap_or_default();
        host.set_filter_state(FilterStateName::Handoff.as_str(), &handoff.encode());
    } else {
        provider_headers(host, &plan.path, plan.authority.as_deref(), plan.credential.as_ref(), plan.provider_kind);
    }
}

/// The headers that reach one provider: its `:path`, `:authority` (when it sets one), the
/// credential, and (Anthropic) the API version the client did not give.
pub(super) fn provider_headers(host: &mut impl Host, path: &str, authority: Option<&str>, credential: Option<&Credential>, kind: ProviderKind) {
    host.set_request_header(":path", Some(path));
    if let Some(a) = authority {
        host.set_request_header(":authority", Some(a));
    }
    if let Some(c) = credential {
        host.set_request_header(c.header, Some(&c.value));
    }
    if kind == ProviderKind::Anthropic && host.request_header("anthropic-version").is_none() {
        host.set_request_header("anthropic-version", Some("2023-06-01"));
    }
}

/// Whether anything looks at the response (status, type, body): otherwise its headers are left
/// unread and the client's `accept-encoding` goes to the provider untouched. `restores`: the
/// request's redaction made pseudonyms to put back (a request it left alone, or only masked,
/// has nothing to restore, so redaction alone does not read the answer).
pub(super) fn reads_response(config: &Config, plan: &Plan, restores: bool) -> bool {
    plan.translation.is_some() || plan.stream || restores || config.accounting || config.telemetry.stats
}
