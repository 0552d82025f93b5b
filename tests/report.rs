//! The report, tested on result sets recorded from stand-in runs (healthy, faults) and on
//! hand-made ones (a canary key, broken run folders). Snapshots live in `snapshots/`.

use hokusai_verify::catalogue::Area;
use hokusai_verify::check::{CheckResult, Component, Evidence, Outcome, record};
use hokusai_verify::config::Profile;
use hokusai_verify::report::{self, Report, Verdict};
use hokusai_verify::selftest::{Scenario, run};
use hokusai_verify::standin::Fault;
use std::path::Path;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

/// Replaces what differs between runs (times, ports, generated names, ids, figures) so a
/// rendered report can be compared with a snapshot.
fn normalise(text: &str) -> String {
    let rules: &[(&str, &str)] = &[
        (
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( UTC|Z|\+00:00)?",
            "<time>",
        ),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:<port>"),
        (r"hv-\d{14}-[a-z]{4}", "hv-<stamp>"),
        (r"[0-9a-f]{32}", "<run-id>"),
        (r"key-[a-z-]+-\d+", "<key-id>"),
        (r"(^|[\s|(=])\d+\.\d+", "$1<n>"),
        (
            r#""(timestamp|creation_timestamp|last_updated_timestamp|creation_time|last_update_time)": ?\d+"#,
            r#""$1": <ts>"#,
        ),
        (r"\(\d+ ms\)", "(<n> ms)"),
        // Which check is the longest depends on this machine's scheduling.
        (r"critical path \S+", "critical path <check>"),
        (r"\d+(\.\d+)?(ms|µs|s)\b", "<dur>"),
    ];
    let mut out = text.to_owned();
    for (pat, rep) in rules {
        out = regex::Regex::new(pat)
            .unwrap()
            .replace_all(&out, *rep)
            .into_owned();
    }
    out
}

async fn stand_in_results(faults: &[Fault], areas: Vec<Area>) -> Vec<CheckResult> {
    run(
        &Profile::default_profile(),
        &Scenario {
            faults: faults.to_vec(),
            areas,
            ..Default::default()
        },
    )
    .await
}

#[rstest::rstest]
#[case::healthy("healthy", &[])]
#[case::two_faults("mlflow-down+cache-off", &[Fault::MlflowDown, Fault::CacheOff])]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_snapshots(#[case] name: &str, #[case] faults: &[Fault]) {
    // The health and authentication areas: every component, and small enough to review.
    let results = stand_in_results(faults, vec![Area::InfraHealth, Area::Authentication]).await;
    let r = Report::build(results, vec![]);
    let md = normalise(&report::markdown::report(&r));
    let issues = normalise(&report::markdown::infrastructure_issues(&r));
    let summary = serde_json::json!({
        "verdict": r.verdict, "counts": r.counts, "health": r.health, "unclassified": r.unclassified,
        "causes": r.causes.iter().map(|c| serde_json::json!({"id": c.id, "title": c.title, "fix": c.fix,
            "resource": c.resource, "blocks_registration": c.blocks_registration, "checks": c.checks})).collect::<Vec<_>>(),
        "latency_families": r.latency.iter().map(|l| l.family.clone()).collect::<Vec<_>>(),
        "missing": r.missing, "problems": r.problems,
    });
    settings().bind(|| {
        insta::assert_snapshot!(format!("report_{name}_md"), md);
        insta::assert_snapshot!(format!("infrastructure_issues_{name}_md"), issues);
        insta::assert_json_snapshot!(format!("report_{name}_json"), summary);
    });
}

const CANARY: &str = "hk_live_CanaryCanaryCanaryCanary01234567";

