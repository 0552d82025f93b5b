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
    fn breakage_ids_parse_back() {
        for b in Breakage::all() {
            assert_eq!(b.id().parse::<Breakage>().ok(), Some(b));
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
            other => Err(format!(
                "{} is not `contract` or `reworded`",
                crate::secret::shown(other)
            )),
        }
    }
}

/// Deliberate regressions of the platform that are **not** catalogue faults: behaviour the
/// contract forbids but that no infrastructure fault produces. They exist to show that the
/// checks guarding those rules can fail (documented in `docs/fault-matrix.md`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
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
    #[serde(rename = "upstream-timeout-as-500")]
    #[strum(serialize = "upstream-timeout-as-500")]
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
    /// Past the limit the 429 carries no `Retry-After`.
    RateLimitWithoutRetryAfter,
    /// Once one key is over its limit, every key gets 429 (the limiter counts per client,
    /// not per key).
    RateLimitShared,
    /// The proxy does not add the `X-Hokusai-*` identity headers.
    IdentityHeadersMissing,
    /// A missing artifact answers 500 instead of 404.
    #[serde(rename = "missing-artifact-500")]
    #[strum(serialize = "missing-artifact-500")]
    MissingArtifactIs500,
    /// Uploads larger than 8 MiB are cut to 8 MiB on the way to MLflow (a buffering limit).
    LargeBodiesTruncated,
    /// A malformed JSON body makes the API answer 500.
    #[serde(rename = "malformed-body-500")]
    #[strum(serialize = "malformed-body-500")]
    MalformedBodyIs500,
    /// Validations are cached under another key name than `api_key:validation:<key>`.
    CacheKeyRenamed,
    /// Validations are written to the cache but never read from it.
    CacheNotRead,
    /// Every cache hit renews the entry's TTL: a revoked key in use never expires.
    CacheRenewedOnUse,
    /// `registered-models/get-latest-versions` answers no versions.
    LatestVersionsEmpty,
    /// `runs/get` answers without the run's params.
    RunParamsDropped,
    /// `model-versions/set-tag` answers 500 (the workflow cannot tag its version).
    VersionTagsRejected,
    /// Answers to the `api/2.0` spelling lose the experiment's `last_update_time`.
    ApiSpellingDiffers,
    /// `experiments/search` through the proxy ignores its `filter`.
    SearchIgnoresFilter,
    /// Write scopes are not enforced: a read-only key can write (profiles that enforce them).
    ScopesIgnored,
    /// The MLflow ECS service is scaled to zero (desired = running = 0).
    EcsScaledToZero,
    /// `model-versions/create` answers only after the workflow budget (every other call fast).
    SlowVersionCreate,
}

impl Breakage {
    /// Every breakage, in declaration order.
    pub fn all() -> Vec<Breakage> {
        use strum::IntoEnumIterator;
        Breakage::iter().collect()
    }

    pub fn id(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Breakage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
