use super::verdict::BodyEnd;
use super::{CheckResult, Component, Evidence, EvidenceSink, Failure, Line, Outcome, Symptom};
use crate::catalogue::{Area, KeyRole};
use crate::fixtures::Env;
use crate::http::{Exchange, Req};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// What a check function returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;
/// A check: drives the [`Check`] it is given (a parameterised check has its typed case
/// bound in; see [`CheckSpec::case`]).
pub type CheckFn = Arc<dyn for<'a> Fn(&'a mut Check) -> CheckFuture<'a> + Send + Sync>;

/// What a check needs from its environment. The runner looks before the check body runs and
/// turns a missing need into a skip that says what to set (or "not applicable" where no
/// setting helps), so nothing is sent by a check that cannot complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// It looks inside the platform or injects a failure (why): the stand-in only.
    StandIn(&'static str),
    /// The platform's Redis (`HOKUSAI_REDIS_URL` on a live target).
    Redis,
    /// The ECS API (region and credentials).
    Ecs,
    /// A key of this role (its variable).
    Key(KeyRole),
}

impl Need {
    /// `Ok` when `env` has it; else the skip (or block, for a Redis that does not answer).
    pub fn check(self, env: &Env) -> Result<(), Failure> {
        match self {
            Need::StandIn(why) => env.require_standin(why).map(drop),
            Need::Redis => env.require_redis().map(drop),
            Need::Ecs => env.require_ecs().map(drop),
            Need::Key(role) => env.key(role).map(drop),
        }
    }
}

/// What running a check does to the platform, declared in the catalogue. `serve` runs only
/// [`Effect::Reads`] checks unless told `--with-writes`, and never [`Effect::Load`] ones
/// (`tests/monitoring.rs` proves that the `Reads` checks leave the stand-in's store as it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, strum::Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Effect {
    /// Creates nothing (it may clear the auth cache's entry of its own key) and sends a
    /// handful of requests.
    Reads,
    /// Creates objects in the registry (and deletes them in its clean-up).
    Writes,
    /// Sends many requests (exhausts a key's rate limit) or moves a lot of data.
    Load,
}

/// A check of the catalogue: its name, the component it is about, and its function.
#[derive(Clone)]
pub struct CheckSpec {
    pub area: Area,
    pub id: &'static str,
    /// The case of a parameterised check as its id shows it (`id[param]`): the typed case
    /// itself is bound into `run`.
    pub param: Option<String>,
    pub title: String,
    pub component: Component,
    pub run: CheckFn,
    /// The contract line the check verifies.
    pub line: Option<Line>,
    /// Moves a lot of data (large artifacts): self-verification runs it only where it matters.
    pub heavy: bool,
    /// What it does to the platform (default [`Effect::Writes`]: a check is taken for one
    /// that creates objects until its catalogue entry says otherwise).
    pub effect: Effect,
    /// Measures whether the platform serves requests side by side: on a live target it runs
    /// first, alone, so that a platform that serves one at a time is run one check at a time
    /// from the start ([`super::runner`]).
    pub probes_serving: bool,
    /// What it needs from the environment, checked by the runner before the body.
    pub needs: Vec<Need>,
}

impl Debug for CheckSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full_id())
    }
}