fn canary_result(id: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        area: Area::Authentication,
        id: id.into(),
        title: format!("a check that saw {CANARY}"),
        component: Component::Api,
        target: "standin".into(),
        profile: "hokusai-2025-08".into(),
        outcome,
        line: Some(hokusai_verify::check::Line::ProxyHeaders),
        symptoms: vec![hokusai_verify::check::Symptom::KeyEchoed],
        expected: Some(format!("no key echoed, not {CANARY}")),
        actual: Some(format!("Authorization: Bearer {CANARY}")),
        message: Some(format!(
            "the platform answered {{\"api_key\": \"{CANARY}\"}}"
        )),
        evidence: vec![Evidence {
            request: format!("GET /?key={CANARY}"),
            host: "registry".into(),
            auth: "Authorization: Bearer".into(),
            status: Some(200),
            content_type: Some("application/json".into()),
            latency_ms: 3.0,
            body_excerpt: format!("{{\"echo\": \"{CANARY}\"}}"),
            error: Some(format!("x-api-key: {CANARY}")),
            symptoms: vec![],
            injected: false,
            retried: None,
            sent: None,
        }],
        measurements: Default::default(),
        started_at: chrono::Utc::now(),
        duration_ms: 3.0,
        heavy: false,
        left_behind: vec![hokusai_verify::mlflow::workflow::LeftBehind {
            kind: hokusai_verify::mlflow::workflow::LeftKind::Run,
            name: "abc123".into(),
            reason: format!("runs/delete: 403 {{\"key\": \"{CANARY}\"}}"),
            remove: "curl -X POST \"$MLFLOW_URL/api/2.0/mlflow/runs/delete\"".into(),
            bytes: None,
        }],
        rerun: Some(hokusai_verify::check::Rerun {
            first_outcome: "ERROR".into(),
            timed_out: vec![format!("registry GET /?key={CANARY}")],
            beside: 3,
        }),
        matrix: Some(hokusai_verify::check::MatrixColumn {
            column: "proxy-api:no-key".into(),
            release: "2.9.2".into(),
            families: [("experiments".to_owned(), (0, 1))].into(),
            failing: vec![hokusai_verify::check::MatrixCell {
                family: "experiments".into(),
                request: format!("GET /api/mlflow/api/2.0/mlflow/experiments/get?key={CANARY}"),
                status: 200,
                want: "401".into(),
            }],
        }),
    }
}

/// A key in any field of any result appears in no output: files, status block, package.
#[test]
fn canary_key_never_appears_in_any_output() {
    let dir = tempdir("canary");
    // `record` redacts on the way to disk; build the report from unredacted results too.
    let results = vec![
        canary_result("key_format[bearer]", Outcome::Failed),
        canary_result("rate_limit_headers", Outcome::Passed),
    ];
    for r in &results {
        record(&dir, r).unwrap();
    }
    let mut from_memory = Report::build(results, vec![format!("problem mentioning {CANARY}")]);
    let out = dir.join("out");
    report::write_all(&mut from_memory, &out).unwrap();
    let mut from_disk = Report::from_run_dir(&dir, None);
    report::write_all(&mut from_disk, &dir.join("out2")).unwrap();
    let status = report::status::update("# Status\n", &from_memory);
    let package = report::package::package(&dir).unwrap();
    let mut texts = vec![(
        "status block".to_owned(),
        hokusai_verify::secret::redact(&status),
    )];
    for d in [&dir.join("results/authentication"), &out, &dir.join("out2")] {
        for f in std::fs::read_dir(d).unwrap().flatten() {
            texts.push((
                f.path().display().to_string(),
                std::fs::read_to_string(f.path()).unwrap(),
            ));
        }
    }
    let gz = std::fs::read(&package).unwrap();
    let mut tar = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut tar)
        .unwrap_or_default();
    texts.push(("package".into(), tar));
    assert!(texts.len() >= 12, "{}", texts.len());
    for (name, text) in texts {
        assert!(
            !text.contains("CanaryCanary"),
            "the canary key leaked into {name}"
        );
    }
    let _ = std::fs::remove_file(package);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hokusai-verify-test-{name}-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A run folder where a binary crashed mid-run: a half-written file, and checks of an area
/// that left no result. The report says so instead of crashing.
#[tokio::test]
async fn partial_run_folder_is_reported_not_a_crash() {
    let dir = tempdir("partial");
    let results = stand_in_results(&[], vec![Area::InfraHealth]).await;
    let profile = Profile::default_profile();
    hokusai_verify::check::plan::record_plan(
        &dir,
        &hokusai_verify::config::Config::standin(profile.clone()),
        &hokusai_verify::checks::area(Area::InfraHealth, &profile),
    )
    .unwrap();
    for r in results.iter().take(5) {
        record(&dir, r).unwrap();
    }
    std::fs::write(
        dir.join("results/infra_health/crashed.json"),
        "{\"area\": \"infra_health\", \"id\": ",
    )
    .unwrap();
    let mut r = Report::from_run_dir(&dir, None);
    assert_eq!(r.counts.total, 5);
    assert!(
        r.problems.iter().any(|p| p.contains("crashed.json")),
        "{:?}",
        r.problems
    );
    assert_eq!(r.missing.len(), results.len() - 5, "{:?}", r.missing);
    report::write_all(&mut r, &dir).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("Checks without a result") && md.contains("crashed.json"),
        "{md}"
    );
}

