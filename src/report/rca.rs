//! Root-cause analysis: groups failing checks under the causes of
//! `shared/platform/faults.md`, by rules that combine symptoms across checks. All rules live
//! here, in priority order (documented in `docs/root-causes.md`): a cause whose decisive
//! symptom is present claims every failing check that its symptoms explain; what no cause
//! claims is listed as unclassified with its raw symptoms, never dropped.

use crate::check::{CheckResult, Outcome};
use serde::{Deserialize, Serialize};

/// A cause the report can name: one row of the fault catalogue.
#[derive(Debug, Clone, Copy)]
pub struct RootCause {
    /// The fault id in `faults.md`.
    pub id: &'static str,
    pub title: &'static str,
    pub fix: &'static str,
    pub resource: &'static str,
    /// Does it stop third parties from registering models? (Blockers are fixed first.)
    pub blocks_registration: bool,
    trigger: fn(&Facts) -> bool,
    claims: fn(&Facts, &CheckResult) -> bool,
}

/// A named cause with the checks it explains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub fix: String,
    pub resource: String,
    pub blocks_registration: bool,
    /// `area/id` of every failing check this cause explains.
    pub checks: Vec<String>,
    /// A few lines of the evidence that point at it.
    pub evidence: Vec<String>,
}

/// A failing check no rule explains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unclassified {
    pub check: String,
    pub outcome: String,
    pub message: String,
}

/// What the rules look at: every result, and a lower-cased text of each failing one
/// (message, expected, actual, evidence) for symptom matching.
pub struct Facts<'a> {
    results: &'a [CheckResult],
    texts: Vec<(usize, String)>,
}

impl<'a> Facts<'a> {
    pub fn new(results: &'a [CheckResult]) -> Self {
        let texts = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.outcome.is_bad())
            .map(|(i, r)| (i, text_of(r)))
            .collect();
        Self { results, texts }
    }

    fn outcome(&self, key: &str) -> Option<&Outcome> {
        self.results
            .iter()
            .find(|r| r.key() == key)
            .map(|r| &r.outcome)
    }
    fn bad(&self, key: &str) -> bool {
        self.outcome(key).is_some_and(Outcome::is_bad)
    }
    fn passed(&self, key: &str) -> bool {
        self.outcome(key) == Some(&Outcome::Passed)
    }
    /// Some failing check whose text contains `needle`.
    fn any(&self, needle: &str) -> bool {
        self.texts.iter().any(|(_, t)| t.contains(needle))
    }
    /// Some failing check of this key prefix whose text contains `needle`.
    fn any_in(&self, key_prefix: &str, needle: &str) -> bool {
        self.texts
            .iter()
            .any(|(i, t)| self.results[*i].key().starts_with(key_prefix) && t.contains(needle))
    }
    fn text(&self, r: &CheckResult) -> String {
        text_of(r)
    }
}

/// Checks that switch a failure on themselves (on the stand-in) to watch the platform's
/// reaction: their evidence shows the injected symptom even when they fail for another
/// reason, so only their verdict (not their evidence) is read as a symptom.
const SELF_INJECTING: &[&str] = &[
    "upstream_timeout_is_504",
    "auth_failure_not_bad_key",
    "auth_429_passthrough",
    "redis_down_auth_works",
];

fn text_of(r: &CheckResult) -> String {
    let mut t = String::new();
    for s in [&r.message, &r.expected, &r.actual].into_iter().flatten() {
        t.push_str(s);
        t.push('\n');
    }
    let base = r.id.split('[').next().unwrap_or(&r.id);
    if SELF_INJECTING.contains(&base) {
        return t.to_lowercase();
    }
    for e in &r.evidence {
        t.push_str(&format!(
            "[{}] {} -> {} {} {} {}\n",
            e.host,
            e.request,
            e.status.map_or("none".into(), |s| s.to_string()),
            e.content_type.as_deref().unwrap_or(""),
            e.body_excerpt,
            e.error.as_deref().unwrap_or("")
        ));
    }
    t.to_lowercase()
}

/// A registry-host answer that is the ALB's HTML error page.
fn alb_page(r: &CheckResult) -> bool {
    r.evidence.iter().any(|e| {
        e.host == "registry"
            && matches!(e.status, Some(502 | 503))
            && e.content_type.as_deref() == Some("text/html")
    })
}

