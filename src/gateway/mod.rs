//! The gateway's decisions over plain request data: admit a request, then plan where it goes.
//! The filter applies these decisions through the host; tools and tests call them directly.

mod admit;
pub mod cloud;
mod handoff;
pub mod head;
mod models;
mod on_route;
mod plan;
mod rewrite;
mod steer;

pub use admit::{admit, Admission, Head, Identity, Refusal, Rejection};
pub use models::models_list;
pub use on_route::{plan_on_route, route_target, RouteTarget};
pub use handoff::{Handoff, ATTEMPT_HEADER};
pub use plan::{plan, plan_redacted, plan_steered, Failover, Plan};
pub use rewrite::{rewrite, translation, Rewrite};
