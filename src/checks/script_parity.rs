//! Checklist area 6: the platform team's seven original scripts, their **intent** done
//! right — one check per script, named after it. What each original did wrong and what
//! replaced it is in `docs/script-parity.md`.

use super::expect;
use crate::catalogue::Area;
use crate::check::{Check, CheckFuture, CheckSpec, Component, Failure, Line, ensure, ensure_eq};
use crate::config::MlflowMajor;
use crate::config::Profile;
use crate::http::{Auth, Req};
use crate::mlflow::naming::{experiment_name, model_name, unique_token};
use crate::mlflow::workflow::{RegistrationRequest, register, sha256_hex};
use crate::mlflow::{ApiPrefix, MlflowClient, Tag};
use crate::model::SampleModel;
use reqwest::Method;
use serde_json::{Value, json};

pub const AREA: Area = Area::ScriptParity;

/// The original scripts, in the checklist's order.
pub const SCRIPTS: [&str; 7] = [
    "test_model_registration_simple",
    "test_auth_registration",
    "test_correct_registration",
    "verify_model_registration",
    "test_endpoint_availability",
    "test_mlflow_routing",
    "test_health_endpoints",
];

pub fn checks(_profile: &Profile) -> Vec<CheckSpec> {
    vec![
        CheckSpec::new(
            AREA,
            SCRIPTS[0],
            Component::Mlflow,
            "search experiments, train, log metrics and the model, register, find it, load the latest version",
            model_registration_simple,
        )
.line(Line::RegistrationWorkflow),
        CheckSpec::new(
            AREA,
            SCRIPTS[1],
            Component::Api,
            "MLflow calls with the key as a Bearer tracking token: search, run with params, metric, model artifacts",
            auth_registration,
        )
.line(Line::KeyFormats),
        CheckSpec::new(
            AREA,
            SCRIPTS[2],
            Component::Mlflow,
            "the third-party path: experiment by name, run, explicit model (existing tolerated) and version",
            correct_registration,
        )
.line(Line::RegistrationWorkflow),
        CheckSpec::new(
            AREA,
            SCRIPTS[3],
            Component::Api,
            "raw REST through /api/mlflow/api/2.0/mlflow/: experiment, run, metric, registered model all 200",
            verify_model_registration,
        )
.line(Line::ProxyTracking),
        CheckSpec::new(
            AREA,
            SCRIPTS[4],
            Component::Api,
            "every endpoint of the list answers its contract status and content type",
            endpoint_availability,
        )
.line(Line::OpsRoutes),
        CheckSpec::new(
            AREA,
            SCRIPTS[5],
            Component::Api,
            "proxy health, both prefixes, registry search, artifact route, a small flow",
            mlflow_routing,
        )
.line(Line::AjaxRewrite),
        CheckSpec::new(
            AREA,
            SCRIPTS[6],
            Component::Api,
            "/health without a key, MLflow health through the API, detailed MLflow health",
            health_endpoints,
        )
.line(Line::HealthMlflow),
    ]
}

fn bearer(c: &Check) -> Auth {
    Auth::Bearer(c.env.keys.primary.clone())
}

/// Uploads the sample model's files to a run; returns (relative path, sha256) per file.
async fn upload_model(
    client: &MlflowClient,
    major: MlflowMajor,
    exp: &str,
    run: &str,
) -> Result<Vec<(String, String)>, Failure> {
    let mut out = Vec::new();
    for (path, bytes) in SampleModel::get().files(run, major) {
        let rel = format!("{exp}/{run}/artifacts/{path}");
        let sum = sha256_hex(&bytes);
        client.upload_artifact(&rel, bytes).await?;
        out.push((rel, sum));
    }
    Ok(out)
}

