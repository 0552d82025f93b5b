//! Checklist area 3: the model-registration flow through the proxy, with the Hokusai
//! metadata. Rerun alone with `cargo test --test registration_flow`.

mod common;

use common::target;
use hokusai_verify::catalogue::Area;
use hokusai_verify::check::Outcome;
use hokusai_verify::fixtures::Env;
use std::sync::Arc;

use hokusai_verify::config::Profile;
use hokusai_verify::standin::{Breakage, Fault};
use rstest::rstest;

#[rstest]
#[case::workflow("workflow_completes")]
#[case::registry("model_in_registry")]
#[case::version_2("second_registration_is_version_2")]
#[case::readback("metrics_and_params_read_back")]
#[case::artifacts("artifacts_round_trip")]
#[case::budget("workflow_within_budget")]
#[case::cleanup("cleanup_leaves_nothing")]
#[tokio::test]
async fn registration_flow(#[future] target: Arc<Env>, #[case] id: &str) {
    common::run_check_on(target.await, Area::RegistrationFlow, id).await;
}

#[rstest]
#[case::workflow_mlflow_down("workflow_completes", Fault::MlflowDown)]
#[case::workflow_no_artifacts("workflow_completes", Fault::ArtifactsDisabled)]
#[case::workflow_mlflow_slow("workflow_completes", Fault::MlflowSlow)]
#[case::workflow_auth_down("workflow_completes", Fault::AuthDown)]
#[case::registry_mlflow_down("model_in_registry", Fault::MlflowDown)]
#[case::version_2_mlflow_down("second_registration_is_version_2", Fault::MlflowDown)]
#[case::readback_no_artifacts("metrics_and_params_read_back", Fault::ArtifactsDisabled)]
#[case::artifacts_disabled("artifacts_round_trip", Fault::ArtifactsDisabled)]
#[tokio::test]
async fn caught_by_fault(
    #[case] id: &str,
    #[case] fault: Fault,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    let r = common::run_under_faults(profile, Area::RegistrationFlow, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
}

