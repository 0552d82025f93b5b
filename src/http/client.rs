use super::exchange::{Exchange, HttpError, HttpErrorKind};
use crate::secret::ApiKey;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};
use url::Url;

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credentials at all.
    None,
    /// `Authorization: Bearer <key>`.
    Bearer(ApiKey),
    /// `Authorization: <scheme> <key>` with another spelling of the scheme (`bearer`, `BEARER`).
    Scheme(&'static str, ApiKey),
    /// `X-API-Key: <key>`.
    XApiKey(ApiKey),
    /// Any header with any (possibly malformed) value, for negative tests. The value is a
    /// secret too: it may be a real key with a typo.
    Raw {
        header: &'static str,
        value: SecretString,
    },
}

impl Auth {
    /// The values that must never appear in output for this request.
    pub fn secret_values(&self) -> Vec<&str> {
        match self {
            Auth::None => vec![],
            Auth::Bearer(k) | Auth::Scheme(_, k) | Auth::XApiKey(k) => vec![k.expose()],
            Auth::Raw { value, .. } => vec![value.expose_secret()],
        }
    }

    /// A short, secret-free description for evidence ("Bearer", "X-API-Key", ...).
    pub fn describe(&self) -> String {
        match self {
            Auth::None => "no key".into(),
            Auth::Bearer(_) => "Authorization: Bearer".into(),
            Auth::Scheme(s, _) => format!("Authorization: {s}"),
            Auth::XApiKey(_) => "X-API-Key".into(),
            Auth::Raw { header, .. } => format!("{header}: <raw value>"),
        }
    }
}

/// A request to send: method, path relative to a base URL, and what goes with it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<(Vec<u8>, Option<String>)>,
    pub auth: Auth,
    pub timeout: Option<Duration>,
}

impl Req {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            auth: Auth::None,
            timeout: None,
        }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
    pub fn query(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.query.push((k.into(), v.into()));
        self
    }
    pub fn header(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn json(mut self, v: &serde_json::Value) -> Self {
        self.body = Some((
            serde_json::to_vec(v).expect("a Value serialises"),
            Some("application/json".into()),
        ));
        self
    }
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>, content_type: Option<&str>) -> Self {
        self.body = Some((body.into(), content_type.map(str::to_owned)));
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// `GET /health?detailed=true`-style line for evidence (no secrets: keys never go in URLs).
    pub fn line(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push('?');
            s.push_str(&q.join("&"));
        }
        crate::secret::redact(&s)
    }
}

/// The suite's HTTP client. Every request has a timeout and is timed; redirects are not
/// followed (a redirect is evidence, not something to hide).
///
/// It also remembers hosts that did not answer: after a failed connection to a host, or a
/// timeout on a host that has not answered anything yet (a black hole), further requests to
/// it in the same run fail at once with that finding, so a dead or black-holed target costs
/// one timeout per host, not one per check. A timeout on a host that answers other requests
/// is a **slow route**, not a dead host: that route (method and path) is remembered, later
/// requests to it get a short budget ([`SLOW_ROUTE_BUDGET`]), and the host's other routes
/// keep their full timeout.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    /// The counts a platform keeps of its own auth failures, read around each request (the
    /// stand-in's; none on a live target): see [`Exchange::counted`].
    auth_log: Option<AuthLog>,
    /// The same without a pool: a non-idempotent request to a host that closes kept-alive
    /// connections under the client goes out on a connection of its own.
    unpooled: reqwest::Client,
    timeout: Duration,
    memory: std::sync::Arc<std::sync::Mutex<Memory>>,
}

/// Reads a platform's own counts of its authentication failures.
#[derive(Clone)]
pub struct AuthLog(pub std::sync::Arc<dyn Fn() -> super::AuthCounts + Send + Sync>);

impl std::fmt::Debug for AuthLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthLog({:?})", (self.0)())
    }
}

/// The budget of a request to a route that already timed out once (at most the timeout).
pub const SLOW_ROUTE_BUDGET: Duration = Duration::from_secs(1);

