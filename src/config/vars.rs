//! Every variable the tool reads, declared once: its name (and older names it still
//! accepts), its default, what its value must be, whether it is a secret, which target it
//! applies to, one line of documentation, and what `config` shows for it. The table drives
//! [`super::Config::from_vars`] (which reads variables only through these entries), the
//! `config` command's table (`crate::commands::config`) and the generated table of
//! `docs/configuration.md` ([`markdown`], compared by `tests/docs.rs`).

use super::{Config, Target};

/// Which runs read a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Any,
    Live,
    StandIn,
}

impl Scope {
    fn label(self) -> &'static str {
        match self {
            Scope::Any => "any",
            Scope::Live => "live",
            Scope::StandIn => "stand-in",
        }
    }

    fn applies(self, c: &Config) -> bool {
        matches!(
            (self, &c.target),
            (Scope::Any, _) | (Scope::Live, Target::Live(_)) | (Scope::StandIn, Target::StandIn(_))
        )
    }
}

/// What a value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A positive number of milliseconds.
    Millis,
    /// A whole number from 1 to `max`.
    Count { max: u64, unit: &'static str },
    /// An `http://` or `https://` URL without credentials.
    HttpUrl,
    /// A `redis://` or `rediss://` URL.
    RedisUrl,
    /// A port number.
    Port,
    /// A Hokusai API key (`hk_live_` + 32 letters or digits).
    Key,
    /// Comma-separated fault ids.
    Faults,
    /// Comma-separated breakage ids.
    Breakages,
    /// A profile name or a `.toml` path.
    Profile,
    /// A folder or file.
    Path,
    /// Free text (a region, a cluster name).
    Text,
}

impl Kind {
    /// The value's shape as the documentation states it.
    pub fn describe(self) -> String {
        match self {
            Kind::OneOf(words) => words
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", "),
            Kind::Millis => "milliseconds".into(),
            Kind::Count { max, unit } => format!("1 to {max} {unit}"),
            Kind::HttpUrl => "http(s) URL".into(),
            Kind::RedisUrl => "redis URL".into(),
            Kind::Port => "port".into(),
            Kind::Key => "API key (secret)".into(),
            Kind::Faults => "fault ids".into(),
            Kind::Breakages => "breakage ids".into(),
            Kind::Profile => "name or .toml path".into(),
            Kind::Path => "path".into(),
            Kind::Text => "text".into(),
        }
    }
}

/// One variable.
#[derive(Debug, Clone, Copy)]
pub struct Var {
    pub name: &'static str,
    /// Other names read when `name` is not set, in order.
    pub aliases: &'static [&'static str],
    /// The default as a person reads it (empty: none).
    pub default: &'static str,
    pub kind: Kind,
    /// Its value is never shown (keys).
    pub secret: bool,
    pub scope: Scope,
    /// Unset, the profile supplies it (the `config` table's source column says so).
    pub from_profile: bool,
    pub doc: &'static str,
    /// What `config` shows as its value (secrets: only whether it is set).
    pub shown: fn(&Config) -> String,
}

impl Var {
    /// Its name and aliases, in the order they are read.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// The default as a number (numeric kinds).
    pub fn default_number(&self) -> u64 {
        self.default
            .split_whitespace()
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("{} has a numeric default", self.name))
    }
}

const fn var(
    name: &'static str,
    default: &'static str,
    kind: Kind,
    scope: Scope,
    doc: &'static str,
    shown: fn(&Config) -> String,
) -> Var {
    Var {
        name,
        aliases: &[],
        default,
        kind,
        secret: false,
        scope,
        from_profile: false,
        doc,
        shown,
    }
}

const fn also(mut v: Var, aliases: &'static [&'static str]) -> Var {
    v.aliases = aliases;
    v
}

const fn key(name: &'static str, doc: &'static str) -> Var {
    Var {
        name,
        aliases: &[],
        default: "",
        kind: Kind::Key,
        secret: true,
        scope: Scope::Live,
        from_profile: false,
        doc,
        // Secrets show only whether they are set (`commands::config`).
        shown: |_| String::new(),
    }
}

