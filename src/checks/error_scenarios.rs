//! Checklist area 5, error scenarios: bad keys on every route family (5a, 5b), the proxy's
//! upstream timeout (5c), large artifacts (5d), concurrent writers (5e) and malformed JSON
//! (5f). After every scenario the platform must still serve a normal request.

use super::expect;
use crate::catalogue::{Area, Fault, KeyRole};
use crate::check::{
    Check, CheckFuture, CheckSpec, Component, Failure, Line, Need, ResultExt, ensure, ensure_eq,
};
use crate::config::MlflowMajor;
use crate::config::Profile;
use crate::http::{Auth, Req};
use crate::mlflow::naming::{experiment_name, model_name, unique_token};
use crate::mlflow::{ApiPrefix, MlflowClient};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use strum::IntoEnumIterator;

pub const AREA: Area = Area::ErrorScenarios;

/// Keys that must be refused on every route family (5a, 5b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum BadKey {
    Malformed,
    Expired,
    Revoked,
}

/// The route families a bad key is tried on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum RouteFamily {
    KeyProtected,
    ProxyRead,
    ProxyWrite,
    Artifact,
}

/// One case of `bad_key_on_route`: shown as `kind:route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadKeyOnRoute(pub BadKey, pub RouteFamily);

impl std::fmt::Display for BadKeyOnRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

/// Malformed request bodies (5f).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum MalformedBody {
    Truncated,
    WrongTypes,
    JsonArray,
    EmptyBody,
    WrongContentType,
    /// A 10 MB JSON document (moves data: heavy).
    #[strum(serialize = "10mb-document")]
    TenMbDocument,
}

/// Large artifact sizes (5d), shown as `50MB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display)]
pub enum ArtifactSize {
    #[strum(serialize = "50MB")]
    Mb50,
    #[strum(serialize = "200MB")]
    Mb200,
}

impl ArtifactSize {
    pub fn megabytes(self) -> u64 {
        match self {
            ArtifactSize::Mb50 => 50,
            ArtifactSize::Mb200 => 200,
        }
    }
}

pub fn checks(_profile: &Profile) -> Vec<CheckSpec> {
    let mut v = Vec::new();
    for k in BadKey::iter() {
        for r in RouteFamily::iter() {
            let spec = CheckSpec::case(
                AREA,
                "bad_key_on_route",
                Component::Api,
                format!("a {k} key on a {r} route is 401, never 2xx/5xx"),
                BadKeyOnRoute(k, r),
                bad_key_on_route,
            )
            .line(Line::BadKeysRejected);
            v.push(match k {
                BadKey::Expired => spec.needs(Need::Key(KeyRole::Expired)),
                BadKey::Revoked => spec.needs(Need::Key(KeyRole::Revoked)),
                BadKey::Malformed => spec,
            });
        }
    }
    v.push(
        CheckSpec::new(
            AREA,
            "upstream_timeout_is_504",
            Component::Api,
            "MLflow slower than the proxy's limit: 504 with the contract's detail, in bounded time",
            upstream_timeout_is_504,
        )
        .needs(Need::StandIn("a slow MLflow is injected"))
        .line(Line::UpstreamErrors),
    );
    v.push(
        CheckSpec::new(
            AREA,
            "slow_request_blocks_nothing",
            Component::Api,
            "while a slow request is in flight, an unrelated cheap request is still answered at once",
            slow_request_blocks_nothing,
        )
        .probes_serving()
        .line(Line::UpstreamErrors),
    );
    for size in ArtifactSize::iter() {
        let mb = size.megabytes();
        v.push(
            CheckSpec::case(
                AREA,
                "large_artifact",
                Component::Artifacts,
                format!("a {mb} MB artifact goes up and comes back byte-identical, streamed"),
                size,
                large_artifact,
            )
            .line(Line::LargeArtifacts)
            .heavy(),
        );
    }
    v.push(CheckSpec::new(AREA, "concurrent_versions", Component::Mlflow, "concurrent clients registering versions of one model: all answered, versions unique and gap-free", concurrent_versions)
.line(Line::VersionNumbering));
    v.push(
        CheckSpec::new(
            AREA,
            "concurrent_create_race",
            Component::Mlflow,
            "concurrent creates of one name: exactly one success, the rest RESOURCE_ALREADY_EXISTS",
            concurrent_create_race,
        )
        .line(Line::VersionNumbering),
    );
    for m in MalformedBody::iter() {
        let spec = CheckSpec::case(
            AREA,
            "malformed_json",
            Component::Api,
            format!("a {m} body is a 4xx in MLflow's error shape, and changes nothing"),
            m,
            malformed_json,
        )
        .line(Line::MalformedBodies);
        // The 10 MB document is heavy for self-verification (it runs where it matters).
        v.push(if m == MalformedBody::TenMbDocument {
            spec.heavy()
        } else {
            spec
        });
    }
    v
}

