//! Vertex AI's OAuth access tokens from the metadata server, on the request path. The token is
//! shared by all workers through shared data (`tollgate.gcp_token.<cluster>`); a request that
//! finds a fresh one sends with it, one that finds it about to expire sends with it and fetches
//! the next meanwhile, and one that finds none (the first request, or an expired token) is held
//! until the metadata server answers, or gets a 503 when it does not answer in time. A request
//! never goes to Vertex without a token. The refresh ahead of expiry rides on the request that
//! sends it: one request claims it (shared data) every few seconds of the window, and if that
//! request ends before the answer, the next claim sends another. A 401 from Vertex drops the shared token, so the next
//! request fetches a new one.

use crate::config::cloud::{Cloud, VertexAuth};
use crate::config::{Config, Credential, Provider};
use crate::error::{ApiError, ErrorKind};
use crate::gateway::Plan;
use crate::host::Host;
use crate::sign::gcp_token::{decide, parse, Token, Use, AUTHORITY, FLAVOR_HEADER, TOKEN_PATH};

/// How long a request waits for the metadata server.
const FETCH_TIMEOUT_MS: u64 = 5_000;

/// What to do with a planned request.
#[allow(clippy::large_enum_variant)] // returned once and matched at once, like `fleet::Start`
pub(super) enum Start {
    Forward(Plan),
    Wait,
    Refuse(ApiError),
}

/// A held request's plan (with its token) and body size, or the reply to send instead.
pub(super) type Resumed = (Plan, usize, Result<(), ApiError>);

#[derive(Debug)]
struct Pending {
    call: u32,
    cluster: String,
    plan: Plan,
    body_size: usize,
}

/// One request's token state.
#[derive(Debug, Default)]
pub(super) struct TokenGuard {
    /// A request held for its token.
    pending: Option<Pending>,
    /// A refresh sent ahead of expiry (its answer is stored when it comes).
    refresh: Option<(u32, String)>,
    /// The metadata cluster and token this request was sent with (for a 401).
    used: Option<(String, String)>,
}

/// The metadata cluster of a provider that takes tokens from it.
pub(super) fn metadata_cluster(p: &Provider) -> Option<&str> {
    match &p.cloud {
        Some(Cloud::Vertex { auth: VertexAuth::Metadata { cluster }, .. }) => Some(cluster),
        _ => None,
    }
}

fn key(cluster: &str) -> String {
    format!("tollgate.gcp_token.{cluster}")
}

/// The shared token for `cluster`, if any.
pub(super) fn shared(host: &impl Host, cluster: &str) -> Option<Token> {
    host.shared_get(&key(cluster)).ok().and_then(|(v, _)| v).and_then(|v| Token::decode(&v))
}

/// Stores `t` unless a token that lasts longer is there already.
fn store(host: &mut impl Host, cluster: &str, t: &Token) {
    for _ in 0..4 {
        let Ok((old, cas)) = host.shared_get(&key(cluster)) else { return };
        if old.as_deref().and_then(Token::decode).is_some_and(|o| o.expires_at > t.expires_at) {
            return;
        }
        if host.shared_set(&key(cluster), &t.encode(), cas.unwrap_or(0)).is_ok() {
            return;
        }
    }
}

fn unavailable(why: &str) -> ApiError {
    log::warn!("tollgate: no Google Cloud access token: {why}");
    ApiError::new(ErrorKind::ProviderUnavailable, "The gateway could not get a Google Cloud access token from the metadata server; retry shortly.").with_header("retry-after", "1")
}

impl TokenGuard {
    /// Puts the token in the plan's credential, or holds the request for it. A failover plan
    /// reaching a Vertex provider gets the token stored for its upstream role.
    pub(super) fn start(&mut self, host: &mut impl Host, config: &Config, mut plan: Plan, body_size: usize) -> Start {
        let providers: Vec<&Provider> = match &plan.failover {
            Some(f) => f.attempts.iter().filter_map(|a| config.provider(a.provider)).collect(),
            None => config.provider(plan.provider).into_iter().collect(),
        };
        let Some(cluster) = providers.iter().find_map(|p| metadata_cluster(p)).map(str::to_string) else { return Start::Forward(plan) };
        let now = host.now_nanos() / 1_000_000_000;
        match decide(shared(host, &cluster).as_ref(), now) {
            Use::Fresh(t) => {
                self.attach(&mut plan, &cluster, &t);
                Start::Forward(plan)
            }
            Use::Refresh(t) => {
                self.attach(&mut plan, &cluster, &t);
                if claim_refresh(host, &cluster, now) {
                    self.refresh = fetch(host, &cluster).map(|c| (c, cluster));
                }
                Start::Forward(plan)
            }
            Use::Fetch => match fetch(host, &cluster) {
                Some(call) => {
                    self.pending = Some(Pending { call, cluster, plan, body_size });
                    Start::Wait
                }
                None => Start::Refuse(unavailable("the metadata cluster cannot be reached (is it configured?)")),
            },
        }
    }

