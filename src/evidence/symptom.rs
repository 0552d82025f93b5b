//! Typed symptoms: what a check observed, recorded as data at the point it was observed, so
//! that root-cause rules ([`crate::report::rca`]) match symptoms and never message text or
//! check ids.
//!
//! Two sources:
//! - every answered or unanswered request is classified once, by shape (host, status, content
//!   type, JSON fields the contract fixes, latency), by the [`Observer`] of the check's
//!   environment, when it is recorded as evidence ([`Symptom`]s on
//!   [`crate::evidence::Evidence`]);
//! - a check's assertion names the symptom it found (a TTL, a header that does not count
//!   down, an ECS state) with [`crate::evidence::Failure::symptom`].
//!
//! Platform wording is never read here: a detail text the contract gives only as an example
//! (the auth service failing, MLflow unreachable) may be worded any way. Only the exact
//! rejection texts that the contract quotes as whole bodies (`API key required`, `Invalid or
//! expired API key`) are compared, and only to tell a rejection of the key from anything else.

use crate::catalogue::{KeyRole, Spelling};
use crate::http::{Exchange, HttpError, HttpErrorKind};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// One typed observation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Symptom {
    /// A load balancer's HTML error page (502/503/504) instead of an application answer.
    AlbErrorPage { host: String, status: u16 },
    /// The API said the auth service failed (2025-08: a 401 that is not a key rejection;
    /// 2026: 503 with `Retry-After`). `slow`: it answered after about the API's auth timeout.
    /// `role` and `via`: the valid key it was asked about, and its header form (a key
    /// rejected in one form while the auth service failed in another was refused by the API
    /// itself, not judged by the auth service).
    AuthServiceFailed {
        status: u16,
        slow: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<KeyRole>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        via: String,
    },
    /// A key the suite holds as valid (`role`) was rejected as unknown/expired when sent
    /// as `via` (`Authorization: Bearer`, `X-API-Key`, ...).
    ValidKeyRejected { role: KeyRole, via: String },
    /// A well-formed key was rejected without the API asking the auth service (seen on the
    /// stand-in's auth log).
    RejectedWithoutValidation,
    /// A key the suite holds as valid (`role`), sent as `via`, was answered "API key
    /// required": the API did not read the key in that header form.
    KeyNotSeen { role: KeyRole, via: String },
    /// A key the suite holds as valid was accepted (2xx) when sent as `via`: not a problem,
    /// the counter-evidence that tells a bad key from a header form the API mishandles. The
    /// path spelling it was sent on: a spelling that answers without any key accepts every
    /// key, so acceptance there says nothing about the key.
    KeyAccepted {
        role: KeyRole,
        via: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spelling: Option<Spelling>,
    },
    /// A 401 whose body has no `detail` (FastAPI's error shape).
    RejectionWithoutDetail { status: u16 },
    /// A request without a key under the proxy mount answered by MLflow's own HTML page (not
    /// the API's 401): no API in front.
    ProxyBypassed { status: u16 },
    /// A keyed request under the proxy mount answered by an HTML error page (the proxy did
    /// not turn it into MLflow's JSON error shape, or no proxy is in front).
    HtmlFromUpstream { status: u16 },
    /// A proxied call got MLflow's own answer (2xx): counter-evidence that MLflow is
    /// reachable from the API, whatever a health route says.
    UpstreamAnswered {
        /// The path spelling it went through (a spelling that reached MLflow is routed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spelling: Option<Spelling>,
    },
    /// `/health/mlflow` said not connected while its circuit breaker was closed: the API's
    /// own attempt to reach MLflow failed just then (an open breaker no longer tries).
    MlflowProbeFailed,
    /// A proxied call answered with a server error (`status`) only after the proxy's
    /// upstream timeout: MLflow did not answer in time, and the proxy said so as a 500, not
    /// the contract's 504.
    UpstreamTimeoutAsServerError { status: u16 },
    /// An `error_code` that MLflow's clients do not know.
    UnknownErrorCode { code: String },
    /// The proxy could not connect to MLflow (502 JSON on a proxied route).
    UpstreamUnreachable,
    /// The proxy gave up waiting for MLflow (504 on a proxied route).
    UpstreamTimeout,
    /// Artifact serving is off (503 `ARTIFACTS_DISABLED`).
    ArtifactsDisabled,
    /// A real MLflow endpoint under the `api/2.0` spelling answered 404 `ENDPOINT_NOT_FOUND`.
    ApiSpellingNotFound,
    /// MLflow received the key (seen on the stand-in's upstream).
    KeyForwarded,
    /// A response carried the key back.
    KeyEchoed,
    /// A write refused with 403 `FORBIDDEN`.
    WriteForbidden,
    /// A health route says this dependency is unhealthy (`mlflow`, `redis`, `connectivity`, ...).
    DependencyUnhealthy { service: String },
    /// Not a problem: a health route says this dependency is healthy (counter-evidence when
    /// another route says it is down).
    DependencyHealthy { service: String },
    /// A health route calls a dependency healthy while calls through it fail.
    HealthContradicted { service: String },
    /// No cache entry after a successful validation.
    CacheEntryMissing,
    /// A cache entry was there after a validation: not a problem, the counter-evidence that
    /// the cache works at all.
    CacheEntryPresent,
    /// No entry under the profile's name, but one under another (`pattern`: its name with
    /// the key shown as `<key>`): the cache works, under a name the contract does not give.
    CacheEntryElsewhere { pattern: String },
    /// A delete was answered as done, but the object is still there.
    DeleteNotApplied,
    /// A cache entry with another TTL than the profile's.
    CacheTtl { got: i64, want: i64 },
    /// A revoked key kept working longer than the TTL, or an entry without expiry.
    RevocationWindow { got_s: i64, want_s: i64 },
    /// A request renewed the cache entry's TTL (a key in use never expires).
    CacheRenewedOnUse { before_ms: i64, after_ms: i64 },
    /// Authenticated answers without `X-RateLimit-*` headers.
    RateLimitHeadersMissing,
    /// `X-RateLimit-Remaining` did not drop by one per request.
    RateLimitNotCounting { first: u64, second: u64 },
    /// No 429 past the limit.
    RateLimitNotEnforced { sent: u64 },
    /// An answer that took longer than the slowest the contract allows any cheap route
    /// (the health budget); not for answers whose slowness another symptom explains.
    SlowAnswer { route: String },
    /// An answer slower than its budget.
    LatencyOverBudget {
        route: String,
        ms: u64,
        budget_ms: u64,
    },
    /// `DescribeServices` reports the service missing.
    EcsServiceMissing { service: String },
    /// The service is not at its desired count, not ACTIVE, or its rollout did not complete.
    EcsServiceUnhealthy { service: String },
    /// A 5xx from the application (JSON or plain, not an ALB page, not a proxy mapping above).
    ServerError { route: String, status: u16 },
    /// No answer at all.
    Unanswered { host: String, class: String },
    /// No answer in time on one route of a host that answers its other routes.
    RouteTimedOut { host: String, route: String },
    /// The run's time budget ran out before the check finished.
    OutOfTime { budget_s: u64 },
    /// A cheap request (an unauthenticated one the API rejects at once) sent while a slow
    /// request was in flight was answered only after the slow one: the API serves one
    /// request at a time while it waits (a blocked event loop).
    BlockedBehindSlowRequest {
        slow_route: String,
        waited_ms: u64,
        alone_ms: u64,
    },
    /// Something the check created could not be deleted.
    CleanupRefused { what: String, status: Option<u16> },
    /// The proxy dropped a DELETE request's body (MLflow saw none).
    RequestBodyDropped,
    /// A repeated query key reached MLflow with one value.
    RepeatedQueryCollapsed,
    /// The API's call to the auth service is not as the contract says.
    ValidateCallWrong { what: String },
    /// The API reached the auth service without the key being valid for this service id, or
    /// the service id sent is wrong (seen on the stand-in's auth log).
    ServiceIdWrong { got: Option<String>, want: String },
    /// The auth cache served a failed validation, or revalidated within the TTL.
    CacheBehaviour { what: String },
    /// The registry returned data without a key.
    DataWithoutKey { route: String },
    /// A request without a key was answered from behind the auth layer, though with no data
    /// (the proxy's 502 about MLflow, a 500 of the route): the route does not demand a key.
    KeyNotDemanded { route: String },
    /// Not a failure: the auth cache's key names hold raw API keys (`pattern`), so anybody
    /// who can list Redis keys can read every cached key. Reported as a security
    /// observation.
    KeysAtRestInPlainText { pattern: String },
    /// A valid key (`role`) was answered 429 without the limiter's `X-RateLimit-*` headers:
    /// its validation was throttled (the auth service's 429 passed on), not the key's own
    /// hourly budget spent. `via`: its header form (a key refused in one form while its
    /// validation was throttled in another was refused by the API itself, not judged).
    ValidationThrottled {
        role: Option<KeyRole>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        via: String,
    },
    /// A valid key on a spelling the profile routes to MLflow got the API's own 404
    /// (`{"detail"}`, no MLflow `error_code`): the API has no route for that spelling.
    SpellingUnrouted { spelling: Spelling },
    /// Not a problem: the auth service's `/health` answered 200 JSON (counter-evidence that
    /// the auth service itself is up).
    AuthHealthy,
    /// The auth service answered the API's validation with 429 (seen in the stand-in's auth
    /// log): it throttles the API, whatever the client was told.
    AuthServiceThrottled,
    /// The auth service's 429 reached the client as a bad key (401), seen with the auth log.
    ThrottleReportedAsBadKey,
    /// A key was told it is bad (401, the contract's rejection body) only after about the
    /// API's auth timeout: no judgement of the key, the auth service's timeout told as a bad
    /// key. `role`: a key the suite holds as valid (from the answer's latency); none: any key,
    /// seen with the stand-in's auth log (no answer to the API's validation).
    SlowKeyRejection { role: Option<KeyRole> },
    /// The auth service gave the API no answer in time (its log), and the client was told
    /// its key is bad (401).
    TimeoutReportedAsBadKey,
    /// The auth service failed the API's validation (the platform's own count, read around
    /// the request on the stand-in), and the client was told its key is bad (401 with the
    /// contract's rejection body): no judgement of the key.
    AuthFailureReportedAsBadKey,
    /// With Redis down (taken away, or off for the whole run), a keyed request got a server
    /// error: the API's authentication does not fall back to the auth service.
    AuthNeedsRedis,
}

