//! Checklist area 2, authentication (contract sections 3-5): both key formats, the auth
//! service integration, invalid keys, the auth cache and rate limiting.
//!
//! Checks that must look inside the platform (the auth service's call log, injected auth
//! failures) run on the stand-in and skip on a live target with the reason; checks that
//! need Redis skip when it is not reachable from where the suite runs.

use super::expect;
use super::{KeyDecision, key_got_through, keyless_symptom, proxied_read, proxied_read_path};
use crate::catalogue::{Area, KeyRole, Spelling};
use crate::check::inject::Injected;
use crate::check::{Check, CheckFuture, CheckSpec, Component, Failure, Line, ensure};
use crate::check::{Need, ResultExt, Symptom};
use crate::config::Profile;
use crate::http::{Auth, Exchange, Req};
use crate::secret::ApiKey;
use crate::standin::{AuthOverride, SentKey};
use secrecy::SecretString;
use std::time::{Duration, Instant};
use strum::IntoEnumIterator;

pub const AREA: Area = Area::Authentication;

/// The ways a key can be presented (contract §3: both header forms, any case of `Bearer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum KeyFormat {
    Bearer,
    BearerLowercase,
    BearerUppercase,
    XApiKey,
}

/// Keys that must be refused with 401: malformed ones (never sent to the auth service as
/// keys) and well-formed ones the auth service rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum RejectedKey {
    WrongPrefix,
    Short,
    Long,
    BadCharacters,
    Empty,
    Whitespace,
    HugeHeader,
    Unknown,
    Revoked,
    Expired,
}

impl RejectedKey {
    /// The role whose key this case sends, when it sends one the run must hold.
    fn role(self) -> Option<KeyRole> {
        match self {
            RejectedKey::Revoked => Some(KeyRole::Revoked),
            RejectedKey::Expired => Some(KeyRole::Expired),
            _ => None,
        }
    }

    /// The malformed value to send; `None` for the well-formed kinds.
    fn malformed(self) -> Option<String> {
        let body: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(32)
            .collect();
        Some(match self {
            RejectedKey::WrongPrefix => format!("hk_test_{body}"),
            RejectedKey::Short => format!("hk_live_{}", &body[..12]),
            RejectedKey::Long => format!("hk_live_{body}{body}"),
            RejectedKey::BadCharacters => format!("hk_live_{}!$%*", &body[..28]),
            RejectedKey::Empty => String::new(),
            RejectedKey::Whitespace => format!("hk_live_{} {}", &body[..16], &body[16..]),
            RejectedKey::HugeHeader => format!("hk_live_{}", "A".repeat(16 * 1024)),
            RejectedKey::Unknown | RejectedKey::Revoked | RejectedKey::Expired => return None,
        })
    }
}
/// Path spellings that reach registry data (each must demand a key).
pub const DATA_PATHS: [&str; 5] = [
    "/api/mlflow/api/2.0/mlflow/registered-models/search",
    "/api/mlflow/ajax-api/2.0/mlflow/registered-models/search",
    "/mlflow/ajax-api/2.0/mlflow/registered-models/search",
    "/api/2.0/mlflow/registered-models/search",
    "/ajax-api/2.0/mlflow/registered-models/search",
];
/// How the auth service can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum AuthFailure {
    ServerError,
    Timeout,
    Unreachable,
}

/// The most requests a rate-limit check sends to exhaust a key.
pub const MAX_RATE_LIMIT_PROBES: u64 = 50;

