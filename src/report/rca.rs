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

use crate::catalogue::{Fault, KeyRole};
use crate::check::{CheckResult, Component, Line, Outcome, Symptom};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a cause is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CauseKind {
    /// A row of the fault catalogue.
    Fault(Fault),
    /// A line of the contract, broken.
    Line(Line),
    /// A host of the platform gives no answer at all.
    Unreachable,
    /// One route of a host answers too slowly while the others answer.
    SlowRoute,
    /// The run's time budget ran out.
    RunBudget,
    /// The API answers nothing else while it serves a slow request.
    BlocksWhileServing,
}

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
    /// A symptom this cause explains (claims the check showing it, once named).
    claims: fn(&Symptom) -> bool,
}

impl RootCause {
    pub fn id(&self) -> String {
        match self.kind {
            CauseKind::Fault(f) => f.id().to_owned(),
            CauseKind::Line(l) => l.id(),
            CauseKind::Unreachable => "unreachable".into(),
            CauseKind::SlowRoute => "slow-route".into(),
            CauseKind::RunBudget => "run-budget".into(),
            CauseKind::BlocksWhileServing => "api-blocks-while-serving".into(),
        }
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
    /// The typed symptoms that name it, with the check that saw each.
    pub evidence: Vec<String>,
}

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
}

impl Facts {
    fn any(&self, f: impl Fn(&Symptom) -> bool) -> bool {
        self.all.iter().any(f)
    }

    /// Distinct routes that answered slowly.
    /// More of the auth-service failures seen were slow (the API's timeout) than fast.
    fn auth_failures_mostly_slow(&self) -> bool {
        let (mut slow, mut fast) = (0, 0);
        for s in &self.all {
            if let Symptom::AuthServiceFailed { slow: is_slow, .. } = s {
                if *is_slow {
                    slow += 1;
                } else {
                    fast += 1;
                }
            }
        }
        slow > fast
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
        self.any(|x| matches!(x, Symptom::CacheEntryPresent))
    }

    /// Roles of valid keys that were rejected, and the header forms they were rejected in.
    fn rejected(&self) -> (BTreeSet<KeyRole>, BTreeSet<&str>) {
        let mut roles = BTreeSet::new();
        let mut vias = BTreeSet::new();
        for s in &self.all {
            if let Symptom::ValidKeyRejected { role, via } = s {
                roles.insert(*role);
                vias.insert(via.as_str());
            }
        }
        (roles, vias)
    }

