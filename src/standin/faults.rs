//! The fault switches: one per row of `shared/platform/faults.md`, with the same ids.
//! Adding a row there means adding a variant here (the fault-catalogue test enumerates
//! [`Fault::ALL`]).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A fault the stand-in can switch on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The auth service has no healthy targets (its ALB answers HTML 503).
    AuthDown,
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

impl Fault {
    /// Every fault, in catalogue order.
    pub const ALL: [Fault; 18] = [
        Fault::AuthDown,
        Fault::AuthSlow,
        Fault::ServiceIdMismatch,
        Fault::KeyNotValidForService,
        Fault::MlflowRouteToMlflow,
        Fault::MlflowDown,
        Fault::MlflowSlow,
        Fault::ArtifactsDisabled,
        Fault::NoAjaxRewrite,
        Fault::AuthHeaderLeak,
        Fault::CacheOff,
        Fault::CacheTtlWrong,
        Fault::RateLimitOff,
        Fault::EcsDegraded,
        Fault::EcsMissing,
        Fault::TargetUnhealthy,
        Fault::WriteForbidden,
        Fault::SlowRegistry,
    ];

    /// The id used in `faults.md`, on the command line and in reports.
    pub fn id(self) -> &'static str {
        match self {
            Fault::AuthDown => "auth-down",
            Fault::AuthSlow => "auth-slow",
            Fault::ServiceIdMismatch => "service-id-mismatch",
            Fault::KeyNotValidForService => "key-not-valid-for-service",
            Fault::MlflowRouteToMlflow => "mlflow-route-to-mlflow",
            Fault::MlflowDown => "mlflow-down",
            Fault::MlflowSlow => "mlflow-slow",
            Fault::ArtifactsDisabled => "artifacts-disabled",
            Fault::NoAjaxRewrite => "no-ajax-rewrite",
            Fault::AuthHeaderLeak => "auth-header-leak",
            Fault::CacheOff => "cache-off",
            Fault::CacheTtlWrong => "cache-ttl-wrong",
            Fault::RateLimitOff => "rate-limit-off",
            Fault::EcsDegraded => "ecs-degraded",
            Fault::EcsMissing => "ecs-missing",
            Fault::TargetUnhealthy => "target-unhealthy",
            Fault::WriteForbidden => "write-forbidden",
            Fault::SlowRegistry => "slow-registry",
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
#[error("unknown fault `{0}` (known: {known})", known = Fault::ALL.map(Fault::id).join(", "))]
pub struct UnknownFault(pub String);

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
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
    fn breakage_list_is_complete() {
        for (i, b) in Breakage::ALL.iter().enumerate() {
            assert_eq!(b.position(), i, "{b}");
        }
    }

    #[test]
    fn fault_list_is_complete() {
        // Exhaustive: a new variant must be added here, next to `Fault::ALL`.
        for f in Fault::ALL {
            match f {
                Fault::AuthDown
                | Fault::AuthSlow
                | Fault::ServiceIdMismatch
                | Fault::KeyNotValidForService
                | Fault::MlflowRouteToMlflow
                | Fault::MlflowDown
                | Fault::MlflowSlow
                | Fault::ArtifactsDisabled
                | Fault::NoAjaxRewrite
                | Fault::AuthHeaderLeak
                | Fault::CacheOff
                | Fault::CacheTtlWrong
                | Fault::RateLimitOff
                | Fault::EcsDegraded
                | Fault::EcsMissing
                | Fault::TargetUnhealthy
                | Fault::WriteForbidden
                | Fault::SlowRegistry => {}
            }
        }
        let unique: FaultSet = Fault::ALL.into_iter().collect();
        assert_eq!(unique.len(), Fault::ALL.len());
    }

    #[test]
    fn ids_round_trip() {
        for f in Fault::ALL {
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

    /// The catalogue in shared/ and this enum must list the same ids.
    #[test]
    fn every_catalogue_row_has_a_switch() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/platform/faults.md");
        let Ok(text) = std::fs::read_to_string(path) else {
            // The catalogue lives beside the repository; a checkout without it still builds.
            eprintln!("faults.md not found at {path}; skipping the comparison");
            return;
        };
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
            Fault::ALL.len(),
            "a switch has no row in faults.md"
        );
    }
}

/// How the stand-in words what the contract leaves to the platform: every message, every
/// `detail` text the contract gives only as an example, every JSON field the contract does
/// not fix. `reworded` keeps the statuses, shapes and fields the contract fixes and changes
/// everything else, so that the suite is tested against wording it did not write
/// (`HOKUSAI_STANDIN_DIALECT=reworded`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// The contract's examples, word for word.
    #[default]
    Contract,
    /// Other words, other optional fields.
    Reworded,
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "contract" => Ok(Dialect::Contract),
            "reworded" => Ok(Dialect::Reworded),
            other => Err(format!("`{other}` is not `contract` or `reworded`")),
        }
    }
}

