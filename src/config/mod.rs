//! Configuration: which target to verify and how, read from the environment (and an
//! optional `.env` file) and checked completely **before any traffic**. Every variable is
//! documented in `docs/configuration.md`.

mod duration;
mod profile;
pub mod vars;

pub use duration::{parse_age, parse_duration_at_most, parse_load_duration};

pub use profile::{
    ApiHealthShape, DEFAULT_PROFILE, MlflowMajor, MlflowRelease, Profile, ProfileError,
    builtin_names as builtin_profile_names,
};

use crate::catalogue::KeyRole;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Default Redis for the stand-in's auth cache and rate-limit counters.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Where checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An in-process emulation of the platform (the default).
    Standin,
    /// A deployed platform, reached over the network.
    Live,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Standin => "standin",
            TargetKind::Live => "live",
        })
    }
}

/// What runs are verified against, with what that target needs.
#[derive(Debug, Clone)]
pub enum Target {
    /// The in-process emulation of the platform (the default).
    StandIn(StandInSettings),
    /// A deployed platform (boxed: it is much larger than the stand-in's settings).
    Live(Box<LiveTarget>),
}

impl Target {
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::StandIn(_) => TargetKind::Standin,
            Target::Live(_) => TargetKind::Live,
        }
    }
}

/// How the stand-in is started.
#[derive(Debug, Clone)]
pub struct StandInSettings {
    /// The Redis that holds its auth cache and counters.
    pub redis_url: String,
    /// Faults switched on (`HOKUSAI_STANDIN_FAULTS=mlflow-down,auth-down`).
    pub faults: crate::catalogue::FaultSet,
    /// Contract-line breakages switched on (`HOKUSAI_STANDIN_BREAKAGES=proxy-drops-delete-body,…`):
    /// what the report says about a platform that breaks those lines.
    pub breakages: std::collections::BTreeSet<crate::catalogue::Breakage>,
    /// Shortened timeouts (default) or the contract's (`HOKUSAI_STANDIN_TIMING=contract`).
    pub fast: bool,
    /// How it words what the contract leaves open (`HOKUSAI_STANDIN_DIALECT`).
    pub dialect: crate::catalogue::Dialect,
    /// A real deployment's latencies (`HOKUSAI_STANDIN_LATENCY=realistic`).
    pub realistic: bool,
}

/// Everything a live run needs to find the platform.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    pub registry_url: Url,
    pub auth_url: Url,
    /// The run's keys by role; the `valid` one (`HOKUSAI_API_KEY`) is always there.
    pub keys: crate::catalogue::Keys,
    /// Redis of the API service, when reachable from here (it usually is not: VPC).
    pub redis_url: Option<String>,
    pub aws: AwsSettings,
}

/// Where and how to reach the ECS API.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub endpoint_url: Option<Url>,
    pub cluster: Option<String>,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    pub profile: Profile,
    /// Upper bound for one HTTP request of the suite.
    pub request_timeout: Duration,
    /// Upper bound for establishing a connection.
    pub connect_timeout: Duration,
    /// Treat skipped checks as failures (what a deploy gate wants).
    pub strict: bool,
    /// Where check results of this run are written.
    pub run_dir: PathBuf,
    /// Concurrent clients of the concurrency scenarios (`HOKUSAI_CONCURRENT_CLIENTS`, 32).
    pub concurrent_clients: usize,
    /// Wall-clock budget of one `verify` run (`HOKUSAI_RUN_BUDGET_S`, 120 s): whatever the
    /// target does, the run ends by then with a result for every check.
    pub run_budget: Duration,
    /// Checks `verify` runs at once (`HOKUSAI_CONCURRENCY`; 16 on the stand-in, 4 live);
    /// checks that share state on a live target (the authentication area, heavy transfers)
    /// still run one at a time.
    pub concurrency: usize,
    /// MLflow's own address, reachable only from inside the platform's network
    /// (`HOKUSAI_MLFLOW_INTERNAL_URL`, optional): clean-up's fallback when the proxy refuses a delete.
    pub mlflow_url: Option<Url>,
    /// The largest artifact transfer the run may make (`HOKUSAI_LARGE_ARTIFACT_MAX_MB`;
    /// unset: the contract's sizes, 50 and 200 MB); larger cases are skipped, naming it.
    pub large_artifact_max_mb: Option<u64>,
}

