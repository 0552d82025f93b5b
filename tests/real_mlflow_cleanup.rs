//! Nothing left behind on a real MLflow (issue 17): every registration-flow check runs
//! against each real MLflow server of `make test` (`scripts/with-servers`), one after
//! another, and afterwards MLflow holds no registered model and no active experiment of
//! this run, and its artifact folder weighs what it weighed before (measured on disk).
//! A test binary of its own: the run token (`mlflow::naming::run_token`) is this process's,
//! and cargo runs test binaries one at a time, so nothing else writes to the folder meanwhile.

mod common;

use hokusai_verify::catalogue::Area;
use hokusai_verify::check::Outcome;
use hokusai_verify::mlflow::naming::run_token;
use hokusai_verify::mlflow::{ApiPrefix, MlflowClient};
use std::path::Path;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Bytes of every file under `dir`.
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => folder_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Under each major: 3.x (`hokusai-2026`, its logged-model check included) and 2.9.2
/// (`hokusai-2025-08`), each against its own server and folder.
#[rstest::rstest]
#[case::mlflow_3("HOKUSAI_MLFLOW_URL", "HOKUSAI_MLFLOW_ARTIFACTS_DIR", "hokusai-2026")]
#[case::mlflow_2(
    "HOKUSAI_MLFLOW2_URL",
    "HOKUSAI_MLFLOW2_ARTIFACTS_DIR",
    "hokusai-2025-08"
)]
#[tokio::test]
async fn the_registration_flow_leaves_nothing_on_a_real_mlflow(
    #[case] url_var: &str,
    #[case] dir_var: &str,
    #[case] profile: &str,
) {
    let (Ok(url), Ok(dir)) = (std::env::var(url_var), std::env::var(dir_var)) else {
        assert!(!ci(), "CI runs this against the real MLflow of `make test`");
        eprintln!("skipped: no {url_var} (run `make test`, which starts the server)");
        return;
    };
    let dir = Path::new(&dir);
    let profile = hokusai_verify::config::Profile::load(profile).unwrap();
    let env = hokusai_verify::fixtures::Env::for_mlflow_server(url.parse().unwrap(), profile).await;
    let specs = hokusai_verify::checks::area(Area::RegistrationFlow, env.profile());
    let before = folder_bytes(dir);
    let results = common::run_in_sequence(&specs, env.clone()).await;
    for r in &results {
        assert_eq!(r.outcome, Outcome::Passed, "{}", r.explain());
    }
    let uploaded: f64 = results
        .iter()
        .filter_map(|r| r.measurements.get(hokusai_verify::check::UPLOADED))
        .sum();
    let after = folder_bytes(dir);
    eprintln!(
        "{} checks uploaded {uploaded} bytes; artifact folder {before} -> {after} bytes",
        results.len()
    );
    assert!(uploaded > 0.0, "the checks uploaded nothing");
    assert_eq!(after, before, "artifact bytes left on disk");
    let client = MlflowClient::direct(env.http.clone(), url.parse().unwrap(), ApiPrefix::Api);
    let models = client
        .search_registered_models(&format!("name LIKE 'hokusai-{}%'", run_token()), 1000)
        .await
        .unwrap();
    assert!(models.is_empty(), "registered models left: {models:?}");
    let experiments = client
        .search_experiments(Some(&format!("name LIKE '{}%'", run_token())), 1000)
        .await
        .unwrap();
    assert!(
        experiments.is_empty(),
        "active experiments left: {experiments:?}"
    );
}
