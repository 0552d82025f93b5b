//! Checklist area 1: infrastructure health. Rerun alone with `cargo test --test infra_health`.
//!
//! `infra_health` runs every check against the configured target (the stand-in by default,
//! `HOKUSAI_TARGET=live` for a deployment). `caught_by_fault` shows that each check can fail:
//! the stand-in with a fault of `shared/platform/faults.md` switched on makes it fail.

mod common;

use common::target;
use hokusai_verify::catalogue::Area;
use hokusai_verify::fixtures::Env;
use std::sync::Arc;

use hokusai_verify::standin::{Breakage, Fault};
use rstest::rstest;

#[rstest]
#[case::root_requires_key("registry_root_requires_key")]
#[case::health("registry_health")]
#[case::health_latency("registry_health_latency")]
#[case::health_detailed("registry_health_detailed")]
#[case::mlflow_health("mlflow_health")]
#[case::api_mlflow_health("api_mlflow_health")]
#[case::ready("ops_endpoint[/ready]")]
#[case::live("ops_endpoint[/live]")]
#[case::version("ops_endpoint[/version]")]
#[case::metrics("ops_endpoint[/metrics]")]
#[case::auth_health("auth_health")]
#[case::ecs_auth("ecs_service[hokusai-auth-development]")]
#[case::ecs_api("ecs_service[hokusai-api-development]")]
#[case::ecs_mlflow("ecs_service[hokusai-mlflow-development]")]
#[case::mlflow_via_registry("mlflow_via_registry")]
#[case::health_vs_calls("health_matches_calls")]
#[case::redis("redis_connectivity")]
#[tokio::test]
async fn infra_health(#[future] target: Arc<Env>, #[case] id: &str) {
    common::run_check_on(target.await, Area::InfraHealth, id).await;
}

#[rstest]
#[case::root_alb_down("registry_root_requires_key", Fault::TargetUnhealthy)]
#[case::health_mlflow_down("registry_health", Fault::MlflowDown)]
#[case::health_redis_down("registry_health", Fault::CacheOff)]
#[case::health_alb_down("registry_health", Fault::TargetUnhealthy)]
#[case::health_slow("registry_health_latency", Fault::SlowRegistry)]
#[case::detailed_alb_down("registry_health_detailed", Fault::TargetUnhealthy)]
#[case::mlflow_health_down("mlflow_health", Fault::MlflowDown)]
#[case::api_mlflow_health_down("api_mlflow_health", Fault::MlflowDown)]
#[case::ready_mlflow_down("ops_endpoint[/ready]", Fault::MlflowDown)]
#[case::live_alb_down("ops_endpoint[/live]", Fault::TargetUnhealthy)]
#[case::version_alb_down("ops_endpoint[/version]", Fault::TargetUnhealthy)]
#[case::metrics_alb_down("ops_endpoint[/metrics]", Fault::TargetUnhealthy)]
#[case::auth_health_down("auth_health", Fault::AuthDown)]
#[case::ecs_api_degraded("ecs_service[hokusai-api-development]", Fault::EcsDegraded)]
#[case::ecs_mlflow_missing("ecs_service[hokusai-mlflow-development]", Fault::EcsMissing)]
#[case::ecs_auth_stuck("ecs_service[hokusai-auth-development]", Fault::EcsDegraded)]
#[case::via_registry_mlflow_down("mlflow_via_registry", Fault::MlflowDown)]
#[case::via_registry_misrouted("mlflow_via_registry", Fault::MlflowRouteToMlflow)]
#[case::via_registry_no_rewrite("mlflow_via_registry", Fault::NoAjaxRewrite)]
#[case::redis_off("redis_connectivity", Fault::CacheOff)]
#[tokio::test]
async fn caught_by_fault(
    #[case] id: &str,
    #[case] fault: Fault,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    let r = common::run_under_faults(profile, Area::InfraHealth, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
}

/// Artifact serving shows in the 2025-08 health view (`artifacts_api: disabled`); the 2026
/// SDK probe has no such field, and other checks catch it there.
#[tokio::test]
async fn api_mlflow_health_shows_artifacts_off_in_2025_08() {
    let r = common::run_under_faults(
        "hokusai-2025-08",
        Area::InfraHealth,
        "api_mlflow_health",
        &[Fault::ArtifactsDisabled],
    )
    .await;
    common::assert_caught(&r, &[Fault::ArtifactsDisabled]);
}

/// A fault that touches one ECS service leaves the others green (no misleading noise).
#[rstest]
#[case("ecs_service[hokusai-auth-development]", Fault::EcsMissing)]
#[case("ecs_service[hokusai-mlflow-development]", Fault::EcsDegraded)]
#[tokio::test]
async fn unaffected_service_stays_green(#[case] id: &str, #[case] fault: Fault) {
    common::assert_passes_under_faults("hokusai-2025-08", Area::InfraHealth, id, &[fault]).await;
}

#[rstest]
#[case::health_ignores_mlflow("health_matches_calls", Breakage::HealthIgnoresMlflow)]
#[case::slow_health("registry_health_latency", Breakage::SlowHealth)]
#[case::breaker_stuck_open("mlflow_health", Breakage::BreakerStuckOpen)]
#[case::auth_health_not_json("auth_health", Breakage::AuthHealthNotJson)]
#[case::experiments_check_wrong("api_mlflow_health", Breakage::ExperimentsCheckWrong)]
#[case::detailed_health_fails("registry_health_detailed", Breakage::DetailedHealthFails)]
#[case::root_without_key("registry_root_requires_key", Breakage::RootWithoutKey)]
#[tokio::test]
async fn caught_by_breakage(
    #[case] id: &str,
    #[case] breakage: Breakage,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    let r = common::run_with_breakage(profile, Area::InfraHealth, id, breakage).await;
    common::assert_caught(&r, &[breakage]);
}

#[test]
fn every_check_has_a_case_and_a_fault() {
    let source = include_str!("infra_health.rs");
    common::assert_every_check_has_a_case(Area::InfraHealth, source);
    common::assert_every_check_has_a_fault_case(Area::InfraHealth, source);
}
