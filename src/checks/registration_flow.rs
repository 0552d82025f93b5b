//! Checklist area 3, the model-registration flow (contract section 7) through the proxy:
//! the whole workflow with the Hokusai metadata, the model visible in the registry, a second
//! registration as version "2", metrics/params/artifacts read back exactly, the time budget,
//! and clean-up that leaves nothing behind. Under a profile whose MLflow is 3, also what an
//! MLflow 3 client sends to log and register a model (a logged model).
//!
//! Every check registers its own uniquely named model and deletes everything it created at
//! the end, also when it fails; a clean-up that fails makes the check fail.

use crate::catalogue::Area;
use crate::check::{
    Check, CheckFuture, CheckSpec, Component, Failure, Line, Symptom, ensure, ensure_eq,
};
use crate::config::{MlflowMajor, Profile};
use crate::mlflow::naming::{experiment_name, model_name, unique_token};
use crate::mlflow::workflow::WorkflowError;
use crate::mlflow::workflow::{Registration, RegistrationRequest, register, sha256_hex};
use crate::mlflow::{ApiPrefix, MlflowClient, tag};
use crate::model::SampleModel;
use std::time::Duration;

pub const AREA: Area = Area::RegistrationFlow;

pub fn checks(profile: &Profile) -> Vec<CheckSpec> {
    let mut checks = vec![
        CheckSpec::new(
            AREA,
            "workflow_completes",
            Component::Mlflow,
            "experiment, run, metrics, artifacts, registered model, version and tags all succeed",
            workflow_completes,
        )
        .line(Line::RegistrationWorkflow),
        CheckSpec::new(
            AREA,
            "model_in_registry",
            Component::Mlflow,
            "the model is found by get, search and latest versions, with all Hokusai tags",
            model_in_registry,
        )
        .line(Line::ModelVisible),
        CheckSpec::new(
            AREA,
            "second_registration_is_version_2",
            Component::Mlflow,
            "registering the same name again creates version \"2\"",
            second_registration_is_version_2,
        )
        .line(Line::VersionNumbering),
        CheckSpec::new(
            AREA,
            "metrics_and_params_read_back",
            Component::Mlflow,
            "runs/get and metrics/get-history return exactly what was logged",
            metrics_and_params_read_back,
        )
        .line(Line::ReadBack),
        CheckSpec::new(
            AREA,
            "artifacts_round_trip",
            Component::Artifacts,
            "the model's artifacts download byte-identical (sha256), and the tree under the version's download URI is what was uploaded",
            artifacts_round_trip,
        )
        .line(Line::ArtifactsProxied),
        CheckSpec::new(
            AREA,
            "workflow_within_budget",
            Component::Mlflow,
            "the whole workflow finishes within the profile's budget",
            workflow_within_budget,
        )
        .line(Line::WorkflowBudget),
        CheckSpec::new(
            AREA,
            "cleanup_leaves_nothing",
            Component::Mlflow,
            "after clean-up the model is gone and the run deleted",
            cleanup_leaves_nothing,
        )
        .line(Line::NothingLeftBehind),
    ];
    // MLflow 2 has no logged models: the check exists only where the platform runs MLflow 3.
    if profile.mlflow_major() == MlflowMajor::V3 {
        checks.push(
            CheckSpec::new(
                AREA,
                "logged_model_registers",
                Component::Mlflow,
                "what an MLflow 3 client sends to log and register a model goes through the proxy: a logged model with its artifacts, finalized, registered from models:/<model_id>, downloading byte-identical from its download URI",
                logged_model_registers,
            )
            .line(Line::RegistrationWorkflow),
        );
    }
    checks
}

/// Registers a fresh model, runs `verify` on it, and always cleans up.
async fn with_registration<'a, F>(
    c: &'a mut Check,
    label: &str,
    budget: Option<Duration>,
    verify: F,
) -> Result<(), Failure>
where
    F: for<'b> FnOnce(&'b mut Check, &'b MlflowClient, &'b Registration) -> CheckFuture<'b>,
{
    let major = c.env.profile().mlflow_major();
    let client = c.mlflow(ApiPrefix::Api);
    let created = c.created(&client);
    let req = RegistrationRequest::fresh(label);
    match register(&client, &req, SampleModel::get(), major, &created, budget).await {
        Ok(reg) => {
            for (stage, d) in &reg.stages {
                c.measure(&format!("stage_ms.{stage}"), d.as_secs_f64() * 1e3);
            }
            c.measure("workflow_ms", reg.total.as_secs_f64() * 1e3);
            verify(c, &client, &reg).await
        }
        // The workflow is the assertion of the workflow check (and being over budget that
        // of the budget check); for the others it is the step that must succeed before
        // their own assertion, and its failure is the workflow line's.
        Err(e) if label == "flow" => Err(e.into()),
        Err(e @ WorkflowError::OverBudget { .. }) if label == "budget" => Err(e.into()),
        Err(e) => Err(blocked_by_workflow(e)),
    }
}

