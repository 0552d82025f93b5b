//! The floor under every layer that talks to the platform: what a check sees and how it
//! fails, as data. The MLflow client, the fixtures, the stand-in's consumers and the check
//! runner all record into these types; none of them is imported from a layer above
//! (`check` builds on this, never the other way round).
//!
//! - [`Evidence`] and [`EvidenceSink`]: one record per request, classified as it is recorded;
//! - [`Symptom`] and [`Observer`]: what an answer shows, typed (root-cause rules read only these);
//! - [`Failure`]: why a check did not pass (failed, blocked, skipped, …) and `ensure`;
//! - [`Line`] and [`Component`] (from [`crate::catalogue`]): the contract lines checks
//!   verify and the parts that own them.

mod failure;
mod sink;
pub mod symptom;

// The contract lines and components are vocabulary (`crate::catalogue`); re-exported here
// beside the evidence that names them.
pub use crate::catalogue::{Component, Line, line};
pub use failure::{Failure, ResultExt, ensure, ensure_eq};
pub use sink::{Evidence, EvidenceSink};
pub use symptom::{Observer, Symptom, Timeouts};