/// Write scopes are enforced only from profile 2026 on.
#[rstest]
#[case::workflow_write_forbidden("workflow_completes", Fault::WriteForbidden)]
#[tokio::test]
async fn caught_by_fault_2026(#[case] id: &str, #[case] fault: Fault) {
    let r = common::run_under_faults("hokusai-2026", Area::RegistrationFlow, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
    assert!(
        r.message.as_deref().unwrap_or("").contains("403"),
        "{}",
        r.explain()
    );
}

/// What an MLflow 3 client sends to log and register a model: only under a profile whose
/// MLflow is 3 (MLflow 2 has no logged models, so 2025-08 plans no such check). Passes on a
/// healthy stand-in; artifact serving switched off fails it.
#[rstest]
#[case::logged_model_healthy("logged_model_registers", None)]
#[case::logged_model_no_artifacts("logged_model_registers", Some(Fault::ArtifactsDisabled))]
#[case::logged_model_mlflow_down("logged_model_registers", Some(Fault::MlflowDown))]
#[tokio::test]
async fn logged_model_under_mlflow_3(#[case] id: &str, #[case] fault: Option<Fault>) {
    let faults: Vec<Fault> = fault.into_iter().collect();
    let r = common::run_under_faults("hokusai-2026", Area::RegistrationFlow, id, &faults).await;
    match fault {
        None => assert_eq!(r.outcome, Outcome::Passed, "{}", r.explain()),
        Some(f) => common::assert_caught(&r, &[f]),
    }
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
    let old = hokusai_verify::config::Profile::load("hokusai-2025-08").unwrap();
    assert!(
        hokusai_verify::checks::find(&old, Area::RegistrationFlow, id).is_none(),
        "planned under MLflow 2"
    );
}

/// Under 2025-08 a key without write scope still writes (scopes are not enforced then).
#[tokio::test]
async fn write_scopes_not_enforced_in_2025_08() {
    common::assert_passes_under_faults(
        "hokusai-2025-08",
        Area::RegistrationFlow,
        "workflow_completes",
        &[Fault::WriteForbidden],
    )
    .await;
}

/// The budget check with a 2 s budget: `slow-registry` adds 1.2 s to every call, so the
/// workflow is over budget after its second stage (the check stops there, in ~3 s).
#[rstest]
#[case::budget_slow("workflow_within_budget", Fault::SlowRegistry)]
#[tokio::test]
async fn caught_by_fault_tight_budget(#[case] id: &str, #[case] fault: Fault) {
    let mut profile = Profile::default_profile();
    profile.workflow.budget_secs = 2;
    let r = common::run_with_profile(profile, Area::RegistrationFlow, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
    assert!(
        r.message.as_deref().unwrap_or("").contains("budget")
            || r.expected.as_deref().unwrap_or("").contains("within"),
        "{}",
        r.explain()
    );
}

#[rstest]
#[case::cleanup_ignored("cleanup_leaves_nothing", Breakage::DeleteIgnored)]
#[tokio::test]
async fn caught_by_breakage(#[case] id: &str, #[case] breakage: Breakage) {
    let r =
        common::run_with_breakage("hokusai-2025-08", Area::RegistrationFlow, id, breakage).await;
    common::assert_caught(&r, &[breakage]);
}

/// A failing check still cleans up: with artifacts off the workflow stops after creating an
/// experiment and a run, and nothing stays active in the registry.
#[tokio::test]
async fn failed_check_still_cleans_up() {
    let env = hokusai_verify::fixtures::Env::standin_with(
        Profile::default_profile(),
        &[Fault::ArtifactsDisabled],
    )
    .await;
    let spec =
        hokusai_verify::checks::find(env.profile(), Area::RegistrationFlow, "workflow_completes")
            .unwrap();
    let r = spec.run(&env).await;
    assert!(r.outcome.is_bad());
    assert_eq!(r.measurements["cleanup_problems"], 0.0, "{}", r.explain());
    let client = hokusai_verify::mlflow::MlflowClient::direct(
        env.http.clone(),
        env.standin().unwrap().mlflow_url(),
        hokusai_verify::mlflow::ApiPrefix::Api,
    );
    let left = client
        .search_experiments(Some("name LIKE 'hv-%'"), 100)
        .await
        .unwrap();
    assert!(left.is_empty(), "active experiments left behind: {left:?}");
    let models = client
        .search_registered_models("name LIKE 'hokusai-hv-%'", 100)
        .await
        .unwrap();
    assert!(models.is_empty(), "models left behind: {models:?}");
}

#[test]
fn every_check_has_a_case_and_a_fault() {
    let source = include_str!("registration_flow.rs");
    common::assert_every_check_has_a_case(Area::RegistrationFlow, source);
    common::assert_every_check_has_a_fault_case(Area::RegistrationFlow, source);
}

/// The janitor finds only old suite-made names, and deletes them when asked.
#[tokio::test]
async fn janitor_removes_only_old_leftovers() {
    use hokusai_verify::mlflow::{ApiPrefix, MlflowClient, janitor};
    let env = hokusai_verify::fixtures::Env::standin_with(Profile::default_profile(), &[]).await;
    let client = MlflowClient::via_proxy(
        env.http.clone(),
        env.registry_url().clone(),
        hokusai_verify::http::Auth::Bearer(env.keys.primary.clone()),
        ApiPrefix::Api,
    );
    let old = "hokusai-hv-20200101000000-abcd-old";
    // The script-parity checks' names (the janitor missed them on a real deployment).
    let old_parity = "hokusai-test-model-registration-hv-20200101000000-efgh-simple";
    let fresh = format!(
        "hokusai-{}",
        hokusai_verify::mlflow::workflow::unique_token("fresh")
    );
    for name in [old, old_parity, fresh.as_str(), "hokusai-customer-model"] {
        client.create_registered_model(name, "", &[]).await.unwrap();
    }
    let found = janitor::find(&client, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    let mut names: Vec<&str> = found.iter().map(|l| l.name.as_str()).collect();
    names.sort();
    assert_eq!(names, [old, old_parity]);
    assert!(janitor::delete(&client, None, &found).await.is_empty());
    assert!(client.get_registered_model(old).await.is_err());
    assert!(client.get_registered_model(old_parity).await.is_err());
    assert!(client.get_registered_model(&fresh).await.is_ok());
    assert!(
        client
            .get_registered_model("hokusai-customer-model")
            .await
            .is_ok()
    );
}

/// A registration made in a test is removed by the test's context at teardown.
#[test_context::test_context(common::RegistryCtx)]
#[tokio::test]
async fn a_test_context_cleans_up_what_the_test_registered(ctx: &mut common::RegistryCtx) {
    let req = hokusai_verify::mlflow::workflow::RegistrationRequest::fresh("context");
    let reg = hokusai_verify::mlflow::workflow::register(
        &ctx.client,
        &req,
        hokusai_verify::model::SampleModel::get(),
        hokusai_verify::config::Profile::default_profile().mlflow_major(),
        &ctx.created,
        None,
    )
    .await
    .expect("registration");
    assert_eq!(reg.version, "1");
    assert!(
        !ctx.created.models().is_empty(),
        "the context knows what to delete"
    );
    let _ = &ctx.env;
}

/// An answer that does not parse is a finding, never an empty default: a 2xx without the
/// field MLflow always sends, or with it in another shape, is an error naming the call; a
/// list MLflow leaves out when empty is an empty list.
#[tokio::test]
async fn malformed_mlflow_answers_are_errors_not_defaults() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let answer = |p: &str, body: serde_json::Value| {
        // Every call here is a POST, as MLflow's own client sends them.
        Mock::given(method("POST"))
            .and(path(format!("/api/2.0/mlflow/{p}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    answer(
        "experiments/create",
        serde_json::json!({"experiment_id": {"not": "a string"}}),
    )
    .mount(&server)
    .await;
    answer("runs/create", serde_json::json!({}))
        .mount(&server)
        .await;
    answer("experiments/search", serde_json::json!({}))
        .mount(&server)
        .await;
    let http = hokusai_verify::http::HttpClient::new(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(2),
    );
    let client = hokusai_verify::mlflow::MlflowClient::direct(
        http,
        url::Url::parse(&server.uri()).unwrap(),
        hokusai_verify::mlflow::ApiPrefix::Api,
    );
    let e = client.create_experiment("x", &[]).await.unwrap_err();
    assert!(
        e.call.contains("experiments/create") && e.message.contains("experiment_id"),
        "{e}"
    );
    let e = client.create_run("1", "r", &[]).await.unwrap_err();
    assert!(
        e.call.contains("runs/create") && e.message.contains("`run`"),
        "{e}"
    );
    assert!(client.search_experiments(None, 5).await.unwrap().is_empty());
}

/// When the proxy drops DELETE bodies (as a real deployment did), the janitor says why it
/// could not remove a model through it, and removes it through MLflow's own address when
/// one is given (`HOKUSAI_MLFLOW_INTERNAL_URL`); deleted experiments are listed with how to purge
/// them, never silently skipped.
#[tokio::test]
async fn janitor_falls_back_to_mlflow_and_lists_deleted_experiments() {
    use hokusai_verify::mlflow::{ApiPrefix, MlflowClient, janitor};
    use hokusai_verify::standin::Breakage;
    let env = hokusai_verify::fixtures::Env::standin_with(Profile::default_profile(), &[]).await;
    let standin = env.standin().unwrap();
    standin.set_breakage(Breakage::ProxyDropsDeleteBody, true);
    let client = MlflowClient::via_proxy(
        env.http.clone(),
        env.registry_url().clone(),
        hokusai_verify::http::Auth::Bearer(env.keys.primary.clone()),
        ApiPrefix::Api,
    );
    let direct = MlflowClient::direct(env.http.clone(), standin.mlflow_url(), ApiPrefix::Api);
    let model = "hokusai-hv-20200101000000-wxyz-stuck";
    client
        .create_registered_model(model, "", &[])
        .await
        .unwrap();
    let exp = client
        .create_experiment("hv-20200101000000-wxyz-gone", &[])
        .await
        .unwrap();
    client.delete_experiment(&exp).await.unwrap();
    let found = janitor::find(&client, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = found.iter().map(|l| (l.kind, l.name.as_str())).collect();
    assert!(kinds.contains(&("registered model", model)), "{kinds:?}");
    assert!(
        kinds.contains(&(janitor::SOFT_DELETED, "hv-20200101000000-wxyz-gone")),
        "{kinds:?}"
    );
    // Through the proxy only: the model stays, and the janitor says why and what to do.
    let problems = janitor::delete(&client, None, &found).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains(model) && p.contains("HOKUSAI_MLFLOW_INTERNAL_URL")),
        "{problems:?}"
    );
    // A deleted experiment is not a failure: the purge command is given instead.
    assert!(
        !problems.iter().any(|p| p.contains("wxyz-gone")),
        "{problems:?}"
    );
    let purge = janitor::purge_command(&found).expect("a purge command");
    assert!(
        purge.contains("mlflow gc") && purge.contains(&exp),
        "{purge}"
    );
    assert!(client.get_registered_model(model).await.is_ok());
    // With MLflow's own address: gone.
    let problems = janitor::delete(&client, Some(&direct), &found).await;
    assert!(!problems.iter().any(|p| p.contains(model)), "{problems:?}");
    assert!(client.get_registered_model(model).await.is_err());
}

/// Issue 17: a proxy that drops DELETE bodies refuses every `registered-models/delete`; one
/// that refuses DELETE on the artifact service keeps every artifact. Every check that
/// creates something runs against one stand-in with that breakage; then MLflow's store is
/// read directly. Without a fallback, every model and artifact directory still there is
/// listed in a result's `left_behind` (with its removal command and, for artifacts, its
/// bytes) and models are tagged as leftovers; with MLflow's own address configured
/// (`HOKUSAI_MLFLOW_INTERNAL_URL`), nothing is left at all.
#[rstest]
#[case::body_dropped(Breakage::ProxyDropsDeleteBody, false)]
#[case::body_dropped_with_mlflow_url(Breakage::ProxyDropsDeleteBody, true)]
#[case::artifacts_refused(Breakage::ArtifactDeleteRefused, false)]
#[case::artifacts_refused_with_mlflow_url(Breakage::ArtifactDeleteRefused, true)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_delete_path_leaves_nothing_unlisted(
    #[case] breakage: Breakage,
    #[case] fallback: bool,
) {
    use hokusai_verify::config::Config;
    use hokusai_verify::fixtures::Env;
    use hokusai_verify::mlflow::workflow::{LEFTOVER_TAG, LeftKind};
    use hokusai_verify::mlflow::{ApiPrefix, MlflowClient};
    use hokusai_verify::standin::{StandIn, StandInOptions};
    let profile = Profile::default_profile();
    let standin = StandIn::start(StandInOptions::new(profile.clone()).fast())
        .await
        .expect("the stand-in starts");
    standin.set_breakage(breakage, true);
    let mlflow = standin.mlflow_url();
    let mut config = Config::standin(profile.clone());
    if fallback {
        config.mlflow_url = Some(mlflow.clone());
    }
    let env = Env::on_standin(config.clone(), standin).await;
    // The areas whose checks create registry objects, without the heavy transfers; one at a
    // time, since they share this one stand-in.
    let specs: Vec<_> = [
        Area::RegistrationFlow,
        Area::MlflowProxy,
        Area::ScriptParity,
        Area::ErrorScenarios,
    ]
    .into_iter()
    .flat_map(|a| hokusai_verify::checks::area(a, &profile))
    .filter(|s| !s.heavy)
    .collect();
    let results = common::run_in_sequence(&specs, env.clone()).await;
    let left: Vec<_> = results.iter().flat_map(|r| &r.left_behind).collect();
    let listed = |kind: LeftKind| {
        left.iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.name.as_str())
            .collect::<Vec<&str>>()
    };
    let uploaded: f64 = results
        .iter()
        .filter_map(|r| r.measurements.get(hokusai_verify::check::UPLOADED))
        .sum();
    let bytes_left = env.standin().unwrap().artifact_bytes();
    let listed_bytes: u64 = left.iter().filter_map(|l| l.bytes).sum();
    let direct = MlflowClient::direct(env.http.clone(), mlflow, ApiPrefix::Api);
    let models = direct
        .search_registered_models("name LIKE 'hokusai-%'", 1000)
        .await
        .unwrap();
    eprintln!(
        "{breakage}, fallback {fallback}: {} models left ({} listed); {uploaded} bytes uploaded, {bytes_left} left ({listed_bytes} listed)",
        models.len(),
        listed(LeftKind::RegisteredModel).len(),
    );
    assert!(uploaded > 0.0, "the checks uploaded nothing");
    // Every model left is listed and tagged.
    for m in &models {
        assert!(
            listed(LeftKind::RegisteredModel).contains(&m.name.as_str()),
            "{} left behind and not listed",
            m.name
        );
        assert!(
            m.tags.iter().any(|t| t.key == LEFTOVER_TAG),
            "{} not tagged as a leftover",
            m.name
        );
    }
    // Every artifact byte left is listed.
    assert_eq!(
        bytes_left, listed_bytes,
        "artifact bytes left but not listed"
    );
    if fallback {
        assert!(models.is_empty(), "left behind: {models:?}");
        assert_eq!(bytes_left, 0);
        assert!(left.is_empty(), "{left:?}");
    } else if breakage == Breakage::ProxyDropsDeleteBody {
        assert!(!models.is_empty(), "the breakage refused no delete");
    } else {
        assert!(bytes_left > 0, "the breakage refused no artifact delete");
    }
    let experiments = direct
        .search_experiments(Some("name LIKE 'hv-%'"), 1000)
        .await
        .unwrap();
    assert!(
        experiments.is_empty(),
        "active experiments left: {experiments:?}"
    );
}
