//! Shared test helpers: build the environment, run a catalogue check, record it, and
//! assert with an explanation that names the broken part.
#![allow(dead_code)] // each test binary uses a different subset

use hokusai_verify::catalogue::{Area, Breakage, Fault};
use hokusai_verify::check::runner::{RunPolicy, ignore_results, run_plan};
use hokusai_verify::check::{CheckResult, CheckSpec, Outcome, record};
use hokusai_verify::checks;
use hokusai_verify::config::Profile;
use hokusai_verify::fixtures::Env;
use hokusai_verify::selftest::{self, Scenario};
use std::sync::Arc;

/// Where tests record results: `HOKUSAI_RUN_DIR` when the caller chose one (`make test`
/// does), else `<target>/hokusai-verify/test-run`, never the user's run folder
/// (`<target>/hokusai-verify/run`, which `make verify` and `report` use).
pub fn test_run_dir() -> std::path::PathBuf {
    match std::env::var_os("HOKUSAI_RUN_DIR") {
        Some(d) => d.into(),
        None => std::path::PathBuf::from(
            std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
        )
        .join("hokusai-verify")
        .join("test-run"),
    }
}

/// The environment the configuration asks for (a fresh stand-in by default), recording
/// into [`test_run_dir`].
pub async fn env() -> Arc<Env> {
    let mut config = hokusai_verify::config::Config::from_env().unwrap_or_else(|e| panic!("{e}"));
    config.run_dir = test_run_dir();
    match Env::build(config).await {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    }
}

/// Runs one check of the catalogue against the configured target, records its result in
/// the run folder, and fails the test (with the evidence) unless it passed or skipped.
pub async fn run_check(area: Area, id: &str) -> CheckResult {
    run_check_on(env().await, area, id).await
}

/// The check `area`/`id` of the catalogue for `profile` (a test naming a check that does
/// not exist is a test bug).
fn spec(profile: &Profile, area: Area, id: &str) -> CheckSpec {
    checks::find(profile, area, id).unwrap_or_else(|| {
        panic!(
            "no check {area}/{id} in the catalogue for profile {}",
            profile.name
        )
    })
}

/// Runs one check with the library's runner on a fresh stand-in of `scenario` (not
/// recorded: fault runs are about the suite, not the platform).
async fn run_scenario(profile: Profile, area: Area, id: &str, scenario: Scenario) -> CheckResult {
    let config = scenario.config(&profile);
    let spec = spec(&profile, area, id);
    let mut results = selftest::run_specs(&[spec], config).await;
    results.remove(0)
}

/// Runs one check against a fresh stand-in with `faults` on and returns the result.
pub async fn run_under_faults(
    profile: &str,
    area: Area,
    id: &str,
    faults: &[Fault],
) -> CheckResult {
    let profile = Profile::load(profile).expect("profile");
    run_with_profile(profile, area, id, faults).await
}

/// Runs one check against a fresh stand-in built from an explicit profile.
pub async fn run_with_profile(
    profile: Profile,
    area: Area,
    id: &str,
    faults: &[Fault],
) -> CheckResult {
    let scenario = Scenario {
        faults: faults.to_vec(),
        ..Scenario::default()
    };
    run_scenario(profile, area, id, scenario).await
}

/// Runs one check against a fresh stand-in with a deliberate regression switched on.
pub async fn run_with_breakage(
    profile: &str,
    area: Area,
    id: &str,
    breakage: Breakage,
) -> CheckResult {
    let profile = Profile::load(profile).expect("profile");
    let scenario = Scenario {
        breakages: vec![breakage],
        ..Scenario::default()
    };
    run_scenario(profile, area, id, scenario).await
}

/// The check must stay green with `faults` on: no collateral noise from a fault that does
/// not concern it.
pub async fn assert_passes_under_faults(profile: &str, area: Area, id: &str, faults: &[Fault]) {
    let r = run_under_faults(profile, area, id, faults).await;
    assert_eq!(r.outcome, Outcome::Passed, "{}", r.explain());
}

