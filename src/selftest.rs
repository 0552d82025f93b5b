//! Self-verification: run checks of the catalogue against fresh stand-ins with faults or
//! breakages switched on, many at once (each check gets its own stand-in, which starts in
//! milliseconds, so checks cannot disturb each other).

use crate::check::CheckResult;
use crate::checks;
use crate::config::{Config, Profile};
use crate::fixtures::Env;
use crate::standin::{Breakage, Dialect, Fault};
use std::sync::{Arc, LazyLock};
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
    pub areas: Vec<&'static str>,
    /// Also run heavy checks (large artifacts).
    pub include_heavy: bool,
    /// How the stand-in words what the contract leaves open.
    pub dialect: Dialect,
}

/// Runs every check of the scenario's areas, each on its own stand-in; results in
/// catalogue order. Panics with instructions when Redis is missing.
pub async fn run(profile: &Profile, scenario: &Scenario) -> Vec<CheckResult> {
    let specs: Vec<_> = checks::catalogue(profile)
        .into_iter()
        .filter(|s| scenario.areas.is_empty() || scenario.areas.contains(&s.area))
        .filter(|s| scenario.include_heavy || !s.heavy)
        .collect();
    let gate = GATE.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, spec) in specs.into_iter().enumerate() {
        let gate = gate.clone();
        let mut config = Config::standin(profile.clone());
        config.standin_faults = scenario.faults.iter().copied().collect();
        config.standin_dialect = scenario.dialect;
        let breakages = scenario.breakages.clone();
        tasks.spawn(async move {
            let _heavy = if spec.heavy {
                Some(HEAVY.clone().acquire_owned().await.expect("semaphore open"))
            } else {
                None
            };
            let _permit = gate.acquire_owned().await.expect("semaphore open");
            let env = match Env::build(config).await {
                Ok(e) => e,
                Err(e) => panic!("{e}"),
            };
            for b in &breakages {
                env.standin().expect("a stand-in").set_breakage(*b, true);
            }
            (i, spec.run(&env).await)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.push(r.expect("a check task does not panic"));
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}