/// What the client learnt about hosts and routes during a run.
#[derive(Debug, Default)]
struct Memory {
    /// Hosts that did not answer: `host:port` → (kind, first failure).
    dead: std::collections::HashMap<String, (HttpErrorKind, String)>,
    /// Hosts that answered at least once.
    answered: std::collections::HashSet<String>,
    /// Routes that timed out: `host:port METHOD /path`.
    slow: std::collections::HashSet<String>,
    /// Hosts that closed a kept-alive connection under a request.
    drops_idle: std::collections::HashSet<String>,
}

impl Memory {
    /// Records a timeout or connection failure; returns whether it is a slow route.
    fn failed(&mut self, authority: &str, route: &str, err: &HttpError, connect: bool) -> bool {
        let slow =
            err.kind == HttpErrorKind::Timeout && !connect && self.answered.contains(authority);
        if slow {
            self.slow.insert(route.to_owned());
        } else if matches!(
            err.kind,
            HttpErrorKind::Timeout
                | HttpErrorKind::Refused
                | HttpErrorKind::Connect
                | HttpErrorKind::Tls
        ) {
            self.dead
                .entry(authority.to_owned())
                .or_insert((err.kind, format!("{} on {}", err.kind, err.line)));
        }
        slow
    }
}

/// The host (`host:port`) a request goes to, and its route (the host, method and path) as
/// the client remembers routes that timed out.
fn route_of(base: &Url, req: &Req) -> (String, String) {
    let url = join(base, &req.path);
    let authority = format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    );
    let route = format!("{authority} {} {}", req.method, url.path());
    (authority, route)
}

impl HttpClient {
    pub fn new(request_timeout: Duration, connect_timeout: Duration) -> Self {
        Self {
            inner: shared_client(request_timeout, connect_timeout, true),
            unpooled: shared_client(request_timeout, connect_timeout, false),
            auth_log: None,
            timeout: request_timeout,
            memory: Default::default(),
        }
    }

    /// Reads `log` (the platform's own counts of its auth failures) before and after every
    /// request, into [`Exchange::counted`].
    pub fn watching_auth_log(mut self, log: AuthLog) -> Self {
        self.auth_log = Some(log);
        self
    }

    /// Has a route of a host that answers other requests timed out in this run?
    pub fn saw_slow_route(&self) -> bool {
        !self
            .memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .slow
            .is_empty()
    }

    /// Forgets the routes that timed out (their requests get the full timeout again): for a
    /// check run again alone after it timed out beside others. Dead hosts stay dead.
    pub fn forget_slow_routes(&self) {
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .slow
            .clear();
    }

    /// The default per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The underlying reqwest client (for streaming uploads/downloads).
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends `req` to `base` + `req.path` and reads the whole body.
    pub async fn send(&self, base: &Url, req: Req) -> Result<Exchange, HttpError> {
        let read = || self.auth_log.as_ref().map(|l| (l.0)()).unwrap_or_default();
        let before = read();
        let mut ex = self.send_once(base, req).await?;
        ex.counted = read().since(before);
        Ok(ex)
    }

    /// Sends `reqs` side by side, at most `in_flight` at once, and returns their answers in
    /// order. A platform that serves one request at a time (its event loop blocked while
    /// it waits) queues them, and the suite's own queue is no route's timeout: once one
    /// times out beside others, the batch sends nothing more side by side, and what timed
    /// out or was not sent yet goes alone, one at a time, with its full budget (the route's
    /// timeout beside others forgotten). The first that times out alone as well may only
    /// have waited for the platform to finish the requests given up on: it gets one more
    /// try. A lone request's timeout stands.
    pub async fn send_batch(
        &self,
        base: &Url,
        reqs: Vec<Req>,
        in_flight: usize,
    ) -> Vec<Result<Exchange, HttpError>> {
        self.send_batch_until(base, reqs, in_flight, |_| false)
            .await
            .into_iter()
            .map(|r| r.expect("nothing ends the batch early"))
            .collect()
    }

