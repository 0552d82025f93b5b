//! The lines of `contract.md` that checks verify, as typed data. Every check declares the
//! line it verifies ([`crate::check::CheckSpec::line`]); a failure whose symptoms match no
//! infrastructure fault is reported under that line, with the rule it breaks, the component
//! that owns it, a fix and the resource to change.

use super::Component;

crate::catalogue::vocabulary! {
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
    }
}

/// What a contract line says and who owns it.
#[derive(Debug, Clone, Copy)]
pub struct LineInfo {
    /// `§3`.
    pub section: &'static str,
    /// The rule, one sentence.
    pub rule: &'static str,
    pub component: Component,
    pub fix: &'static str,
    pub resource: &'static str,
    /// Breaking it stops third parties from registering models.
    pub blocks_registration: bool,
}

const fn info(
    section: &'static str,
    rule: &'static str,
    component: Component,
    fix: &'static str,
    resource: &'static str,
    blocks_registration: bool,
) -> LineInfo {
    LineInfo {
        section,
        rule,
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
                "GET / without a key answers 401 {\"detail\":\"API key required\"}",
                Api,
                "restore the API-key middleware on every route",
                "API service",
                false,
            ),
            Line::HealthReportsDependencies => info(
                "§2",
                "GET /health is 200 JSON with status, version, services and timestamp, `healthy` only when every dependency is",
                Api,
                "report every dependency's state in /health",
                "API service",
                false,
            ),
            Line::HealthLatency => info(
                "§2",
                "GET /health answers within 1000 ms",
                Api,
                "make the health probe non-blocking and cheap",
                "API service",
                false,
            ),
            Line::HealthDetailed => info(
                "§2",
                "GET /health?detailed=true is 200 with per-service detail, never a 5xx",
                Api,
                "answer the detailed view with 200 whatever the dependencies' state",
                "API service",
                false,
            ),
            Line::HealthMlflow => info(
                "§2",
                "GET /health/mlflow is 200 {connected: true, circuit_breaker_state: CLOSED} while MLflow answers",
                Api,
                "fix the MLflow health route and its circuit breaker",
                "API service",
                false,
            ),
            Line::ApiHealthMlflow => info(
                "§2",
                "GET /api/health/mlflow is 200 {status: healthy, checks: connectivity, experiments_api, artifacts_api}",
                Api,
                "fix the MLflow health checks of the API",
                "API service",
                false,
            ),
            Line::OpsRoutes => info(
                "§2",
                "/ready, /live, /version and /metrics answer 200 (with a key where the profile says)",
                Api,
                "restore the operational routes",
                "API service",
                false,
            ),
            Line::AuthHealth => info(
                "§2",
                "GET {auth}/health is 200 JSON",
                AuthService,
                "restore the auth service's health route",
                "auth service",
                false,
            ),
            Line::KeyFormats => info(
                "§3",
                "a valid key is accepted as `Authorization: Bearer` (scheme in any case) and as `X-API-Key`",
                Api,
                "accept both headers and a case-insensitive Bearer scheme in the API-key middleware",
                "API service",
                true,
            ),
            Line::KeyRequiredEverywhere => info(
                "§3",
                "every path spelling that reaches registry data requires a key (401 `API key required`)",
                Api,
                "put the API-key middleware in front of every path that reaches MLflow",
                "API service, registry ALB listener rules",
                false,
            ),
            Line::BadKeysRejected => info(
                "§3",
                "malformed, unknown, revoked and expired keys are 401 {\"detail\":…}, never 2xx or 5xx",
                Api,
                "reject bad keys with 401 and FastAPI's detail body",
                "API service",
                false,
            ),
            Line::ValidateCall => info(
                "§3",
                "the API validates with POST {auth}/api/v1/keys/validate, the key as Bearer, the profile's service_id",
                Api,
                "send the key as Bearer with service_id `platform`",
                "API service, API task definition",
                true,
            ),
            Line::AuthFailureNotBadKey => info(
                "§3",
                "an auth-service failure is never reported to the client as a bad key (profile: 401 naming the auth service, or 503 + Retry-After)",
                Api,
                "map auth-service errors and timeouts to the profile's answer, not to `Invalid or expired API key`",
                "API service",
                false,
            ),
            Line::AuthRateLimitPassedOn => info(
                "§3",
                "the auth service's 429 reaches the client as 429",
                Api,
                "pass the auth service's 429 on",
                "API service",
                false,
            ),
            Line::UsageReported => info(
                "§3",
                "after each authenticated request the API reports usage to the auth service",
                Api,
                "report usage after every authenticated request",
                "API service",
                false,
            ),
            Line::WriteScopes => info(
                "§3",
                "MLflow writes need a write scope; reads do not (403 FORBIDDEN otherwise)",
                Api,
                "enforce write scopes on writes only",
                "API service",
                false,
            ),
            Line::CacheEntry => info(
                "§4",
                "a successful validation is cached under api_key:validation:<key> with the profile's TTL",
                RedisCache,
                "cache validations with the profile's TTL",
                "API service",
                false,
            ),
            Line::CacheAvoidsRevalidation => info(
                "§4",
                "within the TTL the API does not call the auth service again",
                RedisCache,
                "read the cache before calling the auth service",
                "API service",
                false,
            ),
            Line::FailuresNotCached => info(
                "§4",
                "failed validations are never cached",
                RedisCache,
                "cache only successful validations",
                "API service",
                false,
            ),
            Line::CacheExpiry => info(
                "§4",
                "after the entry expires the key is validated again and re-cached",
                RedisCache,
                "re-validate and re-cache on a miss",
                "API service",
                false,
            ),
            Line::RevocationWindow => info(
                "§4",
                "a revoked key works at most for the cache TTL",
                RedisCache,
                "bound the cache TTL",
                "API service",
                false,
            ),
            Line::RedisDownFallback => info(
                "§4",
                "with Redis down authentication still works and /health reports redis unhealthy",
                Api,
                "fall back to the auth service when Redis fails",
                "API service",
                false,
            ),
            Line::RateLimitHeaders => info(
                "§5",
                "every authenticated answer carries X-RateLimit-Limit/-Remaining/-Reset, Remaining counting down",
                RateLimiter,
                "add the rate-limit headers from the limiter's counter",
                "API service",
                false,
            ),
            Line::RateLimitEnforced => info(
                "§5",
                "past the key's hourly limit: 429 {\"detail\":\"Rate limit exceeded\"} with Retry-After",
                RateLimiter,
                "enforce the limit per key",
                "API service",
                false,
            ),
            Line::RateLimitPerKey => info(
                "§5",
                "a key over its limit does not affect other keys",
                RateLimiter,
                "count per key id",
                "API service",
                false,
            ),
            Line::ProxyTracking => info(
                "§6",
                "MLflow tracking calls work through /api/mlflow/",
                Api,
                "fix the MLflow proxy",
                "API service",
                true,
            ),
            Line::AjaxRewrite => info(
                "§6",
                "api/2.0 and ajax-api/2.0 spellings of a call return the same result",
                Api,
                "restore the ajax-api rewrite",
                "API service",
                true,
            ),
            Line::ProxyHeaders => info(
                "§6",
                "the proxy adds X-Hokusai-* identity headers, strips the key per profile, and never returns it",
                Api,
                "fix the proxy's header handling",
                "API service",
                false,
            ),
            Line::DeleteBodies => info(
                "§6",
                "the proxy forwards request bodies for every method, DELETE included",
                Api,
                "forward bodies for every method",
                "API service",
                true,
            ),
            Line::RepeatedQuery => info(
                "§6",
                "query strings are forwarded intact, repeated keys included",
                Api,
                "forward the raw query string",
                "API service",
                false,
            ),
            Line::ErrorsPassThrough => info(
                "§6",
                "MLflow's JSON errors reach the client unchanged",
                Api,
                "pass upstream errors through",
                "API service",
                false,
            ),
            Line::HtmlErrorsAsJson => info(
                "§6",
                "MLflow's HTML 404/405 become JSON with an MLflow error_code and a message naming the path",
                Api,
                "map HTML error pages to MLflow's error shape",
                "API service",
                false,
            ),
            Line::UpstreamErrors => info(
                "§6",
                "MLflow unreachable is 502, slower than the upstream timeout is 504, anything else 500, each with a detail",
                Api,
                "map upstream failures to 502/504/500",
                "API service",
                false,
            ),
            Line::ArtifactsProxied => info(
                "§6",
                "artifacts go up and come back byte-identical through the proxy; a missing one is answered as the profile's MLflow answers it (3.x: 404; 2.9.2: 500 INTERNAL_ERROR)",
                Artifacts,
                "fix artifact proxying",
                "API service, MLflow task definition",
                true,
            ),
            Line::LargeArtifacts => info(
                "§6",
                "bodies are streamed both ways: a large artifact round-trips byte-identical",
                Artifacts,
                "stream request and response bodies",
                "API service",
                false,
            ),
            Line::MalformedBodies => info(
                "§6",
                "a malformed request body is a 4xx with a JSON error, never a hang",
                Api,
                "validate bodies before proxying",
                "API service",
                false,
            ),
            Line::RegistrationWorkflow => info(
                "§7",
                "the registration workflow (experiment, run, metrics, artifacts, model, version, tags) succeeds",
                Mlflow,
                "fix the failing workflow step",
                "MLflow service",
                true,
            ),
            Line::ModelVisible => info(
                "§7",
                "a registered model is found by get, search and latest versions with all Hokusai tags",
                Mlflow,
                "fix the registry reads",
                "MLflow service",
                true,
            ),
            Line::VersionNumbering => info(
                "§7",
                "a second registration of the same name creates version 2; versions are never handed out twice",
                Mlflow,
                "serialise version creation",
                "MLflow service, RDS",
                true,
            ),
            Line::ReadBack => info(
                "§7",
                "runs, metrics, params and artifacts read back exactly as written",
                Mlflow,
                "fix the tracking store",
                "MLflow service",
                true,
            ),
            Line::WorkflowBudget => info(
                "§7",
                "the whole workflow finishes within 30 s",
                Mlflow,
                "add capacity",
                "API / MLflow services",
                false,
            ),
            Line::NothingLeftBehind => info(
                "§7/§9",
                "everything a run creates can be deleted again",
                Mlflow,
                "make deletes work through the proxy",
                "API service",
                false,
            ),
            Line::EcsServices => info(
                "§8",
                "each service ACTIVE, runningCount == desiredCount >= 1, one PRIMARY deployment COMPLETED, no failures[]",
                EcsServices,
                "read the stopped tasks' reasons; fix the deployment",
                "the ECS service",
                true,
            ),
        }
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
            assert_eq!(
                l.id().strip_prefix("contract:").unwrap().parse::<Line>(),
                Ok(l)
            );
        }
    }
}