impl Symptom {
    /// A request that met this never reached what the check verifies: the platform failed
    /// it in front (the step, and the contract line that step verifies). A check that then
    /// fails is blocked on that line, unless it is its own ([`crate::check::verdict`]).
    pub fn blocks(&self) -> Option<(&'static str, super::Line)> {
        match self {
            Symptom::AuthNeedsRedis => Some((
                "the auth layer answering (it failed the request itself, Redis down)",
                super::Line::RedisDownFallback,
            )),
            _ => None,
        }
    }

    /// One sentence a person reads at once (the report shows it; report.json keeps the
    /// typed symptom beside it).
    pub fn sentence(&self) -> String {
        use Symptom as S;
        match self {
            S::AlbErrorPage { host, status } => {
                format!("the {host} load balancer answered its own HTML {status} page")
            }
            S::AuthServiceFailed { status, slow, .. } => format!(
                "the API answered {status} naming the auth service{}",
                if *slow {
                    ", after about its auth timeout"
                } else {
                    ""
                }
            ),
            S::ValidKeyRejected { role, via } => {
                format!("the {role} key, valid, was rejected as unknown when sent as {via}")
            }
            S::KeyNotSeen { role, via } => {
                format!("the {role} key, sent as {via}, was answered as if no key was sent")
            }
            S::RejectedWithoutValidation => {
                "a well-formed key was rejected without the auth service being asked".into()
            }
            S::KeyAccepted { role, via, .. } => format!("the {role} key was accepted as {via}"),
            S::RejectionWithoutDetail { status } => {
                format!("a {status} rejection came without FastAPI's `detail`")
            }
            S::ProxyBypassed { status } => format!(
                "a request without a key under the proxy mount got MLflow's own HTML {status}: no API in front"
            ),
            S::HtmlFromUpstream { status } => {
                format!("a keyed proxied call got an HTML {status} page instead of JSON")
            }
            S::UpstreamAnswered { .. } => "a proxied call got MLflow's answer".into(),
            S::UpstreamTimeoutAsServerError { status } => format!(
                "a proxied call answered {status} only after the proxy's upstream timeout"
            ),
            S::MlflowProbeFailed => {
                "the API's probe of MLflow failed with its circuit breaker closed".into()
            }
            S::UnknownErrorCode { code } => {
                format!("an error carried `{code}`, a code MLflow's clients do not know")
            }
            S::UpstreamUnreachable => {
                "the proxy answered 502: it could not connect to MLflow".into()
            }
            S::UpstreamTimeout => "the proxy answered 504: MLflow did not answer in time".into(),
            S::ArtifactsDisabled => "artifact serving is off (503 ARTIFACTS_DISABLED)".into(),
            S::ApiSpellingNotFound => {
                "an MLflow endpoint under the api/2.0 spelling answered 404 ENDPOINT_NOT_FOUND"
                    .into()
            }
            S::KeyForwarded => "MLflow received the API key from the proxy".into(),
            S::KeyEchoed => "a response carried the API key back".into(),
            S::WriteForbidden => "a write was refused with 403 FORBIDDEN".into(),
            S::DependencyUnhealthy { service } => {
                format!("{service} reported unhealthy (by a health route or a direct probe)")
            }
            S::DependencyHealthy { service } => format!("a health route reports {service} healthy"),
            S::HealthContradicted { service } => {
                format!("a health route calls {service} healthy while calls through it fail")
            }
            S::CacheEntryMissing => "no auth-cache entry after a successful validation".into(),
            S::CacheEntryPresent => "an auth-cache entry after a validation".into(),
            S::CacheEntryElsewhere { pattern } => {
                format!("the validation was cached under another name: {pattern}")
            }
            S::DeleteNotApplied => {
                "a delete was answered as done, but the object is still there".into()
            }
            S::CacheTtl { got, want } => {
                format!("an auth-cache entry with a TTL of {got} s where the profile says {want} s")
            }
            S::RevocationWindow { got_s, want_s } => format!(
                "a revoked key would keep working for {got_s} s, longer than the {want_s} s TTL"
            ),
            S::CacheRenewedOnUse {
                before_ms,
                after_ms,
            } => format!(
                "one request renewed the cache entry's TTL ({before_ms} ms, then {after_ms} ms)"
            ),
            S::RateLimitHeadersMissing => {
                "authenticated answers without X-RateLimit-* headers".into()
            }
            S::RateLimitNotCounting { first, second } => format!(
                "X-RateLimit-Remaining did not drop by one per request ({first}, then {second})"
            ),
            S::RateLimitNotEnforced { sent } => {
                format!("no 429 after {sent} requests past the limit")
            }
            S::SlowAnswer { route } => format!("{route} answered slower than the health budget"),
            S::LatencyOverBudget {
                route,
                ms,
                budget_ms,
            } => format!("{route} took {ms} ms, over its {budget_ms} ms budget"),
            S::EcsServiceMissing { service } => format!("ECS reports {service} missing"),
            S::EcsServiceUnhealthy { service } => {
                format!("ECS reports {service} not running as desired")
            }
            S::ServerError { route, status } => format!("{route} answered {status}"),
            S::Unanswered { host, class } => format!("no answer from the {host} host ({class})"),
            S::RouteTimedOut { host, route } => {
                format!("{route} on the {host} host gave no answer in time while others did")
            }
            S::OutOfTime { budget_s } => format!("the run's {budget_s} s budget ran out"),
            S::BlockedBehindSlowRequest {
                slow_route,
                waited_ms,
                alone_ms,
            } => format!(
                "a cheap request waited {waited_ms} ms behind {slow_route} (alone: {alone_ms} ms)"
            ),
            S::CleanupRefused { what, status } => match status {
                Some(st) => format!("clean-up refused: deleting {what} answered {st}"),
                None => format!("clean-up refused: {what} could not be deleted"),
            },
            S::RequestBodyDropped => {
                "MLflow refused a DELETE for want of its JSON body: the body did not arrive".into()
            }
            S::RepeatedQueryCollapsed => {
                "a repeated query key reached MLflow with one value".into()
            }
            S::ValidateCallWrong { what } => format!("the API's validate call: {what}"),
            S::ServiceIdWrong { got, want } => format!(
                "the API sent service id {} where {want} is expected",
                got.as_deref().unwrap_or("(none)")
            ),
            S::CacheBehaviour { what } => format!("the auth cache: {what}"),
            S::DataWithoutKey { route } => format!("{route} returned registry data without a key"),
            S::KeyNotDemanded { route } => {
                format!("{route} answered from behind the auth layer without a key")
            }
            S::KeysAtRestInPlainText { pattern } => {
                format!("the auth cache names its entries {pattern}: keys in plain text")
            }
            S::ValidationThrottled { role, .. } => format!(
                "{} got 429 without X-RateLimit-* headers: its validation was throttled",
                role.map_or("a key".to_owned(), |r| format!("the {r} key"))
            ),
            S::SpellingUnrouted { spelling } => format!(
                "a valid key on {}… got the API's own 404: no route for that spelling",
                spelling.prefix()
            ),
            S::AuthHealthy => "the auth service's /health answered 200".into(),
            S::AuthServiceThrottled => {
                "the auth service answered the API's validation with 429 (its log)".into()
            }
            S::ThrottleReportedAsBadKey => {
                "the auth service throttled the validation (429), and the client was told its key is bad (401)".into()
            }
            S::SlowKeyRejection { role } => format!(
                "{} was told it is bad (401) only after about the API's auth timeout: the auth service's timeout told as a bad key",
                role.map_or("a key".to_owned(), |r| format!("the {r} key"))
            ),
            S::TimeoutReportedAsBadKey => {
                "the auth service gave the API no answer in time, and the client was told its key is bad (401)".into()
            }
            S::AuthNeedsRedis => {
                "with Redis down, a keyed request got a server error: authentication does not fall back to the auth service".into()
            }
            S::AuthFailureReportedAsBadKey => {
                "the auth service failed the API's validation (the platform's own count), and the client was told its key is bad (401)".into()
            }
        }
    }
}