    /// [`HttpClient::send_batch`], ended early: once an answer satisfies `enough` (one that
    /// shows the rest cannot be judged), nothing more goes out alone, and what timed out in
    /// the batch's own queue is dropped with what was never sent (`None`: no verdict).
    pub async fn send_batch_until(
        &self,
        base: &Url,
        reqs: Vec<Req>,
        in_flight: usize,
        enough: impl Fn(&Exchange) -> bool,
    ) -> Vec<Option<Result<Exchange, HttpError>>> {
        use futures_util::StreamExt;
        use std::sync::atomic::{AtomicBool, Ordering};
        let n = reqs.len();
        let side_by_side = n > 1 && in_flight > 1;
        let timed_out = |r: &Result<Exchange, HttpError>| matches!(r, Err(e) if e.kind == HttpErrorKind::Timeout);
        let queued = AtomicBool::new(false);
        let mut out: Vec<Option<Result<Exchange, HttpError>>> = (0..n).map(|_| None).collect();
        let sent: Vec<(usize, Option<Result<Exchange, HttpError>>)> =
            futures_util::stream::iter(reqs.iter().cloned().enumerate())
                .map(|(i, req)| {
                    let queued = &queued;
                    async move {
                        if queued.load(Ordering::SeqCst) {
                            return (i, None);
                        }
                        let r = self.send(base, req).await;
                        if side_by_side && timed_out(&r) {
                            queued.store(true, Ordering::SeqCst);
                        }
                        (i, Some(r))
                    }
                })
                .buffer_unordered(in_flight.max(1))
                .collect()
                .await;
        for (i, r) in sent {
            out[i] = r;
        }
        if !side_by_side || !queued.load(Ordering::SeqCst) {
            return out;
        }
        let is_enough =
            |r: &Option<Result<Exchange, HttpError>>| matches!(r, Some(Ok(ex)) if enough(ex));
        let mut done = out.iter().any(is_enough);
        let mut one_more_try = true;
        for (i, slot) in out.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|r| !timed_out(r)) {
                continue;
            }
            if done {
                // Not a verdict: the queue's timeout, or never sent.
                self.forget_slow_route(base, &reqs[i]);
                *slot = None;
                continue;
            }
            let mut r = self.send_alone(base, reqs[i].clone()).await;
            if one_more_try && timed_out(&r) && slot.is_some() {
                one_more_try = false;
                r = self.send_alone(base, reqs[i].clone()).await;
            }
            *slot = Some(r);
            done = is_enough(slot);
        }
        out
    }

    /// Sends `req` with its full budget, a timeout of its route beside other requests
    /// forgotten first.
    async fn send_alone(&self, base: &Url, req: Req) -> Result<Exchange, HttpError> {
        self.forget_slow_route(base, &req);
        self.send(base, req).await
    }

    /// Forgets that `req`'s route timed out (it did only in a queue of the suite's own).
    fn forget_slow_route(&self, base: &Url, req: &Req) {
        let (_, route) = route_of(base, req);
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .slow
            .remove(&route);
    }

    async fn send_once(&self, base: &Url, req: Req) -> Result<Exchange, HttpError> {
        let url = join(base, &req.path);
        let line = req.line();
        let (authority, route) = route_of(base, &req);
        let (dead, slow, drops_idle) = {
            let m = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            (
                m.dead.get(&authority).cloned(),
                m.slow.contains(&route),
                m.drops_idle.contains(&authority),
            )
        };
        if let Some((kind, first)) = dead {
            return Err(HttpError {
                kind,
                line,
                elapsed: Duration::ZERO,
                message: format!("not sent: {authority} already failed in this run ({first})"),
                slow_route: false,
            });
        }
        // Repeating these is harmless (see the retry below).
        let idempotent = matches!(
            req.method,
            reqwest::Method::GET
                | reqwest::Method::HEAD
                | reqwest::Method::PUT
                | reqwest::Method::DELETE
                | reqwest::Method::OPTIONS
        );
        let client = if drops_idle && !idempotent {
            &self.unpooled
        } else {
            &self.inner
        };
        let mut rb = client.request(req.method.clone(), url.clone());
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        rb = apply_auth(rb, &req.auth);
        if let Some((body, ct)) = &req.body {
            if let Some(ct) = ct {
                rb = rb.header("Content-Type", ct.as_str());
            }
            rb = rb.body(body.clone());
        }
        let budget = req.timeout.unwrap_or(self.timeout);
        if slow {
            rb = rb.timeout(budget.min(SLOW_ROUTE_BUDGET));
        } else if let Some(t) = req.timeout {
            rb = rb.timeout(t);
        }
        let secrets: Vec<String> = req
            .auth
            .secret_values()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let started = Instant::now();
        let fail = |e: reqwest::Error, started: Instant| {
            HttpError::from_reqwest(&e, line.clone(), started.elapsed(), &secrets)
        };
        let remember = |mut err: HttpError, connect: bool| {
            err.slow_route = self
                .memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .failed(&authority, &route, &err, connect);
            if err.slow_route && slow {
                err.message = format!(
                    "{} (this route already timed out in this run: {SLOW_ROUTE_BUDGET:?} budget)",
                    err.message
                );
            }
            err
        };
        // A request that fails because the pooled connection it went out on was closed
        // under it (the server closed it after an answer) is sent once more on a fresh
        // connection when repeating it is harmless; the retry is recorded in the evidence.
        // The host is remembered: its later non-idempotent requests use no pool.
        let mut again = rb.try_clone();
        let mut retried = None;
        let mut pending = rb.send().await;
        // A request that never left (its pooled connection belonged to a runtime that is gone,
        // as between two `#[tokio::test]`s of one process) is sent again whatever its method:
        // nothing reached the server. At most three times, each on another connection.
        for _ in 0..3 {
            let Err(e) = &pending else { break };
            if stale_connection(e) {
                self.memory
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .drops_idle
                    .insert(authority.clone());
            }
            let repeat = never_sent(e) || (idempotent && stale_connection(e));
            let Some(next) = again.take().filter(|_| repeat) else {
                break;
            };
            let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
            retried = Some(crate::secret::redact_with(&error_chain(e), &refs));
            again = next.try_clone();
            pending = next.send().await;
            if !pending.as_ref().is_err_and(never_sent) {
                break;
            }
        }
        let resp = match pending {
            Ok(r) => r,
            Err(e) => {
                let connect = e.is_connect();
                let cert = super::tls::CertProblem::of(&e);
                let mut err = remember(fail(e, started), connect);
                if err.kind == HttpErrorKind::Tls {
                    err.message =
                        format!("{} ({})", self.tls_diagnosis(&url, cert).await, err.message);
                }
                return Err(err);
            }
        };
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .answered
            .insert(authority.clone());
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        // The body is bounded by the same timeout (reqwest's covers the whole exchange); a
        // body that never ends makes its route slow.
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(remember(fail(e, started), false)),
        };
        Ok(Exchange {
            line,
            auth: req.auth.describe(),
            status,
            headers,
            body: body.to_vec(),
            latency: started.elapsed(),
            sent: req.body.as_ref().and_then(|(b, ct)| {
                let text = std::str::from_utf8(b).ok()?;
                let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
                let text: String = crate::secret::redact_with(text, &refs)
                    .chars()
                    .take(2000)
                    .collect();
                Some((text, ct.clone()))
            }),
            secrets,
            retried,
            counted: Default::default(),
        })
    }
}