fn ms(d: std::time::Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn live<T>(c: &Config, f: impl Fn(&super::LiveTarget) -> T) -> Option<T> {
    c.live().map(f)
}

fn standin<T>(c: &Config, f: impl Fn(&super::StandInSettings) -> T) -> Option<T> {
    c.standin_settings().map(f)
}

fn or_unset(v: Option<String>) -> String {
    v.unwrap_or_else(|| "not set".into())
}

pub const TARGET: Var = var(
    "HOKUSAI_TARGET",
    "standin",
    Kind::OneOf(&["standin", "live"]),
    Scope::Any,
    "`standin`: an in-process emulation of the platform (needs a local Redis). `live`: a deployed platform.",
    |c| c.kind().to_string(),
);
pub const PROFILE: Var = var(
    "HOKUSAI_PROFILE",
    "hokusai-2025-08",
    Kind::Profile,
    Scope::Any,
    "expectations that changed over time: `hokusai-2025-08`, `hokusai-2026`, or a path to a `.toml` file shaped like `profiles/*.toml`.",
    |c| c.profile.name.clone(),
);
pub const STRICT: Var = var(
    "HOKUSAI_STRICT",
    "0",
    Kind::OneOf(&["0", "1", "true", "false"]),
    Scope::Any,
    "`1`: a skipped check counts as failed (for deploy gates).",
    |c| c.strict.to_string(),
);
pub const TIMEOUT_MS: Var = var(
    "HOKUSAI_TIMEOUT_MS",
    "10000",
    Kind::Millis,
    Scope::Any,
    "upper bound of one request of the suite.",
    |c| ms(c.request_timeout),
);
pub const CONNECT_TIMEOUT_MS: Var = var(
    "HOKUSAI_CONNECT_TIMEOUT_MS",
    "3000",
    Kind::Millis,
    Scope::Any,
    "upper bound for opening a connection.",
    |c| ms(c.connect_timeout),
);
pub const MLFLOW_INTERNAL_URL: Var = var(
    "HOKUSAI_MLFLOW_INTERNAL_URL",
    "",
    Kind::HttpUrl,
    Scope::Any,
    "MLflow's own address (inside the platform's network, no key). Clean-up and `janitor --yes` delete through it what the proxy refuses to delete (a proxy that drops DELETE bodies refuses every `registered-models/delete`); without it, what stays is tagged `hokusai_verify.leftover=true` and listed in the report with its removal command.",
    |c| {
        c.mlflow_url.as_ref().map_or_else(
            || "not set (no clean-up fallback past the proxy)".into(),
            |u| crate::secret::display_url(u.as_str()),
        )
    },
);
pub const LARGE_ARTIFACT_MAX_MB: Var = var(
    "HOKUSAI_LARGE_ARTIFACT_MAX_MB",
    "",
    Kind::Count {
        max: 1_000_000,
        unit: "MB",
    },
    Scope::Any,
    "the largest artifact transfer a run may make; `large_artifact` cases above it are skipped, naming the variable (unset: the contract's 50 and 200 MB, deleted after their check).",
    |c| {
        c.large_artifact_max_mb.map_or_else(
            || "not set (the contract's 50 and 200 MB)".into(),
            |m| format!("{m} MB"),
        )
    },
);
pub const RUN_BUDGET_S: Var = var(
    "HOKUSAI_RUN_BUDGET_S",
    "120",
    Kind::Count {
        max: 86_400,
        unit: "seconds",
    },
    Scope::Any,
    "wall-clock budget of one `verify` run (and of each `serve` run): checks still running then are recorded as blocked by it, checks not started as well (see [robustness.md](robustness.md)).",
    |c| format!("{} s", c.run_budget.as_secs()),
);
pub const CONCURRENCY: Var = var(
    "HOKUSAI_CONCURRENCY",
    "16 on the stand-in, 4 live",
    Kind::Count {
        max: 64,
        unit: "checks",
    },
    Scope::Any,
    "checks `verify` runs at once; on a live target the authentication area runs first and alone, and heavy transfers one at a time.",
    |c| c.concurrency.to_string(),
);
pub const CONCURRENT_CLIENTS: Var = var(
    "HOKUSAI_CONCURRENT_CLIENTS",
    "32",
    Kind::Count {
        max: 256,
        unit: "clients",
    },
    Scope::Any,
    "clients of the concurrency scenarios (`error_scenarios/concurrent_*`).",
    |c| c.concurrent_clients.to_string(),
);
pub const RUN_DIR: Var = var(
    "HOKUSAI_RUN_DIR",
    "target/hokusai-verify/run",
    Kind::Path,
    Scope::Any,
    "where each check's result (JSON) and the report are written (`serve`: one folder per run under `serve/`).",
    |c| c.run_dir.display().to_string(),
);
pub const ENV_FILE: Var = var(
    "HOKUSAI_ENV_FILE",
    ".env",
    Kind::Path,
    Scope::Any,
    "the optional file of variables.",
    |_| std::env::var("HOKUSAI_ENV_FILE").unwrap_or_else(|_| ".env".into()),
);
pub const REGISTRY_URL: Var = var(
    "HOKUSAI_REGISTRY_URL",
    "",
    Kind::HttpUrl,
    Scope::Live,
    "required: the registry host, e.g. `https://registry.hokus.ai` (no credentials in the URL).",
    |c| {
        or_unset(live(c, |l| {
            crate::secret::display_url(l.registry_url.as_str())
        }))
    },
);
pub const AUTH_URL: Var = var(
    "HOKUSAI_AUTH_URL",
    "",
    Kind::HttpUrl,
    Scope::Live,
    "required: the auth host, e.g. `https://auth.hokus.ai`.",
    |c| or_unset(live(c, |l| crate::secret::display_url(l.auth_url.as_str()))),
);
pub const API_KEY: Var = key(
    "HOKUSAI_API_KEY",
    "required: a key (`hk_live_` + 32 letters/digits) valid for service `platform` with read and write scopes.",
);
pub const SECOND_API_KEY: Var = key(
    "HOKUSAI_SECOND_API_KEY",
    "another valid key (\"other keys are unaffected\" checks).",
);
pub const LOW_LIMIT_API_KEY: Var = key(
    "HOKUSAI_LOW_LIMIT_API_KEY",
    "a key with a small hourly rate limit; rate-limit checks skip without it.",
);
pub const READ_ONLY_API_KEY: Var = key(
    "HOKUSAI_READ_ONLY_API_KEY",
    "a key without write scopes (write-scope checks).",
);
pub const REVOKED_API_KEY: Var = key(
    "HOKUSAI_REVOKED_API_KEY",
    "a revoked key the auth service must reject.",
);
pub const EXPIRED_API_KEY: Var = key(
    "HOKUSAI_EXPIRED_API_KEY",
    "an expired key the auth service must reject.",
);
pub const REDIS_URL: Var = also(
    var(
        "HOKUSAI_REDIS_URL",
        "stand-in: redis://127.0.0.1:6379",
        Kind::RedisUrl,
        Scope::Any,
        "stand-in: the real Redis that holds its auth cache and rate-limit counters (each instance uses its own key prefix and removes its keys when it stops). Live: the API's Redis, if reachable from where the suite runs (usually only inside the VPC); without it Redis checks skip, with it an unreachable Redis is a failure. Shown without its password.",
        |c| match &c.target {
            Target::StandIn(s) => crate::secret::display_url(&s.redis_url),
            Target::Live(l) => l
                .redis_url
                .as_deref()
                .map_or_else(|| "not set".into(), crate::secret::display_url),
        },
    ),
    &["REDIS_URL"],
);
pub const REDIS_PORT: Var = var(
    "REDIS_PORT",
    "6379",
    Kind::Port,
    Scope::StandIn,
    "the port on 127.0.0.1 of the stand-in's Redis when `HOKUSAI_REDIS_URL` is not set (the port `scripts/with-redis` checks for, or starts Redis on).",
    |c| {
        or_unset(standin(c, |s| {
            url::Url::parse(&s.redis_url)
                .ok()
                .and_then(|u| u.port())
                .map_or_else(|| "6379".into(), |p| p.to_string())
        }))
    },
);
pub const AWS_REGION: Var = also(
    var(
        "HOKUSAI_AWS_REGION",
        "",
        Kind::Text,
        Scope::Live,
        "the region of the ECS cluster; without it ECS checks skip.",
        |c| or_unset(live(c, |l| l.aws.region.clone()).flatten()),
    ),
    &["AWS_REGION", "AWS_DEFAULT_REGION"],
);
pub const AWS_ENDPOINT_URL: Var = also(
    var(
        "HOKUSAI_AWS_ENDPOINT_URL",
        "AWS default",
        Kind::HttpUrl,
        Scope::Live,
        "another ECS endpoint (moto, the stand-in's ECS).",
        |c| {
            live(c, |l| l.aws.endpoint_url.as_ref().map(|u| u.to_string()))
                .flatten()
                .unwrap_or_else(|| "AWS default".into())
        },
    ),
    &["AWS_ENDPOINT_URL"],
);
pub const ECS_CLUSTER: Var = Var {
    from_profile: true,
    ..var(
        "HOKUSAI_ECS_CLUSTER",
        "the profile's",
        Kind::Text,
        Scope::Live,
        "overrides the profile's ECS cluster name.",
        |c| {
            live(c, |l| l.aws.cluster.clone())
                .flatten()
                .unwrap_or_else(|| c.profile.ecs.cluster.clone())
        },
    )
};
pub const STANDIN_FAULTS: Var = var(
    "HOKUSAI_STANDIN_FAULTS",
    "none",
    Kind::Faults,
    Scope::StandIn,
    "faults to switch on, comma-separated ids from `platform/faults.md` (`hokusai-verify faults` lists them).",
    |c| {
        or_unset(standin(c, |s| {
            let ids: Vec<&str> = s.faults.iter().map(|f| f.id()).collect();
            if ids.is_empty() {
                "none".into()
            } else {
                ids.join(",")
            }
        }))
    },
);
pub const STANDIN_BREAKAGES: Var = var(
    "HOKUSAI_STANDIN_BREAKAGES",
    "none",
    Kind::Breakages,
    Scope::StandIn,
    "contract-line breakages to switch on, comma-separated (`hokusai-verify faults --breakages` lists them with the line each breaks): what the report says about a platform that breaks a given set of lines, or a combination the property test found.",
    |c| {
        or_unset(standin(c, |s| {
            let ids: Vec<&str> = s.breakages.iter().map(|b| b.id()).collect();
            if ids.is_empty() {
                "none".into()
            } else {
                ids.join(",")
            }
        }))
    },
);
pub const STANDIN_TIMING: Var = var(
    "HOKUSAI_STANDIN_TIMING",
    "fast",
    Kind::OneOf(&["fast", "contract"]),
    Scope::StandIn,
    "`fast`: the platform's timeouts shortened (auth 0.3 s instead of 5 s, upstream 0.4 s instead of 30 s) so fault runs take seconds; `contract`: the contract's values.",
    |c| {
        or_unset(standin(c, |s| {
            if s.fast { "fast" } else { "contract" }.to_owned()
        }))
    },
);
pub const STANDIN_DIALECT: Var = var(
    "HOKUSAI_STANDIN_DIALECT",
    "contract",
    Kind::OneOf(&["contract", "reworded"]),
    Scope::StandIn,
    "`reworded`: the stand-in words every message, every `detail` text the contract gives only as an example and every JSON field the contract does not fix otherwise (statuses and fixed fields stay), to show that checks and diagnosis depend on no wording.",
    |c| or_unset(standin(c, |s| format!("{:?}", s.dialect).to_lowercase())),
);
pub const STANDIN_LATENCY: Var = var(
    "HOKUSAI_STANDIN_LATENCY",
    "none",
    Kind::OneOf(&["none", "realistic"]),
    Scope::StandIn,
    "`realistic`: the stand-in answers with a real deployment's latencies (health ~20 ms, a proxied MLflow call ~60 ms p50 / 100 ms p90, MLflow direct 5 ms, an uncached key validation +180 ms); `make bench-verify` uses it.",
    |c| {
        or_unset(standin(c, |s| {
            if s.realistic { "realistic" } else { "none" }.to_owned()
        }))
    },
);

/// Every variable, in the order `config` and the documentation list them.
pub const VARS: &[Var] = &[
    TARGET,
    PROFILE,
    STRICT,
    TIMEOUT_MS,
    CONNECT_TIMEOUT_MS,
    RUN_BUDGET_S,
    CONCURRENCY,
    CONCURRENT_CLIENTS,
    RUN_DIR,
    ENV_FILE,
    MLFLOW_INTERNAL_URL,
    LARGE_ARTIFACT_MAX_MB,
    REGISTRY_URL,
    AUTH_URL,
    API_KEY,
    SECOND_API_KEY,
    LOW_LIMIT_API_KEY,
    READ_ONLY_API_KEY,
    REVOKED_API_KEY,
    EXPIRED_API_KEY,
    REDIS_URL,
    REDIS_PORT,
    AWS_REGION,
    AWS_ENDPOINT_URL,
    ECS_CLUSTER,
    STANDIN_FAULTS,
    STANDIN_BREAKAGES,
    STANDIN_TIMING,
    STANDIN_DIALECT,
    STANDIN_LATENCY,
];

/// The entry named `name` (or aliased so).
pub fn find(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.names().any(|n| n == name))
}

