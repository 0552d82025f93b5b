//! Root-cause analysis from typed symptoms.
//!
//! Every failing, erroring or blocked check carries [`Symptom`]s: those its assertion named
//! and those of the requests it made (classified by shape when they were recorded; requests
//! made while the check injected a fault itself are left out). The rules below match
//! symptoms only — never message text, never check ids — in priority order (upstream
//! first): a cause is named only when one of its own symptoms was seen, and it then claims
//! every unclaimed bad check that shows one of the symptoms it explains.
//!
//! Causes are the infrastructure faults of `faults.md` ([`Fault`]) and the lines of the
//! contract ([`Line`]): a bad check that no fault explains is reported under the contract
//! line it verifies. "Unclassified" is left for failures of the suite itself (a panic, a check
//! without a contract line), reported as a suite defect. Documented in `docs/root-causes.md`.

use crate::catalogue::{Cause, Fault, KeyRole, Spelling};
use crate::check::{CheckResult, Component, Line, Outcome, Symptom};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a cause is (the catalogue's typed causes).
pub type CauseKind = Cause;

/// A cause the report can name.
#[derive(Debug, Clone, Copy)]
pub struct RootCause {
    /// The fault id of `faults.md`, `contract:<line>`, or `unreachable`.
    pub kind: CauseKind,
    pub title: &'static str,
    pub fix: &'static str,
    pub resource: &'static str,
    /// The component that owns it (the health score charges its checks there).
    pub component: Component,
    /// A symptom that is this cause's own evidence (names it).
    trigger: fn(&Symptom, &Facts) -> bool,
    /// A symptom this cause explains (claims the check showing it, once named), given what
    /// the whole run showed (a valid key's rejection is the key-formats line's when the
    /// same key met the auth service in another header form).
    claims: fn(&Symptom, &Facts) -> bool,
}

impl RootCause {
    pub fn id(&self) -> String {
        self.kind.id()
    }
}

/// A named cause with the checks it explains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub fix: String,
    pub resource: String,
    /// The component charged with the checks below.
    #[serde(default = "default_component")]
    pub component: Component,
    /// Does it stop third parties from registering models? True only when a
    /// registration-flow check failed or was blocked by it.
    pub blocks_registration: bool,
    /// `area/id` of every bad check this cause explains (failed and blocked).
    pub checks: Vec<String>,
    /// The checks that were blocked (stopped before their own assertion) by it.
    #[serde(default)]
    pub blocked: Vec<String>,
    /// Checks whose clean-up left objects on the platform (whatever their own verdict):
    /// the `nothing-left-behind` finding lists them, with the objects under "Left behind".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_by: Vec<String>,
    /// Checks that timed out while other checks ran beside them and answered when run again
    /// alone (on `api-blocks-while-serving`: the suite's own concurrency met an API that
    /// serves one request at a time); their verdicts are the second run's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retried_alone: Vec<String>,
    /// The contract lines its checks verify, when it reached several (a shared symptom).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// What names it: a sentence each, with the check and the request that showed it.
    pub evidence: Vec<Clue>,
}

/// One piece of evidence for a cause, in words (the typed symptom stays beside it in
/// report.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clue {
    /// `area/id` of the check that showed it.
    pub check: String,
    /// One sentence a person reads at once.
    pub says: String,
    /// The request that showed it, with its answer (`DELETE /api/mlflow/… -> 400`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The typed symptom it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symptom: Option<Symptom>,
}

impl std::fmt::Display for Clue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.check, self.says)?;
        match &self.request {
            Some(r) => write!(f, " ({r})"),
            None => Ok(()),
        }
    }
}

/// How many clues a finding keeps.
const CLUES: usize = 3;

fn default_component() -> Component {
    Component::Api
}

/// A failure of the suite itself (a panic, unreadable data, a check without a line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unclassified {
    pub check: String,
    pub outcome: String,
    pub message: String,
}

/// What the rules look at: every bad result and its symptoms; and the symptoms of every
/// result (passing ones carry counter-evidence, such as a key accepted in another form).
pub struct Facts {
    all: Vec<Symptom>,
    /// Hosts that gave at least one answer in the run.
    answered_hosts: BTreeSet<String>,
    /// Route families of the registry that answered (not while a check injected a fault)
    /// with an answer whose time is not explained otherwise (the witnesses of "every call
    /// slow").
    routes_answered: usize,
    /// Checks that saw a fast auth-service failure (one answer that reads like one, among
    /// working validations, is not an auth service down).
    fast_auth_failure_checks: usize,
    /// Health routes that called MLflow down, and health routes that called it up: when no
    /// proxied call tells, the routes' majority does.
    mlflow_reported: (usize, usize),
}

impl Facts {
    fn any(&self, f: impl Fn(&Symptom) -> bool) -> bool {
        self.all.iter().any(f)
    }

    /// A proxied call through `spelling` got MLflow's answer: the spelling is routed.
    fn reached(&self, spelling: Spelling) -> bool {
        self.any(|s| matches!(s, Symptom::UpstreamAnswered { spelling: Some(x) } if *x == spelling))
    }

    /// Distinct routes that answered slowly.
    /// More of the auth-service failures seen were slow (the API's timeout) than fast.
    fn auth_failures_mostly_slow(&self) -> bool {
        let (mut slow, mut fast) = (0, 0);
        for s in &self.all {
            match s {
                Symptom::AuthServiceFailed { slow: true, .. }
                | Symptom::SlowKeyRejection { role: Some(_) } => slow += 1,
                Symptom::AuthServiceFailed { slow: false, .. } => fast += 1,
                // A valid key told it is bad at once: the auth service answered in time
                // (unless the API refused that header form itself).
                Symptom::ValidKeyRejected { role, via }
                    if !self.told_bad_after_timeout(*role) && !self.form_mishandled(*role, via) =>
                {
                    fast += 1
                }
                _ => {}
            }
        }
        slow > fast
    }

    /// Slow answers on at least two routes, and on at least half of the routes that
    /// answered: "every call slow" is a scope the evidence must show.
    fn mostly_slow(&self) -> bool {
        let slow = self.slow_routes();
        slow >= 2 && 2 * slow >= self.routes_answered
    }