/// One thing wrong with the configuration, naming the variable. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub variable: &'static str,
    pub problem: String,
}

/// The configuration is unusable; lists every problem, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid hokusai-verify configuration (nothing was sent):"
        )?;
        for p in &self.0 {
            writeln!(f, "  - {}: {}", p.variable, p.problem)?;
        }
        write!(f, "See docs/configuration.md for every variable.")
    }
}

/// Reads variables from a map first (tests), then the process environment, then `.env`.
struct Vars {
    map: HashMap<String, String>,
}

impl Vars {
    /// The variable's value (its name, else its aliases in order), trimmed; empty is unset.
    /// Every read goes through an entry of the table ([`vars::VARS`]).
    fn get(&self, var: &vars::Var) -> Option<String> {
        var.names().find_map(|name| {
            self.map
                .get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        })
    }
}

impl Config {
    /// What is allowed but unwise: a live URL in plain `http://` to a host that is not
    /// loopback carries the API key in clear text.
    pub fn warnings(&self) -> Vec<String> {
        let Target::Live(live) = &self.target else {
            return Vec::new();
        };
        [
            ("HOKUSAI_REGISTRY_URL", &live.registry_url),
            ("HOKUSAI_AUTH_URL", &live.auth_url),
        ]
        .into_iter()
        .filter(|(_, u)| u.scheme() == "http" && !is_loopback(u))
        .map(|(var, u)| {
            format!(
                "warning: {var} is plain http:// to {}: the API key travels in clear text; use https://",
                u.host_str().unwrap_or("?")
            )
        })
        .collect()
    }

