//! Prompt redaction: built-in detectors (hand-written scanners), custom patterns and deny lists;
//! mask, pseudonymize, block or audit the text the model reads; restore pseudonyms in answers.
//!
//! - [`scan`]: byte helpers; [`contact`], [`financial`], [`network`], [`secrets`]: the built-in
//!   detectors by family; [`custom`]: operator regexes and deny lists.
//! - [`detector`]: detector names and [`Action`]s; [`engine`]: the compiled [`Redactor`] that
//!   runs the rules over a text and resolves overlaps; [`pseudonym`]: the per-request table.
//! - [`body`]: request walkers per dialect; [`restore`] and [`response`]: the streaming restore.

pub mod body;
pub mod contact;
pub mod custom;
pub mod detector;
pub mod engine;
pub mod financial;
pub mod network;
pub mod pseudonym;
pub mod response;
pub mod restore;
pub mod scan;
pub mod secrets;

pub use body::{redact_body, BodyKind, Uninspectable};
pub use detector::{Action, Builtin};
pub use engine::{Detector, Findings, OnError, Redactor, Rule};
pub use response::{restore_json, SseRestorer, StreamDialect};
pub use restore::Restorer;

use crate::api::Endpoint;
use crate::error::{ApiError, ErrorKind};
use serde_json::Value;

/// Runs the request's redaction on the parsed client body, before any translation. `Ok(true)`
/// when the body changed and must be re-serialized. Refuses blocked bodies, and (unless the
/// policy fails open) bodies too large or shaped so that text would escape the scan.
pub fn apply(r: Option<&Redactor>, endpoint: Endpoint, body_len: usize, json: &mut Value, findings: &mut Findings) -> Result<bool, ApiError> {
    let Some(r) = r else { return Ok(false) };
    let kind = match endpoint {
        Endpoint::ChatCompletions => BodyKind::OpenAiChat,
        Endpoint::Embeddings => BodyKind::OpenAiEmbeddings,
        Endpoint::Messages => BodyKind::Anthropic,
        Endpoint::Models => return Ok(false),
    };
    let uninspectable = |why: String| -> Result<bool, ApiError> {
        match r.on_error {
            OnError::Refuse => Err(ApiError::new(ErrorKind::NotInspectable, why)),
            OnError::Forward => Ok(false),
        }
    };
    if body_len > r.max_bytes {
        return uninspectable(format!("The request body exceeds the {} bytes the gateway's redaction inspects.", r.max_bytes));
    }
    let changed = match redact_body(r, kind, json, findings) {
        Ok(c) => c,
        Err(Uninspectable(field)) => return uninspectable(format!("The gateway cannot inspect `{field}` in this shape.")),
    };
    if let Some(rule) = findings.blocked.and_then(|i| r.rules.get(i)) {
        return Err(ApiError::new(ErrorKind::ContentBlocked, format!("The request was blocked by the gateway's `{}` detector.", rule.name())));
    }
    Ok(changed)
}
