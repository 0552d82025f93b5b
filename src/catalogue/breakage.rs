//! Contract-line breakages of the stand-in: one per verified line of the contract, with the
//! line each breaks, the causes a report must name for it, and the profiles whose contract it
//! breaks, as data (the fault-catalogue tests and the combination property read them here).

use super::{Cause, Line, Spelling};
use std::fmt;

super::vocabulary! {
    /// Deliberate regressions of the platform that are **not** catalogue faults: behaviour the
    /// contract forbids but that no infrastructure fault produces. They exist to show that the
    /// checks guarding those rules can fail (documented in `docs/fault-matrix.md`).
    #[derive(strum::EnumString)]
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
        /// The proxy answers a missing artifact with its own 500 `{"detail"}` instead of
        /// MLflow's answer (3.x: 404; 2.9.2: its 500 `INTERNAL_ERROR`).
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
        /// Write scopes are enforced on every endpoint family but `runs`: a read-only key can
        /// create, log to and delete runs (one family's writes left out of the scope check).
        ScopesIgnoredOnRuns,
        /// The MLflow ECS service is scaled to zero (desired = running = 0).
        EcsScaledToZero,
        /// `model-versions/create` answers only after the workflow budget (every other call fast).
        SlowVersionCreate,
        /// The proxy waits for a slow MLflow synchronously: while it waits, the API answers
        /// nothing else (head-of-line blocking, as a real deployment's blocked event loop).
        ApiBlocksWhileServing,
        /// The proxy refuses `DELETE` on the artifact service (405): artifacts cannot be
        /// removed through it.
        ArtifactDeleteRefused,
        /// The proxy has no route for MLflow's `metrics/…` endpoints (its own 404 on every
        /// spelling): one endpoint family left out of the proxy.
        MetricsNotProxied,
        /// The API has no route for `/api/mlflow/api/2.0/…`: its own 404 `{"detail"}` with a
        /// valid key (the key is still demanded).
        UnroutedProxyApi,
        /// The API has no route for `/api/mlflow/ajax-api/2.0/…`.
        UnroutedProxyAjax,
        /// The API has no route for `/mlflow/ajax-api/2.0/…`.
        UnroutedMlflowAjax,
        /// The API has no route for `/api/2.0/mlflow/…`.
        UnroutedBareApi,
        /// The API has no route for `/ajax-api/2.0/…`.
        UnroutedBareAjax,
        /// The API ignores `X-API-Key`: a key sent that way is "required" (401), while Bearer
        /// works.
        XApiKeyIgnored,
        /// Validations are cached with a fifth of the profile's TTL.
        CacheTtlShort,
        /// A web-application firewall in front of the registry answers every request with
        /// its own 403 HTML page: one unexpected answer on every path, which no rule knows.
        WafBlocksRegistry,
        /// The proxy parses JSON artifact downloads and sends them back re-serialised
        /// (compact): a model's JSON files no longer download byte-identical.
        ArtifactJsonRewritten,
    }
}

