//! Prompt redaction: built-in detectors (hand-written scanners), custom patterns and deny lists;
//! mask, pseudonymize, block or audit the text the model reads; restore pseudonyms in answers.
//!
//! - [`scan`]: byte helpers; [`contact`] (email), [`phone`], [`financial`], [`network`],
//!   [`secrets`]: the built-in detectors by family; [`context`]: the phone detector's context
//!   words; [`custom`]: operator regexes and deny lists.
//! - [`detector`]: detector names and [`Action`]s; [`engine`]: the compiled [`Redactor`] that
//!   runs the rules over a text and resolves overlaps; [`pseudonym`]: the per-request table.
//! - [`body`]: request walkers per dialect, over either document of [`node`]: the owned
//!   `serde_json::Value` or the borrowed [`doc`] of the pre-scan; [`request`]: the policy on a
//!   request body; [`restore`] and [`response`]: the streaming restore.

pub mod body;
pub mod contact;
pub mod context;
pub mod custom;
pub mod detector;
pub mod doc;
pub mod engine;
pub mod financial;
pub mod network;
pub mod node;
pub mod phone;
pub mod pseudonym;
pub mod request;
pub mod response;
pub mod restore;
pub mod scan;
pub mod secrets;

pub use body::{redact_body, BodyKind, Uninspectable};
pub use detector::{Action, Builtin};
pub use engine::{Detector, Findings, OnError, Redactor, Rule};
pub use response::{restore_json, SseRestorer, StreamDialect};
pub use request::{apply, precheck};
pub use restore::Restorer;
