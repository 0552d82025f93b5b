//! The catalogue of checks, one module per checklist area. Each area lists its checks as
//! [`CheckSpec`]s; test files, `hokusai-verify verify` and the fault-catalogue meta-test all
//! run these same functions.

pub mod authentication;
pub mod error_scenarios;
pub mod infra_health;
pub mod mlflow_proxy;
pub mod registration_flow;
pub mod route_matrix;
pub mod script_parity;

use crate::catalogue::Area;
use crate::check::CheckSpec;
use crate::config::Profile;

/// Every check of one area for this profile.
pub fn area(area: Area, profile: &Profile) -> Vec<CheckSpec> {
    match area {
        Area::InfraHealth => infra_health::checks(profile),
        Area::Authentication => authentication::checks(profile),
        Area::RegistrationFlow => registration_flow::checks(profile),
        Area::MlflowProxy => {
            let mut v = mlflow_proxy::checks(profile);
            v.extend(route_matrix::checks(profile));
            v
        }
        Area::ErrorScenarios => error_scenarios::checks(profile),
        Area::ScriptParity => script_parity::checks(profile),
    }
}

/// Every check of every area, in checklist order.
pub fn catalogue(profile: &Profile) -> Vec<CheckSpec> {
    Area::all().flat_map(|a| area(a, profile)).collect()
}

/// One check by area and full id (`ecs_service[hokusai-api-development]`).
pub fn find(profile: &Profile, area_of: Area, full_id: &str) -> Option<CheckSpec> {
    area(area_of, profile)
        .into_iter()
        .find(|s| s.full_id() == full_id)
}

/// The authenticated request checks send when they need "a valid key got through": a
/// proxied MLflow read on the contract's primary route (`/api/mlflow/api/2.0/…`, the key as
/// Bearer), the route the contract promises a valid key reaches (`GET /` with a key is
/// promised nothing). Only a check whose own line is about another spelling uses another.
pub(crate) fn proxied_read_path() -> String {
    crate::catalogue::Spelling::PRIMARY.path("experiments/search")
}

/// The spellings a precondition may go through, in the order to try them: the primary one,
/// then the others the profile routes to MLflow. A check whose own line is not about a
/// spelling tries the next one when a spelling's route is broken (that is its own line's
/// evidence, named by the check that verifies it).
pub(crate) fn spellings_to_try(profile: &Profile) -> Vec<crate::catalogue::Spelling> {
    use crate::catalogue::Spelling;
    std::iter::once(Spelling::PRIMARY)
        .chain(Spelling::all().filter(|s| *s != Spelling::PRIMARY && profile.routes(*s)))
        .collect()
}

/// A proxied read on `spelling`, as MLflow's own client sends it.
pub(crate) fn proxied_read_via(
    spelling: crate::catalogue::Spelling,
    auth: crate::http::Auth,
) -> crate::http::Req {
    crate::http::Req::get(spelling.path("experiments/search"))
        .query("max_results", "1")
        .auth(auth)
}

/// [`proxied_read_path`] with `auth`, as MLflow's own client sends it (`max_results`).
pub(crate) fn proxied_read(auth: crate::http::Auth) -> crate::http::Req {
    proxied_read_via(crate::catalogue::Spelling::PRIMARY, auth)
}

/// What the auth layer made of a keyed request, read from its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyDecision {
    /// The answer came from behind the auth middleware (whatever the route then said: a
    /// 2xx, the proxy's 404, MLflow's errors, a 502 about MLflow).
    Accepted,
    /// 401 with one of the contract's rejection bodies, or 403 on a read.
    Rejected,
    /// The auth layer could not decide: the auth service failed or throttled (a 401 naming
    /// it, a 503 with Retry-After, a 429 without the limiter's headers), or the request
    /// never reached the API (a load balancer's page).
    Undecided,
}