/// The platform still answers a normal authenticated read afterwards: the check's load or
/// bad input did not make it fall over (no answer, or the API's own 500). What the read
/// meets behind the API (MLflow down, a route the API lacks) is those lines' evidence, and
/// an auth layer that cannot decide blocks (its cause shows), never this check's verdict.
async fn still_serves(c: &mut Check) -> Result<(), Failure> {
    let key = c.env.keys.primary.clone();
    let ex = c.registry(super::proxied_read(Auth::Bearer(key))).await?;
    super::key_got_through(c, &ex)?;
    ensure(
        ex.status != 500 || c.sink().observer().mlflow_not_answering(&ex),
        "the platform still serving a normal request afterwards",
        expect::describe(&ex),
    )
}

fn bad_key_on_route(c: &mut Check, case: BadKeyOnRoute) -> CheckFuture<'_> {
    Box::pin(async move {
        let BadKeyOnRoute(kind, route) = case;
        let auth = match kind {
            BadKey::Expired => Auth::Bearer(c.env.key(KeyRole::Expired)?),
            BadKey::Revoked => Auth::Bearer(c.env.key(KeyRole::Revoked)?),
            BadKey::Malformed => {
                let body: String = std::iter::repeat_with(fastrand::alphanumeric)
                    .take(32)
                    .collect();
                Auth::Raw {
                    header: "Authorization",
                    value: SecretString::from(format!("Bearer hk_test_{body}")),
                }
            }
        };
        let name = experiment_name("badkey");
        let req = match route {
            RouteFamily::KeyProtected => Req::get("/"),
            RouteFamily::ProxyRead => Req::get("/api/mlflow/api/2.0/mlflow/experiments/search").query("max_results", "1"),
            RouteFamily::ProxyWrite => Req::post("/api/mlflow/api/2.0/mlflow/experiments/create").json(&json!({"name": name})),
            RouteFamily::Artifact => Req::new(Method::PUT, "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/0/hokusai-verify/artifacts/probe.txt")
                .raw_body(b"must not be stored".to_vec(), Some("application/octet-stream")),
        };
        let ex = c.registry(req.auth(auth)).await?;
        super::authentication::undecided_blocks(c, &ex)?;
        // A write that got through (whatever it answered) created an experiment: the runner
        // deletes it after the check, so a security finding leaves nothing behind either.
        // (The lookup's own failure is not this check's finding: the assertion below looks
        // again.)
        if route == RouteFamily::ProxyWrite {
            let client = c.mlflow(ApiPrefix::Api);
            if let Ok(Some(e)) = client.get_experiment_by_name(&name).await {
                c.created(&client).experiment(e.experiment_id);
            }
        }
        if (200..300).contains(&ex.status) {
            return Err(Failure::failed(
                "401 for a bad key",
                format!("accepted (security finding): {}", expect::describe(&ex)),
            ));
        }
        let detail = ex.detail();
        let ok = ex.status == 401
            && match detail.as_deref() {
                Some("Invalid or expired API key") => true,
                Some("API key required") => kind == BadKey::Malformed,
                _ => false,
            };
        ensure(
            ok,
            "401 {\"detail\":\"Invalid or expired API key\"}",
            expect::describe(&ex),
        )?;
        if route == RouteFamily::ProxyWrite {
            let client = c.mlflow(ApiPrefix::Api);
            // Without MLflow's answer the refusal cannot be verified (its cause shows).
            let exists = client
                .get_experiment_by_name(&name)
                .await
                .pre("looking for what the refused write created")?;
            ensure(
                exists.is_none(),
                "nothing created by the refused write",
                "the experiment exists",
            )?;
        }
        still_serves(c).await
    })
}