    fn slow_routes(&self) -> usize {
        self.all
            .iter()
            .filter_map(|s| match s {
                Symptom::SlowAnswer { route } => Some(route.as_str()),
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// A cache entry for a validated key was seen at least once.
    fn entry_seen(&self) -> bool {
        self.any(|x| {
            matches!(
                x,
                Symptom::CacheEntryPresent | Symptom::CacheEntryElsewhere { .. }
            )
        })
    }

    /// Roles of valid keys that were rejected and never accepted in any header form, and
    /// the header forms they were rejected in (a key accepted in another form is a valid
    /// key whose form was mishandled: [`Self::header_form_mishandled`]).
    fn rejected(&self) -> (BTreeSet<KeyRole>, BTreeSet<&str>) {
        let mut roles = BTreeSet::new();
        let mut vias = BTreeSet::new();
        for s in &self.all {
            if let Symptom::ValidKeyRejected { role, via } = s
                && !self.key_accepted(*role, &|_| true)
                && !self.told_bad_after_timeout(*role)
                && !self.failed_only_in_other_form(*role, via)
                && !self.not_seen_in_other_form(*role, via)
            {
                roles.insert(*role);
                vias.insert(via.as_str());
            }
        }
        (roles, vias)
    }

    /// A key of `role` was told it is bad only after the auth timeout (its rejections are no
    /// judgement of the key).
    fn told_bad_after_timeout(&self, role: KeyRole) -> bool {
        self.any(|s| matches!(s, Symptom::SlowKeyRejection { role: Some(r) } if *r == role))
    }

    /// The key of `role` was accepted in a header form `via` matches, on a spelling that
    /// demands a key (an acceptance on a spelling that answered without any key,
    /// `data_without_key` or `key_not_demanded`, is no acceptance of the key).
    fn key_accepted(&self, role: KeyRole, via: &dyn Fn(&str) -> bool) -> bool {
        let unguarded: Vec<Spelling> = self
            .all
            .iter()
            .filter_map(|s| match s {
                Symptom::DataWithoutKey { route } | Symptom::KeyNotDemanded { route } => {
                    Spelling::of(route)
                }
                _ => None,
            })
            .collect();
        self.any(|a| {
            matches!(a, Symptom::KeyAccepted { role: r, via: v, spelling }
                if *r == role && via(v) && !spelling.is_some_and(|sp| unguarded.contains(&sp)))
        })
    }

    /// The same valid key was rejected in one header form and accepted in another, or met
    /// only the auth service's failure in another (the API refused the first form without
    /// the auth service's judgement); and it was never accepted in the form it was
    /// rejected in.
    fn header_form_mishandled(&self) -> bool {
        self.all.iter().any(|s| {
            let Symptom::ValidKeyRejected { role, via } = s else {
                return false;
            };
            self.form_mishandled(*role, via)
        })
    }

    /// The key of `role` was refused as `via` but not in another header form (accepted,
    /// met the auth service's failure, or not read there): its rejection as `via` is the
    /// API's handling of that form, no answer of the auth service.
    fn form_mishandled(&self, role: KeyRole, via: &str) -> bool {
        (self.key_accepted(role, &|v| v != via)
            || self.failed_only_in_other_form(role, via)
            || self.not_seen_in_other_form(role, via))
            && !self.key_accepted(role, &|v| v == via)
    }

    /// In some header form other than `via`, the API did not read the key of `role` at all
    /// ("API key required" with the key sent): it mishandles header forms, so a rejection
    /// as `via` is no judgement of the key by the auth service.
    fn not_seen_in_other_form(&self, role: KeyRole, via: &str) -> bool {
        self.any(|s| matches!(s, Symptom::KeyNotSeen { role: r, via: w } if *r == role && w != via))
    }

    /// In some header form other than `via`, the key of `role` met the auth service's
    /// failure (or its throttling) and was never rejected: the auth service was not there to
    /// judge it, so its rejection as `via` was the API's own.
    fn failed_only_in_other_form(&self, role: KeyRole, via: &str) -> bool {
        self.any(|s| {
            let w = match s {
                Symptom::AuthServiceFailed {
                    role: Some(r),
                    via: w,
                    ..
                } if *r == role => w,
                // The low-limit key's 429 is its own budget spent, no failure to judge it.
                Symptom::ValidationThrottled {
                    role: Some(r),
                    via: w,
                } if *r == role && role != KeyRole::LowLimit => w,
                _ => return false,
            };
            w != via
                && !w.is_empty()
                && !self.any(|x| {
                    matches!(x, Symptom::ValidKeyRejected { role: r2, via: v2 }
                    if *r2 == role && v2 == w)
                })
        })
    }
}

/// No answer at all (refused, unreachable, timed out) from the registry or the auth host.
fn host_silent(s: &Symptom) -> bool {
    matches!(s, Symptom::Unanswered { host, class }
        if (host == "registry" || host == "auth") && class != "broken response")
}

fn redis_unhealthy(s: &Symptom) -> bool {
    matches!(s, Symptom::DependencyUnhealthy { service } if service == "redis")
}

/// The symptoms of one result that may name a cause.
pub fn symptoms_of(r: &CheckResult) -> Vec<Symptom> {
    let mut v = r.symptoms.clone();
    for e in r.evidence.iter().filter(|e| !e.injected) {
        v.extend(e.symptoms.iter().cloned());
    }
    v
}

macro_rules! sym {
    ($($p:pat_param)|+) => {
        |s: &Symptom, _: &Facts| matches!(s, $($p)|+)
    };
}

const fn fault(
    f: Fault,
    title: &'static str,
    fix: &'static str,
    resource: &'static str,
    component: Component,
    trigger: fn(&Symptom, &Facts) -> bool,
    claims: fn(&Symptom, &Facts) -> bool,
) -> RootCause {
    RootCause {
        kind: Cause::Fault(f),
        title,
        fix,
        resource,
        component,
        trigger,
        claims,
    }
}

/// A contract line named by a symptom of its own (not only as the fallback of its checks).
const fn line(
    l: Line,
    trigger: fn(&Symptom, &Facts) -> bool,
    claims: fn(&Symptom, &Facts) -> bool,
) -> RootCause {
    RootCause {
        kind: Cause::Line(l),
        title: "",
        fix: "",
        resource: "",
        component: Component::Api,
        trigger,
        claims,
    }
}

/// The line of a spelling the profile routes, named by its own 404.
const fn spelling(
    s: Spelling,
    trigger: fn(&Symptom, &Facts) -> bool,
    claims: fn(&Symptom, &Facts) -> bool,
) -> RootCause {
    line(
        match s {
            Spelling::ProxyApi => Line::SpellingProxyApi,
            Spelling::ProxyAjax => Line::SpellingProxyAjax,
            Spelling::MlflowAjax => Line::SpellingMlflowAjax,
            Spelling::BareApi => Line::SpellingBareApi,
            Spelling::BareAjax => Line::SpellingBareAjax,
        },
        trigger,
        claims,
    )
}

/// A valid key told it is bad in a header form whose refusal could be the auth service's
/// (not one the API refused itself while the key met the auth service in another form).
fn told_bad_in_a_form_it_judges(s: &Symptom, f: &Facts) -> bool {
    matches!(s, Symptom::ValidKeyRejected { role, via } if !f.form_mishandled(*role, via))
}

fn unrouted(s: &Symptom, which: Spelling) -> bool {
    matches!(s, Symptom::SpellingUnrouted { spelling } if *spelling == which)
}

/// The causes with a symptom rule, in priority order.
pub const CAUSES: &[RootCause] = &[
    fault(
        Fault::TargetUnhealthy,
        "Registry ALB has no healthy target",
        "Fix the target group health check (path, timeout) and the security group between ALB and tasks",
        "registry target group, security groups",
        Component::Alb,
        |s, _| matches!(s, Symptom::AlbErrorPage { host, .. } if host == "registry"),
        |s, _| matches!(s, Symptom::AlbErrorPage { host, .. } if host == "registry"),
    ),
    RootCause {
        kind: Cause::Unreachable,
        title: "A host of the platform does not answer (DNS, network, security group, TLS, or the service down)",
        fix: "Check that the host resolves, accepts connections from where the suite runs, and completes a TLS handshake on https (listener, certificate)",
        resource: "load balancer (and its HTTPS listener and certificate), DNS record, security groups",
        component: Component::Alb,
        // A connection broken mid-answer (a reset during an upload) on a host that answers
        // other requests is not a host that does not answer: that request's line takes it.
        trigger: |s, f| {
            host_silent(s)
                || matches!(s, Symptom::Unanswered { host, .. }
                    if (host == "registry" || host == "auth") && !f.answered_hosts.contains(host))
        },
        claims: |s, _| matches!(s, Symptom::Unanswered { host, .. } if host == "registry" || host == "auth"),
    },
    RootCause {
        kind: Cause::SlowRoute,
        title: "A route of the platform gives no answer in time while the rest of its host answers",
        fix: "Find what blocks that route's handler (a dependency probe, a lock, a synchronous call); the routes are in the evidence",
        resource: "API service",
        component: Component::Api,
        trigger: |s, _| matches!(s, Symptom::RouteTimedOut { .. }),
        claims: |s, _| matches!(s, Symptom::RouteTimedOut { .. }),
    },
    RootCause {
        kind: Cause::BlocksWhileServing,
        title: "The API answers nothing else while it serves a slow request (its event loop is blocked)",
        fix: "Make the handler's slow calls non-blocking (an async HTTP client for MLflow and the auth service, or run the synchronous call in a worker thread), so one slow request does not hold every other",
        resource: "API service (proxy and health handlers)",
        component: Component::Api,
        trigger: |s, _| matches!(s, Symptom::BlockedBehindSlowRequest { .. }),
        claims: |s, _| matches!(s, Symptom::BlockedBehindSlowRequest { .. }),
    },
    fault(
        Fault::AuthDown,
        "Auth service unavailable",
        "Restore the auth ECS service and its target group health",
        "auth ECS service, auth target group",
        Component::AuthService,
        // Its ALB's page; or fast auth-service failures, unless the auth service's own
        // health answered and only one check saw one (a cached rejection worded otherwise).
        |s, f| {
            matches!(s, Symptom::AlbErrorPage { host, .. } if host == "auth")
                || (matches!(s, Symptom::AuthServiceFailed { slow: false, .. })
                    && (f.fast_auth_failure_checks >= 2
                        || !f.any(|x| matches!(x, Symptom::AuthHealthy))))
        },
        // Once the auth service is seen down, every auth failure is its: on a loaded machine
        // some of its fast answers take about the API's timeout too.
        |s, _| {
            matches!(s, Symptom::AlbErrorPage { host, .. } if host == "auth")
                || matches!(s, Symptom::AuthServiceFailed { .. })
        },
    ),
    // The auth service's timeout told to the client as a bad key: its own line, before the
    // slow auth service claims the checks it blocked.
    line(
        Line::AuthFailureNotBadKey,
        |s, _| {
            matches!(
                s,
                Symptom::TimeoutReportedAsBadKey | Symptom::AuthFailureReportedAsBadKey
            )
        },
        sym!(Symptom::TimeoutReportedAsBadKey | Symptom::AuthFailureReportedAsBadKey),
    ),
    fault(
        Fault::AuthSlow,
        "Auth service too slow / unreachable path between API and auth",
        "Check auth latency and the API-to-auth route (a shared ALB once looped it)",
        "auth ALB and listener rules",
        Component::AuthService,
        // Most of the auth-service failures took the API's timeout: one slow answer among
        // fast ones (a loaded machine, a GC pause) is not a slow auth service.
        // A valid key told it is bad only after the API's auth timeout is that timeout too.
        |s, f| {
            matches!(
                s,
                Symptom::AuthServiceFailed { slow: true, .. }
                    | Symptom::SlowKeyRejection { role: Some(_) }
            ) && f.auth_failures_mostly_slow()
        },
        // Valid keys told they are bad while the auth service times out: its timeouts told
        // as bad keys; not a key refused in a header form the API mishandles (the
        // key-formats line's, below).
        |s, f| {
            matches!(
                s,
                Symptom::AuthServiceFailed { .. } | Symptom::SlowKeyRejection { .. }
            ) || told_bad_in_a_form_it_judges(s, f)
        },
    ),
    // The auth service's 429 told to the client as a bad key: its own line, before the
    // throttling claims the checks it blocked.
    line(
        Line::AuthRateLimitPassedOn,
        |s, _| matches!(s, Symptom::ThrottleReportedAsBadKey),
        sym!(Symptom::ThrottleReportedAsBadKey),
    ),
    fault(
        Fault::AuthRateLimited,
        "The auth service rate-limits the API (quota too low for the API's validation rate, or the cache not absorbing repeats)",
        "Raise the API's quota at the auth service; check that the auth cache absorbs repeated validations",
        "auth service rate-limit configuration, API auth cache",
        Component::AuthService,
        // A valid key's first request throttled (not the low-limit key spending its budget),
        // or the auth log's 429s (the stand-in), whatever the client was told.
        |s, _| {
            matches!(s, Symptom::ValidationThrottled { role: Some(role), .. } if *role != KeyRole::LowLimit)
                || matches!(s, Symptom::AuthServiceThrottled)
        },
        // Valid keys rejected while the auth service throttles: its 429s told as bad keys;
        // not a key refused in a header form the API mishandles (the key-formats line's).
        |s, f| {
            matches!(
                s,
                Symptom::ValidationThrottled { .. } | Symptom::AuthServiceThrottled
            ) || told_bad_in_a_form_it_judges(s, f)
        },
    ),
    line(
        Line::KeyFormats,
        |s, f| {
            (matches!(s, Symptom::ValidKeyRejected { .. }) && f.header_form_mishandled())
                || matches!(s, Symptom::KeyNotSeen { .. })
        },
        sym!(
            Symptom::ValidKeyRejected { .. }
                | Symptom::RejectedWithoutValidation
                | Symptom::KeyNotSeen { .. }
        ),
    ),
    // Seen on the stand-in's auth log: the key did not travel as the contract says, which
    // explains every valid key rejected (before a service-id mismatch would).
    line(
        Line::ValidateCall,
        |s, _| matches!(s, Symptom::ValidateCallWrong { .. }),
        sym!(Symptom::ValidateCallWrong { .. } | Symptom::ValidKeyRejected { .. }),
    ),
    fault(
        Fault::ServiceIdMismatch,
        "API configured with the wrong auth service id",
        "Set AUTH_SERVICE_ID=platform",
        "API task definition environment",
        Component::Api,
        |s, f| {
            matches!(s, Symptom::ServiceIdWrong { .. })
                || (matches!(s, Symptom::ValidKeyRejected { .. })
                    && f.rejected().0.len() >= 2
                    && !f.any(|x| matches!(x, Symptom::AuthServiceThrottled)))
        },
        sym!(Symptom::ValidKeyRejected { .. } | Symptom::ServiceIdWrong { .. }),
    ),
    fault(
        Fault::KeyNotValidForService,
        "The test key is not valid for this service",
        "Issue a key for service `platform` with read/write scopes",
        "auth data (no infrastructure)",
        Component::AuthService,
        |s, f| matches!(s, Symptom::ValidKeyRejected { .. }) && f.rejected().0.len() == 1,
        sym!(Symptom::ValidKeyRejected { .. }),
    ),
    fault(
        Fault::MlflowRouteToMlflow,
        "ALB listener rule for /api/mlflow/* targets MLflow instead of the API",
        "Point the rule at the API target group",
        "registry ALB listener rule",
        Component::Alb,
        |s, _| matches!(s, Symptom::ProxyBypassed { .. }),
        sym!(Symptom::ProxyBypassed { .. } | Symptom::HtmlFromUpstream { .. }),
    ),
    // Before the dependency's own cause: the health check's finding is that it was not told.
    line(
        Line::HealthReportsDependencies,
        |s, _| matches!(s, Symptom::HealthContradicted { .. }),
        sym!(Symptom::HealthContradicted { .. }),
    ),
    fault(
        Fault::MlflowDown,
        "MLflow unreachable from the API (service down, stale address, security group)",
        "Restore MLflow / its service discovery record / the SG rule",
        "MLflow ECS service, service discovery, security groups",
        Component::Mlflow,
        // A health route names it only when no proxied call reached MLflow: a breaker stuck
        // open while calls work is that health route's own line. A proxied call that could
        // not reach MLflow (in any check, one that passed included) outweighs a health route
        // calling MLflow healthy; without one, the health routes' majority decides.
        // The API's own probe failing with its breaker closed is such a call too, unless a
        // proxied call got MLflow's answer.
        |s, f| {
            let answered = f.any(|x| matches!(x, Symptom::UpstreamAnswered { .. }));
            matches!(s, Symptom::UpstreamUnreachable)
                || (matches!(s, Symptom::MlflowProbeFailed) && !answered)
                || (matches!(s, Symptom::DependencyUnhealthy { service } if service == "mlflow")
                    && (f.any(|x| matches!(x, Symptom::UpstreamUnreachable))
                        || (!answered && f.mlflow_reported.0 > f.mlflow_reported.1)))
        },
        |s, _| {
            matches!(s, Symptom::UpstreamUnreachable | Symptom::MlflowProbeFailed)
                || matches!(s, Symptom::DependencyUnhealthy { service } if service == "mlflow")
        },
    ),
    fault(
        Fault::MlflowSlow,
        "MLflow overloaded or its database slow",
        "Scale MLflow, check RDS",
        "MLflow ECS service, RDS instance",
        Component::Mlflow,
        // Also a proxied 500 that came only after the proxy's timeout, unless every call is
        // slow (then a slow 500 is no timeout of MLflow's).
        |s, f| {
            matches!(s, Symptom::UpstreamTimeout)
                || (matches!(s, Symptom::UpstreamTimeoutAsServerError { .. }) && !f.mostly_slow())
        },
        sym!(Symptom::UpstreamTimeout | Symptom::UpstreamTimeoutAsServerError { .. }),
    ),
    // MLflow's timeout told as a 500: the contract's 504 line.
    line(
        Line::UpstreamErrors,
        |s, f| matches!(s, Symptom::UpstreamTimeoutAsServerError { .. }) && !f.mostly_slow(),
        sym!(Symptom::UpstreamTimeoutAsServerError { .. }),
    ),
    fault(
        Fault::ArtifactsDisabled,
        "Artifact storage not configured",
        "Start MLflow with --serve-artifacts and an artifact root",
        "MLflow task definition, artifact bucket, task role",
        Component::Artifacts,
        |s, _| matches!(s, Symptom::ArtifactsDisabled),
        sym!(Symptom::ArtifactsDisabled),
    ),
    fault(
        Fault::NoAjaxRewrite,
        "Proxy path conversion (api/2.0 -> ajax-api/2.0) missing",
        "Restore the ajax-api rewrite (or use an internal upstream)",
        "API service",
        Component::Api,
        |s, _| matches!(s, Symptom::ApiSpellingNotFound),
        sym!(Symptom::ApiSpellingNotFound),
    ),
    fault(
        Fault::AuthHeaderLeak,
        "Proxy forwards the API key to MLflow",
        "Strip Authorization / X-API-Key before forwarding",
        "API service",
        Component::Api,
        |s, _| matches!(s, Symptom::KeyForwarded),
        sym!(Symptom::KeyForwarded),
    ),
    fault(
        Fault::CacheOff,
        "Auth cache not working (Redis unreachable or disabled)",
        "Set REDIS_URL, check the ElastiCache security group",
        "ElastiCache, API task definition",
        Component::RedisCache,
        // Named by Redis reported unhealthy, or by validations repeated within the TTL while
        // no entry was ever seen. A missing entry alone is the cache-entry line (the cache
        // may work under another name); an entry not re-created after expiry is a line too.
        |s, f| {
            redis_unhealthy(s) || (matches!(s, Symptom::CacheBehaviour { .. }) && !f.entry_seen())
        },
        |s, _| {
            matches!(s, Symptom::DependencyUnhealthy { service } if service == "redis")
                || matches!(
                    s,
                    Symptom::CacheEntryMissing
                        | Symptom::CacheBehaviour { .. }
                        | Symptom::RateLimitHeadersMissing
                        | Symptom::RateLimitNotEnforced { .. }
                )
        },
    ),
    // A keyed request answered with a server error while Redis was down: the API's auth
    // cannot do without Redis. Once seen, the server errors of keyed requests are that (with
    // the cache off for the whole run, every keyed request gets one).
    line(
        Line::RedisDownFallback,
        |s, _| matches!(s, Symptom::AuthNeedsRedis),
        sym!(Symptom::AuthNeedsRedis | Symptom::ServerError { .. }),
    ),
    line(
        Line::CacheEntry,
        |s, f| {
            matches!(s, Symptom::CacheEntryElsewhere { .. })
                || (matches!(s, Symptom::CacheEntryMissing)
                    && !f.entry_seen()
                    && !f
                        .any(|x| redis_unhealthy(x) || matches!(x, Symptom::CacheBehaviour { .. })))
        },
        sym!(Symptom::CacheEntryMissing | Symptom::CacheEntryElsewhere { .. }),
    ),
    fault(
        Fault::CacheTtlWrong,
        "Auth cache TTL misconfigured",
        "Set the cache TTL to the profile's value",
        "API service",
        Component::RedisCache,
        |s, _| {
            matches!(
                s,
                Symptom::CacheTtl { .. } | Symptom::RevocationWindow { .. }
            )
        },
        sym!(Symptom::CacheTtl { .. } | Symptom::RevocationWindow { .. }),
    ),
    fault(
        Fault::RateLimitOff,
        "Rate limiter not enforced",
        "Fix the middleware order / the limiter's Redis address",
        "API service",
        Component::RateLimiter,
        |s, _| {
            matches!(
                s,
                Symptom::RateLimitHeadersMissing | Symptom::RateLimitNotEnforced { .. }
            )
        },
        sym!(Symptom::RateLimitHeadersMissing | Symptom::RateLimitNotEnforced { .. }),
    ),
    fault(
        Fault::WriteForbidden,
        "The key lacks a write scope",
        "Issue a key with mlflow:write",
        "auth data",
        Component::AuthService,
        |s, _| matches!(s, Symptom::WriteForbidden),
        sym!(Symptom::WriteForbidden),
    ),
    fault(
        Fault::EcsMissing,
        "ECS service not deployed (migration gap)",
        "Deploy the service",
        "the ECS service",
        Component::EcsServices,
        |s, _| matches!(s, Symptom::EcsServiceMissing { .. }),
        sym!(Symptom::EcsServiceMissing { .. }),
    ),
    fault(
        Fault::EcsDegraded,
        "ECS service unhealthy (tasks failing health checks)",
        "Read the stopped tasks' reasons; check the health-check grace period and SG ingress",
        "the ECS service, its target group health check",
        Component::EcsServices,
        |s, _| matches!(s, Symptom::EcsServiceUnhealthy { .. }),
        sym!(Symptom::EcsServiceUnhealthy { .. }),
    ),
    fault(
        Fault::SlowRegistry,
        "Platform degraded: every call slow",
        "Add capacity; check the database",
        "API / MLflow services",
        Component::Api,
        // "Every call slow": a budget missed and slow answers on more than one route. One
        // slow route is that route's contract line (e.g. a health probe that blocks).
        |s, f| matches!(s, Symptom::LatencyOverBudget { .. }) && f.mostly_slow(),
        sym!(Symptom::LatencyOverBudget { .. }),
    ),
    // Contract lines with a symptom of their own: one cause however many checks show it.
    // The API's own 404 on a spelling that got MLflow's answer on other calls: that
    // endpoint's family is not proxied; the spelling is routed.
    line(
        Line::ProxyTracking,
        |s, f| matches!(s, Symptom::SpellingUnrouted { spelling } if f.reached(*spelling)),
        sym!(Symptom::SpellingUnrouted { .. }),
    ),
    spelling(
        Spelling::ProxyApi,
        |s, f| unrouted(s, Spelling::ProxyApi) && !f.reached(Spelling::ProxyApi),
        |s, _| unrouted(s, Spelling::ProxyApi),
    ),
    spelling(
        Spelling::ProxyAjax,
        |s, f| unrouted(s, Spelling::ProxyAjax) && !f.reached(Spelling::ProxyAjax),
        |s, _| unrouted(s, Spelling::ProxyAjax),
    ),
    spelling(
        Spelling::MlflowAjax,
        |s, f| unrouted(s, Spelling::MlflowAjax) && !f.reached(Spelling::MlflowAjax),
        |s, _| unrouted(s, Spelling::MlflowAjax),
    ),
    spelling(
        Spelling::BareApi,
        |s, f| unrouted(s, Spelling::BareApi) && !f.reached(Spelling::BareApi),
        |s, _| unrouted(s, Spelling::BareApi),
    ),
    spelling(
        Spelling::BareAjax,
        |s, f| unrouted(s, Spelling::BareAjax) && !f.reached(Spelling::BareAjax),
        |s, _| unrouted(s, Spelling::BareAjax),
    ),
    line(
        Line::DeleteBodies,
        |s, _| matches!(s, Symptom::RequestBodyDropped),
        sym!(Symptom::RequestBodyDropped),
    ),
    line(
        Line::NothingLeftBehind,
        |s, _| {
            matches!(
                s,
                Symptom::CleanupRefused { .. } | Symptom::DeleteNotApplied
            )
        },
        sym!(Symptom::CleanupRefused { .. } | Symptom::DeleteNotApplied),
    ),
    line(
        Line::BadKeysRejected,
        |s, _| matches!(s, Symptom::RejectionWithoutDetail { .. }),
        sym!(Symptom::RejectionWithoutDetail { .. }),
    ),
    line(
        Line::ProxyHeaders,
        |s, _| matches!(s, Symptom::KeyEchoed),
        sym!(Symptom::KeyEchoed),
    ),
    line(
        Line::KeyRequiredEverywhere,
        |s, _| {
            matches!(
                s,
                Symptom::DataWithoutKey { .. } | Symptom::KeyNotDemanded { .. }
            )
        },
        sym!(Symptom::DataWithoutKey { .. } | Symptom::KeyNotDemanded { .. }),
    ),
    line(
        Line::ErrorsPassThrough,
        |s, _| matches!(s, Symptom::UnknownErrorCode { .. }),
        sym!(Symptom::UnknownErrorCode { .. }),
    ),
    line(
        Line::HtmlErrorsAsJson,
        |s, _| matches!(s, Symptom::HtmlFromUpstream { .. }),
        sym!(Symptom::HtmlFromUpstream { .. }),
    ),
    line(
        Line::RepeatedQuery,
        |s, _| matches!(s, Symptom::RepeatedQueryCollapsed),
        sym!(Symptom::RepeatedQueryCollapsed),
    ),
    // Last: a check cut by the budget is claimed by what slowed it when that was seen.
    RootCause {
        kind: Cause::RunBudget,
        title: "The run's time budget ran out before these checks finished",
        fix: "Look at the slow routes and answers in the evidence; raise HOKUSAI_RUN_BUDGET_S only if the platform is known to be slow",
        resource: "API / MLflow services",
        component: Component::Api,
        trigger: |s, _| matches!(s, Symptom::OutOfTime { .. }),
        claims: |s, _| matches!(s, Symptom::OutOfTime { .. }),
    },
];

/// Looks a cause up by id (a fault id, `contract:<line>` or `unreachable`).
pub fn cause(id: &str) -> Option<RootCause> {
    if let Some(c) = CAUSES.iter().find(|c| c.id() == id) {
        return Some(*c);
    }
    let l: Line = id.strip_prefix("contract:")?.parse().ok()?;
    Some(line_cause(l))
}

/// The cause for a broken contract line (the fallback of a check that verifies it).
fn line_cause(l: Line) -> RootCause {
    RootCause {
        kind: Cause::Line(l),
        title: "",
        fix: "",
        resource: "",
        component: l.info().component,
        trigger: |_, _| false,
        claims: |_, _| false,
    }
}

fn finding(c: &RootCause) -> Finding {
    let (title, fix, resource, component) = match c.kind {
        Cause::Line(l) => {
            let i = l.info();
            (
                l.violation(),
                i.fix.to_owned(),
                i.resource.to_owned(),
                i.component,
            )
        }
        _ => (
            c.title.to_owned(),
            c.fix.to_owned(),
            c.resource.to_owned(),
            c.component,
        ),
    };
    Finding {
        id: c.id(),
        title,
        fix,
        resource,
        component,
        blocks_registration: false,
        checks: Vec::new(),
        blocked: Vec::new(),
        left_by: Vec::new(),
        retried_alone: Vec::new(),
        lines: Vec::new(),
        evidence: Vec::new(),
    }
}

fn add(f: &mut Finding, r: &CheckResult, evidence: Option<&Symptom>) {
    f.checks.push(r.key());
    if matches!(r.outcome, Outcome::Blocked { .. }) {
        f.blocked.push(r.key());
    }
    if blocks_registration(r) {
        f.blocks_registration = true;
    }
    if f.evidence.len() < CLUES {
        f.evidence.push(clue(r, evidence));
    }
}

/// A registration-flow check whose (broken) line stops third parties from registering: not
/// the clean-up check, whose line is what stays behind.
fn blocks_registration(r: &CheckResult) -> bool {
    r.area == crate::checks::registration_flow::AREA
        && r.line.is_some_and(|l| l.info().blocks_registration)
}

/// The clue a check gives: the symptom in words with the request that showed it (its own
/// assertion's: the last request), or the check's message when no symptom named the cause.
fn clue(r: &CheckResult, symptom: Option<&Symptom>) -> Clue {
    let answered = |e: &crate::check::Evidence| {
        format!(
            "{} -> {}",
            e.request,
            e.status.map_or("no answer".to_owned(), |s| s.to_string())
        )
    };
    let shown_by = |s: &Symptom| {
        r.evidence
            .iter()
            .filter(|e| !e.injected)
            .find(|e| e.symptoms.contains(s))
            .or_else(|| r.evidence.iter().rev().find(|e| !e.injected))
            .map(answered)
    };
    match symptom {
        Some(s) => Clue {
            check: r.key(),
            says: s.sentence(),
            request: shown_by(s),
            symptom: Some(s.clone()),
        },
        None => Clue {
            check: r.key(),
            says: r
                .message
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
            request: None,
            symptom: None,
        },
    }
}

/// What clean-up could not remove, from every check of the run (passed or not): one finding
/// for the run, on the `nothing-left-behind` line, never the verdict of the checks that
/// created the objects.
fn left_behind(results: &[CheckResult], findings: &mut Vec<Finding>) {
    let by: Vec<&CheckResult> = results
        .iter()
        .filter(|r| !r.left_behind.is_empty())
        .collect();
    if by.is_empty() {
        return;
    }
    let id = Line::NothingLeftBehind.id();
    let pos = match findings.iter().position(|f| f.id == id) {
        Some(p) => p,
        None => {
            findings.push(finding(&line_cause(Line::NothingLeftBehind)));
            findings.len() - 1
        }
    };
    let f = &mut findings[pos];
    for r in by {
        f.left_by.push(r.key());
        for l in &r.left_behind {
            if f.evidence.len() < CLUES {
                f.evidence.push(Clue {
                    check: r.key(),
                    says: format!("{} {} stayed: {}", l.kind, l.name, l.reason),
                    request: None,
                    symptom: None,
                });
            }
        }
    }
}

/// Checks that were bad (timed out, failed) beside others and answered alone (the runner ran them again, see
/// [`crate::check::Rerun`]): the API serves one request at a time while it waits, and the
/// suite's own concurrency turned that into timeouts. One finding,
/// `api-blocks-while-serving`, with the checks; a check that timed out alone too is a slow
/// route (its own evidence says so).
fn blocked_while_serving(results: &[CheckResult], findings: &mut Vec<Finding>) {
    let by: Vec<&CheckResult> = results
        .iter()
        .filter(|r| {
            // Bad beside others, answered alone (and ran to its own end: one the budget
            // cut short answered nothing): the queue's verdict, not the route's.
            r.rerun
                .as_ref()
                .is_some_and(|first| first.first_outcome != crate::check::Outcome::Passed.label())
                && r.timed_out_routes().is_empty()
                && !r
                    .symptoms
                    .iter()
                    .any(|s| matches!(s, Symptom::OutOfTime { .. }))
        })
        .collect();
    if by.is_empty() {
        return;
    }
    let cause = CAUSES
        .iter()
        .find(|c| c.kind == Cause::BlocksWhileServing)
        .expect("a rule for the blocking API");
    let pos = match findings.iter().position(|f| f.id == cause.id()) {
        Some(p) => p,
        None => {
            findings.push(finding(cause));
            findings.len() - 1
        }
    };
    let f = &mut findings[pos];
    for r in by {
        f.retried_alone.push(r.key());
        if let Some(first) = &r.rerun
            && f.evidence.len() < CLUES
        {
            f.evidence.push(Clue {
                check: r.key(),
                says: if first.timed_out.is_empty() {
                    format!(
                        "{} while {} other check(s) ran; run again alone, it answered",
                        first.first_outcome, first.beside
                    )
                } else {
                    format!(
                        "timed out on {} while {} other check(s) ran ({}); run again alone, it answered",
                        first.timed_out.join(", "),
                        first.beside,
                        first.first_outcome
                    )
                },
                request: None,
                symptom: None,
            });
        }
    }
}

/// The answer a bad check failed on: its last answered request with an error status or an
/// HTML page (not while it injected a fault), as (host, status, body shape).
fn failing_answer(r: &CheckResult) -> Option<(String, u16, String)> {
    let e = r
        .evidence
        .iter()
        .rev()
        .filter(|e| !e.injected)
        .find(|e| e.status.is_some_and(|s| s >= 400))?;
    Some((e.host.clone(), e.status?, shape(e)))
}

/// A body's shape: `HTML page`, the sorted top-level keys of a JSON object, or `text`.
fn shape(e: &crate::check::Evidence) -> String {
    if e.content_type
        .as_deref()
        .is_some_and(|c| c.contains("html"))
    {
        return "HTML page".into();
    }
    match serde_json::from_str::<serde_json::Value>(&e.body_excerpt) {
        Ok(serde_json::Value::Object(m)) => {
            let keys: Vec<&str> = m.keys().map(String::as_str).collect();
            format!("JSON {{{}}}", keys.join(", "))
        }
        _ if e.body_excerpt.trim_start().starts_with('{') => "JSON (cut)".into(),
        _ => "text".into(),
    }
}

/// One unknown defect seen on several lines: bad checks that no rule claimed, failing on
/// one and the same answer (host, status, body shape) on at least [`SHARED_LINES`] contract
/// lines, where that answer is most of what the host answered in the run. The group becomes
/// one cause (the lines it reached listed under it) instead of a cause per line.
fn shared_symptom(results: &[CheckResult], bad: &[usize], claimed: &mut [bool]) -> Option<Finding> {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(String, u16, String), Vec<usize>> = BTreeMap::new();
    for &i in bad.iter().filter(|i| !claimed[**i]) {
        if let Some(sig) = failing_answer(&results[i]) {
            groups.entry(sig).or_default().push(i);
        }
    }
    let lines = |v: &Vec<usize>| {
        v.iter()
            .filter_map(|i| results[*i].line)
            .collect::<BTreeSet<Line>>()
    };
    let ((host, status, body), members) = groups
        .into_iter()
        .filter(|(_, v)| lines(v).len() >= SHARED_LINES)
        .max_by_key(|(_, v)| v.len())?;
    // Most of what the host answered: one answer on every path, not three routes that fail
    // each in its own way with the same status.
    let (mut same, mut all) = (0usize, 0usize);
    for e in results
        .iter()
        .flat_map(|r| &r.evidence)
        .filter(|e| !e.injected && e.host == host && e.status.is_some())
    {
        all += 1;
        if e.status == Some(status) && shape(e) == body {
            same += 1;
        }
    }
    if 2 * same < all {
        return None;
    }
    let component = match (host.as_str(), body.as_str()) {
        ("auth", _) => Component::AuthService,
        (_, "HTML page") => Component::Alb,
        _ => Component::Api,
    };
    let reached = lines(&members);
    let mut f = Finding {
        id: Cause::SharedSymptom.id(),
        title: format!(
            "The {host} host answers {status} ({body}) on every path: one defect behind {} contract lines",
            reached.len()
        ),
        fix: format!(
            "Find what answers {status} ({body}) to every request on the {host} host (a firewall rule, the load balancer, the API's middleware; the requests are below) and restore the contract's answers"
        ),
        resource: format!("whatever fronts the {host} host: WAF, load balancer, API middleware"),
        component,
        blocks_registration: false,
        checks: Vec::new(),
        blocked: Vec::new(),
        left_by: Vec::new(),
        retried_alone: Vec::new(),
        lines: reached.iter().map(|l| l.id()).collect(),
        evidence: Vec::new(),
    };
    for i in members {
        claimed[i] = true;
        let r = &results[i];
        f.checks.push(r.key());
        if matches!(r.outcome, Outcome::Blocked { .. }) {
            f.blocked.push(r.key());
        }
        if blocks_registration(r) {
            f.blocks_registration = true;
        }
        if f.evidence.len() < CLUES {
            let e = r
                .evidence
                .iter()
                .rev()
                .find(|e| !e.injected && e.status == Some(status));
            f.evidence.push(Clue {
                check: r.key(),
                says: format!(
                    "answered {status} ({body}) where the contract's line {} expects otherwise",
                    r.line.map(Line::id).unwrap_or_default()
                ),
                request: e.map(|e| format!("{} -> {status}", e.request)),
                symptom: None,
            });
        }
    }
    Some(f)
}

/// How many contract lines one unexplained answer must reach to be one shared cause.
const SHARED_LINES: usize = 3;

/// A failure of the suite itself, not of the platform.
fn suite_defect(r: &CheckResult) -> bool {
    matches!(&r.outcome, Outcome::Error { class } if class == "panic") || r.line.is_none()
}

/// Groups the bad checks of `results` under causes; failures of the suite itself are
/// returned as unclassified. Findings come largest blast radius first.
pub fn analyse(results: &[CheckResult]) -> (Vec<Finding>, Vec<Unclassified>) {
    let symptoms: Vec<Vec<Symptom>> = results.iter().map(symptoms_of).collect();
    // What claims a check: what its own assertion (or blocking step) found, when it named
    // something; otherwise what its requests showed. A check that failed on a missing rate
    // header is the limiter's, even if one of its answers was also a 502.
    let own: Vec<Vec<Symptom>> = results
        .iter()
        .zip(&symptoms)
        .map(|(r, all)| {
            // Running out of time is not a finding of the check: what slowed it is.
            let own: Vec<Symptom> = r
                .symptoms
                .iter()
                .filter(|s| !matches!(s, Symptom::OutOfTime { .. }))
                .cloned()
                .collect();
            if own.is_empty() { all.clone() } else { own }
        })
        .collect();
    let facts = Facts {
        all: symptoms.iter().flatten().cloned().collect(),
        answered_hosts: results
            .iter()
            .flat_map(|r| &r.evidence)
            .filter(|e| e.status.is_some())
            .map(|e| e.host.clone())
            .collect(),
        routes_answered: results
            .iter()
            .flat_map(|r| &r.evidence)
            .filter(|e| !e.injected && e.host == "registry" && e.status.is_some())
            // Only answers that could have been called slow: not the proxy's 502/504, an
            // auth-service failure or an artifact transfer (their time is explained), and
            // not a page someone else gave in the API's place (MLflow's own HTML reached
            // past the API, a load balancer's page): their speed says nothing of the API's.
            .filter(|e| {
                !matches!(e.status, Some(502 | 504))
                    && !e.request.contains("/mlflow-artifacts/")
                    && !e.symptoms.iter().any(|s| {
                        matches!(
                            s,
                            Symptom::AuthServiceFailed { .. }
                                | Symptom::UpstreamTimeout
                                | Symptom::HtmlFromUpstream { .. }
                                | Symptom::ProxyBypassed { .. }
                                | Symptom::AlbErrorPage { .. }
                        )
                    })
            })
            .map(|e| {
                let path = e.request.split_whitespace().nth(1).unwrap_or("");
                crate::check::symptom::route_family(path)
            })
            .collect::<BTreeSet<_>>()
            .len(),
        fast_auth_failure_checks: symptoms
            .iter()
            .filter(|v| {
                v.iter()
                    .any(|s| matches!(s, Symptom::AuthServiceFailed { slow: false, .. }))
            })
            .count(),
        mlflow_reported: {
            // By route (`/health`, `/health/mlflow`, `/ready`, ...): one route asked by many
            // checks is one witness.
            let says = |up: bool| {
                results
                    .iter()
                    .flat_map(|r| &r.evidence)
                    .filter(|e| {
                        !e.injected
                            && e.symptoms.iter().any(|s| match s {
                                Symptom::DependencyHealthy { service } => up && service == "mlflow",
                                Symptom::DependencyUnhealthy { service } => {
                                    !up && service == "mlflow"
                                }
                                _ => false,
                            })
                    })
                    .filter_map(|e| e.request.split_whitespace().nth(1))
                    .map(|p| p.split('?').next().unwrap_or(p))
                    .collect::<BTreeSet<&str>>()
                    .len()
            };
            (says(false), says(true))
        },
    };
    let bad: Vec<usize> = (0..results.len())
        .filter(|i| results[*i].outcome.is_bad() && !suite_defect(&results[*i]))
        .collect();
    let mut claimed = vec![false; results.len()];
    let named: Vec<&RootCause> = CAUSES
        .iter()
        .filter(|cause| {
            bad.iter()
                .any(|i| symptoms[*i].iter().any(|s| (cause.trigger)(s, &facts)))
        })
        .collect();
    let mut found: Vec<Finding> = named.iter().map(|c| finding(c)).collect();
    // First what each check's own assertion found, then what its requests showed.
    for pass in [&own, &symptoms] {
        for (cause, f) in named.iter().zip(found.iter_mut()) {
            for &i in &bad {
                if claimed[i] {
                    continue;
                }
                if let Some(s) = pass[i].iter().find(|s| (cause.claims)(s, &facts)) {
                    claimed[i] = true;
                    add(f, &results[i], Some(s));
                }
            }
        }
    }
    let mut findings: Vec<Finding> = found.into_iter().filter(|f| !f.checks.is_empty()).collect();
    // One answer no rule knows, on many lines: one cause, not one per line.
    findings.extend(shared_symptom(results, &bad, &mut claimed));
    // What no symptom rule explains: the contract line its check verifies.
    for &i in &bad {
        if claimed[i] {
            continue;
        }
        let r = &results[i];
        let Some(l) = r.line else { continue };
        claimed[i] = true;
        let id = l.id();
        let pos = match findings.iter().position(|f| f.id == id) {
            Some(p) => p,
            None => {
                findings.push(finding(&line_cause(l)));
                findings.len() - 1
            }
        };
        add(&mut findings[pos], r, None);
    }
    left_behind(results, &mut findings);
    blocked_while_serving(results, &mut findings);
    // Largest blast radius first; ties keep the rules' order (upstream first). A cause that
    // is a consequence (the run's budget, a slow route; the API blocking while it waits on
    // a dependency that is itself named) never comes before one named from a dependency's
    // own symptom: the first fix is the dependency.
    let dependency_named = findings
        .iter()
        .any(|f| matches!(Cause::parse(&f.id), Some(Cause::Fault(_))));
    let consequence = |f: &Finding| match Cause::parse(&f.id) {
        Some(Cause::BlocksWhileServing) => dependency_named,
        Some(c) => c.is_consequence(),
        None => false,
    };
    let any_direct = findings.iter().any(|f| !consequence(f));
    findings.sort_by_key(|f| {
        (
            any_direct && consequence(f),
            std::cmp::Reverse(f.checks.len() + f.left_by.len() + f.retried_alone.len()),
        )
    });
    let unclassified = results
        .iter()
        .filter(|r| r.outcome.is_bad() && suite_defect(r))
        .map(|r| Unclassified {
            check: r.key(),
            outcome: r.outcome.label().to_owned(),
            message: format!(
                "suite defect: {}",
                r.message
                    .clone()
                    .unwrap_or_else(|| "no contract line declared".into())
            ),
        })
        .collect();
    (findings, unclassified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_has_a_rule() {
        for f in Fault::all() {
            assert!(cause(f.id()).is_some(), "no rule for {f}");
        }
        assert!(cause("contract:delete-bodies").is_some());
        assert!(cause("contract:no-such-line").is_none());
    }

    fn result(id: &str, outcome: Outcome, line: Line, saw: Vec<Symptom>) -> CheckResult {
        CheckResult {
            area: crate::catalogue::Area::ErrorScenarios,
            id: id.into(),
            title: String::new(),
            component: Component::Api,
            target: "live".into(),
            profile: "hokusai-2025-08".into(),
            outcome,
            line: Some(line),
            symptoms: saw,
            expected: None,
            actual: None,
            message: Some("m".into()),
            evidence: Vec::new(),
            measurements: Default::default(),
            started_at: chrono::Utc::now(),
            duration_ms: 1.0,
            heavy: false,
            left_behind: Vec::new(),
            rerun: None,
            matrix: None,
        }
    }

    fn timed_out(id: &str) -> CheckResult {
        result(
            id,
            Outcome::Error {
                class: "timeout".into(),
            },
            Line::HealthLatency,
            vec![Symptom::RouteTimedOut {
                host: "registry".into(),
                route: "GET /health".into(),
            }],
        )
    }

    /// A consequence never ranks above the dependency that explains it, however many checks
    /// it has: MLflow down (one check) before three slow routes and the budget.
    #[test]
    fn a_dependency_ranks_before_its_consequences() {
        let mut rs: Vec<CheckResult> = (0..3).map(|i| timed_out(&format!("t{i}"))).collect();
        rs.push(result(
            "budget",
            Outcome::Blocked {
                step: "the run budget".into(),
            },
            Line::ReadBack,
            vec![Symptom::OutOfTime { budget_s: 60 }],
        ));
        rs.push(result(
            "down",
            Outcome::Failed,
            Line::ProxyTracking,
            vec![Symptom::UpstreamUnreachable],
        ));
        let (found, _) = analyse(&rs);
        let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["mlflow-down", "slow-route", "run-budget"]);
    }

    /// A valid key refused as Bearer while its validation met the auth service's throttling
    /// (or its timeout) as X-API-Key: the refusal was the API's, no judgement of the auth
    /// service, so the Bearer check stays on the key-formats line beside the auth cause.
    /// Refused in both forms (a throttle told as a bad key, whatever the form), it is the
    /// auth service's.
    #[test]
    fn a_form_refused_beside_an_auth_service_fault_stays_on_key_formats() {
        let bearer = |via: &str| {
            result(
                &format!("key_format[{via}]"),
                Outcome::Failed,
                Line::KeyFormats,
                vec![Symptom::ValidKeyRejected {
                    role: KeyRole::Valid,
                    via: via.into(),
                }],
            )
        };
        let blocked = |id: &str, saw: Vec<Symptom>| {
            result(
                id,
                Outcome::Blocked {
                    step: "the auth layer deciding on the key".into(),
                },
                Line::KeyFormats,
                saw,
            )
        };
        let throttled = vec![
            Symptom::ValidationThrottled {
                role: Some(KeyRole::Valid),
                via: "X-API-Key".into(),
            },
            Symptom::AuthServiceThrottled,
        ];
        let timed_out = vec![Symptom::AuthServiceFailed {
            status: 503,
            slow: true,
            role: Some(KeyRole::Valid),
            via: "X-API-Key".into(),
        }];
        for (fault, other) in [
            ("auth-rate-limited", throttled.clone()),
            ("auth-slow", timed_out),
        ] {
            let rs = vec![
                bearer("Authorization: Bearer"),
                bearer("Authorization: bearer"),
                blocked("x-api-key", other.clone()),
                blocked("workflow", other),
            ];
            let (found, _) = analyse(&rs);
            let of = |id: &str| {
                found
                    .iter()
                    .find(|f| f.id == id)
                    .map(|f| f.checks.clone())
                    .unwrap_or_default()
            };
            assert_eq!(
                of("contract:key-formats"),
                [
                    "error_scenarios/key_format[Authorization: Bearer]",
                    "error_scenarios/key_format[Authorization: bearer]"
                ],
                "{fault}: {found:#?}"
            );
            assert_eq!(
                of(fault),
                ["error_scenarios/x-api-key", "error_scenarios/workflow"],
                "{fault}: {found:#?}"
            );
        }
        // Refused in the other form too: no form is mishandled, the throttle explains both.
        let rs = vec![
            bearer("Authorization: Bearer"),
            bearer("X-API-Key"),
            blocked("workflow", throttled),
        ];
        let (found, _) = analyse(&rs);
        assert_eq!(
            found.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            ["auth-rate-limited"],
            "{found:#?}"
        );
    }

    /// Checks that timed out beside others and answered alone name the blocking API; it is
    /// first when nothing else explains the timeouts, and a consequence once a dependency is
    /// named.
    #[test]
    fn checks_answered_alone_name_the_blocking_api() {
        let rerun = |id: &str| {
            let mut r = result(id, Outcome::Passed, Line::HealthLatency, vec![]);
            r.rerun = Some(crate::check::Rerun {
                first_outcome: "ERROR".into(),
                timed_out: vec!["registry GET /health".into()],
                beside: 3,
            });
            r
        };
        let rs = vec![
            rerun("a"),
            rerun("b"),
            result("own", Outcome::Failed, Line::RepeatedQuery, vec![]),
        ];
        let (found, _) = analyse(&rs);
        assert_eq!(found[0].id, "api-blocks-while-serving");
        assert_eq!(
            found[0].retried_alone,
            ["error_scenarios/a", "error_scenarios/b"]
        );
        assert_eq!(found[1].id, "contract:repeated-query");
        // A re-run that timed out alone too is a slow route, not the blocking.
        let mut slow = timed_out("slow");
        slow.rerun = rerun("x").rerun;
        let (found, _) = analyse(&[slow]);
        assert_eq!(
            found.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            ["slow-route"]
        );
        // A re-run the budget cut short answered nothing; one that passed beside others
        // was never the queue's verdict: neither names the blocking.
        let mut cut = rerun("cut");
        cut.outcome = Outcome::Blocked {
            step: "the run budget".into(),
        };
        cut.symptoms.push(Symptom::OutOfTime { budget_s: 20 });
        let mut passed_first = rerun("passed-first");
        if let Some(first) = passed_first.rerun.as_mut() {
            first.first_outcome = Outcome::Passed.label().into();
        }
        let (found, _) = analyse(&[cut, passed_first]);
        assert!(
            found.iter().all(|f| f.id != "api-blocks-while-serving"),
            "{found:?}"
        );
        // With MLflow down named, the blocking comes after it.
        let mut rs = vec![rerun("a"), rerun("b"), rerun("c")];
        rs.push(result(
            "down",
            Outcome::Failed,
            Line::ProxyTracking,
            vec![Symptom::UpstreamUnreachable],
        ));
        let (found, _) = analyse(&rs);
        assert_eq!(found[0].id, "mlflow-down");
        assert_eq!(found[1].id, "api-blocks-while-serving");
    }
}
