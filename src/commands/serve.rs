//! `serve`: the checks on a schedule against the configured target, exported for
//! Prometheus (`crate::serve`). Ends cleanly (exit 0) on SIGTERM / SIGINT after the running
//! checks finish; with `--runs`, once they are done, with the last run's exit code (0
//! healthy, 1 otherwise, as `verify`).

use super::Exit;
use crate::fixtures::Env;
use crate::serve::{ServeOptions, State};
use std::sync::Arc;
use std::time::Duration;

/// How long checks still running after SIGTERM may take to finish.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub async fn serve(opts: ServeOptions) -> Exit {
    let config = match super::config_or_exit() {
        Ok(c) => c,
        Err(e) => return e,
    };
    if opts.interval < crate::serve::MIN_INTERVAL {
        eprintln!(
            "--interval must be at least {} s",
            crate::serve::MIN_INTERVAL.as_secs()
        );
        return Exit::Config;
    }
    for w in config.warnings() {
        eprintln!("{w}");
    }
    // Preflight: the configuration must give an environment (a stand-in's Redis must
    // answer) before the exporter listens. Each run then builds its own.
    if let Err(e) = Env::build(config.clone()).await {
        eprintln!("{e}");
        return Exit::Config;
    }
    let specs = crate::serve::plan(&config, opts.with_writes);
    let listener = match tokio::net::TcpListener::bind(opts.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("serve: cannot listen on {}: {e}", opts.listen);
            return Exit::Config;
        }
    };
    let listening = listener.local_addr().unwrap_or(opts.listen);
    println!(
        "hokusai-verify serve: {} checks on {} (profile {}) every {}{}; http://{listening}/metrics",
        specs.len(),
        config.kind(),
        config.profile.name,
        humantime::format_duration(opts.interval),
        if opts.with_writes {
            ", with writes"
        } else {
            ", reads only"
        },
    );
    let state = Arc::new(State::new(&specs, opts.interval));
    let server = tokio::spawn(crate::serve::http::serve(listener, state.clone()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signals = tokio::spawn(async move {
        let how = super::wait_for_signal().await;
        eprintln!(
            "\n{how}: no new run; letting running checks finish (at most {} s)",
            STOP_GRACE.as_secs()
        );
        let _ = stop_tx.send(true);
    });
    let signalled = stop_rx.clone();
    crate::serve::schedule(&config, &specs, &opts, &state, stop_rx, STOP_GRACE).await;
    signals.abort();
    server.abort();
    println!(
        "serve: stopped after {} completed run(s)",
        state.completed()
    );
    if *signalled.borrow() {
        return Exit::Ok;
    }
    // `--runs` reached: the exit code is the last run's, as `verify`'s would be.
    match state.last().map(|l| l.verdict) {
        Some(crate::report::Verdict::Healthy) => Exit::Ok,
        _ => Exit::Failed,
    }
}
