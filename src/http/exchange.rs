use reqwest::header::HeaderMap;
use std::fmt;
use std::time::Duration;

/// What a platform counts of its own authentication failures (the stand-in keeps these
/// counts; a live target's logs are not read, so there they stay 0). Read before and after
/// a request, their difference says what failed while it was in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthCounts {
    /// Validations the auth service failed (down, erring, throttling, too slow).
    pub auth_failures: usize,
    /// Validations the auth service answered with its own 429 (it throttled the API).
    pub auth_throttled: usize,
    /// Requests the API's auth middleware failed itself because it could not reach Redis.
    pub redis_errors: usize,
}

impl AuthCounts {
    /// An answer `status` the API's auth middleware gave itself, for want of Redis (by the
    /// platform's own count): no key was judged.
    pub fn auth_layer_failed(&self, status: u16) -> bool {
        status >= 500 && self.redis_errors > 0
    }

    /// What was counted between `before` and `self`.
    pub fn since(self, before: AuthCounts) -> AuthCounts {
        AuthCounts {
            auth_failures: self.auth_failures.saturating_sub(before.auth_failures),
            auth_throttled: self.auth_throttled.saturating_sub(before.auth_throttled),
            redis_errors: self.redis_errors.saturating_sub(before.redis_errors),
        }
    }
}

/// One request and its answer, as the suite saw it. Its `Debug` shows no secret.
#[derive(Clone)]
pub struct Exchange {
    /// `METHOD /path?query` (redacted).
    pub line: String,
    /// How the request authenticated (never the key).
    pub auth: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub latency: Duration,
    /// Secret values sent with the request, removed from every excerpt.
    pub(crate) secrets: Vec<String>,
    /// Why the request was sent a second time on a fresh connection (the reused one was
    /// closed under it), when it was.
    pub retried: Option<String>,
    /// What was sent as the body (text, redacted, at most 2000 characters) and its content
    /// type, for a copy-paste reproduction.
    pub sent: Option<(String, Option<String>)>,
    /// On the stand-in: what it counted of its own auth failures while this request was in
    /// flight (what a platform's logs would say). All 0 on a live target, whose logs the
    /// suite does not read.
    pub counted: AuthCounts,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("line", &self.line)
            .field("auth", &self.auth)
            .field("status", &self.status)
            .field("latency", &self.latency)
            .field("body", &self.excerpt(200))
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .finish_non_exhaustive()
    }
}

impl Exchange {
    /// The response's media type without parameters, lower-cased (`application/json`).
    pub fn content_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Looks like an HTML page (an ALB error page or a framework's error page).
    pub fn is_html(&self) -> bool {
        self.content_type().is_some_and(|c| c == "text/html")
            || self
                .body
                .iter()
                .skip_while(|b| b.is_ascii_whitespace())
                .take(15)
                .map(|b| b.to_ascii_lowercase())
                .collect::<Vec<u8>>()
                .starts_with(b"<!doctype html")
            || self
                .body
                .windows(6)
                .take(512)
                .any(|w| w.eq_ignore_ascii_case(b"<html>"))
    }

    /// `detail` of a FastAPI-style error body, as a string (objects are rendered as JSON).
    pub fn detail(&self) -> Option<String> {
        let v = self.json()?;
        match v.get("detail")? {
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// At most `max` characters of the body, with every secret removed.
    pub fn excerpt(&self, max: usize) -> String {
        // A binary body (an artifact, a NUL anywhere) is shown as its size and hash, never as
        // raw bytes in a report.
        if self.body.contains(&0) || std::str::from_utf8(&self.body).is_err() {
            use sha2::Digest;
            let hash = sha2::Sha256::digest(&self.body);
            let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return format!("<{} bytes of binary, sha256 {hex}…>", self.body.len());
        }
        let text = String::from_utf8_lossy(&self.body);
        let mut cut: String = text.chars().take(max).collect();
        if text.chars().count() > max {
            cut.push('…');
        }
        let refs: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        crate::secret::redact_with(&cut, &refs)
    }

    /// Does the body or any header contain one of the secrets sent? (A leak.)
    pub fn echoes_secret(&self) -> bool {
        self.secrets.iter().any(|s| {
            let b = s.as_bytes();
            self.body.windows(b.len().max(1)).any(|w| w == b)
                || self
                    .headers
                    .values()
                    .any(|v| v.as_bytes().windows(b.len().max(1)).any(|w| w == b))
        })
    }

    /// A one-line summary for messages: `GET /health -> 503 text/html (12 ms): <excerpt>`.
    pub fn summary(&self) -> String {
        format!(
            "{} -> {} {} ({} ms): {}",
            self.line,
            self.status,
            self.content_type()
                .unwrap_or_else(|| "no content-type".into()),
            self.latency.as_millis(),
            self.excerpt(160).replace('\n', " ")
        )
    }
}

/// What went wrong on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpErrorKind {
    /// No answer within the timeout.
    Timeout,
    /// The connection was refused (nothing listens there).
    Refused,
    /// Any other failure to connect (DNS, unreachable).
    Connect,
    /// The TLS handshake failed (no TLS on that port, a certificate the client refuses).
    Tls,
    /// The answer broke off or could not be read.
    Body,
    Other,
}

impl fmt::Display for HttpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpErrorKind::Timeout => "timeout",
            HttpErrorKind::Refused => "connection refused",
            HttpErrorKind::Connect => "unreachable",
            HttpErrorKind::Tls => "TLS handshake failed",
            HttpErrorKind::Body => "broken response",
            HttpErrorKind::Other => "request failed",
        })
    }
}

/// A request that got no usable answer. Contains no secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind} after {elapsed:.1?}: {line}: {message}")]
pub struct HttpError {
    pub kind: HttpErrorKind,
    pub line: String,
    pub elapsed: Duration,
    pub message: String,
    /// A timeout on a route of a host that answers other routes: the route is slow, the
    /// host is not dead.
    pub slow_route: bool,
}

impl HttpError {
    /// `METHOD /path` of the request, without its query.
    pub fn route(&self) -> &str {
        self.line.split('?').next().unwrap_or(&self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary body is shown as its size and hash: no NUL or invalid UTF-8 reaches a report.
    #[test]
    fn binary_bodies_are_size_and_hash() {
        let ex = Exchange {
            counted: Default::default(),
            line: "GET /artifact".into(),
            auth: "none".into(),
            status: 200,
            headers: HeaderMap::new(),
            body: vec![0, 159, 146, 150, 1, 2, 3],
            latency: Duration::from_millis(1),
            secrets: Vec::new(),
            retried: None,
            sent: None,
        };
        let e = ex.excerpt(300);
        assert!(e.starts_with("<7 bytes of binary, sha256 "), "{e}");
        assert!(!e.contains('\0'));
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = "hk_live_CanaryCanaryCanaryCanary01234567";
        let ex = Exchange {
            counted: Default::default(),
            retried: None,
            sent: None,
            line: "GET /".into(),
            auth: "Authorization: Bearer".into(),
            status: 200,
            headers: HeaderMap::new(),
            body: format!("{{\"echo\":\"{key}\"}}").into_bytes(),
            latency: Duration::from_millis(3),
            secrets: vec![key.to_owned(), "malformed-secret".into()],
        };
        let printed = format!("{ex:?} {ex:#?}");
        assert!(!printed.contains("Canary01234567"), "{printed}");
        assert!(!printed.contains("malformed-secret"), "{printed}");
    }
}
