//! How one check works: a [`CheckSpec`] names it and points at an async function that
//! drives a [`Check`] (which sends requests and keeps the evidence) and returns `Ok(())` or a
//! [`Failure`]. Running a spec yields a [`CheckResult`], the record the report is built from.
//!
//! The catalogue of checks lives in [`crate::checks`], one module per area.

mod cleanup;
pub mod inject;
pub mod plan;
mod record;
mod result;
mod run;
pub mod runner;
pub mod verdict;

// What a check records and how it fails live on the floor below (`crate::evidence`), shared
// with the MLflow client and the fixtures; re-exported here for the checks.
pub use crate::evidence::{
    Component, Evidence, EvidenceSink, Failure, Line, Observer, ResultExt, Symptom, ensure,
    ensure_eq, line as contract, symptom,
};
pub use record::{json_files_in, read_json_files, read_run_dir, record};
pub use result::{CheckResult, MatrixCell, MatrixColumn, Outcome, Rerun};
pub use run::{Check, CheckFn, CheckFuture, CheckSpec, Effect, Need, Sender, UPLOADED};
