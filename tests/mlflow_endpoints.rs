//! The endpoint catalogues (`platform/mlflow-endpoints/<release>.json`) are what each MLflow
//! release serves today: regenerated from MLflow's own route table and protos, every probe
//! sent to a real server of the release, its store read after each (see
//! `python/mlflow_endpoints.py`). `HOKUSAI_UPDATE_ENDPOINTS=1` writes them.

mod common;

use hokusai_verify::config::MlflowRelease;
use hokusai_verify::mlflow::endpoints::Catalogue;
use std::path::{Path, PathBuf};

fn catalogue_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("platform/mlflow-endpoints")
}

/// The venv Pythons `make test` (scripts/with-servers) names, one per release.
const PYTHONS: [&str; 3] = [
    "HOKUSAI_MLFLOW2_PYTHON",
    "HOKUSAI_MLFLOW39_PYTHON",
    "HOKUSAI_MLFLOW_PYTHON",
];

#[test]
fn catalogues_are_what_each_release_serves() {
    let update = std::env::var("HOKUSAI_UPDATE_ENDPOINTS").is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    // One server per release, one after the other: two cores, and each run starts its own.
    let mut checked = Vec::new();
    for var in PYTHONS {
        let Ok(python) = std::env::var(var) else {
            assert!(
                !ci,
                "CI regenerates every endpoint catalogue: {var} is not set (make test sets it)"
            );
            eprintln!("{var} not set: that release's catalogue is not regenerated");
            continue;
        };
        let now = common::run_venv_script(&python, "mlflow_endpoints.py", &[]);
        let release = serde_json::from_str::<serde_json::Value>(&now).unwrap()["release"]
            .as_str()
            .unwrap()
            .to_owned();
        let file = catalogue_dir().join(format!("{release}.json"));
        checked.push(release.clone());
        common::compare_or_write(
            &file,
            &now,
            update,
            &format!("the endpoint catalogue of MLflow {release}"),
            "HOKUSAI_UPDATE_ENDPOINTS=1 cargo test --test mlflow_endpoints",
        );
    }
    eprintln!("regenerated and compared: {checked:?}");
}

/// Every release a profile can name has a catalogue, and what it says holds together: one
/// row per method and path, probes that never leave the loopback server's own paths, and
/// the probes of endpoints the contract's spellings reach answered by MLflow's handlers (an
/// MLflow `error_code`, or a 2xx), not by a router that does not know the path.
/// MLflow 3 registers a few proto routes whose handlers answer a bare 404 in an open-source
/// server (features of Databricks' hosted MLflow).
const BARE_404: [&str; 2] = [
    "/api/2.0/mlflow/get-online-trace-details",
    "/api/2.0/mlflow/unified-traces",
];

#[test]
fn catalogues_hold_together() {
    for release in MlflowRelease::ALL {
        let c = Catalogue::of(release);
        let mut seen = std::collections::BTreeSet::new();
        for e in &c.rows {
            assert!(
                seen.insert((e.method.clone(), e.path.clone())),
                "{} {} twice",
                e.method,
                e.path
            );
            assert!(e.probe.path.starts_with('/') && !e.probe.path.contains("://"));
            assert!(
                !e.probe.path.contains('<'),
                "{}: a placeholder left",
                e.path
            );
            if e.rpc.is_some() {
                assert!(e.service.is_some() && e.since.is_some(), "{e:?}");
            }
        }
        let unanswered: Vec<String> = c
            .spelled()
            .filter(|e| e.answer.error_code.is_none() && !(200..300).contains(&e.answer.status))
            .filter(|e| !BARE_404.contains(&e.path.as_str()))
            .map(|e| format!("{} {} {}", e.method, e.path, e.answer.status))
            .collect();
        assert!(
            unanswered.is_empty(),
            "MLflow {} answers these probes without an error_code: {unanswered:#?}",
            c.release
        );
        assert!(c.store.experiments >= 1 && c.store.artifact_files >= 1);
    }
}

/// The profile whose platform runs `release` (the newest release under `hokusai-2026`).
fn profile_of(release: MlflowRelease) -> hokusai_verify::config::Profile {
    use hokusai_verify::config::Profile;
    let mut p = Profile::load(match release {
        MlflowRelease::V2_9_2 => "hokusai-2025-08",
        _ => "hokusai-2026",
    })
    .unwrap();
    p.proxy.mlflow_release = release.version().to_owned();
    p
}

/// The stand-in's MLflow answers every probe of its release's catalogue as the real release
/// did (status and `error_code`), under `api/2.0` and `ajax-api/2.0` alike: the route matrix
/// on the stand-in reaches MLflow's own answers, not a stand-in gap.
#[rstest::rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standin_answers_every_probe_like_the_release(
    #[values(MlflowRelease::V2_9_2, MlflowRelease::V3_9_0, MlflowRelease::V3_17_2)]
    release: MlflowRelease,
) {
    use hokusai_verify::http::{HttpClient, Req};
    use hokusai_verify::standin::{StandIn, StandInOptions};
    let standin = StandIn::start(StandInOptions::new(profile_of(release)))
        .await
        .unwrap();
    let http = HttpClient::new(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_secs(3),
    );
    let base = standin.mlflow_url();
    let mut differ = Vec::new();
    let catalogue = Catalogue::of(release);
    for e in catalogue.spelled() {
        for prefix in ["/api/2.0/", "/ajax-api/2.0/"] {
            let path = e.probe.path.replacen("/api/2.0/", prefix, 1);
            let mut req = Req::new(e.method.parse().unwrap(), path.clone());
            if let Some(body) = &e.probe.body {
                req = req.raw_body(body.as_bytes().to_vec(), e.probe.content_type.as_deref());
            }
            let ex = http.send(&base, req).await.expect("the stand-in answers");
            let code = ex.json().and_then(|v| {
                v.get("error_code")
                    .and_then(|c| c.as_str().map(str::to_owned))
            });
            let answer = e.answer_under(prefix.starts_with("/ajax-api/"));
            if ex.status != answer.status || code != answer.error_code {
                differ.push(format!(
                    "{} {path}: {} {:?}, MLflow {} answered {} {:?}",
                    e.method, ex.status, code, catalogue.release, answer.status, answer.error_code
                ));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} probes answered otherwise:\n{}",
        differ.len(),
        catalogue.spelled().count() * 2,
        differ.join("\n")
    );
}
