use crate::http::{Exchange, HttpError, HttpErrorKind};
use std::fmt;

pub use crate::catalogue::MLFLOW_ERROR_CODES;

/// A failed MLflow call: what was asked and everything that came back. Contains no secret.
#[derive(Debug, Clone)]
pub struct MlflowError {
    /// `POST registered-models/create`.
    pub call: String,
    /// None when there was no answer at all.
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub message: String,
    /// The error body was an HTML page (MLflow's 404/405, an ALB page), not JSON.
    pub html: bool,
    pub content_type: Option<String>,
    /// FastAPI's `detail` (the proxy's own errors).
    pub detail: Option<String>,
    /// Set when there was no answer (timeout, refused, ...).
    pub transport: Option<HttpErrorKind>,
}

impl MlflowError {
    /// A 2xx answer whose body is not what MLflow sends for `call` (a finding).
    pub(crate) fn malformed(call: &str, message: String) -> Self {
        Self {
            call: call.to_owned(),
            status: Some(200),
            error_code: None,
            message,
            html: false,
            content_type: None,
            detail: None,
            transport: None,
        }
    }

    pub(crate) fn from_exchange(call: String, ex: &Exchange) -> Self {
        let json = ex.json();
        let field = |k: &str| {
            json.as_ref()
                .and_then(|v| v.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Self {
            call,
            status: Some(ex.status),
            error_code: field("error_code"),
            message: field("message").unwrap_or_else(|| ex.excerpt(200)),
            html: ex.is_html(),
            content_type: ex.content_type(),
            detail: ex.detail(),
            transport: None,
        }
    }

    pub(crate) fn from_transport(call: String, e: &HttpError) -> Self {
        Self {
            call,
            status: None,
            error_code: None,
            message: e.to_string(),
            html: false,
            content_type: None,
            detail: None,
            transport: Some(e.kind),
        }
    }

    /// The answer was well-formed but not what was expected (for parse errors of 200s).
    pub(crate) fn unexpected(call: String, ex: &Exchange, why: &str) -> Self {
        let mut e = Self::from_exchange(call, ex);
        e.message = format!("{why}: {}", ex.excerpt(200));
        e
    }

    pub fn is(&self, code: &str) -> bool {
        self.error_code.as_deref() == Some(code)
    }

    /// Answered by what stands in front of MLflow rather than by it: 401, 403 or 429 from
    /// the auth layer, or a load balancer's HTML 502-504 page.
    pub fn is_gatekeeper(&self) -> bool {
        matches!(self.status, Some(401 | 403 | 429))
            || (self.html && matches!(self.status, Some(502..=504)))
    }

    /// MLflow said the object does not exist: `RESOURCE_DOES_NOT_EXIST`, or any 404 in
    /// MLflow's error shape (a proxy that rewrites error codes still passes the status). A
    /// 404 without an `error_code` (a route the API does not know) says nothing about it.
    pub fn is_gone(&self) -> bool {
        self.is("RESOURCE_DOES_NOT_EXIST")
            || (self.status == Some(404) && self.error_code.is_some())
    }
}

impl MlflowError {
    /// What came back, without the call (`503 detail=...`, `404 RESOURCE_DOES_NOT_EXIST ...`).
    pub fn answer(&self) -> String {
        struct Answer<'a>(&'a MlflowError);
        impl fmt::Display for Answer<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_answer(f)
            }
        }
        Answer(self).to_string()
    }

    fn fmt_answer(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, &self.transport) {
            (None, Some(kind)) => write!(f, "no answer ({kind}): {}", self.message),
            (Some(s), _) => {
                write!(f, "{s}")?;
                if self.html {
                    write!(f, " HTML page")?;
                }
                if let Some(c) = &self.error_code {
                    write!(f, " {c}")?;
                }
                if let Some(d) = &self.detail {
                    write!(f, " detail={d}")?;
                } else {
                    write!(
                        f,
                        " {}",
                        self.message
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                    )?;
                }
                Ok(())
            }
            (None, None) => write!(f, "{}", self.message),
        }
    }
}

impl fmt::Display for MlflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.call)?;
        self.fmt_answer(f)
    }
}

impl std::error::Error for MlflowError {}

impl From<MlflowError> for crate::evidence::Failure {
    fn from(e: MlflowError) -> Self {
        match e.transport {
            Some(HttpErrorKind::Timeout) => crate::evidence::Failure::error("timeout", e),
            Some(HttpErrorKind::Refused | HttpErrorKind::Connect | HttpErrorKind::Tls) => {
                crate::evidence::Failure::error("unreachable", e)
            }
            Some(_) => crate::evidence::Failure::error("unexpected response", e),
            // The auth layer (a rejected or unjudged key, a missing scope, throttling) or a
            // load balancer answered, not MLflow: whatever MLflow line the call was for was
            // not reached. The answer's own symptoms name the cause.
            None if e.is_gatekeeper() => {
                crate::evidence::Failure::failed(format!("{} to succeed", e.call), e.answer())
                    .blocked("the call getting past the auth layer and load balancer")
            }
            None => crate::evidence::Failure::failed(format!("{} to succeed", e.call), e.answer()),
        }
    }
}
