//! Every call of the suite's MLflow client sends what MLflow's own client sends for it.
//!
//! `platform/mlflow-client-calls/<release>.json` holds, per operation, the requests MLflow's
//! own Python client sent (recorded by `python/record_client_calls.py` against a real
//! `mlflow server` of that release): method, path with ids as placeholders, query keys and
//! JSON body keys. Here the suite's client does each operation against a server that
//! records what it receives, and each request must be one MLflow's client sends, with the
//! same keys. The differences the suite keeps on purpose are declared once, with the reason
//! ([`KEPT`]). A second test regenerates the recordings from the real servers `make test`
//! starts (2.9.2, 3.9.0 and the newest 3.x) and fails on a difference.

mod common;

use hokusai_verify::config::Profile;
use hokusai_verify::http::HttpClient;
use hokusai_verify::mlflow::{ApiPrefix, Metric, MlflowClient, Tag};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One request as recorded: what a server reads from it, values left out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, PartialOrd, Ord)]
struct Sent {
    method: String,
    path: String,
    query: Vec<String>,
    body: Vec<String>,
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} query {:?} body {:?}",
            self.method, self.path, self.query, self.body
        )
    }
}

#[derive(Debug, Deserialize)]
struct Recording {
    release: String,
    calls: BTreeMap<String, Vec<Sent>>,
}

fn recordings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("platform/mlflow-client-calls")
}

fn recordings() -> Vec<Recording> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(recordings_dir()).expect("platform/mlflow-client-calls") {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "json") {
            let r: Recording = serde_json::from_slice(&std::fs::read(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert_eq!(
                f.file_stem().unwrap().to_str().unwrap(),
                r.release,
                "a recording is named after its release"
            );
            out.push(r);
        }
    }
    out.sort_by(|a, b| a.release.cmp(&b.release));
    out
}

// The ids the suite's client is given; its requests are normalised back to the recordings'
// placeholders.
const EXPERIMENT: &str = "901";
const RUN: &str = "0123456789abcdef0123456789abcdef";
const MODEL: &str = "m-0123456789abcdef0123456789abcdef";
const NAME: &str = "parity-model";

fn normalise(path: &str) -> String {
    path.split('/')
        .map(|s| match s {
            EXPERIMENT => "{experiment}",
            RUN => "{run}",
            MODEL => "{model}",
            NAME => "{name}",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

type Op = for<'a> fn(&'a MlflowClient) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Every call of the suite's client that sends one request of MLflow's API, named after the
/// method (the recordings use the same names). Answers are ignored: what is sent matters.
macro_rules! ops {
    ($($name:ident => |$c:ident| $call:expr),* $(,)?) => {
        &[$((stringify!($name), {
            fn op<'a>($c: &'a MlflowClient) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
                Box::pin(async move { let _ = $call.await; })
            }
            op as Op
        })),*]
    };
}

const ARTIFACT: &str = "901/0123456789abcdef0123456789abcdef/artifacts/parity.txt";

const OPS: &[(&str, Op)] = ops![
    create_experiment => |c| c.create_experiment("parity", &[Tag::new("k", "v")]),
    get_experiment_by_name => |c| c.get_experiment_by_name("parity"),
    search_experiments => |c| c.search_experiments(Some("name = 'parity'"), 10),
    delete_experiment => |c| c.delete_experiment(EXPERIMENT),
    create_run => |c| c.create_run(EXPERIMENT, "parity", &[Tag::new("k", "v")]),
    log_batch => |c| c.log_batch(
        RUN,
        &[Metric { key: "m".into(), value: 1.0, timestamp: 0, step: 0 }],
        &[Tag::new("p", "v")],
        &[Tag::new("t", "v")],
    ),
    log_metric => |c| c.log_metric(RUN, "accuracy", 0.9, 0),
    log_param => |c| c.log_param(RUN, "alpha", "0.5"),
    set_run_tag => |c| c.set_run_tag(RUN, "k2", "v2"),
    finish_run => |c| c.finish_run(RUN),
    get_run => |c| c.get_run(RUN),
    delete_run => |c| c.delete_run(RUN),
    metric_history => |c| c.metric_history(RUN, "accuracy"),
    list_run_artifacts => |c| c.list_run_artifacts(RUN, None),
    upload_artifact => |c| c.upload_artifact(ARTIFACT, b"parity".to_vec()),
    delete_artifacts => |c| c.delete_artifacts(ARTIFACT),
    download_artifact => |c| c.download_artifact(ARTIFACT),
    list_artifact_dir => |c| c.list_artifact_dir("901/0123456789abcdef0123456789abcdef/artifacts"),
    create_registered_model => |c| c.create_registered_model(NAME, "d", &[Tag::new("k", "v")]),
    get_registered_model => |c| c.get_registered_model(NAME),
    search_registered_models => |c| c.search_registered_models("name = 'parity-model'", 10),
    set_registered_model_tag => |c| c.set_registered_model_tag(NAME, "k2", "v2"),
    delete_registered_model => |c| c.delete_registered_model(NAME),
    create_logged_model => |c| c.create_logged_model(EXPERIMENT, "parity", RUN),
    finalize_logged_model => |c| c.finalize_logged_model(MODEL),
    log_model_output => |c| c.log_model_output(RUN, MODEL),
    delete_logged_model => |c| c.delete_logged_model(MODEL),
    create_model_version_from_logged_model => |c| c.create_model_version_from_logged_model(NAME, MODEL),
    latest_versions => |c| c.latest_versions(NAME),
    create_model_version => |c| c.create_model_version(
        NAME,
        "mlflow-artifacts:/901/0123456789abcdef0123456789abcdef/artifacts/model",
        RUN,
        "d",
    ),
    get_model_version => |c| c.get_model_version(NAME, "1"),
    download_uri => |c| c.download_uri(NAME, "1"),
    search_model_versions => |c| c.search_model_versions("name = 'parity-model'"),
    set_model_version_tag => |c| c.set_model_version_tag(NAME, "1", "k", "v"),
    delete_model_version => |c| c.delete_model_version(NAME, "1"),
    set_alias => |c| c.set_alias(NAME, "champion", "1"),
    get_by_alias => |c| c.get_by_alias(NAME, "champion"),
    delete_alias => |c| c.delete_alias(NAME, "champion"),
];

