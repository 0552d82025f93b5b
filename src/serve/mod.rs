//! `serve`: the checks on a schedule, exported for Prometheus ([`metrics`]) and shown over
//! HTTP ([`http`]). One run at a time, each within the run budget, each in its own folder
//! under `<run dir>/serve/` (the newest [`ServeOptions::keep_runs`] are kept), every report
//! format written there as `verify` writes it.
//!
//! By default only the checks the catalogue declares [`Effect::Reads`] run: they create
//! nothing and send a handful of requests, so a platform can be watched all day without
//! filling its registry or spending its users' rate limits.

pub mod http;
pub mod metrics;

use crate::check::runner::{RunPolicy, ignore_results, run_plan};
use crate::check::{CheckSpec, Effect};
use crate::config::{Config, TargetKind};
use crate::fixtures::Env;
use crate::report::{Report, Verdict};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// How `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where `/metrics`, `/`, `/report.json` and `/healthz` are served.
    pub listen: std::net::SocketAddr,
    /// From one run's start to the next one's (with a little jitter).
    pub interval: Duration,
    /// Also run the checks that create objects (and delete them again).
    pub with_writes: bool,
    /// Stop after this many runs (a soak, a test); `None`: until SIGTERM / SIGINT.
    pub runs: Option<u64>,
    /// How many run folders stay on disk.
    pub keep_runs: usize,
}

/// The shortest interval `serve` accepts.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The checks `serve` runs: the catalogue's [`Effect::Reads`] ones, and with `with_writes`
/// the [`Effect::Writes`] ones too; never [`Effect::Load`].
pub fn plan(config: &Config, with_writes: bool) -> Vec<CheckSpec> {
    crate::checks::catalogue(&config.profile)
        .into_iter()
        .filter(|s| match s.effect {
            Effect::Reads => true,
            Effect::Writes => with_writes,
            Effect::Load => false,
        })
        .collect()
}

/// The last completed run, as `/` and `/report.json` serve it.
#[derive(Debug, Clone)]
pub struct LastRun {
    pub html: String,
    pub json: String,
    pub verdict: Verdict,
    pub dir: PathBuf,
    pub ended: SystemTime,
}

/// What the HTTP side reads and the scheduler writes.
pub struct State {
    pub metrics: metrics::Metrics,
    pub interval: Duration,
    last: RwLock<Option<LastRun>>,
    completed: AtomicU64,
    running: AtomicBool,
    /// Set when the scheduler has stopped (signal, `--runs` reached): `/healthz` says so.
    stopped: AtomicBool,
}

