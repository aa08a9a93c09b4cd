//! The router: resolves a requested model to an ordered list of attempts (provider + upstream model).

use super::health::Breaker;
use super::rules::Facts;
use super::select::{Policy, Signals};
use super::strategy::Strategy;
use super::Glob;
use crate::usage::cost::PriceTable;
use std::collections::HashMap;

/// One place a route can send a request.
#[derive(Debug, Clone)]
pub struct Target {
    /// Index into `Config::providers`.
    pub provider: usize,
    /// Upstream model name; `None` keeps the requested name.
    pub model: Option<String>,
    pub weight: u32,
    /// Prompt plus output tokens the target can take; `None`: unbounded.
    pub context_window: Option<u64>,
}

/// A configured model route (an exact name, an alias or a glob).
#[derive(Debug)]
pub struct Route {
    pub name: Glob,
    pub targets: Vec<Target>,
    pub fallbacks: Vec<Target>,
    /// Runtime failover through this (aggregate) Envoy cluster.
    pub failover_cluster: Option<String>,
    /// Strategy and conditional rules (plain weights when default).
    pub policy: Policy,
}

impl Route {
    /// Whether resolving this route needs [`Router::steer`]: a strategy, rules, context
    /// windows, or (with the breaker on) more than one place to go.
    pub fn steered(&self, breaker: bool) -> bool {
        self.policy.strategy != Strategy::Weighted
            || !self.policy.rules.is_empty()
            || self.targets.iter().chain(&self.fallbacks).any(|t| t.context_window.is_some())
            || (breaker && self.targets.len() + self.fallbacks.len() > 1)
    }

    /// Whether steering reads the body (token counts, tools, images).
    pub fn reads_body(&self) -> bool {
        self.policy.rules.iter().any(|r| r.when.reads_body())
            || self.targets.iter().chain(&self.fallbacks).chain(self.policy.rules.iter().flat_map(|r| &r.targets)).any(|t| t.context_window.is_some())
    }
}

/// One attempt: a provider and the model name to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub provider: usize,
    pub model: String,
}

/// The outcome of resolving a model name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The route's name (alias or glob), or `None` for a `provider/model` request.
    pub route: Option<String>,
    /// The chosen target first, then the other targets, then the fallbacks.
    pub attempts: Vec<Attempt>,
    /// Set when the route fails over at runtime through an aggregate Envoy cluster.
    pub failover_cluster: Option<String>,
}

/// All routes, indexed for lookup.
#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
    exact: HashMap<String, usize>,
    globs: Vec<usize>,
    providers: HashMap<String, usize>,
    /// The circuit breaker of every target of a route with more than one, when configured.
    breaker: Option<Breaker>,
    /// Some route is steered (see [`Route::steered`]).
    any_steered: bool,
    /// Provider indexes per upstream model named in some target: the targets whose health,
    /// latency and load are tracked (a name a client chose, on a glob route, is not: unbounded).
    tracked: HashMap<String, Vec<usize>>,
}

impl Router {
    /// Builds the router; names are unique (checked by the config compiler).
    pub fn new(routes: Vec<Route>, providers: HashMap<String, usize>) -> Router {
        let mut exact = HashMap::new();
        let mut globs = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            if r.name.is_literal() {
                exact.insert(r.name.as_string(), i);
            } else {
                globs.push(i);
            }
        }
        let any_steered = routes.iter().any(|r| r.steered(false));
        let mut tracked: HashMap<String, Vec<usize>> = HashMap::new();
        for r in &routes {
            for t in r.targets.iter().chain(&r.fallbacks).chain(r.policy.rules.iter().flat_map(|x| &x.targets)) {
                if let Some(m) = &t.model {
                    tracked.entry(m.clone()).or_default().push(t.provider);
                }
            }
        }
        Router { routes, exact, globs, providers, breaker: None, any_steered, tracked }
    }

    /// This router with the circuit breaker on.
    pub fn with_breaker(mut self, breaker: Option<Breaker>) -> Router {
        self.breaker = breaker;
        self.any_steered = self.routes.iter().any(|r| r.steered(breaker.is_some()));
        self
    }

    /// Whether `provider`'s `model` is a configured target, whose state is tracked.
    pub fn tracks(&self, provider: usize, model: &str) -> bool {
        self.tracked.get(model).is_some_and(|ps| ps.contains(&provider))
    }

    pub fn breaker(&self) -> Option<&Breaker> {
        self.breaker.as_ref()
    }

    /// The route `requested` resolves to when it needs steering (see [`Route::steered`]).
    pub fn steered_route(&self, requested: &str) -> Option<&Route> {
        if !self.any_steered {
            return None;
        }
        self.route_of(requested).filter(|r| r.steered(self.breaker.is_some()))
    }

    fn route_of(&self, requested: &str) -> Option<&Route> {
        self.exact.get(requested).or_else(|| self.globs.iter().find(|&&i| self.routes[i].name.matches(requested))).map(|&i| &self.routes[i])
    }

    /// Resolves through a steered `route`: rules, context windows, strategy and breaker (see
    /// [`super::select`]). With a failover cluster, the aggregate keeps the request only when the
    /// route's first target goes first; otherwise the request goes straight to the chosen one.
    /// `prices` rank targets for the cost strategy.
    pub fn steer(&self, route: &Route, requested: &str, facts: &Facts<'_>, seed: u64, prices: &PriceTable, signals: &mut dyn Signals) -> Resolution {
        let attempts = super::select::order(&route.policy, &route.targets, &route.fallbacks, self.breaker.as_ref(), prices, requested, facts, seed, signals);
        let first = route.targets.first().map(|t| attempt(t, requested));
        let failover_cluster = route.failover_cluster.clone().filter(|_| attempts.first() == first.as_ref());
        Resolution { route: Some(route.name.as_string()), attempts, failover_cluster }
    }

    /// Exact names and aliases, for `/v1/models`.
    pub fn listed_names(&self) -> impl Iterator<Item = String> + '_ {
        self.routes.iter().filter(|r| r.name.is_literal()).map(|r| r.name.as_string())
    }

    /// Resolves `requested`: exact name or alias, then globs in config order, then `provider/model`.
    /// `seed` picks among weighted targets (any uniformly spread number).
    pub fn resolve(&self, requested: &str, seed: u64) -> Option<Resolution> {
        if let Some(route) = self.route_of(requested) {
            return Some(Resolution {
                route: Some(route.name.as_string()),
                attempts: order(route, requested, seed),
                failover_cluster: route.failover_cluster.clone(),
            });
        }
        let (provider, model) = requested.split_once('/')?;
        let &p = self.providers.get(provider)?;
        if model.is_empty() {
            return None;
        }
        Some(Resolution { route: None, attempts: vec![Attempt { provider: p, model: model.to_string() }], failover_cluster: None })
    }
}

