//! `standin`: serves the stand-in on fixed loopback ports until stopped.

use super::Exit;
use crate::catalogue::{Breakage, Fault};

/// The stand-in's timeouts: the contract's (5 s auth, 30 s upstream) or shortened ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum StandInTiming {
    Contract,
    Fast,
}

/// Serves until SIGINT / SIGTERM; keys come from the roles' variables or are generated
/// (never shown).
pub async fn standin(
    ports: [u16; 4],
    faults: Vec<Fault>,
    mut breakages: Vec<Breakage>,
    profile: Option<String>,
    timing: StandInTiming,
    redis_url: String,
    print_keys: bool,
) -> Exit {
    use crate::standin::{StandIn, StandInOptions, Timing};
    let name = profile
        .or_else(|| std::env::var("HOKUSAI_PROFILE").ok())
        .unwrap_or_else(|| crate::config::DEFAULT_PROFILE.to_owned());
    let profile = match crate::config::Profile::load(&name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("--profile: {e}");
            return Exit::Config;
        }
    };
    // HOKUSAI_STANDIN_BREAKAGES adds to --breakage, as for `verify`.
    for id in std::env::var("HOKUSAI_STANDIN_BREAKAGES")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
    {
        match id.trim().parse::<Breakage>() {
            Ok(b) => breakages.push(b),
            Err(_) => {
                eprintln!(
                    "HOKUSAI_STANDIN_BREAKAGES: {} is not a breakage id (see `hokusai-verify faults --breakages`)",
                    crate::secret::shown(id.trim())
                );
                return Exit::Config;
            }
        }
    }
    let (chosen, bad) = crate::catalogue::keys_from_vars(|v| std::env::var(v).ok());
    if let Some((var, e)) = bad.first() {
        eprintln!("{var}: not a Hokusai API key: {e} (the value is not shown)");
        return Exit::Config;
    }
    let mut opts = StandInOptions::new(profile.clone())
        .redis_url(redis_url)
        .faults(faults);
    opts.ports = ports;
    opts.keys = chosen;
    opts.namespace = Some(String::new());
    opts.timing = match timing {
        StandInTiming::Contract => Timing::from_profile(&profile),
        StandInTiming::Fast => Timing::fast(&profile),
    };
    let standin = match StandIn::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Config;
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
    for b in &breakages {
        standin.set_breakage(*b, true);
    }
    if !breakages.is_empty() {
        println!(
            "  breakages {}",
            breakages
                .iter()
                .map(|b| b.id())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let faults = standin.faults();
    if !faults.is_empty() {
        println!(
            "  faults    {}",
            faults.iter().map(|f| f.id()).collect::<Vec<_>>().join(", ")
        );
    }
    if print_keys {
        for role in crate::catalogue::KeyRole::all() {
            let var = role.var();
            let source = if std::env::var(var).is_ok() {
                format!("from {var}")
            } else {
                format!("generated, not shown (set {var} to choose it)")
            };
            println!("  key {:<10} {source}", role.id());
        }
    }
    super::wait_for_signal().await;
    drop(standin);
    println!("stand-in stopped; its Redis entries were removed");
    Exit::Ok
}