fn upstream_timeout_is_504(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let standin = env.require_standin("a slow MLflow is injected")?;
        // Before injecting: the same read must work, or what stops it blocks the check.
        let before = c
            .registry(super::proxied_read(Auth::Bearer(env.keys.primary.clone())))
            .await
            .pre("a proxied read before injecting")?;
        expect::status(&before, 200).pre("a proxied read before injecting")?;
        let injected = c.inject(Fault::MlflowSlow)?;
        let key = env.keys.primary.clone();
        let started = Instant::now();
        let res = c.registry(super::proxied_read(Auth::Bearer(key))).await;
        let elapsed = started.elapsed();
        drop(injected);
        let ex = res?;
        // The contract fixes the status and FastAPI's shape; the wording is the platform's.
        let secs = env.profile().proxy.upstream_timeout_ms as f64 / 1000.0;
        ensure(
            ex.status == 504 && ex.detail().is_some(),
            format!(
                "504 {{\"detail\": …}} (e.g. \"MLflow server request timeout after {secs:.1}s\")"
            ),
            expect::describe(&ex),
        )?;
        let bound = standin.timing().upstream_timeout + Duration::from_secs(2);
        c.measure("answer_after_ms", elapsed.as_secs_f64() * 1e3);
        ensure(
            elapsed <= bound,
            format!("the 504 within {bound:?}"),
            format!("{elapsed:?}"),
        )?;
        still_serves(c).await
    })
}

use crate::load::peak_rss_mb;

fn large_artifact(c: &mut Check, size: ArtifactSize) -> CheckFuture<'_> {
    Box::pin(async move {
        let mb = size.megabytes();
        if let Some(max) = c.env.config.large_artifact_max_mb.filter(|max| mb > *max) {
            return Err(Failure::skipped(format!(
                "a {mb} MB transfer is over HOKUSAI_LARGE_ARTIFACT_MAX_MB={max} (the contract's sizes are 50 and 200 MB)"
            )));
        }
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        let result = async {
            let step = "a run to hold the artifact";
            let id = client
                .create_experiment(&experiment_name("large"), &[])
                .await
                .pre_on(step, Line::ProxyTracking)?;
            created.experiment(id.clone());
            let run = client
                .create_run(&id, "large-artifact", &[])
                .await
                .pre_on(step, Line::ProxyTracking)?;
            created.run(run.info.run_id.clone());
            let rel = format!(
                "{id}/{}/artifacts/model/weights-{mb}mb.bin",
                run.info.run_id
            );
            let before = peak_rss_mb();
            let t0 = Instant::now();
            let sent = client
                .upload_artifact_stream(&rel, mb * 1024 * 1024, mb)
                .await?;
            let up = t0.elapsed();
            let (len, got) = client.download_artifact_digest(&rel).await?;
            let down = t0.elapsed() - up;
            c.measure("upload_mb_per_s", mb as f64 / up.as_secs_f64().max(1e-9));
            c.measure(
                "download_mb_per_s",
                mb as f64 / down.as_secs_f64().max(1e-9),
            );
            if let (Some(b), Some(a)) = (before, peak_rss_mb()) {
                c.measure("process_peak_rss_mb", a);
                c.measure("process_peak_rss_growth_mb", a - b);
            }
            ensure(
                len == mb * 1024 * 1024 && got == sent,
                format!("{mb} MB back with sha256 {sent}"),
                format!("{len} bytes with sha256 {got}"),
            )
        }
        .await;
        match result {
            Ok(()) => still_serves(c).await,
            e => e,
        }
    })
}

fn concurrency(c: &Check) -> usize {
    c.env.config.concurrent_clients
}