pub fn checks(_profile: &Profile) -> Vec<CheckSpec> {
    let mut v = Vec::new();
    for f in KeyFormat::iter() {
        v.push(
            CheckSpec::case(
                AREA,
                "key_format",
                Component::Api,
                format!("a key sent as {f} is accepted (no 401/403 from the auth layer)"),
                f,
                key_format,
            )
            .line(Line::KeyFormats)
            .reads(),
        );
    }
    for p in DATA_PATHS {
        v.push(
            CheckSpec::case(
                AREA,
                "no_key_rejected",
                Component::Alb,
                format!("{p} without a key is 401 `API key required`"),
                p,
                no_key_rejected,
            )
            .line(Line::KeyRequiredEverywhere)
            .reads(),
        );
    }
    for k in RejectedKey::iter() {
        let spec = CheckSpec::case(
            AREA,
            "rejected_key",
            Component::Api,
            format!("a {k} key is 401, never 2xx or 5xx"),
            k,
            rejected_key,
        )
        .line(Line::BadKeysRejected)
        .reads();
        v.push(match k.role() {
            Some(role) => spec.needs(Need::Key(role)),
            None => spec,
        });
    }
    v.push(
        CheckSpec::new(
            AREA,
            "second_key_works",
            Component::AuthService,
            "another valid key is accepted (tells a bad test key from a broken auth setup)",
            second_key_works,
        )
        .needs(Need::Key(KeyRole::Second))
        .line(Line::KeyFormats)
        .reads(),
    );
    v.push(CheckSpec::new(
        AREA,
        "validate_call_contract",
        Component::AuthService,
        "the API validates with POST /api/v1/keys/validate, Bearer key, the profile's service_id",
        validate_call_contract,
    )
.needs(Need::StandIn("what the auth service received"))
.line(Line::ValidateCall)
        .reads());
    for f in AuthFailure::iter() {
        v.push(
            CheckSpec::case(
                AREA,
                "auth_failure_not_bad_key",
                Component::Api,
                format!("an auth-service {f} is not reported to the client as a bad key"),
                f,
                auth_failure_not_bad_key,
            )
            .needs(Need::StandIn("auth-service failures are injected"))
            .line(Line::AuthFailureNotBadKey)
            .reads(),
        );
    }
    v.push(
        CheckSpec::new(
            AREA,
            "auth_429_passthrough",
            Component::Api,
            "the auth service's 429 reaches the client as 429",
            auth_429_passthrough,
        )
        .needs(Need::StandIn("the auth service's 429 is injected"))
        .line(Line::AuthRateLimitPassedOn)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "usage_reported",
            Component::Api,
            "after an authenticated request the API reports usage to the auth service",
            usage_reported,
        )
        .needs(Need::StandIn("the auth service's usage log"))
        .line(Line::UsageReported)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "write_scopes",
            Component::Api,
            "a read-only key reads; it writes only where the profile does not enforce write scopes",
            write_scopes,
        )
        .needs(Need::Key(KeyRole::ReadOnly))
        .line(Line::WriteScopes),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "cache_entry_created",
            Component::RedisCache,
            "a successful validation is cached in Redis with the profile's TTL",
            cache_entry_created,
        )
        .needs(Need::Redis)
        .line(Line::CacheEntry)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "cache_avoids_revalidation",
            Component::RedisCache,
            "requests within the TTL do not call the auth service again",
            cache_avoids_revalidation,
        )
        .line(Line::CacheAvoidsRevalidation)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "failures_not_cached",
            Component::RedisCache,
            "failed validations are never cached",
            failures_not_cached,
        )
        .line(Line::FailuresNotCached)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "cache_expiry_revalidates",
            Component::RedisCache,
            "after the entry expires the key is validated again and re-cached",
            cache_expiry_revalidates,
        )
        .needs(Need::Redis)
        .line(Line::CacheExpiry)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "revocation_window",
            Component::RedisCache,
            "a revoked key works at most for the cache TTL (measured)",
            revocation_window,
        )
        .needs(Need::Redis)
        .line(Line::RevocationWindow)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "redis_down_auth_works",
            Component::Api,
            "with Redis down, authentication still works and /health reports redis unhealthy",
            redis_down_auth_works,
        )
        .needs(Need::StandIn("Redis is taken away from the platform"))
        .line(Line::RedisDownFallback)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "rate_limit_headers",
            Component::RateLimiter,
            "authenticated answers carry X-RateLimit-* headers that count down",
            rate_limit_headers,
        )
        .line(Line::RateLimitHeaders)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "rate_limit_enforced",
            Component::RateLimiter,
            "past the limit: 429 `Rate limit exceeded` with Retry-After",
            rate_limit_enforced,
        )
        .needs(Need::Key(KeyRole::LowLimit))
        .line(Line::RateLimitEnforced)
        .load(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "rate_limit_isolated",
            Component::RateLimiter,
            "a key over its limit does not affect another key",
            rate_limit_isolated,
        )
        .needs(Need::Key(KeyRole::LowLimit))
        .line(Line::RateLimitPerKey)
        .load(),
    );
    v
}

/// The precondition of checks that need an authenticated request: the API let the key
/// through (see [`key_got_through`]); anything else blocks the check.
fn accepted(c: &Check, ex: &Exchange) -> Result<(), Failure> {
    key_got_through(c, ex)
}

/// Before asserting how a key was judged: an auth layer that could not judge it (the auth
/// service failed or throttled the API, a load balancer answered) blocks the check; what
/// stopped it is the cause, named from the answer's own symptoms.
pub(crate) fn undecided_blocks(c: &Check, ex: &Exchange) -> Result<(), Failure> {
    if KeyDecision::judged(c, ex) == KeyDecision::Undecided {
        return Err(
            Failure::failed("the auth layer judging the key", expect::describe(ex))
                .blocked("the auth layer judging the key"),
        );
    }
    Ok(())
}

/// The assertion of the key checks (their line: the key is accepted): accepted passes,
/// whatever the route answered after acceptance (that is evidence for the route's line);
/// rejected fails; an auth layer that could not decide blocks.
fn key_accepted(c: &Check, ex: &Exchange, what: &str) -> Result<(), Failure> {
    let f = || {
        Failure::failed(
            format!("{what} accepted (no 401/403 from the auth layer)"),
            expect::describe(ex),
        )
    };
    match KeyDecision::judged(c, ex) {
        KeyDecision::Accepted => Ok(()),
        KeyDecision::Rejected => Err(f()),
        KeyDecision::Undecided => Err(f().blocked("the auth layer deciding on the key")),
    }
}

fn bearer(k: &ApiKey) -> Auth {
    Auth::Bearer(k.clone())
}

fn raw(header: &'static str, value: String) -> Auth {
    Auth::Raw {
        header,
        value: SecretString::from(value),
    }
}

fn key_format(c: &mut Check, format: KeyFormat) -> CheckFuture<'_> {
    Box::pin(async move {
        let key = c.env.keys.primary.clone();
        let auth = match format {
            KeyFormat::Bearer => Auth::Bearer(key),
            KeyFormat::BearerLowercase => Auth::Scheme("bearer", key),
            KeyFormat::BearerUppercase => Auth::Scheme("BEARER", key),
            KeyFormat::XApiKey => Auth::XApiKey(key),
        };
        let ex = c.registry(proxied_read(auth)).await?;
        key_accepted(c, &ex, &format!("the key sent as {format}"))
    })
}

fn second_key_works(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let key = c.env.key(KeyRole::Second)?;
        let ex = c.registry(proxied_read(bearer(&key))).await?;
        if KeyDecision::judged(c, &ex) == KeyDecision::Rejected {
            // The key's own line is that it is accepted; the contract's other header form
            // tells a rejected key from a Bearer form the API mishandles (evidence for the
            // key-formats line, which the key_format checks verify).
            let other = c.registry(proxied_read(Auth::XApiKey(key))).await?;
            match KeyDecision::judged(c, &other) {
                KeyDecision::Accepted => return Ok(()),
                // The auth layer could not judge it in the other form: blocked there.
                KeyDecision::Undecided => key_got_through(c, &other)?,
                // Not even read in the other form ("API key required" with the key sent):
                // the API mishandles both forms, and never judged the key.
                KeyDecision::Rejected
                    if c.sink()
                        .observer()
                        .observe("registry", &other)
                        .iter()
                        .any(|s| matches!(s, Symptom::KeyNotSeen { .. })) =>
                {
                    return Err(Failure::failed(
                        "the second key read in one of the contract's header forms",
                        expect::describe(&other),
                    )
                    .blocked_on("the key read by the API", Line::KeyFormats));
                }
                KeyDecision::Rejected => {}
            }
        }
        key_accepted(c, &ex, "the second key")
    })
}