    fn attach(&mut self, plan: &mut Plan, cluster: &str, t: &Token) {
        if plan.failover.is_none() {
            plan.credential = Some(Credential { header: "authorization", value: t.bearer() });
        }
        self.used = Some((cluster.to_string(), t.access_token.clone()));
    }

    /// The metadata server's answer to callout `call`: `None` when it is not this guard's;
    /// for a held request, its plan (with the token) and body size, or the 503 to send.
    pub(super) fn answer(&mut self, host: &mut impl Host, call: u32, status: Option<u16>, body: &[u8]) -> Option<Option<Resumed>> {
        let now = host.now_nanos() / 1_000_000_000;
        if let Some((_, cluster)) = self.refresh.take_if(|(c, _)| *c == call) {
            match parse(status, body, now) {
                Ok(t) => store(host, &cluster, &t),
                Err(why) => log::warn!("tollgate: token refresh failed: {why}"),
            }
            return Some(None);
        }
        let mut p = self.pending.take_if(|p| p.call == call)?;
        let verdict = match parse(status, body, now) {
            Ok(t) => {
                store(host, &p.cluster, &t);
                self.attach(&mut p.plan, &p.cluster, &t);
                Ok(())
            }
            Err(why) => Err(unavailable(&why)),
        };
        Some(Some((p.plan, p.body_size, verdict)))
    }

    /// Whether this request went out with a metadata-server token (its status is then read).
    pub(super) fn watches(&self) -> bool {
        self.used.is_some()
    }

    /// Vertex refused the token (401): drop it from shared data, unless another request
    /// stored a newer one already.
    pub(super) fn on_status(&mut self, host: &mut impl Host, status: u16) {
        if status != 401 {
            return;
        }
        let Some((cluster, used)) = self.used.take() else { return };
        if let Ok((Some(v), cas)) = host.shared_get(&key(&cluster)) {
            if Token::decode(&v).is_some_and(|t| t.access_token == used) {
                log::info!("tollgate: Vertex refused the access token (401); the next request fetches a new one");
                let _ = host.shared_set(&key(&cluster), b"0 -", cas.unwrap_or(0));
            }
        }
    }
}

/// The upstream role's attempt at a provider taking metadata-server tokens: the shared token
/// (the downstream filter fetched it for the failover chain) as its `authorization`. `false`:
/// there is none usable, and the attempt must not go out.
pub(super) fn attach_shared(host: &mut impl Host, provider: &Provider) -> bool {
    let Some(cluster) = metadata_cluster(provider) else { return true };
    let now = host.now_nanos() / 1_000_000_000;
    match decide(shared(host, cluster).as_ref(), now) {
        Use::Fresh(t) | Use::Refresh(t) => {
            host.set_request_header("authorization", Some(&t.bearer()));
            true
        }
        Use::Fetch => false,
    }
}

/// How long one request's refresh ahead of expiry is left to finish before another request
/// sends one (it rides on its request, and is lost if that request ends first).
const REFRESH_CLAIM_SECS: u64 = 5;

/// Whether this request sends the refresh: no other one claimed it in the last few seconds
/// (shared data, compare-and-swap), so the requests of the refresh window send one, not each.
fn claim_refresh(host: &mut impl Host, cluster: &str, now: u64) -> bool {
    let key = format!("{}.refresh", key(cluster));
    let Ok((old, cas)) = host.shared_get(&key) else { return false };
    let claimed = old.and_then(|v| std::str::from_utf8(&v).ok().and_then(|s| s.parse::<u64>().ok()));
    if claimed.is_some_and(|at| now < at + REFRESH_CLAIM_SECS) {
        return false;
    }
    host.shared_set(&key, now.to_string().as_bytes(), cas.unwrap_or(0)).is_ok()
}

fn fetch(host: &mut impl Host, cluster: &str) -> Option<u32> {
    host.http_get(cluster, AUTHORITY, TOKEN_PATH, &[FLAVOR_HEADER], FETCH_TIMEOUT_MS)
}

#[cfg(test)]
#[path = "vertex_tests.rs"]
mod tests;
