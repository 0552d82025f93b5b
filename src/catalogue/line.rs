//! The lines of `contract.md` that checks verify, as typed data. Every check declares the
//! line it verifies ([`crate::check::CheckSpec::line`]); a failure whose symptoms match no
//! infrastructure fault is reported under that line, with the rule it breaks, the component
//! that owns it, a fix and the resource to change.

use super::{Component, Spelling};

super::vocabulary! {
    /// A line of the contract a check verifies. The id (kebab-case) is what reports show.
    #[derive(strum::EnumString)]
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Line {
        RootNeedsKey,
        HealthReportsDependencies,
        HealthLatency,
        HealthDetailed,
        HealthMlflow,
        ApiHealthMlflow,
        OpsRoutes,
        AuthHealth,
        KeyFormats,
        KeyRequiredEverywhere,
        BadKeysRejected,
        ValidateCall,
        AuthFailureNotBadKey,
        AuthRateLimitPassedOn,
        UsageReported,
        WriteScopes,
        CacheEntry,
        CacheAvoidsRevalidation,
        FailuresNotCached,
        CacheExpiry,
        RevocationWindow,
        RedisDownFallback,
        RateLimitHeaders,
        RateLimitEnforced,
        RateLimitPerKey,
        ProxyTracking,
        AjaxRewrite,
        ProxyHeaders,
        DeleteBodies,
        RepeatedQuery,
        ErrorsPassThrough,
        HtmlErrorsAsJson,
        UpstreamErrors,
        ArtifactsProxied,
        LargeArtifacts,
        MalformedBodies,
        RegistrationWorkflow,
        ModelVisible,
        VersionNumbering,
        ReadBack,
        WorkflowBudget,
        NothingLeftBehind,
        EcsServices,
        /// `/api/mlflow/api/2.0/…` reaches MLflow with a valid key.
        SpellingProxyApi,
        /// `/api/mlflow/ajax-api/2.0/…` reaches MLflow with a valid key.
        SpellingProxyAjax,
        /// `/mlflow/ajax-api/2.0/…` reaches MLflow (where the profile routes it).
        SpellingMlflowAjax,
        /// `/api/2.0/mlflow/…` reaches MLflow (where the profile routes it).
        SpellingBareApi,
        /// `/ajax-api/2.0/…` reaches MLflow (where the profile routes it).
        SpellingBareAjax,
    }
}

/// What a contract line says and who owns it.
#[derive(Debug, Clone, Copy)]
pub struct LineInfo {
    /// `§3`.
    pub section: &'static str,
    /// The rule, one sentence.
    pub rule: &'static str,
    /// What is broken when the rule does not hold, one sentence (a cause's title).
    pub broken: &'static str,
    pub component: Component,
    pub fix: &'static str,
    pub resource: &'static str,
    /// Breaking it stops third parties from registering models.
    pub blocks_registration: bool,
}

const fn info(
    section: &'static str,
    broken: &'static str,
    rule: &'static str,
    component: Component,
    fix: &'static str,
    resource: &'static str,
    blocks_registration: bool,
) -> LineInfo {
    LineInfo {
        section,
        rule,
        broken,
        component,
        fix,
        resource,
        blocks_registration,
    }
}

impl Line {
    /// The id shown in reports (`contract:key-formats`).
    pub fn id(self) -> String {
        let s: &'static str = self.into();
        format!("contract:{s}")
    }