impl HttpClient {
    /// What a failed TLS handshake with `url`'s host means: the certificate it presents
    /// (read by a diagnostic handshake) and what to do.
    async fn tls_diagnosis(&self, url: &Url, cert: Option<super::tls::CertProblem>) -> String {
        use super::tls::{CertProblem, peer_certificate};
        let host = url.host_str().unwrap_or("").trim_matches(['[', ']']);
        let port = url.port_or_known_default().unwrap_or(443);
        let authority = format!("{host}:{port}");
        let presented =
            peer_certificate(host, port, self.timeout.min(Duration::from_secs(5))).await;
        match (presented, cert) {
            (Some(p), Some(problem)) => format!(
                "TLS handshake with {authority} failed: its certificate (subject {}, issuer {}) {}; {}",
                p.subject,
                p.issuer,
                match problem {
                    CertProblem::UnknownIssuer => "is signed by a CA this machine does not trust",
                    CertProblem::NotValidForName => "is not issued for this host name",
                    CertProblem::Expired => "is expired or not yet valid",
                    CertProblem::Other => "was refused",
                },
                problem.remedy()
            ),
            (Some(p), None) => format!(
                "TLS handshake with {authority} failed (certificate subject {}, issuer {})",
                p.subject, p.issuer
            ),
            (None, _) => format!(
                "TLS handshake with {authority} failed and no certificate came back: the port does not speak TLS (plain HTTP behind an https:// URL?)"
            ),
        }
    }
}