fn no_key_rejected<'a>(c: &'a mut Check, path: &'static str) -> CheckFuture<'a> {
    Box::pin(async move {
        let ex = c.registry(Req::get(path).query("max_results", "1")).await?;
        match keyless_symptom(&ex, path, c.env.profile().auth.failure_status) {
            Some(s @ Symptom::DataWithoutKey { .. }) => {
                return Err(Failure::failed(
                    "401 without a key",
                    format!(
                        "registry data without a key (security finding): {}",
                        expect::describe(&ex)
                    ),
                )
                .symptom(s));
            }
            Some(s) => {
                return Err(Failure::failed("401 without a key", expect::describe(&ex)).symptom(s));
            }
            None => {}
        }
        expect::detail(&ex, 401, "API key required")
    })
}

fn rejected_key(c: &mut Check, case: RejectedKey) -> CheckFuture<'_> {
    Box::pin(async move {
        let auth = match (case, case.malformed()) {
            (_, Some(value)) => raw("Authorization", format!("Bearer {value}")),
            (RejectedKey::Revoked, None) => bearer(&c.env.key(KeyRole::Revoked)?),
            (RejectedKey::Expired, None) => bearer(&c.env.key(KeyRole::Expired)?),
            (_, None) => bearer(&ApiKey::random()),
        };
        let ex = c.registry(Req::get("/").auth(auth)).await?;
        undecided_blocks(c, &ex)?;
        let detail = ex.detail();
        let malformed_case = case.malformed().is_some();
        // A malformed key may be refused as "required" (empty) or "invalid"; a well-formed
        // but rejected key must be "Invalid or expired API key".
        let ok = ex.status == 401
            && match detail.as_deref() {
                Some("Invalid or expired API key") => true,
                Some("API key required") => malformed_case,
                _ => false,
            };
        ensure(
            ok,
            "401 {\"detail\":\"Invalid or expired API key\"}",
            expect::describe(&ex),
        )
    })
}

/// Before a check injects a failure to watch the platform's reaction: the same keyed request
/// without it must get through, or whatever stops it (a real fault) blocks the check.
async fn baseline(c: &mut Check) -> Result<(), Failure> {
    let ex = baseline_request(c).await?;
    accepted(c, &ex)
}

async fn baseline_request(c: &mut Check) -> Result<Exchange, Failure> {
    let key = c.env.keys.primary.clone();
    c.registry(proxied_read(bearer(&key)))
        .await
        .pre("a keyed request before injecting")
}

/// A request sent while the auth service fails must have needed it: an answer from behind
/// the auth layer (a 2xx, or the route's own 404 on a spelling without one) means the key was
/// served from a cache the suite could not clear (not at the contract's key name), so the
/// injected failure was never exercised.
fn validation_forced(c: &Check, ex: &Exchange) -> Result<(), Failure> {
    if ex.counted.auth_layer_failed(ex.status) {
        // The auth middleware failed the request itself (no Redis): nothing was forced.
        return Err(Failure::failed(
            "a request that needs the auth service",
            expect::describe(ex),
        )
        .blocked("forcing a validation"));
    }
    let accepted = super::KeyDecision::of(ex, c.env.profile().auth.failure_status)
        == super::KeyDecision::Accepted;
    if accepted {
        return Err(Failure::failed(
            "a request that needs the auth service (its cache entry deleted)",
            format!("{}: served without it", expect::describe(ex)),
        )
        .blocked_on("forcing a validation", Line::CacheEntry));
    }
    Ok(())
}

/// The TTL of a cache entry (`name` includes the raw key, so the evidence shows `label`).
async fn entry_ttl(
    c: &mut Check,
    cache: &crate::cache::Cache,
    name: &str,
    label: &str,
) -> Result<i64, Failure> {
    let ttl = cache
        .ttl(name)
        .await
        .map_err(|e| Failure::error("redis", e))?;
    c.note("redis", label, 0.0, Ok(format!("{ttl}")));
    Ok(ttl)
}

/// A keyed request whose validation is not served from the cache.
async fn uncached_request(c: &mut Check, key: &ApiKey) -> Result<Exchange, Failure> {
    uncached_request_as(c, key, bearer(key)).await
}

/// [`uncached_request`] with the key sent as `auth` (one of its header forms).
async fn uncached_request_as(c: &mut Check, key: &ApiKey, auth: Auth) -> Result<Exchange, Failure> {
    uncached_request_via(c, key, auth, Spelling::PRIMARY).await
}

/// [`uncached_request_as`] on `spelling`'s route (a proxied MLflow read, as MLflow's client
/// sends it).
async fn uncached_request_via(
    c: &mut Check,
    key: &ApiKey,
    auth: Auth,
    spelling: Spelling,
) -> Result<Exchange, Failure> {
    uncached_send(c, key, super::proxied_read_via(spelling, auth)).await
}

/// Sends `req` (keyed with `key`) after deleting `key`'s cache entry.
async fn uncached_send(c: &mut Check, key: &ApiKey, req: Req) -> Result<Exchange, Failure> {
    if let Ok(cache) = c.env.require_redis() {
        let name = c.env.profile().cache_key(key.expose());
        let _ = cache.del(&name).await;
    }
    c.registry(req).await
}

