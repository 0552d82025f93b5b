//! The fault switches: one per row of `shared/platform/faults.md`, with the same ids.
//! Adding a row there means adding a variant here; everything that enumerates faults
//! (`faults`, the fault-catalogue test, the report's causes) iterates this enum.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

super::vocabulary! {
    /// A fault the stand-in can switch on.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Fault {
        /// The auth service has no healthy targets (its ALB answers HTML 503).
        AuthDown,
        /// The auth service throttles the API: 429 to its validations.
        AuthRateLimited,
        /// The auth service answers after the API's 5 s timeout.
        AuthSlow,
        /// The API sends a service id the auth service does not accept.
        ServiceIdMismatch,
        /// The configured (primary) key is not registered for service `platform`.
        KeyNotValidForService,
        /// The ALB sends `/api/mlflow/*` straight to MLflow (no auth in front).
        MlflowRouteToMlflow,
        /// The API cannot connect to MLflow.
        MlflowDown,
        /// MLflow answers after the proxy's upstream timeout.
        MlflowSlow,
        /// MLflow runs without artifact serving.
        ArtifactsDisabled,
        /// The proxy forwards `api/2.0/...` unchanged to the public MLflow URL.
        NoAjaxRewrite,
        /// The proxy forwards `Authorization` / `X-API-Key` to MLflow.
        AuthHeaderLeak,
        /// Redis unreachable from the API (cache and limiter counters gone).
        CacheOff,
        /// Cache entries get another TTL than the profile's.
        CacheTtlWrong,
        /// The rate limiter never counts.
        RateLimitOff,
        /// A service runs fewer tasks than desired and its deployment failed.
        EcsDegraded,
        /// A service does not exist.
        EcsMissing,
        /// The registry ALB has no healthy target.
        TargetUnhealthy,
        /// The primary key lacks a write scope (matters where the profile enforces scopes).
        WriteForbidden,
        /// Every registry call is slow (seconds).
        SlowRegistry,
    }
}

impl Fault {
    /// Every fault, in catalogue order.
    pub fn all() -> Vec<Fault> {
        use strum::IntoEnumIterator;
        Fault::iter().collect()
    }

    /// The id used in `faults.md`, on the command line and in reports.
    pub fn id(self) -> &'static str {
        self.into()
    }

    /// Where it breaks the contract: forwarding the key is expected where the profile
    /// forwards it, and a key without a write scope matters only where scopes are enforced.
    pub fn applies(self) -> super::Applies {
        match self {
            Fault::AuthHeaderLeak => super::Applies::WhereKeyRemoved,
            Fault::WriteForbidden => super::Applies::WhereScopesEnforced,
            _ => super::Applies::Always,
        }
    }

    /// Its effect shows only where the API enforces scopes: beside an API that ignores them
    /// (`scopes-ignored`), a key without a write scope writes like any other, and nothing of
    /// it can be seen from outside.
    pub fn needs_scopes_enforced(self) -> bool {
        matches!(self, Fault::WriteForbidden)
    }

    /// The areas whose checks can observe it, when that is not every area: a run for this
    /// fault alone needs only these (self-verification runs them, and proves the absence of
    /// collateral failures across the whole suite for every other fault).
    pub fn observed_in(self) -> Option<&'static [super::Area]> {
        use super::Area;
        match self {
            Fault::SlowRegistry | Fault::EcsDegraded | Fault::EcsMissing => {
                Some(&[Area::InfraHealth])
            }
            Fault::CacheTtlWrong | Fault::RateLimitOff => {
                Some(&[Area::InfraHealth, Area::Authentication])
            }
            _ => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Not a fault id of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault `{0}` (known: {known})", known = Fault::all().into_iter().map(Fault::id).collect::<Vec<_>>().join(", "))]
pub struct UnknownFault(pub String);

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::all()
            .into_iter()
            .find(|f| f.id() == s.trim())
            .ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

/// The faults currently switched on.
pub type FaultSet = BTreeSet<Fault>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for f in Fault::all() {
            assert_eq!(f.id().parse::<Fault>(), Ok(f));
        }
        assert!(
            "nope"
                .parse::<Fault>()
                .unwrap_err()
                .to_string()
                .contains("auth-down")
        );
    }

    /// The project's copy of the catalogue and this enum must list the same ids.
    #[test]
    fn every_catalogue_row_has_a_switch() {
        let text = include_str!("../../platform/faults.md");
        let ids: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert!(!ids.is_empty());
        for id in &ids {
            assert!(
                id.parse::<Fault>().is_ok(),
                "faults.md row `{id}` has no stand-in switch"
            );
        }
        assert_eq!(
            ids.len(),
            Fault::all().len(),
            "a switch has no row in faults.md"
        );
    }

    /// The project owns its copies of the platform's contract and fault catalogue
    /// (`platform/`); where the shared originals sit beside the repository, the copies must
    /// be the same (a clone elsewhere builds and tests from its copies alone).
    #[test]
    fn the_platform_copies_match_the_shared_originals() {
        let root = env!("CARGO_MANIFEST_DIR");
        for name in ["faults.md", "contract.md"] {
            let shared = format!("{root}/../shared/platform/{name}");
            let Ok(original) = std::fs::read_to_string(&shared) else {
                continue;
            };
            let copy = std::fs::read_to_string(format!("{root}/platform/{name}")).unwrap();
            assert!(
                copy == original,
                "platform/{name} differs from {shared}: copy the new version in"
            );
        }
    }
}
