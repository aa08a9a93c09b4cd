//! OpenAI-style `x-ratelimit-*` headers from the limits' states.

use super::engine::Status;
use super::rules::Kind;

/// `x-ratelimit-limit-<kind>`, `x-ratelimit-remaining-<kind>`, `x-ratelimit-reset-<kind>` for
/// each kind, from its most constrained limit (least remaining). Spend is in micro-units;
/// concurrency has no reset header. Resets are Go-style durations like OpenAI's (`6m0s`).
pub fn headers(statuses: &[Status]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for kind in [Kind::Requests, Kind::Tokens, Kind::Spend, Kind::Concurrency] {
        let Some(s) = statuses.iter().filter(|s| s.kind == kind).min_by_key(|s| s.remaining) else { continue };
        let k = kind.as_str();
        out.push((format!("x-ratelimit-limit-{k}"), s.limit.to_string()));
        out.push((format!("x-ratelimit-remaining-{k}"), s.remaining.to_string()));
        if kind != Kind::Concurrency {
            out.push((format!("x-ratelimit-reset-{k}"), duration(s.reset)));
        }
    }
    out
}

/// `59s`, `6m0s`, `1h1m1s`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn durations() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(360), "6m0s");
        assert_eq!(duration(3661), "1h1m1s");
    }

    #[test]
    fn the_tightest_limit_of_each_kind_is_reported() {
        let st = [
            Status { kind: Kind::Tokens, limit: 1000, remaining: 900, reset: 30 },
            Status { kind: Kind::Tokens, limit: 50_000, remaining: 100, reset: 3600 },
            Status { kind: Kind::Concurrency, limit: 4, remaining: 3, reset: 0 },
        ];
        let h = headers(&st);
        assert!(h.contains(&("x-ratelimit-remaining-tokens".into(), "100".into())));
        assert!(h.contains(&("x-ratelimit-reset-tokens".into(), "1h0m0s".into())));
        assert!(h.contains(&("x-ratelimit-limit-concurrency".into(), "4".into())));
        assert!(!h.iter().any(|(k, _)| k == "x-ratelimit-reset-concurrency"));
        assert!(!h.iter().any(|(k, _)| k.ends_with("-requests")));
    }
}
