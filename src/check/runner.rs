//! Runs a plan of checks the way `verify` does: concurrently where checks share no state,
//! within one wall-clock budget, with a result for every planned check.
//!
//! On the stand-in every check gets a fresh instance, so every check may run beside any
//! other. On a live target the checks share the platform: the authentication area (one
//! key's cache entry and rate-limit counters) runs first, alone, as one sequence, and heavy
//! transfers run one at a time after everything else, so the suite never measures its own
//! contention.

use super::{CheckResult, CheckSpec};
use crate::config::Config;
use crate::fixtures::{Env, EnvError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How a plan is run.
#[derive(Debug, Clone)]
pub struct RunPolicy {
    /// Set when the run is interrupted (SIGINT / SIGTERM): no check starts after it; checks
    /// already running finish (with their clean-up).
    pub interrupted: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Groups of checks run at once.
    pub concurrency: usize,
    /// Wall-clock budget: checks still running then are stopped and recorded as blocked by
    /// it; checks not started yet are recorded without sending anything.
    pub budget: Duration,
    /// A concurrency gate shared with other plans of this process (self-verification runs
    /// many plans at once); `None`: a gate of `concurrency` for this plan alone.
    pub gate: Option<Arc<Semaphore>>,
    /// Heavy checks (hundreds of MB) of every plan sharing this gate run one at a time.
    pub heavy_gate: Option<Arc<Semaphore>>,
    /// The run folder: the plan is written there before the first check, and every result
    /// as it comes. `None`: nothing is written (self-verification).
    pub run_dir: Option<std::path::PathBuf>,
}

impl RunPolicy {
    pub fn from_config(c: &Config) -> Self {
        Self {
            interrupted: None,
            concurrency: c.concurrency.max(1),
            budget: c.run_budget,
            gate: None,
            heavy_gate: None,
            run_dir: Some(c.run_dir.clone()),
        }
    }
}

/// Results that nobody watches as they come.
pub fn ignore_results() -> OnResult {
    Arc::new(|_| {})
}

/// What sees every result as it comes (to print and record it).
pub type OnResult = Arc<dyn Fn(&CheckResult) + Send + Sync>;

/// Runs `specs`: against `shared` (a live target) or a fresh stand-in per check built from
/// `config`. With a run folder, the plan is written there first and every result as it
/// comes; `each` sees every result as it comes. Results come back in plan order.
///
/// Every group of checks is a task of its own (so the runtime's worker threads share the
/// work), and a stand-in is dropped on a blocking thread: wiremock's `Drop` blocks on its
/// server, which inside an async task whose cooperative budget is spent spins forever.
pub async fn run_plan(
    specs: &[CheckSpec],
    config: &Config,
    shared: Option<Arc<Env>>,
    policy: RunPolicy,
    each: OnResult,
) -> Result<Vec<CheckResult>, EnvError> {
    if let Some(dir) = &policy.run_dir
        && let Err(e) = super::plan::record_plan(dir, config, specs)
    {
        eprintln!("warning: cannot write the plan into {}: {e}", dir.display());
    }
    let each: OnResult = match policy.run_dir.clone() {
        None => each,
        Some(dir) => Arc::new(move |r: &CheckResult| {
            if let Err(e) = super::record(&dir, r) {
                eprintln!("warning: cannot record {}: {e}", r.key());
            }
            each(r);
        }),
    };
    let deadline = (tokio::time::Instant::now() + policy.budget, policy.budget);
    let live = shared.is_some();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut auth = Vec::new();
    let mut heavy = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        if s.heavy {
            heavy.push(i);
        } else if live && s.area == crate::checks::authentication::AREA {
            auth.push(i);
        } else {
            groups.push(vec![i]);
        }
    }

    let mut heavy_first = false;
    if !live && !heavy.is_empty() {
        // On the stand-in nothing is shared: the heavy transfers (one at a time, for
        // memory) run beside the rest, from the start, as the longest sequence.
        groups.insert(0, std::mem::take(&mut heavy));
        heavy_first = true;
    }
    let total = specs.len();
    let specs: Arc<Vec<CheckSpec>> = Arc::new(specs.to_vec());
    let config = Arc::new(config.clone());
    let interrupted = policy.interrupted.clone();
    let run_group = move |group: Vec<usize>| {
        let (shared, specs, config, each, interrupted) = (
            shared.clone(),
            specs.clone(),
            config.clone(),
            each.clone(),
            interrupted.clone(),
        );
        async move {
            let mut out = Vec::new();
            for i in group {
                if interrupted
                    .as_ref()
                    .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst))
                {
                    let r = specs[i].not_run(
                        &config,
                        "not run: the run was interrupted before this check (SIGINT/SIGTERM)",
                    );
                    each(&r);
                    out.push((i, r));
                    continue;
                }
                let env = match &shared {
                    Some(e) => e.clone(),
                    None => Env::build((*config).clone()).await?,
                };
                let r = specs[i].run_until(&env, Some(deadline)).await;
                each(&r);
                out.push((i, r));
                if shared.is_none() {
                    let _ = tokio::task::spawn_blocking(move || drop(env)).await;
                }
            }
            Ok::<_, EnvError>(out)
        }
    };
    let mut done: Vec<(usize, CheckResult)> = Vec::with_capacity(total);
    // On a live target the authentication area runs first and alone: its checks count one
    // key's rate-limit budget and read its cache entry, which any other check's requests
    // with that key would change under them.
    if !auth.is_empty() {
        match tokio::spawn(run_group(auth)).await {
            Ok(r) => done.extend(r?),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    let gate = policy
        .gate
        .clone()
        .unwrap_or_else(|| Arc::new(Semaphore::new(policy.concurrency.max(1))));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, g) in groups.into_iter().enumerate() {
        // The heavy group waits for the heavy gate before it takes a place at the gate.
        let heavy_gate = policy.heavy_gate.clone().filter(|_| heavy_first && n == 0);
        let (gate, work) = (gate.clone(), run_group(g));
        tasks.spawn(async move {
            let _heavy = match heavy_gate {
                Some(h) => Some(h.acquire_owned().await.expect("the gate stays open")),
                None => None,
            };
            let _permit = gate.acquire_owned().await.expect("the gate stays open");
            work.await
        });
    }
    while let Some(g) = tasks.join_next().await {
        match g {
            Ok(r) => done.extend(r?),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    // On a live target, heavy transfers alone, after the rest.
    match tokio::spawn(run_group(heavy)).await {
        Ok(r) => done.extend(r?),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, r)| r).collect())
}
