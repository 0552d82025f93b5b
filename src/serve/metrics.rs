//! What `serve` exports on `GET /metrics`, in OpenMetrics, with the `prometheus-client`
//! crate. Every label value comes from the typed catalogue (areas, check ids, contract
//! lines, causes, components, verdicts, endpoint families): never a key, a URL or text the
//! platform sent. Every series exists from the start (a cause not named is `0`, not
//! absent), so the number of series is fixed by the plan and the catalogue
//! ([`Metrics::series_bound`]) and alerts can compare against `0`.

use crate::catalogue::{Cause, Line};
use crate::check::{CheckSpec, Outcome};
use crate::report::{Report, Verdict, latency, rca};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// A check's identity in metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    area: String,
    check: String,
    /// `contract:<line>`, or empty for a check that verifies no single line.
    line: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    area: String,
    check: String,
    line: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: String,
    component: &'static str,
    /// Where to look (the catalogue's resource text for the cause).
    resource: String,
    /// From the component ([`crate::catalogue::Component::severity`]).
    severity: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FamilyLabels {
    family: &'static str,
}

/// The outcome label values, one series each per check.
pub const OUTCOMES: [&str; 6] = [
    "passed",
    "failed",
    "error",
    "blocked",
    "skipped",
    "not_applicable",
];

fn outcome_id(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Error { .. } => "error",
        Outcome::Blocked { .. } => "blocked",
        Outcome::Skipped { .. } => "skipped",
        Outcome::NotApplicable { .. } => "not_applicable",
    }
}

/// The verdict label values.
pub const VERDICTS: [Verdict; 5] = [
    Verdict::Healthy,
    Verdict::Degraded,
    Verdict::Failing,
    Verdict::NoResults,
    Verdict::Incomplete,
];

pub fn verdict_id(v: Verdict) -> &'static str {
    match v {
        Verdict::Healthy => "healthy",
        Verdict::Degraded => "degraded",
        Verdict::Failing => "failing",
        Verdict::NoResults => "no_results",
        Verdict::Incomplete => "incomplete",
    }
}

/// The label of an endpoint family ([`latency::FAMILIES`]) in metrics: snake case.
fn family_id(f: &str) -> Option<&'static str> {
    Some(match f {
        "auth service" => "auth_service",
        "ECS API" => "ecs_api",
        "Redis" => "redis",
        "artifacts" => "artifacts",
        "health" => "health",
        "MLflow read" => "mlflow_read",
        "MLflow write" => "mlflow_write",
        "API other" => "api_other",
        _ => return None,
    })
}

/// Every cause a report can name: the causes with a rule of their own, and every contract
/// line.
fn every_cause() -> Vec<rca::RootCause> {
    use strum::IntoEnumIterator;
    let mut all: Vec<rca::RootCause> = rca::CAUSES.to_vec();
    for l in Line::iter() {
        if !all.iter().any(|c| c.kind == Cause::Line(l)) {
            all.extend(rca::cause(&l.id()));
        }
    }
    all
}

fn cause_labels(c: &rca::RootCause) -> CauseLabels {
    let (component, resource) = match c.kind {
        Cause::Line(l) => (l.info().component, l.info().resource),
        _ => (c.component, c.resource),
    };
    CauseLabels {
        cause: c.id(),
        component: component.id(),
        resource: resource.to_owned(),
        severity: component.severity(),
    }
}

/// The exporter's metrics and what it remembers between runs.
pub struct Metrics {
    registry: Registry,
    checks: BTreeMap<String, CheckLabels>,
    causes: BTreeMap<String, CauseLabels>,
    check_outcome: Family<OutcomeLabels, Gauge>,
    check_duration: Family<CheckLabels, Gauge<f64, AtomicU64>>,
    cause_named: Family<CauseLabels, Gauge>,
    cause_runs_in_row: Family<CauseLabels, Gauge>,
    runs: Family<VerdictLabels, Counter>,
    last_verdict: Family<VerdictLabels, Gauge>,
    latency: Family<FamilyLabels, Histogram, fn() -> Histogram>,
    run_duration: Gauge<f64, AtomicU64>,
    run_timestamp: Gauge<f64, AtomicU64>,
    health_score: Gauge<f64, AtomicU64>,
    left_behind: Gauge,
    in_row: Mutex<HashMap<String, i64>>,
}