/// What a stand-in knows of its own timeouts and failures: how many validations its auth
/// service left unanswered past the API's timeout, how many validations failed (the auth
/// service down, erring or timing out), how many it throttled, how many requests its auth
/// middleware failed itself for want of Redis, and how many calls its proxy gave up on. An answer that only looks slow (a loaded test machine) is no timeout where none
/// happened, and a rejection worded otherwise is no auth-service failure where none happened.
#[derive(Debug, Default)]
pub struct Timeouts {
    pub auth: std::sync::atomic::AtomicUsize,
    pub auth_failures: std::sync::atomic::AtomicUsize,
    pub auth_throttled: std::sync::atomic::AtomicUsize,
    pub auth_redis_errors: std::sync::atomic::AtomicUsize,
    pub upstream: std::sync::atomic::AtomicUsize,
}

impl Timeouts {
    /// The counts a request's [`crate::http::Exchange::counted`] is taken from.
    pub fn counts(&self) -> crate::http::AuthCounts {
        let n = |a: &std::sync::atomic::AtomicUsize| a.load(std::sync::atomic::Ordering::SeqCst);
        crate::http::AuthCounts {
            auth_failures: n(&self.auth_failures),
            auth_throttled: n(&self.auth_throttled),
            redis_errors: n(&self.auth_redis_errors),
        }
    }