fn validate_call_contract(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let standin = env.require_standin("what the auth service received")?;
        let key = env.keys.primary.clone();
        // What this check verifies is the call the API makes, not the route that triggers
        // it: the primary route first, in the Bearer form; when no call came (refused before
        // any validation in that form, the key-formats line's evidence; or the route does
        // not reach the API, a routing line's), the other header form, then the other
        // spellings the profile routes to the API.
        // Last, the registry's root: behind the auth layer on every profile (contract
        // section 1), whatever it then answers a keyed request.
        let routes = super::spellings_to_try(env.profile())
            .into_iter()
            .map(Some)
            .chain([None]);
        let mut before = standin.validate_calls().len();
        let mut ex = None;
        'routes: for spelling in routes {
            for auth in [bearer(&key), Auth::XApiKey(key.clone())] {
                before = standin.validate_calls().len();
                let req = match spelling {
                    Some(s) => super::proxied_read_via(s, auth),
                    None => Req::get("/").auth(auth),
                };
                ex = Some(uncached_send(c, &key, req).await?);
                if standin.validate_calls().len() > before {
                    break 'routes;
                }
            }
        }
        let ex = ex.expect("the primary route is always tried");
        let calls = standin.validate_calls();
        let new = &calls[before.min(calls.len())..];
        let want_service = &env.profile().auth.service_id;
        c.note(
            "auth",
            format!("{} validate call(s) received", new.len()),
            0.0,
            Ok(format!("{new:?}")),
        );
        let Some(call) = new.first() else {
            let f = Failure::failed(
                "one POST /api/v1/keys/validate",
                format!("none (client saw {})", expect::describe(&ex)),
            );
            // Answered without the auth service: served from a cache the suite could not
            // clear (the cache line), or refused by the API itself in both header forms
            // (the key-formats line); neither shows what the call would have been.
            validation_forced(c, &ex)?;
            match KeyDecision::judged(c, &ex) {
                KeyDecision::Rejected => {
                    return Err(f
                        .symptom(Symptom::RejectedWithoutValidation)
                        .blocked_on("the key reaching the auth service", Line::KeyFormats));
                }
                // The auth layer could not decide (the auth service failed): blocked there.
                KeyDecision::Undecided => key_got_through(c, &ex)?,
                KeyDecision::Accepted => {}
            }
            return Err(f);
        };
        ensure(
            call.bearer && call.key == SentKey::Role(KeyRole::Valid),
            "the key in Authorization: Bearer",
            format!("{call:?}"),
        )
        .map_err(|f| {
            f.symptom(Symptom::ValidateCallWrong {
                what: "the key not sent as Bearer".into(),
            })
        })?;
        ensure(
            call.service_id.as_deref() == Some(want_service.as_str()),
            format!("service_id {want_service:?}"),
            format!("service_id {:?}", call.service_id),
        )
        .map_err(|f| {
            f.symptom(Symptom::ServiceIdWrong {
                got: call.service_id.clone(),
                want: want_service.clone(),
            })
        })
    })
}

fn auth_failure_not_bad_key(c: &mut Check, case: AuthFailure) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let standin = env.require_standin("auth-service failures are injected")?;
        if matches!(case, AuthFailure::Timeout | AuthFailure::ServerError) {
            // A platform whose auth service already fails the API's validations shows this
            // line without injecting anything: its own count says the auth service failed
            // during the request, its log whether that was a timeout (a call left without
            // an answer) or an error (an answer, or none reaching the service at all).
            let calls = standin.validate_calls().len();
            let started = Instant::now();
            let ex = uncached_request(c, &env.keys.primary.clone()).await?;
            let new_calls = standin.validate_calls();
            let timed_out = new_calls[calls.min(new_calls.len())..]
                .iter()
                .any(|v| v.answered.is_none());
            let this_case = match case {
                AuthFailure::Timeout => timed_out,
                _ => ex.counted.auth_failures > 0 && !timed_out,
            };
            // Told as a bad key, that is this line's failure; told otherwise, the check goes
            // on as usual (and is blocked while the auth service fails, which other lines
            // name).
            if this_case && ex.detail().as_deref() == Some("Invalid or expired API key") {
                let symptom = if timed_out {
                    Symptom::TimeoutReportedAsBadKey
                } else {
                    Symptom::AuthFailureReportedAsBadKey
                };
                return told_auth_failed(c, &ex, started.elapsed()).map_err(|f| f.symptom(symptom));
            }
        }
        baseline(c).await?;
        let injected = c.inject(match case {
            AuthFailure::ServerError => Injected::Auth(AuthOverride::ServerError),
            AuthFailure::Unreachable => Injected::Auth(AuthOverride::Unreachable),
            AuthFailure::Timeout => Injected::Fault(crate::catalogue::Fault::AuthSlow),
        })?;
        let key = env.keys.primary.clone();
        let started = Instant::now();
        let result = uncached_request(c, &key).await;
        drop(injected);
        let ex = result?;
        validation_forced(c, &ex)?;
        told_auth_failed(c, &ex, started.elapsed())
    })
}

/// The client was told the auth service failed (not that its key is bad), in the profile's
/// shape, within the API's auth timeout and some slack.
fn told_auth_failed(c: &Check, ex: &Exchange, elapsed: Duration) -> Result<(), Failure> {
    let env = c.env.clone();
    let standin = env.require_standin("the API's auth timeout")?;
    let p = &env.profile().auth;
    ensure(
        ex.detail().as_deref() != Some("Invalid or expired API key"),
        "an answer naming the auth service, not a bad key",
        expect::describe(ex),
    )?;
    ensure(
        ex.status == p.failure_status,
        format!(
            "status {} (profile {})",
            p.failure_status,
            env.profile().name
        ),
        expect::describe(ex),
    )?;
    if p.failure_retry_after {
        ensure(
            ex.header("retry-after").is_some(),
            "a Retry-After header",
            expect::describe(ex),
        )?;
    } else {
        ensure(
            // Named in the platform's own words: any mention of auth(entication).
            ex.detail()
                .is_some_and(|d| d.to_ascii_lowercase().contains("auth")),
            "a detail naming the auth service",
            expect::describe(ex),
        )?;
    }
    let bound = standin.timing().auth_timeout + Duration::from_secs(2);
    ensure(
        elapsed <= bound,
        format!("an answer within {bound:?}"),
        format!("{elapsed:?}"),
    )
}

