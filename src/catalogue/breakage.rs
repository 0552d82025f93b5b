//! Contract-line breakages of the stand-in: one per verified line of the contract.

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
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakage_ids_parse_back() {
        for b in Breakage::all() {
            assert_eq!(b.id().parse::<Breakage>().ok(), Some(b));
        }
    }
}