    fn any(n: &std::sync::atomic::AtomicUsize) -> bool {
        n.load(std::sync::atomic::Ordering::SeqCst) > 0
    }
}

/// The facts an [`Observer`] needs to classify an answer: the profile's auth-failure shape,
/// the API's auth timeout, and which raw keys the suite holds as valid.
#[derive(Clone, Default)]
pub struct Observer {
    pub auth_failure_status: u16,
    /// The API's timeout for its call to the auth service (contract: 5 s; shorter on a fast
    /// stand-in).
    pub auth_timeout: Duration,
    /// An answer slower than this is a `slow_answer` (the profile's health budget).
    pub slow_answer: Duration,
    /// The proxy's timeout for MLflow (contract: a 504 after it; shorter on a fast
    /// stand-in): a proxied 500 that came only after it is that timeout told as a 500.
    pub upstream_timeout: Duration,
    /// Keys that must be accepted (primary, second, low-limit); compared, never printed.
    pub(crate) valid_keys: Vec<(KeyRole, secrecy::SecretString)>,
    /// The spellings the profile routes to MLflow.
    pub routed: Vec<Spelling>,
    /// A valid key rejected after the whole auth timeout is read as that timeout from the
    /// answer's latency: on a live target, which keeps no auth log to ask (the stand-in's log
    /// says it, see `KeyDecision::judged`; latency on a loaded test machine would not).
    pub rejection_latency_judged: bool,
    /// On the stand-in, its own count of timeouts: latency names a timeout only where one
    /// happened (`None` on a live target, which keeps no such log).
    pub standin_timeouts: Option<Arc<Timeouts>>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("auth_failure_status", &self.auth_failure_status)
            .field("auth_timeout", &self.auth_timeout)
            .field(
                "valid_keys",
                &format!("[{} redacted]", self.valid_keys.len()),
            )
            .finish()
    }
}

