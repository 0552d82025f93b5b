//! The parts of the platform: who owns a contract line, and what the health score is per.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The part of the platform a check is about (the health score is per component).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// The registry load balancer and its routing.
    Alb,
    AuthService,
    /// The API service (auth middleware, health routes, proxy).
    Api,
    Mlflow,
    Artifacts,
    RedisCache,
    RateLimiter,
    EcsServices,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Component::Alb => "ALB",
            Component::AuthService => "auth service",
            Component::Api => "API service",
            Component::Mlflow => "MLflow",
            Component::Artifacts => "artifacts",
            Component::RedisCache => "Redis cache",
            Component::RateLimiter => "rate limiter",
            Component::EcsServices => "ECS services",
        })
    }
}
