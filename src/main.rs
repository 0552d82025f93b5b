//! `hokusai-verify`: run the checks against the stand-in or a live platform.
//!
//! Exit codes: 0 every check passed (or skipped), 1 a check failed, 2 configuration error.

use clap::{Parser, Subcommand};
use hokusai_verify::check::{CheckResult, Outcome, record};
use hokusai_verify::checks;
use hokusai_verify::config::{Config, TargetKind};
use hokusai_verify::fixtures::Env;
use hokusai_verify::standin::Fault;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "hokusai-verify",
    version,
    about = "Verify the Hokusai model-registration platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the checks against the configured target (HOKUSAI_TARGET, default the stand-in)
    /// and print one line per check.
    Verify {
        /// Only these areas (default: all).
        #[arg(long = "area")]
        areas: Vec<String>,
        /// Switch a stand-in fault on (repeatable); same as HOKUSAI_STANDIN_FAULTS.
        #[arg(long = "fault")]
        faults: Vec<Fault>,
        /// Keep earlier results in the run folder instead of starting afresh.
        #[arg(long)]
        keep: bool,
    },
    /// List (and with --delete remove) registry leftovers of earlier runs: models
    /// `hokusai-hv-*` and experiments `hv-*` older than --older-than.
    Janitor {
        /// Minimum age, e.g. 30m, 2h, 1d (at most 10 years).
        #[arg(long, default_value = "1h", value_parser = parse_age)]
        older_than: std::time::Duration,
        /// Delete what is listed (default: dry run).
        #[arg(long)]
        delete: bool,
    },
    /// Build the report (Markdown, JSON, JUnit, HTML, infra hand-off) from a run folder.
    Report {
        /// The run folder (default: HOKUSAI_RUN_DIR or target/hokusai-verify/run).
        #[arg(long)]
        run_dir: Option<std::path::PathBuf>,
        /// Where to write (default: the run folder).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// nextest's JUnit file, to list failing tests the results do not show.
        #[arg(long)]
        junit: Option<std::path::PathBuf>,
        /// Replace the status block between markers in this Markdown file.
        #[arg(long)]
        update_status: Option<std::path::PathBuf>,
        /// Also pack the run folder into one .tar.gz for hand-off.
        #[arg(long)]
        package: bool,
    },
    /// Serve the stand-in on fixed loopback ports until stopped (Ctrl-C / SIGTERM), for curl,
    /// the Hokusai SDK or a live-mode run. Valid keys come from the same variables a live
    /// run reads (HOKUSAI_API_KEY, HOKUSAI_SECOND_API_KEY, HOKUSAI_LOW_LIMIT_API_KEY,
    /// HOKUSAI_READ_ONLY_API_KEY, HOKUSAI_REVOKED_API_KEY, HOKUSAI_EXPIRED_API_KEY);
    /// roles without one get a random key that is never shown.
    Standin {
        #[arg(long, default_value_t = 18080)]
        registry_port: u16,
        #[arg(long, default_value_t = 18081)]
        auth_port: u16,
        #[arg(long, default_value_t = 18082)]
        mlflow_port: u16,
        #[arg(long, default_value_t = 18083)]
        ecs_port: u16,
        /// Switch a fault on (repeatable).
        #[arg(long = "fault")]
        faults: Vec<Fault>,
        /// Profile name or .toml path (default: HOKUSAI_PROFILE or hokusai-2025-08).
        #[arg(long)]
        profile: Option<String>,
        /// `contract` (5 s auth timeout, 30 s upstream timeout) or `fast`.
        #[arg(long, default_value = "contract")]
        timing: String,
        /// The Redis for the auth cache and counters; a dedicated database is best, since
        /// the server uses the contract's key names without a prefix.
        #[arg(long, default_value = "redis://127.0.0.1:6379/15")]
        redis_url: String,
        /// Print which role takes its key from which variable (never a key).
        #[arg(long)]
        print_keys: bool,
    },
    /// Load: latency percentiles, throughput, errors by class, against the configured target
    /// (stand-in by default) or a raw URL. Always bounded; a live target needs --allow-live.
    /// Exit 3 when a threshold is breached or the baseline regressed.
    Load(LoadArgs),
    /// Print the resolved configuration (keys redacted) and exit; sends nothing.
    Config,
    /// List the stand-in's fault switches.
    Faults,
}

