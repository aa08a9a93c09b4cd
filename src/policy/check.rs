//! Compares a `Decision` with an `Expect`: one readable line per mismatch.

use super::{Decision, Expect};

/// Every way `got` differs from `want`; empty when the case passes.
pub fn check(want: &Expect, got: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = want.status {
        if s != got.status {
            out.push(format!("status: expected {s}, got {}", got.status));
        }
    }
    if let Some(f) = want.forwarded {
        if f != got.forwarded {
            out.push(format!("forwarded: expected {f}, got {f2} ({})", got.summary(), f2 = got.forwarded));
        }
    }
    let needs_forward = want.provider.is_some() || want.cluster.is_some() || want.upstream_model.is_some() || want.path.is_some() || !want.body_contains.is_empty();
    if needs_forward && !got.forwarded {
        if want.forwarded.is_none() {
            out.push(format!("expected the request to be forwarded, got {}", got.summary()));
        }
        return out;
    }
    let fields = [
        ("code", &want.code, &got.code),
        ("provider", &want.provider, &got.provider),
        ("cluster", &want.cluster, &got.cluster),
        ("upstream_model", &want.upstream_model, &got.upstream_model),
        ("path", &want.path, &got.path),
    ];
    for (name, w, g) in fields {
        if let Some(w) = w {
            if Some(w) != g.as_ref() {
                out.push(format!("{name}: expected `{w}`, got {}", g.as_ref().map_or("none".to_string(), |g| format!("`{g}`"))));
            }
        }
    }
    for s in &want.body_contains {
        if !got.body.contains(s.as_str()) {
            out.push(format!("body_contains: the upstream body lacks `{s}`"));
        }
    }
    for s in &want.body_not_contains {
        if got.body.contains(s.as_str()) {
            out.push(format!("body_not_contains: the {} body contains `{s}`", if got.forwarded { "upstream" } else { "reply" }));
        }
    }
    if let Some(d) = &want.blocked_detector {
        let named = got.param.as_deref() == Some(d.as_str()) || got.message.as_deref().is_some_and(|m| m.contains(d.as_str()));
        if got.forwarded || !named {
            out.push(format!("blocked_detector: expected a refusal by `{d}`, got {}", got.summary()));
        }
    }
    if let Some(m) = &want.message_contains {
        if !got.message.as_deref().is_some_and(|g| g.contains(m.as_str())) {
            out.push(format!("message_contains: expected `{m}` in {:?}", got.message.as_deref().unwrap_or("")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn forwarded() -> Decision {
        Decision {
            status: 200,
            forwarded: true,
            provider: Some("openai".into()),
            cluster: Some("c".into()),
            upstream_model: Some("m".into()),
            path: Some("/v1/chat/completions".into()),
            body: r#"{"model":"m","messages":[{"content":"[EMAIL]"}]}"#.into(),
            ..Decision::default()
        }
    }

    #[test]
    fn passes_and_fails_per_field() {
        let want = Expect { status: Some(200), provider: Some("openai".into()), body_contains: vec!["[EMAIL]".into()], body_not_contains: vec!["a@b.c".into()], ..Expect::default() };
        assert!(check(&want, &forwarded()).is_empty());
        let want = Expect { status: Some(403), code: Some("model_not_allowed".into()), provider: Some("anthropic".into()), ..Expect::default() };
        let m = check(&want, &forwarded());
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].contains("expected 403, got 200"));
    }

    #[test]
    fn blocked_detector_names_param_or_message() {
        let d = Decision::reply(400, br#"{"error":{"message":"blocked by detector `aws_key`","type":"invalid_request_error","param":null,"code":"content_blocked"}}"#);
        assert!(check(&Expect { blocked_detector: Some("aws_key".into()), ..Expect::default() }, &d).is_empty());
        assert_eq!(check(&Expect { blocked_detector: Some("email".into()), ..Expect::default() }, &d).len(), 1);
        assert_eq!(check(&Expect { blocked_detector: Some("email".into()), ..Expect::default() }, &forwarded()).len(), 1);
        let m = check(&Expect { provider: Some("openai".into()), ..Expect::default() }, &d);
        assert!(m.len() == 1 && m[0].contains("forwarded"), "{m:?}");
    }
}
