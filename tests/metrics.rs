//! Real-Envoy test of tollgate's stats: exact values in `/stats/prometheus` after known requests,
//! with the tags that `stats_tags` turns into labels.

mod support;

use support::envoy::{Envoy, Gateway};
use support::http_client::post_json;
use support::mock_provider::*;
use tollgate::keys::Digest;

fn metric(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
    scrape.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let (n, rest) = series.split_once('{').unwrap_or((series, ""));
        (n == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))).then(|| value.parse::<f64>().ok().map(|f| f as u64))?
    })
}

#[test]
fn prometheus_scrape_has_exact_request_and_token_counts() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let config = format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}},
                          {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}}],
             "models": [{{"name": "gpt-4o-mini", "targets": [{{"provider": "openai"}}]}},
                        {{"name": "claude-*", "targets": [{{"provider": "anthropic"}}]}}],
             "keys": [{{"id": "team-a", "tenant": "acme", "digests": ["{}"]}}]}}"#,
        Digest::of(b"tg-a")
    );
    let yaml = Gateway { config: &config, clusters: &[("openai", openai.port()), ("anthropic", anthropic.port())], pre_filters: "", env_keys: &[] }.yaml();
    let envoy = Envoy::start(&yaml);
    let auth = [("authorization", "Bearer tg-a")];
    let chat = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..3 {
        assert_eq!(post_json(envoy.port, "/v1/chat/completions", &auth, &chat).unwrap().status, 200);
    }
    let claude = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(post_json(envoy.port, "/v1/messages", &auth, &claude).unwrap().status, 200);
    assert_eq!(post_json(envoy.port, "/v1/chat/completions", &[("authorization", "Bearer nope")], &chat).unwrap().status, 401);
    envoy.wait_access_log(5);
    let scrape = envoy.admin("/stats/prometheus").unwrap();
    let gpt = [("model", "gpt-4o-mini"), ("provider", "openai"), ("tenant", "acme"), ("status_class", "2xx")];
    let at = |name: &str, labels: &[(&str, &str)]| metric(&scrape, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} missing in:\n{}", scrape.lines().filter(|l| l.contains("tollgate")).collect::<Vec<_>>().join("\n")));
    assert_eq!(at("tollgate_requests", &gpt), 3);
    assert_eq!(at("tollgate_tokens_input", &gpt), 3 * OPENAI_PROMPT_TOKENS);
    assert_eq!(at("tollgate_tokens_output", &gpt), 3 * OPENAI_COMPLETION_TOKENS);
    assert_eq!(at("tollgate_tokens_cached", &gpt), 3 * OPENAI_CACHED_TOKENS);
    let claude_labels = [("model", "claude-_"), ("provider", "anthropic"), ("status_class", "2xx")];
    assert_eq!(at("tollgate_tokens_output", &claude_labels), ANTHROPIC_OUTPUT_TOKENS);
    assert_eq!(at("tollgate_requests", &[("model", "-"), ("status_class", "4xx")]), 1);
    // Histograms reach the admin endpoint at the stats flush (0.2 s in the test bootstrap).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let scrape = loop {
        let s = envoy.admin("/stats/prometheus").unwrap();
        if metric(&s, "tollgate_time_to_first_token_ms_count", &gpt) == Some(3) || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(metric(&scrape, "tollgate_request_duration_ms_count", &gpt), Some(3));
    assert_eq!(metric(&scrape, "tollgate_time_to_first_token_ms_count", &gpt), Some(3));
    assert_eq!(metric(&scrape, "tollgate_output_tokens_count", &gpt), Some(3));
}

#[test]
fn scrape_and_access_log_agree_after_a_scripted_mix() {
    use support::http_client::request_streamed;
    let openai = MockProvider::start();
    let config = r#"{"providers": [{"name": "openai", "kind": "openai", "cluster": "openai"}],
                     "models": [{"name": "gpt-4o-mini", "targets": [{"provider": "openai"}]}],
                     "auth": {"mode": "none"}}"#;
    let yaml = Gateway { config, clusters: &[("openai", openai.port())], pre_filters: "", env_keys: &[] }.yaml();
    let envoy = Envoy::start(&yaml);
    let chat = |stream: bool| serde_json::json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "Tell me about lighthouses and their keepers."}]}).to_string();
    // Exact: two JSON answers and two streams (usage requested by the gateway).
    for _ in 0..2 {
        assert_eq!(post_json(envoy.port, "/v1/chat/completions", &[], &serde_json::from_str(&chat(false)).unwrap()).unwrap().status, 200);
        assert!(request_streamed(envoy.port, "POST", "/v1/chat/completions", &[], chat(true).as_bytes()).unwrap().complete);
    }
    // Estimated: a provider that ignores include_usage, and a stream cut mid-way.
    assert!(request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("x-mock-no-usage", "1")], chat(true).as_bytes()).unwrap().complete);
    assert!(!request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("x-mock-cut-after-events", "3")], chat(true).as_bytes()).unwrap().complete);
    let log = envoy.wait_access_log(6);
    let num = |l: &serde_json::Value, k: &str| l[k].as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or_else(|| panic!("{k} in {l}"));
    let exact: Vec<_> = log.iter().filter(|l| l["usage_estimated"] == "false").collect();
    let estimated: Vec<_> = log.iter().filter(|l| l["usage_estimated"] == "true").collect();
    assert_eq!((exact.len(), estimated.len()), (4, 2), "{log:?}");
    for l in &exact {
        assert_eq!((num(l, "prompt_tokens"), num(l, "completion_tokens")), (OPENAI_PROMPT_TOKENS, OPENAI_COMPLETION_TOKENS), "the mock's figures");
    }
    // The estimator's figures, recomputed here from the same inputs.
    let body: serde_json::Value = serde_json::from_str(&chat(true)).unwrap();
    let prompt_estimate = tollgate::usage::estimate_prompt_tokens(&body);
    for l in &estimated {
        assert_eq!(num(l, "prompt_tokens"), prompt_estimate, "{l}");
        assert!(num(l, "completion_tokens") > 0);
    }
    let sum = |k: &str| log.iter().map(|l| num(l, k)).sum::<u64>();
    let labels = [("model", "gpt-4o-mini"), ("provider", "openai"), ("status_class", "2xx")];
    let scrape = envoy.admin("/stats/prometheus").unwrap();
    assert_eq!(metric(&scrape, "tollgate_requests", &labels), Some(6));
    assert_eq!(metric(&scrape, "tollgate_tokens_input", &labels), Some(sum("prompt_tokens")), "scrape = access log");
    assert_eq!(metric(&scrape, "tollgate_tokens_output", &labels), Some(sum("completion_tokens")));
    assert_eq!(metric(&scrape, "tollgate_usage_estimated", &labels), Some(2));
}