/// Deliberate regressions of the platform that are **not** catalogue faults: behaviour the
/// contract forbids but that no infrastructure fault produces. They exist to show that the
/// checks guarding those rules can fail (documented in `docs/fault-matrix.md`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Breakage {
    /// The API answers `401 Invalid or expired API key` whenever the auth service does not
    /// say "valid" — also for its 5xx, timeouts and 429s.
    AuthErrorsAsBadKey,
    /// The API caches failed validations too.
    CacheFailedValidations,
    /// The API answers 500 to keyed requests when Redis is down instead of falling back.
    AuthNeedsRedis,
    /// The proxy drops the body of DELETE requests.
    ProxyDropsDeleteBody,
    /// The proxy keeps only the last value of a repeated query key.
    ProxyCollapsesRepeatedQuery,
    /// `registered-models/delete` answers 200 but deletes nothing.
    DeleteIgnored,
    /// The proxy answers 500 instead of 504 when MLflow is too slow.
    UpstreamTimeoutAs500,
    /// The registry hands out a version number twice under load (lost writes).
    DuplicateVersions,
    /// The API accepts a key as `X-API-Key` but rejects it as `Authorization: Bearer`.
    BearerRejected,
    /// 401 answers carry no `detail` (an empty JSON object).
    RejectionWithoutDetail,
    /// `X-RateLimit-Remaining` never counts down (the limit still applies).
    RateLimitRemainingStuck,
    /// After its cache entry expires, a key's validation is not cached again.
    CacheNotRefreshed,
    /// The API never reports usage to the auth service.
    UsageNotReported,
    /// MLflow is unreachable from the proxy, but `/health` keeps saying `mlflow: healthy`.
    HealthIgnoresMlflow,
    /// `/health` alone is slow (its dependency probe blocks); every other route is fast.
    SlowHealth,
    /// `GET /` answers 200 without a key.
    RootWithoutKey,
    /// `/health?detailed=true` answers 500.
    DetailedHealthFails,
    /// `/version` is gone (404).
    VersionRouteMissing,
    /// `/api/2.0/mlflow/...` reaches MLflow without a key.
    BareApiUnprotected,
    /// MLflow's HTML 404/405 pages reach the client unchanged.
    HtmlErrorsPassThrough,
    /// MLflow's JSON errors reach the client with the proxy's own `error_code`.
    WrongErrorCode,
    /// `/health/mlflow`'s circuit breaker is stuck open (503, `connected: false`) while MLflow
    /// answers every proxied call.
    BreakerStuckOpen,
    /// The API sends the key to the auth service in the JSON body, not as `Bearer`.
    KeyNotSentAsBearer,
    /// The auth service's `/health` answers plain text.
    AuthHealthNotJson,
    /// `/api/health/mlflow` reports its experiments check unhealthy while MLflow answers.
    ExperimentsCheckWrong,
}