impl CheckSpec {
    pub fn new(
        area: Area,
        id: &'static str,
        component: Component,
        title: impl Into<String>,
        run: for<'a> fn(&'a mut Check) -> CheckFuture<'a>,
    ) -> Self {
        Self {
            area,
            id,
            param: None,
            title: title.into(),
            component,
            run: Arc::new(run),
            line: None,
            heavy: false,
            effect: Effect::Writes,
            probes_serving: false,
            needs: Vec::new(),
        }
    }

    /// One case of a parameterised check: `run` gets the typed `case`; the id shows it as
    /// `id[case]` (its `Display`).
    pub fn case<P>(
        area: Area,
        id: &'static str,
        component: Component,
        title: impl Into<String>,
        case: P,
        run: for<'a> fn(&'a mut Check, P) -> CheckFuture<'a>,
    ) -> Self
    where
        P: std::fmt::Display + Clone + Send + Sync + 'static,
    {
        let param = case.to_string();
        let run: CheckFn = Arc::new(move |c: &mut Check| run(c, case.clone()));
        Self {
            param: Some(param),
            run,
            ..Self::new(area, id, component, title, |_| Box::pin(async { Ok(()) }))
        }
    }

    /// The contract line this check verifies.
    pub fn line(mut self, line: Line) -> Self {
        self.line = Some(line);
        self
    }

    /// Declares a need ([`Need`]); the runner skips the check, naming what to set, when the
    /// environment lacks it.
    pub fn needs(mut self, need: Need) -> Self {
        self.needs.push(need);
        self
    }

    /// Marks the check as moving a lot of data (which is load).
    pub fn heavy(mut self) -> Self {
        self.heavy = true;
        self.effect = Effect::Load;
        self
    }

    /// Declares that the check creates nothing and sends a handful of requests.
    pub fn reads(mut self) -> Self {
        self.effect = Effect::Reads;
        self
    }

    /// Declares that the check sends many requests (exhausts a rate limit).
    pub fn load(mut self) -> Self {
        self.effect = Effect::Load;
        self
    }

    /// Marks the check as the probe of whether the platform serves requests side by side.
    pub fn probes_serving(mut self) -> Self {
        self.probes_serving = true;
        self
    }

    /// `id` or `id[param]`.
    pub fn full_id(&self) -> String {
        match &self.param {
            Some(p) => format!("{}[{p}]", self.id),
            None => self.id.to_owned(),
        }
    }

    /// The record of a check that was not run (the run was interrupted before it): skipped,
    /// with `reason`; nothing was sent.
    pub fn not_run(&self, config: &crate::config::Config, reason: &str) -> CheckResult {
        CheckResult {
            area: self.area,
            id: self.full_id(),
            title: self.title.clone(),
            component: self.component,
            target: match config.kind() {
                crate::config::TargetKind::Standin => "standin".to_owned(),
                crate::config::TargetKind::Live => "live".to_owned(),
            },
            profile: config.profile.name.clone(),
            outcome: Outcome::Skipped {
                reason: reason.to_owned(),
            },
            line: self.line,
            symptoms: Vec::new(),
            expected: None,
            actual: None,
            message: Some(reason.to_owned()),
            evidence: Vec::new(),
            measurements: BTreeMap::new(),
            started_at: chrono::Utc::now(),
            duration_ms: 0.0,
            heavy: self.heavy,
            left_behind: Vec::new(),
            rerun: None,
            matrix: None,
        }
    }

    /// Runs the check against `env` and returns its record (never panics on platform faults).
    pub async fn run(&self, env: &Arc<Env>) -> CheckResult {
        self.run_until(env, None).await
    }

    /// Like [`CheckSpec::run`], but a check still running at `deadline` is stopped there and
    /// recorded as blocked by the run budget (with what it recorded so far); one whose
    /// deadline passed before it started is recorded without sending anything.
    ///
    /// Three steps: the body (what it needs first, then the check function, caught if it
    /// panics, cut at the deadline), the runner-owned clean-up (whatever way the body
    /// ended), and the verdict composed from both by [`super::verdict::compose`].
    pub async fn run_until(
        &self,
        env: &Arc<Env>,
        deadline: Option<(tokio::time::Instant, Duration)>,
    ) -> CheckResult {
        let started_at = chrono::Utc::now();
        let t0 = Instant::now();
        let mut check = Check {
            env: env.clone(),
            evidence: EvidenceSink::new(env.observer()),
            measurements: BTreeMap::new(),
            cleanups: Vec::new(),
            matrix: None,
        };
        let body = self.body(&mut check, deadline).await;
        let met = check.evidence.symptoms();
        let body = super::verdict::blocked_in_front(body, &met, self.line);
        let cleanup = check.teardown().await;
        let v =
            super::verdict::compose(body, check.evidence.take_saw(), &cleanup, env.config.strict);
        let redact = |s: Option<String>| s.map(|s| crate::secret::redact(&s));
        let uploaded = check.evidence.uploaded_bytes();
        if uploaded > 0 {
            check
                .measurements
                .entry(UPLOADED.to_owned())
                .or_insert(uploaded as f64);
        }
        CheckResult {
            area: self.area,
            id: self.full_id(),
            title: self.title.clone(),
            component: self.component,
            target: env.target_name().to_owned(),
            profile: env.profile().name.clone(),
            outcome: v.outcome,
            line: v.line.or(self.line),
            symptoms: v.symptoms,
            expected: redact(v.expected),
            actual: redact(v.actual),
            message: redact(v.message),
            evidence: check.evidence.take(),
            measurements: check.measurements,
            left_behind: cleanup.left,
            rerun: None,
            matrix: check.matrix,
            started_at,
            duration_ms: t0.elapsed().as_secs_f64() * 1e3,
            heavy: self.heavy,
        }
    }

    /// Runs what the check needs, then its function: caught if it panics (a bug of the suite,
    /// still recorded with its message), cut at the deadline.
    async fn body(
        &self,
        check: &mut Check,
        deadline: Option<(tokio::time::Instant, Duration)>,
    ) -> BodyEnd {
        use futures_util::FutureExt;
        let env = check.env.clone();
        let guarded = std::panic::AssertUnwindSafe(async {
            for need in &self.needs {
                need.check(&env)?;
            }
            (self.run)(check).await
        })
        .catch_unwind();
        let ended = match deadline {
            None => Some(guarded.await),
            Some((at, _)) if at <= tokio::time::Instant::now() => None,
            Some((at, _)) => tokio::time::timeout_at(at, guarded).await.ok(),
        };
        match ended {
            None => BodyEnd::OutOfTime {
                budget_s: deadline.map_or(0, |(_, b)| b.as_secs()),
            },
            Some(Ok(v)) => BodyEnd::Returned(v),
            Some(Err(payload)) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a panic without a message".into());
                BodyEnd::Panicked(crate::secret::redact(&msg))
            }
        }
    }
}

