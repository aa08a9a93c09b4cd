//! Rate limits, token and spend budgets, and concurrency caps over a compare-and-swap
//! [`SharedStore`]: reserve an estimate at admission, settle the real usage at the end. Fleet
//! rules do the same on Redis through webdis ([`Fleet`]).

mod counter;
mod engine;
mod fleet;
mod headers;
mod rules;
mod store;
mod webdis;
mod window;

pub use counter::{Cell, MAX_ATTEMPTS};
pub use engine::{Amounts, Held, Outcome, Rejection, Status};
pub use fleet::{settle as fleet_settle, Answer as FleetAnswer, FailureMode, Fleet, Held as FleetHeld, Reservation as FleetReservation};
pub use headers::{duration, headers};
pub use rules::{Kind, Limits, Rule, Scope, Who};
#[cfg(test)]
pub use store::MemStore;
pub use store::{SharedStore, StoreError, CREATE_CAS};
pub use window::{Period, Window};