/// The exact bodies the contract quotes for a rejected key.
const KEY_REQUIRED: &str = "API key required";
const KEY_INVALID: &str = "Invalid or expired API key";

/// The endpoint the suite asks for on purpose to see an unknown-route error: its 404 is the
/// expected answer, not a missing route.
pub const UNKNOWN_ENDPOINT: &str = "no-such-endpoint";

fn path_of(line: &str) -> &str {
    let p = line.split_whitespace().nth(1).unwrap_or("");
    p.split('?').next().unwrap_or(p)
}

/// The route family of a path, for grouping (`/api/mlflow/api/2.0/mlflow/experiments/search`
/// stays whole, ids are not in paths).
fn is_proxied(path: &str) -> bool {
    path.starts_with("/api/mlflow/") || path.starts_with("/mlflow/") || Spelling::of(path).is_some()
}

impl Observer {
    /// The role of the valid key the request carried, if any.
    pub(crate) fn valid_role(&self, ex: &Exchange) -> Option<KeyRole> {
        use secrecy::ExposeSecret;
        self.valid_keys
            .iter()
            .find(|(_, k)| ex.secrets.iter().any(|s| s == k.expose_secret()))
            .map(|(role, _)| *role)
    }

    /// Classifies one answer by its shape.
    pub fn observe(&self, host: &str, ex: &Exchange) -> Vec<Symptom> {
        let mut out = Vec::new();
        let path = path_of(&ex.line);
        let json = ex.json();
        let html = ex.is_html();
        let status = ex.status;
        let detail = json.as_ref().and_then(|v| v.get("detail"));
        let detail_str = detail.and_then(|d| d.as_str());
        if ex.echoes_secret() {
            out.push(Symptom::KeyEchoed);
        }
        // A load balancer's page: off the proxy mount, or from any other host.
        if html && matches!(status, 502..=504) && (!is_proxied(path) || host != "registry") {
            out.push(Symptom::AlbErrorPage {
                host: host.to_owned(),
                status,
            });
            return out;
        }
        // Up, whatever its health route's body looks like (that is the auth-health line's).
        if host == "auth" && path == "/health" && status == 200 {
            out.push(Symptom::AuthHealthy);
        }
        if host != "registry" {
            return out;
        }
        // An HTML page under the proxy mount that the API would have turned into JSON. Without
        // a key it also means the API was not asked at all (no 401).
        // MLflow's own HTML error pages are its 404 and 405; any other HTML page (a firewall's
        // 403) is not MLflow's, and says nothing about the proxy.
        if html && is_proxied(path) && matches!(status, 404 | 405 | 502..=504) {
            if matches!(status, 502..=504) {
                out.push(Symptom::AlbErrorPage {
                    host: host.to_owned(),
                    status,
                });
            } else if ex.secrets.is_empty() {
                out.push(Symptom::ProxyBypassed { status });
            } else {
                out.push(Symptom::HtmlFromUpstream { status });
            }
            return out;
        }
        if let Some(code) = json
            .as_ref()
            .and_then(|v| v.get("error_code"))
            .and_then(|v| v.as_str())
            && !crate::catalogue::MLFLOW_ERROR_CODES.contains(&code)
        {
            out.push(Symptom::UnknownErrorCode {
                code: code.to_owned(),
            });
        }
        if let Some(body) = &json {
            health_report(path, body, &mut out);
        }
        let timeout_as_500 = status == 500 && is_proxied(path) && self.upstream_gave_up(ex);
        if timeout_as_500 {
            out.push(Symptom::UpstreamTimeoutAsServerError { status });
        }
        let explained = out.iter().any(|s| {
            matches!(
                s,
                Symptom::AuthServiceFailed { .. } | Symptom::UpstreamTimeout
            )
        }) || matches!(status, 502 | 504)
            || timeout_as_500;
        // An artifact transfer takes what its size takes: never a slow answer.
        let transfer = path.contains("/mlflow-artifacts/");
        if !self.slow_answer.is_zero() && ex.latency > self.slow_answer && !explained && !transfer {
            out.push(Symptom::SlowAnswer {
                route: route_family(path),
            });
        }
        if is_proxied(path) && (200..300).contains(&status) {
            let answered = Symptom::UpstreamAnswered {
                spelling: Spelling::of(path),
            };
            if !out.contains(&answered) {
                out.push(answered);
            }
        }
        let role = self.valid_role(ex);
        // Accepted: answered from behind the auth layer (whatever the route then said), not
        // refused (401/403), throttled (429) or failed by it (503 with Retry-After).
        // The platform's own count says its auth middleware failed this request itself (no
        // Redis): the key was judged by no one.
        let auth_layer_failed = ex.counted.auth_layer_failed(status);
        let refused = matches!(status, 401 | 403 | 429)
            || (status == 503 && ex.header("retry-after").is_some())
            || auth_layer_failed;
        // A route's 404/405 without MLflow's `error_code` shows no judgement of the key: a
        // missing route answers it before any auth (FastAPI routes first).
        let no_route = matches!(status, 404 | 405)
            && !json
                .as_ref()
                .is_some_and(|v| v.get("error_code").is_some_and(|c| c.is_string()));
        let behind_auth = !refused && !no_route;
        if let Some(role) = role
            && behind_auth
        {
            out.push(Symptom::KeyAccepted {
                role,
                via: ex.auth.clone(),
                spelling: Spelling::of(path),
            });
        }
        // Only a request that presented a key can have made the API call the auth service.
        let keyed = !ex.secrets.is_empty();
        match status {
            _ if auth_layer_failed && keyed => out.push(Symptom::AuthNeedsRedis),
            401 => match detail_str {
                None => out.push(Symptom::RejectionWithoutDetail { status }),
                Some(KEY_INVALID) if self.rejected_after_auth_timeout(ex) => {
                    out.push(Symptom::SlowKeyRejection { role })
                }
                // The platform's own count says its auth service failed a validation while
                // this request was in flight: the rejection judged no key.
                Some(KEY_INVALID) if keyed && ex.counted.auth_failures > 0 => {
                    out.push(self.auth_failed(ex));
                    out.push(Symptom::AuthFailureReportedAsBadKey);
                }
                Some(KEY_INVALID) if let Some(role) = role => out.push(Symptom::ValidKeyRejected {
                    role,
                    via: ex.auth.clone(),
                }),
                Some(KEY_REQUIRED) if let Some(role) = role => out.push(Symptom::KeyNotSeen {
                    role,
                    via: ex.auth.clone(),
                }),
                Some(KEY_INVALID) | Some(KEY_REQUIRED) => {}
                // A 401 that is not one of the rejection bodies: the API's way (2025-08) of
                // saying that the auth service failed, whatever its wording; on the stand-in
                // only where its auth service did fail (else a rejection worded otherwise,
                // such as a cached failure).
                Some(_) if keyed && self.auth_failure_status == 401 && !self.no_auth_failure() => {
                    out.push(self.auth_failed(ex))
                }
                Some(_) if keyed && self.auth_failure_status == 401 => {
                    if let Some(role) = role {
                        out.push(Symptom::ValidKeyRejected {
                            role,
                            via: ex.auth.clone(),
                        })
                    }
                }
                Some(_) => {}
            },
            503 if ex.header("retry-after").is_some()
                && keyed
                && self.auth_failure_status == 503
                && !artifacts_disabled(detail) =>
            {
                out.push(self.auth_failed(ex))
            }
            503 if artifacts_disabled(detail) => out.push(Symptom::ArtifactsDisabled),
            403 if json
                .as_ref()
                .and_then(|v| v.get("error"))
                .and_then(|v| v.as_str())
                == Some("FORBIDDEN") =>
            {
                out.push(Symptom::WriteForbidden)
            }
            502 if is_proxied(path) && detail.is_some() => out.push(Symptom::UpstreamUnreachable),
            504 if is_proxied(path) => out.push(Symptom::UpstreamTimeout),
            404 if path.contains("/api/2.0/")
                && is_proxied(path)
                && !path.contains(UNKNOWN_ENDPOINT)
                && json
                    .as_ref()
                    .and_then(|v| v.get("error_code"))
                    .and_then(|v| v.as_str())
                    == Some("ENDPOINT_NOT_FOUND") =>
            {
                out.push(Symptom::ApiSpellingNotFound)
            }
            429 if ex.header("x-ratelimit-limit").is_none() && keyed => {
                out.push(Symptom::ValidationThrottled {
                    role,
                    via: ex.auth.clone(),
                });
                // The platform's own count says its auth service throttled a validation
                // while this request was in flight: whatever key it carried, that 429 is
                // the auth service's.
                if ex.counted.auth_throttled > 0 {
                    out.push(Symptom::AuthServiceThrottled);
                }
            }
            404 if role.is_some()
                && detail.is_some()
                && json.as_ref().is_some_and(|v| v.get("error_code").is_none())
                && Spelling::of(path).is_some_and(|s| self.routed.contains(&s)) =>
            {
                out.push(Symptom::SpellingUnrouted {
                    spelling: Spelling::of(path).expect("matched above"),
                })
            }
            s if s >= 500 => out.push(Symptom::ServerError {
                route: route_family(path),
                status: s,
            }),
            _ => {}
        }
        out
    }

