//! A registered model that MLflow's own client loads (issue 18, part 2). The suite registers
//! its sample model with the registration workflow, as a check does; then the real MLflow
//! Python client of the same major runs `mlflow.pyfunc.load_model("models:/<name>/<version>")`
//! and scores the model's input example. Its predictions must be what the suite computed
//! (linfa) for the same rows.
//!
//! Every major runs two ways: through the stand-in's proxy (the profile whose platform runs
//! that major, the API key given to the client as `MLFLOW_TRACKING_TOKEN`), and straight
//! against a real MLflow server of that major.
//!
//! A second test has MLflow's client do the whole of it, as a third party would: log the
//! model (`mlflow.pyfunc.log_model(..., registered_model_name=...)`, which under MLflow 3
//! sends the logged-model calls of `docs/mlflow-clients.md`), register it and load it back,
//! through the stand-in's proxy and against the real servers.
//!
//! `make test` provides the Pythons (`HOKUSAI_MLFLOW_PYTHON`, `HOKUSAI_MLFLOW2_PYTHON`) and
//! the servers (`HOKUSAI_MLFLOW_URL`, `HOKUSAI_MLFLOW2_URL`) through `scripts/with-servers`.
//! Without them a case is skipped with the reason; under `CI` that is a failure.

use hokusai_verify::config::{MlflowMajor, Profile};
use hokusai_verify::http::{Auth, HttpClient};
use hokusai_verify::mlflow::naming::{experiment_name, model_name, unique_token};
use hokusai_verify::mlflow::workflow::{Created, RegistrationRequest, register};
use hokusai_verify::mlflow::{ApiPrefix, MlflowClient};
use hokusai_verify::model::SampleModel;
use hokusai_verify::standin::{StandIn, StandInOptions};
use rstest::rstest;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the Python side runs: load by registry URI, score the example, print JSON.
const LOAD_AND_PREDICT: &str = r#"
import json, sys
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
example = json.loads(sys.argv[2])
frame = pd.DataFrame(example["data"], columns=example["columns"])
print(json.dumps({"mlflow": mlflow.__version__,
                  "loader": model.metadata.flavors["python_function"]["loader_module"],
                  "predictions": [float(p) for p in model.predict(frame)]}))
"#;

/// What the Python side runs to log, register and load the model as a third party would.
const LOG_REGISTER_LOAD: &str = r#"
import json, sys
import mlflow, pandas as pd
loader, data, experiment, name, example = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
frame = pd.DataFrame(example["data"], columns=example["columns"])
mlflow.set_experiment(experiment)
kw = dict(loader_module="hokusai_logreg", data_path=data, input_example=frame,
          registered_model_name=name)
if mlflow.__version__.startswith("2."):
    kw.update(artifact_path="model", code_path=[loader])
else:
    kw.update(name="model", code_paths=[loader])
with mlflow.start_run() as run:
    info = mlflow.pyfunc.log_model(**kw)
model = mlflow.pyfunc.load_model(f"models:/{name}/1")
print(json.dumps({"mlflow": mlflow.__version__,
                  "loader": model.metadata.flavors["python_function"]["loader_module"],
                  "experiment_id": run.info.experiment_id, "run_id": run.info.run_id,
                  "model_id": getattr(info, "model_id", None),
                  "predictions": [float(p) for p in model.predict(frame)]}))
"#;

/// The longest a load may take (a cold import of MLflow is a few seconds).
const PYTHON_BUDGET: Duration = Duration::from_secs(120);

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn profile(major: MlflowMajor) -> Profile {
    let p = Profile::load(match major {
        MlflowMajor::V2 => "hokusai-2025-08",
        MlflowMajor::V3 => "hokusai-2026",
    })
    .unwrap();
    assert_eq!(p.mlflow_major(), major);
    p
}

/// An environment variable `make test` sets; `None` (skip) without it, a failure under CI.
fn from_make_test(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                !ci(),
                "CI must set {var}: run `make test` (scripts/with-servers)"
            );
            eprintln!("skipped: {var} is not set (`make test` sets it)");
            None
        }
    }
}