fn model_registration_simple(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        async {
            client.search_experiments(None, 10).await?;
            // The script's model name in the suite's naming scheme, unique per run (runs must
            // not collide or clean up each other).
            let req = RegistrationRequest::fresh("test-model-registration");
            let reg = register(
                &client,
                &req,
                SampleModel::get(),
                c.env.profile().mlflow_major(),
                &created,
                None,
            )
            .await?;
            client
                .log_metric(&reg.run_id, "test_metric", SampleModel::get().accuracy, 1)
                .await?;
            let found = client
                .search_registered_models(&format!("name = '{}'", reg.model_name), 10)
                .await?;
            ensure(
                found.iter().any(|m| m.name == reg.model_name),
                "the model in a registered-model search",
                format!("{} result(s)", found.len()),
            )
            .map_err(|f| f.on_line(Line::ModelVisible))?;
            let latest = client.latest_versions(&reg.model_name).await?;
            let v = latest.last().ok_or_else(|| {
                Failure::failed("a latest version", "none").on_line(Line::ModelVisible)
            })?;
            // "Load" it: download every file of the version's model directory.
            for f in &reg.files {
                let bytes = client.download_artifact(&f.rel).await?;
                ensure(
                    sha256_hex(&bytes) == f.sha256,
                    format!("{} as uploaded", f.rel),
                    "different bytes",
                )
                .map_err(|f| f.on_line(Line::ArtifactsProxied))?;
            }
            ensure_eq(
                "latest version's run",
                v.run_id.as_str(),
                reg.run_id.as_str(),
            )
            .map_err(|f| f.on_line(Line::ModelVisible))
        }
        .await
    })
}

fn auth_registration(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        async {
            // The original searched without max_results (MLflow answers 400) and always exited 0.
            client.search_experiments(None, 5).await?;
            let exp = client
                .create_experiment(&experiment_name("auth"), &[])
                .await?;
            created.experiment(exp.clone());
            let run = client.create_run(&exp, "auth-registration", &[]).await?;
            created.run(run.info.run_id.clone());
            client
                .log_param(&run.info.run_id, "learning_rate", "0.01")
                .await?;
            client
                .log_metric(&run.info.run_id, "accuracy", SampleModel::get().accuracy, 0)
                .await?;
            upload_model(
                &client,
                c.env.profile().mlflow_major(),
                &exp,
                &run.info.run_id,
            )
            .await?;
            let back = client.get_run(&run.info.run_id).await?;
            ensure(
                back.data.params.iter().any(|p| p.key == "learning_rate"),
                "the param read back",
                "missing",
            )
            .map_err(|f| f.on_line(Line::ReadBack))?;
            ensure(
                back.data.metrics.iter().any(|m| m.key == "accuracy"),
                "the metric read back",
                "missing",
            )
            .map_err(|f| f.on_line(Line::ReadBack))
        }
        .await
    })
}

fn correct_registration(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        async {
            let token = unique_token("thirdparty");
            let exp_name = format!("{token}-exp");
            // Experiment by name: get it, or create it.
            let exp = match client.get_experiment_by_name(&exp_name).await? {
                Some(e) => e.experiment_id,
                None => {
                    let id = client.create_experiment(&exp_name, &[]).await?;
                    created.experiment(id.clone());
                    id
                }
            };
            let run = client.create_run(&exp, "third-party", &[]).await?;
            created.run(run.info.run_id.clone());
            let m = SampleModel::get();
            let metrics: Vec<crate::mlflow::Metric> = m
                .metrics()
                .into_iter()
                .map(|(k, v)| crate::mlflow::Metric {
                    key: k.into(),
                    value: v,
                    timestamp: 1,
                    step: 0,
                })
                .collect();
            client
                .log_batch(
                    &run.info.run_id,
                    &metrics,
                    &[],
                    &[Tag::new("hokusai_token_id", &token)],
                )
                .await?;
            upload_model(
                &client,
                c.env.profile().mlflow_major(),
                &exp,
                &run.info.run_id,
            )
            .await?;
            client.finish_run(&run.info.run_id).await?;
            let name = model_name(&token);
            let first = client
                .create_registered_model(&name, "third-party model", &[])
                .await?;
            created.model(name.clone());
            let again = client
                .create_registered_model(&name, "third-party model", &[])
                .await?;
            ensure(
                first && !again,
                "created once, the second create tolerated (already exists)",
                format!("created={first}, again={again}"),
            )?;
            let v = client
                .create_model_version(
                    &name,
                    &format!("{}/model", run.info.artifact_uri),
                    &run.info.run_id,
                    "",
                )
                .await?;
            ensure_eq("version", v.version.as_str(), "1")
        }
        .await
    })
}