    /// Reads the process environment, with `.env` in the working directory (if present)
    /// filling in what the environment lacks.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut map: HashMap<String, String> = HashMap::new();
        let env_file = std::env::var("HOKUSAI_ENV_FILE").unwrap_or_else(|_| ".env".to_owned());
        if let Ok(iter) = dotenvy::from_path_iter(&env_file) {
            for (k, v) in iter.flatten() {
                map.insert(k, v);
            }
        }
        map.extend(std::env::vars());
        Self::from_vars(map)
    }

    /// Builds a configuration from explicit variables (no process environment).
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = Vars {
            map: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        };
        let mut problems = Vec::new();
        let mut problem = |variable: &'static str, problem: String| {
            problems.push(ConfigProblem { variable, problem })
        };

        let target = match vars.get(&vars::TARGET).as_deref() {
            None | Some("standin") => Some(TargetKind::Standin),
            Some("live") => Some(TargetKind::Live),
            Some(other) => {
                problem(
                    vars::TARGET.name,
                    format!(
                        "unknown target {}; use `standin` (default) or `live`",
                        crate::secret::shown(other)
                    ),
                );
                None
            }
        };

        let profile_name = vars
            .get(&vars::PROFILE)
            .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
        let profile = match Profile::load(&profile_name) {
            Ok(p) => Some(p),
            Err(e) => {
                // The error quotes the name; a secret put here by mistake is not echoed.
                let msg = if crate::secret::shown(&profile_name).starts_with('`') {
                    e.to_string()
                } else {
                    "not a known profile name or a readable profile file: the value (not shown: it may be a secret)".to_owned()
                };
                problem(vars::PROFILE.name, msg);
                None
            }
        };

        let mut millis = |var: &vars::Var| -> Duration {
            let default = var.default_number();
            match vars.get(var) {
                None => Duration::from_millis(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => Duration::from_millis(n),
                    _ => {
                        problem(
                            var.name,
                            format!(
                                "{} is not a positive number of milliseconds",
                                crate::secret::shown(&v)
                            ),
                        );
                        Duration::from_millis(default)
                    }
                },
            }
        };
        let request_timeout = millis(&vars::TIMEOUT_MS);
        let connect_timeout = millis(&vars::CONNECT_TIMEOUT_MS);
        let mut count = |var: &vars::Var, default: u64| -> u64 {
            let vars::Kind::Count { max, unit } = var.kind else {
                unreachable!("{} is a count", var.name)
            };
            match vars.get(var) {
                None => default,
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if (1..=max).contains(&n) => n,
                    _ => {
                        problem(
                            var.name,
                            format!(
                                "{} is not a number of {unit} from 1 to {max}",
                                crate::secret::shown(&v)
                            ),
                        );
                        default
                    }
                },
            }
        };
        let run_budget = Duration::from_secs(count(
            &vars::RUN_BUDGET_S,
            vars::RUN_BUDGET_S.default_number(),
        ));
        // The stand-in shares nothing between checks; a live platform is shared with its
        // users, so it gets fewer at once by default (the table's default says both).
        let default_concurrency = if target == Some(TargetKind::Live) {
            4
        } else {
            16
        };
        let concurrency = count(&vars::CONCURRENCY, default_concurrency) as usize;
        let concurrent_clients = count(
            &vars::CONCURRENT_CLIENTS,
            vars::CONCURRENT_CLIENTS.default_number(),
        ) as usize;

        let strict = match vars.get(&vars::STRICT).as_deref() {
            None | Some("0") | Some("false") => false,
            Some("1") | Some("true") => true,
            Some(other) => {
                problem(
                    vars::STRICT.name,
                    format!("{} is not 0/1/true/false", crate::secret::shown(other)),
                );
                false
            }
        };

        let redis_from_env = vars.get(&vars::REDIS_URL);
        if let Some(r) = &redis_from_env
            && let Err(e) = check_redis_url(r)
        {
            problem(vars::REDIS_URL.name, e);
        }

        // The stand-in's Redis when no URL is given: 127.0.0.1 on `REDIS_PORT`, the port
        // `scripts/with-redis` checks and starts Redis on (default 6379).
        let default_redis = match vars.get(&vars::REDIS_PORT) {
            None => DEFAULT_REDIS_URL.to_owned(),
            Some(p) => match p.parse::<u16>() {
                Ok(port) if port > 0 => format!("redis://127.0.0.1:{port}"),
                _ => {
                    problem(
                        vars::REDIS_PORT.name,
                        format!("{} is not a port number", crate::secret::shown(&p)),
                    );
                    DEFAULT_REDIS_URL.to_owned()
                }
            },
        };

        let mlflow_url =
            vars.get(&vars::MLFLOW_INTERNAL_URL)
                .and_then(|u| match parse_http_url(&u) {
                    Ok(u) => Some(u),
                    Err(e) => {
                        problem(vars::MLFLOW_INTERNAL_URL.name, e);
                        None
                    }
                });

        let mut live = None;
        if target == Some(TargetKind::Live) {
            let registry_url = required_url(&vars, &vars::REGISTRY_URL, &mut problems);
            let auth_url = required_url(&vars, &vars::AUTH_URL, &mut problems);
            // Every role's key from its variable (each an entry of the table); the valid one
            // is required.
            let (mut by_role, bad) =
                crate::catalogue::keys_from_vars(|name| vars::find(name).and_then(|v| vars.get(v)));
            for (variable, e) in bad {
                problems.push(ConfigProblem {
                    variable,
                    problem: format!("not a Hokusai API key: {e} (the value is not shown)"),
                });
            }
            let valid_var = KeyRole::Valid.var();
            if vars.get(&vars::API_KEY).is_none() {
                problems.push(ConfigProblem {
                    variable: valid_var,
                    problem: "not set; live runs need an API key (hk_live_…) valid for the \
                              platform service"
                        .into(),
                });
            }
            let keys = by_role.remove(&KeyRole::Valid).map(|primary| {
                by_role
                    .into_iter()
                    .fold(crate::catalogue::Keys::new(primary), |k, (role, key)| {
                        k.with(role, key)
                    })
            });
            let endpoint_url =
                vars.get(&vars::AWS_ENDPOINT_URL)
                    .and_then(|u| match parse_http_url(&u) {
                        Ok(u) => Some(u),
                        Err(e) => {
                            problems.push(ConfigProblem {
                                variable: vars::AWS_ENDPOINT_URL.name,
                                problem: e,
                            });
                            None
                        }
                    });
            let aws = AwsSettings {
                region: vars.get(&vars::AWS_REGION),
                endpoint_url,
                cluster: vars.get(&vars::ECS_CLUSTER),
            };
            if let (Some(registry_url), Some(auth_url), Some(keys)) = (registry_url, auth_url, keys)
            {
                live = Some(LiveTarget {
                    registry_url,
                    auth_url,
                    keys,
                    redis_url: redis_from_env.clone(),
                    aws,
                });
            }
        }

        let mut standin_faults = crate::catalogue::FaultSet::new();
        for id in vars
            .get(&vars::STANDIN_FAULTS)
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.trim().is_empty())
        {
            match id.parse::<crate::catalogue::Fault>() {
                Ok(f) => {
                    standin_faults.insert(f);
                }
                Err(_) => problem_list(
                    &mut problems,
                    vars::STANDIN_FAULTS.name,
                    format!(
                        "{} is not a fault id (see `hokusai-verify faults`)",
                        crate::secret::shown(id.trim())
                    ),
                ),
            }
        }
        let mut standin_breakages = std::collections::BTreeSet::new();
        for id in vars
            .get(&vars::STANDIN_BREAKAGES)
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.trim().is_empty())
        {
            match id.trim().parse::<crate::catalogue::Breakage>() {
                Ok(b) => {
                    standin_breakages.insert(b);
                }
                Err(_) => problem_list(
                    &mut problems,
                    vars::STANDIN_BREAKAGES.name,
                    format!(
                        "{} is not a breakage id (see `hokusai-verify faults --breakages`)",
                        crate::secret::shown(id.trim())
                    ),
                ),
            }
        }
        let standin_fast = match vars.get(&vars::STANDIN_TIMING).as_deref() {
            None | Some("fast") => true,
            Some("contract") => false,
            Some(other) => {
                problem_list(
                    &mut problems,
                    vars::STANDIN_TIMING.name,
                    format!(
                        "{} is not `fast` or `contract`",
                        crate::secret::shown(other)
                    ),
                );
                true
            }
        };

        let standin_dialect = match vars.get(&vars::STANDIN_DIALECT) {
            None => crate::catalogue::Dialect::Contract,
            Some(v) => v.parse().unwrap_or_else(|e: String| {
                problem_list(&mut problems, vars::STANDIN_DIALECT.name, e);
                crate::catalogue::Dialect::Contract
            }),
        };

        let standin_realistic = match vars.get(&vars::STANDIN_LATENCY).as_deref() {
            None | Some("none") => false,
            Some("realistic") => true,
            Some(other) => {
                problem_list(
                    &mut problems,
                    vars::STANDIN_LATENCY.name,
                    format!(
                        "{} is not `none` or `realistic`",
                        crate::secret::shown(other)
                    ),
                );
                false
            }
        };
        // A cap on the large-artifact transfers (a live platform's storage, a slow link).
        let large_artifact_max_mb = vars.get(&vars::LARGE_ARTIFACT_MAX_MB).and_then(|v| match v
            .parse::<u64>()
        {
            Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
            _ => {
                problem_list(
                    &mut problems,
                    vars::LARGE_ARTIFACT_MAX_MB.name,
                    format!(
                        "{} is not a number of MB from 1 to 1000000",
                        crate::secret::shown(&v)
                    ),
                );
                None
            }
        });
        let run_dir = vars
            .get(&vars::RUN_DIR)
            .map(PathBuf::from)
            .unwrap_or_else(default_run_dir);

        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
        let target = match live {
            Some(live) => Target::Live(Box::new(live)),
            None => Target::StandIn(StandInSettings {
                redis_url: redis_from_env.unwrap_or(default_redis),
                faults: standin_faults,
                breakages: standin_breakages,
                fast: standin_fast,
                dialect: standin_dialect,
                realistic: standin_realistic,
            }),
        };
        Ok(Config {
            target,
            profile: profile.expect("no problems means a profile"),
            request_timeout,
            connect_timeout,
            strict,
            run_dir,
            concurrent_clients,
            run_budget,
            concurrency,
            mlflow_url,
            large_artifact_max_mb,
        })
    }

    /// `standin` or `live`.
    pub fn kind(&self) -> TargetKind {
        self.target.kind()
    }

    /// The live target's settings, on a live run.
    pub fn live(&self) -> Option<&LiveTarget> {
        match &self.target {
            Target::Live(l) => Some(l),
            Target::StandIn(_) => None,
        }
    }

    /// The stand-in's settings, on a stand-in run.
    pub fn standin_settings(&self) -> Option<&StandInSettings> {
        match &self.target {
            Target::StandIn(s) => Some(s),
            Target::Live(_) => None,
        }
    }

    /// The stand-in's settings to change (faults, breakages, dialect), on a stand-in run.
    pub fn standin_settings_mut(&mut self) -> Option<&mut StandInSettings> {
        match &mut self.target {
            Target::StandIn(s) => Some(s),
            Target::Live(_) => None,
        }
    }

    /// A stand-in configuration with the given profile and defaults everywhere else.
    pub fn standin(profile: Profile) -> Self {
        let mut c = Self::from_vars([("HOKUSAI_TARGET", "standin")])
            .expect("the default stand-in configuration is valid");
        c.profile = profile;
        c
    }
}

