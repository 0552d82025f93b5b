//! Runs a plan of checks the way `verify` does: concurrently where checks share no state,
//! within one wall-clock budget, with a result for every planned check.
//!
//! On the stand-in every check gets a fresh instance, so every check may run beside any
//! other. On a live target the checks share the platform:
//!
//! - the authentication area (one key's cache entry and rate-limit counters) runs first,
//!   alone, as one sequence, then the probe of whether the platform serves requests side by
//!   side ([`CheckSpec::probes_serving`]);
//! - then the heavy transfers start first (one at a time, for memory) with the light checks
//!   beside them, so the wall time approaches the longest single chain instead of the sum;
//! - the run fits itself to the platform: when a check times out on a route of a host that
//!   answers other requests while other checks ran beside it (an API that serves one request
//!   at a time while it waits), every later check runs alone, and each check that ended bad
//!   (failed, error, blocked) beside others runs again, alone, at the end, within the run
//!   budget. Its result is the second run's (its own line's verdict), with what the first
//!   run saw kept in
//!   [`super::Rerun`]: the report names the blocking from it.

use super::{CheckResult, CheckSpec, Rerun};
use crate::config::Config;
use crate::fixtures::{Env, EnvError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// How many checks run at once, fitted to the platform while the plan runs (live targets).
struct Pace {
    gate: Arc<Semaphore>,
    /// The permits one check takes when it must run alone: all of the gate's.
    all: u32,
    /// Set once the platform is seen serving one request at a time: from then on every
    /// check runs alone.
    alone: AtomicBool,
    /// Adaptation is for a shared platform only (each stand-in check has its own).
    adaptive: bool,
    in_flight: AtomicUsize,
    started: AtomicUsize,
    /// The shared platform's client: a route that timed out (in any check still running)
    /// switches to one at a time before the next check starts.
    shared: Option<Arc<Env>>,
}

impl Pace {
    /// Takes a place: one permit, or every permit once checks run alone.
    async fn enter(&self) -> tokio::sync::OwnedSemaphorePermit {
        if self.adaptive
            && self.in_flight.load(Ordering::SeqCst) > 0
            && self
                .shared
                .as_ref()
                .is_some_and(|e| e.http.saw_slow_route())
        {
            self.alone.store(true, Ordering::SeqCst);
        }
        let n = if self.adaptive && self.alone.load(Ordering::SeqCst) {
            self.all
        } else {
            1
        };
        self.gate
            .clone()
            .acquire_many_owned(n)
            .await
            .expect("the gate stays open")
    }
}

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
    let mut probes = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        if s.heavy {
            heavy.push(i);
        } else if live && s.area == crate::checks::authentication::AREA {
            auth.push(i);
        } else if live && s.probes_serving {
            probes.push(i);
        } else {
            groups.push(vec![i]);
        }
    }
    // The heavy transfers (one at a time, for memory) start first, beside the rest: the
    // longest chain of the run.
    let heavy_first = !heavy.is_empty();
    if heavy_first {
        groups.insert(0, std::mem::take(&mut heavy));
    }
    let total = specs.len();
    let concurrency = policy.concurrency.max(1);
    let pace = Arc::new(Pace {
        gate: policy
            .gate
            .clone()
            .unwrap_or_else(|| Arc::new(Semaphore::new(concurrency))),
        all: concurrency as u32,
        alone: AtomicBool::new(false),
        adaptive: live && policy.gate.is_none() && concurrency > 1,
        in_flight: AtomicUsize::new(0),
        started: AtomicUsize::new(0),
        shared: shared.clone(),
    });
    let specs: Arc<Vec<CheckSpec>> = Arc::new(specs.to_vec());
    let config = Arc::new(config.clone());
    let interrupted = policy.interrupted.clone();
    // Checks that ended bad while others ran beside them: run again alone at the end when
    // the run switched to one at a time.
    let again: Arc<std::sync::Mutex<Vec<(usize, Rerun)>>> = Default::default();
    let run_group = {
        let (pace, again) = (pace.clone(), again.clone());
        let (shared, specs, config, each, interrupted) = (
            shared.clone(),
            specs.clone(),
            config.clone(),
            each.clone(),
            interrupted.clone(),
        );
        move |group: Vec<usize>, gated: bool| {
            let (shared, specs, config, each, interrupted, pace, again) = (
                shared.clone(),
                specs.clone(),
                config.clone(),
                each.clone(),
                interrupted.clone(),
                pace.clone(),
                again.clone(),
            );
            async move {
                let mut out = Vec::new();
                for i in group {
                    if interrupted
                        .as_ref()
                        .is_some_and(|f| f.load(Ordering::SeqCst))
                    {
                        let r = specs[i].not_run(
                            &config,
                            "not run: the run was interrupted before this check (SIGINT/SIGTERM)",
                        );
                        each(&r);
                        out.push((i, r));
                        continue;
                    }
                    let _place = if gated {
                        Some(pace.enter().await)
                    } else {
                        None
                    };
                    let env = match &shared {
                        Some(e) => e.clone(),
                        None => Env::build((*config).clone()).await?,
                    };
                    let before = pace.in_flight.fetch_add(1, Ordering::SeqCst);
                    let starts = pace.started.fetch_add(1, Ordering::SeqCst);
                    let r = specs[i].run_until(&env, Some(deadline)).await;
                    let after = pace.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
                    let beside = before.max(after).max(
                        pace.started
                            .load(Ordering::SeqCst)
                            .saturating_sub(starts + 1)
                            .min(1),
                    );
                    let timed_out = r.timed_out_routes();
                    // The platform serving one request at a time, seen directly (a cheap
                    // request answered only after a slow one) or as a route timing out
                    // while other checks ran: from now on, one check at a time.
                    let serves_one_at_a_time = r.symptoms.iter().any(|s| {
                        matches!(s, crate::evidence::Symptom::BlockedBehindSlowRequest { .. })
                    });
                    if pace.adaptive
                        && (serves_one_at_a_time || beside > 0 && !timed_out.is_empty())
                    {
                        pace.alone.store(true, Ordering::SeqCst);
                    }
                    // Bad while others ran beside it: again at the end if the run switches
                    // to one at a time (its verdict may then be the queue's rather than its
                    // own line's; a check that passed, or cannot apply, keeps its verdict).
                    if pace.adaptive && beside > 0 && r.outcome.is_bad() {
                        again.lock().unwrap_or_else(|p| p.into_inner()).push((
                            i,
                            Rerun {
                                first_outcome: r.outcome.label().to_owned(),
                                timed_out,
                                beside,
                            },
                        ));
                    }
                    each(&r);
                    out.push((i, r));
                    if shared.is_none() {
                        let _ = tokio::task::spawn_blocking(move || drop(env)).await;
                    }
                }
                Ok::<_, EnvError>(out)
            }
        }
    };
    let mut done: Vec<(usize, CheckResult)> = Vec::with_capacity(total);
    // On a live target the authentication area runs first and alone: its checks count one
    // key's rate-limit budget and read its cache entry, which any other check's requests
    // with that key would change under them.
    // Then whether the platform serves requests side by side, alone: one that serves one at
    // a time is run one check at a time from the start.
    auth.extend(probes);
    if !auth.is_empty() {
        match tokio::spawn(run_group(auth, false)).await {
            Ok(r) => done.extend(r?),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (n, g) in groups.into_iter().enumerate() {
        // The heavy group waits for the heavy gate before it takes places at the gate.
        let heavy_gate = policy.heavy_gate.clone().filter(|_| heavy_first && n == 0);
        let work = run_group(g, true);
        tasks.spawn(async move {
            let _heavy = match heavy_gate {
                Some(h) => Some(h.acquire_owned().await.expect("the gate stays open")),
                None => None,
            };
            work.await
        });
    }
    while let Some(g) = tasks.join_next().await {
        match g {
            Ok(r) => done.extend(r?),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    // On a platform that serves one request at a time (the run switched), each check that
    // ended bad beside others, again, alone, within the budget: a route that timed out, or
    // answered slowly, only because the suite queued requests gets its own verdict back.
    let rerun = std::mem::take(&mut *again.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(env) = shared.clone().filter(|_| pace.alone.load(Ordering::SeqCst)) {
        for (i, first) in rerun {
            if tokio::time::Instant::now() >= deadline.0
                || interrupted
                    .as_ref()
                    .is_some_and(|f| f.load(Ordering::SeqCst))
            {
                break;
            }
            env.http.forget_slow_routes();
            let mut r = specs[i].run_until(&env, Some(deadline)).await;
            r.rerun = Some(first);
            each(&r);
            if let Some(slot) = done.iter_mut().find(|(j, _)| *j == i) {
                slot.1 = r;
            }
        }
    }
    // What checks left behind while the platform served one request at a time (their
    // deletes queued behind other checks' requests): deleted again, alone, within the budget.
    if let Some(env) = shared.clone()
        && pace.alone.load(Ordering::SeqCst)
    {
        for (_, r) in done.iter_mut().filter(|(_, r)| !r.left_behind.is_empty()) {
            if tokio::time::Instant::now() >= deadline.0 {
                break;
            }
            env.http.forget_slow_routes();
            let left = delete_again_alone(&env, &r.left_behind).await;
            if left != r.left_behind {
                r.left_behind = left;
                // Recorded again (already printed): the run folder is what `report` reads.
                if let Some(dir) = &policy.run_dir
                    && let Err(e) = super::record(dir, r)
                {
                    eprintln!("warning: cannot record {}: {e}", r.key());
                }
            }
        }
    }
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, r)| r).collect())
}

/// One more clean-up of `left`, through the contract's primary route (and MLflow's own
/// address when configured); what still stays.
async fn delete_again_alone(
    env: &Env,
    left: &[crate::mlflow::workflow::LeftBehind],
) -> Vec<crate::mlflow::workflow::LeftBehind> {
    let (client, direct) = env.cleanup_clients();
    let again = crate::mlflow::workflow::Created::default();
    again.requeue(left);
    tokio::time::timeout(
        super::cleanup::CLEANUP_BOUND,
        again.cleanup(&client, direct.as_ref()),
    )
    .await
    .unwrap_or_else(|_| left.to_vec())
}