fn auth_429_passthrough(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let standin = env.require_standin("the auth service's 429 is injected")?;
        // A platform whose auth service already throttles the API shows this line without
        // injecting anything: its log says 429, the client's answer says what was passed on.
        let ex = uncached_request(c, &env.keys.primary.clone()).await?;
        if standin
            .validate_calls()
            .last()
            .is_some_and(|v| v.answered == Some(429))
        {
            c.saw(Symptom::AuthServiceThrottled);
            let verdict = expect::status(&ex, 429);
            return if ex.status == 401 {
                verdict.map_err(|f| f.symptom(Symptom::ThrottleReportedAsBadKey))
            } else {
                verdict
            };
        }
        accepted(c, &ex)?;
        let injected = c.inject(AuthOverride::TooManyRequests)?;
        let result = uncached_request(c, &env.keys.primary.clone()).await;
        drop(injected);
        let ex = result?;
        validation_forced(c, &ex)?;
        expect::status(&ex, 429)
    })
}

fn usage_reported(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let standin = env.require_standin("the auth service's usage log")?;
        let before = standin.usage_calls().len();
        let ex = c.registry(proxied_read(bearer(&env.keys.primary))).await?;
        accepted(c, &ex)?;
        let calls = standin.usage_calls();
        let new = &calls[before.min(calls.len())..];
        c.note(
            "auth",
            format!("{} usage report(s) received", new.len()),
            0.0,
            Ok(new
                .iter()
                .map(|u| format!("{} -> {}", u.endpoint, u.status_code))
                .collect::<Vec<_>>()
                .join(", ")),
        );
        let read = proxied_read_path();
        ensure(
            new.iter()
                .any(|u| u.endpoint == read && u.status_code == ex.status),
            format!("one POST /api/v1/usage/<key_id> for {read} with its status"),
            format!("{} report(s)", new.len()),
        )
    })
}

fn write_scopes(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let key = env.key(KeyRole::ReadOnly)?;
        let enforced = env.profile().scopes.write_scopes_enforced;
        // Reads need no write scope: the auth layer lets the read-only key read (what the
        // route then answers is the route's line, not this one).
        let read = c.registry(proxied_read(bearer(&key))).await?;
        key_accepted(c, &read, "a read with the read-only key")?;
        // The read-only key's own client: what it managed to create, it deletes again (a
        // scope-less profile lets it), so the clean-up depends on no other key.
        let client = crate::mlflow::MlflowClient::via_proxy(
            env.http.clone(),
            env.registry_url().clone(),
            bearer(&key),
            crate::mlflow::ApiPrefix::Api,
        )
        .recording(c.sink());
        let name = crate::mlflow::naming::experiment_name("scopes");
        let write = c
            .registry(
                Req::post(client.path("experiments/create"))
                    .json(&serde_json::json!({ "name": name }))
                    .auth(bearer(&key)),
            )
            .await?;
        let created = c.created(&client);
        if let Some(id) = write
            .json()
            .and_then(|v| v.get("experiment_id")?.as_str().map(str::to_owned))
        {
            created.experiment(id);
        }
        let forbidden = write.status == 403
            && write
                .json()
                .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                .as_deref()
                == Some("FORBIDDEN");
        let wrote = (200..300).contains(&write.status);
        let refused = matches!(write.status, 401 | 403) && !write.is_html();
        if !refused && !wrote {
            // Neither refused for its scope nor done: the write reached no handler that
            // decides (the route, MLflow, the auth service failing). Not this line's
            // verdict: the answer's own symptoms name the cause.
            return Err(Failure::failed(
                "the write either refused for its scope (403 FORBIDDEN) or done",
                expect::describe(&write),
            )
            .blocked("a write with the read-only key reaching a handler"));
        }
        if enforced {
            ensure(
                forbidden,
                "a write with a read-only key refused: 403 {\"error\":\"FORBIDDEN\"}",
                expect::describe(&write),
            )
        } else {
            ensure(
                wrote,
                "a write with a read-only key accepted (this profile enforces no write scopes)",
                expect::describe(&write),
            )
        }
    })
}

fn cache_entry_created(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let cache = c.env.require_redis()?.clone();
        let key = c.env.keys.primary.clone();
        let ttl_want = c.env.profile().cache.ttl_secs as i64;
        let written_by = Instant::now();
        let ex = uncached_request(c, &key).await?;
        accepted(c, &ex)?;
        let name = c.env.profile().cache_key(key.expose());
        let ttl = entry_ttl(c, &cache, &name, "TTL api_key:validation:<key>").await?;
        // A fresh entry's TTL is the profile's, less the time since it was written (at most
        // since the request started; Redis rounds down a second).
        let least = ttl_want - written_by.elapsed().as_secs() as i64 - 1;
        c.measure("cache_ttl_s", ttl as f64);
        if ttl != -2 {
            c.saw(Symptom::CacheEntryPresent);
            if name.contains(key.expose()) {
                c.saw(Symptom::KeysAtRestInPlainText {
                    pattern: c.env.profile().cache.key_pattern.clone(),
                });
            }
        } else if let Ok(names) = cache.names_containing(key.expose(), 3).await
            && let Some(other) = names.first()
        {
            // Cached, under a name the contract does not give: the cache works.
            let pattern = other.replace(key.expose(), "<key>");
            c.note(
                "redis",
                "an entry for the key under another name",
                0.0,
                Ok(pattern.clone()),
            );
            c.saw(Symptom::CacheEntryElsewhere { pattern });
        }
        ensure(
            ttl > 0 && ttl <= ttl_want && ttl >= least,
            format!(
                "an entry with the profile's TTL: {} s <= TTL <= {ttl_want} s",
                least.max(1)
            ),
            match ttl {
                -2 => "no entry".to_owned(),
                -1 => "an entry without expiry".to_owned(),
                t => format!("TTL {t} s"),
            },
        )
        .map_err(|f| {
            f.symptom(if ttl == -2 {
                Symptom::CacheEntryMissing
            } else {
                Symptom::CacheTtl {
                    got: ttl,
                    want: ttl_want,
                }
            })
        })
    })
}

