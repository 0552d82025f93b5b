//! A small typed MLflow REST client and the contract's registration workflow.
//!
//! Why not an existing crate (e.g. `trs-mlflow`)? The suite needs what those hide: the raw
//! status, MLflow's `error_code`, whether an error body was HTML (a proxy or MLflow route
//! problem), both URL spellings (`api/2.0` and `ajax-api/2.0`), mounting under the proxy's
//! `/api/mlflow/` prefix with an API key, every call recorded as check evidence, and
//! streamed artifact bodies. A thin client over the suite's own HTTP layer does all that.

mod client;
pub mod endpoints;
mod error;
pub mod janitor;
pub mod naming;
mod types;
pub mod workflow;

pub use client::{ApiPrefix, MlflowClient};
pub use error::{MLFLOW_ERROR_CODES, MlflowError};
pub use types::*;