/// How long an idle pooled connection is kept. Long enough to reuse connections within a
/// run; short enough that a process that runs for days (`serve`, where every stand-in check
/// talks to a server on a new port) does not hold the connections of servers long gone
/// (reqwest's default is 90 s).
const POOL_IDLE: Duration = Duration::from_secs(5);

/// One reqwest client per pair of timeouts for the whole process: building one (TLS roots)
/// costs about 12 ms, which self-verification would pay for every check. Each
/// [`HttpClient`] still keeps its own memory of dead hosts.
/// `pooled`: false for a client that keeps no idle connection.
fn shared_client(
    request_timeout: Duration,
    connect_timeout: Duration,
    pooled: bool,
) -> reqwest::Client {
    type Clients = std::collections::HashMap<(Duration, Duration, bool), reqwest::Client>;
    static CLIENTS: std::sync::LazyLock<std::sync::Mutex<Clients>> =
        std::sync::LazyLock::new(Default::default);
    CLIENTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry((request_timeout, connect_timeout, pooled))
        .or_insert_with(|| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(if pooled { usize::MAX } else { 0 })
                .pool_idle_timeout(POOL_IDLE)
                .timeout(request_timeout)
                .connect_timeout(connect_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("hokusai-verify/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("a reqwest client with rustls builds")
        })
        .clone()
}

/// Adds the credentials of `auth` to a request.
pub(crate) fn apply_auth(rb: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::None => rb,
        Auth::Bearer(k) => rb.header("Authorization", format!("Bearer {}", k.expose())),
        Auth::Scheme(s, k) => rb.header("Authorization", format!("{s} {}", k.expose())),
        Auth::XApiKey(k) => rb.header("X-API-Key", k.expose()),
        Auth::Raw { header, value } => rb.header(*header, value.expose_secret()),
    }
}

/// `base` + `path`, keeping any path prefix of `base` (e.g. a registry behind `/prefix`).
pub(crate) fn join(base: &Url, path: &str) -> Url {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    if !path.starts_with('/') {
        s.push('/');
    }
    s.push_str(path);
    Url::parse(&s).unwrap_or_else(|_| base.clone())
}

impl HttpError {
    /// Classifies a reqwest error (for callers that drive reqwest themselves: streaming).
    pub(crate) fn from_reqwest_public(
        e: &reqwest::Error,
        line: String,
        elapsed: Duration,
        secrets: &[String],
    ) -> Self {
        Self::from_reqwest(e, line, elapsed, secrets)
    }

    fn from_reqwest(
        e: &reqwest::Error,
        line: String,
        elapsed: Duration,
        secrets: &[String],
    ) -> Self {
        let kind = if e.is_timeout() {
            HttpErrorKind::Timeout
        } else if e.is_connect() {
            // Typed from the I/O error under reqwest's: refused, or a TLS handshake that
            // broke (rustls reports it as invalid data), or anything else on the way.
            let kinds = io_error_kinds(e);
            if kinds.contains(&std::io::ErrorKind::ConnectionRefused) {
                HttpErrorKind::Refused
            } else if kinds.contains(&std::io::ErrorKind::InvalidData) {
                HttpErrorKind::Tls
            } else {
                HttpErrorKind::Connect
            }
        } else if e.is_body() || e.is_decode() {
            HttpErrorKind::Body
        } else {
            HttpErrorKind::Other
        };
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        // `{:?}` keeps the cause chain (reqwest's Display only says "error sending request").
        let message = crate::secret::redact_with(&error_chain(e), &refs);
        HttpError {
            kind,
            line,
            elapsed,
            message,
            slow_route: false,
        }
    }
}