/// The measurement of the artifact bytes a check put on the platform (the report's
/// storage line adds them up).
pub const UPLOADED: &str = "artifact_bytes_uploaded";

/// Sends requests into a check's evidence from another task ([`Check::sender`]).
#[derive(Clone)]
pub struct Sender {
    env: Arc<Env>,
    evidence: EvidenceSink,
}

impl Sender {
    /// Sends a request to the registry host.
    pub async fn registry(&self, req: Req) -> Result<Exchange, Failure> {
        let base = self.env.registry_url().clone();
        self.send("registry", &base, req).await
    }

    /// Sends a request and records it as evidence, whatever happens.
    pub async fn send(&self, host: &str, base: &Url, req: Req) -> Result<Exchange, Failure> {
        let auth = req.auth.describe();
        let result = self.env.http.send(base, req).await;
        match &result {
            Ok(ex) => self.evidence.answered(host, ex),
            Err(e) => self.evidence.unanswered(host, auth, e),
        }
        result.map_err(Failure::from)
    }
}

/// The state of one running check: the environment and what it has seen.
pub struct Check {
    pub env: Arc<Env>,
    pub(super) evidence: EvidenceSink,
    /// What the check created, with the client to delete it ([`Check::created`]).
    pub(super) cleanups: Vec<(
        crate::mlflow::MlflowClient,
        crate::mlflow::workflow::Created,
    )>,
    measurements: BTreeMap<String, f64>,
    /// A route-matrix column's cells ([`Check::matrix`]).
    matrix: Option<super::MatrixColumn>,
}

impl Check {
    /// Sends a request to the registry host.
    pub async fn registry(&mut self, req: Req) -> Result<Exchange, Failure> {
        let base = self.env.registry_url().clone();
        self.send("registry", &base, req).await
    }

    /// Sends a request to the auth host.
    pub async fn auth(&mut self, req: Req) -> Result<Exchange, Failure> {
        let base = self.env.auth_url().clone();
        self.send("auth", &base, req).await
    }

    /// Sends a request and records it as evidence, whatever happens.
    pub async fn send(&mut self, host: &str, base: &Url, req: Req) -> Result<Exchange, Failure> {
        self.sender().send(host, base, req).await
    }

    /// A handle that sends and records into this check's evidence from a task running
    /// beside the check's own requests (two requests in flight at once).
    pub fn sender(&self) -> Sender {
        Sender {
            env: self.env.clone(),
            evidence: self.evidence.clone(),
        }
    }

    fn push(&self, e: Evidence) {
        self.evidence.push(e);
    }

    /// Records a typed symptom found by looking (see [`Symptom`]).
    pub fn saw(&self, s: Symptom) {
        self.evidence.saw(s);
    }

    /// An MLflow client through the registry's proxy with the primary key, recording into
    /// this check's evidence.
    pub fn mlflow(&self, prefix: crate::mlflow::ApiPrefix) -> crate::mlflow::MlflowClient {
        if let Some(url) = self.env.mlflow_direct() {
            return crate::mlflow::MlflowClient::direct(self.env.http.clone(), url.clone(), prefix)
                .recording(self.sink());
        }
        crate::mlflow::MlflowClient::via_proxy(
            self.env.http.clone(),
            self.env.registry_url().clone(),
            crate::http::Auth::Bearer(self.env.keys.primary.clone()),
            prefix,
        )
        .recording(self.sink())
    }

    /// The sink this check's evidence goes to (hand it to clients that record calls).
    pub fn sink(&self) -> EvidenceSink {
        self.evidence.clone()
    }

    /// Adds a non-HTTP piece of evidence (a Redis command, an ECS call).
    pub fn note(
        &mut self,
        host: &str,
        request: impl Into<String>,
        latency_ms: f64,
        outcome: Result<String, String>,
    ) {
        let (body_excerpt, error) = match outcome {
            Ok(b) => (crate::secret::redact(&b), None),
            Err(e) => (String::new(), Some(crate::secret::redact(&e))),
        };
        self.push(Evidence {
            request: crate::secret::redact(&request.into()),
            host: host.to_owned(),
            auth: String::new(),
            status: None,
            content_type: None,
            latency_ms,
            body_excerpt,
            error,
            symptoms: Vec::new(),
            injected: false,
            retried: None,
            sent: None,
        });
    }

    /// Records the cells of a route-matrix column (the report draws the matrix).
    pub fn matrix(&mut self, column: super::MatrixColumn) {
        self.matrix = Some(column);
    }

    /// Records a figure (shown in the report).
    pub fn measure(&mut self, name: &str, value: f64) {
        self.measurements.insert(name.to_owned(), value);
    }
}