    /// MLflow did not answer a proxied call: the proxy's 502 or 504, or a 500 that came only
    /// after the proxy's upstream timeout (the timeout told as a server error).
    pub fn mlflow_not_answering(&self, ex: &Exchange) -> bool {
        let path = path_of(&ex.line);
        is_proxied(path)
            && (matches!(ex.status, 502 | 504) || (ex.status == 500 && self.upstream_gave_up(ex)))
    }

    /// On the stand-in, its auth service never failed a validation.
    fn no_auth_failure(&self) -> bool {
        self.standin_timeouts
            .as_ref()
            .is_some_and(|t| !Timeouts::any(&t.auth_failures))
    }

    /// The answer came only after the proxy's upstream timeout (and, on the stand-in, its
    /// proxy did give up on a call).
    fn upstream_gave_up(&self, ex: &Exchange) -> bool {
        if let Some(t) = &self.standin_timeouts
            && !Timeouts::any(&t.upstream)
        {
            return false;
        }
        !self.upstream_timeout.is_zero() && ex.latency >= self.upstream_timeout
    }

    fn auth_failed(&self, ex: &Exchange) -> Symptom {
        Symptom::AuthServiceFailed {
            status: ex.status,
            slow: self.after_auth_timeout(ex),
            role: self.valid_role(ex),
            via: ex.auth.clone(),
        }
    }

