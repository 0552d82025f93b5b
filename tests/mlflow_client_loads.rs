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
//! `make test` provides the Pythons (`HOKUSAI_MLFLOW_PYTHON`, `HOKUSAI_MLFLOW2_PYTHON`) and
//! the servers (`HOKUSAI_MLFLOW_URL`, `HOKUSAI_MLFLOW2_URL`) through `scripts/with-servers`.
//! Without them a case is skipped with the reason; under `CI` that is a failure.

use hokusai_verify::config::{MlflowMajor, Profile};
use hokusai_verify::http::{Auth, HttpClient};
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

/// Runs the client; returns its JSON answer. Killed after [`PYTHON_BUDGET`].
fn load_with_mlflow_client(
    python: &str,
    tracking_uri: &str,
    token: Option<&str>,
    model_uri: &str,
) -> serde_json::Value {
    let example = SampleModel::get().input_example().to_string();
    let mut cmd = Command::new(python);
    cmd.args(["-c", LOAD_AND_PREDICT, model_uri, &example])
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "MLflow's client failed to load {model_uri} from {tracking_uri}:\n{stderr}"
    );
    eprintln!(
        "MLflow's client loaded {model_uri} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
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

#[rstest]
#[tokio::test]
async fn mlflow_loads_the_registered_model(
    #[values(MlflowMajor::V2, MlflowMajor::V3)] major: MlflowMajor,
    #[values(Via::StandInProxy, Via::RealMlflow)] via: Via,
) {
    let python_var = match major {
        MlflowMajor::V2 => "HOKUSAI_MLFLOW2_PYTHON",
        MlflowMajor::V3 => "HOKUSAI_MLFLOW_PYTHON",
    };
    let Some(python) = from_make_test(python_var) else {
        return;
    };
    let http = HttpClient::new(Duration::from_secs(30), Duration::from_secs(3));
    let standin;
    let (client, tracking_uri, token) = match via {
        Via::StandInProxy => {
            standin = StandIn::start(StandInOptions::new(profile(major)))
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
            let uri = format!("{}/api/mlflow", registry.as_str().trim_end_matches('/'));
            (client, uri, Some(key.expose().to_owned()))
        }
        Via::RealMlflow => {
            let var = match major {
                MlflowMajor::V2 => "HOKUSAI_MLFLOW2_URL",
                MlflowMajor::V3 => "HOKUSAI_MLFLOW_URL",
            };
            let Some(url) = from_make_test(var) else {
                return;
            };
            let client = MlflowClient::direct(http, url.parse().unwrap(), ApiPrefix::Api);
            (client, url, None)
        }
    };
    let created = Created::default();
    let req = RegistrationRequest::fresh("client-loads");
    let reg = register(&client, &req, SampleModel::get(), major, &created, None)
        .await
        .expect("the registration workflow");
    let model_uri = format!("models:/{}/{}", reg.model_name, reg.version);
    let answer = {
        let (python, uri) = (python.clone(), tracking_uri.clone());
        tokio::task::spawn_blocking(move || {
            load_with_mlflow_client(&python, &uri, token.as_deref(), &model_uri)
        })
        .await
    };
    let left = created.cleanup(&client, None).await;
    let answer = answer.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert_predicts_what_the_suite_computed(&answer, major);
    assert_eq!(left, Vec::new(), "clean-up left things behind");
}