/// A failed registration before a check's own assertion: blocked, on the workflow's line.
fn blocked_by_workflow(e: WorkflowError) -> Failure {
    Failure::from(e).blocked_on("the registration workflow", Line::RegistrationWorkflow)
}

fn workflow_completes(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(with_registration(c, "flow", None, |_, _, reg| {
        Box::pin(async move {
            ensure(!reg.version.is_empty(), "a model version", "none")?;
            ensure(
                reg.benchmark_value.is_finite(),
                "a finite benchmark value",
                format!("{}", reg.benchmark_value),
            )
        })
    }))
}

fn model_in_registry(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(with_registration(c, "registry", None, |_, client, reg| {
        Box::pin(async move {
            let token = reg.model_name.trim_start_matches("hokusai-").to_owned();
            let m = client.get_registered_model(&reg.model_name).await?;
            ensure_eq(
                "description",
                m.description.as_str(),
                format!("Hokusai tokenized model: {token}").as_str(),
            )?;
            let found = client
                .search_registered_models(&format!("name = '{}'", reg.model_name), 10)
                .await?;
            ensure(
                found.iter().any(|f| f.name == reg.model_name),
                "the model in registered-models/search",
                format!("{} result(s)", found.len()),
            )?;
            let latest = client.latest_versions(&reg.model_name).await?;
            ensure(
                latest.iter().any(|v| v.version == reg.version),
                format!("version {} among the latest versions", reg.version),
                format!(
                    "{:?}",
                    latest.iter().map(|v| &v.version).collect::<Vec<_>>()
                ),
            )?;
            let versions = client
                .search_model_versions(&format!("name = '{}'", reg.model_name))
                .await?;
            ensure(
                versions.iter().any(|v| v.version == reg.version),
                "the version in model-versions/search",
                format!("{} result(s)", versions.len()),
            )?;
            let v = client
                .get_model_version(&reg.model_name, &reg.version)
                .await?;
            ensure_eq("source", v.source.as_str(), reg.source.as_str())?;
            ensure_eq("run_id", v.run_id.as_str(), reg.run_id.as_str())?;
            ensure_eq(
                "hokusai_token_id",
                tag(&v.tags, "hokusai_token_id"),
                Some(token.as_str()),
            )?;
            ensure_eq(
                "benchmark_metric",
                tag(&v.tags, "benchmark_metric"),
                Some("auroc"),
            )?;
            let value = tag(&v.tags, "benchmark_value");
            ensure(
                value.and_then(|s| s.parse::<f64>().ok()) == Some(reg.benchmark_value),
                format!("benchmark_value {} (a float)", reg.benchmark_value),
                format!("{value:?}"),
            )
        })
    }))
}

fn second_registration_is_version_2(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let major = c.env.profile().mlflow_major();
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        let req = RegistrationRequest::fresh("v2");
        async {
            let first = register(&client, &req, SampleModel::get(), major, &created, None)
                .await
                .map_err(blocked_by_workflow)?;
            let second = register(&client, &req, SampleModel::get(), major, &created, None)
                .await
                .map_err(blocked_by_workflow)?;
            ensure_eq("first version", first.version.as_str(), "1")?;
            ensure_eq("second version", second.version.as_str(), "2")
        }
        .await
    })
}