impl State {
    pub fn new(specs: &[CheckSpec], interval: Duration) -> Self {
        Self {
            metrics: metrics::Metrics::new(specs, interval),
            interval,
            last: RwLock::new(None),
            completed: AtomicU64::new(0),
            running: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }

    pub fn last(&self) -> Option<LastRun> {
        self.last.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    pub fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

/// Runs the plan every `opts.interval` until `stop` turns true (or `opts.runs` runs are
/// done). A stop during a run lets the running checks finish (at most `grace`), records
/// nothing of that run, and returns.
///
/// Every run starts from a fresh environment (a live target's client, or a stand-in per
/// check): what one run learnt of the platform (a host that did not answer, a route that
/// timed out) must not decide the next one's verdict.
pub async fn schedule(
    config: &Config,
    specs: &[CheckSpec],
    opts: &ServeOptions,
    state: &State,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let root = config.run_dir.join("serve");
    let mut n: u64 = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        n += 1;
        let dir = root.join(format!(
            "{}-{n:06}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
        ));
        let mut run_config = config.clone();
        run_config.run_dir = dir.clone();
        let interrupted = Arc::new(AtomicBool::new(false));
        let mut policy = RunPolicy::from_config(&run_config);
        policy.interrupted = Some(interrupted.clone());
        state.running.store(true, Ordering::SeqCst);
        let shared = match config.kind() {
            TargetKind::Live => match Env::build(run_config.clone()).await {
                Ok(e) => Some(e),
                Err(e) => {
                    eprintln!("serve: run {n} could not start: {e}");
                    state.running.store(false, Ordering::SeqCst);
                    if opts.runs.is_some_and(|max| n >= max) {
                        break;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(jittered(opts.interval)) => {}
                        _ = stop.wait_for(|s| *s) => break,
                    }
                    continue;
                }
            },
            TargetKind::Standin => None,
        };
        let plan = run_plan(specs, &run_config, shared, policy, ignore_results());
        let mut stop_during = stop.clone();
        let cut = async {
            let _ = stop_during.wait_for(|s| *s).await;
            interrupted.store(true, Ordering::SeqCst);
            tokio::time::sleep(grace).await;
        };
        let outcome = tokio::select! {
            r = plan => Some(r),
            () = cut => None,
        };
        state.running.store(false, Ordering::SeqCst);
        if *stop.borrow() {
            eprintln!("serve: stopped during run {n}; it is not recorded");
            prune(&root, opts.keep_runs);
            break;
        }
        match outcome {
            Some(Ok(_)) => {
                let wall = started.elapsed();
                let ended = SystemTime::now();
                match complete(&dir, state, wall, ended) {
                    Ok(rep) => {
                        let causes: Vec<&str> = rep.causes.iter().map(|c| c.id.as_str()).collect();
                        println!(
                            "serve: run {n}: {} in {:.1} s{}",
                            rep.verdict.label(),
                            wall.as_secs_f64(),
                            if causes.is_empty() {
                                String::new()
                            } else {
                                format!("; causes: {}", causes.join(", "))
                            }
                        );
                    }
                    Err(e) => eprintln!("serve: run {n}: cannot write its report: {e}"),
                }
            }
            Some(Err(e)) => eprintln!("serve: run {n} could not start: {e}"),
            None => {}
        }
        prune(&root, opts.keep_runs);
        if opts.runs.is_some_and(|max| n >= max) {
            break;
        }
        let wait = jittered(opts.interval).saturating_sub(started.elapsed());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    state.stopped.store(true, Ordering::SeqCst);
}

/// Builds the run's report, writes it into its folder and hands it to the metrics and the
/// HTTP side.
fn complete(
    dir: &Path,
    state: &State,
    wall: Duration,
    ended: SystemTime,
) -> std::io::Result<Report> {
    let mut rep = Report::from_run_dir(dir, None);
    crate::report::write_all(&mut rep, dir)?;
    // What is served is what was written (redacted there).
    let html = std::fs::read_to_string(dir.join("report.html"))?;
    let json = std::fs::read_to_string(dir.join("report.json"))?;
    state.metrics.record(&rep, wall, ended);
    *state.last.write().unwrap_or_else(|p| p.into_inner()) = Some(LastRun {
        html,
        json,
        verdict: rep.verdict,
        dir: dir.to_path_buf(),
        ended,
    });
    state.completed.fetch_add(1, Ordering::SeqCst);
    Ok(rep)
}

/// The interval with up to ±5 % of jitter (at most ±30 s), so that many exporters started
/// together do not probe the platform in step.
pub fn jittered(interval: Duration) -> Duration {
    let spread = (interval.as_secs_f64() * 0.05).min(30.0);
    let offset = (fastrand::f64() * 2.0 - 1.0) * spread;
    Duration::from_secs_f64((interval.as_secs_f64() + offset).max(0.0))
}

/// Removes all but the newest `keep` run folders under `root` (their names sort by time).
pub fn prune(root: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep.max(1));
    for d in &dirs[..excess] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_five_percent() {
        for _ in 0..200 {
            let j = jittered(Duration::from_secs(100));
            assert!(
                j >= Duration::from_secs(95) && j <= Duration::from_secs(105),
                "{j:?}"
            );
        }
        let long = jittered(Duration::from_secs(3600));
        assert!(long >= Duration::from_secs(3570) && long <= Duration::from_secs(3630));
    }

    #[test]
    fn prune_keeps_the_newest() {
        let root = std::env::temp_dir().join(format!("hv-prune-{}", fastrand::u64(..)));
        for i in 0..7 {
            std::fs::create_dir_all(root.join(format!("20261205T0000{i:02}.000Z-{i:06}"))).unwrap();
        }
        prune(&root, 3);
        let mut left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                "20261205T000004.000Z-000004",
                "20261205T000005.000Z-000005",
                "20261205T000006.000Z-000006"
            ]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
