//! Checklist area 1, infrastructure health (contract section 2 and 8): the registry's
//! health routes, the auth service's health, ECS services, MLflow reachable through the
//! registry, Redis, and response times (every request's latency is in the evidence).

use super::expect;
use crate::catalogue::Area;
use crate::check::Symptom;
use crate::check::{
    Check, CheckFuture, CheckSpec, Component, Failure, Line, Need, ensure, ensure_eq,
};
use crate::config::Profile;
use crate::ecs::ServiceState;
use crate::http::{Auth, Req};
use serde_json::Value;
use std::time::Instant;
use strum::IntoEnumIterator;

pub const AREA: Area = Area::InfraHealth;

/// The operational routes whose key requirement depends on the profile.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display, strum::IntoStaticStr,
)]
pub enum OpsRoute {
    #[strum(serialize = "/ready")]
    Ready,
    #[strum(serialize = "/live")]
    Live,
    #[strum(serialize = "/version")]
    Version,
    #[strum(serialize = "/metrics")]
    Metrics,
}

/// The dependencies `/health` must report.
pub const HEALTH_SERVICES: [&str; 4] = ["mlflow", "redis", "postgres", "message_queue"];

pub fn checks(profile: &Profile) -> Vec<CheckSpec> {
    let mut v = vec![
        CheckSpec::new(
            AREA,
            "registry_root_requires_key",
            Component::Api,
            "GET / without a key is 401 `API key required`",
            registry_root_requires_key,
        )
        .line(Line::RootNeedsKey)
        .reads(),
        CheckSpec::new(
            AREA,
            "registry_health",
            Component::Api,
            "GET /health is 200 JSON, `healthy`, every dependency healthy",
            registry_health,
        )
        .line(Line::HealthReportsDependencies)
        .reads(),
        CheckSpec::new(
            AREA,
            "registry_health_latency",
            Component::Api,
            "GET /health answers within the latency budget",
            registry_health_latency,
        )
        .line(Line::HealthLatency)
        .reads(),
        CheckSpec::new(
            AREA,
            "registry_health_detailed",
            Component::Api,
            "GET /health?detailed=true is 200 with per-service detail",
            registry_health_detailed,
        )
        .line(Line::HealthDetailed)
        .reads(),
        CheckSpec::new(
            AREA,
            "mlflow_health",
            Component::Mlflow,
            "GET /health/mlflow: connected, circuit breaker CLOSED",
            mlflow_health,
        )
        .line(Line::HealthMlflow)
        .reads(),
        CheckSpec::new(
            AREA,
            "api_mlflow_health",
            Component::Mlflow,
            "GET /api/health/mlflow: connectivity, experiments and artifacts APIs healthy",
            api_mlflow_health,
        )
        .line(Line::ApiHealthMlflow)
        .reads(),
    ];
    for route in OpsRoute::iter() {
        v.push(
            CheckSpec::case(
                AREA,
                "ops_endpoint",
                Component::Api,
                format!("GET {route} answers as the contract says"),
                route,
                ops_endpoint,
            )
            .line(Line::OpsRoutes)
            .reads(),
        );
    }
    v.push(
        CheckSpec::new(
            AREA,
            "auth_health",
            Component::AuthService,
            "GET {auth}/health is 200 JSON",
            auth_health,
        )
        .line(Line::AuthHealth)
        .reads(),
    );
    for service in &profile.ecs.services {
        v.push(
            CheckSpec::case(
                AREA,
                "ecs_service",
                Component::EcsServices,
                format!("ECS service {service} is ACTIVE, at desired count, rollout COMPLETED"),
                service.clone(),
                ecs_service,
            )
            .needs(Need::Ecs)
            .line(Line::EcsServices)
            .reads(),
        );
    }
    v.push(
        CheckSpec::new(
            AREA,
            "mlflow_via_registry",
            Component::Mlflow,
            "an authenticated MLflow read through the registry proxy is 200 JSON",
            mlflow_via_registry,
        )
        .line(Line::ProxyTracking)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "health_matches_calls",
            Component::Api,
            "/health calls MLflow healthy only while calls through the proxy reach it",
            health_matches_calls,
        )
        .line(Line::HealthReportsDependencies)
        .reads(),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "redis_connectivity",
            Component::RedisCache,
            "Redis answers PING and a SET/GET/DEL round trip",
            redis_connectivity,
        )
        .line(Line::RedisDownFallback)
        .reads(),
    );
    v
}

