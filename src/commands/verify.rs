//! `verify`: runs the plan against the configured target, prints a line per check, records
//! every result in the run folder and writes the report.

use super::Exit;
use crate::catalogue::{Area, Fault};
use crate::check::{CheckResult, Outcome};
use crate::checks;
use crate::config::TargetKind;
use crate::fixtures::Env;
use std::sync::Arc;

/// `verify --help`'s epilogue: the areas and the exit codes (a test keeps it true to
/// [`Area`] and [`Exit`]).
pub const HELP: &str = "\
Areas (--area, repeatable): infra_health, authentication, registration_flow, mlflow_proxy,
error_scenarios, script_parity

Exit codes:
  0    every check passed (skipped or not applicable ones aside; strict mode fails skips)
  1    a check failed or errored (the report names the cause, the fix and the resource)
  2    configuration error: nothing was sent (the message names the variable)
  130  interrupted (SIGINT/SIGTERM): the report of what ran was written

`make verify` runs this for people; a pipeline gate calls the binary (`cargo run -- verify`)
to get these codes, since make itself exits 2 on any failure.";

/// Runs the checks of `areas` (all when empty) with `faults` switched on in the stand-in;
/// `keep` keeps earlier results in the run folder.
pub async fn verify(areas: Vec<Area>, faults: Vec<Fault>, keep: bool) -> Exit {
    let mut config = match super::config_or_exit() {
        Ok(c) => c,
        Err(e) => return e,
    };
    match config.standin_settings_mut() {
        Some(s) => s.faults.extend(faults),
        None if !faults.is_empty() => {
            eprintln!(
                "--fault switches a fault of the stand-in; the target is live (HOKUSAI_TARGET=live)"
            );
            return Exit::Config;
        }
        None => {}
    }
    let switched: Vec<Fault> = config
        .standin_settings()
        .map(|s| s.faults.iter().copied().collect())
        .unwrap_or_default();
    for w in config.warnings() {
        eprintln!("{w}");
    }
    let specs: Vec<_> = checks::catalogue(&config.profile)
        .into_iter()
        .filter(|s| areas.is_empty() || areas.contains(&s.area))
        .collect();
    let broken: Vec<&str> = config
        .standin_settings()
        .map(|s| s.breakages.iter().map(|b| b.id()).collect())
        .unwrap_or_default();
    let mut faults_note = String::new();
    if !switched.is_empty() {
        let ids: Vec<&str> = switched.iter().map(|f| f.id()).collect();
        faults_note.push_str(&format!(" with faults {}", ids.join(",")));
    }
    if !broken.is_empty() {
        faults_note.push_str(&format!(" with breakages {}", broken.join(",")));
    }
    println!(
        "hokusai-verify: {} checks on {}{} (profile {})",
        specs.len(),
        config.kind(),
        faults_note,
        config.profile.name
    );

    let shared = if config.kind() == TargetKind::Live {
        // One environment for a live target: checks run one after the other.
        match Env::build(config.clone()).await {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("{e}");
                return Exit::Config;
            }
        }
    } else {
        // Preflight: a stand-in must start (its Redis must answer) before anything is sent.
        if let Err(e) = Env::build(config.clone()).await {
            eprintln!("{e}");
            return Exit::Config;
        }
        None
    };
    // Earlier results go only once the preflight passed: a run that cannot start leaves the
    // last report's inputs as they were.
    if !keep {
        let _ = std::fs::remove_dir_all(config.run_dir.join("results"));
        let _ = std::fs::remove_dir_all(config.run_dir.join("perf"));
        let _ = std::fs::remove_dir_all(config.run_dir.join("plan"));
    }
    let _ = std::fs::remove_file(config.run_dir.join(crate::report::INTERRUPTED_MARKER));
    // Concurrently where checks share no state, within the run budget; every check gets a
    // result (`crate::check::runner`).
    let mut policy = crate::check::runner::RunPolicy::from_config(&config);
    // SIGINT / SIGTERM: no new check starts; running ones finish their clean-up (at most
    // INTERRUPT_GRACE); the report of what ran is written, marked as interrupted.
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    policy.interrupted = Some(interrupted.clone());
    let (signal_tx, mut signal_rx) = tokio::sync::watch::channel(None::<&'static str>);
    tokio::spawn({
        let interrupted = interrupted.clone();
        async move {
            let how = super::wait_for_signal().await;
            interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!(
                "\n{how}: no new checks; letting running checks clean up (at most {} s), then writing the report",
                INTERRUPT_GRACE.as_secs()
            );
            let _ = signal_tx.send(Some(how));
        }
    });
    let each: crate::check::runner::OnResult = Arc::new(|r: &CheckResult| print_line(r));
    let plan = crate::check::runner::run_plan(&specs, &config, shared, policy, each);
    let grace = async {
        let _ = signal_rx.wait_for(Option::is_some).await;
        tokio::time::sleep(INTERRUPT_GRACE).await;
    };
    let results = tokio::select! {
        r = plan => match r {
            Ok(rs) => rs,
            Err(e) => {
                eprintln!("{e}");
                return Exit::Config;
            }
        },
        () = grace => Vec::new(),
    };
    if let Some(how) = *signal_rx.borrow() {
        let _ = std::fs::write(config.run_dir.join(crate::report::INTERRUPTED_MARKER), how);
        println!("results in {}", config.run_dir.join("results").display());
        super::report::report(&config.run_dir, None, None, None, false);
        println!(
            "interrupted ({how}): {} check result(s) recorded",
            results.len()
        );
        return Exit::Interrupted;
    }
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let passed = count(|o| *o == Outcome::Passed);
    let failed = count(Outcome::is_bad);
    let skipped = count(|o| matches!(o, Outcome::Skipped { .. }));
    let not_applicable = count(|o| matches!(o, Outcome::NotApplicable { .. }));
    println!("results in {}", config.run_dir.join("results").display());
    let code = super::report::report(&config.run_dir, None, None, None, false);
    if not_applicable > 0 {
        println!(
            "{passed} passed, {failed} failed, {skipped} skipped, {not_applicable} not applicable to this target"
        );
    } else {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    if failed > 0 { Exit::Failed } else { code }
}

/// How long checks still running after an interruption may take to clean up.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

fn print_line(r: &CheckResult) {
    let worst_latency = r
        .evidence
        .iter()
        .map(|e| e.latency_ms)
        .fold(0.0_f64, f64::max);
    let mark = match r.outcome {
        Outcome::Passed => "ok  ",
        Outcome::Skipped { .. } => "skip",
        Outcome::NotApplicable { .. } => "n/a ",
        Outcome::Failed => "FAIL",
        Outcome::Error { .. } => "ERR ",
        Outcome::Blocked { .. } => "BLKD",
    };
    // The check's own duration, labelled, and its slowest call; a long name gets its own
    // line so the figures stay aligned.
    let key = match &r.rerun {
        Some(_) => format!("{} (again, alone)", r.key()),
        None => r.key(),
    };
    let figures = format!(
        "{:>8.1} ms  (slowest call {:.1} ms)",
        r.duration_ms, worst_latency
    );
    if key.chars().count() > 58 {
        println!("{mark} {key}\n     {:<58} {figures}", "");
    } else {
        println!("{mark} {key:<58} {figures}");
    }
    if r.outcome != Outcome::Passed
        && let Some(m) = &r.message
    {
        println!("       {m}");
    }
}