fn concurrent_versions(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let n = concurrency(c);
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        let result = async {
            let token = unique_token("concurrent");
            let exp = client
                .create_experiment(&format!("{token}-exp"), &[])
                .await
                .pre_on("an experiment for the writers", Line::ProxyTracking)?;
            created.experiment(exp.clone());
            let name = model_name(&token);
            client
                .create_registered_model(&name, "concurrency probe", &[])
                .await
                .pre_on("the model the writers version", Line::RegistrationWorkflow)?;
            created.model(name.clone());
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..n {
                let (client, exp, name) = (client.clone(), exp.clone(), name.clone());
                tasks.spawn(async move {
                    let run = client.create_run(&exp, &format!("writer-{i}"), &[]).await?;
                    let source = format!("{}/model", run.info.artifact_uri);
                    let v = client
                        .create_model_version(&name, &source, &run.info.run_id, "")
                        .await?;
                    Ok::<_, crate::mlflow::MlflowError>((run.info.run_id, v.version))
                });
            }
            let mut runs = BTreeSet::new();
            let mut versions = Vec::new();
            let mut errors = Vec::new();
            while let Some(done) = tasks.join_next().await {
                match done.expect("a writer task") {
                    Ok((run, v)) => {
                        runs.insert(run);
                        versions.push(v);
                    }
                    Err(e) => errors.push(e.to_string()),
                }
            }
            for run in &runs {
                created.run(run.clone());
            }
            ensure(
                errors.is_empty(),
                format!("all {n} writers answered 2xx"),
                format!(
                    "{} failed, e.g. {}",
                    errors.len(),
                    errors.first().cloned().unwrap_or_default()
                ),
            )?;
            let mut numbers: Vec<u64> = versions.iter().filter_map(|v| v.parse().ok()).collect();
            numbers.sort_unstable();
            let want: Vec<u64> = (1..=n as u64).collect();
            ensure(
                numbers == want,
                format!("versions 1..={n}, each once"),
                format!("{numbers:?}"),
            )?;
            ensure_eq("distinct runs", runs.len(), n)?;
            let listed = client
                .search_model_versions(&format!("name = '{name}'"))
                .await?;
            ensure_eq("versions listed (no lost writes)", listed.len(), n)
        }
        .await;
        match result {
            Ok(()) => still_serves(c).await,
            e => e,
        }
    })
}

/// How long the slow request is in flight before the cheap one is sent.
const HEAD_START: Duration = Duration::from_millis(150);
/// Below this, a request is not slow enough to test anything behind it.
const SLOW_ENOUGH: Duration = Duration::from_millis(300);

/// Head-of-line blocking (issue 16): a real deployment's API served one request at a time
/// while a slow one waited (a synchronous call in its event loop), so one slow route stalled
/// every other. The slow request is MLflow slower than the proxy's limit on the stand-in
/// (injected); on a live target it is `GET /health` (the route that blocked on a real
/// registry while it probed a dependency), and when that is fast there is nothing slow to
/// test behind. The cheap request is an unauthenticated read the API must refuse with 401
/// without asking anybody.
fn slow_request_blocks_nothing(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let cheap = || Req::get(super::proxied_read_path()).query("max_results", "1");
        let mut alone = Duration::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let ex = c
                .registry(cheap())
                .await
                .pre("an unauthenticated read alone")?;
            expect::status(&ex, 401).pre("an unauthenticated read alone")?;
            alone = alone.min(t.elapsed());
        }
        c.measure("cheap_alone_ms", ms(alone));
        // A platform whose MLflow is already slower than the proxy's limit (the proxy's
        // timeout after a slow wait) has its own slow request: nothing to inject.
        let key = c.env.keys.primary.clone();
        let read = c
            .registry(super::proxied_read(Auth::Bearer(key.clone())))
            .await
            .pre("a proxied read")?;
        let already_slow =
            c.sink().observer().mlflow_not_answering(&read) && read.latency >= SLOW_ENOUGH;
        let injected = if c.env.standin().is_some() && !already_slow {
            // Before injecting: the same read must work, or what stops it blocks the check
            // (with its own symptoms; those seen while injecting are left out).
            expect::status(&read, 200).pre("a proxied read before injecting")?;
            Some(c.inject(Fault::MlflowSlow)?)
        } else {
            None
        };
        let (slow_req, slow_route) = if injected.is_some() {
            (
                super::proxied_read(Auth::Bearer(key)),
                "a proxied MLflow read (MLflow slower than the proxy's limit, injected)",
            )
        } else if already_slow {
            (
                super::proxied_read(Auth::Bearer(key)),
                "a proxied MLflow read (MLflow slower than the proxy's limit)",
            )
        } else {
            (Req::get("/health"), "GET /health")
        };
        // Measured twice when the first looks blocked (a stall of this machine alone must
        // not read as the platform's), and again when a trial showed nothing either way
        // (the cheap request went out when the slow one was all but done): at most three.
        let mut seen: Vec<Trial> = Vec::new();
        // A trial whose cheap request waited, but answered before the slow one, waited for
        // something else (another request holding a one-at-a-time API let it through
        // first): it shows nothing either way, like one sent too late.
        for _ in 0..3 {
            let trial = beside_slow(c, slow_req.clone(), cheap()).await?;
            let free = trial.looks_free(alone);
            seen.push(trial);
            if free || seen.iter().filter(|t| t.looks_blocked(alone)).count() >= 2 {
                break;
            }
        }
        drop(injected);
        let last = seen.last().expect("at least one trial");
        c.measure("slow_ms", ms(last.slow));
        c.measure("cheap_beside_slow_ms", ms(last.cheap));
        if last.slow < SLOW_ENOUGH {
            let what = format!(
                "{slow_route} answered in {:.0} ms: nothing slow to test behind",
                ms(last.slow)
            );
            return Err(if c.env.standin().is_some() {
                Failure::failed("a slow request", what).blocked("making a request slow")
            } else {
                Failure::not_applicable(what)
            });
        }
        let blocked = seen.iter().any(|t| t.looks_blocked(alone))
            && !seen.iter().any(|t| t.looks_free(alone));
        let actual = format!(
            "the 401 came after {:.0} ms beside {slow_route} ({:.0} ms), {:.0} ms alone",
            ms(last.cheap),
            ms(last.slow),
            ms(alone)
        );
        if blocked {
            return Err(
                Failure::failed("the 401 at once, whatever else is in flight", actual).symptom(
                    crate::check::Symptom::BlockedBehindSlowRequest {
                        slow_route: slow_route.to_owned(),
                        waited_ms: ms(last.cheap) as u64,
                        alone_ms: ms(alone) as u64,
                    },
                ),
            );
        }
        Ok(())
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One slow request with a cheap one sent `HEAD_START` after it.
struct Trial {
    /// The slow request's answer time (or time to its error).
    slow: Duration,
    /// The cheap request's answer time (or time to its error).
    cheap: Duration,
    /// When the cheap request went out, after the slow one did: `HEAD_START`, unless this
    /// side's own runtime was busy (a 10 MB document built beside it) and sent it later.
    cheap_sent: Duration,
    /// The cheap request's answer (or error) came only after the slow one's.
    cheap_after_slow: bool,
}

