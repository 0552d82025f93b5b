//! `config`: the resolved configuration as a table: each variable, its value (secrets never
//! shown, URL passwords redacted) and where it came from (environment, `.env`, profile,
//! default).

use crate::catalogue::KeyRole;
use crate::config::{Config, Target};
use std::collections::BTreeMap;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Environment,
    DotEnv,
    Profile,
    Default,
    /// Not set, and nothing stands in for it.
    Unset,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Environment => "environment",
            Source::DotEnv => ".env",
            Source::Profile => "profile",
            Source::Default => "default",
            Source::Unset => "-",
        }
    }
}

/// The variables set in the process environment and in the `.env` file (names only; a
/// value set in both comes from the environment, as [`Config::from_env`] reads it).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    set: BTreeMap<String, Source>,
}

impl Sources {
    /// What this process sees.
    pub fn read() -> Self {
        let mut set = BTreeMap::new();
        let env_file = std::env::var("HOKUSAI_ENV_FILE").unwrap_or_else(|_| ".env".to_owned());
        if let Ok(iter) = dotenvy::from_path_iter(&env_file) {
            for (k, v) in iter.flatten() {
                if !v.trim().is_empty() {
                    set.insert(k, Source::DotEnv);
                }
            }
        }
        for (k, v) in std::env::vars() {
            if !v.trim().is_empty() {
                set.insert(k, Source::Environment);
            }
        }
        Self { set }
    }

    /// The first of `vars` that is set, with its source; else `fallback`.
    fn of(&self, vars: &[&'static str], fallback: Source) -> (&'static str, Source) {
        vars.iter()
            .find_map(|v| self.set.get(*v).map(|s| (*v, *s)))
            .unwrap_or((vars[0], fallback))
    }
}

/// The rows of the table: variable, value, source.
pub fn rows(c: &Config, src: &Sources) -> Vec<(&'static str, String, &'static str)> {
    let mut rows = Vec::new();
    let mut row = |vars: &[&'static str], value: String, fallback: Source| {
        let (var, source) = src.of(vars, fallback);
        rows.push((var, crate::secret::redact(&value), source.label()));
    };
    row(&["HOKUSAI_TARGET"], c.kind().to_string(), Source::Default);
    row(
        &["HOKUSAI_PROFILE"],
        c.profile.name.clone(),
        Source::Default,
    );
    match &c.target {
        Target::StandIn(s) => {
            row(
                &["HOKUSAI_REDIS_URL", "REDIS_URL", "REDIS_PORT"],
                crate::secret::display_url(&s.redis_url),
                Source::Default,
            );
            let faults: Vec<&str> = s.faults.iter().map(|f| f.id()).collect();
            row(
                &["HOKUSAI_STANDIN_FAULTS"],
                if faults.is_empty() {
                    "none".into()
                } else {
                    faults.join(",")
                },
                Source::Default,
            );
            let breakages: Vec<&str> = s.breakages.iter().map(|b| b.id()).collect();
            row(
                &["HOKUSAI_STANDIN_BREAKAGES"],
                if breakages.is_empty() {
                    "none".into()
                } else {
                    breakages.join(",")
                },
                Source::Default,
            );
            let timing = if s.fast { "fast" } else { "contract" };
            row(&["HOKUSAI_STANDIN_TIMING"], timing.into(), Source::Default);
            let dialect = format!("{:?}", s.dialect).to_lowercase();
            row(&["HOKUSAI_STANDIN_DIALECT"], dialect, Source::Default);
            let latency = if s.realistic { "realistic" } else { "none" };
            row(
                &["HOKUSAI_STANDIN_LATENCY"],
                latency.into(),
                Source::Default,
            );
        }
        Target::Live(l) => {
            row(
                &["HOKUSAI_REGISTRY_URL"],
                l.registry_url.to_string(),
                Source::Default,
            );
            row(
                &["HOKUSAI_AUTH_URL"],
                l.auth_url.to_string(),
                Source::Default,
            );
            for role in KeyRole::all() {
                let value = match l.keys.get(role) {
                    Some(_) => "set (never shown)".to_owned(),
                    None => "not set".to_owned(),
                };
                row(&[role.var()], value, Source::Unset);
            }
            row(
                &["HOKUSAI_REDIS_URL", "REDIS_URL"],
                l.redis_url
                    .as_deref()
                    .map_or_else(|| "not set".into(), crate::secret::display_url),
                Source::Unset,
            );
            row(
                &["HOKUSAI_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"],
                l.aws.region.clone().unwrap_or_else(|| "not set".into()),
                Source::Unset,
            );
            row(
                &["HOKUSAI_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"],
                l.aws
                    .endpoint_url
                    .as_ref()
                    .map_or("AWS default".into(), ToString::to_string),
                Source::Default,
            );
            row(
                &["HOKUSAI_ECS_CLUSTER"],
                l.aws
                    .cluster
                    .clone()
                    .unwrap_or_else(|| c.profile.ecs.cluster.clone()),
                Source::Profile,
            );
        }
    }
    let ms = |d: std::time::Duration| format!("{} ms", d.as_millis());
    row(
        &["HOKUSAI_TIMEOUT_MS"],
        ms(c.request_timeout),
        Source::Default,
    );
    row(
        &["HOKUSAI_CONNECT_TIMEOUT_MS"],
        ms(c.connect_timeout),
        Source::Default,
    );
    row(&["HOKUSAI_STRICT"], c.strict.to_string(), Source::Default);
    row(
        &["HOKUSAI_RUN_DIR"],
        c.run_dir.display().to_string(),
        Source::Default,
    );
    row(
        &["HOKUSAI_MLFLOW_INTERNAL_URL"],
        c.mlflow_url.as_ref().map_or_else(
            || "not set (no clean-up fallback past the proxy)".into(),
            |u| crate::secret::display_url(u.as_str()),
        ),
        Source::Unset,
    );
    row(
        &["HOKUSAI_LARGE_ARTIFACT_MAX_MB"],
        c.large_artifact_max_mb.map_or_else(
            || "not set (the contract's 50 and 200 MB)".into(),
            |m| format!("{m} MB"),
        ),
        Source::Unset,
    );
    row(
        &["HOKUSAI_RUN_BUDGET_S"],
        format!("{} s", c.run_budget.as_secs()),
        Source::Default,
    );
    row(
        &["HOKUSAI_CONCURRENCY"],
        c.concurrency.to_string(),
        Source::Default,
    );
    row(
        &["HOKUSAI_CONCURRENT_CLIENTS"],
        c.concurrent_clients.to_string(),
        Source::Default,
    );
    rows
}

/// The table, aligned.
pub fn table(c: &Config, src: &Sources) -> String {
    let rows = rows(c, src);
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(8).max(8);
    let w1 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut s = format!("{:w0$}  {:w1$}  source\n", "variable", "value");
    for (var, value, source) in rows {
        s.push_str(&format!("{var:w0$}  {value:w1$}  {source}\n"));
    }
    s
}