fn cache_avoids_revalidation(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let key = env.keys.primary.clone();
        let Some(standin) = env.standin() else {
            // Live: latency is the only outside view; it is indicative, not proof.
            let first = uncached_request(c, &key).await?.latency;
            let mut cached = Vec::new();
            for _ in 0..3 {
                cached.push(c.registry(proxied_read(bearer(&key))).await?.latency);
            }
            let median = {
                cached.sort();
                cached[1]
            };
            c.measure("uncached_ms", first.as_secs_f64() * 1e3);
            c.measure("cached_median_ms", median.as_secs_f64() * 1e3);
            return Err(Failure::not_applicable(format!(
                "needs the stand-in's call log; indicative only: first request {:.0} ms, cached median {:.0} ms",
                first.as_secs_f64() * 1e3,
                median.as_secs_f64() * 1e3
            )));
        };
        let ex = uncached_request(c, &key).await?;
        accepted(c, &ex)?;
        let after_first = standin.validate_count(KeyRole::Valid);
        for _ in 0..3 {
            let ex = c.registry(proxied_read(bearer(&key))).await?;
            accepted(c, &ex)?;
        }
        let extra = standin.validate_count(KeyRole::Valid) - after_first;
        c.measure("extra_validate_calls", extra as f64);
        ensure(
            extra == 0,
            "no validate call for 3 requests within the TTL",
            format!("{extra} more validate call(s)"),
        )
        .map_err(|f| {
            f.symptom(Symptom::CacheBehaviour {
                what: "validated again within the TTL".into(),
            })
        })
    })
}

fn failures_not_cached(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let unknown = ApiKey::random();
        let env = c.env.clone();
        let cache = env.require_redis().ok().cloned();
        let standin = env.standin();
        if cache.is_none() && standin.is_none() {
            return Err(Failure::skipped(
                "needs Redis access or the stand-in's call log",
            ));
        }
        let before = standin.map(|s| s.validate_count(SentKey::Unknown));
        // The first request must be a rejection (something to cache); what the second
        // answers is evidence (a cached failure may come back in other words), the cache
        // and the auth service's call log are this line's verdict.
        let mut auth = bearer(&unknown);
        let first = c.registry(Req::get("/").auth(auth.clone())).await?;
        undecided_blocks(c, &first)?;
        expect::status(&first, 401).pre_on("a rejection to cache", Line::BadKeysRejected)?;
        if let (Some(s), Some(b)) = (standin, before)
            && s.validate_count(SentKey::Unknown) == b
        {
            // Refused before any validation in the Bearer form (nothing was asked, so
            // nothing to cache: the key-formats line's evidence): the other header form.
            auth = Auth::XApiKey(unknown.clone());
            let again = c.registry(Req::get("/").auth(auth.clone())).await?;
            undecided_blocks(c, &again)?;
            if s.validate_count(SentKey::Unknown) == b {
                return Err(Failure::failed(
                    "the unknown key validated by the auth service",
                    "rejected without asking the auth service, in either header form",
                )
                .symptom(Symptom::RejectedWithoutValidation)
                .blocked("a rejection by the auth service to cache"));
            }
        }
        c.registry(Req::get("/").auth(auth)).await?;
        if let Some(cache) = cache {
            let name = env.profile().cache_key(unknown.expose());
            let ttl = entry_ttl(c, &cache, &name, "TTL api_key:validation:<unknown key>").await?;
            let _ = cache.del(&name).await;
            if ttl != -2 {
                // The cache works (it holds an entry under the contract's name): what it
                // holds is this line's finding, not a cache that is off.
                c.saw(Symptom::CacheEntryPresent);
            }
            ensure(
                ttl == -2,
                "no cache entry for a rejected key",
                format!("an entry with TTL {ttl}"),
            )
            .map_err(|f| {
                f.symptom(Symptom::CacheBehaviour {
                    what: "a failed validation cached".into(),
                })
            })?;
        }
        if let (Some(s), Some(before)) = (standin, before) {
            let calls = s.validate_count(SentKey::Unknown) - before;
            if calls == 0 {
                return Err(Failure::failed(
                    "the unknown key validated by the auth service",
                    "rejected without asking the auth service",
                )
                .symptom(Symptom::RejectedWithoutValidation));
            }
            if calls < 2 {
                // Served from the cache: the cache works (under whatever name it keeps its
                // entries); what it holds is this line's finding.
                c.saw(Symptom::CacheEntryPresent);
            }
            ensure(
                calls == 2,
                "both requests validated (nothing cached)",
                format!("{calls} validate call(s) for 2 requests"),
            )
            .map_err(|f| {
                f.symptom(Symptom::CacheBehaviour {
                    what: "a failed validation served from the cache".into(),
                })
            })?;
        }
        Ok(())
    })
}