impl Trial {
    /// The cheap answer came with the slow one, and waited for it: at least half the slow
    /// one's remaining time (from when the cheap one actually went out) longer than the
    /// cheap request takes alone. What the slow one took is counted beyond what any request
    /// takes alone: a platform slow on every request delays both by itself, and that part
    /// is no waiting. A cheap request sent when little of the slow one remained shows
    /// nothing either way.
    fn looks_blocked(&self, alone: Duration) -> bool {
        self.slow >= SLOW_ENOUGH
            && self.conclusive(alone)
            && self.cheap_after_slow
            && self.waited(alone)
    }

    /// The cheap answer came without waiting for anything, whatever the order the answers
    /// came in.
    fn looks_free(&self, alone: Duration) -> bool {
        self.conclusive(alone) && !self.waited(alone)
    }

    /// The cheap answer took at least half the slow one's remaining time longer than alone.
    fn waited(&self, alone: Duration) -> bool {
        self.cheap.saturating_sub(alone) >= self.remaining(alone) / 2
    }

    /// Enough of the slow request was left when the cheap one went out to show waiting.
    fn conclusive(&self, alone: Duration) -> bool {
        self.remaining(alone) >= HEAD_START / 2
    }

    /// What the slow request still had to take, beyond what any request takes alone, when
    /// the cheap one went out.
    fn remaining(&self, alone: Duration) -> Duration {
        self.slow
            .saturating_sub(alone)
            .saturating_sub(self.cheap_sent)
    }
}

async fn beside_slow(c: &mut Check, slow: Req, cheap: Req) -> Result<Trial, Failure> {
    let sender: crate::check::Sender = c.sender();
    let t0 = Instant::now();
    let slow_task = tokio::spawn(async move {
        // Its answer is evidence; only its duration matters here.
        let _ = sender.registry(slow).await;
        t0.elapsed()
    });
    tokio::time::sleep(HEAD_START).await;
    let t1 = Instant::now();
    let cheap_res = c.registry(cheap).await;
    let cheap_done = t0.elapsed();
    let cheap_took = t1.elapsed();
    let slow_took = slow_task.await.expect("the slow request's task");
    // A cheap request that got no answer at all is blocked too when it ended after the slow.
    if let Ok(ex) = &cheap_res {
        expect::status(ex, 401).pre("an unauthenticated read beside a slow request")?;
    }
    Ok(Trial {
        slow: slow_took,
        cheap: cheap_took,
        cheap_sent: t1.duration_since(t0),
        // Both answers leave the server at about the same moment when it is blocked; which
        // one this side sees first is noise.
        cheap_after_slow: cheap_done + Duration::from_millis(50) >= slow_took,
    })
}

