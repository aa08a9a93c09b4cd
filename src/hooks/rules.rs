//! Compiled policy hooks and which request each applies to.

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before planning: may allow, deny or modify the request.
    Pre,
    /// On the answer: may deny a JSON answer; audit only for streams.
    Post,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pre => "pre",
            Stage::Post => "post",
        }
    }
}

/// What to do when the service does not answer in time or answers something unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Refuse the request (503 `policy_unavailable`); the default.
    Closed,
    /// Let it through as if allowed.
    Open,
}

/// One hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Stable id: names the hook's metrics and is sent in the payload.
    pub id: String,
    pub stage: Stage,
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout_ms: u64,
    pub failure_mode: FailureMode,
    /// Requested model names or route names it applies to; empty: all.
    pub models: Vec<String>,
    /// Key ids it applies to; empty: all.
    pub keys: Vec<String>,
}

impl Hook {
    /// Applies to a request for `models` (the names the model goes by) by key `key`.
    pub fn applies(&self, models: &[&str], key: &str) -> bool {
        (self.models.is_empty() || self.models.iter().any(|m| models.contains(&m.as_str()))) && (self.keys.is_empty() || self.keys.iter().any(|k| k == key))
    }
}

/// Every hook, by stage, in configuration order; the first that applies runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    pub pre: Vec<Hook>,
    pub post: Vec<Hook>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.pre.is_empty() && self.post.is_empty()
    }

    /// The hook of `stage` that applies, if any.
    pub fn find(&self, stage: Stage, models: &[&str], key: &str) -> Option<&Hook> {
        let list = match stage {
            Stage::Pre => &self.pre,
            Stage::Post => &self.post,
        };
        list.iter().find(|h| h.applies(models, key))
    }
}