/// The key to send to routes that need one under this profile.
pub(crate) fn ops_auth(c: &Check) -> Auth {
    if c.env.profile().health.ops_routes_need_key {
        Auth::Bearer(c.env.keys.primary.clone())
    } else {
        Auth::None
    }
}

fn registry_root_requires_key(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let ex = c.registry(Req::get("/")).await?;
        expect::detail(&ex, 401, "API key required")
    })
}

fn registry_health(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let ex = c.registry(Req::get("/health")).await?;
        let body = expect::json_object(&ex)?;
        let services = body.get("services").and_then(Value::as_object);
        let unhealthy: Vec<String> = HEALTH_SERVICES
            .iter()
            .filter(|s| {
                services.and_then(|m| m.get(**s)).and_then(Value::as_str) != Some("healthy")
            })
            .map(|s| {
                let state = services
                    .and_then(|m| m.get(*s))
                    .map_or("missing".to_owned(), |v| v.to_string());
                format!("{s}={state}")
            })
            .collect();

        ensure(
            ex.status == 200
                && body.get("status").and_then(Value::as_str) == Some("healthy")
                && unhealthy.is_empty(),
            "200 {status: healthy} with every service healthy",
            format!(
                "{} status={} {}",
                ex.status,
                body.get("status")
                    .map_or("missing".into(), Value::to_string),
                if unhealthy.is_empty() {
                    String::new()
                } else {
                    format!("unhealthy: {}", unhealthy.join(", "))
                }
            ),
        )?;
        for field in ["version", "timestamp"] {
            ensure(
                body.get(field).is_some_and(|v| v.is_string()),
                format!("a `{field}` string"),
                expect::describe(&ex),
            )?;
        }
        Ok(())
    })
}

fn registry_health_latency(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let budget = c.env.profile().health.latency_budget_ms as f64;
        let ex = c.registry(Req::get("/health")).await?;
        let ms = ex.latency.as_secs_f64() * 1e3;
        c.measure("latency_ms", ms);
        ensure(
            ms <= budget,
            format!("an answer within {budget:.0} ms"),
            format!("{ms:.0} ms (status {})", ex.status),
        )
        .map_err(|f| {
            f.symptom(Symptom::LatencyOverBudget {
                route: "GET /health".into(),
                ms: ms as u64,
                budget_ms: budget as u64,
            })
        })
    })
}

fn registry_health_detailed(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let ex = c
            .registry(Req::get("/health").query("detailed", "true"))
            .await?;
        expect::status(&ex, 200)?;
        let body = expect::json_object(&ex)?;
        ensure(
            body.get("services").is_some_and(Value::is_object),
            "a `services` map",
            expect::describe(&ex),
        )
    })
}

fn mlflow_health(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let ex = c.registry(Req::get("/health/mlflow")).await?;
        let body = expect::json_object(&ex)?;

        ensure(
            ex.status == 200
                && body.get("connected") == Some(&Value::Bool(true))
                && body.get("circuit_breaker_state").and_then(Value::as_str) == Some("CLOSED"),
            "200 {connected: true, circuit_breaker_state: CLOSED}",
            expect::describe(&ex),
        )
    })
}