fn verify_model_registration(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let auth = bearer(c);
        let token = unique_token("rawrest");
        let base = "/api/mlflow/api/2.0/mlflow";
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        async {
            let ex = c.registry(Req::post(format!("{base}/experiments/create")).json(&json!({"name": format!("{token}-exp")})).auth(auth.clone())).await?;
            expect::status(&ex, 200)?;
            let exp = ex.json().and_then(|v| v["experiment_id"].as_str().map(str::to_owned)).unwrap_or_default();
            created.experiment(exp.clone());
            let ex = c.registry(Req::post(format!("{base}/runs/create")).json(&json!({"experiment_id": exp, "start_time": 1})).auth(auth.clone())).await?;
            expect::status(&ex, 200)?;
            let run = ex.json().and_then(|v| v["run"]["info"]["run_id"].as_str().map(str::to_owned)).unwrap_or_default();
            created.run(run.clone());
            let ex = c
                .registry(Req::post(format!("{base}/runs/log-metric")).json(&json!({"run_id": run, "key": "accuracy", "value": 0.9, "timestamp": 1})).auth(auth.clone()))
                .await?;
            expect::status(&ex, 200)?;
            let name = model_name(&token);
            let ex = c.registry(Req::post(format!("{base}/registered-models/create")).json(&json!({"name": name})).auth(auth.clone())).await?;
            if ex.status == 200 {
                created.model(name);
            }
            expect::status(&ex, 200)
        }
        .await
    })
}

/// The endpoint list with the contract's expected status and content type.
/// The endpoints of the original availability script, each with the status and content
/// type the contract gives it and the contract line that promises it.
fn endpoint_list(c: &Check) -> Vec<(Req, u16, &'static str, Line)> {
    let key = bearer(c);
    let ops = super::infra_health::ops_auth(c);
    let mlflow = |p: &str| Req::get(format!("/api/mlflow/{p}")).auth(key.clone());
    const JSON: &str = "application/json";
    vec![
        (
            Req::get("/health"),
            200,
            JSON,
            Line::HealthReportsDependencies,
        ),
        (
            Req::get("/health").query("detailed", "true"),
            200,
            JSON,
            Line::HealthDetailed,
        ),
        (Req::get("/health/mlflow"), 200, JSON, Line::HealthMlflow),
        (
            Req::get("/api/health/mlflow").auth(ops.clone()),
            200,
            JSON,
            Line::ApiHealthMlflow,
        ),
        (
            Req::get("/ready").auth(ops.clone()),
            200,
            JSON,
            Line::OpsRoutes,
        ),
        (
            Req::get("/live").auth(ops.clone()),
            200,
            JSON,
            Line::OpsRoutes,
        ),
        (
            Req::get("/version").auth(ops.clone()),
            200,
            JSON,
            Line::OpsRoutes,
        ),
        (
            Req::get("/metrics").auth(ops),
            200,
            "text/plain",
            Line::OpsRoutes,
        ),
        // `GET /` with a key is promised nothing by the contract: not in the list.
        (Req::get("/"), 401, JSON, Line::RootNeedsKey),
        (
            mlflow("api/2.0/mlflow/experiments/search").query("max_results", "1"),
            200,
            JSON,
            Line::AjaxRewrite,
        ),
        (
            mlflow("ajax-api/2.0/mlflow/experiments/search").query("max_results", "1"),
            200,
            JSON,
            Line::ProxyTracking,
        ),
        (
            mlflow("api/2.0/mlflow/registered-models/search"),
            200,
            JSON,
            Line::AjaxRewrite,
        ),
        (
            mlflow("api/2.0/mlflow/model-versions/search"),
            200,
            JSON,
            Line::AjaxRewrite,
        ),
        (
            mlflow("api/2.0/mlflow/registered-models/get").query("name", "hokusai-no-such-model"),
            404,
            JSON,
            Line::ErrorsPassThrough,
        ),
        (
            mlflow(&format!(
                "api/2.0/mlflow/{}",
                crate::check::symptom::UNKNOWN_ENDPOINT
            )),
            404,
            JSON,
            Line::HtmlErrorsAsJson,
        ),
    ]
}

