//! Shared test helpers: build the environment, run a catalogue check, record it, and
//! assert with an explanation that names the broken part.
#![allow(dead_code)] // each test binary uses a different subset

use hokusai_verify::check::{CheckResult, Outcome, record};
use hokusai_verify::checks;
use hokusai_verify::config::Profile;
use hokusai_verify::fixtures::Env;
use hokusai_verify::standin::Fault;
use std::sync::Arc;

/// The environment the configuration asks for (a fresh stand-in by default).
pub async fn env() -> Arc<Env> {
    match Env::from_env().await {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    }
}

/// Runs one check of the catalogue against the configured target, records its result in
/// the run folder, and fails the test (with the evidence) unless it passed or skipped.
pub async fn run_check(area: &str, id: &str) -> CheckResult {
    let env = env().await;
    let spec = checks::find(env.profile(), area, id).unwrap_or_else(|| {
        panic!(
            "no check {area}/{id} in the catalogue for profile {}",
            env.profile().name
        )
    });
    let result = spec.run(&env).await;
    record(&env.config.run_dir, &result).expect("results can be written to the run folder");
    match &result.outcome {
        Outcome::Passed => {}
        Outcome::Skipped { reason } => eprintln!("skipped {}: {reason}", result.key()),
        _ => panic!("{}", result.explain()),
    }
    result
}

/// Runs one check against a fresh stand-in with `faults` on and returns the result
/// (not recorded: fault runs are about the suite, not the platform).
pub async fn run_under_faults(
    profile: &str,
    area: &str,
    id: &str,
    faults: &[Fault],
) -> CheckResult {
    let profile = Profile::load(profile).expect("profile");
    let env = Env::standin_with(profile, faults).await;
    let spec =
        checks::find(env.profile(), area, id).unwrap_or_else(|| panic!("no check {area}/{id}"));
    spec.run(&env).await
}

/// The check must fail (or error) and say what it expected and what came back.
pub fn assert_caught(r: &CheckResult, fault: &[Fault]) {
    assert!(
        r.outcome.is_bad(),
        "fault {fault:?} should make {} fail, but it {}:\n{}",
        r.key(),
        r.outcome.label(),
        r.explain()
    );
    let msg = r.message.as_deref().unwrap_or("");
    assert!(
        !msg.is_empty(),
        "a failing check must explain itself: {}",
        r.explain()
    );
}

/// Every `"id"` of an area's catalogue must appear in `source` on a line that also names
/// a `Fault::`, i.e. each check has at least one fault case in the test file.
pub fn assert_every_check_has_a_fault_case(area: &str, source: &str) {
    let profile = Profile::default_profile();
    let missing: Vec<String> = checks::area(area, &profile)
        .iter()
        .map(|s| s.id.to_owned())
        .filter(|id| {
            !source
                .lines()
                .any(|l| l.contains(&format!("\"{id}")) && l.contains("Fault::"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "checks without a fault case in tests/{area}.rs: {missing:?}"
    );
}

/// Every check of the area must have a case in `source` (quoted full id).
pub fn assert_every_check_has_a_case(area: &str, source: &str) {
    let profile = Profile::default_profile();
    let missing: Vec<String> = checks::area(area, &profile)
        .iter()
        .map(|s| s.full_id())
        .filter(|id| !source.contains(&format!("\"{id}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "checks without a test case in tests/{area}.rs: {missing:?}"
    );
}