fn metrics_and_params_read_back(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(with_registration(c, "readback", None, |_, client, reg| {
        Box::pin(async move {
            let model = SampleModel::get();
            let run = client.get_run(&reg.run_id).await?;
            ensure_eq("run status", run.info.status.as_str(), "FINISHED")?;
            for (k, v) in model.metrics() {
                let got = run
                    .data
                    .metrics
                    .iter()
                    .find(|m| m.key == k)
                    .map(|m| m.value);
                ensure_eq(&format!("metric {k}"), got, Some(v))?;
                let history = client.metric_history(&reg.run_id, k).await?;
                ensure(
                    history.iter().any(|m| m.value == v),
                    format!("{k} = {v} in metrics/get-history"),
                    format!("{history:?}"),
                )?;
            }
            for (k, v) in model.params() {
                ensure_eq(
                    &format!("param {k}"),
                    tag(&run.data.params, k),
                    Some(v.as_str()),
                )?;
            }
            for k in ["hokusai_token_id", "benchmark_metric", "benchmark_value"] {
                ensure(
                    tag(&run.data.tags, k).is_some(),
                    format!("run tag {k}"),
                    "missing",
                )?;
            }
            Ok(())
        })
    }))
}

fn artifacts_round_trip(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(with_registration(c, "artifacts", None, |_, client, reg| {
        Box::pin(async move {
            for f in &reg.files {
                let bytes = client.download_artifact(&f.rel).await?;
                let got = sha256_hex(&bytes);
                ensure(
                    got == f.sha256,
                    format!("{} with sha256 {} ({} bytes)", f.rel, f.sha256, f.len),
                    format!("sha256 {got} ({} bytes)", bytes.len()),
                )?;
            }
            let listed = client
                .list_run_artifacts(&reg.run_id, Some("model"))
                .await?;
            for name in ["model/MLmodel", "model/data", "model/code"] {
                ensure(
                    listed.iter().any(|f| f.path == name),
                    format!("{name} in artifacts/list"),
                    format!("{listed:?}"),
                )?;
            }
            // What MLflow's client does to load `models:/<name>/<version>`: resolve the
            // download URI, walk the tree under it. Both must give back what was uploaded.
            let uri = client.download_uri(&reg.model_name, &reg.version).await?;
            let model_dir = format!("{}/{}/artifacts/model", reg.experiment_id, reg.run_id);
            ensure(
                uri.trim_end_matches('/') == reg.source
                    || uri.trim_end_matches('/') == format!("mlflow-artifacts:/{model_dir}"),
                format!(
                    "the download URI of version {} is its source {}",
                    reg.version, reg.source
                ),
                uri.clone(),
            )?;
            let tree = client.artifact_tree(&model_dir).await?;
            let uploaded: Vec<(String, u64)> = {
                let mut v: Vec<(String, u64)> = reg
                    .files
                    .iter()
                    .map(|f| {
                        let under = f
                            .rel
                            .strip_prefix(&format!("{model_dir}/"))
                            .unwrap_or(&f.rel);
                        (under.to_owned(), f.len as u64)
                    })
                    .collect();
                v.sort();
                v
            };
            ensure(
                tree == uploaded,
                format!("the tree under the download URI is what was uploaded: {uploaded:?}"),
                format!("{tree:?}"),
            )?;
            Ok(())
        })
    }))
}

fn workflow_within_budget(c: &mut Check) -> CheckFuture<'_> {
    // The profile's budget; a stand-in with shortened timings scales it like its timeouts.
    let budget = c
        .env
        .standin()
        .map(|s| s.timing().workflow_budget)
        .unwrap_or(Duration::from_secs(c.env.profile().workflow.budget_secs));
    Box::pin(with_registration(
        c,
        "budget",
        Some(budget),
        move |_, _, reg| {
            Box::pin(async move {
                ensure(
                    reg.total <= budget,
                    format!("within {budget:?}"),
                    format!("{:?}", reg.total),
                )
                .map_err(|f| {
                    f.symptom(Symptom::LatencyOverBudget {
                        route: "registration workflow".into(),
                        ms: reg.total.as_millis() as u64,
                        budget_ms: budget.as_millis() as u64,
                    })
                })
            })
        },
    ))
}