fn concurrent_create_race(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let n = concurrency(c);
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        let name = model_name(&unique_token("race"));
        let result = async {
            let creates = (0..n)
                .map(|_| {
                    Req::post(client.path("registered-models/create")).json(&json!({"name": name}))
                })
                .collect();
            let (mut ok, mut exists, mut other) = (0, 0, Vec::new());
            let mut unanswered = None;
            for done in client.raw_side_by_side(creates).await {
                let ex = match done {
                    Ok(ex) => ex,
                    Err(e) => {
                        unanswered = Some(e);
                        continue;
                    }
                };
                let code = ex.json().and_then(|v| {
                    v.get("error_code")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
                match (ex.status, code.as_deref()) {
                    (200, _) => ok += 1,
                    (400, Some("RESOURCE_ALREADY_EXISTS")) => exists += 1,
                    _ => other.push(expect::describe(&ex)),
                }
            }
            // Only a model that may exist is the clean-up's: one create answered 200, or one
            // got no answer (it may have been made).
            if ok > 0 || unanswered.is_some() {
                created.model(name.clone());
            }
            if let Some(e) = unanswered {
                return Err(e.into());
            }
            c.measure("successes", ok as f64);
            ensure(
                ok == 1 && exists == n - 1 && other.is_empty(),
                format!("1 success and {} RESOURCE_ALREADY_EXISTS", n - 1),
                format!(
                    "{ok} successes, {exists} RESOURCE_ALREADY_EXISTS, {} other: {:?}",
                    other.len(),
                    other.first()
                ),
            )
        }
        .await;
        match result {
            Ok(()) => still_serves(c).await,
            e => e,
        }
    })
}

fn malformed_json(c: &mut Check, case: MalformedBody) -> CheckFuture<'_> {
    Box::pin(async move {
        let name = experiment_name("malformed");
        let (body, content_type): (Vec<u8>, Option<&str>) = match case {
            MalformedBody::Truncated => (
                format!("{{\"name\": \"{name}\"").into_bytes(),
                Some("application/json"),
            ),
            MalformedBody::WrongTypes => (
                br#"{"name": 123, "tags": "none"}"#.to_vec(),
                Some("application/json"),
            ),
            MalformedBody::JsonArray => (
                format!("[\"{name}\"]").into_bytes(),
                Some("application/json"),
            ),
            MalformedBody::EmptyBody => (Vec::new(), Some("application/json")),
            MalformedBody::WrongContentType => (
                format!("{{\"name\": \"{name}\"}}").into_bytes(),
                Some("text/plain"),
            ),
            MalformedBody::TenMbDocument => {
                let big = "x".repeat(10 * 1024 * 1024);
                (
                    serde_json::to_vec(
                        &json!({"name": name, "tags": [{"key": "k", "value": big}]}),
                    )
                    .expect("json"),
                    Some("application/json"),
                )
            }
        };
        let client: MlflowClient = c.mlflow(ApiPrefix::Api);
        let started = Instant::now();
        let ex = client
            .raw(Req::post(client.path("experiments/create")).raw_body(body, content_type))
            .await?;
        super::authentication::undecided_blocks(c, &ex)?;
        c.measure("answer_ms", started.elapsed().as_secs_f64() * 1e3);
        let v = ex.json().unwrap_or(Value::Null);
        let mlflow_error = v
            .get("error_code")
            .and_then(Value::as_str)
            .is_some_and(|c| crate::mlflow::MLFLOW_ERROR_CODES.contains(&c))
            && v.get("message").is_some();
        // Clean up before asserting anything: an accepted malformed body (a 2xx) must not
        // leave its experiment behind when the assertion below fails.
        let lookup = client.get_experiment_by_name(&name).await;
        if let Ok(Some(e)) = &lookup {
            let _ = client.delete_experiment(&e.experiment_id).await;
        }
        if case == MalformedBody::TenMbDocument && c.env.profile().mlflow_major() == MlflowMajor::V2
        {
            // MLflow 2.9.2 has no length limit on a tag value: it stores the document
            // (measured). Passed through unchanged, that is a 200 and every byte stored; a
            // proxy that cuts or refuses the body shows here.
            let stored = lookup
                .pre("looking the experiment up")?
                .and_then(|e| e.tags.into_iter().find(|t| t.key == "k"))
                .map_or(0, |t| t.value.len());
            // The document is valid and 2.9.2 stores it: anything else means the body did
            // not reach MLflow whole, the line on streaming bodies.
            ensure(
                ex.status == 200 && stored == 10 * 1024 * 1024,
                "MLflow 2.9.2's own answer, passed through unchanged: 200 and the 10,485,760-byte tag value stored whole (MLflow 3 refuses it with a 4xx)",
                format!("{}; {stored} bytes stored", expect::describe(&ex)),
            )
            .map_err(|f| f.on_line(Line::LargeArtifacts))?;
            return still_serves(c).await;
        }
        if case == MalformedBody::JsonArray {
            // Documented exception: MLflow itself crashes on a JSON array (an HTML 500);
            // the proxy must turn that into its JSON 500, never pass HTML or hang.
            ensure(
                ex.status == 500 && !ex.is_html() && (mlflow_error || ex.detail().is_some()),
                "500 as JSON (MLflow's own crash on a JSON array, wrapped by the proxy)",
                expect::describe(&ex),
            )?;
        } else {
            ensure(
                (400..500).contains(&ex.status) && mlflow_error,
                "a 4xx with MLflow's {error_code, message}",
                expect::describe(&ex),
            )?;
        }
        let created = lookup.pre("looking the experiment up")?;
        ensure(
            created.is_none(),
            "the registry unchanged (no experiment created)",
            "an experiment was created",
        )?;
        still_serves(c).await
    })
}

