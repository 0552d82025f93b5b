//! What a check records: one [`Evidence`] per request (redacted, short), collected in an
//! [`EvidenceSink`] that classifies every answer into typed symptoms as it is recorded.

use super::symptom::{Observer, Symptom};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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

    /// What classifies this sink's answers.
    pub fn observer(&self) -> &Observer {
        &self.observer
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
