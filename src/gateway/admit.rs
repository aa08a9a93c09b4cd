//! Request-headers decision: which endpoint, who the caller is, and whether to let them in.

use crate::api::Endpoint;
use crate::config::{AuthMode, Config};
use crate::error::{ApiError, ErrorKind};
use crate::keys::index::{self, Lookup};
use crate::keys::{presented_key, Digest, KeyPolicy, TimeCheck};
use std::rc::Rc;

/// What the headers phase knows about a request.
pub struct Head<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Looks up a request header by lower-case name.
    pub header: &'a dyn Fn(&str) -> Option<&'a str>,
    /// Values of the configured JWT claim (auth mode `jwt`), read from Envoy's metadata.
    pub principals: &'a [String],
    /// Unix seconds, from the host clock.
    pub now: i64,
    /// Reads shared data (the key source's index).
    pub shared: &'a dyn Fn(&str) -> Option<Vec<u8>>,
}

/// The caller, as accounting and policy see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Auth mode `none`.
    Anonymous,
    /// Index of the caller's key policy in the config.
    Key(usize),
    /// A key from the key source's shared index, decoded for this request.
    Indexed(Rc<KeyPolicy>),
}

impl Identity {
    /// The caller's key policy (none when anonymous).
    pub fn policy<'a>(&'a self, config: &'a Config) -> Option<&'a KeyPolicy> {
        match self {
            Identity::Key(i) => config.keys.get(*i),
            Identity::Indexed(p) => Some(p),
            Identity::Anonymous => None,
        }
    }
}

/// An admitted request, waiting for its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub endpoint: Endpoint,
    pub identity: Identity,
    /// Anthropic's `?beta=true` was on the path (passed on to an Anthropic provider).
    pub beta: bool,
}

/// Why a key was refused, for the log line (never sent to the client, which sees one message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Unknown,
    Disabled,
    NotYetValid,
    Expired,
    /// The key source's index is not loaded yet.
    Loading,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Unknown => "unknown",
            Refusal::Disabled => "disabled",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::Expired => "expired",
            Refusal::Loading => "keys_loading",
        }
    }
}

/// A request refused in the headers phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The endpoint, when the path named one (it fixes the error's dialect).
    pub endpoint: Option<Endpoint>,
    pub error: ApiError,
    /// Why a key was refused, for the log line only.
    pub refusal: Option<Refusal>,
}

/// Classifies the endpoint and authenticates the caller. Errors carry the dialect-neutral
/// `ApiError`; the caller renders it in the endpoint's dialect.
pub fn admit(config: &Config, head: &Head<'_>) -> Result<Admission, Rejection> {
    let endpoint = Endpoint::from_path(head.path).ok_or_else(|| {
        let error = ApiError::new(ErrorKind::UnknownEndpoint, format!("Unknown endpoint {} {}.", head.method, path_only(head.path)));
        Rejection { endpoint: None, error, refusal: None }
    })?;
    if !head.method.eq_ignore_ascii_case(endpoint.method()) {
        let msg = format!("{} is not allowed on this endpoint; use {}.", head.method, endpoint.method());
        return Err(Rejection { endpoint: Some(endpoint), error: ApiError::new(ErrorKind::MethodNotAllowed, msg), refusal: None });
    }
    let identity = authenticate(config, head).map_err(|r| {
        if r == Refusal::Loading {
            let error = ApiError::new(ErrorKind::KeysUnavailable, "API keys are still loading; retry in a moment.").with_header("retry-after", "1");
            return Rejection { endpoint: Some(endpoint), error, refusal: Some(r) };
        }
        let msg = match r {
            Refusal::Missing => "Missing API key. Send it as `Authorization: Bearer <key>` or `x-api-key`.",
            _ => "Invalid API key provided.",
        };
        Rejection { endpoint: Some(endpoint), error: ApiError::new(ErrorKind::InvalidApiKey, msg), refusal: Some(r) }
    })?;
    let beta = endpoint.dialect() == crate::api::Dialect::Anthropic && head.path.contains("beta=true");
    Ok(Admission { endpoint, identity, beta })
}

fn authenticate(config: &Config, head: &Head<'_>) -> Result<Identity, Refusal> {
    let found = match &config.auth.mode {
        AuthMode::None => return Ok(Identity::Anonymous),
        AuthMode::Keys => {
            let key = presented_key(&config.auth.headers, head.header).ok_or(Refusal::Missing)?;
            let digest = Digest::of(key.as_bytes());
            config.keys.by_digest(&digest).ok_or_else(|| vec![digest])
        }
        AuthMode::Jwt { .. } => {
            if head.principals.is_empty() {
                return Err(Refusal::Missing);
            }
            head.principals.iter().find_map(|p| config.keys.by_principal(p)).ok_or_else(|| head.principals.iter().map(|p| index::principal_digest(p)).collect())
        }
    };
    let identity = match found {
        Ok(i) => Identity::Key(i),
        Err(digests) => indexed(config, head, &digests)?,
    };
    let policy = identity.policy(config).ok_or(Refusal::Unknown)?;
    match policy.check(head.now) {
        TimeCheck::Valid => Ok(identity),
        TimeCheck::Disabled => Err(Refusal::Disabled),
        TimeCheck::NotYetValid => Err(Refusal::NotYetValid),
        TimeCheck::Expired => Err(Refusal::Expired),
    }
}