/// Public methods of the client that are not one MLflow call of their own: each is built on
/// the calls above (so it sends what they send) or sends a raw request a check composes.
const COMPOSED: &[(&str, &str)] = &[
    (
        "raw",
        "sends the request a check composes (the check's own, often a wrong one)",
    ),
    (
        "raw_side_by_side",
        "raw, for several requests a check composes, sent side by side",
    ),
    (
        "search_experiments_in",
        "search_experiments with a view type",
    ),
    ("upload_artifact_stream", "upload_artifact, streamed"),
    (
        "download_artifact_digest",
        "download_artifact, hashed as it streams",
    ),
    (
        "run_artifact_bytes",
        "list_run_artifacts over the run's tree",
    ),
    ("artifact_tree", "list_artifact_dir over a tree"),
];

/// A difference from MLflow's own client the suite keeps on purpose.
struct Kept {
    op: &'static str,
    /// What differs (for the reader; the check below is by op).
    what: &'static str,
    why: &'static str,
}

const KEPT: &[Kept] = &[
    Kept {
        op: "list_run_artifacts",
        what: "GET artifacts/list (the tracking server's own listing) instead of the artifact proxy's",
        why: "the registration checks verify the listing MLflow's UI reads (through ajax-api); \
              MLflow's client lists a proxied run's artifacts like list_artifact_dir, which is compared",
    },
    Kept {
        op: "create_logged_model",
        what: "a `tags` field (mlflow.user)",
        why: "MLflow's fluent log_model sends its context tags there (docs/mlflow-clients.md); \
              MlflowClient.create_logged_model without tags sends none",
    },
];

/// The suite's client does `op` against a server that records what it gets.
async fn sent_by_suite(server: &MockServer, client: &MlflowClient, op: Op) -> Vec<Sent> {
    let before = server.received_requests().await.unwrap_or_default().len();
    op(client).await;
    let all = server.received_requests().await.unwrap_or_default();
    all[before..]
        .iter()
        .map(|r| {
            let mut query: Vec<String> = r.url.query_pairs().map(|(k, _)| k.into_owned()).collect();
            query.sort();
            let mut body: Vec<String> = serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
                .unwrap_or_default();
            body.sort();
            Sent {
                method: r.method.to_string(),
                path: normalise(r.url.path()),
                query,
                body,
            }
        })
        .collect()
}

