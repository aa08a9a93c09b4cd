//! The compiled `alerts` section: where events go, and the anomaly rules.

use super::anomaly::Anomaly;
use std::fmt;

/// Alerting, as configured (default: no webhook, no anomaly rule; budget thresholds live on
/// the limits' rules).
#[derive(Debug, Default)]
pub struct Alerts {
    pub webhook: Option<Webhook>,
    pub anomalies: Vec<Anomaly>,
}

/// The webhook events are POSTed to, through an Envoy cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    /// The signing key (the secret's bytes), read from the proxy's environment at load.
    pub key: Option<Vec<u8>>,
    /// The environment variable the secret comes from.
    pub secret_env: String,
    /// Per attempt.
    pub timeout_ms: u64,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each next one.
    pub backoff_ms: u64,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("cluster", &self.cluster)
            .field("path", &self.path)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("timeout_ms", &self.timeout_ms)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl Alerts {
    pub fn is_empty(&self) -> bool {
        self.webhook.is_none() && self.anomalies.is_empty()
    }
}
