//! The ECS API (JSON 1.1, `DescribeServices`) of the stand-in's cluster, shaped like the
//! answers of real ECS and moto (`shared/reference/mlflow-real.md` section 6).

use super::state::State;
use crate::catalogue::{Breakage, Fault};
use serde_json::{Value, json};
use std::sync::Arc;
use wiremock::{Request, Respond, ResponseTemplate};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// The service that `ecs-degraded` degrades: fewer tasks running than desired, rollout FAILED.
pub const DEGRADED_SERVICE: &str = "hokusai-api-development";
/// The service whose deployment `ecs-degraded` leaves stuck `IN_PROGRESS` (all tasks up).
pub const STUCK_SERVICE: &str = "hokusai-auth-development";
/// The service that `ecs-missing` removes.
pub const MISSING_SERVICE: &str = "hokusai-mlflow-development";

fn amz_json(status: u16, v: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        serde_json::to_vec(&v).expect("json"),
        "application/x-amz-json-1.1",
    )
}

fn error(kind: &str, message: &str) -> ResponseTemplate {
    amz_json(400, json!({"__type": kind, "message": message}))
}

fn service(state: &State, cluster: &str, name: &str) -> Value {
    let degraded = state.has(Fault::EcsDegraded) && name == DEGRADED_SERVICE;
    let stuck = state.has(Fault::EcsDegraded) && name == STUCK_SERVICE;
    let zero = state.broken(Breakage::EcsScaledToZero) && name == MISSING_SERVICE;
    let (running, desired) = if degraded {
        (1, 2)
    } else if zero {
        (0, 0)
    } else {
        (2, 2)
    };
    let now = chrono::Utc::now().timestamp() as f64;
    let deployment = json!({
        "id": format!("ecs-svc/{}", fastrand::u64(1_000_000_000..9_999_999_999)),
        "status": "PRIMARY",
        "taskDefinition": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{name}:7"),
        "desiredCount": desired, "pendingCount": 0, "runningCount": running,
        "failedTasks": if degraded { 4 } else { 0 },
        "createdAt": now - 3600.0, "updatedAt": now - 60.0, "launchType": "FARGATE",
        "rolloutState": if degraded { "FAILED" } else if stuck { "IN_PROGRESS" } else { "COMPLETED" },
        "rolloutStateReason": if degraded {
            "ECS deployment circuit breaker: tasks failed to start."
        } else {
            "ECS deployment completed."
        },
    });
    json!({
        "serviceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"),
        "serviceName": name,
        "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"),
        "status": "ACTIVE", "desiredCount": desired, "runningCount": running, "pendingCount": 0,
        "launchType": "FARGATE", "deployments": [deployment], "events": [],
        "schedulingStrategy": "REPLICA",
    })
}

pub(crate) struct EcsResponder(pub Arc<State>);

impl Respond for EcsResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let state = &self.0;
        // Like the real API (and moto), a request without SigV4 credentials is refused.
        let signed = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256"));
        if !signed {
            return error(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            );
        }
        let target = req
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(action) = target.strip_prefix("AmazonEC2ContainerServiceV20141113.") else {
            return error("UnknownOperationException", "Unknown operation");
        };
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
        match action {
            "DescribeServices" => {
                let cluster = body
                    .get("cluster")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                if cluster != state.profile.ecs.cluster {
                    return error("ClusterNotFoundException", "Cluster not found.");
                }
                let names: Vec<&str> = body
                    .get("services")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let (mut services, mut failures) = (Vec::new(), Vec::new());
                for name in names {
                    let known = state.profile.ecs.services.iter().any(|s| s == name);
                    let removed = state.has(Fault::EcsMissing) && name == MISSING_SERVICE;
                    if known && !removed {
                        services.push(service(state, cluster, name));
                    } else {
                        failures.push(json!({
                            "arn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{name}"), "reason": "MISSING",
                        }));
                    }
                }
                amz_json(200, json!({"services": services, "failures": failures}))
            }
            other => error(
                "InvalidParameterException",
                &format!("{other} is not emulated by the stand-in"),
            ),
        }
    }
}
