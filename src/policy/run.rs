//! Runs policy cases through the filter's own state machine (`HttpFilter` over `SimHost`).

use super::{check, CaseFile, Decision, RequestSpec};
use crate::config::{parse_rfc3339, Config, ConfigError};
use crate::filter::HttpFilter;
use crate::host::sim::{SimHost, SimShared};
use std::fmt::Write as _;
use std::rc::Rc;

/// The simulated proxy environment for a case file: the file's `env`, and a placeholder for any
/// other variable, so every provider has a credential unless the file says otherwise.
pub fn case_env(file: &CaseFile) -> impl Fn(&str) -> Option<String> + '_ {
    move |k: &str| Some(file.env.get(k).cloned().unwrap_or_else(|| format!("tollgate-test-{k}")))
}

/// Sends one request through a fresh `HttpFilter` (exactly the filter Envoy runs) and reads back
/// its decision: the local reply, or what it forwards upstream. `shared` is the proxy's shared
/// data (limit counters), kept from one request to the next.
pub fn simulate(config: &Rc<Config>, req: &RequestSpec, now_nanos: u64, context_id: u32, shared: &SimShared) -> Decision {
    let headers: Vec<(&str, &str)> = req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = req.body_bytes();
    let mut host = SimHost::request(&req.method, &req.path, &headers, &body, now_nanos);
    host.shared = shared.clone();
    if let crate::config::AuthMode::Jwt { filter, payload_key, claim } = &config.auth.mode {
        let path = ["metadata", "filter_metadata", filter, payload_key, claim].join("/");
        host.properties.insert(path, req.jwt_claim.clone());
    }
    let loaded_at = i64::try_from(now_nanos / 1_000_000_000).unwrap_or(0);
    let mut filter = HttpFilter::new(Some(config.clone()), context_id, loaded_at);
    filter.on_request_headers(&mut host, body.is_empty());
    if host.reply.is_none() && !body.is_empty() {
        filter.on_request_body(&mut host, body.len(), true);
    }
    let decision = match (&host.reply, filter.plan()) {
        (Some(r), _) => Decision::reply(r.status, &r.body),
        (None, Some(plan)) => Decision {
            status: 200,
            forwarded: true,
            provider: Some(plan.provider_name.clone()),
            upstream_model: Some(plan.upstream_model.clone()),
            cluster: host.header(&config.cluster_header).map(str::to_string),
            // A failover route leaves the path to the upstream role, per attempt: report the first.
            path: if plan.failover.is_some() { Some(plan.path.clone()) } else { host.header(":path").map(str::to_string) },
            body: String::from_utf8_lossy(&host.request_body).into_owned(),
            ..Decision::default()
        },
        (None, None) => Decision { message: Some("the filter neither replied nor forwarded".into()), ..Decision::default() },
    };
    filter.on_log(&mut host);
    decision
}

/// One case's outcome.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub decision: Decision,
    /// Mismatches with `expect`; empty when the case passed.
    pub failures: Vec<String>,
}

/// Every case's outcome, in file order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub results: Vec<CaseResult>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.failures.is_empty()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// The readable report: one line per case, the mismatches under a failed one, a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let mark = if r.failures.is_empty() { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "{mark}  {}", r.name);
            let _ = writeln!(out, "      got: {}", r.decision.summary());
            for f in &r.failures {
                let _ = writeln!(out, "      - {f}");
            }
        }
        let _ = writeln!(out, "policy cases: {} passed, {} failed", self.passed(), self.failed());
        out
    }
}

fn clock(at: &str, s: &Option<String>, default: u64) -> Result<u64, ConfigError> {
    match s {
        None => Ok(default),
        Some(t) => parse_rfc3339(t)
            .and_then(|secs| u64::try_from(secs).ok())
            .and_then(|secs| secs.checked_mul(1_000_000_000))
            .ok_or_else(|| ConfigError::new(at, "is not an RFC 3339 timestamp after 1970 (e.g. 2026-01-31T00:00:00Z)")),
    }
}