/// Is the URL's host this machine (127.0.0.0/8, ::1, `localhost`)?
pub fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// `<target dir>/hokusai-verify/run`: `$CARGO_TARGET_DIR`, else `./target` of the working
/// directory (cargo runs tests from the package root; an archived test binary run
/// elsewhere writes beside where it runs, not into a path of the build machine).
fn default_run_dir() -> PathBuf {
    let base = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target"));
    base.join("hokusai-verify").join("run")
}

fn problem_list(problems: &mut Vec<ConfigProblem>, variable: &'static str, problem: String) {
    problems.push(ConfigProblem { variable, problem });
}

fn parse_http_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw)
        .map_err(|e| format!("`{}` is not a URL ({e})", crate::secret::redact(raw)))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("scheme `{}` is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries credentials; pass keys in HOKUSAI_API_KEY instead".into());
    }
    Ok(url)
}

fn required_url(vars: &Vars, var: &vars::Var, problems: &mut Vec<ConfigProblem>) -> Option<Url> {
    let name = var.name;
    match vars.get(var) {
        None => {
            problems.push(ConfigProblem {
                variable: name,
                problem: format!(
                    "not set; live runs need it (e.g. {})",
                    if name == vars::AUTH_URL.name {
                        "https://auth.hokus.ai"
                    } else {
                        "https://registry.hokus.ai"
                    }
                ),
            });
            None
        }
        Some(raw) => match parse_http_url(&raw) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(ConfigProblem {
                    variable: name,
                    problem: e,
                });
                None
            }
        },
    }
}

