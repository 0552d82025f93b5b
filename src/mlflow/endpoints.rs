//! Every REST endpoint an MLflow release serves, as MLflow itself describes it.
//!
//! MLflow publishes no OpenAPI description (mlflow issue 6086); it does publish its API as
//! protobuf services with HTTP endpoints, `since` versions and required fields, and its
//! server registers its routes from them (`mlflow.server.handlers.get_endpoints()`).
//! `python/mlflow_endpoints.py` reads both from a venv of each release and writes
//! `platform/mlflow-endpoints/<release>.json`, with, per endpoint, a probe request the
//! endpoint's own handler answers without writing and what a real server of the release
//! answered it (proven there: the store is read after every probe). `tests/mlflow_endpoints.rs`
//! regenerates the files in `make test` and fails on a difference.

use crate::config::MlflowRelease;
use serde::Deserialize;

/// One release's endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The release, as `mlflow.__version__` says it.
    pub release: String,
    /// How many rows (one per method and `/api/` path).
    pub endpoints: usize,
    /// What the seeded store held before and after every probe (unchanged).
    pub store: Store,
    pub rows: Vec<Endpoint>,
}

/// The objects in the probed server's store: the same before and after the probes.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub experiments: u64,
    pub runs: u64,
    pub registered_models: u64,
    pub model_versions: u64,
    pub artifact_files: u64,
    pub artifact_bytes: u64,
}

/// One REST endpoint: a method on an `/api/` path (its `/ajax-api/` twin is implied).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub method: String,
    /// As the server registers it, Flask's `<param>` placeholders kept.
    pub path: String,
    /// The protobuf service and RPC, when the endpoint is declared in one (every MLflow
    /// endpoint the contract's spellings reach is).
    pub service: Option<String>,
    pub rpc: Option<String>,
    /// The release line that introduced it (`2.0`, `3.0`).
    pub since: Option<String>,
    /// Request fields MLflow validates as required.
    pub required: Vec<String>,
    /// Whether the call changes the store (a GET, a search, get, batch-get, query or
    /// calculation reads; everything else writes).
    pub writes: bool,
    pub probe: Probe,
    /// What the real server of this release answered the probe.
    pub answer: Answer,
    /// What it answered the same probe under `/ajax-api/2.0/`, where that differs (no
    /// release the suite knows differs: the generator sends both and records only this).
    #[serde(default)]
    pub ajax_answer: Option<Answer>,
}

/// A request the endpoint's own handler answers without writing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// The path with its parameters filled with an id that does not exist.
    pub path: String,
    pub query: String,
    pub body: Option<String>,
    pub content_type: Option<String>,
}

/// Status and MLflow's `error_code` (never message text).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub status: u16,
    pub error_code: Option<String>,
}

impl Endpoint {
    /// The release's answer to the probe under the `ajax-api` prefix or the `api` one.
    pub fn answer_under(&self, ajax: bool) -> &Answer {
        match &self.ajax_answer {
            Some(a) if ajax => a,
            _ => &self.answer,
        }
    }

    /// The path after `/api/2.0/`, when the endpoint lives under one of the two 2.0
    /// prefixes every spelling of the contract (section 3) reaches: `mlflow/…` and
    /// `mlflow-artifacts/…`. MLflow 3's `/api/3.0/` routes, `/graphql` and `/server-info`
    /// are outside every spelling.
    pub fn under_api_2_0(&self) -> Option<&str> {
        self.path
            .strip_prefix("/api/2.0/")
            .filter(|rest| rest.starts_with("mlflow/") || rest.starts_with("mlflow-artifacts/"))
    }

    /// The endpoint family (`experiments`, `runs`, `registered-models`, `mlflow-artifacts`,
    /// …): the report's rows.
    pub fn family(&self) -> &str {
        let rest = self.path.trim_start_matches('/');
        let mut parts = rest.split('/').skip(2);
        match parts.next() {
            Some("mlflow") => parts.next().unwrap_or("mlflow"),
            Some(other) => other,
            None => rest,
        }
    }
}

impl Catalogue {
    /// The catalogue of a release the suite knows.
    pub fn of(release: MlflowRelease) -> Self {
        let text = match release {
            MlflowRelease::V2_9_2 => include_str!("../../platform/mlflow-endpoints/2.9.2.json"),
            MlflowRelease::V3_9_0 => include_str!("../../platform/mlflow-endpoints/3.9.0.json"),
            MlflowRelease::V3_17_2 => {
                include_str!("../../platform/mlflow-endpoints/3.17.2.json")
            }
        };
        serde_json::from_str(text).expect("a checked-in endpoint catalogue parses")
    }

    /// The catalogue of a release, parsed once.
    pub fn cached(release: MlflowRelease) -> &'static Self {
        use std::sync::OnceLock;
        static CATALOGUES: [OnceLock<Catalogue>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let i = MlflowRelease::ALL
            .iter()
            .position(|r| *r == release)
            .expect("a release of ALL");
        CATALOGUES[i].get_or_init(|| Self::of(release))
    }

    /// The endpoints every spelling of the contract reaches (under `/api/2.0/`).
    pub fn spelled(&self) -> impl Iterator<Item = &Endpoint> {
        self.rows.iter().filter(|e| e.under_api_2_0().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_release_has_its_catalogue() {
        for r in MlflowRelease::ALL {
            let c = Catalogue::of(r);
            assert_eq!(c.release, r.version());
            assert_eq!(c.endpoints, c.rows.len());
            assert!(c.spelled().count() > 40, "{}", c.release);
        }
    }

    #[test]
    fn families_read_from_the_path() {
        let c = Catalogue::of(MlflowRelease::V2_9_2);
        let fam = |p: &str| {
            c.rows
                .iter()
                .find(|e| e.path == p)
                .map(|e| e.family().to_owned())
                .unwrap()
        };
        assert_eq!(fam("/api/2.0/mlflow/runs/create"), "runs");
        assert_eq!(
            fam("/api/2.0/mlflow/registered-models/get"),
            "registered-models"
        );
        assert_eq!(
            fam("/api/2.0/mlflow-artifacts/artifacts/<path:artifact_path>"),
            "mlflow-artifacts"
        );
    }
}
