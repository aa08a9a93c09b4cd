//! The plan handed from the downstream filter to the upstream role through filter state
//! (`wasm.tollgate.handoff`, which an upstream filter reads as property `tollgate.handoff`):
//! the client's path and authority, and every attempt's provider and upstream model. Envoy
//! shares one request header map across attempts, so each attempt rewrites from these
//! originals rather than from what the previous attempt left.

use serde::{Deserialize, Serialize};

/// The response header the upstream role sets to name the provider that answered; the
/// downstream filter reads and removes it.
pub const ATTEMPT_HEADER: &str = "x-tollgate-attempt";

/// What every attempt is rewritten from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Handoff {
    /// The client's `:path`.
    pub path: String,
    /// The client's `:authority`.
    pub authority: String,
    /// `(provider name, upstream model)` per attempt, in order.
    pub targets: Vec<(String, String)>,
}

impl Handoff {
    pub fn new<'a>(path: &str, authority: &str, targets: impl Iterator<Item = (&'a str, &'a str)>) -> Handoff {
        Handoff {
            path: path.to_string(),
            authority: authority.to_string(),
            targets: targets.map(|(p, m)| (p.to_string(), m.to_string())).collect(),
        }
    }

    /// One line of JSON.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for a malformed value.
    pub fn decode(value: &str) -> Option<Handoff> {
        serde_json::from_str(value).ok()
    }

    /// The upstream model for the first attempt at `provider`.
    pub fn model_for(&self, provider: &str) -> Option<&str> {
        self.targets.iter().find(|(p, _)| p == provider).map(|(_, m)| m.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn round_trip() {
        let h = Handoff::new("/v1/messages", "gw", [("openai", "gpt-4o-mini"), ("anthropic", "claude \"x\""), ("openai", "other")].into_iter());
        let v = h.encode();
        assert!(!v.contains('\n'));
        let back = Handoff::decode(&v).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.model_for("openai"), Some("gpt-4o-mini"));
        assert_eq!(back.model_for("anthropic"), Some("claude \"x\""));
        assert_eq!(back.model_for("gemini"), None);
        assert_eq!(Handoff::decode("nope"), None);
        assert_eq!(Handoff::decode(r#"{"path": "/", "authority": "", "targets": [["a"]]}"#), None);
    }
}
