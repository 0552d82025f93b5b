//! Checklist area 4: the MLflow proxy. Rerun alone with `cargo test --test mlflow_proxy`.

mod common;

use common::target;
use hokusai_verify::catalogue::Area;
use hokusai_verify::fixtures::Env;
use std::sync::Arc;

use hokusai_verify::standin::{Breakage, Fault};
use rstest::rstest;

#[rstest]
#[case::routed_proxy_api("spelling_routed[proxy-api]")]
#[case::routed_proxy_ajax("spelling_routed[proxy-ajax]")]
#[case::tracking_api("tracking_calls[api]")]
#[case::tracking_ajax("tracking_calls[ajax]")]
#[case::prefixes("prefix_equivalence")]
#[case::headers("auth_headers_handled")]
#[case::delete_body("delete_body_forwarded")]
#[case::repeated_query("repeated_query_keys")]
#[case::json_errors("json_errors_pass_through")]
#[case::html_errors("html_errors_become_json")]
#[case::artifacts("artifacts_through_proxy")]
#[case::matrix_proxy_api_no_key("route_matrix[proxy-api:no-key]")]
#[case::matrix_proxy_ajax_no_key("route_matrix[proxy-ajax:no-key]")]
#[case::matrix_mlflow_ajax_no_key("route_matrix[mlflow-ajax:no-key]")]
#[case::matrix_bare_api_no_key("route_matrix[bare-api:no-key]")]
#[case::matrix_bare_ajax_no_key("route_matrix[bare-ajax:no-key]")]
#[case::matrix_proxy_api_valid("route_matrix[proxy-api:valid-key]")]
#[case::matrix_proxy_ajax_valid("route_matrix[proxy-ajax:valid-key]")]
#[case::matrix_proxy_api_read_only("route_matrix[proxy-api:read-only]")]
#[case::matrix_proxy_ajax_read_only("route_matrix[proxy-ajax:read-only]")]
#[tokio::test]
async fn mlflow_proxy(#[future] target: Arc<Env>, #[case] id: &str) {
    common::run_check_on(target.await, Area::MlflowProxy, id).await;
}

#[rstest]
#[case::tracking_no_rewrite("tracking_calls[api]", Fault::NoAjaxRewrite)]
#[case::tracking_mlflow_down("tracking_calls[ajax]", Fault::MlflowDown)]
#[case::prefixes_no_rewrite("prefix_equivalence", Fault::NoAjaxRewrite)]
#[case::json_errors_mlflow_down("json_errors_pass_through", Fault::MlflowDown)]
#[case::html_errors_misrouted("html_errors_become_json", Fault::MlflowRouteToMlflow)]
#[case::artifacts_disabled("artifacts_through_proxy", Fault::ArtifactsDisabled)]
#[case::matrix_no_key_misrouted("route_matrix[proxy-api:no-key]", Fault::MlflowRouteToMlflow)]
#[case::matrix_no_key_misrouted_ajax("route_matrix[proxy-ajax:no-key]", Fault::MlflowRouteToMlflow)]
#[case::matrix_no_key_alb_down("route_matrix[mlflow-ajax:no-key]", Fault::TargetUnhealthy)]
#[case::matrix_no_key_alb_down_bare("route_matrix[bare-ajax:no-key]", Fault::TargetUnhealthy)]
#[case::matrix_valid_no_rewrite("route_matrix[proxy-api:valid-key]", Fault::NoAjaxRewrite)]
#[case::matrix_read_only_mlflow_down("route_matrix[proxy-api:read-only]", Fault::MlflowDown)]
#[case::matrix_read_only_mlflow_down_ajax("route_matrix[proxy-ajax:read-only]", Fault::MlflowDown)]
#[tokio::test]
async fn caught_by_fault(
    #[case] id: &str,
    #[case] fault: Fault,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    let r = common::run_under_faults(profile, Area::MlflowProxy, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
}