fn api_mlflow_health(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let auth = ops_auth(c);
        let ex = c
            .registry(Req::get("/api/health/mlflow").auth(auth))
            .await?;
        let body = expect::json_object(&ex)?;
        if c.env.profile().proxy.api_health == crate::config::ApiHealthShape::SdkProbe {
            // The client SDK's probe (hokusai-2026): `ok` with the tracking URI and the time
            // MLflow took to answer.
            return ensure(
                ex.status == 200
                    && body.get("status").and_then(Value::as_str) == Some("ok")
                    && body.get("tracking_uri").is_some_and(Value::is_string)
                    && body.get("latency_ms").is_some_and(Value::is_number),
                "200 {status: ok, tracking_uri, latency_ms}",
                expect::describe(&ex),
            );
        }
        // Unhealthy answers carry the same object under `detail`.
        let report = body
            .get("detail")
            .filter(|d| d.is_object())
            .unwrap_or(&body);
        let state = |k: &str| {
            report
                .pointer(&format!("/checks/{k}/status"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut bad: Vec<&str> = ["connectivity", "experiments_api"]
            .into_iter()
            .filter(|k| state(k).as_deref() != Some("healthy"))
            .collect();

        // `artifacts_api` is configuration, not health: `enabled` is the normal state.
        match state("artifacts_api").as_deref() {
            Some("enabled") => {}
            _ => bad.push("artifacts_api"),
        }
        ensure(
            ex.status == 200
                && report.get("status").and_then(Value::as_str) == Some("healthy")
                && bad.is_empty(),
            "200 {status: healthy, checks: connectivity and experiments_api healthy, artifacts_api enabled}",
            if bad.is_empty() || report.get("checks").is_none() {
                expect::describe(&ex)
            } else {
                format!("{} with not ok: {}", ex.status, bad.join(", "))
            },
        )
    })
}

fn ops_endpoint(c: &mut Check, route: OpsRoute) -> CheckFuture<'_> {
    Box::pin(async move {
        let path: &'static str = route.into();
        let auth = ops_auth(c);
        let ex = c.registry(Req::get(path).auth(auth)).await?;
        expect::status(&ex, 200)?;
        match route {
            OpsRoute::Metrics => {
                let text = String::from_utf8_lossy(&ex.body);
                ensure(
                    text.lines()
                        .any(|l| l.starts_with("# TYPE") || l.starts_with("# HELP")),
                    "Prometheus text (# HELP / # TYPE lines)",
                    expect::describe(&ex),
                )
            }
            OpsRoute::Ready => {
                let body = expect::json_object(&ex)?;
                ensure_eq("ready", body.get("ready"), Some(&Value::Bool(true)))?;
                ensure(
                    body.get("checks").is_some(),
                    "a `checks` object",
                    expect::describe(&ex),
                )
            }
            OpsRoute::Live => {
                let body = expect::json_object(&ex)?;
                ensure_eq("alive", body.get("alive"), Some(&Value::Bool(true)))
            }
            OpsRoute::Version => {
                let body = expect::json_object(&ex)?;
                ensure(
                    body.get("version").is_some(),
                    "version information",
                    expect::describe(&ex),
                )
            }
        }
    })
}

fn auth_health(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let ex = c.auth(Req::get("/health")).await?;
        expect::status(&ex, 200)?;
        expect::json_object(&ex).map(|_| ())
    })
}

fn ecs_service(c: &mut Check, name: String) -> CheckFuture<'_> {
    Box::pin(async move {
        let ecs = c.env.require_ecs()?.clone();
        let t0 = Instant::now();
        let out = ecs.describe(&name).await;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        let request = format!("DescribeServices cluster={} services=[{name}]", ecs.cluster);
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                c.note("ecs", request, ms, Err(e.message.clone()));
                return Err(Failure::error(e.class, e.message));
            }
        };
        if let Some(f) = out.failures().iter().next() {
            let reason = f.reason().unwrap_or("?").to_owned();
            c.note(
                "ecs",
                request,
                ms,
                Ok(format!(
                    "failures: [{} reason={reason}]",
                    f.arn().unwrap_or("?")
                )),
            );
            let f = Failure::failed(
                format!("service {name} in `services`"),
                format!("failures[] reason {reason}"),
            );
            return Err(if reason.eq_ignore_ascii_case("missing") {
                f.symptom(Symptom::EcsServiceMissing { service: name })
            } else {
                f.symptom(Symptom::EcsServiceUnhealthy { service: name })
            });
        }
        let Some(svc) = out
            .services()
            .iter()
            .find(|s| s.service_name() == Some(name.as_str()))
        else {
            c.note("ecs", request, ms, Ok("no service and no failure".into()));
            return Err(Failure::failed(
                format!("service {name} described"),
                "neither in services nor in failures",
            ));
        };
        let state = ServiceState::from_sdk(svc);
        c.note(
            "ecs",
            request,
            ms,
            Ok(format!(
                "status={} running={} desired={} primary rollout={}",
                state.status,
                state.running,
                state.desired,
                state.primary_rollout.as_deref().unwrap_or("<none>")
            )),
        );
        let problems = state.problems();
        let degraded = state.degraded();
        ensure(
            problems.is_empty(),
            "ACTIVE, runningCount == desiredCount >= 1, one PRIMARY deployment COMPLETED",
            problems.join("; "),
        )
        .map_err(|f| {
            if degraded {
                f.symptom(Symptom::EcsServiceUnhealthy { service: name })
            } else {
                f
            }
        })
    })
}