#[test]
fn empty_or_missing_run_folder_gives_a_no_results_report() {
    for dir in [
        tempdir("empty"),
        std::env::temp_dir().join("hokusai-verify-does-not-exist"),
    ] {
        let mut r = Report::from_run_dir(&dir, None);
        assert_eq!(r.verdict, Verdict::NoResults);
        assert!(!r.problems.is_empty());
        report::write_all(&mut r, &tempdir("empty-out")).unwrap();
    }
}

/// The second report in a folder lists what broke and what got fixed since the first.
#[tokio::test]
async fn delta_against_the_previous_run() {
    let dir = tempdir("delta");
    let first = stand_in_results(&[Fault::EcsMissing], vec![Area::InfraHealth]).await;
    report::write_all(&mut Report::build(first, vec![]), &dir).unwrap();
    let second = stand_in_results(&[Fault::EcsDegraded], vec![Area::InfraHealth]).await;
    let mut r = Report::build(second, vec![]);
    report::write_all(&mut r, &dir).unwrap();
    let d = r.delta.expect("a delta");
    assert_eq!(
        d.fixed,
        ["infra_health/ecs_service[hokusai-mlflow-development]"]
    );
    assert_eq!(
        d.newly_failing,
        [
            "infra_health/ecs_service[hokusai-api-development]",
            "infra_health/ecs_service[hokusai-auth-development]"
        ]
    );
    assert!(dir.join("report.previous.json").exists());
}

#[test]
fn status_block_is_replaced_between_markers() {
    let r = Report::build(vec![canary_result("x", Outcome::Passed)], vec![]);
    let once = report::status::update("# Readme\n\nText.\n", &r);
    let twice = report::status::update(&once, &r);
    assert_eq!(once.matches(report::status::START).count(), 1);
    assert_eq!(twice.matches(report::status::START).count(), 1);
    assert!(twice.starts_with("# Readme\n\nText."));
}

/// One JUnit test case per check, failures with their message.
#[tokio::test]
async fn junit_has_one_case_per_check() {
    let results = stand_in_results(&[Fault::EcsMissing], vec![Area::InfraHealth]).await;
    let n = results.len();
    let xml = report::junit::render(&Report::build(results, vec![]));
    assert_eq!(xml.matches("<testcase ").count(), n);
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("reason MISSING"));
}

#[test]
fn report_json_round_trips() {
    let r = Report::build(vec![canary_result("x", Outcome::Failed)], vec![]);
    let json = report::json::render(&r);
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.schema_version, report::SCHEMA_VERSION);
    assert_eq!(back.checks.len(), 1);
    let _ = Path::new("");
}

/// Every root-cause rule is documented.
#[test]
fn root_causes_are_documented() {
    let doc = include_str!("../docs/root-causes.md");
    for c in hokusai_verify::report::rca::CAUSES {
        assert!(
            doc.contains(&format!("`{}`", c.id())),
            "docs/root-causes.md lacks {}",
            c.id()
        );
    }
    use strum::IntoEnumIterator;
    for l in hokusai_verify::check::Line::iter() {
        assert!(
            doc.contains(&format!("`{}`", l.id())),
            "docs/root-causes.md lacks {}",
            l.id()
        );
    }
}

/// A check that panics (a bug of the suite) still leaves a result, with its message.
#[tokio::test]
async fn a_panicking_check_is_recorded() {
    use hokusai_verify::check::{Check, CheckFuture, CheckSpec};
    fn boom(_: &mut Check) -> CheckFuture<'_> {
        Box::pin(async { panic!("index out of range in a check") })
    }
    let env = hokusai_verify::fixtures::Env::standin_with(Profile::default_profile(), &[]).await;
    let r = CheckSpec::new(Area::MlflowProxy, "boom", Component::Api, "panics", boom)
        .run(&env)
        .await;
    assert_eq!(
        r.outcome,
        Outcome::Error {
            class: "panic".into()
        }
    );
    assert!(
        r.message
            .as_deref()
            .unwrap_or("")
            .contains("index out of range"),
        "{}",
        r.explain()
    );
}

