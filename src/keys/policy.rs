//! A key's policy: identity, tenant, validity window and model allow-list.

use crate::route::Glob;
use std::collections::BTreeMap;

/// What a key (or a JWT principal) may do, and who it is in accounting.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    pub id: String,
    pub tenant: Option<String>,
    pub models: Vec<Glob>,
    pub disabled: bool,
    /// Unix seconds.
    pub not_before: Option<i64>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub labels: BTreeMap<String, String>,
}

/// Why a known key is not usable right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeCheck {
    Valid,
    Disabled,
    NotYetValid,
    Expired,
}

impl KeyPolicy {
    /// Checks the disabled flag and the validity window at `now` (Unix seconds).
    pub fn check(&self, now: i64) -> TimeCheck {
        if self.disabled {
            TimeCheck::Disabled
        } else if self.not_before.is_some_and(|t| now < t) {
            TimeCheck::NotYetValid
        } else if self.expires_at.is_some_and(|t| now >= t) {
            TimeCheck::Expired
        } else {
            TimeCheck::Valid
        }
    }

    /// Whether the allow-list admits the requested model name (or the route it resolved to).
    pub fn allows(&self, requested: &str, route_name: Option<&str>) -> bool {
        self.models.iter().any(|g| g.matches(requested) || route_name.is_some_and(|r| g.matches(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn policy(models: &[&str]) -> KeyPolicy {
        KeyPolicy {
            id: "k".into(),
            tenant: None,
            models: models.iter().map(|m| Glob::new(m)).collect(),
            disabled: false,
            not_before: Some(100),
            expires_at: Some(200),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn window() {
        let p = policy(&["*"]);
        assert_eq!(p.check(99), TimeCheck::NotYetValid);
        assert_eq!(p.check(100), TimeCheck::Valid);
        assert_eq!(p.check(199), TimeCheck::Valid);
        assert_eq!(p.check(200), TimeCheck::Expired);
        let d = KeyPolicy { disabled: true, ..policy(&["*"]) };
        assert_eq!(d.check(150), TimeCheck::Disabled);
    }

    #[test]
    fn allow_list() {
        let p = policy(&["gpt-4o*", "fast"]);
        assert!(p.allows("gpt-4o-mini", None));
        assert!(p.allows("fast", None));
        assert!(!p.allows("claude-3", None));
        assert!(p.allows("alias-x", Some("fast")));
        assert!(!policy(&[]).allows("gpt-4o", None));
    }
}