fn cleanup_leaves_nothing(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let major = c.env.profile().mlflow_major();
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        let req = RegistrationRequest::fresh("cleanup");
        let reg = match register(&client, &req, SampleModel::get(), major, &created, None).await {
            Ok(r) => r,
            Err(e) => {
                return Err(blocked_by_workflow(e));
            }
        };
        // The contract's path is what this check verifies; what it refused goes back to the
        // runner's clean-up, which tries MLflow's own address and lists what still stays.
        let problems = created.cleanup(&client, None).await;
        created.requeue(&problems);
        ensure(
            problems.is_empty(),
            "every deletion accepted",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
        .map_err(|f| {
            f.symptom(Symptom::CleanupRefused {
                what: "objects the check created".into(),
                status: None,
            })
        })?;
        match client.get_registered_model(&reg.model_name).await {
            Err(e) if e.is_gone() => {}
            Ok(_) => {
                return Err(Failure::failed(
                    "the registered model gone after delete",
                    "it is still there",
                )
                .symptom(Symptom::DeleteNotApplied));
            }
            Err(e) => return Err(e.into()),
        }
        let run = client.get_run(&reg.run_id).await?;
        ensure_eq(
            "run lifecycle_stage",
            run.info.lifecycle_stage.as_str(),
            "deleted",
        )?;
        // MLflow keeps a deleted run's artifacts: the clean-up must have removed them too.
        let (mut uploaded, mut left) = (0u64, 0u64);
        for f in &reg.files {
            uploaded += f.len as u64;
            match client.download_artifact(&f.rel).await {
                Ok(_) => left += f.len as u64,
                Err(e) if e.status.is_some() => {}
                Err(e) => return Err(e.into()),
            }
        }
        c.measure(crate::check::UPLOADED, uploaded as f64);
        c.measure("artifact_bytes_left", left as f64);
        ensure(
            left == 0,
            "the run's artifacts gone after the clean-up",
            format!("{left} of {uploaded} bytes still downloadable"),
        )
        .map_err(|f| f.symptom(Symptom::DeleteNotApplied))
    })
}

/// MLflow 3's client logs a model as a *logged model* (recorded in docs/mlflow-clients.md):
/// `logged-models` create, `runs/outputs`, the artifacts under the model's own URI, the
/// finalize `PATCH`, then `model-versions/create` from `models:/<model_id>`. Loading resolves
/// the version's download URI to the logged model's artifacts.
fn logged_model_registers(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        let exp = client
            .create_experiment(&experiment_name("logged"), &[])
            .await?;
        created.experiment(exp.clone());
        let run = client.create_run(&exp, "logged-model", &[]).await?;
        let run_id = run.info.run_id.clone();
        created.run(run_id.clone());
        let logged = client.create_logged_model(&exp, "model", &run_id).await?;
        created.logged_model(logged.model_id.clone(), &exp);
        client.log_model_output(&run_id, &logged.model_id).await?;
        let dir = logged
            .artifact_uri
            .strip_prefix("mlflow-artifacts:/")
            .map(|d| d.trim_matches('/').to_owned());
        let Some(dir) = dir else {
            return Err(Failure::failed(
                "the logged model's artifact URI on the artifact service (mlflow-artifacts:/...)",
                logged.artifact_uri.clone(),
            ));
        };
        let mut uploaded: Vec<(String, u64)> = Vec::new();
        let mut sums = Vec::new();
        for (path, bytes) in SampleModel::get().files(&run_id, MlflowMajor::V3) {
            let under = path.strip_prefix("model/").unwrap_or(&path).to_owned();
            let rel = format!("{dir}/{under}");
            uploaded.push((under, bytes.len() as u64));
            sums.push((rel.clone(), sha256_hex(&bytes)));
            client.upload_artifact(&rel, bytes).await?;
        }
        uploaded.sort();
        let ready = client.finalize_logged_model(&logged.model_id).await?;
        ensure_eq(
            "the logged model's status after the finalize",
            ready.status.as_str(),
            "LOGGED_MODEL_READY",
        )?;
        let name = model_name(&unique_token("logged"));
        client.create_registered_model(&name, "", &[]).await?;
        created.model(name.clone());
        let version = client
            .create_model_version_from_logged_model(&name, &logged.model_id)
            .await?;
        let uri = client.download_uri(&name, &version.version).await?;
        ensure(
            uri.trim_end_matches('/') == logged.artifact_uri.trim_end_matches('/'),
            format!(
                "the version's download URI is the logged model's artifacts ({})",
                logged.artifact_uri
            ),
            uri.clone(),
        )?;
        let tree = client.artifact_tree(&dir).await?;
        ensure(
            tree == uploaded,
            format!("the tree under the download URI is what was uploaded: {uploaded:?}"),
            format!("{tree:?}"),
        )?;
        for (rel, want) in sums {
            let got = sha256_hex(&client.download_artifact(&rel).await?);
            // Registered, and its bytes changed on the way back: the artifact line's.
            ensure(
                got == want,
                format!("{rel} with sha256 {want}"),
                format!("sha256 {got}"),
            )
            .map_err(|f| f.on_line(Line::ArtifactsProxied))?;
        }
        Ok(())
    })
}
