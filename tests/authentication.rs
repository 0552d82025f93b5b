//! Checklist area 2: authentication — key formats, the auth service, invalid keys, the
//! auth cache and rate limiting. Rerun alone with `cargo test --test authentication`.
//!
//! `authentication` runs each check against the configured target. `caught_by_fault` and
//! `caught_by_breakage` show that each check can fail: a catalogue fault, or (for rules no
//! infrastructure fault breaks) a deliberate regression of the stand-in.

mod common;

use common::target;
use hokusai_verify::catalogue::Area;
use hokusai_verify::fixtures::Env;
use std::sync::Arc;

use hokusai_verify::standin::{Breakage, Fault};
use rstest::rstest;

#[rstest]
#[case::bearer("key_format[bearer]")]
#[case::bearer_lowercase("key_format[bearer-lowercase]")]
#[case::bearer_uppercase("key_format[bearer-uppercase]")]
#[case::x_api_key("key_format[x-api-key]")]
#[case::no_key_proxy_api("no_key_rejected[/api/mlflow/api/2.0/mlflow/registered-models/search]")]
#[case::no_key_proxy_ajax(
    "no_key_rejected[/api/mlflow/ajax-api/2.0/mlflow/registered-models/search]"
)]
#[case::no_key_mlflow_prefix(
    "no_key_rejected[/mlflow/ajax-api/2.0/mlflow/registered-models/search]"
)]
#[case::no_key_bare_api("no_key_rejected[/api/2.0/mlflow/registered-models/search]")]
#[case::no_key_bare_ajax("no_key_rejected[/ajax-api/2.0/mlflow/registered-models/search]")]
#[case::wrong_prefix("rejected_key[wrong-prefix]")]
#[case::short("rejected_key[short]")]
#[case::long("rejected_key[long]")]
#[case::bad_characters("rejected_key[bad-characters]")]
#[case::empty("rejected_key[empty]")]
#[case::whitespace("rejected_key[whitespace]")]
#[case::huge_header("rejected_key[huge-header]")]
#[case::unknown("rejected_key[unknown]")]
#[case::revoked("rejected_key[revoked]")]
#[case::expired("rejected_key[expired]")]
#[case::second_key("second_key_works")]
#[case::validate_call("validate_call_contract")]
#[case::auth_server_error("auth_failure_not_bad_key[server-error]")]
#[case::auth_timeout("auth_failure_not_bad_key[timeout]")]
#[case::auth_unreachable("auth_failure_not_bad_key[unreachable]")]
#[case::auth_429("auth_429_passthrough")]
#[case::usage("usage_reported")]
#[case::write_scopes("write_scopes")]
#[case::cache_entry("cache_entry_created")]
#[case::cache_hit("cache_avoids_revalidation")]
#[case::failures_not_cached("failures_not_cached")]
#[case::cache_expiry("cache_expiry_revalidates")]
#[case::revocation_window("revocation_window")]
#[case::redis_down("redis_down_auth_works")]
#[case::rate_headers("rate_limit_headers")]
#[case::rate_enforced("rate_limit_enforced")]
#[case::rate_isolated("rate_limit_isolated")]
#[tokio::test]
async fn authentication(#[future] target: Arc<Env>, #[case] id: &str) {
    common::run_check_on(target.await, Area::Authentication, id).await;
}

#[rstest]
#[case::format_auth_down("key_format[bearer]", Fault::AuthDown)]
#[case::format_auth_slow("key_format[x-api-key]", Fault::AuthSlow)]
#[case::format_service_id("key_format[bearer]", Fault::ServiceIdMismatch)]
#[case::format_key_not_for_service("key_format[bearer-lowercase]", Fault::KeyNotValidForService)]
#[case::format_key_not_for_service_x("key_format[x-api-key]", Fault::KeyNotValidForService)]
#[case::no_key_misrouted(
    "no_key_rejected[/api/mlflow/api/2.0/mlflow/registered-models/search]",
    Fault::MlflowRouteToMlflow
)]
#[case::no_key_misrouted_ajax(
    "no_key_rejected[/api/mlflow/ajax-api/2.0/mlflow/registered-models/search]",
    Fault::MlflowRouteToMlflow
)]
#[case::no_key_alb_down(
    "no_key_rejected[/ajax-api/2.0/mlflow/registered-models/search]",
    Fault::TargetUnhealthy
)]
#[case::malformed_alb_down("rejected_key[huge-header]", Fault::TargetUnhealthy)]
#[case::unknown_auth_down("rejected_key[unknown]", Fault::AuthDown)]
#[case::revoked_auth_down("rejected_key[revoked]", Fault::AuthDown)]
#[case::validate_service_id("validate_call_contract", Fault::ServiceIdMismatch)]
#[case::second_key_service_id("second_key_works", Fault::ServiceIdMismatch)]
#[case::cache_entry_off("cache_entry_created", Fault::CacheOff)]
#[case::cache_entry_ttl("cache_entry_created", Fault::CacheTtlWrong)]
#[case::cache_hit_off("cache_avoids_revalidation", Fault::CacheOff)]
#[case::cache_expiry_off("cache_expiry_revalidates", Fault::CacheOff)]
#[case::revocation_ttl("revocation_window", Fault::CacheTtlWrong)]
#[case::rate_headers_off("rate_limit_headers", Fault::RateLimitOff)]
#[case::rate_enforced_off("rate_limit_enforced", Fault::RateLimitOff)]
#[case::rate_isolated_off("rate_limit_isolated", Fault::RateLimitOff)]
#[tokio::test]
async fn caught_by_fault(
    #[case] id: &str,
    #[case] fault: Fault,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    let r = common::run_under_faults(profile, Area::Authentication, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
}

