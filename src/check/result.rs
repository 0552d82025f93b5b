use super::contract::Line;
use super::symptom::{Observer, Symptom};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
    /// The check could not run in this configuration, for a reason the user can fix (a
    /// missing key, Redis, AWS access: the reason names the variable). Strict mode fails it.
    Skipped {
        reason: String,
    },
    /// The check cannot apply to this kind of target (it needs the stand-in's logs or
    /// injects a failure): listed, never a gate failure, strict or not.
    NotApplicable {
        reason: String,
    },
    /// No usable answer: `unreachable`, `timeout`, `unexpected response`, ...
    Error {
        class: String,
    },
    /// The check stopped at a step before its own assertion (a precondition, an earlier
    /// call): its own contract line was not verified. The report lists it under the cause of
    /// that step.
    Blocked {
        step: String,
    },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "FAILED",
            Outcome::Skipped { .. } => "skipped",
            Outcome::NotApplicable { .. } => "not applicable",
            Outcome::Error { .. } => "ERROR",
            Outcome::Blocked { .. } => "BLOCKED",
        }
    }
    /// Failed, error or blocked: the platform is not as it should be (or could not be
    /// reached), and the check's line is not verified. A deploy gate fails on any of them.
    pub fn is_bad(&self) -> bool {
        matches!(
            self,
            Outcome::Failed | Outcome::Error { .. } | Outcome::Blocked { .. }
        )
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
    /// What this request showed, classified by shape when it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<Symptom>,
    /// Recorded while the check itself switched a fault on (on the stand-in): its symptoms
    /// name no cause and its latency is left out of the percentiles.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub injected: bool,
    /// The request was sent again on a fresh connection after the reused one was closed
    /// under it (why, redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<String>,
    /// The body that was sent (text, redacted, short) and its content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<(String, Option<String>)>,
}

impl Evidence {
    /// A copy-paste reproduction of this request: `curl` with the method, the URL (the host
    /// as its variable), the headers and the body; the key as `$HOKUSAI_API_KEY`, never its
    /// value. None for hosts curl cannot reach this way (ECS, Redis).
    ///
    /// ```
    /// # use hokusai_verify::check::Evidence;
    /// let e: Evidence = serde_json::from_value(serde_json::json!({
    ///     "request": "POST /api/mlflow/api/2.0/mlflow/experiments/create", "host": "registry",
    ///     "auth": "Authorization: Bearer", "status": 500, "content_type": null, "latency_ms": 3.0,
    ///     "body_excerpt": "", "error": null, "sent": ["{\"name\":\"x\"}", "application/json"]
    /// })).unwrap();
    /// assert_eq!(
    ///     e.curl().unwrap(),
    ///     "curl -sS -X POST \"$HOKUSAI_REGISTRY_URL/api/mlflow/api/2.0/mlflow/experiments/create\" -H \"Authorization: Bearer $HOKUSAI_API_KEY\" -H 'Content-Type: application/json' --data-raw '{\"name\":\"x\"}'"
    /// );
    /// ```
    pub fn curl(&self) -> Option<String> {
        let base = match self.host.as_str() {
            "registry" => "$HOKUSAI_REGISTRY_URL",
            "auth" => "$HOKUSAI_AUTH_URL",
            _ => return None,
        };
        let (method, target) = self.request.split_once(' ')?;
        if !target.starts_with('/') {
            return None;
        }
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let mut cmd = format!(
            "curl -sS -X {method} \"{base}{}\"",
            target.replace('"', "%22")
        );
        let key = "$HOKUSAI_API_KEY";
        match self.auth.as_str() {
            "no key" | "" => {}
            "X-API-Key" => cmd.push_str(&format!(" -H \"X-API-Key: {key}\"")),
            // A deliberately malformed credential: its value is not kept (it may be a key
            // with a typo); the placeholder says what to put there.
            a if a.ends_with(": <raw value>") => {
                let header = &a[..a.len() - ": <raw value>".len()];
                cmd.push_str(&format!(
                    " -H '{header}: <the malformed value the check sent>'"
                ));
            }
            a if a.starts_with("Authorization: ") => {
                let scheme = &a["Authorization: ".len()..];
                cmd.push_str(&format!(" -H \"Authorization: {scheme} {key}\""));
            }
            other => cmd.push_str(&format!(" -H {}", quote(other))),
        }
        if let Some((body, content_type)) = &self.sent {
            if let Some(ct) = content_type {
                cmd.push_str(&format!(" -H {}", quote(&format!("Content-Type: {ct}"))));
            }
            cmd.push_str(&format!(" --data-raw {}", quote(body)));
        }
        Some(cmd)
    }
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
            symptoms: Vec::new(),
            injected: false,
            retried: ex.retried.clone(),
            sent: ex.sent.clone(),
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
            symptoms: Vec::new(),
            injected: false,
            retried: None,
            sent: None,
        }
    }
}

