//! An in-memory MLflow tracking server and model registry that answers like a real
//! `mlflow server` of the release the profile names (2.9.2, 3.9.0, or 3.17.2, the newest
//! measured) for the calls the suite makes: shapes, status codes and error bodies follow
//! `shared/reference/mlflow-real.md`, and `tests/mlflow_contract.rs` compares it with a real
//! server of each release.
//!
//! By concern: `routes` (which endpoint a path is, its methods, the dispatch), `catalogued`
//! (the release's other endpoints, answered from its endpoint catalogue), `params`
//! (request validation as MLflow does it), `store` (the objects and the handlers that
//! change and search them), `artifacts` (the artifact service), `logged` (MLflow 3's
//! logged models), `reply` (rendering the
//! answers and error bodies), `v2` (where MLflow 2.9.2 answers differently from 3.x),
//! `v3_9` (where 3.9.0 answers differently from 3.17.2).

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

mod artifacts;
mod catalogued;
mod logged;
mod params;
mod reply;
mod routes;
mod store;
mod v2;
mod v3_9;

use params::*;
use reply::*;
use store::*;

pub use crate::config::{MlflowMajor, MlflowRelease};
pub use reply::{MlErr, MlflowReply};

type MlResult = Result<MlflowReply, MlErr>;

/// The server's whole state.
#[derive(Debug)]
pub struct MlflowStore {
    /// The release it answers like.
    pub(crate) release: MlflowRelease,
    /// Its major.
    pub(crate) major: MlflowMajor,
    experiments: BTreeMap<u64, Experiment>,
    next_experiment: u64,
    runs: HashMap<String, Run>,
    models: BTreeMap<String, RegisteredModel>,
    artifacts: BTreeMap<String, Vec<u8>>,
    /// MLflow 3's logged models, by id.
    logged_models: BTreeMap<String, logged::LoggedModel>,
    /// The `duplicate-versions` breakage (set by the proxy for each request).
    pub duplicate_versions: bool,
}

impl Default for MlflowStore {
    fn default() -> Self {
        Self::new(MlflowRelease::NEWEST)
    }
}

impl MlflowStore {
    /// An empty server (only the `Default` experiment) answering like `release`.
    pub fn new(release: MlflowRelease) -> Self {
        let major = release.major();
        let now = now_ms();
        let mut experiments = BTreeMap::new();
        experiments.insert(
            0,
            Experiment {
                id: 0,
                name: "Default".into(),
                lifecycle_stage: "active",
                creation_time: now,
                last_update_time: now,
                tags: vec![],
            },
        );
        Self {
            release,
            major,
            experiments,
            next_experiment: 1,
            runs: HashMap::new(),
            models: BTreeMap::new(),
            artifacts: BTreeMap::new(),
            logged_models: BTreeMap::new(),
            duplicate_versions: false,
        }
    }
}

impl MlflowStore {
    /// Bytes of all artifacts stored.
    pub fn artifact_bytes(&self) -> u64 {
        self.artifacts.values().map(|b| b.len() as u64).sum()
    }
}

/// How the server is reached and configured, for one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext {
    /// MLflow runs with `--serve-artifacts` (the default).
    pub artifacts_disabled: bool,
    /// The request came through the public host, where `/api/2.0/...` belongs to the API
    /// service and only `/ajax-api/2.0/...` reaches MLflow.
    pub via_public_host: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(s: &mut MlflowStore, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (q, b): (Vec<(String, String)>, Vec<u8>) = if method == "GET" {
            let q = body
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_owned)))
                        .collect()
                })
                .unwrap_or_default();
            (q, vec![])
        } else {
            (vec![], serde_json::to_vec(&body).unwrap())
        };
        let r = s.handle(
            method,
            path,
            &q,
            Some("application/json"),
            &b,
            RequestContext::default(),
        );
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn versions_are_strings_and_monotonic_after_delete() {
        let mut s = MlflowStore::default();
        let base = "/api/2.0/mlflow/";
        assert_eq!(
            call(
                &mut s,
                "POST",
                &format!("{base}registered-models/create"),
                json!({"name": "m"})
            )
            .0,
            200
        );
        for want in ["1", "2"] {
            let (st, v) = call(
                &mut s,
                "POST",
                &format!("{base}model-versions/create"),
                json!({"name": "m", "source": "s3://b/x"}),
            );
            assert_eq!(
                (st, v["model_version"]["version"].as_str()),
                (200, Some(want))
            );
        }
        call(
            &mut s,
            "DELETE",
            &format!("{base}model-versions/delete"),
            json!({"name": "m", "version": "2"}),
        );
        let (_, v) = call(
            &mut s,
            "POST",
            &format!("{base}model-versions/create"),
            json!({"name": "m", "source": "s3://b/x"}),
        );
        assert_eq!(v["model_version"]["version"], "3");
    }

    #[test]
    fn empty_search_is_an_empty_object_and_max_results_is_required() {
        let mut s = MlflowStore::default();
        let (st, v) = call(
            &mut s,
            "GET",
            "/api/2.0/mlflow/registered-models/search",
            json!({"filter": "name = 'none'"}),
        );
        assert_eq!((st, v), (200, json!({})));
        let (st, v) = call(
            &mut s,
            "GET",
            "/api/2.0/mlflow/experiments/search",
            json!({}),
        );
        assert_eq!(st, 400);
        assert_eq!(v["error_code"], "INVALID_PARAMETER_VALUE");
    }

    #[test]
    fn unknown_route_and_wrong_method_are_html() {
        let mut s = MlflowStore::default();
        let r = s.handle(
            "GET",
            "/api/2.0/mlflow/nope",
            &[],
            None,
            &[],
            RequestContext::default(),
        );
        assert_eq!(
            (r.status, r.content_type),
            (404, "text/html; charset=utf-8")
        );
        let r = s.handle(
            "GET",
            "/api/2.0/mlflow/experiments/create",
            &[],
            None,
            &[],
            RequestContext::default(),
        );
        assert_eq!(r.status, 405);
    }
}