fn cache_expiry_revalidates(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let cache = env.require_redis()?.clone();
        let key = env.keys.primary.clone();
        let name = env.profile().cache_key(key.expose());
        let ex = c.registry(proxied_read(bearer(&key))).await?;
        accepted(c, &ex)?;
        let ttl = entry_ttl(c, &cache, &name, "TTL api_key:validation:<key>").await?;
        if ttl == -2 {
            // Nothing to expire: the missing entry is the cache line's finding.
            c.saw(Symptom::CacheEntryMissing);
            return Err(Failure::failed("a cache entry to expire", "no entry")
                .blocked_on("the cache entry of a validated key", Line::CacheEntry));
        }
        c.saw(Symptom::CacheEntryPresent);
        // Expire the entry now rather than waiting minutes for its TTL.
        cache
            .del(&name)
            .await
            .map_err(|e| Failure::error("redis", e))?;
        c.note(
            "redis",
            "DEL api_key:validation:<key> (expire now)",
            0.0,
            Ok("deleted".into()),
        );
        let before = env.standin().map(|s| s.validate_count(KeyRole::Valid));
        let ex = c.registry(proxied_read(bearer(&key))).await?;
        accepted(c, &ex)?;
        if let (Some(s), Some(before)) = (env.standin(), before) {
            let calls = s.validate_count(KeyRole::Valid) - before;
            ensure(
                calls == 1,
                "one new validate call after expiry",
                format!("{calls}"),
            )
            .map_err(|f| {
                f.symptom(Symptom::CacheBehaviour {
                    what: format!("{calls} validate calls after expiry"),
                })
            })?;
        }
        let ttl = entry_ttl(c, &cache, &name, "TTL api_key:validation:<key>").await?;
        ensure(
            ttl > 0,
            "the entry re-created with a TTL",
            format!("TTL {ttl}"),
        )
        .map_err(|f| f.symptom(Symptom::CacheEntryMissing))
    })
}

fn revocation_window(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let ttl_want = env.profile().cache.ttl_secs as i64;
        let cache = env.require_redis()?.clone();
        let key = env.keys.primary.clone();
        let name = env.profile().cache_key(key.expose());
        let ex = uncached_request(c, &key).await?;
        accepted(c, &ex)?;
        let window = entry_ttl(
            c,
            &cache,
            &name,
            "TTL api_key:validation:<key> (the revocation window)",
        )
        .await?;
        c.measure("revocation_window_s", window.max(0) as f64);
        if window == -2 {
            // Nothing to measure: the missing entry is the cache line's finding.
            c.saw(Symptom::CacheEntryMissing);
            return Err(Failure::failed("a cache entry to measure", "no entry")
                .blocked_on("the cache entry of a validated key", Line::CacheEntry));
        }
        if window > ttl_want || window == -1 {
            c.saw(Symptom::RevocationWindow {
                got_s: window,
                want_s: ttl_want,
            });
        }
        ensure(
            window > 0 && window <= ttl_want,
            format!("a revocation window of at most the profile's {ttl_want} s"),
            format!("{window} s"),
        )?;
        // The window only holds if using the key does not renew its entry: a key in use
        // would otherwise never expire after revocation.
        let validations = || env.standin().map(|s| s.validate_count(KeyRole::Valid));
        let before = pttl(c, &cache, &name).await?;
        let read_at = Instant::now();
        let validated_before = validations();
        tokio::time::sleep(RENEWAL_PROBE_GAP).await;
        let ex = c.registry(proxied_read(bearer(&key))).await?;
        accepted(c, &ex)?;
        let after = pttl(c, &cache, &name).await?;
        // Without renewal the entry lost at least the gap slept between the two reads (Redis
        // counts it too); renewed during the request, it lost only the request's tail after
        // the renewal. Half the gap separates the two without depending on our clock.
        let elapsed = read_at.elapsed().as_millis() as i64;
        let renewed = after > before - RENEWAL_PROBE_GAP.as_millis() as i64 / 2;
        // A renewal after a fresh validation is a re-cache, not sliding expiry; only the
        // stand-in's call log tells them apart, so live the renewal is evidence, not a verdict.
        let judged = env.standin().is_some() && validations() == validated_before;
        if !judged && renewed {
            c.note(
                "redis",
                "TTL renewed by one request (a revalidation or sliding expiry: not distinguishable from outside)",
                0.0,
                Ok(format!("{before} ms -> {after} ms")),
            );
        }
        ensure(
            !judged || !renewed,
            "the entry's TTL not renewed by a request (it expires TTL after validation)",
            format!("PTTL {before} ms, then {after} ms after one more request {elapsed} ms later"),
        )
        .map_err(|f| {
            f.symptom(Symptom::CacheRenewedOnUse {
                before_ms: before,
                after_ms: after,
            })
        })?;
        if env.standin().is_some() {
            // Revoked at the auth service and the entry gone: the key is rejected. (Within
            // the window a platform may still serve it from the cache, or not: the contract
            // bounds the window, it does not require it.) The check revokes the key itself:
            // what follows is its own doing, not a symptom.
            let injected = c.inject(Injected::Revoked(KeyRole::Valid))?;
            cache
                .del(&name)
                .await
                .map_err(|e| Failure::error("redis", e))?;
            let ex = c.registry(proxied_read(bearer(&key))).await;
            drop(injected);
            expect::detail(&ex?, 401, "Invalid or expired API key")?;
        }
        Ok(())
    })
}

/// The pause between two reads of an entry's TTL when looking for renewal on use.
const RENEWAL_PROBE_GAP: Duration = Duration::from_millis(300);

/// The TTL of a cache entry in milliseconds, recorded as evidence.
async fn pttl(c: &mut Check, cache: &crate::cache::Cache, name: &str) -> Result<i64, Failure> {
    let ms = cache
        .pttl(name)
        .await
        .map_err(|e| Failure::error("redis", e))?;
    c.note(
        "redis",
        "PTTL api_key:validation:<key>",
        0.0,
        Ok(format!("{ms}")),
    );
    Ok(ms)
}

