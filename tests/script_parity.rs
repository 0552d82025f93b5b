//! Checklist area 6: the platform team's original scripts, one test per script under the
//! script's name, reproducing its intent against the contract (docs/script-parity.md).
//! Rerun alone with `cargo test --test script_parity`.

mod common;

use hokusai_verify::catalogue::Area;
use hokusai_verify::standin::Fault;
use rstest::rstest;

const AREA: Area = Area::ScriptParity;

#[rstest]
#[case("test_model_registration_simple")]
#[tokio::test]
async fn test_model_registration_simple(#[case] id: &str) {
    common::run_check(AREA, id).await;
}

#[rstest]
#[case("test_auth_registration")]
#[tokio::test]
async fn test_auth_registration(#[case] id: &str) {
    common::run_check(AREA, id).await;
}

#[rstest]
#[case("test_correct_registration")]
#[tokio::test]
async fn test_correct_registration(#[case] id: &str) {
    common::run_check(AREA, id).await;
}

#[rstest]
#[case("verify_model_registration")]
#[tokio::test]
async fn verify_model_registration(#[case] id: &str) {
    common::run_check(AREA, id).await;
}

#[rstest]
#[case("test_endpoint_availability")]
#[tokio::test]
async fn test_endpoint_availability(#[case] id: &str) {
    common::run_check(AREA, id).await;
}

#[rstest]
#[case("test_mlflow_routing")]
#[tokio::test]
async fn test_mlflow_routing(#[case] id: &str) {
    common::run_check(AREA, id).await;
}

#[rstest]
#[case("test_health_endpoints")]
#[tokio::test]
async fn test_health_endpoints(#[case] id: &str) {
    common::run_check(AREA, id).await;
}

/// Unlike several originals, each of them can fail.
#[rstest]
#[case::simple_no_artifacts("test_model_registration_simple", Fault::ArtifactsDisabled)]
#[case::auth_key_rejected("test_auth_registration", Fault::KeyNotValidForService)]
#[case::correct_mlflow_down("test_correct_registration", Fault::MlflowDown)]
#[case::raw_rest_no_rewrite("verify_model_registration", Fault::NoAjaxRewrite)]
#[case::availability_misrouted("test_endpoint_availability", Fault::MlflowRouteToMlflow)]
#[case::routing_no_artifacts("test_mlflow_routing", Fault::ArtifactsDisabled)]
#[case::health_mlflow_down("test_health_endpoints", Fault::MlflowDown)]
#[tokio::test]
async fn caught_by_fault(
    #[case] id: &str,
    #[case] fault: Fault,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    let r = common::run_under_faults(profile, AREA, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
}

#[test]
fn every_check_has_a_case_and_a_fault() {
    let source = include_str!("script_parity.rs");
    common::assert_every_check_has_a_case(AREA, source);
    common::assert_every_check_has_a_fault_case(AREA, source);
}