#[cfg(test)]
mod tests {
    use super::Trial;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Blocked or not, on a fast platform and on one slow on every request (1.2 s): what a
    /// slow request took like any other is no waiting.
    #[test]
    fn blocking_is_measured_beyond_what_every_request_takes() {
        let trial = |slow, cheap, after| Trial {
            slow: ms(slow),
            cheap: ms(cheap),
            cheap_sent: super::HEAD_START,
            cheap_after_slow: after,
        };
        // Fast platform: a 20 ms read waits for a 410 ms one, or does not.
        assert!(trial(410, 270, true).looks_blocked(ms(20)));
        assert!(!trial(410, 25, false).looks_blocked(ms(20)));
        // Every request 1.2 s: the read waits for the slow one's 400 ms of upstream, or not.
        assert!(trial(1600, 1450, true).looks_blocked(ms(1200)));
        assert!(!trial(1600, 1205, false).looks_blocked(ms(1200)));
        // Both slow by themselves and ending together by chance: no waiting beyond alone.
        assert!(!trial(1600, 1250, true).looks_blocked(ms(1200)));
        assert!(trial(1600, 1250, true).looks_free(ms(1200)));
        assert!(trial(410, 25, false).looks_free(ms(20)));
        assert!(!trial(410, 270, true).looks_free(ms(20)));
    }

    /// Both requests queued behind a third one on a one-at-a-time API, and the cheap one let
    /// through first: it waited (not free), but not for the slow one (not blocked), so the
    /// trial shows nothing either way.
    #[test]
    fn waiting_for_another_request_shows_nothing_either_way() {
        let t = Trial {
            slow: ms(1200),
            cheap: ms(1000),
            cheap_sent: super::HEAD_START,
            cheap_after_slow: false,
        };
        assert!(t.conclusive(ms(20)));
        assert!(!t.looks_blocked(ms(20)));
        assert!(!t.looks_free(ms(20)));
    }

    /// The cheap request went out late (this side's runtime busy): the waiting is measured
    /// from when it was sent, and one sent when the slow one was all but done shows nothing.
    #[test]
    fn blocking_is_measured_from_when_the_cheap_request_went_out() {
        let trial = |cheap_sent, cheap| Trial {
            slow: ms(402),
            cheap: ms(cheap),
            cheap_sent: ms(cheap_sent),
            cheap_after_slow: true,
        };
        // Sent at 300 ms, answered with the slow one at 402 ms: it waited for it.
        assert!(trial(300, 102).looks_blocked(ms(2)));
        // Sent at 300 ms and answered at once: not blocked.
        assert!(
            !Trial {
                cheap_after_slow: false,
                ..trial(300, 3)
            }
            .looks_blocked(ms(2))
        );
        // Sent at 395 ms: too little of the slow one left to tell.
        assert!(!trial(395, 8).looks_blocked(ms(2)));
    }
}