impl KeyDecision {
    /// Under a profile whose auth-service failure is `auth_failure_status` (401 naming the
    /// auth service, or 503 with Retry-After).
    pub(crate) fn of(ex: &crate::http::Exchange, auth_failure_status: u16) -> Self {
        let rejection = matches!(
            ex.detail().as_deref(),
            Some("API key required" | "Invalid or expired API key")
        );
        match ex.status {
            _ if ex.is_html() && ex.status >= 400 => KeyDecision::Undecided,
            401 if rejection || ex.detail().is_none() || auth_failure_status != 401 => {
                KeyDecision::Rejected
            }
            401 => KeyDecision::Undecided,
            403 => KeyDecision::Rejected,
            429 if ex.header("x-ratelimit-limit").is_none() => KeyDecision::Undecided,
            503 if ex.header("retry-after").is_some() => KeyDecision::Undecided,
            _ => KeyDecision::Accepted,
        }
    }
}

impl KeyDecision {
    /// As [`KeyDecision::of`], and on the stand-in with the auth service's own log: a 401
    /// while the auth service answered the API's validation with 429 or a 5xx (or not at
    /// all) is no judgement of the key (the API passed the auth service's failure on as a bad
    /// key); a throttling auth service is recorded as seen; a server error its auth
    /// middleware counts as its own failure (no Redis) judged no key either.
    pub(crate) fn judged(c: &crate::check::Check, ex: &crate::http::Exchange) -> Self {
        let d = Self::of(ex, c.env.profile().auth.failure_status);
        // The platform's own count says its auth middleware failed the request itself (no
        // Redis): the key was judged by no one.
        if ex.counted.auth_layer_failed(ex.status) {
            return KeyDecision::Undecided;
        }
        if d != KeyDecision::Rejected || ex.status != 401 {
            return d;
        }
        // Told its key is bad only after the API's auth timeout: the auth service's timeout
        // told as a bad key, no judgement of the key (live: from latency; the stand-in's log
        // says it below).
        if c.sink().observer().rejected_after_auth_timeout(ex) {
            return KeyDecision::Undecided;
        }
        // The platform's own count says its auth service failed a validation during the
        // request (an auth ALB that answered for it leaves no call in the service's log).
        if ex.counted.auth_failures > 0 {
            return KeyDecision::Undecided;
        }
        let answered = c
            .env
            .standin()
            .and_then(|s| s.validate_calls().last().map(|v| v.answered));
        match answered {
            Some(Some(429)) => {
                c.saw(crate::check::Symptom::AuthServiceThrottled);
                KeyDecision::Undecided
            }
            Some(None) => {
                let role = c.sink().observer().valid_role(ex);
                c.saw(crate::check::Symptom::SlowKeyRejection { role });
                KeyDecision::Undecided
            }
            Some(Some(s)) if s >= 500 => KeyDecision::Undecided,
            _ => d,
        }
    }
}

/// What a request without a key, answered `ex` on `route`, says of the route's auth layer:
/// registry data (a 2xx, or MLflow's own `error_code`), or another answer from behind the
/// layer (a 5xx of the route, such as the proxy's 502 about MLflow); `None` for a rejection,
/// a routing 404/405, a throttle or a load balancer's page (no judgement of the layer).
pub(crate) fn keyless_symptom(
    ex: &crate::http::Exchange,
    route: &str,
    auth_failure_status: u16,
) -> Option<crate::check::Symptom> {
    use crate::check::Symptom;
    let route = route.to_owned();
    let error_code = ex
        .json()
        .is_some_and(|v| v.get("error_code").is_some_and(|c| c.is_string()));
    if ex.status != 401 && ((200..300).contains(&ex.status) || error_code) {
        return Some(Symptom::DataWithoutKey { route });
    }
    let passed = KeyDecision::of(ex, auth_failure_status) == KeyDecision::Accepted
        && !matches!(ex.status, 401 | 403 | 404 | 405 | 429)
        && ex.json().is_some();
    passed.then_some(Symptom::KeyNotDemanded { route })
}