fn main() -> ExitCode {
    // A closed pipe (`config | head`) ends the process quietly, as for any Unix tool,
    // instead of a panic in println!.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    hokusai_verify::secret::install_redacting_panic_hook();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        match cli.command {
            Command::Faults => {
                // One line per fault: its id, and what the report calls it.
                let width = Fault::ALL.iter().map(|f| f.id().len()).max().unwrap_or(0);
                for f in Fault::ALL {
                    let title = hokusai_verify::report::rca::cause(f.id())
                        .map(|c| c.title)
                        .unwrap_or("");
                    println!("{:width$}  {title}", f.id());
                }
                ExitCode::SUCCESS
            }
            Command::Config => match Config::from_env() {
                Ok(c) => {
                    for w in c.warnings() {
                        eprintln!("{w}");
                    }
                    // Keys are wrapped types; URL passwords are redacted here.
                    println!("{}", hokusai_verify::secret::redact(&format!("{c:#?}")));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            },
            Command::Verify {
                areas,
                faults,
                keep,
            } => verify(areas, faults, keep).await,
            Command::Janitor { older_than, delete } => janitor(older_than, delete).await,
            Command::Load(args) => load(args).await,
            Command::Standin {
                registry_port,
                auth_port,
                mlflow_port,
                ecs_port,
                faults,
                profile,
                timing,
                redis_url,
                print_keys,
            } => {
                standin(
                    [registry_port, auth_port, mlflow_port, ecs_port],
                    faults,
                    profile,
                    &timing,
                    redis_url,
                    print_keys,
                )
                .await
            }
            Command::Report {
                run_dir,
                out,
                junit,
                update_status,
                package,
            } => {
                let run_dir = run_dir.unwrap_or_else(default_run_dir);
                report(
                    &run_dir,
                    out.as_deref(),
                    junit.as_deref(),
                    update_status.as_deref(),
                    package,
                )
            }
        }
    })
}

