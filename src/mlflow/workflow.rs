//! The contract's registration workflow (section 7), stage by stage, with each stage timed,
//! and [`Created`], the record of everything a run made so that it can all be deleted
//! again — also when a check fails half-way.

use super::{MlflowClient, MlflowError, Tag};
use crate::config::MlflowMajor;
use crate::model::SampleModel;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

pub use super::naming::{NAME_PREFIX, model_name, unique_token};

/// Is `token` a valid Hokusai token id? (`^[a-z0-9-]+$`, <= 64, no leading/trailing `-`.)
pub fn valid_token_id(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && !token.starts_with('-')
        && !token.ends_with('-')
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What to register.
#[derive(Debug, Clone)]
pub struct RegistrationRequest {
    pub token_id: String,
    pub experiment_name: String,
    /// The benchmark metric (one of the model's metrics).
    pub metric: String,
    pub extra_tags: Vec<Tag>,
}

impl RegistrationRequest {
    /// A fresh token and experiment for this run, benchmarked on AUROC.
    pub fn fresh(label: &str) -> Self {
        let token_id = unique_token(label);
        Self {
            experiment_name: format!("{token_id}-exp"),
            token_id,
            metric: "auroc".into(),
            extra_tags: vec![],
        }
    }
}

/// One uploaded file and its checksum.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    /// `<experiment>/<run>/artifacts/model/MLmodel`.
    pub rel: String,
    pub sha256: String,
    pub len: usize,
}

/// What a registration produced, with each stage's duration.
#[derive(Debug, Clone)]
pub struct Registration {
    pub model_name: String,
    pub experiment_id: String,
    pub run_id: String,
    pub version: String,
    pub source: String,
    pub benchmark_value: f64,
    pub files: Vec<UploadedFile>,
    pub stages: Vec<(&'static str, Duration)>,
    pub total: Duration,
}

/// Why a registration stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkflowError {
    #[error("stage `{stage}` failed: {error}")]
    Stage {
        stage: &'static str,
        error: MlflowError,
    },
    #[error("over the {budget:?} budget after stage `{stage}` ({elapsed:?})")]
    OverBudget {
        stage: &'static str,
        elapsed: Duration,
        budget: Duration,
    },
}