fn attempt(t: &Target, requested: &str) -> Attempt {
    Attempt { provider: t.provider, model: t.model.clone().unwrap_or_else(|| requested.to_string()) }
}

/// Weighted choice first, the remaining targets in config order, then the fallbacks.
fn order(route: &Route, requested: &str, seed: u64) -> Vec<Attempt> {
    if let ([only], []) = (route.targets.as_slice(), route.fallbacks.as_slice()) {
        // The common route: one target, nothing to weigh or fall back to.
        return vec![attempt(only, requested)];
    }
    let total: u64 = route.targets.iter().map(|t| u64::from(t.weight)).sum();
    let mut chosen = 0;
    if total > 0 {
        let mut point = seed % total;
        for (i, t) in route.targets.iter().enumerate() {
            let w = u64::from(t.weight);
            if point < w {
                chosen = i;
                break;
            }
            point -= w;
        }
    }
    let mut out = Vec::with_capacity(route.targets.len() + route.fallbacks.len());
    if let Some(t) = route.targets.get(chosen) {
        out.push(attempt(t, requested));
    }
    for (i, t) in route.targets.iter().enumerate() {
        if i != chosen {
            out.push(attempt(t, requested));
        }
    }
    out.extend(route.fallbacks.iter().map(|t| attempt(t, requested)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn t(provider: usize, model: Option<&str>, weight: u32) -> Target {
        Target { provider, model: model.map(str::to_string), weight, context_window: None }
    }

    fn router() -> Router {
        let routes = vec![
            Route { name: Glob::new("gpt-4o-mini"), targets: vec![t(0, None, 1)], fallbacks: vec![t(1, Some("claude-haiku"), 1)], failover_cluster: None, policy: Policy::default() },
            Route { name: Glob::new("fast"), targets: vec![t(0, Some("gpt-4o-mini"), 3), t(1, Some("claude-haiku"), 1)], fallbacks: vec![], failover_cluster: None, policy: Policy::default() },
            Route { name: Glob::new("claude-*"), targets: vec![t(1, None, 1)], fallbacks: vec![], failover_cluster: None, policy: Policy::default() },
            Route { name: Glob::new("*"), targets: vec![t(2, None, 1)], fallbacks: vec![], failover_cluster: None, policy: Policy::default() },
        ];
        let providers = [("openai".to_string(), 0), ("anthropic".to_string(), 1), ("local".to_string(), 2)].into_iter().collect();
        Router::new(routes, providers)
    }

    #[test]
    fn exact_with_fallback() {
        let r = router().resolve("gpt-4o-mini", 0).unwrap();
        assert_eq!(r.route.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(r.attempts, vec![Attempt { provider: 0, model: "gpt-4o-mini".into() }, Attempt { provider: 1, model: "claude-haiku".into() }]);
    }

    #[test]
    fn weights_split_three_to_one() {
        let router = router();
        let firsts: Vec<usize> = (0..400).map(|s| router.resolve("fast", s).unwrap().attempts[0].provider).collect();
        assert_eq!(firsts.iter().filter(|&&p| p == 0).count(), 300);
        // the other target is still there, as the next attempt
        assert_eq!(router.resolve("fast", 3).unwrap().attempts[1].provider, 0);
    }

    #[test]
    fn globs_then_catch_all() {
        let r = router();
        assert_eq!(r.resolve("claude-sonnet-4-5", 0).unwrap().attempts[0], Attempt { provider: 1, model: "claude-sonnet-4-5".into() });
        assert_eq!(r.resolve("llama3", 0).unwrap().attempts[0].provider, 2);
    }

    #[test]
    fn provider_prefix() {
        let r = Router::new(vec![], [("anthropic".to_string(), 1)].into_iter().collect());
        let res = r.resolve("anthropic/claude-sonnet-4-5", 0).unwrap();
        assert_eq!(res.route, None);
        assert_eq!(res.attempts, vec![Attempt { provider: 1, model: "claude-sonnet-4-5".into() }]);
        assert!(r.resolve("nobody/x", 0).is_none());
        assert!(r.resolve("anthropic/", 0).is_none());
        assert!(r.resolve("plain", 0).is_none());
    }
}