/// Where a fault or breakage breaks the contract. The profile decides
/// (`hokusai_verify::config::Profile::applies`): elsewhere the same behaviour is allowed,
/// and the suite must stay green under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// In every profile.
    Always,
    /// Where the profile enforces write scopes (403 on writes without one).
    WhereScopesEnforced,
    /// Where the proxy must remove the key before forwarding to MLflow.
    WhereKeyRemoved,
    /// Where the profile routes this spelling to MLflow (contract section 10).
    WhereRouted(Spelling),
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

    /// The spelling an `Unrouted…` breakage leaves without a route.
    pub fn unrouted(self) -> Option<Spelling> {
        Some(match self {
            Breakage::UnroutedProxyApi => Spelling::ProxyApi,
            Breakage::UnroutedProxyAjax => Spelling::ProxyAjax,
            Breakage::UnroutedMlflowAjax => Spelling::MlflowAjax,
            Breakage::UnroutedBareApi => Spelling::BareApi,
            Breakage::UnroutedBareAjax => Spelling::BareAjax,
            _ => return None,
        })
    }

    /// The spelling whose route it changes (unrouted, or answering without a key): two such
    /// breakages of one spelling contradict each other, and a platform has only one of them.
    pub fn routes(self) -> Option<Spelling> {
        match self {
            Breakage::BareApiUnprotected => Some(Spelling::BareApi),
            b => b.unrouted(),
        }
    }

    /// The contract line it breaks (none for the two that break no single line: the API's
    /// head-of-line blocking and a firewall answering every path).
    pub fn line(self) -> Option<Line> {
        use Breakage as B;
        use Line as L;
        if let Some(s) = self.unrouted() {
            return Some(L::routed(s));
        }
        Some(match self {
            B::AuthErrorsAsBadKey => L::AuthFailureNotBadKey,
            B::CacheFailedValidations => L::FailuresNotCached,
            B::AuthNeedsRedis => L::RedisDownFallback,
            B::ProxyDropsDeleteBody => L::DeleteBodies,
            B::ProxyCollapsesRepeatedQuery => L::RepeatedQuery,
            B::DeleteIgnored | B::ArtifactDeleteRefused => L::NothingLeftBehind,
            B::UpstreamTimeoutAs500 => L::UpstreamErrors,
            B::DuplicateVersions => L::VersionNumbering,
            B::BearerRejected | B::XApiKeyIgnored => L::KeyFormats,
            B::RejectionWithoutDetail => L::BadKeysRejected,
            B::RateLimitRemainingStuck => L::RateLimitHeaders,
            B::CacheNotRefreshed => L::CacheExpiry,
            B::UsageNotReported => L::UsageReported,
            B::HealthIgnoresMlflow => L::HealthReportsDependencies,
            B::SlowHealth => L::HealthLatency,
            B::RootWithoutKey => L::RootNeedsKey,
            B::DetailedHealthFails => L::HealthDetailed,
            B::VersionRouteMissing => L::OpsRoutes,
            B::BareApiUnprotected => L::KeyRequiredEverywhere,
            B::HtmlErrorsPassThrough => L::HtmlErrorsAsJson,
            B::WrongErrorCode => L::ErrorsPassThrough,
            B::BreakerStuckOpen => L::HealthMlflow,
            B::KeyNotSentAsBearer => L::ValidateCall,
            B::AuthHealthNotJson => L::AuthHealth,
            B::ExperimentsCheckWrong => L::ApiHealthMlflow,
            B::RateLimitWithoutRetryAfter => L::RateLimitEnforced,
            B::RateLimitShared => L::RateLimitPerKey,
            B::IdentityHeadersMissing => L::ProxyHeaders,
            B::MissingArtifactIs500 | B::ArtifactJsonRewritten => L::ArtifactsProxied,
            B::LargeBodiesTruncated => L::LargeArtifacts,
            B::MalformedBodyIs500 => L::MalformedBodies,
            B::CacheKeyRenamed => L::CacheEntry,
            B::CacheNotRead => L::CacheAvoidsRevalidation,
            B::CacheRenewedOnUse => L::RevocationWindow,
            B::CacheTtlShort => L::CacheEntry,
            B::LatestVersionsEmpty => L::ModelVisible,
            B::RunParamsDropped => L::ReadBack,
            B::VersionTagsRejected => L::RegistrationWorkflow,
            B::ApiSpellingDiffers => L::AjaxRewrite,
            B::SearchIgnoresFilter => L::ProxyTracking,
            B::ScopesIgnored | B::ScopesIgnoredOnRuns => L::WriteScopes,
            B::MetricsNotProxied => L::ProxyTracking,
            B::EcsScaledToZero => L::EcsServices,
            B::SlowVersionCreate => L::WorkflowBudget,
            B::ApiBlocksWhileServing | B::WafBlocksRegistry => return None,
            B::UnroutedProxyApi
            | B::UnroutedProxyAjax
            | B::UnroutedMlflowAjax
            | B::UnroutedBareApi
            | B::UnroutedBareAjax => unreachable!("answered above"),
        })
    }

    /// The causes a report must name with this breakage on (and nothing else), where it
    /// applies: its line, and what else it breaks as a consequence.
    pub fn causes(self) -> Vec<Cause> {
        use Breakage as B;
        match self {
            // A 429 from the auth service turned into a bad key as well.
            B::AuthErrorsAsBadKey => vec![
                Cause::Line(Line::AuthFailureNotBadKey),
                Cause::Line(Line::AuthRateLimitPassedOn),
            ],
            // An artifact's DELETE refused: what clean-up deletes stays, and the route matrix
            // sees that method of the artifact service not proxied.
            B::ArtifactDeleteRefused => vec![
                Cause::Line(Line::NothingLeftBehind),
                Cause::Line(Line::ArtifactsProxied),
            ],
            // What clean-up deletes through the proxy with a body stays.
            B::ProxyDropsDeleteBody => vec![
                Cause::Line(Line::DeleteBodies),
                Cause::Line(Line::NothingLeftBehind),
            ],
            // The health route hides it; the proxied calls show MLflow down.
            B::HealthIgnoresMlflow => vec![
                Cause::Fault(super::Fault::MlflowDown),
                Cause::Line(Line::HealthReportsDependencies),
            ],
            // Too short is a wrong TTL like too long.
            B::CacheTtlShort => vec![Cause::Fault(super::Fault::CacheTtlWrong)],
            B::ApiBlocksWhileServing => vec![Cause::BlocksWhileServing],
            B::WafBlocksRegistry => vec![Cause::SharedSymptom],
            b => b.line().map(Cause::Line).into_iter().collect(),
        }
    }

    /// It changes what the API keeps in its auth cache: with no cache at all (`cache-off`)
    /// it has nothing to act on, and the line it breaks holds.
    pub fn needs_cache(self) -> bool {
        matches!(
            self,
            Breakage::CacheFailedValidations
                | Breakage::CacheNotRefreshed
                | Breakage::CacheKeyRenamed
                | Breakage::CacheNotRead
                | Breakage::CacheRenewedOnUse
                | Breakage::CacheTtlShort
        )
    }

    /// Its effect shows only when the API reads its cache (a renewal on a hit): beside an
    /// API that never reads it, nothing of it can be seen, and its line holds (a revoked key
    /// stops at once when every request is validated again).
    pub fn needs_cache_read(self) -> bool {
        matches!(self, Breakage::CacheRenewedOnUse)
    }

    /// Where it breaks the contract.
    pub fn applies(self) -> Applies {
        match self {
            Breakage::ScopesIgnored | Breakage::ScopesIgnoredOnRuns => Applies::WhereScopesEnforced,
            b => match b.unrouted() {
                Some(s) => Applies::WhereRouted(s),
                None => Applies::Always,
            },
        }
    }
}

impl fmt::Display for Breakage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakage_ids_parse_back() {
        for b in Breakage::all() {
            assert_eq!(b.id().parse::<Breakage>().ok(), Some(b));
            assert!(!b.causes().is_empty(), "{b} names no cause");
            if let Some(l) = b.line() {
                assert!(
                    b.causes().contains(&Cause::Line(l)) || b == Breakage::CacheTtlShort,
                    "{b}: its line is among its causes"
                );
            }
        }
    }
}
