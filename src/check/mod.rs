//! How one check works: a [`CheckSpec`] names it and points at an async function that
//! drives a [`Check`] (which sends requests and keeps the evidence) and returns `Ok(())` or a
//! [`Failure`]. Running a spec yields a [`CheckResult`], the record the report is built from.
//!
//! The catalogue of checks lives in [`crate::checks`], one module per area.

mod cleanup;
pub mod contract;
pub mod inject;
pub mod plan;
mod record;
mod result;
mod run;
pub mod runner;
pub mod symptom;

pub use contract::Line;
pub use record::{json_files_in, read_json_files, read_run_dir, record};
pub use result::{CheckResult, Component, Evidence, EvidenceSink, Outcome};
pub use run::{
    Check, CheckFn, CheckFuture, CheckSpec, Failure, Need, ResultExt, Sender, UPLOADED, ensure,
    ensure_eq,
};
pub use symptom::{Observer, Symptom};