fn mlflow_via_registry(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let key = c.env.keys.primary.clone();
        let req = Req::get("/api/mlflow/api/2.0/mlflow/experiments/search")
            .query("max_results", "1")
            .auth(Auth::Bearer(key));
        let ex = c.registry(req).await?;
        super::key_got_through(c, &ex)?;
        expect::status(&ex, 200)?;
        let body = expect::json_object(&ex)?;
        ensure(
            body.as_object()
                .is_some_and(|m| m.is_empty() || m.get("experiments").is_some_and(Value::is_array)),
            "an `experiments` list (or `{}` when there are none)",
            expect::describe(&ex),
        )
    })
}

fn health_matches_calls(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let health = c.registry(Req::get("/health")).await?;
        let says_up = health
            .json()
            .and_then(|v| v.pointer("/services/mlflow").cloned())
            .is_some_and(|v| v.as_str() == Some("healthy"));
        let key = c.env.keys.primary.clone();
        // A read that never got past the auth layer, or that a spelling's missing route
        // answered, says nothing about MLflow: the next spelling the profile routes is tried
        // (a broken route is its own line's evidence); none reaching the proxy blocks.
        let mut reached = None;
        let mut last = None;
        for spelling in super::spellings_to_try(c.env.profile()) {
            let ex = c
                .registry(super::proxied_read_via(spelling, Auth::Bearer(key.clone())))
                .await?;
            super::key_got_through(c, &ex)?;
            if reached_proxy(&ex) {
                reached = Some(ex);
                break;
            }
            last = Some(ex);
        }
        let Some(ex) = reached else {
            let got = last.as_ref().map_or_else(String::new, expect::describe);
            return Err(
                Failure::failed("a proxied read that reaches the proxy", got)
                    .blocked("a proxied read reaching the proxy on any spelling"),
            );
        };
        // Only the proxy's own word that MLflow is unreachable (502 JSON) contradicts /health;
        // a slow MLflow (504) is up.
        let upstream_failed = ex.status == 502 && !ex.is_html();
        ensure(
            !(says_up && upstream_failed),
            "/health reporting mlflow unhealthy while proxied calls cannot reach it",
            format!(
                "/health says mlflow healthy; a proxied read got {}",
                expect::describe(&ex)
            ),
        )
        .map_err(|f| {
            f.symptom(Symptom::HealthContradicted {
                service: "mlflow".into(),
            })
        })
    })
}

/// Whether a proxied read got past routing to the proxy's own handling: MLflow's answer (a
/// 2xx or its JSON error with an `error_code`), or the proxy's JSON 502/504 about MLflow. A
/// route's bare 404/405 or an HTML page is not.
fn reached_proxy(ex: &crate::http::Exchange) -> bool {
    let mlflow_error = ex
        .json()
        .and_then(|v| v.get("error_code").cloned())
        .is_some_and(|c| c.is_string());
    (200..300).contains(&ex.status)
        || (matches!(ex.status, 502 | 504) && !ex.is_html())
        || mlflow_error
}

fn redis_connectivity(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        // Redis answering is this check's own assertion, not a precondition.
        if let crate::fixtures::RedisAccess::Unreachable { url, error } = &c.env.redis {
            return Err(Failure::failed(
                format!("Redis at {url} answers"),
                format!("no connection: {error}"),
            )
            .symptom(Symptom::DependencyUnhealthy {
                service: "redis".into(),
            }));
        }
        let cache = c.env.require_redis()?.clone();
        let t0 = Instant::now();
        let ping = cache.ping().await;
        c.note(
            "redis",
            "PING",
            t0.elapsed().as_secs_f64() * 1e3,
            ping.clone().map_err(|e| e.to_string()),
        );
        let redis_down = Symptom::DependencyUnhealthy {
            service: "redis".into(),
        };
        ping.map_err(|e| {
            Failure::failed(
                format!("PONG from {}", cache.display_url),
                format!("error: {e}"),
            )
            .symptom(redis_down.clone())
        })?;
        let rt = cache.round_trip().await;
        let ms = rt.as_ref().map_or(0.0, |d| d.as_secs_f64() * 1e3);
        c.note(
            "redis",
            "SET/GET/DEL probe key (30 s TTL)",
            ms,
            rt.as_ref()
                .map(|_| "round trip ok".to_owned())
                .map_err(Clone::clone),
        );
        c.measure("round_trip_ms", ms);
        rt.map(|_| ())
            .map_err(|e| Failure::failed("a SET/GET/DEL round trip", e).symptom(redis_down))
    })
}
