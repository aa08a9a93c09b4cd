//! The gateway's decisions over plain request data: admit a request, then plan where it goes.
//! The filter applies these decisions through the host; tools and tests call them directly.

mod admit;
mod models;
mod plan;

pub use admit::{admit, Admission, Head, Identity, Refusal, Rejection};
pub use models::models_list;
pub use plan::{plan, plan_redacted, Plan};
