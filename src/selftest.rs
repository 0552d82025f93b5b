//! Self-verification: run checks of the catalogue against fresh stand-ins with faults or
//! breakages switched on, many at once (each check gets its own stand-in, which starts in
//! milliseconds, so checks cannot disturb each other).

use crate::catalogue::{Breakage, Dialect, Fault};
use crate::check::runner::{RunPolicy, ignore_results, run_plan};
use crate::check::{CheckResult, CheckSpec};
use crate::checks;
use crate::config::{Config, Profile};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How many checks run at once in this process, over all scenarios together.
pub const CONCURRENCY: usize = 32;

static GATE: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(CONCURRENCY)));
/// Heavy checks (hundreds of MB) run one at a time, beside the others.
static HEAVY: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(1)));

/// What to switch on.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub faults: Vec<Fault>,
    pub breakages: Vec<Breakage>,
    /// Only these areas (empty: all).
    pub areas: Vec<crate::catalogue::Area>,
    /// Also run heavy checks (large artifacts).
    pub include_heavy: bool,
    /// How the stand-in words what the contract leaves open.
    pub dialect: Dialect,
}

impl Scenario {
    /// The stand-in configuration of this scenario.
    pub fn config(&self, profile: &Profile) -> Config {
        let mut config = Config::standin(profile.clone());
        if let Some(s) = config.standin_settings_mut() {
            s.faults = self.faults.iter().copied().collect();
            s.breakages = self.breakages.iter().copied().collect();
            s.dialect = self.dialect;
        }
        config
    }
}

/// Runs every check of the scenario's areas, each on its own stand-in; results in
/// catalogue order. Panics with instructions when Redis is missing.
pub async fn run(profile: &Profile, scenario: &Scenario) -> Vec<CheckResult> {
    let specs: Vec<_> = checks::catalogue(profile)
        .into_iter()
        .filter(|s| scenario.areas.is_empty() || scenario.areas.contains(&s.area))
        .filter(|s| scenario.include_heavy || !s.heavy)
        .collect();
    run_specs(&specs, scenario.config(profile)).await
}

/// Runs `specs` with the library's runner ([`crate::check::runner`]), each on a fresh
/// stand-in built from `config`, at most [`CONCURRENCY`] at once over every plan of this
/// process and heavy checks one at a time. No run budget applies (a test's own timeout
/// does). Panics with instructions when the stand-in cannot start (Redis missing).
pub async fn run_specs(specs: &[CheckSpec], config: Config) -> Vec<CheckResult> {
    let policy = RunPolicy {
        interrupted: None,
        concurrency: CONCURRENCY,
        budget: Duration::from_secs(24 * 3600),
        gate: Some(GATE.clone()),
        heavy_gate: Some(HEAVY.clone()),
        run_dir: None,
    };
    match run_plan(specs, &config, None, policy, ignore_results()).await {
        Ok(results) => results,
        Err(e) => panic!("{e}"),
    }
}