    pub fn info(self) -> LineInfo {
        use Component::*;
        match self {
            Line::RootNeedsKey => info(
                "§2",
                "GET / answers without a key",
                "GET / without a key answers 401 {\"detail\":\"API key required\"}",
                Api,
                "restore the API-key middleware on every route",
                "API service",
                false,
            ),
            Line::HealthReportsDependencies => info(
                "§2",
                "/health does not report the dependencies' real state",
                "GET /health is 200 JSON with status, version, services and timestamp, `healthy` only when every dependency is",
                Api,
                "report every dependency's state in /health",
                "API service",
                false,
            ),
            Line::HealthLatency => info(
                "§2",
                "/health answers too slowly",
                "GET /health answers within 1000 ms",
                Api,
                "make the health probe non-blocking and cheap",
                "API service",
                false,
            ),
            Line::HealthDetailed => info(
                "§2",
                "The detailed health view fails",
                "GET /health?detailed=true is 200 with per-service detail, never a 5xx",
                Api,
                "answer the detailed view with 200 whatever the dependencies' state",
                "API service",
                false,
            ),
            Line::HealthMlflow => info(
                "§2",
                "/health/mlflow reports MLflow wrongly",
                "GET /health/mlflow is 200 {connected: true, circuit_breaker_state: CLOSED} while MLflow answers",
                Api,
                "fix the MLflow health route and its circuit breaker",
                "API service",
                false,
            ),
            Line::ApiHealthMlflow => info(
                "§2",
                "/api/health/mlflow reports MLflow wrongly",
                "GET /api/health/mlflow answers as the profile says: 200 {status: healthy, checks: connectivity, experiments_api, artifacts_api} (2025-08) or the SDK probe's 200 {status: ok, tracking_uri, latency_ms} (2026)",
                Api,
                "fix the MLflow health checks of the API",
                "API service",
                false,
            ),
            Line::OpsRoutes => info(
                "§2",
                "An operational route (/ready, /live, /version, /metrics) is missing or wrong",
                "/ready, /live, /version and /metrics answer 200 (with a key where the profile says)",
                Api,
                "restore the operational routes",
                "API service",
                false,
            ),
            Line::AuthHealth => info(
                "§2",
                "The auth service's /health is not a JSON 200",
                "GET {auth}/health is 200 JSON",
                AuthService,
                "restore the auth service's health route",
                "auth service",
                false,
            ),
            Line::KeyFormats => info(
                "§3",
                "A valid key is refused in one of the contract's header forms",
                "a valid key is accepted as `Authorization: Bearer` (scheme in any case) and as `X-API-Key`",
                Api,
                "accept both headers and a case-insensitive Bearer scheme in the API-key middleware",
                "API service",
                true,
            ),
            Line::KeyRequiredEverywhere => info(
                "§3",
                "A path to registry data does not demand a key",
                "every path spelling that reaches registry data requires a key (401 `API key required`)",
                Api,
                "put the API-key middleware in front of every path that reaches MLflow",
                "API service, registry ALB listener rules",
                false,
            ),
            Line::BadKeysRejected => info(
                "§3",
                "Bad keys are not refused with 401 and a detail",
                "malformed, unknown, revoked and expired keys are 401 {\"detail\":…}, never 2xx or 5xx",
                Api,
                "reject bad keys with 401 and FastAPI's detail body",
                "API service",
                false,
            ),
            Line::ValidateCall => info(
                "§3",
                "The API's validate call to the auth service is not as the contract says",
                "the API validates with POST {auth}/api/v1/keys/validate, the key as Bearer, the profile's service_id",
                Api,
                "send the key as Bearer with service_id `platform`",
                "API service, API task definition",
                true,
            ),
            Line::AuthFailureNotBadKey => info(
                "§3",
                "An auth-service failure is reported to clients as a bad key",
                "an auth-service failure is never reported to the client as a bad key (profile: 401 naming the auth service, or 503 + Retry-After)",
                Api,
                "map auth-service errors and timeouts to the profile's answer, not to `Invalid or expired API key`",
                "API service",
                false,
            ),
            Line::AuthRateLimitPassedOn => info(
                "§3",
                "The auth service's 429 does not reach the client as 429",
                "the auth service's 429 reaches the client as 429",
                Api,
                "pass the auth service's 429 on",
                "API service",
                false,
            ),
            Line::UsageReported => info(
                "§3",
                "The API does not report usage to the auth service",
                "after each authenticated request the API reports usage to the auth service",
                Api,
                "report usage after every authenticated request",
                "API service",
                false,
            ),
            Line::WriteScopes => info(
                "§3",
                "Write scopes are not enforced as the profile says",
                "MLflow writes need a write scope; reads do not (403 FORBIDDEN otherwise)",
                Api,
                "enforce write scopes on writes only",
                "API service",
                false,
            ),
            Line::CacheEntry => info(
                "§4",
                "Validations are not cached as the contract says",
                "a successful validation is cached under api_key:validation:<key> with the profile's TTL",
                RedisCache,
                "cache validations with the profile's TTL",
                "API service",
                false,
            ),
            Line::CacheAvoidsRevalidation => info(
                "§4",
                "The API validates again within the cache TTL",
                "within the TTL the API does not call the auth service again",
                RedisCache,
                "read the cache before calling the auth service",
                "API service",
                false,
            ),
            Line::FailuresNotCached => info(
                "§4",
                "The API caches failed validations",
                "failed validations are never cached",
                RedisCache,
                "cache only successful validations",
                "API service",
                false,
            ),
            Line::CacheExpiry => info(
                "§4",
                "An expired cache entry is not re-validated and re-cached",
                "after the entry expires the key is validated again and re-cached",
                RedisCache,
                "re-validate and re-cache on a miss",
                "API service",
                false,
            ),
            Line::RevocationWindow => info(
                "§4",
                "A revoked key keeps working longer than the cache TTL",
                "a revoked key works at most for the cache TTL",
                RedisCache,
                "bound the cache TTL",
                "API service",
                false,
            ),
            Line::RedisDownFallback => info(
                "§4",
                "Authentication breaks when Redis is down",
                "with Redis down authentication still works and /health reports redis unhealthy",
                Api,
                "fall back to the auth service when Redis fails",
                "API service",
                false,
            ),
            Line::RateLimitHeaders => info(
                "§5",
                "The rate-limit headers are missing or do not count",
                "every authenticated answer carries X-RateLimit-Limit/-Remaining/-Reset, Remaining counting down",
                RateLimiter,
                "add the rate-limit headers from the limiter's counter",
                "API service",
                false,
            ),
            Line::RateLimitEnforced => info(
                "§5",
                "The rate limit is not enforced as the contract says",
                "past the key's hourly limit: 429 {\"detail\":\"Rate limit exceeded\"} with Retry-After",
                RateLimiter,
                "enforce the limit per key",
                "API service",
                false,
            ),
            Line::RateLimitPerKey => info(
                "§5",
                "One key over its limit limits other keys",
                "a key over its limit does not affect other keys",
                RateLimiter,
                "count per key id",
                "API service",
                false,
            ),
            Line::ProxyTracking => info(
                "§6",
                "MLflow tracking calls fail through the proxy",
                "MLflow tracking calls work through /api/mlflow/",
                Api,
                "fix the MLflow proxy",
                "API service",
                true,
            ),
            Line::AjaxRewrite => info(
                "§6",
                "The api/2.0 and ajax-api/2.0 spellings answer differently",
                "api/2.0 and ajax-api/2.0 spellings of a call return the same result",
                Api,
                "restore the ajax-api rewrite",
                "API service",
                true,
            ),
            Line::ProxyHeaders => info(
                "§6",
                "The proxy mishandles the identity and key headers",
                "the proxy adds X-Hokusai-* identity headers, strips the key per profile, and never returns it",
                Api,
                "fix the proxy's header handling",
                "API service",
                false,
            ),
            Line::DeleteBodies => info(
                "§6",
                "The proxy drops DELETE bodies",
                "the proxy forwards request bodies for every method, DELETE included",
                Api,
                "forward bodies for every method",
                "API service",
                false,
            ),
            Line::RepeatedQuery => info(
                "§6",
                "The proxy collapses repeated query keys",
                "query strings are forwarded intact, repeated keys included",
                Api,
                "forward the raw query string",
                "API service",
                false,
            ),
            Line::ErrorsPassThrough => info(
                "§6",
                "MLflow's JSON errors are changed on the way through",
                "MLflow's JSON errors reach the client unchanged",
                Api,
                "pass upstream errors through",
                "API service",
                false,
            ),
            Line::HtmlErrorsAsJson => info(
                "§6",
                "MLflow's HTML error pages reach clients as HTML",
                "MLflow's HTML 404/405 become JSON with an MLflow error_code and a message naming the path",
                Api,
                "map HTML error pages to MLflow's error shape",
                "API service",
                false,
            ),
            Line::UpstreamErrors => info(
                "§6",
                "Upstream failures are not mapped to 502/504/500",
                "MLflow unreachable is 502, slower than the upstream timeout is 504, anything else 500, each with a detail",
                Api,
                "map upstream failures to 502/504/500",
                "API service",
                false,
            ),
            Line::ArtifactsProxied => info(
                "§6",
                "Artifacts do not go through the proxy intact",
                "artifacts go up and come back byte-identical through the proxy; a missing one is answered as the profile's MLflow answers it (3.x: 404; 2.9.2: 500 INTERNAL_ERROR)",
                Artifacts,
                "fix artifact proxying",
                "API service, MLflow task definition",
                true,
            ),
            Line::LargeArtifacts => info(
                "§6",
                "Large artifacts do not round-trip intact",
                "bodies are streamed both ways: a large artifact round-trips byte-identical",
                Artifacts,
                "stream request and response bodies",
                "API service",
                false,
            ),
            Line::MalformedBodies => info(
                "§6",
                "A malformed request body is not answered with a 4xx JSON error",
                "a malformed request body is a 4xx with a JSON error, never a hang",
                Api,
                "validate bodies before proxying",
                "API service",
                false,
            ),
            Line::RegistrationWorkflow => info(
                "§7",
                "The registration workflow fails",
                "the registration workflow (experiment, run, metrics, artifacts, model, version, tags) succeeds",
                Mlflow,
                "fix the failing workflow step",
                "MLflow service",
                true,
            ),
            Line::ModelVisible => info(
                "§7",
                "A registered model is not found by the registry's reads",
                "a registered model is found by get, search and latest versions with all Hokusai tags",
                Mlflow,
                "fix the registry reads",
                "MLflow service",
                true,
            ),
            Line::VersionNumbering => info(
                "§7",
                "Model versions are numbered wrongly",
                "a second registration of the same name creates version 2; versions are never handed out twice",
                Mlflow,
                "serialise version creation",
                "MLflow service, RDS",
                true,
            ),
            Line::ReadBack => info(
                "§7",
                "Runs, metrics, params or artifacts do not read back as written",
                "runs, metrics, params and artifacts read back exactly as written",
                Mlflow,
                "fix the tracking store",
                "MLflow service",
                true,
            ),
            Line::WorkflowBudget => info(
                "§7",
                "The registration workflow takes longer than its budget",
                "the whole workflow finishes within 30 s",
                Mlflow,
                "add capacity",
                "API / MLflow services",
                false,
            ),
            Line::NothingLeftBehind => info(
                "§7/§9",
                "What a run creates cannot all be deleted again",
                "everything a run creates can be deleted again",
                Mlflow,
                "make deletes work through the proxy",
                "API service",
                false,
            ),
            Line::EcsServices => info(
                "§8",
                "An ECS service is not running as desired",
                "each service ACTIVE, runningCount == desiredCount >= 1, one PRIMARY deployment COMPLETED, no failures[]",
                EcsServices,
                "read the stopped tasks' reasons; fix the deployment",
                "the ECS service",
                true,
            ),
            Line::SpellingProxyApi => info(
                "§6",
                "The API has no route for /api/mlflow/api/2.0/…",
                "/api/mlflow/api/2.0/… reaches MLflow with a valid key (the contract's primary route)",
                Api,
                "restore the proxy's route for the api/2.0 spelling under /api/mlflow/",
                "API service (proxy routes)",
                true,
            ),
            Line::SpellingProxyAjax => info(
                "§6",
                "The API has no route for /api/mlflow/ajax-api/2.0/…",
                "/api/mlflow/ajax-api/2.0/… reaches MLflow with a valid key",
                Api,
                "restore the proxy's route for the ajax-api/2.0 spelling under /api/mlflow/",
                "API service (proxy routes)",
                true,
            ),
            Line::SpellingMlflowAjax => info(
                "§3/§10",
                "The API has no route for /mlflow/ajax-api/2.0/…",
                "/mlflow/ajax-api/2.0/… reaches MLflow with a valid key where the profile routes it",
                Api,
                "restore the /mlflow/ mount of the proxy",
                "API service (proxy routes)",
                false,
            ),
            Line::SpellingBareApi => info(
                "§3/§10",
                "The API has no route for /api/2.0/mlflow/…",
                "/api/2.0/mlflow/… reaches MLflow with a valid key where the profile routes it (MLflow's own client with the registry host as tracking URI)",
                Api,
                "mount the proxy at /api/2.0/mlflow/ as the profile says",
                "API service (proxy routes)",
                false,
            ),
            Line::SpellingBareAjax => info(
                "§3/§10",
                "The API has no route for /ajax-api/2.0/…",
                "/ajax-api/2.0/… reaches MLflow with a valid key where the profile routes it",
                Api,
                "mount the proxy at /ajax-api/2.0/ as the profile says",
                "API service (proxy routes)",
                false,
            ),
        }
    }

    /// The line of a spelling: it reaches MLflow with a valid key.
    pub fn routed(s: Spelling) -> Line {
        match s {
            Spelling::ProxyApi => Line::SpellingProxyApi,
            Spelling::ProxyAjax => Line::SpellingProxyAjax,
            Spelling::MlflowAjax => Line::SpellingMlflowAjax,
            Spelling::BareApi => Line::SpellingBareApi,
            Spelling::BareAjax => Line::SpellingBareAjax,
        }
    }

    /// The title of a cause on this line: what is broken, then where the contract says it.
    pub fn violation(self) -> String {
        let i = self.info();
        format!("{} (contract {})", i.broken, i.section)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_line_has_a_rule_and_a_fix() {
        for l in Line::iter() {
            let i = l.info();
            assert!(i.section.starts_with('§') && !i.rule.is_empty() && !i.fix.is_empty());
            assert!(!i.broken.is_empty() && i.broken != i.rule, "{l:?}");
            assert_eq!(
                l.id().strip_prefix("contract:").unwrap().parse::<Line>(),
                Ok(l)
            );
        }
    }
}