/// The request never left this process: hyper's dispatch task for the pooled connection is
/// gone (hyper's own words, not the platform's).
fn never_sent(e: &reqwest::Error) -> bool {
    error_chain(e).contains("dispatch task is gone")
}

/// The request failed because the reused connection was closed under it (hyper's own
/// words, not the platform's).
fn stale_connection(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() {
        return false;
    }
    let chain = error_chain(e).to_ascii_lowercase();
    [
        "connection closed before message completed",
        "connection reset",
        "broken pipe",
    ]
    .iter()
    .any(|m| chain.contains(m))
}

/// The kinds of the I/O errors in `e`'s cause chain, outermost first (a TLS failure comes
/// as invalid data inside an `Other`).
fn io_error_kinds(e: &(dyn std::error::Error + 'static)) -> Vec<std::io::ErrorKind> {
    let mut kinds = Vec::new();
    let mut cur = Some(e);
    while let Some(s) = cur {
        cur = match s.downcast_ref::<std::io::Error>() {
            Some(io) => {
                kinds.push(io.kind());
                io.get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static))
            }
            None => s.source(),
        };
    }
    kinds
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.contains(&t) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_base_prefix() {
        let b = Url::parse("http://127.0.0.1:1/prefix/").unwrap();
        assert_eq!(
            join(&b, "/health").as_str(),
            "http://127.0.0.1:1/prefix/health"
        );
        assert_eq!(
            join(&b, "api/x").as_str(),
            "http://127.0.0.1:1/prefix/api/x"
        );
    }

    #[tokio::test]
    async fn refused_connection_is_classified() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let c = HttpClient::new(Duration::from_secs(2), Duration::from_secs(1));
        let base = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let err = c.send(&base, Req::get("/health")).await.unwrap_err();
        assert_eq!(err.kind, HttpErrorKind::Refused, "{err}");
    }

    /// `https://` to a port that answers plain HTTP: a TLS failure, said as such, in
    /// bounded time (and the host remembered as dead like any failure to connect).
    #[tokio::test]
    async fn a_failed_tls_handshake_is_classified() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten().take(2) {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
            }
        });
        let c = HttpClient::new(Duration::from_secs(2), Duration::from_secs(1));
        let base = Url::parse(&format!("https://127.0.0.1:{port}")).unwrap();
        let err = c.send(&base, Req::get("/health")).await.unwrap_err();
        assert_eq!(err.kind, HttpErrorKind::Tls, "{err}");
        assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    }
    /// A server that serves one request at a time, each taking 250 ms (a synchronous wait
    /// on its only thread, as a blocked event loop): eight requests side by side under a
    /// 1 s timeout queue up and some time out. Those are the client's own queue: sent again
    /// alone they are answered, and a lone request's timeout still stands.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_sends_again_alone_what_timed_out_in_its_own_queue() {
        struct OneAtATime;
        impl wiremock::Respond for OneAtATime {
            fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
                let wait = if req.url.path() == "/hang" { 1500 } else { 250 };
                std::thread::sleep(Duration::from_millis(wait));
                wiremock::ResponseTemplate::new(200)
            }
        }
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(OneAtATime)
            .mount(&server)
            .await;
        let base = Url::parse(&server.uri()).unwrap();
        let c = HttpClient::new(Duration::from_secs(1), Duration::from_secs(1));
        let reqs: Vec<Req> = (0..8).map(|i| Req::get(format!("/r{i}"))).collect();
        let answers = c.send_batch(&base, reqs, 8).await;
        assert_eq!(answers.len(), 8);
        for a in &answers {
            assert_eq!(a.as_ref().map(|ex| ex.status).ok(), Some(200), "{a:?}");
        }
        // No route is remembered as slow: its timeout was the queue's.
        assert!(!c.saw_slow_route());
        // Alone, a route slower than the timeout is one.
        let lone = c.send_batch(&base, vec![Req::get("/hang")], 8).await;
        assert!(
            matches!(&lone[0], Err(e) if e.kind == HttpErrorKind::Timeout),
            "{lone:?}"
        );
    }
}