    /// The same valid key was rejected in one header form and accepted in another (and
    /// never accepted in the form it was rejected in).
    fn header_form_mishandled(&self) -> bool {
        self.all.iter().any(|s| {
            let Symptom::ValidKeyRejected { role, via } = s else {
                return false;
            };
            let accepted = |pred: &dyn Fn(&str) -> bool| {
                self.any(|a| matches!(a, Symptom::KeyAccepted { role: r, via: v } if r == role && pred(v)))
            };
            accepted(&|v| v != via) && !accepted(&|v| v == via)
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
        |s: &Symptom| matches!(s, $($p)|+)
    };
}

const fn fault(
    f: Fault,
    title: &'static str,
    fix: &'static str,
    resource: &'static str,
    component: Component,
    trigger: fn(&Symptom, &Facts) -> bool,
    claims: fn(&Symptom) -> bool,
) -> RootCause {
    RootCause {
        kind: CauseKind::Fault(f),
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
    claims: fn(&Symptom) -> bool,
) -> RootCause {
    RootCause {
        kind: CauseKind::Line(l),
        title: "",
        fix: "",
        resource: "",
        component: Component::Api,
        trigger,
        claims,
    }
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
        |s| matches!(s, Symptom::AlbErrorPage { host, .. } if host == "registry"),
    ),
    RootCause {
        kind: CauseKind::Unreachable,
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
        claims: |s| matches!(s, Symptom::Unanswered { host, .. } if host == "registry" || host == "auth"),
    },
    RootCause {
        kind: CauseKind::SlowRoute,
        title: "A route of the platform gives no answer in time while the rest of its host answers",
        fix: "Find what blocks that route's handler (a dependency probe, a lock, a synchronous call); the routes are in the evidence",
        resource: "API service",
        component: Component::Api,
        trigger: |s, _| matches!(s, Symptom::RouteTimedOut { .. }),
        claims: |s| matches!(s, Symptom::RouteTimedOut { .. }),
    },
    RootCause {
        kind: CauseKind::BlocksWhileServing,
        title: "The API answers nothing else while it serves a slow request (its event loop is blocked)",
        fix: "Make the handler's slow calls non-blocking (an async HTTP client for MLflow and the auth service, or run the synchronous call in a worker thread), so one slow request does not hold every other",
        resource: "API service (proxy and health handlers)",
        component: Component::Api,
        trigger: |s, _| matches!(s, Symptom::BlockedBehindSlowRequest { .. }),
        claims: |s| matches!(s, Symptom::BlockedBehindSlowRequest { .. }),
    },
    fault(
        Fault::AuthDown,
        "Auth service unavailable",
        "Restore the auth ECS service and its target group health",
        "auth ECS service, auth target group",
        Component::AuthService,
        |s, _| {
            matches!(s, Symptom::AlbErrorPage { host, .. } if host == "auth")
                || matches!(s, Symptom::AuthServiceFailed { slow: false, .. })
        },
        // Once the auth service is seen down, every auth failure is its: on a loaded machine
        // some of its fast answers take about the API's timeout too.
        |s| {
            matches!(s, Symptom::AlbErrorPage { host, .. } if host == "auth")
                || matches!(s, Symptom::AuthServiceFailed { .. })
        },
    ),
    fault(
        Fault::AuthSlow,
        "Auth service too slow / unreachable path between API and auth",
        "Check auth latency and the API-to-auth route (a shared ALB once looped it)",
        "auth ALB and listener rules",
        Component::AuthService,
        // Most of the auth-service failures took the API's timeout: one slow answer among
        // fast ones (a loaded machine, a GC pause) is not a slow auth service.
        |s, f| {
            matches!(s, Symptom::AuthServiceFailed { slow: true, .. })
                && f.auth_failures_mostly_slow()
        },
        sym!(Symptom::AuthServiceFailed { .. }),
    ),
    line(
        Line::KeyFormats,
        |s, f| matches!(s, Symptom::ValidKeyRejected { .. }) && f.header_form_mishandled(),
        sym!(Symptom::ValidKeyRejected { .. } | Symptom::RejectedWithoutValidation),
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
                || (matches!(s, Symptom::ValidKeyRejected { .. }) && f.rejected().0.len() >= 2)
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
        // A health route alone names it only when no proxied call reached MLflow: a breaker
        // stuck open while calls work is that health route's own line.
        |s, f| {
            matches!(s, Symptom::UpstreamUnreachable)
                || (matches!(s, Symptom::DependencyUnhealthy { service } if service == "mlflow")
                    && !f.any(|x| matches!(x, Symptom::UpstreamAnswered)))
        },
        |s| {
            matches!(s, Symptom::UpstreamUnreachable)
                || matches!(s, Symptom::DependencyUnhealthy { service } if service == "mlflow")
        },
    ),
    fault(
        Fault::MlflowSlow,
        "MLflow overloaded or its database slow",
        "Scale MLflow, check RDS",
        "MLflow ECS service, RDS instance",
        Component::Mlflow,
        |s, _| matches!(s, Symptom::UpstreamTimeout),
        sym!(Symptom::UpstreamTimeout),
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
        |s| {
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
    line(
        Line::CacheEntry,
        |s, f| {
            matches!(s, Symptom::CacheEntryMissing)
                && !f.entry_seen()
                && !f.any(|x| redis_unhealthy(x) || matches!(x, Symptom::CacheBehaviour { .. }))
        },
        sym!(Symptom::CacheEntryMissing),
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
        |s, f| matches!(s, Symptom::LatencyOverBudget { .. }) && f.slow_routes() >= 2,
        sym!(Symptom::LatencyOverBudget { .. }),
    ),
    // Contract lines with a symptom of their own: one cause however many checks show it.
    line(
        Line::DeleteBodies,
        |s, _| matches!(s, Symptom::RequestBodyDropped),
        sym!(Symptom::RequestBodyDropped | Symptom::CleanupRefused { .. }),
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
        |s, _| matches!(s, Symptom::DataWithoutKey { .. }),
        sym!(Symptom::DataWithoutKey { .. }),
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
        kind: CauseKind::RunBudget,
        title: "The run's time budget ran out before these checks finished",
        fix: "Look at the slow routes and answers in the evidence; raise HOKUSAI_RUN_BUDGET_S only if the platform is known to be slow",
        resource: "API / MLflow services",
        component: Component::Api,
        trigger: |s, _| matches!(s, Symptom::OutOfTime { .. }),
        claims: |s| matches!(s, Symptom::OutOfTime { .. }),
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
        kind: CauseKind::Line(l),
        title: "",
        fix: "",
        resource: "",
        component: l.info().component,
        trigger: |_, _| false,
        claims: |_| false,
    }
}

fn finding(c: &RootCause) -> Finding {
    let (title, fix, resource, component) = match c.kind {
        CauseKind::Line(l) => {
            let i = l.info();
            (
                format!("Contract {} broken: {}", i.section, i.rule),
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
        evidence: Vec::new(),
    }
}

fn add(f: &mut Finding, r: &CheckResult, evidence: Option<&Symptom>) {
    f.checks.push(r.key());
    if matches!(r.outcome, Outcome::Blocked { .. }) {
        f.blocked.push(r.key());
    }
    if r.area == crate::checks::registration_flow::AREA {
        f.blocks_registration = true;
    }
    if f.evidence.len() < 3 {
        let what = match evidence {
            Some(s) => serde_json::to_string(s).unwrap_or_default(),
            None => r
                .message
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
        };
        f.evidence.push(format!("{}: {what}", r.key()));
    }
}

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
                if let Some(s) = pass[i].iter().find(|s| (cause.claims)(s)) {
                    claimed[i] = true;
                    add(f, &results[i], Some(s));
                }
            }
        }
    }
    let mut findings: Vec<Finding> = found.into_iter().filter(|f| !f.checks.is_empty()).collect();
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
    // Largest blast radius first; ties keep the rules' order (upstream first).
    findings.sort_by_key(|f| std::cmp::Reverse(f.checks.len()));
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
}