    /// The API gives up on the auth service after its timeout: an answer that took most of
    /// it is the timeout, whatever the words say.
    fn after_auth_timeout(&self, ex: &Exchange) -> bool {
        if let Some(t) = &self.standin_timeouts
            && !Timeouts::any(&t.auth)
        {
            return false;
        }
        !self.auth_timeout.is_zero()
            && ex.latency.as_secs_f64() >= 0.8 * self.auth_timeout.as_secs_f64()
    }

    /// A valid key told it is bad (401, the contract's rejection body) only after about the
    /// API's auth timeout: the auth layer did not judge the key. Only a key the suite holds
    /// as valid: a registry slow on every answer rejects bad keys slowly too, and rightly.
    /// The whole timeout, not most of it: the API cannot have given up before it (a quick
    /// rejection queued on a busy machine takes most of a short timeout).
    pub fn rejected_after_auth_timeout(&self, ex: &Exchange) -> bool {
        self.rejection_latency_judged
            && self.valid_role(ex).is_some()
            && ex.status == 401
            && ex.detail().as_deref() == Some(KEY_INVALID)
            && !ex.secrets.is_empty()
            && !self.auth_timeout.is_zero()
            && ex.latency >= self.auth_timeout
    }

    /// Classifies a request that got no answer.
    pub fn unanswered(&self, host: &str, e: &HttpError) -> Vec<Symptom> {
        if e.slow_route {
            return vec![Symptom::RouteTimedOut {
                host: host.to_owned(),
                route: e.route().to_owned(),
            }];
        }
        let class = match e.kind {
            HttpErrorKind::Timeout => "timeout",
            HttpErrorKind::Refused | HttpErrorKind::Connect => "unreachable",
            HttpErrorKind::Tls => "tls",
            _ => "broken response",
        };
        vec![Symptom::Unanswered {
            host: host.to_owned(),
            class: class.to_owned(),
        }]
    }
}

