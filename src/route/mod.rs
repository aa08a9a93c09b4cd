//! Model resolution: exact names, aliases, globs, `provider/model`, weights and fallback order.

mod glob;
mod router;

pub use glob::Glob;
pub use router::{Attempt, Resolution, Route, Router, Target};
