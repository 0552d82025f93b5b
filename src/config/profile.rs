//! Profiles: the expectations that changed over the platform's life (contract section 10).
//! A profile is a small TOML file; the two shipped ones are compiled in, any other is read
//! from a path. Checks read expectations from here, never from literals.

use serde::Deserialize;
use std::path::Path;

/// Name of the default profile, the platform of the original test plan.
pub const DEFAULT_PROFILE: &str = "hokusai-2025-08";

const BUILTIN: &[(&str, &str)] = &[
    (
        "hokusai-2025-08",
        include_str!("../../profiles/hokusai-2025-08.toml"),
    ),
    (
        "hokusai-2026",
        include_str!("../../profiles/hokusai-2026.toml"),
    ),
];

/// The names of the profiles shipped with the suite.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}

/// The MLflow release behind a profile's proxy (its `mlflow_major_version`): what the
/// stand-in emulates, and what checks expect from upstream where the contract leaves an
/// answer to MLflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlflowMajor {
    /// MLflow 2.9.2, which the `hokusai-2025-08` platform pinned.
    V2,
    /// MLflow 3.17.2.
    V3,
}

impl MlflowMajor {
    /// The major of the MLflow behind a profile's proxy (3 for anything but 2).
    pub fn of(profile: &Profile) -> Self {
        if profile.proxy.mlflow_major_version == 2 {
            Self::V2
        } else {
            Self::V3
        }
    }

    /// What `/version` answers.
    pub fn release(self) -> &'static str {
        match self {
            Self::V2 => "2.9.2",
            Self::V3 => "3.17.2",
        }
    }

    /// The major version number.
    pub fn number(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }
}

/// An MLflow release, to the patch, that the stand-in can answer like: each one measured
/// against a real server of it (`tests/mlflow_contract.rs`, one snapshot set per release).
/// Within a major, releases answer differently in places (error bodies, fields, defaults):
/// the stand-in follows the release the profile names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MlflowRelease {
    /// 2.9.2, which the `hokusai-2025-08` platform pins.
    V2_9_2,
    /// 3.9.0, which the `hokusai-2026` platform pins.
    V3_9_0,
    /// 3.17.2, the newest release the contract tests run against.
    V3_17_2,
}

impl MlflowRelease {
    /// The newest release measured (what `python/requirements.txt` installs).
    pub const NEWEST: Self = Self::V3_17_2;
    pub const ALL: [Self; 3] = [Self::V2_9_2, Self::V3_9_0, Self::V3_17_2];