impl From<WorkflowError> for crate::evidence::Failure {
    fn from(e: WorkflowError) -> Self {
        match e {
            WorkflowError::Stage { stage, error } => {
                let call = error.call.clone();
                let f: crate::evidence::Failure = error.into();
                match f {
                    crate::evidence::Failure::Failed { actual, .. } => {
                        crate::evidence::Failure::failed(
                            format!("stage `{stage}` ({call}) to succeed"),
                            actual,
                        )
                    }
                    other => other,
                }
            }
            WorkflowError::OverBudget {
                stage,
                elapsed,
                budget,
            } => crate::evidence::Failure::failed(
                format!("the whole workflow within {budget:?}"),
                format!("{elapsed:?} already after stage `{stage}`"),
            )
            .symptom(crate::evidence::Symptom::LatencyOverBudget {
                route: "registration workflow".into(),
                ms: elapsed.as_millis() as u64,
                budget_ms: budget.as_millis() as u64,
            }),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Everything a run created, for clean-up: a shared handle (clones record into the same
/// list), so that the check runner can tear down what a check created whatever way the
/// check ended.
#[derive(Debug, Default, Clone)]
pub struct Created {
    ids: std::sync::Arc<std::sync::Mutex<CreatedIds>>,
}

#[derive(Debug, Default, Clone)]
struct CreatedIds {
    experiments: Vec<String>,
    runs: Vec<String>,
    models: Vec<String>,
    /// MLflow 3's logged models: (id, their artifact directory `<exp>/models/<id>/artifacts`).
    logged_models: Vec<(String, String)>,
}

impl Created {
    fn ids(&self) -> std::sync::MutexGuard<'_, CreatedIds> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Records an experiment id.
    pub fn experiment(&self, id: impl Into<String>) {
        self.ids().experiments.push(id.into());
    }
    /// Records a run id.
    pub fn run(&self, id: impl Into<String>) {
        self.ids().runs.push(id.into());
    }
    /// Records a registered model's name.
    pub fn model(&self, name: impl Into<String>) {
        self.ids().models.push(name.into());
    }
    /// Records an MLflow 3 logged model of experiment `experiment_id`.
    pub fn logged_model(&self, id: impl Into<String>, experiment_id: &str) {
        let id = id.into();
        let dir = format!("{experiment_id}/models/{id}/artifacts");
        self.ids().logged_models.push((id, dir));
    }
    /// The registered models recorded and not deleted yet.
    pub fn models(&self) -> Vec<String> {
        self.ids().models.clone()
    }
    /// Records again what a clean-up could not remove, so that a later clean-up (the
    /// runner's, with its fallbacks) tries once more.
    pub fn requeue(&self, left: &[LeftBehind]) {
        let mut ids = self.ids();
        for l in left {
            let (list, name) = match l.kind {
                LeftKind::RegisteredModel => (&mut ids.models, l.name.as_str()),
                LeftKind::Run => (&mut ids.runs, l.name.as_str()),
                LeftKind::Experiment => (&mut ids.experiments, l.name.as_str()),
                // `<experiment id>/models/<model id>/artifacts`: deleted again with their
                // logged model; `<experiment id>/<run id>/artifacts`: with their run.
                LeftKind::Artifacts | LeftKind::LoggedModel => {
                    let parts: Vec<&str> = l.name.split('/').collect();
                    match parts.as_slice() {
                        [exp, "models", id, ..] => {
                            let dir = format!("{exp}/models/{id}/artifacts");
                            if !ids.logged_models.iter().any(|(m, _)| m == id) {
                                ids.logged_models.push(((*id).to_owned(), dir));
                            }
                            continue;
                        }
                        [_, run, ..] => (&mut ids.runs, *run),
                        _ => continue,
                    }
                }
            };
            if !list.iter().any(|n| n == name) {
                list.push(name.to_owned());
            }
        }
    }
    /// Everything recorded and not deleted yet, as left behind for `reason` (what a clean-up
    /// cut short may have left).
    pub fn pending(&self, reason: &str) -> Vec<LeftBehind> {
        let ids = self.ids().clone();
        let left = |kind, name: &String| LeftBehind::new(kind, name.clone(), reason.to_owned());
        ids.models
            .iter()
            .map(|m| left(LeftKind::RegisteredModel, m))
            .chain(
                ids.logged_models
                    .iter()
                    .map(|(_, dir)| left(LeftKind::LoggedModel, dir)),
            )
            .chain(ids.runs.iter().map(|r| left(LeftKind::Run, r)))
            .chain(
                ids.experiments
                    .iter()
                    .map(|x| left(LeftKind::Experiment, x)),
            )
            .collect()
    }

    /// Nothing recorded (or everything already deleted).
    pub fn is_empty(&self) -> bool {
        let ids = self.ids();
        ids.experiments.is_empty()
            && ids.runs.is_empty()
            && ids.models.is_empty()
            && ids.logged_models.is_empty()
    }

    /// Deletes everything recorded (models, then runs, then experiments). Returns what could
    /// not be deleted; an empty list means nothing was left behind. MLflow only soft-deletes
    /// runs and experiments (their names stay reserved); registered models go for good.
    ///
    /// A delete the contract's path refuses is tried again through `direct` (MLflow's own
    /// address, `HOKUSAI_MLFLOW_INTERNAL_URL`) when there is one; what still stays is tagged
    /// [`LEFTOVER_TAG`] where MLflow lets it be tagged, and returned with the command that
    /// removes it. Every attempt is evidence (the clients record into the check).
    pub async fn cleanup(
        &self,
        client: &MlflowClient,
        direct: Option<&MlflowClient>,
    ) -> Vec<LeftBehind> {
        let ids = std::mem::take(&mut *self.ids());
        let mut problems = Vec::new();
        for m in ids.models {
            if let Err(reason) =
                delete_with_fallback(client, direct, |c| c.delete_registered_model(&m)).await
            {
                let _ = client
                    .set_registered_model_tag(&m, LEFTOVER_TAG, "true")
                    .await;
                problems.push(LeftBehind::new(LeftKind::RegisteredModel, m, reason));
            }
        }
        // A logged model's artifacts live beside the run's, not under it.
        for (id, dir) in ids.logged_models {
            // Only where something was stored (as for runs): one listing says.
            if client
                .list_artifact_dir(&dir)
                .await
                .is_ok_and(|files| !files.is_empty())
                && let Err(reason) =
                    delete_with_fallback(client, direct, |c| c.delete_artifacts(&dir)).await
            {
                problems.push(LeftBehind::new(LeftKind::Artifacts, dir.clone(), reason));
            }
            if let Err(reason) =
                delete_with_fallback(client, direct, |c| c.delete_logged_model(&id)).await
            {
                problems.push(LeftBehind::new(LeftKind::LoggedModel, dir, reason));
            }
        }
        // Runs side by side (a concurrency check leaves dozens; one after another they were
        // the longest part of a run on a platform with real latencies), a few at a time.
        use futures_util::StreamExt;
        let per_run: Vec<Vec<LeftBehind>> = futures_util::stream::iter(ids.runs)
            .map(|r| Self::cleanup_run(client, direct, r))
            .buffer_unordered(RUNS_AT_ONCE)
            .collect()
            .await;
        problems.extend(per_run.into_iter().flatten());
        for x in ids.experiments {
            if let Err(reason) =
                delete_with_fallback(client, direct, |c| c.delete_experiment(&x)).await
            {
                problems.push(LeftBehind::new(LeftKind::Experiment, x, reason));
            }
        }
        problems
    }
}

/// Runs deleted at once by [`Created::cleanup`].
const RUNS_AT_ONCE: usize = 8;

impl Created {
    /// Deletes one run: its artifacts first (MLflow keeps them when a run is deleted), its
    /// whole artifact directory where the run's artifact URI is the artifact service's;
    /// then the run.
    async fn cleanup_run(
        client: &MlflowClient,
        direct: Option<&MlflowClient>,
        r: String,
    ) -> Vec<LeftBehind> {
        let mut problems = Vec::new();
        let uri = match client.get_run(&r).await {
            Ok(run) => Some(run.info.artifact_uri),
            Err(e) if e.is_gone() => return problems,
            Err(e) => {
                let reason = format!("its artifacts: {e}");
                problems.push(LeftBehind::new(LeftKind::Run, r.clone(), reason));
                None
            }
        };
        // Stored elsewhere (a direct S3 URI) is not reachable through the proxy.
        let rel = uri
            .as_deref()
            .and_then(|u| u.strip_prefix("mlflow-artifacts:/"))
            .map(|rel| rel.trim_start_matches('/').to_owned());
        // Only a run that has artifacts: with artifact serving off nothing was stored, and a
        // run the artifact service cannot list is left to the janitor.
        if let Some(rel) = rel
            && client
                .list_run_artifacts(&r, None)
                .await
                .is_ok_and(|files| !files.is_empty())
            && let Err(reason) =
                delete_with_fallback(client, direct, |c| c.delete_artifacts(&rel)).await
        {
            let mut left = LeftBehind::new(LeftKind::Artifacts, rel, reason);
            left.bytes = client.run_artifact_bytes(&r).await.ok();
            problems.push(left);
        }
        if let Err(reason) = delete_with_fallback(client, direct, |c| c.delete_run(&r)).await {
            let _ = client.set_run_tag(&r, LEFTOVER_TAG, "true").await;
            problems.push(LeftBehind::new(LeftKind::Run, r, reason));
        }
        problems
    }
}

/// The tag clean-up puts on what it could not delete (the janitor lists these).
pub const LEFTOVER_TAG: &str = "hokusai_verify.leftover";

/// Deletes through `client` (the contract's path) and, when that is refused, through
/// `direct` (MLflow's own address, `HOKUSAI_MLFLOW_INTERNAL_URL`). Something already gone counts as
/// deleted. `Err` carries every attempt's answer.
pub async fn delete_with_fallback<'a, F, Fut>(
    client: &'a MlflowClient,
    direct: Option<&'a MlflowClient>,
    delete: F,
) -> Result<(), String>
where
    F: Fn(&'a MlflowClient) -> Fut,
    Fut: std::future::Future<Output = Result<(), MlflowError>>,
{
    // Why it stays (`Err`), or gone.
    let gone = |r: Result<(), MlflowError>| match r {
        Err(e) if !e.is_gone() => Err(e.to_string()),
        _ => Ok(()),
    };
    let Err(refused) = gone(delete(client).await) else {
        return Ok(());
    };
    match direct {
        Some(d) => gone(delete(d).await)
            .map_err(|e| format!("{refused}; through HOKUSAI_MLFLOW_INTERNAL_URL: {e}")),
        None => Err(format!(
            "{refused}; no HOKUSAI_MLFLOW_INTERNAL_URL (MLflow's internal address) to delete past the proxy"
        )),
    }
}

/// What kind of object was left behind.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::Display,
)]
pub enum LeftKind {
    #[serde(rename = "registered model")]
    #[strum(serialize = "registered model")]
    RegisteredModel,
    #[serde(rename = "run")]
    #[strum(serialize = "run")]
    Run,
    #[serde(rename = "experiment")]
    #[strum(serialize = "experiment")]
    Experiment,
    #[serde(rename = "artifacts")]
    #[strum(serialize = "artifacts")]
    Artifacts,
    /// MLflow 3's logged model; its name is its artifact directory
    /// (`<experiment id>/models/<model id>/artifacts`).
    #[serde(rename = "logged model")]
    #[strum(serialize = "logged model")]
    LoggedModel,
}

/// Something a check created that clean-up could not remove, with the command that does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeftBehind {
    pub kind: LeftKind,
    /// The model name, run or experiment id, or artifact path.
    pub name: String,
    /// Why it stayed (every attempt's answer).
    pub reason: String,
    /// A command that removes it, run where MLflow is reachable (`$MLFLOW_URL`: its
    /// internal address).
    pub remove: String,
    /// Artifact bytes it keeps on the platform, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl LeftBehind {
    pub fn new(kind: LeftKind, name: String, reason: String) -> Self {
        let post = |route: &str, body: serde_json::Value| {
            format!(
                "curl -X POST -H 'Content-Type: application/json' -d '{body}' \"$MLFLOW_URL/api/2.0/mlflow/{route}\""
            )
        };
        let remove = match kind {
            LeftKind::RegisteredModel => format!(
                "curl -X DELETE -H 'Content-Type: application/json' -d '{}' \"$MLFLOW_URL/api/2.0/mlflow/registered-models/delete\"",
                serde_json::json!({"name": name})
            ),
            LeftKind::Artifacts => {
                format!("curl -X DELETE \"$MLFLOW_URL/api/2.0/mlflow-artifacts/artifacts/{name}\"")
            }
            LeftKind::Run => post("runs/delete", serde_json::json!({"run_id": name})),
            LeftKind::LoggedModel => format!(
                "curl -X DELETE \"$MLFLOW_URL/api/2.0/mlflow/logged-models/{}\"",
                name.split('/').nth(2).unwrap_or(&name)
            ),
            LeftKind::Experiment => post(
                "experiments/delete",
                serde_json::json!({"experiment_id": name}),
            ),
        };
        Self {
            kind,
            name,
            reason,
            remove,
            bytes: None,
        }
    }
}

impl std::fmt::Display for LeftBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.name, self.reason)
    }
}