#[rstest]
#[case::auth_error_as_bad_key(
    "auth_failure_not_bad_key[server-error]",
    Breakage::AuthErrorsAsBadKey
)]
#[case::auth_timeout_as_bad_key("auth_failure_not_bad_key[timeout]", Breakage::AuthErrorsAsBadKey)]
#[case::auth_unreachable_as_bad_key(
    "auth_failure_not_bad_key[unreachable]",
    Breakage::AuthErrorsAsBadKey
)]
#[case::auth_429_as_bad_key("auth_429_passthrough", Breakage::AuthErrorsAsBadKey)]
#[case::failures_cached("failures_not_cached", Breakage::CacheFailedValidations)]
#[case::auth_needs_redis("redis_down_auth_works", Breakage::AuthNeedsRedis)]
#[case::usage_not_reported("usage_reported", Breakage::UsageNotReported)]
#[case::bearer_rejected("key_format[bearer]", Breakage::BearerRejected)]
#[case::no_detail("rejected_key[unknown]", Breakage::RejectionWithoutDetail)]
#[case::remaining_stuck("rate_limit_headers", Breakage::RateLimitRemainingStuck)]
#[case::not_refreshed("cache_expiry_revalidates", Breakage::CacheNotRefreshed)]
#[case::key_not_sent_as_bearer("validate_call_contract", Breakage::KeyNotSentAsBearer)]
#[case::cache_key_renamed("cache_entry_created", Breakage::CacheKeyRenamed)]
#[case::cache_not_read("cache_avoids_revalidation", Breakage::CacheNotRead)]
#[case::cache_renewed_on_use("revocation_window", Breakage::CacheRenewedOnUse)]
#[case::no_retry_after("rate_limit_enforced", Breakage::RateLimitWithoutRetryAfter)]
#[case::limiter_shared("rate_limit_isolated", Breakage::RateLimitShared)]
#[tokio::test]
async fn caught_by_breakage(
    #[case] id: &str,
    #[case] breakage: Breakage,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    let r = common::run_with_breakage(profile, Area::Authentication, id, breakage).await;
    common::assert_caught(&r, &[breakage]);
}

/// Breakages of rules only one profile has: write scopes are enforced from 2026 on.
#[rstest]
#[case::scopes_ignored("write_scopes", Breakage::ScopesIgnored)]
#[tokio::test]
async fn caught_by_breakage_2026(#[case] id: &str, #[case] breakage: Breakage) {
    let r = common::run_with_breakage("hokusai-2026", Area::Authentication, id, breakage).await;
    common::assert_caught(&r, &[breakage]);
}

/// The revocation window is measured and reported, and equals the cache TTL.
#[rstest]
#[tokio::test]
async fn revocation_window_is_measured(#[values("hokusai-2025-08", "hokusai-2026")] profile: &str) {
    let env = hokusai_verify::fixtures::Env::standin_with(
        hokusai_verify::config::Profile::load(profile).unwrap(),
        &[],
    )
    .await;
    let spec =
        hokusai_verify::checks::find(env.profile(), Area::Authentication, "revocation_window")
            .unwrap();
    let r = spec.run(&env).await;
    let window = r.measurements["revocation_window_s"];
    let ttl = env.profile().cache.ttl_secs as f64;
    assert!(
        window > ttl - 5.0 && window <= ttl,
        "window {window} s vs TTL {ttl} s: {}",
        r.explain()
    );
}

#[test]
fn every_check_has_a_case_and_a_fault() {
    let source = include_str!("authentication.rs");
    common::assert_every_check_has_a_case(Area::Authentication, source);
    common::assert_every_check_has_a_fault_case(Area::Authentication, source);
}

/// `key-not-valid-for-service` rejects only the configured key: another key still works.
#[tokio::test]
async fn second_key_unaffected_by_a_bad_test_key() {
    common::assert_passes_under_faults(
        "hokusai-2025-08",
        Area::Authentication,
        "second_key_works",
        &[Fault::KeyNotValidForService],
    )
    .await;
}
