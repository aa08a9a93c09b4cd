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
