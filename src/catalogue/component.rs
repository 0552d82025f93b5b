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

impl Component {
    /// The id metrics and JSON use (`auth_service`).
    pub fn id(self) -> &'static str {
        match self {
            Component::Alb => "alb",
            Component::AuthService => "auth_service",
            Component::Api => "api",
            Component::Mlflow => "mlflow",
            Component::Artifacts => "artifacts",
            Component::RedisCache => "redis_cache",
            Component::RateLimiter => "rate_limiter",
            Component::EcsServices => "ecs_services",
        }
    }

    /// How urgent a broken part is for an alert: `critical` where third parties cannot reach
    /// the registry or register a model through it, `warning` where the platform still serves
    /// them (a cache, the limiter, a service's rollout).
    pub fn severity(self) -> &'static str {
        match self {
            Component::Alb
            | Component::AuthService
            | Component::Api
            | Component::Mlflow
            | Component::Artifacts => "critical",
            Component::RedisCache | Component::RateLimiter | Component::EcsServices => "warning",
        }
    }
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

#[cfg(test)]
mod tests {
    use super::Component;

    /// The id metrics use is the id JSON uses.
    #[test]
    fn id_is_the_serde_name() {
        for c in [
            Component::Alb,
            Component::AuthService,
            Component::Api,
            Component::Mlflow,
            Component::Artifacts,
            Component::RedisCache,
            Component::RateLimiter,
            Component::EcsServices,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.id(), "{c:?}");
        }
    }
}