async fn verify(areas: Vec<String>, faults: Vec<Fault>, keep: bool) -> ExitCode {
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    config.standin_faults.extend(faults);
    for w in config.warnings() {
        eprintln!("{w}");
    }
    for a in &areas {
        if !checks::AREAS.contains(&a.as_str()) {
            eprintln!("unknown area `{a}` (known: {})", checks::AREAS.join(", "));
            return ExitCode::from(2);
        }
    }
    let specs: Vec<_> = checks::catalogue(&config.profile)
        .into_iter()
        .filter(|s| areas.is_empty() || areas.iter().any(|a| a == s.area))
        .collect();
    let faults_note = if config.standin_faults.is_empty() {
        String::new()
    } else {
        format!(
            " with faults {}",
            config
                .standin_faults
                .iter()
                .map(|f| f.id())
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    println!(
        "hokusai-verify: {} checks on {}{} (profile {})",
        specs.len(),
        config.target,
        faults_note,
        config.profile.name
    );

    let shared = if config.target == TargetKind::Live {
        // One environment for a live target: checks run one after the other.
        match Env::build(config.clone()).await {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    } else {
        // Preflight: a stand-in must start (its Redis must answer) before anything is sent.
        if let Err(e) = Env::build(config.clone()).await {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        None
    };
    // Earlier results go only once the preflight passed: a run that cannot start leaves the
    // last report's inputs as they were.
    if !keep {
        let _ = std::fs::remove_dir_all(config.run_dir.join("results"));
        let _ = std::fs::remove_dir_all(config.run_dir.join("perf"));
    }
    let _ = std::fs::remove_file(
        config
            .run_dir
            .join(hokusai_verify::report::INTERRUPTED_MARKER),
    );
    // Concurrently where checks share no state, within the run budget; every check gets a
    // result (`hokusai_verify::check::runner`).
    let mut policy = hokusai_verify::check::runner::RunPolicy::from_config(&config);
    // SIGINT / SIGTERM: no new check starts; running ones finish their clean-up (at most
    // INTERRUPT_GRACE); the report of what ran is written, marked as interrupted.
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    policy.interrupted = Some(interrupted.clone());
    let (signal_tx, mut signal_rx) = tokio::sync::watch::channel(None::<&'static str>);
    tokio::spawn({
        let interrupted = interrupted.clone();
        async move {
            let how = wait_for_interrupt().await;
            interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!(
                "\n{how}: no new checks; letting running checks clean up (at most {} s), then writing the report",
                INTERRUPT_GRACE.as_secs()
            );
            let _ = signal_tx.send(Some(how));
        }
    });
    let run_dir = config.run_dir.clone();
    let each: hokusai_verify::check::runner::OnResult = Arc::new(move |r: &CheckResult| {
        if let Err(e) = record(&run_dir, r) {
            eprintln!("warning: cannot record {}: {e}", r.key());
        }
        print_line(r);
    });
    let plan = hokusai_verify::check::runner::run_plan(&specs, &config, shared, policy, each);
    let grace = async {
        let _ = signal_rx.wait_for(Option::is_some).await;
        tokio::time::sleep(INTERRUPT_GRACE).await;
    };
    let results = tokio::select! {
        r = plan => match r {
            Ok(rs) => rs,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        () = grace => Vec::new(),
    };
    if let Some(how) = *signal_rx.borrow() {
        let _ = std::fs::write(
            config
                .run_dir
                .join(hokusai_verify::report::INTERRUPTED_MARKER),
            how,
        );
        println!("results in {}", config.run_dir.join("results").display());
        report(&config.run_dir, None, None, None, false);
        println!(
            "interrupted ({how}): {} check result(s) recorded",
            results.len()
        );
        return ExitCode::from(130);
    }
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let passed = count(|o| *o == Outcome::Passed);
    let failed = count(Outcome::is_bad);
    let skipped = count(|o| matches!(o, Outcome::Skipped { .. }));
    let not_applicable = count(|o| matches!(o, Outcome::NotApplicable { .. }));
    println!("results in {}", config.run_dir.join("results").display());
    let code = report(&config.run_dir, None, None, None, false);
    if not_applicable > 0 {
        println!(
            "{passed} passed, {failed} failed, {skipped} skipped, {not_applicable} not applicable to this target"
        );
    } else {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    if failed > 0 { ExitCode::from(1) } else { code }
}

/// How long checks still running after an interruption may take to clean up.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits for SIGINT (Ctrl-C) or SIGTERM; says which.
async fn wait_for_interrupt() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

fn default_run_dir() -> std::path::PathBuf {
    match Config::from_env() {
        Ok(c) => c.run_dir,
        Err(_) => std::path::PathBuf::from("target/hokusai-verify/run"),
    }
}

/// Writes every report format and prints where, with the summary lines.
fn report(
    run_dir: &std::path::Path,
    out: Option<&std::path::Path>,
    junit: Option<&std::path::Path>,
    update_status: Option<&std::path::Path>,
    package: bool,
) -> ExitCode {
    use hokusai_verify::report::{self, Report, Verdict};
    let mut rep = Report::from_run_dir(run_dir, junit);
    let out = out.unwrap_or(run_dir);
    if let Err(e) = report::write_all(&mut rep, out) {
        eprintln!("cannot write the report into {}: {e}", out.display());
        return ExitCode::from(1);
    }
    println!(
        "report: {} — health score {} / 100 — {}",
        rep.verdict.label(),
        rep.health
            .overall
            .map_or("n/a".into(), |s| format!("{s:.0}")),
        out.join("report.md").display()
    );
    for c in &rep.causes {
        println!(
            "  cause: {} ({}): {} failed, {} blocked; fix: {}",
            c.title,
            c.id,
            c.checks.len() - c.blocked.len(),
            c.blocked.len(),
            c.fix
        );
    }
    if !rep.unclassified.is_empty() {
        println!("  suite defects (unclassified): {}", rep.unclassified.len());
    }
    for p in &rep.problems {
        println!("  problem: {p}");
    }
    if !rep.missing.is_empty() {
        println!("  checks without a result: {}", rep.missing.len());
    }
    if let Some(path) = update_status {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Err(e) = std::fs::write(
            path,
            hokusai_verify::secret::redact(&report::status::update(&text, &rep)),
        ) {
            eprintln!("cannot update {}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("  status block updated in {}", path.display());
    }
    if package {
        match report::package::package(run_dir) {
            Ok(p) => println!("  package: {}", p.display()),
            Err(e) => {
                eprintln!("cannot package {}: {e}", run_dir.display());
                return ExitCode::from(1);
            }
        }
    }
    match rep.verdict {
        Verdict::Healthy => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// The variables the stand-in server takes its keys from, by role.
const KEY_VARS: [(&str, &str); 6] = [
    ("valid", "HOKUSAI_API_KEY"),
    ("second", "HOKUSAI_SECOND_API_KEY"),
    ("low-limit", "HOKUSAI_LOW_LIMIT_API_KEY"),
    ("read-only", "HOKUSAI_READ_ONLY_API_KEY"),
    ("revoked", "HOKUSAI_REVOKED_API_KEY"),
    ("expired", "HOKUSAI_EXPIRED_API_KEY"),
];

async fn standin(
    ports: [u16; 4],
    faults: Vec<Fault>,
    profile: Option<String>,
    timing: &str,
    redis_url: String,
    print_keys: bool,
) -> ExitCode {
    use hokusai_verify::secret::ApiKey;
    use hokusai_verify::standin::{ChosenKeys, StandIn, StandInOptions, Timing};
    let name = profile
        .or_else(|| std::env::var("HOKUSAI_PROFILE").ok())
        .unwrap_or_else(|| hokusai_verify::config::DEFAULT_PROFILE.to_owned());
    let profile = match hokusai_verify::config::Profile::load(&name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("--profile: {e}");
            return ExitCode::from(2);
        }
    };
    let mut chosen = ChosenKeys::default();
    for (role, var) in KEY_VARS {
        let Ok(raw) = std::env::var(var) else {
            continue;
        };
        let key = match ApiKey::parse(&raw) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("{var}: not a Hokusai API key: {e} (the value is not shown)");
                return ExitCode::from(2);
            }
        };
        let slot = match role {
            "valid" => &mut chosen.valid,
            "second" => &mut chosen.second,
            "low-limit" => &mut chosen.low_limit,
            "read-only" => &mut chosen.read_only,
            "revoked" => &mut chosen.revoked,
            _ => &mut chosen.expired,
        };
        *slot = Some(key);
    }
    let mut opts = StandInOptions::new(profile.clone())
        .redis_url(redis_url)
        .faults(faults);
    opts.ports = ports;
    opts.keys = chosen;
    opts.namespace = Some(String::new());
    opts.timing = match timing {
        "contract" => Timing::from_profile(&profile),
        "fast" => Timing::fast(&profile),
        other => {
            eprintln!("--timing: `{other}` is not `contract` or `fast`");
            return ExitCode::from(2);
        }
    };
    let standin = match StandIn::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "hokusai-verify stand-in (profile {}, timing {timing}) serving until Ctrl-C / SIGTERM:",
        profile.name
    );
    println!("  registry  {}", standin.registry_url());
    println!("  auth      {}", standin.auth_url());
    println!(
        "  mlflow    {}  (internal address, no auth)",
        standin.mlflow_url()
    );
    println!(
        "  ecs       {}  (AWS JSON 1.1; any SigV4 credentials, region us-east-1)",
        standin.ecs_url()
    );
    let faults = standin.faults();
    if !faults.is_empty() {
        println!(
            "  faults    {}",
            faults.iter().map(|f| f.id()).collect::<Vec<_>>().join(", ")
        );
    }
    if print_keys {
        for (role, var) in KEY_VARS {
            let source = if std::env::var(var).is_ok() {
                format!("from {var}")
            } else {
                format!("generated, not shown (set {var} to choose it)")
            };
            println!("  key {role:<10} {source}");
        }
    }
    wait_for_stop().await;
    drop(standin);
    println!("stand-in stopped; its Redis entries were removed");
    ExitCode::SUCCESS
}

async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[derive(clap::Args)]
struct LoadArgs {
    /// health | proxied-read | artifact-download | registration
    #[arg(long, default_value = "health")]
    scenario: String,
    /// A raw GET target instead of a scenario (e.g. http://127.0.0.1:18080/health).
    #[arg(long)]
    url: Option<url::Url>,
    /// open (constant arrival rate) | closed (virtual users).
    #[arg(long, default_value = "closed")]
    model: String,
    /// Open model: requests per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Closed model: virtual users.
    #[arg(long, default_value_t = 8)]
    users: usize,
    /// Closed model: think time between a user's requests.
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    /// Upper bound on requests.
    #[arg(long, default_value_t = 1000)]
    requests: u64,
    /// Upper bound on time, e.g. 30s, 2m, 1h30m (at most 24h).
    #[arg(long, default_value = "30s", value_parser = parse_load_duration)]
    duration: std::time::Duration,
    /// Statuses that count as success (default 200-299).
    #[arg(long, value_delimiter = ',')]
    expect: Vec<u16>,
    /// k6-style thresholds, repeatable: p95<500ms, p99<1s, error_rate<0.01, throughput>100.
    #[arg(long = "threshold")]
    thresholds: Vec<String>,
    /// A saved result to compare with.
    #[arg(long)]
    baseline: Option<std::path::PathBuf>,
    /// How much worse than the baseline counts as a regression (0.2 = 20%).
    #[arg(long, default_value_t = 0.2)]
    tolerance: f64,
    /// Write the result (JSON) here.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Allow load against a non-loopback target.
    #[arg(long)]
    allow_live: bool,
}

async fn load(a: LoadArgs) -> ExitCode {
    use hokusai_verify::http::{Auth, HttpClient, Req};
    use hokusai_verify::load::{self, Model, RunLimits, scenarios};
    let thresholds = match a
        .thresholds
        .iter()
        .map(|t| load::parse_threshold(t))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("--threshold: {e}");
            return ExitCode::from(2);
        }
    };
    let model = match a.model.as_str() {
        "open" if a.rate.is_finite() && a.rate > load::MAX_OPEN_RATE => {
            eprintln!(
                "--rate {}: at most {} requests per second; one process on this machine cannot generate more (use several machines, or the closed model)",
                a.rate,
                load::MAX_OPEN_RATE
            );
            return ExitCode::from(2);
        }
        "open" if a.rate.is_finite() && a.rate > 0.0 => Model::Open { rate_per_s: a.rate },
        "closed" if a.users > 0 => Model::Closed {
            users: a.users,
            think_ms: a.think_ms,
        },
        other => {
            eprintln!(
                "--model: `{other}` needs to be `open` (with --rate > 0) or `closed` (with --users > 0)"
            );
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let baseline = match &a.baseline {
        None => None,
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<load::LoadResult>(&t).map_err(|e| e.to_string()))
        {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("--baseline {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
    };
    let limits = RunLimits {
        max_requests: a.requests,
        max_duration: a.duration,
    };
    let expected: Vec<u16> = if a.expect.is_empty() {
        (200..300).collect()
    } else {
        a.expect.clone()
    };
    let http = HttpClient::new(config.request_timeout, config.connect_timeout);
    // Build the work, and refuse non-loopback targets unless allowed.
    let (target, env, work, name) = if let Some(url) = &a.url {
        if !hokusai_verify::config::is_loopback(url) && !a.allow_live {
            eprintln!(
                "load against {url} refused: not a loopback address; add --allow-live to load a real target"
            );
            return ExitCode::from(2);
        }
        // The URL's path and query go exactly as given: the base is its origin alone.
        let base = url::Url::parse(&url.origin().ascii_serialization()).unwrap_or(url.clone());
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let work = scenarios::http(http.clone(), base, move || Req::get(target.clone()));
        (url.to_string(), None, work, "url".to_owned())
    } else {
        if config.target == hokusai_verify::config::TargetKind::Live && !a.allow_live {
            eprintln!(
                "load against the live target refused: add --allow-live (and keep --requests/--duration small)"
            );
            return ExitCode::from(2);
        }
        let env = match Env::build(config.clone()).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        let key = env.keys.primary.clone();
        let reg = env.registry_url().clone();
        let work = match a.scenario.as_str() {
            "health" => scenarios::http(http.clone(), reg, || Req::get("/health")),
            "proxied-read" => scenarios::http(http.clone(), reg, move || {
                Req::get("/api/mlflow/api/2.0/mlflow/experiments/search")
                    .query("max_results", "1")
                    .auth(Auth::Bearer(key.clone()))
            }),
            "artifact-download" => {
                let path = match seed_artifact(&env).await {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("cannot prepare the artifact to download: {e}");
                        return ExitCode::from(1);
                    }
                };
                scenarios::http(http.clone(), reg, move || {
                    Req::get(path.clone()).auth(Auth::Bearer(key.clone()))
                })
            }
            "registration" => scenarios::registration(env.clone()),
            other => {
                eprintln!(
                    "--scenario: unknown `{other}` (health, proxied-read, artifact-download, registration)"
                );
                return ExitCode::from(2);
            }
        };
        (
            format!("{} ({})", env.registry_url(), env.target_name()),
            Some(env),
            work,
            a.scenario.clone(),
        )
    };
    let shape = match model {
        Model::Open { rate_per_s } => format!("open model, {rate_per_s} req/s"),
        Model::Closed { users, think_ms } => {
            format!("closed model, {users} users, {think_ms} ms think time")
        }
    };
    println!(
        "load `{name}` against {target}: at most {} requests in at most {:?} ({shape})",
        limits.max_requests, limits.max_duration
    );
    let sampler = load::ResourceSampler::start(std::time::Duration::from_millis(200));
    let window_start = std::time::SystemTime::now();
    let result = load::run_work(&name, model, limits, &expected, work).await;
    let usage = sampler.stop();
    print_ecs_utilisation(&config, window_start).await;
    drop(env);
    let l = &result.latency;
    println!(
        "requests {} ok {} ({:.2}% errors) in {:.2} s: {:.1} req/s",
        result.requests,
        result.ok,
        result.error_rate() * 100.0,
        result.duration_s,
        result.throughput_per_s
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms
    );
    if let Some(s) = &result.service_time {
        println!(
            "service time (from actual send, uncorrected) ms: p50 {:.2}  p99 {:.2}  max {:.2}",
            s.p50_ms, s.p99_ms, s.max_ms
        );
    }
    if !result.errors.is_empty() || !result.unexpected_status.is_empty() {
        println!(
            "errors: {:?}  unexpected statuses: {:?}",
            result.errors, result.unexpected_status
        );
    }
    println!(
        "this process: CPU mean {:.0}% max {:.0}% of a core, peak RSS {:.0} MB",
        usage.cpu_mean_percent, usage.cpu_max_percent, usage.peak_rss_mb
    );
    let cmp = load::compare(&result, &thresholds, baseline.as_ref(), a.tolerance);
    for b in &cmp.breached {
        println!("THRESHOLD BREACHED: {b}");
    }
    for r in &cmp.regressions {
        println!("REGRESSION against the baseline: {r}");
    }
    if let Some(out) = &a.out {
        let doc = serde_json::to_string_pretty(&result).expect("json");
        if let Err(e) = std::fs::write(out, doc) {
            eprintln!("cannot write {}: {e}", out.display());
        }
    }
    let _ = load::record(&config.run_dir, &result);
    if result.requests > 0 && result.ok == 0 {
        println!(
            "EVERY REQUEST FAILED: {} requests, none answered as expected",
            result.requests
        );
        return ExitCode::from(1);
    }
    if cmp.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

/// Live runs with AWS access: the ECS services' CPU and memory over the run's window.
async fn print_ecs_utilisation(config: &Config, start: std::time::SystemTime) {
    use hokusai_verify::ecs::cloudwatch::CloudWatch;
    let Some(live) = &config.live else { return };
    let Some(region) = &live.aws.region else {
        println!("ECS utilisation: skipped (no AWS region)");
        return;
    };
    if !hokusai_verify::ecs::credentials_available() && live.aws.endpoint_url.is_none() {
        println!("ECS utilisation: skipped (no AWS credentials)");
        return;
    }
    let cluster = live
        .aws
        .cluster
        .clone()
        .unwrap_or_else(|| config.profile.ecs.cluster.clone());
    let cw = match CloudWatch::live(
        region,
        live.aws.endpoint_url.as_ref().map(url::Url::as_str),
        &cluster,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            println!("ECS utilisation: skipped ({e})");
            return;
        }
    };
    // CloudWatch aggregates per minute: widen the window to whole minutes around the run.
    let (from, to) = (
        start - std::time::Duration::from_secs(60),
        std::time::SystemTime::now() + std::time::Duration::from_secs(60),
    );
    for service in &config.profile.ecs.services {
        match cw.utilisation(service, from, to).await {
            Ok(u) => println!(
                "ECS {service}: CPU max {} mean {}, memory max {} mean {} ({} datapoints)",
                fmt_pct(u.cpu_max),
                fmt_pct(u.cpu_mean),
                fmt_pct(u.memory_max),
                fmt_pct(u.memory_mean),
                u.datapoints
            ),
            Err(e) => println!("ECS {service}: utilisation not available: {e}"),
        }
    }
}

fn fmt_pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.1}%"))
}

/// Uploads a 1 MB artifact for the download scenario; returns its proxied path.
async fn seed_artifact(env: &Env) -> Result<String, hokusai_verify::mlflow::MlflowError> {
    use hokusai_verify::http::Auth;
    use hokusai_verify::mlflow::{ApiPrefix, MlflowClient};
    let client = MlflowClient::via_proxy(
        env.http.clone(),
        env.registry_url().clone(),
        Auth::Bearer(env.keys.primary.clone()),
        ApiPrefix::Api,
    );
    let exp = client
        .create_experiment(
            &format!(
                "{}-exp",
                hokusai_verify::mlflow::workflow::unique_token("load")
            ),
            &[],
        )
        .await?;
    let run = client.create_run(&exp, "load", &[]).await?;
    let rel = format!("{exp}/{}/artifacts/blob.bin", run.info.run_id);
    client.upload_artifact(&rel, vec![7u8; 1024 * 1024]).await?;
    Ok(client.artifact_path(&rel))
}

/// A duration like `30s`, `2m`, `1h30m`, `1d` (humantime), at most `max`: an overflow or an
/// absurd figure is a configuration error (exit 2), never a panic.
fn parse_duration_at_most(
    s: &str,
    max: std::time::Duration,
) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration like 30s, 2m, 1h30m or 1d: {e}"))?;
    if d > max {
        return Err(format!(
            "`{s}` is longer than the limit of {}",
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    parse_duration_at_most(s, std::time::Duration::from_secs(3650 * 86_400))
}

fn parse_load_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration_at_most(s, std::time::Duration::from_secs(86_400))?;
    if d.is_zero() {
        return Err(format!("`{s}`: the duration must be positive"));
    }
    Ok(d)
}

async fn janitor(older_than: std::time::Duration, delete: bool) -> ExitCode {
    use hokusai_verify::http::Auth;
    use hokusai_verify::mlflow::{ApiPrefix, MlflowClient, janitor};
    let built = match Config::from_env() {
        Ok(c) => Env::build(c).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let env = match built {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let client = MlflowClient::via_proxy(
        env.http.clone(),
        env.registry_url().clone(),
        Auth::Bearer(env.keys.primary.clone()),
        ApiPrefix::Api,
    );
    let leftovers = match janitor::find(&client, older_than).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot list leftovers: {e}");
            return ExitCode::from(1);
        }
    };
    for l in &leftovers {
        println!(
            "{:<17} {:<64} created {}",
            l.kind,
            l.name,
            l.created.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    if !delete {
        println!(
            "{} leftover(s) older than {older_than:?}; dry run (add --delete to remove them)",
            leftovers.len()
        );
        return ExitCode::SUCCESS;
    }
    let problems = janitor::delete(&client, &leftovers).await;
    for p in &problems {
        eprintln!("could not delete {p}");
    }
    println!(
        "deleted {} of {} leftover(s)",
        leftovers.len() - problems.len(),
        leftovers.len()
    );
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

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
    let key = r.key();
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