fn redis_down_auth_works(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        env.require_standin("Redis is taken away from the platform")?;
        let before = baseline_request(c).await?;
        // The platform's own count says its auth middleware already fails requests for want
        // of Redis (Redis down before anything is taken away): this line, shown as it is.
        if before.counted.auth_layer_failed(before.status) {
            return Err(Failure::failed(
                "the key still accepted with Redis down",
                expect::describe(&before),
            )
            .symptom(Symptom::AuthNeedsRedis));
        }
        accepted(c, &before)?;
        let injected = c.inject(crate::catalogue::Fault::CacheOff)?;
        let keyed = c.registry(proxied_read(bearer(&env.keys.primary))).await;
        let health = c.registry(Req::get("/health")).await;
        drop(injected);
        let (keyed, health) = (keyed?, health?);
        ensure(
            keyed.status != 401 && keyed.status < 500
                || c.sink().observer().mlflow_not_answering(&keyed),
            "the key still accepted with Redis down",
            expect::describe(&keyed),
        )
        .map_err(|f| {
            if keyed.status >= 500 {
                f.symptom(Symptom::AuthNeedsRedis)
            } else {
                f
            }
        })?;
        let redis = health
            .json()
            .and_then(|v| v.pointer("/services/redis").cloned());
        ensure(
            redis.as_ref().and_then(|v| v.as_str()) == Some("unhealthy"),
            "/health reporting redis unhealthy",
            expect::describe(&health),
        )
    })
}

/// The three rate-limit headers, parsed.
fn rate_headers(ex: &Exchange) -> Option<(u64, u64, i64)> {
    let n = |h: &str| ex.header(h).and_then(|v| v.trim().parse::<i64>().ok());
    Some((
        n("x-ratelimit-limit")? as u64,
        n("x-ratelimit-remaining")?.max(0) as u64,
        n("x-ratelimit-reset")?,
    ))
}

fn rate_limit_headers(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let key = c.env.keys.primary.clone();
        let a = c.registry(proxied_read(bearer(&key))).await?;
        accepted(c, &a)?;
        let b = c.registry(proxied_read(bearer(&key))).await?;
        accepted(c, &b)?;
        let (Some(ha), Some(hb)) = (rate_headers(&a), rate_headers(&b)) else {
            return Err(Failure::failed(
                "X-RateLimit-Limit, -Remaining and -Reset on authenticated answers",
                "missing headers",
            )
            .symptom(Symptom::RateLimitHeadersMissing));
        };
        let now = chrono::Utc::now().timestamp();
        ensure(
            hb.0 == ha.0 && ha.0 > 0,
            "a constant positive limit",
            format!("{} then {}", ha.0, hb.0),
        )?;
        ensure(
            hb.1 + 1 == ha.1,
            "Remaining to drop by 1 per request",
            format!("{} then {}", ha.1, hb.1),
        )
        .map_err(|f| {
            f.symptom(Symptom::RateLimitNotCounting {
                first: ha.1,
                second: hb.1,
            })
        })?;
        ensure(
            ha.2 > now && ha.2 <= now + 3600 + 5,
            "Reset as epoch seconds within the hour window",
            format!("{} (now {now})", ha.2),
        )
    })
}

/// Sends requests with `key` until a 429 (at most `remaining + 1`); returns the 429.
async fn exhaust(c: &mut Check, key: &ApiKey) -> Result<Exchange, Failure> {
    let first = c.registry(proxied_read(bearer(key))).await?;
    // Already past its limit: the limiter's 429 (with its headers). A 429 without them is
    // the key's validation throttled, which blocks the check at the auth layer below.
    if first.status == 429 && first.header("x-ratelimit-limit").is_some() {
        return Ok(first);
    }
    accepted(c, &first)?;
    // The limit comes from the header; how many remain is the headers' own check: here only
    // "past the limit, a 429" is asserted, so a Remaining that does not count cannot fail it.
    let Some(limit) = first
        .header("x-ratelimit-limit")
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return Err(Failure::failed(
            "X-RateLimit-Limit on the low-limit key's answers",
            expect::describe(&first),
        )
        .symptom(Symptom::RateLimitHeadersMissing));
    };
    if limit + 1 > MAX_RATE_LIMIT_PROBES {
        return Err(Failure::skipped(format!(
            "the low-limit key allows {limit}/h; more than {MAX_RATE_LIMIT_PROBES} requests would be needed"
        )));
    }
    for i in 0..limit {
        let ex = c.registry(proxied_read(bearer(key))).await?;
        if ex.status == 429 {
            c.measure("requests_until_429", (i + 2) as f64);
            return Ok(ex);
        }
        accepted(c, &ex)?;
    }
    Err(Failure::failed(
        format!("429 after at most {limit} requests"),
        format!("{} requests all passed", limit + 1),
    )
    .symptom(Symptom::RateLimitNotEnforced { sent: limit + 1 }))
}

fn low_limit_key(c: &Check) -> Result<ApiKey, Failure> {
    c.env.key(KeyRole::LowLimit)
}

fn rate_limit_enforced(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let key = low_limit_key(c)?;
        let ex = exhaust(c, &key).await?;
        expect::detail(&ex, 429, "Rate limit exceeded")?;
        let retry = ex
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok());
        ensure(
            retry.is_some_and(|s| s > 0),
            "a Retry-After header in seconds",
            format!("{:?}", ex.header("retry-after")),
        )
    })
}

fn rate_limit_isolated(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let key = low_limit_key(c)?;
        let other = c
            .env
            .key(KeyRole::Second)
            .unwrap_or_else(|_| c.env.keys.primary.clone());
        exhaust(c, &key)
            .await
            .pre("the low-limit key past its limit")?;
        let ex = c.registry(proxied_read(bearer(&other))).await?;
        ensure(
            ex.status != 429,
            "the other key not limited",
            expect::describe(&ex),
        )?;
        accepted(c, &ex)?;
        ensure(
            rate_headers(&ex).is_some_and(|h| h.1 > 0),
            "the other key with its own remaining budget",
            expect::describe(&ex),
        )
    })
}
