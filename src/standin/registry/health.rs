//! The API's health and operations routes: `/health` (and its detailed view),
//! `/health/mlflow` with its circuit breaker, `/api/health/mlflow` in the profile's shape,
//! and `/live`, `/ready`, `/version`, `/metrics`.

use super::super::state::lock;
use super::{API_VERSION, RegistryResponder, detail, said};
use crate::catalogue::{Breakage, Fault};
use serde_json::json;
use wiremock::ResponseTemplate;

impl RegistryResponder {
    /// Can the proxy reach MLflow?
    pub(super) fn mlflow_reachable(&self) -> bool {
        !self.0.has(Fault::MlflowDown) && !self.0.broken(Breakage::HealthIgnoresMlflow)
    }

    /// What `/health` says of MLflow: healthy whatever MLflow does under
    /// `health-ignores-mlflow` (also when MLflow is down for another reason).
    pub(super) fn mlflow_reported_up(&self) -> bool {
        !self.0.has(Fault::MlflowDown) || self.0.broken(Breakage::HealthIgnoresMlflow)
    }

    pub(super) fn redis_healthy(&self) -> bool {
        !self.0.has(Fault::CacheOff)
            && lock(&self.0.redis)
                .with(|c| redis::cmd("PING").query::<String>(c))
                .is_ok()
    }

    pub(super) fn health(&self, detailed: bool) -> ResponseTemplate {
        let state = &self.0;
        let mlflow_ok = self.mlflow_reported_up();
        if !mlflow_ok {
            state.mlflow_failed();
        }
        let redis_ok = self.redis_healthy();
        let word = |ok: bool| if ok { "healthy" } else { "unhealthy" };
        let services = json!({
            "mlflow": word(mlflow_ok), "redis": word(redis_ok), "postgres": "healthy", "message_queue": "healthy",
        });
        let all = mlflow_ok && redis_ok;
        let mut body = json!({
            "status": if all { "healthy" } else { state.profile.health.degraded_value.as_str() },
            "version": API_VERSION,
            "services": services,
            "timestamp": chrono::Utc::now().to_rfc3339(),
        });
        if detailed {
            body["details"] = json!({
                "mlflow": {"status": word(mlflow_ok), "url": state.mlflow_internal_url, "circuit_breaker_state": state.circuit_state()},
                "redis": {"status": word(redis_ok)},
                "postgres": {"status": "healthy"},
                "message_queue": {"status": "healthy"},
            });
            // The detailed view never answers 5xx.
            return ResponseTemplate::new(200).set_body_json(body);
        }
        let status = if all {
            200
        } else {
            state.profile.health.degraded_status
        };
        ResponseTemplate::new(status).set_body_json(body)
    }

    pub(super) fn health_mlflow(&self) -> ResponseTemplate {
        let state = &self.0;
        if state.broken(Breakage::BreakerStuckOpen) {
            return ResponseTemplate::new(503).set_body_json(json!({
                "connected": false, "circuit_breaker_state": "OPEN", "failure_count": 5,
            }));
        }
        if self.mlflow_reachable() {
            state.mlflow_ok();
            ResponseTemplate::new(200).set_body_json(json!({
                "connected": true, "circuit_breaker_state": "CLOSED", "failure_count": 0,
                "mlflow_url": state.mlflow_internal_url,
            }))
        } else {
            let failures = state.mlflow_failed();
            let body = match state.dialect {
                super::super::Dialect::Contract => json!({
                    "connected": false, "circuit_breaker_state": state.circuit_state(), "failure_count": failures,
                    "error": format!("Failed to connect to MLflow server at {}", state.mlflow_internal_url),
                }),
                super::super::Dialect::Reworded => json!({
                    "connected": false, "circuit_breaker_state": state.circuit_state(), "consecutive_errors": failures,
                    "reason": "tracking backend not answering",
                }),
            };
            ResponseTemplate::new(503).set_body_json(body)
        }
    }

    pub(super) fn api_health(&self, path: &str) -> ResponseTemplate {
        if path != "/api/health/mlflow" {
            return said(&self.0, 404, "Not Found", "no route here");
        }
        let up = self.mlflow_reachable() && !self.0.broken(Breakage::ExperimentsCheckWrong);
        if self.0.profile.proxy.api_health == crate::config::ApiHealthShape::SdkProbe {
            // The client SDK's probe: it asks MLflow and says how long that took.
            return if up {
                ResponseTemplate::new(200).set_body_json(json!({
                    "status": "ok", "tracking_uri": self.0.mlflow_internal_url, "latency_ms": 3.2,
                }))
            } else {
                ResponseTemplate::new(503).set_body_json(json!({
                    "status": "error", "tracking_uri": self.0.mlflow_internal_url,
                    "error": self.0.say("MLflow is not answering", "tracking backend offline"),
                }))
            };
        }
        let artifacts = !self.0.has(Fault::ArtifactsDisabled);
        let check = |ok: bool| json!({"status": if ok { "healthy" } else { "unhealthy" }, "message": if ok { "ok" } else { "cannot reach MLflow" }});
        // Artifact serving is configuration, not health: `enabled` or `disabled`.
        let artifacts_api = json!({"status": if artifacts { "enabled" } else { "disabled" }, "message": "artifact serving"});
        let healthy = up;
        let body = json!({
            "status": if healthy { "healthy" } else { "unhealthy" },
            "checks": {"connectivity": check(up), "experiments_api": check(up), "artifacts_api": artifacts_api},
        });
        if healthy {
            ResponseTemplate::new(200).set_body_json(body)
        } else {
            detail(503, body)
        }
    }

    pub(super) fn ops(&self, path: &str) -> ResponseTemplate {
        let up = self.mlflow_reachable();
        match path {
            "/live" => ResponseTemplate::new(200).set_body_json(json!({"alive": true})),
            "/ready" => ResponseTemplate::new(if up { 200 } else { 503 })
                .set_body_json(match self.0.dialect {
                    super::super::Dialect::Contract => json!({"ready": up, "checks": {"mlflow": up, "database": true}}),
                    super::super::Dialect::Reworded => json!({"ready": up, "checks": {"mlflow": if up { "ok" } else { "unhealthy" }, "db": "ok"}}),
                }),
            "/version" => ResponseTemplate::new(200).set_body_json(json!({
                "version": API_VERSION, "mlflow_major_version": self.0.profile.proxy.mlflow_major_version,
            })),
            _ => ResponseTemplate::new(200).set_body_raw(
                "# HELP hokusai_requests_total Requests served.\n# TYPE hokusai_requests_total counter\nhokusai_requests_total 1\n",
                "text/plain; version=0.0.4",
            ),
        }
    }
}