impl Breakage {
    pub const ALL: [Breakage; 25] = [
        Breakage::AuthErrorsAsBadKey,
        Breakage::CacheFailedValidations,
        Breakage::AuthNeedsRedis,
        Breakage::ProxyDropsDeleteBody,
        Breakage::ProxyCollapsesRepeatedQuery,
        Breakage::DeleteIgnored,
        Breakage::UpstreamTimeoutAs500,
        Breakage::DuplicateVersions,
        Breakage::BearerRejected,
        Breakage::RejectionWithoutDetail,
        Breakage::RateLimitRemainingStuck,
        Breakage::CacheNotRefreshed,
        Breakage::UsageNotReported,
        Breakage::HealthIgnoresMlflow,
        Breakage::SlowHealth,
        Breakage::RootWithoutKey,
        Breakage::DetailedHealthFails,
        Breakage::VersionRouteMissing,
        Breakage::BareApiUnprotected,
        Breakage::HtmlErrorsPassThrough,
        Breakage::WrongErrorCode,
        Breakage::BreakerStuckOpen,
        Breakage::KeyNotSentAsBearer,
        Breakage::AuthHealthNotJson,
        Breakage::ExperimentsCheckWrong,
    ];

    /// Position in [`Breakage::ALL`]; the exhaustive match makes a new variant impossible
    /// to forget there (see the test).
    #[cfg(test)]
    const fn position(self) -> usize {
        match self {
            Breakage::AuthErrorsAsBadKey => 0,
            Breakage::CacheFailedValidations => 1,
            Breakage::AuthNeedsRedis => 2,
            Breakage::ProxyDropsDeleteBody => 3,
            Breakage::ProxyCollapsesRepeatedQuery => 4,
            Breakage::DeleteIgnored => 5,
            Breakage::UpstreamTimeoutAs500 => 6,
            Breakage::DuplicateVersions => 7,
            Breakage::BearerRejected => 8,
            Breakage::RejectionWithoutDetail => 9,
            Breakage::RateLimitRemainingStuck => 10,
            Breakage::CacheNotRefreshed => 11,
            Breakage::UsageNotReported => 12,
            Breakage::HealthIgnoresMlflow => 13,
            Breakage::SlowHealth => 14,
            Breakage::RootWithoutKey => 15,
            Breakage::DetailedHealthFails => 16,
            Breakage::VersionRouteMissing => 17,
            Breakage::BareApiUnprotected => 18,
            Breakage::HtmlErrorsPassThrough => 19,
            Breakage::WrongErrorCode => 20,
            Breakage::BreakerStuckOpen => 21,
            Breakage::KeyNotSentAsBearer => 22,
            Breakage::AuthHealthNotJson => 23,
            Breakage::ExperimentsCheckWrong => 24,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Breakage::AuthErrorsAsBadKey => "auth-errors-as-bad-key",
            Breakage::CacheFailedValidations => "cache-failed-validations",
            Breakage::AuthNeedsRedis => "auth-needs-redis",
            Breakage::ProxyDropsDeleteBody => "proxy-drops-delete-body",
            Breakage::ProxyCollapsesRepeatedQuery => "proxy-collapses-repeated-query",
            Breakage::DeleteIgnored => "delete-ignored",
            Breakage::UpstreamTimeoutAs500 => "upstream-timeout-as-500",
            Breakage::DuplicateVersions => "duplicate-versions",
            Breakage::BearerRejected => "bearer-rejected",
            Breakage::RejectionWithoutDetail => "rejection-without-detail",
            Breakage::RateLimitRemainingStuck => "rate-limit-remaining-stuck",
            Breakage::CacheNotRefreshed => "cache-not-refreshed",
            Breakage::UsageNotReported => "usage-not-reported",
            Breakage::HealthIgnoresMlflow => "health-ignores-mlflow",
            Breakage::SlowHealth => "slow-health",
            Breakage::RootWithoutKey => "root-without-key",
            Breakage::DetailedHealthFails => "detailed-health-fails",
            Breakage::VersionRouteMissing => "version-route-missing",
            Breakage::BareApiUnprotected => "bare-api-unprotected",
            Breakage::HtmlErrorsPassThrough => "html-errors-pass-through",
            Breakage::WrongErrorCode => "wrong-error-code",
            Breakage::BreakerStuckOpen => "breaker-stuck-open",
            Breakage::KeyNotSentAsBearer => "key-not-sent-as-bearer",
            Breakage::AuthHealthNotJson => "auth-health-not-json",
            Breakage::ExperimentsCheckWrong => "experiments-check-wrong",
        }
    }
}

impl fmt::Display for Breakage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
