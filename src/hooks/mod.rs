//! Policy webhooks: custom policies without changing tollgate. A `pre` hook sends the client's
//! request to an HTTP service before it is planned; the service allows it, denies it (the
//! status and message the client gets, in its dialect), or returns modified messages, which
//! then go on through redaction and translation. A `post` hook sends the JSON answer (for a
//! stream, the assembled text at its end, as audit only). Each hook has a timeout and a
//! `failure_mode`. The wire contract is in `wire` and docs/policy-webhooks.md.

mod rules;
mod text;
mod wire;

pub use rules::{FailureMode, Hook, Hooks, Stage};
pub use text::StreamText;
pub use wire::{decide, post_payload, pre_payload, Decision, Failure};
