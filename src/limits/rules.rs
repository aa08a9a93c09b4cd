//! Compiled limits: what is counted, for whom, over which window, up to what.

use super::fleet::Fleet;
use super::window::Window;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Requests started in the window.
    Requests,
    /// Tokens (prompt + completion): the estimate is reserved, the real usage settled.
    Tokens,
    /// Cost in micro-units of the pricing currency, reserved and settled like tokens.
    Spend,
    /// Requests in flight at once.
    Concurrency,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "requests" => Some(Kind::Requests),
            "tokens" => Some(Kind::Tokens),
            "spend" => Some(Kind::Spend),
            "concurrency" => Some(Kind::Concurrency),
            _ => None,
        }
    }

    /// Suffix of the `x-ratelimit-*-<name>` headers and of metric names.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Requests => "requests",
            Kind::Tokens => "tokens",
            Kind::Spend => "spend",
            Kind::Concurrency => "concurrency",
        }
    }
}

/// Whose counter a limit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One counter per key id (anonymous callers share the subject `-`).
    Key,
    /// One counter per tenant; keys without a tenant are not limited by it.
    Tenant,
}

/// One limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable id; part of the counter's key, so counters survive reloads that keep it.
    pub id: String,
    pub scope: Scope,
    /// Key ids or tenants this limit applies to; empty: all.
    pub subjects: Vec<String>,
    /// Applies only to requests for this model (requested name, route or upstream name).
    pub model: Option<String>,
    pub kind: Kind,
    /// `None` for concurrency.
    pub window: Option<Window>,
    /// Requests, tokens, micro-units or concurrent requests.
    pub limit: u64,
    /// Count, and report what would be rejected, without rejecting.
    pub shadow: bool,
    /// Budget alert thresholds in basis points of `limit` (0.8 is 8000), ascending.
    pub alerts: Vec<u32>,
}

/// The caller and the request, as far as limits care.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// Key id, `-` for anonymous callers.
    pub key: &'a str,
    pub tenant: Option<&'a str>,
    /// Names the request's model goes by (requested, route, upstream).
    pub models: &'a [&'a str],
}

impl Rule {
    /// The subject this rule counts `who` under, when it applies.
    pub fn subject<'a>(&self, who: &Who<'a>) -> Option<&'a str> {
        if let Some(m) = &self.model {
            if !who.models.contains(&m.as_str()) {
                return None;
            }
        }
        let s = match self.scope {
            Scope::Key => who.key,
            Scope::Tenant => who.tenant?,
        };
        (self.subjects.is_empty() || self.subjects.iter().any(|x| x == s)).then_some(s)
    }
}

/// All limits of a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Rules counted in this Envoy's shared data.
    pub rules: Vec<Rule>,
    /// Rules counted in the fleet's store (`"store": "fleet"`), with the store's settings.
    pub fleet: Option<Fleet>,
    /// Completion tokens reserved when the request sets no `max_tokens`.
    pub default_completion_tokens: u64,
}

impl Limits {
    /// No limit applies to anything.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Some token or spend limit applies to `who` (so the request needs an estimate).
    pub fn needs_estimate(&self, who: &Who<'_>) -> bool {
        needs_estimate(&self.rules, who)
    }
}

/// Some token or spend rule of `rules` applies to `who`.
pub(super) fn needs_estimate(rules: &[Rule], who: &Who<'_>) -> bool {
    rules.iter().any(|r| matches!(r.kind, Kind::Tokens | Kind::Spend) && r.subject(who).is_some())
}