/// Whether `config` lists the variable for this configuration.
pub fn listed(v: &Var, c: &Config) -> bool {
    v.scope.applies(c)
}

/// The generated table of `docs/configuration.md` (between its `vars` markers).
pub fn markdown() -> String {
    let mut s =
        String::from("| variable | runs | value | default | meaning |\n|---|---|---|---|---|\n");
    for v in VARS {
        let names: Vec<String> = v.names().map(|n| format!("`{n}`")).collect();
        let default = if v.default.is_empty() {
            "not set".to_owned()
        } else if v.default.contains(' ') {
            v.default.to_owned()
        } else {
            format!("`{}`", v.default)
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            names.join(" (or ") + &")".repeat(names.len().saturating_sub(1)),
            v.scope.label(),
            v.kind.describe(),
            default,
            v.doc
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key role's variable is in the table, as a secret.
    #[test]
    fn every_key_role_is_a_secret_entry() {
        for role in crate::catalogue::KeyRole::all() {
            let v = find(role.var()).unwrap_or_else(|| panic!("{} not in VARS", role.var()));
            assert!(v.secret && v.kind == Kind::Key, "{}", v.name);
        }
        for v in VARS {
            assert_eq!(v.secret, v.kind == Kind::Key, "{}", v.name);
        }
    }

    /// No name twice.
    #[test]
    fn names_are_unique() {
        let mut all: Vec<&str> = VARS.iter().flat_map(Var::names).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