/// A key the config does not list, looked up in the key source's index.
fn indexed(config: &Config, head: &Head<'_>, digests: &[Digest]) -> Result<Identity, Refusal> {
    let Some(src) = &config.auth.key_source else { return Err(Refusal::Unknown) };
    for d in digests {
        match index::lookup(&src.prefix, d, head.now, head.shared) {
            Lookup::Found(p) => return Ok(Identity::Indexed(Rc::new(p))),
            Lookup::Absent => {}
            Lookup::NotLoaded => return Err(Refusal::Loading),
        }
    }
    Err(Refusal::Unknown)
}

fn path_only(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::keys::Digest;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config() -> Config {
        let json = format!(
            r#"{{"keys": [
                {{"id": "ok", "digests": ["{}"]}},
                {{"id": "off", "digests": ["{}"], "disabled": true}},
                {{"id": "old", "digests": ["{}"], "expires_at": "2020-01-01T00:00:00Z"}},
                {{"id": "new", "digests": ["{}"], "not_before": "2100-01-01T00:00:00Z"}}
            ]}}"#,
            Digest::of(b"tg-ok"),
            Digest::of(b"tg-off"),
            Digest::of(b"tg-old"),
            Digest::of(b"tg-new")
        );
        parse(json.as_bytes(), &|_| None).unwrap()
    }

    fn run(c: &Config, method: &str, path: &str, auth: Option<&'static str>) -> Result<Admission, Rejection> {
        let header = move |n: &str| if n == "authorization" { auth } else { None };
        admit(c, &Head { method, path, header: &header, principals: &[], now: 1_800_000_000, shared: &|_| None })
    }

    #[test]
    fn keys() {
        let c = config();
        assert_eq!(run(&c, "POST", "/v1/chat/completions", Some("Bearer tg-ok")).unwrap().identity, Identity::Key(0));
        for (auth, why) in [(None, Refusal::Missing), (Some("Bearer nope"), Refusal::Unknown), (Some("Bearer tg-off"), Refusal::Disabled), (Some("Bearer tg-old"), Refusal::Expired), (Some("Bearer tg-new"), Refusal::NotYetValid)] {
            let r = run(&c, "POST", "/v1/messages", auth).unwrap_err();
            assert_eq!((r.endpoint, r.error.kind, r.refusal), (Some(Endpoint::Messages), ErrorKind::InvalidApiKey, Some(why)));
        }
    }

    #[test]
    fn same_message_for_unknown_and_disabled() {
        let c = config();
        let a = run(&c, "POST", "/v1/chat/completions", Some("Bearer nope")).unwrap_err().error;
        let b = run(&c, "POST", "/v1/chat/completions", Some("Bearer tg-off")).unwrap_err().error;
        assert_eq!(a.message, b.message);
    }

    #[test]
    fn endpoints_and_methods() {
        let c = config();
        assert_eq!(run(&c, "GET", "/v2/x", None).unwrap_err().error.kind, ErrorKind::UnknownEndpoint);
        assert_eq!(run(&c, "GET", "/v1/chat/completions", Some("Bearer tg-ok")).unwrap_err().error.kind, ErrorKind::MethodNotAllowed);
        assert_eq!(run(&c, "GET", "/v1/models", Some("Bearer tg-ok")).unwrap().endpoint, Endpoint::Models);
    }

    #[test]
    fn jwt_principals() {
        let json = r#"{"auth": {"mode": "jwt"}, "keys": [{"id": "alice", "principals": ["alice@example.com"]}]}"#;
        let c = parse(json.as_bytes(), &|_| None).unwrap();
        let none = |_: &str| None;
        let ok = vec!["alice@example.com".to_string()];
        let head = |p: &'static [String]| Head { method: "POST", path: "/v1/chat/completions", header: &none, principals: p, now: 0, shared: &|_| None };
        let ok: &'static [String] = Box::leak(ok.into_boxed_slice());
        assert_eq!(admit(&c, &head(ok)).unwrap().identity, Identity::Key(0));
        assert_eq!(admit(&c, &head(&[])).unwrap_err().refusal, Some(Refusal::Missing));
        let bad: &'static [String] = Box::leak(vec!["mallory".to_string()].into_boxed_slice());
        assert_eq!(admit(&c, &head(bad)).unwrap_err().refusal, Some(Refusal::Unknown));
    }
}
