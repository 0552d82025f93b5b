//! Runs a plan of checks the way `verify` does: concurrently where checks share no state,
//! within one wall-clock budget, with a result for every planned check.
//!
//! On the stand-in every check gets a fresh instance, so every check may run beside any
//! other. On a live target the checks share the platform: the authentication area (one
//! key's cache entry and rate-limit counters) runs as one sequence, and heavy transfers run
//! one at a time after everything else, so the suite never measures its own contention.

use super::{CheckResult, CheckSpec};
use crate::config::Config;
use crate::fixtures::{Env, EnvError};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

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
}

impl RunPolicy {
    pub fn from_config(c: &Config) -> Self {
        Self {
            interrupted: None,
            concurrency: c.concurrency.max(1),
            budget: c.run_budget,
        }
    }
}

/// Runs `specs`: against `shared` (a live target) or a fresh stand-in per check built from
/// `config`. `each` sees every result as it comes (to print and record it). Results come
/// back in plan order.
pub async fn run_plan(
    specs: &[CheckSpec],
    config: &Config,
    shared: Option<Arc<Env>>,
    policy: RunPolicy,
    each: &(dyn Fn(&CheckResult) + Sync),
) -> Result<Vec<CheckResult>, EnvError> {
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
    if !auth.is_empty() {
        // First: the longest sequence starts at once.
        groups.insert(0, auth);
    }
    let stopped = || {
        policy
            .interrupted
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst))
    };
    let run_group = |group: Vec<usize>| {
        let shared = shared.clone();
        async move {
            let mut out = Vec::new();
            for i in group {
                if stopped() {
                    let r = specs[i].not_run(
                        config,
                        "not run: the run was interrupted before this check (SIGINT/SIGTERM)",
                    );
                    each(&r);
                    out.push((i, r));
                    continue;
                }
                let env = match &shared {
                    Some(e) => e.clone(),
                    None => Env::build(config.clone()).await?,
                };
                let r = specs[i].run_until(&env, Some(deadline)).await;
                each(&r);
                out.push((i, r));
            }
            Ok::<_, EnvError>(out)
        }
    };
    let mut done: Vec<(usize, CheckResult)> = Vec::with_capacity(specs.len());
    let mut stream = futures_util::stream::iter(groups)
        .map(run_group)
        .buffer_unordered(policy.concurrency);
    while let Some(g) = stream.next().await {
        done.extend(g?);
    }
    drop(stream);
    // Heavy transfers alone, after the rest.
    done.extend(run_group(heavy).await?);
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, r)| r).collect())
}