fn check_redis_url(raw: &str) -> Result<(), String> {
    let url = Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "redis" | "rediss" => Ok(()),
        other => Err(format!("scheme `{other}` is not redis:// or rediss://")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `REDIS_PORT` means the same to the binary as to `scripts/with-redis`.
    #[test]
    fn redis_port_sets_the_standins_redis() {
        let c = Config::from_vars([("REDIS_PORT", "6390")]).unwrap();
        assert_eq!(
            c.standin_settings().map(|s| s.redis_url.as_str()),
            Some("redis://127.0.0.1:6390")
        );
        let c = Config::from_vars([("REDIS_PORT", "6390"), ("HOKUSAI_REDIS_URL", "redis://h:1")])
            .unwrap();
        assert_eq!(
            c.standin_settings().map(|s| s.redis_url.as_str()),
            Some("redis://h:1")
        );
        let e = Config::from_vars([("REDIS_PORT", "nope")]).unwrap_err();
        assert!(e.0.iter().any(|p| p.variable == "REDIS_PORT"), "{e}");
    }

    #[test]
    fn standin_is_the_default() {
        let c = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(c.kind(), TargetKind::Standin);
        assert_eq!(c.profile.name, DEFAULT_PROFILE);
        assert_eq!(
            c.standin_settings().map(|s| s.redis_url.as_str()),
            Some(DEFAULT_REDIS_URL)
        );
    }

    #[test]
    fn live_without_anything_names_every_missing_variable() {
        let err = Config::from_vars([("HOKUSAI_TARGET", "live")]).unwrap_err();
        let vars: Vec<_> = err.0.iter().map(|p| p.variable).collect();
        assert_eq!(
            vars,
            [
                vars::REGISTRY_URL.name,
                vars::AUTH_URL.name,
                "HOKUSAI_API_KEY"
            ]
        );
    }
}