/// Every call of the suite's client, against each recorded release: each request it sends is
/// one MLflow's own client sends for that operation, with the same query and body keys.
#[tokio::test]
async fn the_suite_sends_what_mlflows_own_client_sends() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    let client = MlflowClient::direct(
        HttpClient::new(Duration::from_secs(5), Duration::from_secs(2)),
        url::Url::parse(&server.uri()).unwrap(),
        ApiPrefix::Api,
    );
    let recordings = recordings();
    // The releases the profiles name are recorded (and the newest, which the servers run).
    for profile in ["hokusai-2025-08", "hokusai-2026"] {
        let release = Profile::load(profile).unwrap().proxy.mlflow_release;
        assert!(
            recordings.iter().any(|r| r.release == release),
            "no recording of MLflow {release} ({profile}): run the recording test with HOKUSAI_UPDATE_CLIENT_CALLS=1"
        );
    }
    let mut problems = Vec::new();
    let mut compared = 0;
    for rec in &recordings {
        for (name, op) in OPS {
            let Some(theirs) = rec.calls.get(*name) else {
                // Logged models are MLflow 3's: 2.x's client has no such call.
                assert!(
                    rec.release.starts_with("2.") && name.contains("logged_model")
                        || rec.release.starts_with("2.") && *name == "log_model_output",
                    "MLflow {}'s recording has no {name}",
                    rec.release
                );
                continue;
            };
            let ours = sent_by_suite(&server, &client, *op).await;
            assert_eq!(ours.len(), 1, "{name} sends one request: {ours:?}");
            let ours = &ours[0];
            let kept = KEPT.iter().find(|k| k.op == *name);
            match theirs
                .iter()
                .find(|t| t.method == ours.method && t.path == ours.path)
            {
                None if kept.is_some() => {}
                None => problems.push(format!(
                    "MLflow {}: {name} sends {ours}; MLflow's client sends {}",
                    rec.release,
                    theirs
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                Some(t) if t == ours => {
                    compared += 1;
                    if let Some(k) = kept {
                        problems.push(format!(
                            "MLflow {}: {name} is kept as differing ({}), but it sends what MLflow's client sends: remove it from KEPT",
                            rec.release, k.what
                        ));
                    }
                }
                Some(_) if kept.is_some() => compared += 1,
                Some(t) => problems.push(format!(
                    "MLflow {}: {name} sends {ours}; MLflow's client sends {t}",
                    rec.release
                )),
            }
        }
        // Every operation recorded is one the suite makes.
        for name in rec.calls.keys() {
            assert!(
                OPS.iter().any(|(n, _)| n == name),
                "MLflow {} recorded {name}, which the suite's client does not make",
                rec.release
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared > 80, "only {compared} calls compared");
    // A kept difference names a call the suite makes.
    for k in KEPT {
        assert!(
            OPS.iter().any(|(n, _)| *n == k.op),
            "{} kept for {}: {}",
            k.op,
            k.what,
            k.why
        );
    }
}

/// Every public call of the suite's MLflow client is compared above, or is built on the
/// calls that are.
#[test]
fn every_call_of_the_client_is_compared() {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/mlflow/client.rs"))
            .unwrap();
    let calls: Vec<&str> = src
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub async fn "))
        .map(|l| l.split(['(', '<']).next().unwrap())
        .collect();
    assert!(calls.len() > 30, "{calls:?}");
    for c in calls {
        assert!(
            OPS.iter().any(|(n, _)| *n == c) || COMPOSED.iter().any(|(n, _)| *n == c),
            "MlflowClient::{c} is neither compared with MLflow's own client (OPS) nor declared as built on compared calls (COMPOSED)"
        );
    }
}

/// The recordings are what MLflow's own client sends today: regenerated from each real
/// server `make test` starts (`HOKUSAI_UPDATE_CLIENT_CALLS=1` writes them).
#[test]
fn recordings_are_what_mlflows_client_sends() {
    let servers = [
        ("HOKUSAI_MLFLOW2_URL", "HOKUSAI_MLFLOW2_PYTHON"),
        ("HOKUSAI_MLFLOW39_URL", "HOKUSAI_MLFLOW39_PYTHON"),
        ("HOKUSAI_MLFLOW_URL", "HOKUSAI_MLFLOW_PYTHON"),
    ];
    let update = std::env::var("HOKUSAI_UPDATE_CLIENT_CALLS").is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    // The three at once: each is mostly MLflow's import and its waits.
    let recorded: Vec<(String, String)> = std::thread::scope(|scope| {
        let runs: Vec<_> = servers
            .iter()
            .filter_map(|(url_var, python_var)| {
                let (Ok(url), Ok(python)) = (std::env::var(url_var), std::env::var(python_var))
                else {
                    assert!(!ci, "CI records MLflow's client against every real server: {url_var} and {python_var} are not set (make test sets them)");
                    eprintln!("{url_var} or {python_var} not set: the recording from that server is not checked");
                    return None;
                };
                Some(scope.spawn(move || record(&python, &url)))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (release, now) in recorded {
        common::compare_or_write(
            &recordings_dir().join(format!("{release}.json")),
            &now,
            update,
            &format!("the recording of MLflow {release}'s client"),
            "HOKUSAI_UPDATE_CLIENT_CALLS=1 cargo test --test mlflow_client_parity",
        );
    }
}

/// Runs the recording script with a venv's Python against a real server: (release, JSON).
fn record(python: &str, url: &str) -> (String, String) {
    let now = common::run_venv_script(python, "record_client_calls.py", &[url]);
    let rec: Recording = serde_json::from_str(&now).unwrap();
    (rec.release, now)
}