/// What a check creates is deleted by the runner whatever way the check ends: here it
/// creates an experiment and panics; afterwards the experiment is gone from the registry.
#[tokio::test]
async fn the_runner_cleans_up_after_a_panicking_check() {
    use hokusai_verify::check::{Check, CheckFuture, CheckSpec};
    use hokusai_verify::mlflow::ApiPrefix;
    const NAME: &str = "hv-cleanup-after-panic-exp";
    fn creates_then_panics(c: &mut Check) -> CheckFuture<'_> {
        Box::pin(async move {
            let client = c.mlflow(ApiPrefix::Api);
            let created = c.created(&client);
            let id = client.create_experiment(NAME, &[]).await?;
            created.experiment(id);
            panic!("a bug after creating something");
        })
    }
    let env = hokusai_verify::fixtures::Env::standin_with(Profile::default_profile(), &[]).await;
    let spec = CheckSpec::new(
        Area::MlflowProxy,
        "creates_then_panics",
        Component::Api,
        "creates an experiment, then panics",
        creates_then_panics,
    );
    let r = spec.run(&env).await;
    assert_eq!(
        r.outcome,
        Outcome::Error {
            class: "panic".into()
        },
        "{}",
        r.explain()
    );
    assert_eq!(
        r.measurements.get("cleanup_problems"),
        Some(&0.0),
        "{}",
        r.explain()
    );
    let client = hokusai_verify::mlflow::MlflowClient::via_proxy(
        env.http.clone(),
        env.registry_url().clone(),
        hokusai_verify::http::Auth::Bearer(env.keys.primary.clone()),
        ApiPrefix::Api,
    );
    let left = client.get_experiment_by_name(NAME).await.unwrap();
    assert!(
        left.as_ref().is_none_or(|e| e.lifecycle_stage == "deleted"),
        "the experiment was left behind: {left:?}"
    );
}

/// Every failed request in the report comes with a copy-paste reproduction: `curl` with the
/// method, the URL (the host as its variable), the headers and the body, the key written as
/// `$HOKUSAI_API_KEY`, never its value.
#[tokio::test]
async fn failures_come_with_a_curl_reproduction() {
    let results = stand_in_results(&[Fault::MlflowDown], vec![Area::MlflowProxy]).await;
    let mut r = Report::build(results, vec![]);
    let dir = tempdir("curl");
    report::write_all(&mut r, &dir).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let repro: Vec<&str> = md.lines().filter(|l| l.starts_with("curl ")).collect();
    assert!(!repro.is_empty(), "{md}");
    assert!(
        repro.iter().any(|l| l.contains("-X POST")
            && l.contains("\"$HOKUSAI_REGISTRY_URL/api/mlflow/")
            && l.contains("\"Authorization: Bearer $HOKUSAI_API_KEY\"")
            && l.contains("--data-raw '{")),
        "{}",
        repro.join("\n")
    );
    assert!(!md.contains("hk_live_"), "a key in the report");
    let _ = std::fs::remove_dir_all(dir);
}

/// A partial run says so ("partial: 1 of 6 areas") and never "no action needed"; a rerun
/// with nothing changed says so in one line instead of empty bullets; a failure's expected
/// and actual appear once in `report.md`.
#[tokio::test]
async fn partial_runs_empty_sections_and_duplicates() {
    let dir = tempdir("partial-wording");
    let results = stand_in_results(&[], vec![Area::InfraHealth]).await;
    let mut r = Report::build(results.clone(), vec![]);
    assert_eq!(
        r.partial.as_deref(),
        Some("partial: 1 of 6 areas (infra_health)")
    );
    report::write_all(&mut r, &dir).unwrap();
    let issues = std::fs::read_to_string(dir.join("infrastructure-issues.md")).unwrap();
    assert!(!issues.contains("no action needed"), "{issues}");
    assert!(issues.contains("partial: 1 of 6 areas"), "{issues}");
    // The same results again: the delta says "no change", with no empty bullets.
    let mut again = Report::build(results, vec![]);
    report::write_all(&mut again, &dir).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("No change in which checks fail."), "{md}");
    assert!(!md.contains("(0): "), "{md}");
    assert!(!md.contains("rerun what it affects"), "{md}");

    let failing = stand_in_results(&[Fault::MlflowDown], vec![Area::MlflowProxy]).await;
    let mut r = Report::build(failing, vec![]);
    report::write_all(&mut r, &dir).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    // Each failure's own section of "Failures in detail" states its expectation once, and
    // the checks table does not repeat it.
    let table = md.split("## Failures in detail").next().unwrap_or_default();
    for f in r.failures() {
        let expected = f.expected.as_deref().unwrap_or_default();
        if expected.is_empty() {
            continue;
        }
        let section = md
            .split(&format!("### `{}`", f.key()))
            .nth(1)
            .and_then(|s| s.split("\n### ").next())
            .unwrap_or_default();
        assert_eq!(
            section.matches(expected).count(),
            1,
            "`{expected}` repeated in the section of {}",
            f.key()
        );
        assert!(!table.contains(expected), "the table repeats `{expected}`");
    }
}

