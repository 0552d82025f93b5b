//! The command-line tool's commands, apart from its argument parsing (`src/main.rs`, clap
//! structs and dispatch only). Each takes typed arguments and returns a named [`Exit`].

pub mod config;
pub mod janitor;
pub mod load;
pub mod report;
pub mod serve;
pub mod standin;
pub mod verify;

use std::process::ExitCode;

/// The tool's exit codes, one meaning each (documented in `docs/ci.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every check passed (or skipped / not applicable); the command did what it was asked.
    Ok = 0,
    /// A check failed, the platform is not healthy, or the command could not finish its
    /// work (a report not written, a leftover not deleted).
    Failed = 1,
    /// The configuration or the arguments are unusable; nothing was sent.
    Config = 2,
    /// `load`: a threshold was breached or the baseline regressed.
    Breached = 3,
    /// `verify` was interrupted (SIGINT / SIGTERM); the report of what ran was written.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// The configuration from the environment, or its problems printed (exit [`Exit::Config`]).
pub(crate) fn config_or_exit() -> Result<crate::config::Config, Exit> {
    crate::config::Config::from_env().map_err(|e| {
        eprintln!("{e}");
        Exit::Config
    })
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM; says which.
pub(crate) async fn wait_for_signal() -> &'static str {
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