fn latency_histogram() -> Histogram {
    // 5 ms to about 41 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Metrics {
    /// The metrics of a plan (`specs`, the checks `serve` runs) at `interval`.
    pub fn new(specs: &[CheckSpec], interval: std::time::Duration) -> Self {
        let mut registry = Registry::with_prefix("hokusai");
        let check_outcome = Family::<OutcomeLabels, Gauge>::default();
        registry.register(
            "check_outcome",
            "1 for the outcome of the check's last run, 0 for the other outcomes",
            check_outcome.clone(),
        );
        let check_duration = Family::<CheckLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "check_duration_seconds",
            "How long the check took in the last run",
            check_duration.clone(),
        );
        let cause_named = Family::<CauseLabels, Gauge>::default();
        registry.register(
            "cause_named",
            "1 when the last run named this root cause, else 0",
            cause_named.clone(),
        );
        let cause_runs_in_row = Family::<CauseLabels, Gauge>::default();
        registry.register(
            "cause_named_runs_in_row",
            "How many runs in a row (up to the last) named this root cause",
            cause_runs_in_row.clone(),
        );
        let runs = Family::<VerdictLabels, Counter>::default();
        registry.register("runs", "Completed runs, by verdict", runs.clone());
        let last_verdict = Family::<VerdictLabels, Gauge>::default();
        registry.register(
            "last_run_verdict",
            "1 for the verdict of the last completed run, 0 for the others",
            last_verdict.clone(),
        );
        let latency = Family::<FamilyLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Latency of the platform's answers to the checks' requests, per endpoint family",
            latency.clone(),
        );
        let run_duration = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_run_duration_seconds",
            "Wall time of the last completed run",
            run_duration.clone(),
        );
        let run_timestamp = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_run_timestamp_seconds",
            "When the last completed run ended (Unix time); 0 before the first",
            run_timestamp.clone(),
        );
        let health_score = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "health_score",
            "The last run's health score, 0 to 100",
            health_score.clone(),
        );
        let left_behind = Gauge::default();
        registry.register(
            "objects_left_behind",
            "Registry objects the last run created and could not delete",
            left_behind.clone(),
        );
        let start = Gauge::<f64, AtomicU64>::default();
        start.set(unix_seconds(std::time::SystemTime::now()));
        registry.register(
            "exporter_start_timestamp_seconds",
            "When the exporter started (Unix time)",
            start,
        );
        let interval_gauge = Gauge::<f64, AtomicU64>::default();
        interval_gauge.set(interval.as_secs_f64());
        registry.register(
            "run_interval_seconds",
            "The configured time between runs (alerts use it to see a stalled exporter)",
            interval_gauge,
        );

        let checks: BTreeMap<String, CheckLabels> = specs
            .iter()
            .map(|s| {
                (
                    format!("{}/{}", s.area.id(), s.full_id()),
                    CheckLabels {
                        area: s.area.id().to_owned(),
                        check: s.full_id(),
                        line: s.line.map(|l| l.id()).unwrap_or_default(),
                    },
                )
            })
            .collect();
        for l in checks.values() {
            let _ = check_duration.get_or_create(l);
            for o in OUTCOMES {
                let _ = check_outcome.get_or_create(&outcome(l, o));
            }
        }
        let causes: BTreeMap<String, CauseLabels> = every_cause()
            .iter()
            .map(|c| (c.id(), cause_labels(c)))
            .collect();
        for l in causes.values() {
            let _ = cause_named.get_or_create(l);
            let _ = cause_runs_in_row.get_or_create(l);
        }
        for v in VERDICTS {
            let l = VerdictLabels {
                verdict: verdict_id(v),
            };
            let _ = runs.get_or_create(&l);
            let _ = last_verdict.get_or_create(&l);
        }
        for f in latency::FAMILIES {
            if let Some(family) = family_id(f) {
                let _ = latency.get_or_create(&FamilyLabels { family });
            }
        }
        Self {
            registry,
            checks,
            causes,
            check_outcome,
            check_duration,
            cause_named,
            cause_runs_in_row,
            runs,
            last_verdict,
            latency,
            run_duration,
            run_timestamp,
            health_score,
            left_behind,
            in_row: Mutex::new(HashMap::new()),
        }
    }

    /// The most series `/metrics` can hold for this plan: per check one duration and one per
    /// outcome, per cause two, per verdict two, per family one histogram (its buckets, sum
    /// and count), and the six single gauges.
    pub fn series_bound(&self) -> usize {
        let histogram = exponential_buckets(0.005, 2.0, 14).count() + 1 + 2;
        self.checks.len() * (1 + OUTCOMES.len())
            + self.causes.len() * 2
            + VERDICTS.len() * 2
            + latency::FAMILIES.len() * histogram
            + 6
    }

    /// Takes in a completed run: its report, its wall time and when it ended.
    pub fn record(&self, report: &Report, wall: std::time::Duration, ended: std::time::SystemTime) {
        for r in &report.checks {
            // A result outside the plan (an earlier run's file) adds no series.
            let Some(l) = self.checks.get(&r.key()) else {
                continue;
            };
            let now = outcome_id(&r.outcome);
            for o in OUTCOMES {
                self.check_outcome
                    .get_or_create(&outcome(l, o))
                    .set(i64::from(o == now));
            }
            self.check_duration
                .get_or_create(l)
                .set(r.duration_ms / 1e3);
            for (fam, e) in latency::platform_requests(r) {
                if let Some(family) = family_id(fam) {
                    self.latency
                        .get_or_create(&FamilyLabels { family })
                        .observe(e.latency_ms / 1e3);
                }
            }
        }
        let named: std::collections::BTreeSet<&str> =
            report.causes.iter().map(|c| c.id.as_str()).collect();
        let mut in_row = self.in_row.lock().unwrap_or_else(|p| p.into_inner());
        for (id, l) in &self.causes {
            let is = named.contains(id.as_str());
            self.cause_named.get_or_create(l).set(i64::from(is));
            let n = in_row.entry(id.clone()).or_insert(0);
            *n = if is { *n + 1 } else { 0 };
            self.cause_runs_in_row.get_or_create(l).set(*n);
        }
        for v in VERDICTS {
            let l = VerdictLabels {
                verdict: verdict_id(v),
            };
            self.last_verdict
                .get_or_create(&l)
                .set(i64::from(v == report.verdict));
        }
        self.runs
            .get_or_create(&VerdictLabels {
                verdict: verdict_id(report.verdict),
            })
            .inc();
        self.run_duration.set(wall.as_secs_f64());
        self.run_timestamp.set(unix_seconds(ended));
        self.health_score.set(report.health.overall.unwrap_or(0.0));
        let left: usize = report.checks.iter().map(|r| r.left_behind.len()).sum();
        self.left_behind.set(left as i64);
    }

    /// `/metrics`'s body (OpenMetrics text, ending `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn unix_seconds(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn outcome(l: &CheckLabels, o: &'static str) -> OutcomeLabels {
    OutcomeLabels {
        area: l.area.clone(),
        check: l.check.clone(),
        line: l.line.clone(),
        outcome: o,
    }
}

/// `/metrics`'s content type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
