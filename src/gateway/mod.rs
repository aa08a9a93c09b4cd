//! The gateway's decisions over plain request data: admit a request, then plan where it goes.
//! The filter applies these decisions through the host; tools and tests call them directly.

mod admit;
mod handoff;
pub mod head;
mod models;
mod plan;
mod rewrite;

pub use admit::{admit, Admission, Head, Identity, Refusal, Rejection};
pub use models::models_list;
pub use handoff::{Handoff, ATTEMPT_HEADER};
pub use plan::{plan, plan_redacted, Failover, Plan};
pub use rewrite::{rewrite, translation, Rewrite};
