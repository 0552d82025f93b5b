//! `hokusai-verify`: run the checks against the stand-in or a live platform.
//!
//! Argument parsing and dispatch only; the commands live in `hokusai_verify::commands`.
//! Exit codes are named there ([`Exit`]): 0 healthy, 1 a check failed, 2 configuration
//! error, 3 a load threshold breached, 130 interrupted.

use clap::{Parser, Subcommand};
use hokusai_verify::catalogue::{Area, Fault};
use hokusai_verify::commands::{self, Exit, standin::StandInTiming};
use hokusai_verify::config::Config;
use std::process::ExitCode;

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
    #[command(after_help = commands::verify::HELP)]
    Verify {
        /// Only these areas (default: all).
        #[arg(long = "area", value_parser = Area::parse)]
        areas: Vec<Area>,
        /// Switch a stand-in fault on (repeatable); same as HOKUSAI_STANDIN_FAULTS.
        #[arg(long = "fault")]
        faults: Vec<Fault>,
        /// Keep earlier results in the run folder instead of starting afresh.
        #[arg(long)]
        keep: bool,
    },
    /// List (and with --yes remove) registry leftovers of earlier runs older than
    /// --older-than: models and experiments whose names carry the suite's
    /// `hv-<run start>-` token (`hokusai-hv-…`, `hv-…-exp`, and earlier versions' names).
    Janitor {
        /// Minimum age, e.g. 30m, 2h, 1d (at most 10 years).
        #[arg(long, default_value = "1h", value_parser = hokusai_verify::config::parse_age)]
        older_than: std::time::Duration,
        /// Remove what is listed (default: a dry run that only lists). A model the proxy
        /// refuses to delete is deleted through HOKUSAI_MLFLOW_INTERNAL_URL when set.
        #[arg(long, visible_alias = "delete")]
        yes: bool,
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
        /// Switch a contract-line breakage on (repeatable; `faults --breakages` lists them);
        /// HOKUSAI_STANDIN_BREAKAGES adds more.
        #[arg(long = "breakage")]
        breakages: Vec<hokusai_verify::catalogue::Breakage>,
        /// Profile name or .toml path (default: HOKUSAI_PROFILE or hokusai-2025-08).
        #[arg(long)]
        profile: Option<String>,
        /// `contract` (5 s auth timeout, 30 s upstream timeout) or `fast`.
        #[arg(long, value_enum, default_value_t = StandInTiming::Contract)]
        timing: StandInTiming,
        /// The Redis for the auth cache and counters; a dedicated database is best, since
        /// the server uses the contract's key names without a prefix.
        #[arg(long, default_value = "redis://127.0.0.1:6379/15")]
        redis_url: String,
        /// Print which role takes its key from which variable (never a key).
        #[arg(long)]
        print_keys: bool,
    },
    /// Run the checks on a schedule against the configured target and serve the outcome:
    /// `/metrics` (OpenMetrics: each check's outcome, each root cause named or not, run
    /// verdicts, latency per endpoint family), `/` (the last report), `/report.json`,
    /// `/healthz`. Only checks that create nothing and send no load, unless --with-writes.
    /// SIGTERM ends it after the running checks finish. `docs/monitoring.md` has the scrape
    /// configuration and the alert rules.
    Serve {
        /// Where to serve the metrics and the report.
        #[arg(long, default_value = "127.0.0.1:9464")]
        listen: std::net::SocketAddr,
        /// From one run's start to the next (humantime: 30s, 5m, 1h); at least 1s.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        interval: std::time::Duration,
        /// Also run the checks that create objects (the registration flow), with their
        /// clean-up. Load and large transfers never run in serve.
        #[arg(long)]
        with_writes: bool,
        /// Stop after this many runs (default: until SIGTERM / SIGINT), exiting 0 when the
        /// last one was healthy and 1 otherwise.
        #[arg(long)]
        runs: Option<u64>,
        /// How many run folders stay under the run folder's `serve/`.
        #[arg(long, default_value_t = 10)]
        keep_runs: usize,
    },
    /// Load: latency percentiles, throughput, errors by class, against the configured target
    /// (stand-in by default) or a raw URL. Always bounded; a live target needs --allow-live.
    /// Exit 3 when a threshold is breached or the baseline regressed.
    Load(commands::load::LoadArgs),
    /// Print the resolved configuration as a table: each variable, its value (keys never
    /// shown) and where it came from (environment, .env, profile, default); sends nothing.
    Config,
    /// List the stand-in's fault switches (with --breakages: its contract-line breakages,
    /// each with the line it breaks and the profiles whose contract it breaks).
    Faults {
        #[arg(long)]
        breakages: bool,
    },
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
    let exit = runtime.block_on(async move {
        match cli.command {
            Command::Faults { breakages: false } => faults(),
            Command::Faults { breakages: true } => breakages(),
            Command::Config => config(),
            Command::Verify {
                areas,
                faults,
                keep,
            } => commands::verify::verify(areas, faults, keep).await,
            Command::Janitor { older_than, yes } => {
                commands::janitor::janitor(older_than, yes).await
            }
            Command::Load(args) => commands::load::load(args).await,
            Command::Serve {
                listen,
                interval,
                with_writes,
                runs,
                keep_runs,
            } => {
                commands::serve::serve(hokusai_verify::serve::ServeOptions {
                    listen,
                    interval,
                    with_writes,
                    runs,
                    keep_runs,
                })
                .await
            }
            Command::Standin {
                registry_port,
                auth_port,
                mlflow_port,
                ecs_port,
                faults,
                breakages,
                profile,
                timing,
                redis_url,
                print_keys,
            } => {
                commands::standin::standin(
                    [registry_port, auth_port, mlflow_port, ecs_port],
                    faults,
                    breakages,
                    profile,
                    timing,
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
                let run_dir = run_dir.unwrap_or_else(commands::report::default_run_dir);
                commands::report::report(
                    &run_dir,
                    out.as_deref(),
                    junit.as_deref(),
                    update_status.as_deref(),
                    package,
                )
            }
        }
    });
    exit.into()
}