/// What the health routes say about dependencies (the contract fixes these fields and their
/// values, not any wording): `/health`'s `services`, `/health/mlflow`'s `connected`,
/// `/api/health/mlflow`'s `checks` (under `detail` when it answers 503), `/ready`'s `checks`.
fn health_report(path: &str, body: &serde_json::Value, out: &mut Vec<Symptom>) {
    use serde_json::Value;
    let state = |v: &Value| {
        let word = v
            .as_str()
            .or_else(|| v.get("status").and_then(Value::as_str));
        match (v, word) {
            (Value::Bool(b), _) => Some(*b),
            (_, Some("unhealthy")) => Some(false),
            (_, Some("healthy" | "ok")) => Some(true),
            _ => None,
        }
    };
    // Unhealthy is a symptom; healthy is counter-evidence (another route saying a dependency
    // is up while one says it is down).
    let mut say = |service: &str, up: bool| {
        let service = match service {
            "database" | "db" => "postgres",
            "connectivity" | "experiments_api" => "mlflow",
            other => other,
        }
        .to_owned();
        let s = if up {
            Symptom::DependencyHealthy { service }
        } else {
            Symptom::DependencyUnhealthy { service }
        };
        if !out.contains(&s) {
            out.push(s);
        }
    };
    match path {
        "/health" | "/ready" => {
            let map = body
                .get("services")
                .or_else(|| body.get("checks"))
                .and_then(Value::as_object);
            for (name, v) in map.into_iter().flatten() {
                if let Some(up) = state(v) {
                    say(name, up);
                }
            }
        }
        "/health/mlflow" => {
            if let Some(Value::Bool(up)) = body.get("connected") {
                say("mlflow", *up);
                // Not connected while the breaker is still closed: the API tried MLflow just
                // now and failed (an open breaker stops trying, contract section 2).
                if !*up
                    && body.get("circuit_breaker_state").and_then(Value::as_str) == Some("CLOSED")
                    && !out.contains(&Symptom::MlflowProbeFailed)
                {
                    out.push(Symptom::MlflowProbeFailed);
                }
            }
        }
        // The client SDK's probe (`{status: ok|error, tracking_uri, …}`): not `ok` is MLflow
        // not answering it.
        "/api/health/mlflow" if body.get("tracking_uri").is_some() => {
            say(
                "mlflow",
                body.get("status").and_then(Value::as_str) == Some("ok"),
            );
        }
        "/api/health/mlflow" => {
            let r = body.get("detail").filter(|d| d.is_object()).unwrap_or(body);
            for k in ["connectivity", "experiments_api"] {
                if let Some(up) = r.pointer(&format!("/checks/{k}")).and_then(state) {
                    say(k, up);
                }
            }
            if r.pointer("/checks/artifacts_api/status")
                .and_then(Value::as_str)
                == Some("disabled")
            {
                out.push(Symptom::ArtifactsDisabled);
            }
        }
        _ => {}
    }
}

fn artifacts_disabled(detail: Option<&serde_json::Value>) -> bool {
    detail.and_then(|d| d.get("error")).and_then(|v| v.as_str()) == Some("ARTIFACTS_DISABLED")
}

/// A path without its variable parts, for grouping symptoms by route.
pub fn route_family(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    if let Some(i) = path.find("/mlflow-artifacts/artifacts/") {
        return format!("{}/mlflow-artifacts/artifacts/…", &path[..i]);
    }
    path.to_owned()
}
