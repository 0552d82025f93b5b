//! `config`: the resolved configuration as a table: each variable, its value (secrets never
//! shown, URL passwords redacted) and where it came from (environment, `.env`, profile,
//! default).

use crate::config::{Config, vars};
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

/// The rows of the table: variable, value, source; one per entry of the variables' table
/// ([`vars::VARS`]) that applies to the configured target. A secret shows only whether it
/// is set; every value is redacted once more on its way out.
pub fn rows(c: &Config, src: &Sources) -> Vec<(&'static str, String, &'static str)> {
    vars::VARS
        .iter()
        .filter(|v| vars::listed(v, c))
        .map(|v| {
            let fallback = if v.from_profile {
                Source::Profile
            } else if v.default.is_empty() {
                Source::Unset
            } else {
                Source::Default
            };
            let names: Vec<&'static str> = v.names().collect();
            let (name, source) = src.of(&names, fallback);
            let value = if v.secret {
                if source == Source::Unset {
                    "not set".to_owned()
                } else {
                    "set (never shown)".to_owned()
                }
            } else {
                (v.shown)(c)
            };
            (name, crate::secret::redact(&value), source.label())
        })
        .collect()
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