/// A request under the proxy mount answered by MLflow's own HTML 404 page.
fn proxy_html_404(r: &CheckResult) -> bool {
    r.evidence.iter().any(|e| {
        e.host == "registry"
            && e.request
                .split_whitespace()
                .nth(1)
                .is_some_and(|p| p.starts_with("/api/mlflow/"))
            && e.status == Some(404)
            && e.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("text/html"))
    })
}

/// An `/api/mlflow/api/2.0/...` call of a real endpoint answered 404 ENDPOINT_NOT_FOUND.
fn api_spelling_404(r: &CheckResult) -> bool {
    r.evidence.iter().any(|e| {
        e.request.contains("/api/mlflow/api/2.0/")
            && !e.request.contains("no-such-endpoint")
            && e.status == Some(404)
            && e.body_excerpt.contains("ENDPOINT_NOT_FOUND")
    })
}

const AUTH_SERVICE_FAILED: [&str; 2] = [
    "authentication service error",
    "authentication service unavailable",
];
const BAD_KEY: &str = "invalid or expired api key";

fn is_key_check(r: &CheckResult) -> bool {
    // Checks that expect a rejection are not evidence of a wrongly rejected key.
    !r.id.starts_with("rejected_key") && !r.id.starts_with("no_key_rejected")
}

