//! Policy cases: declarative requests with expected decisions, run through the filter's own
//! state machine over the in-memory [`crate::host::sim::SimHost`] (the `tollgate test` command).

mod case;
mod check;
mod decision;
mod run;

pub use case::{parse_cases, Case, CaseFile, Expect, RequestSpec};
pub use check::check;
pub use decision::Decision;
pub use run::{case_env, run_cases, simulate, CaseResult, Report};
