use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// The platform answered, but not as the contract says.
    Failed,
    /// The check could not run in this configuration (the reason says why).
    Skipped {
        reason: String,
    },
    /// No usable answer: `unreachable`, `timeout`, `unexpected response`, ...
    Error {
        class: String,
    },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "FAILED",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Error { .. } => "ERROR",
        }
    }
    /// Failed or error: the platform is not as it should be (or could not be reached).
    pub fn is_bad(&self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Error { .. })
    }
}

/// One request the check made, as stored: redacted, short.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `GET /health` (relative to `host`).
    pub request: String,
    /// Which host: `registry`, `auth`, `ecs`, `redis`, `mlflow`.
    pub host: String,
    /// How it authenticated (never the key).
    pub auth: String,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub latency_ms: f64,
    /// At most a few hundred characters of the body, redacted.
    pub body_excerpt: String,
    /// The transport error, when there was no answer.
    pub error: Option<String>,
}

impl Evidence {
    /// Evidence of an answered request.
    pub fn answered(host: &str, ex: &crate::http::Exchange) -> Self {
        Self {
            request: ex.line.clone(),
            host: host.to_owned(),
            auth: ex.auth.clone(),
            status: Some(ex.status),
            content_type: ex.content_type(),
            latency_ms: ex.latency.as_secs_f64() * 1e3,
            body_excerpt: ex.excerpt(300),
            error: None,
        }
    }

    /// Evidence of a request that got no answer.
    pub fn unanswered(host: &str, auth: String, e: &crate::http::HttpError) -> Self {
        Self {
            request: e.line.clone(),
            host: host.to_owned(),
            auth,
            status: None,
            content_type: None,
            latency_ms: e.elapsed.as_secs_f64() * 1e3,
            body_excerpt: String::new(),
            error: Some(e.to_string()),
        }
    }
}

/// Where a check's evidence collects; shared with the clients a check hands out (the MLflow
/// client records every call into it).
pub type EvidenceSink = std::sync::Arc<std::sync::Mutex<Vec<Evidence>>>;

/// The record of one check run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub area: String,
    /// `registry_health`, or `ecs_service[hokusai-api-development]` for a parameterised case.
    pub id: String,
    pub title: String,
    pub component: Component,
    /// `standin` or `live`.
    pub target: String,
    pub profile: String,
    pub outcome: Outcome,
    /// What the contract expects, when the check failed.
    pub expected: Option<String>,
    /// What came back instead.
    pub actual: Option<String>,
    /// A one-line explanation (failure, skip reason or error chain).
    pub message: Option<String>,
    pub evidence: Vec<Evidence>,
    /// Figures measured on the way (`latency_ms`, `revocation_window_s`, ...).
    pub measurements: BTreeMap<String, f64>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration_ms: f64,
}

impl CheckResult {
    /// `area/id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.area, self.id)
    }

    /// A multi-line explanation for a test failure or the console, without secrets.
    pub fn explain(&self) -> String {
        let mut s = format!("[{}] {} — {}", self.outcome.label(), self.key(), self.title);
        if let Some(m) = &self.message {
            s.push_str(&format!("\n  {m}"));
        }
        if let Some(e) = &self.expected {
            s.push_str(&format!("\n  expected: {e}"));
        }
        if let Some(a) = &self.actual {
            s.push_str(&format!("\n  actual:   {a}"));
        }
        for ev in &self.evidence {
            s.push_str(&format!(
                "\n  evidence: [{}] {} ({}) -> {} {} in {:.1} ms {}",
                ev.host,
                ev.request,
                ev.auth,
                ev.status.map_or("no answer".to_owned(), |s| s.to_string()),
                ev.content_type.as_deref().unwrap_or(""),
                ev.latency_ms,
                ev.error
                    .as_deref()
                    .unwrap_or(&ev.body_excerpt)
                    .replace('\n', " ")
            ));
        }
        crate::secret::redact(&s)
    }
}