/// The causes, in priority order (upstream first: a cause earlier in the list explains
/// failures before a later one may).
pub const CAUSES: &[RootCause] = &[
    RootCause {
        id: "target-unhealthy",
        title: "Registry ALB has no healthy target",
        fix: "Fix the target group health check (path, timeout) and the security group between ALB and tasks",
        resource: "registry target group, security groups",
        blocks_registration: true,
        trigger: |f| {
            f.results
                .iter()
                .filter(|r| r.outcome.is_bad())
                .any(alb_page)
        },
        claims: |_, r| alb_page(r),
    },
    RootCause {
        id: "auth-down",
        title: "Auth service unavailable",
        fix: "Restore the auth ECS service and its target group health",
        resource: "auth ECS service, auth target group",
        blocks_registration: true,
        trigger: |f| {
            f.bad("infra_health/auth_health")
                || (!f.passed("infra_health/auth_health")
                    && AUTH_SERVICE_FAILED.iter().any(|n| f.any(n)))
        },
        claims: |f, r| {
            r.key() == "infra_health/auth_health"
                || AUTH_SERVICE_FAILED.iter().any(|n| f.text(r).contains(n))
        },
    },
    RootCause {
        id: "auth-slow",
        title: "Auth service too slow / unreachable path between API and auth",
        fix: "Check auth latency and the API-to-auth route (a shared ALB once looped it)",
        resource: "auth ALB and listener rules",
        blocks_registration: true,
        trigger: |f| f.any("authentication service timeout"),
        claims: |f, r| f.text(r).contains("authentication service timeout"),
    },
    RootCause {
        id: "service-id-mismatch",
        title: "API configured with the wrong auth service id",
        fix: "Set AUTH_SERVICE_ID=platform",
        resource: "API task definition environment",
        blocks_registration: true,
        trigger: |f| {
            f.any_in(
                "authentication/validate_call_contract",
                "expected service_id",
            ) || (f.any_in("authentication/second_key_works", BAD_KEY)
                && f.any_in("authentication/key_format", BAD_KEY))
        },
        claims: |f, r| {
            is_key_check(r) && (f.text(r).contains(BAD_KEY) || r.id == "validate_call_contract")
        },
    },
    RootCause {
        id: "key-not-valid-for-service",
        title: "The test key is not valid for this service",
        fix: "Issue a key for service `platform` with read/write scopes",
        resource: "auth data (no infrastructure)",
        blocks_registration: true,
        trigger: |f| {
            f.any_in("authentication/key_format", BAD_KEY)
                && !f.bad("authentication/second_key_works")
        },
        claims: |f, r| is_key_check(r) && f.text(r).contains(BAD_KEY),
    },
    RootCause {
        id: "mlflow-route-to-mlflow",
        title: "ALB listener rule for /api/mlflow/* targets MLflow instead of the API",
        fix: "Point the rule at the API target group",
        resource: "registry ALB listener rule",
        blocks_registration: true,
        trigger: |f| {
            f.results
                .iter()
                .filter(|r| r.outcome.is_bad())
                .any(proxy_html_404)
        },
        claims: |_, r| proxy_html_404(r),
    },
    RootCause {
        id: "mlflow-down",
        title: "MLflow unreachable from the API (service down, stale address, security group)",
        fix: "Restore MLflow / its service discovery record / the SG rule",
        resource: "MLflow ECS service, service discovery, security groups",
        blocks_registration: true,
        trigger: |f| f.any("failed to connect to mlflow server") || f.any("\"connected\":false"),
        claims: |f, r| {
            let t = f.text(r);
            t.contains("failed to connect to mlflow")
                || t.contains("mlflow=\"unhealthy\"")
                || t.contains("\"mlflow\":\"unhealthy\"")
                || t.contains("\"connected\":false")
                || t.contains("\"mlflow\":false")
                || (t.contains("unhealthy: connectivity")
                    || t.contains("\"connectivity\":{\"status\":\"unhealthy\""))
        },
    },
    RootCause {
        id: "mlflow-slow",
        title: "MLflow overloaded or its database slow",
        fix: "Scale MLflow, check RDS",
        resource: "MLflow ECS service, RDS instance",
        blocks_registration: true,
        trigger: |f| f.any("mlflow server request timeout"),
        claims: |f, r| f.text(r).contains("mlflow server request timeout"),
    },
    RootCause {
        id: "artifacts-disabled",
        title: "Artifact storage not configured",
        fix: "Start MLflow with --serve-artifacts and an artifact root",
        resource: "MLflow task definition, artifact bucket, task role",
        blocks_registration: true,
        trigger: |f| {
            f.any("artifacts_disabled")
                || f.any("unhealthy: artifacts_api")
                || f.any("\"artifacts_api\":{\"status\":\"unhealthy\"")
        },
        claims: |f, r| {
            let t = f.text(r);
            t.contains("artifacts_disabled")
                || t.contains("unhealthy: artifacts_api")
                || t.contains("\"artifacts_api\":{\"status\":\"unhealthy\"")
        },
    },
    RootCause {
        id: "no-ajax-rewrite",
        title: "Proxy path conversion (api/2.0 -> ajax-api/2.0) missing",
        fix: "Restore the ajax-api rewrite (or use an internal upstream)",
        resource: "API service",
        blocks_registration: true,
        trigger: |f| {
            f.results
                .iter()
                .filter(|r| r.outcome.is_bad())
                .any(api_spelling_404)
        },
        claims: |_, r| api_spelling_404(r),
    },
    RootCause {
        id: "auth-header-leak",
        title: "Proxy forwards the API key to MLflow",
        fix: "Strip Authorization / X-API-Key before forwarding",
        resource: "API service",
        blocks_registration: false,
        trigger: |f| {
            f.any_in("mlflow_proxy/auth_headers_handled", "received the key")
                || f.any("the key came back")
        },
        claims: |f, r| {
            let t = f.text(r);
            t.contains("mlflow received the key") || t.contains("the key came back")
        },
    },
    RootCause {
        id: "cache-off",
        title: "Auth cache not working (Redis unreachable or disabled)",
        fix: "Set REDIS_URL, check the ElastiCache security group",
        resource: "ElastiCache, API task definition",
        blocks_registration: false,
        trigger: |f| {
            f.bad("infra_health/redis_connectivity")
                || f.any("redis=\"unhealthy\"")
                || f.any("\"redis\":\"unhealthy\"")
                || f.any("no connection:")
        },
        claims: |f, r| {
            let t = f.text(r);
            r.key() == "infra_health/redis_connectivity"
                || t.contains("redis=\"unhealthy\"")
                || t.contains("\"redis\":\"unhealthy\"")
                || t.contains("no connection:")
                || (r.area == "authentication"
                    && (r.id.starts_with("cache_") || r.id.starts_with("rate_limit")))
        },
    },
    RootCause {
        id: "cache-ttl-wrong",
        title: "Auth cache TTL misconfigured",
        fix: "Set the cache TTL to the profile's value",
        resource: "API service",
        blocks_registration: false,
        trigger: |f| {
            f.any_in("authentication/cache_entry_created", "ttl")
                || f.any_in("authentication/revocation_window", "revocation window")
        },
        claims: |_, r| {
            r.key() == "authentication/cache_entry_created"
                || r.key() == "authentication/revocation_window"
        },
    },
    RootCause {
        id: "rate-limit-off",
        title: "Rate limiter not enforced",
        fix: "Fix the middleware order / the limiter's Redis address",
        resource: "API service",
        blocks_registration: false,
        trigger: |f| {
            f.bad("authentication/rate_limit_headers")
                || f.bad("authentication/rate_limit_enforced")
        },
        claims: |_, r| r.area == "authentication" && r.id.starts_with("rate_limit"),
    },
    RootCause {
        id: "write-forbidden",
        title: "The key lacks a write scope",
        fix: "Issue a key with mlflow:write",
        resource: "auth data",
        blocks_registration: true,
        trigger: |f| f.any("insufficient permissions"),
        claims: |f, r| f.text(r).contains("insufficient permissions") || f.text(r).contains("403"),
    },
    RootCause {
        id: "ecs-missing",
        title: "ECS service not deployed (migration gap)",
        fix: "Deploy the service",
        resource: "the ECS service",
        blocks_registration: true,
        trigger: |f| f.any_in("infra_health/ecs_service", "reason missing"),
        claims: |f, r| r.id.starts_with("ecs_service") && f.text(r).contains("reason missing"),
    },
    RootCause {
        id: "ecs-degraded",
        title: "ECS service unhealthy (tasks failing health checks)",
        fix: "Read the stopped tasks' reasons; check the health-check grace period and SG ingress",
        resource: "the ECS service, its target group health check",
        blocks_registration: true,
        trigger: |f| {
            f.any_in("infra_health/ecs_service", "runningcount")
                || f.any_in("infra_health/ecs_service", "rolloutstate")
        },
        claims: |f, r| {
            let t = f.text(r);
            r.id.starts_with("ecs_service")
                && (t.contains("runningcount")
                    || t.contains("rolloutstate")
                    || t.contains("status "))
        },
    },
    RootCause {
        id: "slow-registry",
        title: "Platform degraded: every call slow",
        fix: "Add capacity; check the database",
        resource: "API / MLflow services",
        blocks_registration: false,
        trigger: |f| {
            f.bad("infra_health/registry_health_latency")
                || f.any_in("registration_flow/workflow_within_budget", "within")
        },
        claims: |_, r| {
            r.key() == "infra_health/registry_health_latency"
                || r.key() == "registration_flow/workflow_within_budget"
        },
    },
];