/// Runs every case of `file` against `config` (compiled with [`case_env`]), in order, over one
/// shared-data store (limits count across cases, as in one proxy). `now_nanos` is the clock
/// when neither the file nor the case sets `now`.
pub fn run_cases(config: &Rc<Config>, file: &CaseFile, now_nanos: u64) -> Result<Report, ConfigError> {
    let file_now = clock("now", &file.now, now_nanos)?;
    let mut report = Report::default();
    let mut context_id = 1u32;
    let shared = SimShared::default();
    for (i, case) in file.cases.iter().enumerate() {
        let now = clock(&format!("cases[{i}].now"), &case.now, file_now)?;
        let mut decision = Decision::default();
        for _ in 0..case.repeat.max(1) {
            decision = simulate(config, &case.request, now, context_id, &shared);
            context_id = context_id.wrapping_add(1);
        }
        let failures = check(&case.expect, &decision);
        report.results.push(CaseResult { name: case.name.clone(), decision, failures });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::keys::Digest;
    use crate::policy::parse_cases;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(file: &CaseFile) -> Rc<Config> {
        let json = serde_json::json!({
            "providers": [{"name": "openai", "kind": "openai", "cluster": "openai_cluster", "api_key_env": "OPENAI_API_KEY"},
                          {"name": "claude", "kind": "anthropic", "cluster": "anthropic", "api_key_env": "ANTHROPIC_API_KEY"}],
            "models": [{"name": "fast", "targets": [{"provider": "openai", "model": "gpt-4o-mini"}]},
                       {"name": "claude-*", "targets": [{"provider": "claude"}]}],
            "keys": [{"id": "team-a", "digests": [Digest::of(b"tg-a").to_string()], "models": ["fast"], "expires_at": "2030-01-01T00:00:00Z"}]
        });
        Rc::new(parse(json.to_string().as_bytes(), &case_env(file)).unwrap())
    }

    fn cases() -> CaseFile {
        parse_cases(serde_json::json!({
            "env": {"ANTHROPIC_API_KEY": ""},
            "now": "2026-06-01T00:00:00Z",
            "cases": [
                {"name": "alias goes to openai", "request": {"headers": {"Authorization": "Bearer tg-a"}, "body": {"model": "fast", "messages": []}},
                 "expect": {"status": 200, "provider": "openai", "cluster": "openai_cluster", "upstream_model": "gpt-4o-mini", "path": "/v1/chat/completions", "body_contains": ["\"gpt-4o-mini\""]}},
                {"name": "not allowed", "request": {"headers": {"authorization": "Bearer tg-a"}, "body": {"model": "claude-3"}},
                 "expect": {"status": 403, "code": "model_not_allowed", "forwarded": false}},
                {"name": "expired later", "now": "2031-01-01T00:00:00Z", "request": {"headers": {"authorization": "Bearer tg-a"}, "body": {"model": "fast"}},
                 "expect": {"status": 401, "code": "invalid_api_key"}},
                {"name": "wrong on purpose", "request": {"path": "/v1/messages", "headers": {"x-api-key": "nope"}, "body": {"model": "fast"}},
                 "expect": {"status": 200, "provider": "openai"}}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn runs_cases_through_the_filter() {
        let file = cases();
        let report = run_cases(&config(&file), &file, 0).unwrap();
        let fails: Vec<usize> = report.results.iter().map(|r| r.failures.len()).collect();
        assert_eq!(fails, [0, 0, 0, 2], "{}", report.render());
        assert_eq!(report.results[3].decision.code.as_deref(), Some("authentication_error"), "Anthropic shape on /v1/messages");
        let text = report.render();
        assert!(text.contains("PASS  alias goes to openai") && text.contains("FAIL  wrong on purpose"), "{text}");
        assert!(text.ends_with("policy cases: 3 passed, 1 failed\n"), "{text}");
    }

    #[test]
    fn env_placeholders_and_unavailable_providers() {
        let file = parse_cases(serde_json::json!({"env": {"ANTHROPIC_API_KEY": ""}, "cases": []})).unwrap();
        let c = config(&file);
        assert!(c.providers[0].available());
        assert!(!c.providers[1].available());
    }

    #[test]
    fn bad_clock_names_the_case() {
        let file = parse_cases(serde_json::json!({"cases": [{"name": "x", "now": "soon", "request": {}, "expect": {}}]})).unwrap();
        assert_eq!(run_cases(&config(&file), &file, 0).unwrap_err().field, "cases[0].now");
    }
}