/// Runs `script` with `args` in MLflow's Python client; returns the JSON it prints last.
/// Killed after [`PYTHON_BUDGET`].
fn run_mlflow_client(
    python: &str,
    tracking_uri: &str,
    token: Option<&str>,
    script: &str,
    args: &[String],
) -> serde_json::Value {
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(script)
        .args(args)
        .env("MLFLOW_TRACKING_URI", tracking_uri)
        // The client's own retries would turn a refusal into minutes.
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = token {
        cmd.env("MLFLOW_TRACKING_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("the venv's python runs");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > PYTHON_BUDGET {
            let _ = child.kill();
            panic!("MLflow's client did not finish within {PYTHON_BUDGET:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    // The key never reaches a panic message, whatever the client printed.
    let hide = |b: &[u8]| {
        let text = String::from_utf8_lossy(b).into_owned();
        match token {
            Some(t) if !t.is_empty() => text.replace(t, "[redacted]"),
            _ => text,
        }
    };
    let (stdout, stderr) = (hide(&out.stdout), hide(&out.stderr));
    assert!(
        out.status.success(),
        "MLflow's client failed against {tracking_uri}:\n{stderr}"
    );
    eprintln!(
        "MLflow's client finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

/// Loads `model_uri` with MLflow's client and scores the model's input example.
fn load_with_mlflow_client(
    python: &str,
    tracking_uri: &str,
    token: Option<&str>,
    model_uri: &str,
) -> serde_json::Value {
    let example = SampleModel::get().input_example().to_string();
    run_mlflow_client(
        python,
        tracking_uri,
        token,
        LOAD_AND_PREDICT,
        &[model_uri.to_owned(), example],
    )
}

fn assert_predicts_what_the_suite_computed(answer: &serde_json::Value, major: MlflowMajor) {
    let model = SampleModel::get();
    let got: Vec<f64> = answer["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), model.example_predictions.len(), "{answer}");
    for (g, want) in got.iter().zip(&model.example_predictions) {
        assert!(
            (g - want).abs() < 1e-9,
            "MLflow's client predicted {g}, the suite {want}"
        );
    }
    assert_eq!(answer["loader"], "hokusai_logreg");
    let version = answer["mlflow"].as_str().unwrap_or_default();
    assert!(
        version.starts_with(&format!("{}.", major.number())),
        "the client of major {} loaded it, not {version}",
        major.number()
    );
}

#[derive(Debug, Clone, Copy)]
enum Via {
    /// Through the stand-in's proxy, with an API key.
    StandInProxy,
    /// Straight from a real MLflow server.
    RealMlflow,
}

/// Where a case talks: a client for the suite, the tracking URI and key for MLflow's.
struct Target {
    client: MlflowClient,
    tracking_uri: String,
    token: Option<String>,
    _standin: Option<StandIn>,
}

/// The Python of `major` and the target `via`; `None` (skip) outside `make test`.
async fn target(major: MlflowMajor, via: Via) -> Option<(String, Target)> {
    let python_var = match major {
        MlflowMajor::V2 => "HOKUSAI_MLFLOW2_PYTHON",
        MlflowMajor::V3 => "HOKUSAI_MLFLOW_PYTHON",
    };
    let python = from_make_test(python_var)?;
    let http = HttpClient::new(Duration::from_secs(30), Duration::from_secs(3));
    let target = match via {
        Via::StandInProxy => {
            let standin = StandIn::start(StandInOptions::new(profile(major)))
                .await
                .expect("the stand-in starts (Redis)");
            let key = standin.keys().as_keys().primary;
            let registry = standin.registry_url();
            let client = MlflowClient::via_proxy(
                http,
                registry.clone(),
                Auth::Bearer(key.clone()),
                ApiPrefix::Api,
            );
            Target {
                client,
                tracking_uri: format!("{}/api/mlflow", registry.as_str().trim_end_matches('/')),
                token: Some(key.expose().to_owned()),
                _standin: Some(standin),
            }
        }
        Via::RealMlflow => {
            let var = match major {
                MlflowMajor::V2 => "HOKUSAI_MLFLOW2_URL",
                MlflowMajor::V3 => "HOKUSAI_MLFLOW_URL",
            };
            let url = from_make_test(var)?;
            Target {
                client: MlflowClient::direct(http, url.parse().unwrap(), ApiPrefix::Api),
                tracking_uri: url,
                token: None,
                _standin: None,
            }
        }
    };
    Some((python, target))
}

#[rstest]
#[tokio::test]
async fn mlflow_loads_the_registered_model(
    #[values(MlflowMajor::V2, MlflowMajor::V3)] major: MlflowMajor,
    #[values(Via::StandInProxy, Via::RealMlflow)] via: Via,
) {
    let Some((python, t)) = target(major, via).await else {
        return;
    };
    let created = Created::default();
    let req = RegistrationRequest::fresh("client-loads");
    let reg = register(&t.client, &req, SampleModel::get(), major, &created, None)
        .await
        .expect("the registration workflow");
    let model_uri = format!("models:/{}/{}", reg.model_name, reg.version);
    let answer = {
        let (uri, token) = (t.tracking_uri.clone(), t.token.clone());
        tokio::task::spawn_blocking(move || {
            load_with_mlflow_client(&python, &uri, token.as_deref(), &model_uri)
        })
        .await
    };
    let left = created.cleanup(&t.client, None).await;
    let answer = answer.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert_predicts_what_the_suite_computed(&answer, major);
    assert_eq!(left, Vec::new(), "clean-up left things behind");
}

/// MLflow's client logs, registers and loads the model itself, as a third party would: every
/// call a current client sends (under MLflow 3 the logged-model routes) must work through
/// the stand-in's proxy as on the real server.
#[rstest]
#[tokio::test]
async fn mlflow_logs_registers_and_loads_the_model(
    #[values(MlflowMajor::V2, MlflowMajor::V3)] major: MlflowMajor,
    #[values(Via::StandInProxy, Via::RealMlflow)] via: Via,
) {
    let Some((python, t)) = target(major, via).await else {
        return;
    };
    let model = SampleModel::get();
    // The model's data directory, as the suite packages it (a temp dir, removed after).
    let data = std::env::temp_dir().join(format!("hv-model-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("model.json"), model.model_json()).unwrap();
    let loader = concat!(env!("CARGO_MANIFEST_DIR"), "/python/hokusai_logreg.py");
    let token = unique_token("client-logs");
    let (experiment, name) = (experiment_name(&token), model_name(&token));
    let args = vec![
        loader.to_owned(),
        data.display().to_string(),
        experiment.clone(),
        name.clone(),
        model.input_example().to_string(),
    ];
    let answer = {
        let (uri, key) = (t.tracking_uri.clone(), t.token.clone());
        tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(|| {
                run_mlflow_client(&python, &uri, key.as_deref(), LOG_REGISTER_LOAD, &args)
            })
        })
        .await
        .expect("the client's task")
    };
    let _ = std::fs::remove_dir_all(&data);
    // Whatever the client created goes, whether it finished or not.
    let created = Created::default();
    created.model(name.clone());
    if let Ok(Some(e)) = t.client.get_experiment_by_name(&experiment).await {
        created.experiment(e.experiment_id.clone());
        if let Ok(a) = &answer {
            created.run(a["run_id"].as_str().unwrap_or_default());
            if let Some(id) = a["model_id"].as_str() {
                created.logged_model(id, &e.experiment_id);
            }
        }
    }
    // Through the stand-in: what the client sent reached its MLflow through the proxy (which
    // rewrites it to ajax-api), the
    // logged-model calls included under MLflow 3.
    let forwarded: Vec<String> = t
        ._standin
        .as_ref()
        .map(|s| {
            s.forwarded()
                .into_iter()
                .map(|f| format!("{} {}", f.method, f.path))
                .collect()
        })
        .unwrap_or_default();
    let left = created.cleanup(&t.client, None).await;
    let answer = answer.unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert_predicts_what_the_suite_computed(&answer, major);
    if matches!(via, Via::StandInProxy) {
        let sent = |what: &str| forwarded.iter().any(|f| f.contains(what));
        assert!(sent("/mlflow/model-versions/create"), "{forwarded:?}");
        assert_eq!(
            (
                sent("POST /ajax-api/2.0/mlflow/logged-models"),
                sent("PATCH /ajax-api/2.0/mlflow/logged-models/")
            ),
            (major == MlflowMajor::V3, major == MlflowMajor::V3),
            "{forwarded:?}"
        );
    }
    assert_eq!(
        answer["model_id"].is_string(),
        major == MlflowMajor::V3,
        "only MLflow 3 logs a logged model: {answer}"
    );
    assert_eq!(left, Vec::new(), "clean-up left things behind");
}