/// Where a check's evidence collects; shared with the clients a check hands out (the MLflow
/// client records every call into it). Every request recorded here is classified into
/// [`Symptom`]s by the environment's [`Observer`], once, at the point it is observed.
#[derive(Clone, Default)]
pub struct EvidenceSink {
    items: Arc<Mutex<Vec<Evidence>>>,
    saw: Arc<Mutex<Vec<Symptom>>>,
    observer: Arc<Observer>,
    injected: Arc<AtomicBool>,
    /// Artifact bytes the check's clients uploaded (accepted by the platform).
    uploaded: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for EvidenceSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceSink").finish_non_exhaustive()
    }
}

impl EvidenceSink {
    pub fn new(observer: Arc<Observer>) -> Self {
        Self {
            observer,
            ..Self::default()
        }
    }

    /// Counts artifact bytes an upload put on the platform.
    pub fn uploaded(&self, bytes: u64) {
        self.uploaded.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Artifact bytes uploaded so far.
    pub fn uploaded_bytes(&self) -> u64 {
        self.uploaded.load(Ordering::Relaxed)
    }

    /// Records an answered request and what its shape shows.
    pub fn answered(&self, host: &str, ex: &crate::http::Exchange) {
        let mut e = Evidence::answered(host, ex);
        e.symptoms = self.observer.observe(host, ex);
        self.push(e);
    }

    /// Records a request that got no answer.
    pub fn unanswered(&self, host: &str, auth: String, err: &crate::http::HttpError) {
        let mut e = Evidence::unanswered(host, auth, err);
        e.symptoms = self.observer.unanswered(host, err);
        self.push(e);
    }

    /// Records any evidence (a Redis command, an ECS call), marked injected while a fault
    /// injected by the check is on.
    pub fn push(&self, mut e: Evidence) {
        e.injected |= self.injected.load(Ordering::SeqCst);
        self.items.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    /// Records a symptom the check found by looking (a TTL, a health report, an ECS state);
    /// ignored while the check injects a fault itself.
    pub fn saw(&self, s: Symptom) {
        if !self.injected.load(Ordering::SeqCst) {
            self.saw.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        }
    }

    pub(crate) fn take_saw(&self) -> Vec<Symptom> {
        std::mem::take(&mut *self.saw.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The flag that marks what is recorded as injected ([`super::inject::Injection`]).
    pub(crate) fn injected_flag(&self) -> Arc<AtomicBool> {
        self.injected.clone()
    }

    pub(crate) fn take(&self) -> Vec<Evidence> {
        std::mem::take(&mut *self.items.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The symptoms recorded so far (not injected ones).
    pub fn symptoms(&self) -> Vec<Symptom> {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|e| !e.injected)
            .flat_map(|e| e.symptoms.iter().cloned())
            .collect()
    }
}

/// The record of one check run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub area: crate::catalogue::Area,
    /// `registry_health`, or `ecs_service[hokusai-api-development]` for a parameterised case.
    pub id: String,
    pub title: String,
    pub component: Component,
    /// `standin` or `live`.
    pub target: String,
    pub profile: String,
    pub outcome: Outcome,
    /// The contract line the check verifies (a failure no fault explains is reported there).
    #[serde(default)]
    pub line: Option<Line>,
    /// What the check's own assertion (or the step that blocked it) found, typed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<Symptom>,
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
    /// The check moves a lot of data (large artifacts): its transfers stay out of the
    /// latency percentiles.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub heavy: bool,
    /// What the check created and clean-up could not remove, with the commands that do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_behind: Vec<crate::mlflow::workflow::LeftBehind>,
}

impl CheckResult {
    /// `area/id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.area, self.id)
    }

    /// A multi-line explanation for a test failure or the console, without secrets.
    pub fn explain(&self) -> String {
        let mut s = format!("[{}] {} — {}", self.outcome.label(), self.key(), self.title);
        // The message, unless it only repeats expected and actual (shown below).
        let repeats = match (&self.message, &self.expected, &self.actual) {
            (Some(m), Some(e), Some(a)) => *m == format!("expected {e}, got {a}"),
            _ => false,
        };
        if let Some(m) = self.message.as_ref().filter(|_| !repeats) {
            s.push_str(&format!("\n  {m}"));
        }
        if let Some(e) = &self.expected {
            s.push_str(&format!("\n  expected: {e}"));
        }
        if let Some(a) = &self.actual {
            s.push_str(&format!("\n  actual:   {a}"));
        }
        for sym in &self.symptoms {
            s.push_str(&format!(
                "\n  symptom:  {}",
                serde_json::to_string(sym).unwrap_or_default()
            ));
        }
        for ev in &self.evidence {
            for sym in ev.symptoms.iter().filter(|_| !ev.injected) {
                s.push_str(&format!(
                    "\n  symptom:  {} (from {})",
                    serde_json::to_string(sym).unwrap_or_default(),
                    ev.request
                ));
            }
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