    /// What `/version` answers.
    pub fn version(self) -> &'static str {
        match self {
            Self::V2_9_2 => "2.9.2",
            Self::V3_9_0 => "3.9.0",
            Self::V3_17_2 => "3.17.2",
        }
    }

    pub fn major(self) -> MlflowMajor {
        match self {
            Self::V2_9_2 => MlflowMajor::V2,
            Self::V3_9_0 | Self::V3_17_2 => MlflowMajor::V3,
        }
    }

    /// The release a profile names; one not measured answers like the newest measured
    /// release of its major.
    pub fn of(profile: &Profile) -> Self {
        let named = profile.proxy.mlflow_release.as_str();
        Self::ALL
            .into_iter()
            .find(|r| r.version() == named)
            .unwrap_or(match MlflowMajor::of(profile) {
                MlflowMajor::V2 => Self::V2_9_2,
                MlflowMajor::V3 => Self::NEWEST,
            })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub auth: AuthProfile,
    pub cache: CacheProfile,
    pub rate_limit: RateLimitProfile,
    pub proxy: ProxyProfile,
    pub scopes: ScopesProfile,
    pub health: HealthProfile,
    pub workflow: WorkflowProfile,
    pub ecs: EcsProfile,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthProfile {
    pub service_id: String,
    pub validate_timeout_ms: u64,
    pub failure_status: u16,
    pub failure_retry_after: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CacheProfile {
    pub ttl_secs: u64,
    pub key_pattern: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitProfile {
    pub window_secs: u64,
    pub key_pattern: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxyProfile {
    pub forwards_auth_headers: bool,
    pub mlflow_major_version: u8,
    /// The exact MLflow release the platform pins (contract section 10).
    pub mlflow_release: String,
    pub upstream_timeout_ms: u64,
    /// The path spellings that reach MLflow with a valid key (contract section 10); every
    /// other spelling of section 3 must still demand a key.
    pub routed_spellings: Vec<crate::catalogue::Spelling>,
    /// What `GET /api/health/mlflow` answers (contract sections 2 and 10).
    pub api_health: ApiHealthShape,
}

/// The shape of `GET /api/health/mlflow`'s answer.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ApiHealthShape {
    /// `{status: "healthy", checks: {connectivity, experiments_api, artifacts_api}}`.
    Checks,
    /// The client SDK's probe: `{status: "ok", tracking_uri, latency_ms}`; 503 when MLflow
    /// does not answer.
    SdkProbe,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScopesProfile {
    pub write_scopes_enforced: bool,
    pub write_scopes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthProfile {
    pub ops_routes_need_key: bool,
    pub degraded_status: u16,
    pub degraded_value: String,
    pub latency_budget_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkflowProfile {
    pub budget_secs: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcsProfile {
    pub cluster: String,
    pub services: Vec<String>,
}

/// Why a profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile `{0}` (known: {known}; or give a path to a .toml file)", known = builtin_names().collect::<Vec<_>>().join(", "))]
    Unknown(String),
    #[error("cannot read profile file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("profile {0} is not valid: {1}")]
    Parse(String, String),
}

impl Profile {
    /// Loads a shipped profile by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Self, ProfileError> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::from_toml(name_or_path, text);
        }
        let path = Path::new(name_or_path);
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ProfileError::Read(name_or_path.to_owned(), e))?;
            return Self::from_toml(name_or_path, &text);
        }
        Err(ProfileError::Unknown(name_or_path.to_owned()))
    }

    fn from_toml(origin: &str, text: &str) -> Result<Self, ProfileError> {
        toml::from_str(text).map_err(|e| ProfileError::Parse(origin.to_owned(), e.to_string()))
    }

    /// The default profile (`hokusai-2025-08`).
    /// The major of the MLflow behind this profile's proxy.
    pub fn mlflow_major(&self) -> MlflowMajor {
        MlflowMajor::of(self)
    }

    /// The MLflow release behind this profile's proxy, as the stand-in answers like it.
    pub fn mlflow_release(&self) -> MlflowRelease {
        MlflowRelease::of(self)
    }

    pub fn default_profile() -> Self {
        Self::load(DEFAULT_PROFILE).expect("the built-in default profile parses")
    }

    /// The Redis key of a cached validation for `raw_key` (never print the result).
    pub fn cache_key(&self, raw_key: &str) -> String {
        self.cache.key_pattern.replace("{key}", raw_key)
    }

    /// Does a fault or breakage that [`crate::catalogue::Applies`] so break this profile's
    /// contract? (Elsewhere the same behaviour is allowed.)
    pub fn applies(&self, a: crate::catalogue::Applies) -> bool {
        use crate::catalogue::Applies;
        match a {
            Applies::Always => true,
            Applies::WhereScopesEnforced => self.scopes.write_scopes_enforced,
            Applies::WhereKeyRemoved => !self.proxy.forwards_auth_headers,
            Applies::WhereRouted(s) => self.proxy.routed_spellings.contains(&s),
        }
    }

    /// Does this profile route `s` to MLflow (contract section 10)?
    pub fn routes(&self, s: crate::catalogue::Spelling) -> bool {
        self.proxy.routed_spellings.contains(&s)
    }

    /// The Redis key of the hourly rate-limit counter of a key id.
    pub fn rate_limit_key(&self, key_id: &str) -> String {
        self.rate_limit.key_pattern.replace("{key_id}", key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_builtin_profiles_parse_and_differ_where_the_contract_says() {
        let old = Profile::load("hokusai-2025-08").unwrap();
        let new = Profile::load("hokusai-2026").unwrap();
        assert_eq!(old.cache.ttl_secs, 300);
        assert_eq!(new.cache.ttl_secs, 60);
        assert_eq!(
            (old.auth.failure_status, new.auth.failure_status),
            (401, 503)
        );
        assert!(!old.proxy.forwards_auth_headers && new.proxy.forwards_auth_headers);
        assert!(!old.scopes.write_scopes_enforced && new.scopes.write_scopes_enforced);
        assert!(old.health.ops_routes_need_key && !new.health.ops_routes_need_key);
        assert_eq!(old.ecs, new.ecs);
    }

    #[test]
    fn unknown_profile_names_the_known_ones() {
        let err = Profile::load("hokusai-1999").unwrap_err().to_string();
        assert!(
            err.contains("hokusai-2025-08") && err.contains("hokusai-2026"),
            "{err}"
        );
    }
}