fn endpoint_availability(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut wrong = Vec::new();
        let mut first_line = None;
        for (req, status, ct, promise) in endpoint_list(c) {
            let line = format!("{} ({})", req.line(), req.auth.describe());
            let ex = c.registry(req).await?;
            let got_ct = ex.content_type().unwrap_or_default();
            if ex.status != status || got_ct != ct {
                first_line.get_or_insert(promise);
                wrong.push(format!(
                    "{line}: expected {status} {ct}, got {} {got_ct}",
                    ex.status
                ));
            }
        }
        c.measure("endpoints_wrong", wrong.len() as f64);
        let verdict = ensure(
            wrong.is_empty(),
            "every endpoint at its contract status and content type",
            wrong.join("; "),
        );
        // The line broken is the one that promises the first endpoint found wrong.
        match first_line {
            Some(l) => verdict.map_err(|f| f.on_line(l)),
            None => verdict,
        }
    })
}

fn mlflow_routing(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let ops = super::infra_health::ops_auth(c);
        let ex = c.registry(Req::get("/api/health/mlflow").auth(ops)).await?;
        expect::status(&ex, 200).map_err(|f| f.on_line(Line::ApiHealthMlflow))?;
        let api = c.mlflow(ApiPrefix::Api);
        for client in [&api, &api.with_prefix(ApiPrefix::Ajax)] {
            client.search_experiments(None, 1).await?;
        }
        api.search_registered_models("name LIKE 'hokusai-%'", 5)
            .await?;
        let created = c.created(&api);
        async {
            let exp = api
                .create_experiment(&experiment_name("routing"), &[])
                .await?;
            created.experiment(exp.clone());
            let run = api.create_run(&exp, "routing", &[]).await?;
            created.run(run.info.run_id.clone());
            // The artifact route answers a missing artifact as MLflow does (503 means
            // serving is off).
            let ex = api
                .raw(Req::get(api.artifact_path(&format!(
                    "{exp}/{}/artifacts/missing.txt",
                    run.info.run_id
                ))))
                .await?;
            expect::missing_artifact(&ex, c.env.profile().mlflow_release())
                .map_err(|f| f.on_line(Line::ArtifactsProxied))?;
            api.log_metric(&run.info.run_id, "accuracy", 0.9, 0).await?;
            let name = model_name(&unique_token("routing"));
            api.create_registered_model(&name, "", &[]).await?;
            created.model(name);
            Ok(())
        }
        .await
    })
}

fn health_endpoints(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let ex = c.registry(Req::get("/health")).await?;
        let body = expect::json_object(&ex)?;
        ensure(
            ex.status == 200 && body["status"] == "healthy",
            "/health healthy without a key",
            expect::describe(&ex),
        )
        .map_err(|f| f.on_line(Line::HealthReportsDependencies))?;
        let ex = c.registry(Req::get("/health/mlflow")).await?;
        let body = expect::json_object(&ex)?;
        ensure(
            body["connected"] == Value::Bool(true),
            "MLflow connected through the API",
            expect::describe(&ex),
        )?;
        // The original looked for `connected` here; the detailed health says `status: healthy`.
        let ops = super::infra_health::ops_auth(c);
        let ex = c
            .registry(Req::new(Method::GET, "/api/health/mlflow").auth(ops))
            .await?;
        let body = expect::json_object(&ex)?;
        // The profile's shape: `healthy` with checks, or the SDK probe's `ok`.
        let want = match c.env.profile().proxy.api_health {
            crate::config::ApiHealthShape::Checks => "healthy",
            crate::config::ApiHealthShape::SdkProbe => "ok",
        };
        ensure(
            ex.status == 200 && body["status"] == want,
            format!("detailed MLflow health: status {want}"),
            expect::describe(&ex),
        )
        .map_err(|f| f.on_line(Line::ApiHealthMlflow))
    })
}