/// Profile 2025-08 expects the key stripped; forwarding it is the `auth-header-leak` fault.
#[rstest]
#[case::headers_leak("auth_headers_handled", Fault::AuthHeaderLeak)]
#[tokio::test]
async fn caught_by_fault_2025_08(#[case] id: &str, #[case] fault: Fault) {
    let r = common::run_under_faults("hokusai-2025-08", Area::MlflowProxy, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
}

/// The MLflow mount of the 2026 platform (`/api/2.0/mlflow/…`) reaches MLflow there.
#[rstest]
#[tokio::test]
async fn bare_api_spelling_reaches_mlflow_in_2026() {
    let profile = hokusai_verify::config::Profile::load("hokusai-2026").unwrap();
    let env = Env::standin_with(profile, &[]).await;
    let spec = hokusai_verify::checks::find(
        env.profile(),
        Area::MlflowProxy,
        "spelling_routed[bare-api]",
    )
    .expect("the 2026 profile routes /api/2.0/mlflow/");
    let r = spec.run(&env).await;
    assert_eq!(
        r.outcome,
        hokusai_verify::check::Outcome::Passed,
        "{}",
        r.explain()
    );
    let r = common::run_with_breakage(
        "hokusai-2026",
        Area::MlflowProxy,
        "spelling_routed[bare-api]",
        Breakage::UnroutedBareApi,
    )
    .await;
    common::assert_caught(&r, &[Breakage::UnroutedBareApi]);
}

#[rstest]
#[case::routed_proxy_api("spelling_routed[proxy-api]", Breakage::UnroutedProxyApi)]
#[case::routed_proxy_ajax("spelling_routed[proxy-ajax]", Breakage::UnroutedProxyAjax)]
#[case::delete_body_dropped("delete_body_forwarded", Breakage::ProxyDropsDeleteBody)]
#[case::query_collapsed("repeated_query_keys", Breakage::ProxyCollapsesRepeatedQuery)]
#[case::matrix_bare_api_unprotected("route_matrix[bare-api:no-key]", Breakage::BareApiUnprotected)]
#[case::matrix_unrouted_ajax("route_matrix[proxy-ajax:valid-key]", Breakage::UnroutedProxyAjax)]
#[case::matrix_unrouted_api("route_matrix[proxy-api:valid-key]", Breakage::UnroutedProxyApi)]
#[case::matrix_metrics_not_proxied(
    "route_matrix[proxy-ajax:valid-key]",
    Breakage::MetricsNotProxied
)]
#[tokio::test]
async fn caught_by_breakage(
    #[case] id: &str,
    #[case] breakage: Breakage,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    let r = common::run_with_breakage(profile, Area::MlflowProxy, id, breakage).await;
    common::assert_caught(&r, &[breakage]);
}

/// The 2026 platform's own columns: its MLflow mount, and write scopes it enforces.
#[rstest]
#[case::matrix_bare_api_unrouted("route_matrix[bare-api:valid-key]", Breakage::UnroutedBareApi)]
#[case::matrix_scopes_ignored("route_matrix[proxy-api:read-only]", Breakage::ScopesIgnored)]
#[case::matrix_scopes_ignored_bare("route_matrix[bare-api:read-only]", Breakage::ScopesIgnored)]
#[case::matrix_scopes_ignored_on_runs(
    "route_matrix[proxy-ajax:read-only]",
    Breakage::ScopesIgnoredOnRuns
)]
#[tokio::test]
async fn caught_by_breakage_2026(#[case] id: &str, #[case] breakage: Breakage) {
    let r = common::run_with_breakage("hokusai-2026", Area::MlflowProxy, id, breakage).await;
    common::assert_caught(&r, &[breakage]);
}

#[test]
fn every_check_has_a_case_and_a_fault() {
    let source = include_str!("mlflow_proxy.rs");
    common::assert_every_check_has_a_case(Area::MlflowProxy, source);
    common::assert_every_check_has_a_fault_case(Area::MlflowProxy, source);
}