/// Looks a cause up by fault id.
pub fn cause(id: &str) -> Option<&'static RootCause> {
    CAUSES.iter().find(|c| c.id == id)
}

/// Groups the failing checks of `results` under causes; the rest is unclassified.
pub fn analyse(results: &[CheckResult]) -> (Vec<Finding>, Vec<Unclassified>) {
    let facts = Facts::new(results);
    let mut claimed = vec![false; results.len()];
    let mut findings = Vec::new();
    for cause in CAUSES {
        if !(cause.trigger)(&facts) {
            continue;
        }
        let mut checks = Vec::new();
        let mut evidence = Vec::new();
        for (i, r) in results.iter().enumerate() {
            if claimed[i] || !r.outcome.is_bad() || !(cause.claims)(&facts, r) {
                continue;
            }
            claimed[i] = true;
            checks.push(r.key());
            if evidence.len() < 3 {
                evidence.push(format!(
                    "{}: {}",
                    r.key(),
                    r.message
                        .as_deref()
                        .unwrap_or("")
                        .chars()
                        .take(240)
                        .collect::<String>()
                ));
            }
        }
        if checks.is_empty() {
            continue;
        }
        findings.push(Finding {
            id: cause.id.into(),
            title: cause.title.into(),
            fix: cause.fix.into(),
            resource: cause.resource.into(),
            blocks_registration: cause.blocks_registration,
            checks,
            evidence,
        });
    }
    let unclassified = results
        .iter()
        .enumerate()
        .filter(|(i, r)| r.outcome.is_bad() && !claimed[*i])
        .map(|(_, r)| Unclassified {
            check: r.key(),
            outcome: r.outcome.label().to_owned(),
            message: r.message.clone().unwrap_or_default(),
        })
        .collect();
    (findings, unclassified)
}
