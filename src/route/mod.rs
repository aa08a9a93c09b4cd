//! Model resolution: exact names, aliases, globs, `provider/model`, weights and fallback order;
//! steering: circuit breakers per target (`health`), strategies, conditional rules (`select`).

mod glob;
pub mod health;
pub mod record;
mod router;
pub mod rules;
pub mod select;
pub mod strategy;

pub use glob::Glob;
pub use router::{Attempt, Resolution, Route, Router, Target};