/// Runs stages, timing each and stopping when over budget.
struct Stages {
    started: Instant,
    last: Instant,
    budget: Option<Duration>,
    done: Vec<(&'static str, Duration)>,
}

impl Stages {
    fn new(budget: Option<Duration>) -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            budget,
            done: Vec::new(),
        }
    }

    // The error carries the failed call's answer (the evidence); it happens once per run.
    #[allow(clippy::result_large_err)]
    fn finish<T>(
        &mut self,
        stage: &'static str,
        r: Result<T, MlflowError>,
    ) -> Result<T, WorkflowError> {
        let now = Instant::now();
        self.done.push((stage, now - self.last));
        self.last = now;
        let v = r.map_err(|error| WorkflowError::Stage { stage, error })?;
        if let Some(budget) = self.budget {
            let elapsed = now - self.started;
            if elapsed > budget {
                return Err(WorkflowError::OverBudget {
                    stage,
                    elapsed,
                    budget,
                });
            }
        }
        Ok(v)
    }
}

/// Registers `model` as the contract describes, recording what it creates in `created`.
/// Stops at the first failing stage, or once `budget` is exceeded.
// The error carries the failed call's whole answer (the evidence); it happens once per run.
#[allow(clippy::result_large_err)]
pub async fn register(
    client: &MlflowClient,
    req: &RegistrationRequest,
    model: &SampleModel,
    major: MlflowMajor,
    created: &Created,
    budget: Option<Duration>,
) -> Result<Registration, WorkflowError> {
    let mut st = Stages::new(budget);
    let benchmark_value = model
        .metrics()
        .into_iter()
        .find(|(k, _)| *k == req.metric)
        .map(|(_, v)| v)
        .unwrap_or(f64::NAN);

    // 1. experiment (reuse by name) and run
    let existing = client.get_experiment_by_name(&req.experiment_name).await;
    let experiment_id = match st.finish("experiment lookup", existing)? {
        Some(e) => e.experiment_id,
        None => {
            let id = client
                .create_experiment(&req.experiment_name, &[Tag::new("hokusai_verify", "true")])
                .await;
            let id = st.finish("experiments/create", id)?;
            created.experiment(id.clone());
            id
        }
    };
    let run = client
        .create_run(
            &experiment_id,
            &format!("{}-run", req.token_id),
            &[Tag::new("mlflow.user", "hokusai-verify")],
        )
        .await;
    let run = st.finish("runs/create", run)?;
    let run_id = run.info.run_id.clone();
    created.run(run_id.clone());

    // 2. metrics, params, run tags
    let metrics: Vec<super::Metric> = model
        .metrics()
        .into_iter()
        .map(|(k, v)| super::Metric {
            key: k.into(),
            value: v,
            timestamp: super::client::now_ms(),
            step: 0,
        })
        .collect();
    let params: Vec<Tag> = model
        .params()
        .into_iter()
        .map(|(k, v)| Tag::new(k, v))
        .collect();
    let tags = vec![
        Tag::new("hokusai_token_id", &req.token_id),
        Tag::new("benchmark_metric", &req.metric),
        Tag::new("benchmark_value", benchmark_value.to_string()),
    ];
    let r = client.log_batch(&run_id, &metrics, &params, &tags).await;
    st.finish("runs/log-batch", r)?;

    // 3. artifacts
    let mut files = Vec::new();
    for (path, bytes) in model.files(&run_id, major) {
        let rel = format!("{experiment_id}/{run_id}/artifacts/{path}");
        let sha256 = sha256_hex(&bytes);
        let len = bytes.len();
        let r = client.upload_artifact(&rel, bytes).await;
        st.finish("artifact upload", r)?;
        files.push(UploadedFile { rel, sha256, len });
    }

    // 4. finish the run
    let r = client.finish_run(&run_id).await;
    st.finish("runs/update", r)?;

    // 5. registered model (an existing name is fine)
    let name = model_name(&req.token_id);
    let r = client
        .create_registered_model(
            &name,
            &format!("Hokusai tokenized model: {}", req.token_id),
            &[],
        )
        .await;
    if st.finish("registered-models/create", r)? {
        created.model(name.clone());
    }

    // 6. model version from the run's model artifacts
    let source = format!("{}/model", run.info.artifact_uri.trim_end_matches('/'));
    let description = format!("Token: {}, Metric: {}", req.token_id, req.metric);
    let r = client
        .create_model_version(&name, &source, &run_id, &description)
        .await;
    let version = st.finish("model-versions/create", r)?;

    // 7. the Hokusai tags, then any extra
    for t in tags.iter().chain(&req.extra_tags) {
        let r = client
            .set_model_version_tag(&name, &version.version, &t.key, &t.value)
            .await;
        st.finish("model-versions/set-tag", r)?;
    }

    Ok(Registration {
        model_name: name,
        experiment_id,
        run_id,
        version: version.version,
        source,
        benchmark_value,
        files,
        total: st.started.elapsed(),
        stages: st.done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_valid_unique_and_bounded() {
        let a = unique_token("Registration Flow!");
        assert!(valid_token_id(&a), "{a}");
        assert_ne!(a, unique_token("Registration Flow!"));
        assert!(valid_token_id(&unique_token(&"x".repeat(200))));
        for bad in ["", "-a", "a-", "A", "a_b", &"a".repeat(65)] {
            assert!(!valid_token_id(bad), "{bad}");
        }
    }
}