/// A precondition: the key got through the auth layer. A rejected key blocks the check on
/// the key-formats line; an undecided one blocks it at this step (its symptoms name the
/// cause: the auth service, its throttling, the load balancer).
pub(crate) fn key_got_through(
    c: &crate::check::Check,
    ex: &crate::http::Exchange,
) -> Result<(), crate::check::Failure> {
    use crate::check::{Failure, Line};
    let step = "a valid key getting through the auth layer";
    let f = || {
        Failure::failed(
            "the key accepted (an answer from behind the auth middleware)",
            expect::describe(ex),
        )
    };
    match KeyDecision::judged(c, ex) {
        KeyDecision::Accepted => Ok(()),
        KeyDecision::Rejected => Err(f().blocked_on(step, Line::KeyFormats)),
        KeyDecision::Undecided => Err(f().blocked(step)),
    }
}

/// Helpers shared by the areas' checks.
pub(crate) mod expect {
    use crate::check::{Failure, ensure};
    use crate::config::MlflowRelease;
    use crate::http::Exchange;
    use serde_json::Value;

    /// Describes what came back, telling an ALB/HTML page apart from an application answer.
    pub fn describe(ex: &Exchange) -> String {
        if ex.is_html() {
            format!(
                "HTML {} page ({}), not an application answer",
                ex.status,
                one_line(&ex.excerpt(80))
            )
        } else {
            format!("{} {}", ex.status, one_line(&ex.excerpt(200)))
        }
    }

    fn one_line(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The status must be `want`.
    pub fn status(ex: &Exchange, want: u16) -> Result<(), Failure> {
        ensure(ex.status == want, format!("status {want}"), describe(ex))
    }

    /// MLflow's own answer for a missing artifact, as the profile's MLflow major gives it,
    /// passed through unchanged (contract: upstream answers pass through). 3.x answers 404;
    /// 2.9.2 has no not-found case there and answers 500 `INTERNAL_ERROR` (measured,
    /// `shared/reference/mlflow-real.md` section 9), which is no failure of the platform.
    pub fn missing_artifact(ex: &Exchange, release: MlflowRelease) -> Result<(), Failure> {
        let code = ex
            .json()
            .and_then(|v| v.get("error_code")?.as_str().map(str::to_owned));
        // What the release answers (measured: tests/mlflow_contract.rs, the artifacts case).
        let (ok, want) = match release {
            MlflowRelease::V3_17_2 => (
                ex.status == 404,
                "404 for a missing artifact (MLflow 3.17's answer)".to_owned(),
            ),
            MlflowRelease::V2_9_2 | MlflowRelease::V3_9_0 => (
                ex.status == 500 && code.as_deref() == Some("INTERNAL_ERROR"),
                format!(
                    "MLflow {}'s own answer for a missing artifact, passed through unchanged: 500 {{error_code: INTERNAL_ERROR}} (MLflow 3.17 answers 404)",
                    release.version()
                ),
            ),
        };
        ensure(ok, want, describe(ex))
    }

    /// The body must be a JSON object; returns it.
    pub fn json_object(ex: &Exchange) -> Result<Value, Failure> {
        match ex.json() {
            Some(v @ Value::Object(_)) => Ok(v),
            _ => Err(Failure::failed("a JSON object", describe(ex))),
        }
    }

    /// A FastAPI error with exactly this `detail`.
    pub fn detail(ex: &Exchange, status_want: u16, detail_want: &str) -> Result<(), Failure> {
        let ok = ex.status == status_want && ex.detail().as_deref() == Some(detail_want);
        let f = ensure(
            ok,
            format!("{status_want} {{\"detail\":\"{detail_want}\"}}"),
            describe(ex),
        );
        if ex.status == status_want && ex.detail().is_none() {
            return f.map_err(|f| {
                f.symptom(crate::check::Symptom::RejectionWithoutDetail { status: ex.status })
            });
        }
        f
    }
}