/// One line per fault: its id, and what the report calls it.
fn faults() -> Exit {
    let all = Fault::all();
    let width = all.iter().map(|f| f.id().len()).max().unwrap_or(0);
    for f in all {
        let title = hokusai_verify::report::rca::cause(f.id()).map_or("", |c| c.title);
        println!("{:width$}  {title}", f.id());
    }
    Exit::Ok
}

/// One line per breakage: its id, the causes the report names for it, where it applies.
fn breakages() -> Exit {
    use hokusai_verify::catalogue::Breakage;
    use hokusai_verify::config::{Profile, builtin_profile_names};
    let all = Breakage::all();
    let width = all.iter().map(|b| b.id().len()).max().unwrap_or(0);
    for b in all {
        let causes: Vec<String> = b.causes().iter().map(|c| c.id()).collect();
        let profiles: Vec<&str> = builtin_profile_names()
            .filter(|p| Profile::load(p).is_ok_and(|p| p.applies(b.applies())))
            .collect();
        let where_ = if profiles.is_empty() {
            "allowed by every profile".to_owned()
        } else {
            profiles.join(", ")
        };
        println!("{:width$}  {}  [{where_}]", b.id(), causes.join(", "));
    }
    Exit::Ok
}

/// The resolved configuration, keys redacted (URL passwords too).
fn config() -> Exit {
    match Config::from_env() {
        Ok(c) => {
            for w in c.warnings() {
                eprintln!("{w}");
            }
            let sources = commands::config::Sources::read();
            print!("{}", commands::config::table(&c, &sources));
            Exit::Ok
        }
        Err(e) => {
            eprintln!("{e}");
            Exit::Config
        }
    }
}
