//! Alerts: budget thresholds crossed (once per window per subject, from any worker), spend and
//! token anomalies against a moving-average baseline, the events they raise, and their signed
//! webhook delivery (Standard Webhooks) with bounded retries from the root context.

mod anomaly;
mod event;
mod marker;
mod outbox;
mod settings;
mod sign;

pub use anomaly::{Action, Anomaly, AnomalyCell, Verdict};
pub use event::{Event, EventKind};
pub use marker::{crossed, MAX_THRESHOLDS};
pub use outbox::{Answer, Outbox, Pending, MAX_QUEUED};
pub use settings::{Alerts, Webhook};
pub use sign::{headers as signed_headers, message_id, signature};