/// Latency percentiles leave out what the suite injected itself and the large transfers of
/// heavy checks, and the report says what they include.
#[test]
fn latency_leaves_out_injected_delays_and_heavy_transfers() {
    let timed = |latency_ms: f64, injected: bool| {
        let mut r = canary_result("timed", Outcome::Passed);
        r.evidence[0].latency_ms = latency_ms;
        r.evidence[0].injected = injected;
        r
    };
    let mut heavy = timed(9000.0, false);
    heavy.heavy = true;
    let results = vec![timed(3.0, false), timed(5000.0, true), heavy];
    let rows = hokusai_verify::report::latency::by_family(&results);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].count, 1);
    assert!(rows[0].max_ms < 10.0, "{rows:?}");
    let md = hokusai_verify::report::markdown::report(&Report::build(results, vec![]));
    assert!(
        md.contains("without the delays the suite injected itself"),
        "{md}"
    );
}

/// What clean-up could not remove is listed with the command that removes it.
#[test]
fn left_behind_objects_are_listed_with_their_removal_command() {
    let mut r = canary_result("cleanup", Outcome::Failed);
    r.left_behind = vec![hokusai_verify::mlflow::workflow::LeftBehind {
        kind: hokusai_verify::mlflow::workflow::LeftKind::RegisteredModel,
        name: "hokusai-hv-20261202000000-abcd-flow".into(),
        reason: "DELETE registered-models/delete: 400 missing name".into(),
        remove: "curl -X DELETE -d '{\"name\":\"hokusai-hv-20261202000000-abcd-flow\"}' \"$MLFLOW_URL/api/2.0/mlflow/registered-models/delete\"".into(),
        bytes: Some(2_500_000),
    }];
    r.measurements
        .insert(hokusai_verify::check::UPLOADED.into(), 3_000_000.0);
    let md = report::markdown::report(&Report::build(vec![r], vec![]));
    let section = md
        .split("## Left behind on the platform")
        .nth(1)
        .expect("a left-behind section");
    assert!(section.contains("hokusai-hv-20261202000000-abcd-flow"));
    assert!(section.contains("$MLFLOW_URL/api/2.0/mlflow/registered-models/delete"));
    assert!(section.contains("hokusai_verify.leftover"));
    assert!(
        md.contains("**Storage:** the checks uploaded 2.9 MB of artifacts; left on the platform: 1 object(s), 2.4 MB"),
        "{md}"
    );
    // A report without leftovers has no such section.
    let mut passed = canary_result("x", Outcome::Passed);
    passed.left_behind.clear();
    let clean = report::markdown::report(&Report::build(vec![passed], vec![]));
    assert!(!clean.contains("Left behind"));
}

/// The route matrix is drawn compactly in report.md and report.html: a row per endpoint
/// family, a column per spelling and role, and every failing cell in full (here the proxy
/// refuses an artifact's DELETE: one cell of the artifact service per valid-key column).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_matrix_is_drawn_compactly() {
    use hokusai_verify::standin::Breakage;
    let results = run(
        &Profile::default_profile(),
        &Scenario {
            breakages: vec![Breakage::ArtifactDeleteRefused],
            areas: vec![Area::MlflowProxy],
            ..Default::default()
        },
    )
    .await;
    let r = Report::build(results, vec![]);
    let m = r.route_matrix().expect("the matrix checks ran");
    assert_eq!(m.release, "2.9.2");
    let col = m
        .columns
        .iter()
        .position(|c| c == "proxy-ajax:valid-key")
        .expect("a valid-key column");
    for (family, cells) in &m.rows {
        let (ok, n) = cells[col].expect("every family is sent a valid key");
        if family == "mlflow-artifacts" {
            assert_eq!((ok + 1, n), (n, n), "{family}: the refused DELETE only");
        } else {
            assert_eq!(ok, n, "{family}");
        }
    }
    let failing: usize = m
        .rows
        .iter()
        .flat_map(|(_, c)| c.iter().flatten())
        .map(|(ok, n)| n - ok)
        .sum();
    assert_eq!(m.failing.len(), failing, "every failing cell in full");
    let md = report::markdown::report(&r);
    assert!(md.contains("## Route matrix"), "{md}");
    assert!(md.contains("| registered-models |"), "{md}");
    assert!(
        md.contains("`proxy-ajax:valid-key` `DELETE /api/mlflow/ajax-api/2.0/mlflow-artifacts/artifacts/hokusai-probe-0`: 405"),
        "{md}"
    );
    let html = report::html::render(&r);
    assert!(html.contains("<h2>Route matrix</h2>"));
}