/// The check must fail (or error) and say what it expected and what came back.
pub fn assert_caught(r: &CheckResult, fault: &[impl std::fmt::Debug]) {
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

/// Every check id of an area must appear in a `#[case(...)]` of `source` that also names a
/// `Fault::` or a `Breakage::`, i.e. each check has a case that makes it fail.
pub fn assert_every_check_has_a_fault_case(area: Area, source: &str) {
    let profile = Profile::default_profile();
    let cases: Vec<&str> = source
        .split("#[case")
        .skip(1)
        .map(|chunk| chunk.split(")]").next().unwrap_or(""))
        .filter(|case| case.contains("Fault::") || case.contains("Breakage::"))
        .collect();
    let missing: Vec<String> = checks::area(area, &profile)
        .iter()
        .map(|s| s.id.to_owned())
        .filter(|id| !cases.iter().any(|c| c.contains(&format!("\"{id}"))))
        .collect();
    assert!(
        missing.is_empty(),
        "checks without a fault case in tests/{area}.rs: {missing:?}"
    );
}

/// Every check of the area must have a case in `source` (quoted full id).
pub fn assert_every_check_has_a_case(area: Area, source: &str) {
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

/// rstest fixture: the environment the configuration asks for (a fresh stand-in by default).
#[rstest::fixture]
pub async fn target() -> Arc<Env> {
    env().await
}

/// Runs one check of the catalogue on an environment from the fixture with the library's
/// runner, records it, and fails the test (with the evidence) unless it passed or skipped.
pub async fn run_check_on(env: Arc<Env>, area: Area, id: &str) -> CheckResult {
    let spec = spec(env.profile(), area, id);
    let config = env.config.clone();
    plan_area_once(&config, area);
    let policy = RunPolicy {
        // Recorded below, one check at a time; the plan is the whole area's.
        run_dir: None,
        ..RunPolicy::from_config(&config)
    };
    // A live platform is shared by every test of this binary: one check at a time, so the
    // suite never measures its own contention (one key's rate-limit counter and cache
    // entry, a heavy transfer slowing the rest, a slow request blocking the API). Across
    // binaries `cargo test` runs one at a time; nextest's live profile puts these in one
    // test group (`.config/nextest.toml`). On the stand-in every test has its own platform.
    static LIVE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = match env.config.live() {
        Some(_) => Some(LIVE.lock().await),
        None => None,
    };
    let result = run_plan(&[spec], &config, Some(env), policy, ignore_results())
        .await
        .expect("a shared environment needs no start")
        .remove(0);
    record(&config.run_dir, &result).expect("results can be written to the run folder");
    match &result.outcome {
        Outcome::Passed => {}
        Outcome::Skipped { reason } => eprintln!("skipped {}: {reason}", result.key()),
        _ => panic!("{}", result.explain()),
    }
    result
}

/// The first check of an area this process runs writes the area's plan into the run folder
/// (every case of `tests/<area>.rs`), so the report lists checks that left no result.
fn plan_area_once(config: &hokusai_verify::config::Config, area: Area) {
    static PLANNED: std::sync::Mutex<Vec<Area>> = std::sync::Mutex::new(Vec::new());
    let mut planned = PLANNED.lock().unwrap_or_else(|p| p.into_inner());
    if !planned.contains(&area) {
        planned.push(area);
        hokusai_verify::check::plan::record_plan(
            &config.run_dir,
            config,
            &checks::area(area, &config.profile),
        )
        .expect("the plan can be written to the run folder");
    }
}

/// test-context: an MLflow client through the proxy, and a record of what the test creates,
/// which teardown deletes — also when the test panics.
pub struct RegistryCtx {
    pub env: Arc<Env>,
    pub client: hokusai_verify::mlflow::MlflowClient,
    pub created: hokusai_verify::mlflow::workflow::Created,
}

impl test_context::AsyncTestContext for RegistryCtx {
    async fn setup() -> Self {
        let env = env().await;
        let client = hokusai_verify::mlflow::MlflowClient::via_proxy(
            env.http.clone(),
            env.registry_url().clone(),
            hokusai_verify::http::Auth::Bearer(env.keys.primary.clone()),
            hokusai_verify::mlflow::ApiPrefix::Api,
        );
        Self {
            env,
            client,
            created: Default::default(),
        }
    }

    async fn teardown(self) {
        let problems = self.created.cleanup(&self.client, None).await;
        assert!(
            problems.is_empty(),
            "clean-up left things behind: {problems:?}"
        );
    }
}

/// The number of checks `hokusai-verify verify` planned, from its first line
/// (`hokusai-verify: N checks on ...`).
pub fn planned_checks(output: &str) -> usize {
    output
        .lines()
        .find_map(|l| {
            l.strip_prefix("hokusai-verify: ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .expect("the plan line")
}

/// Runs `specs` one after another against one shared environment (they share its
/// platform), recording nothing; results in plan order.
pub async fn run_in_sequence(specs: &[CheckSpec], env: Arc<Env>) -> Vec<CheckResult> {
    let config = env.config.clone();
    let policy = RunPolicy {
        concurrency: 1,
        run_dir: None,
        ..RunPolicy::from_config(&config)
    };
    run_plan(specs, &config, Some(env), policy, ignore_results())
        .await
        .expect("a shared environment needs no start")
}

/// A file generated from a real server and checked in (client recordings, endpoint
/// catalogues): written when `update` is set, else compared with what was generated now.
/// `what` names the file for a person, `regenerate` is the command that writes it again.
pub fn compare_or_write(
    file: &std::path::Path,
    now: &str,
    update: bool,
    what: &str,
    regenerate: &str,
) {
    if update {
        std::fs::write(file, now).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(file)
        .unwrap_or_else(|_| panic!("no {what} ({}): {regenerate}", file.display()));
    assert!(
        kept == now,
        "{what} is not what the real server gives now: {regenerate}, then read the difference"
    );
}

/// Runs a script of `python/` with a venv's Python (MLflow's telemetry off) and returns the
/// JSON file it wrote; `args` come before the output path.
pub fn run_venv_script(python: &str, script: &str, args: &[&str]) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(script);
    let out = std::env::temp_dir().join(format!("hokusai-verify-{}.json", fastrand::u64(..)));
    let run = std::process::Command::new(python)
        .arg(&script)
        .args(args)
        .arg(&out)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .output()
        .expect("the venv's Python runs");
    assert!(
        run.status.success(),
        "{} with {python}: {}{}",
        script.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let now = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    now
}
