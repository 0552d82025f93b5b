//! The report: one shared model ([`Report`]) built from a run folder, written in several
//! formats, one folder each (`markdown/`, `json/`, `junit/`, `html/`), like Hurl's report
//! module. Root-cause rules are in [`rca`], the health score in [`score`], latency
//! percentiles in [`latency`].

pub mod delta;
pub mod html;
pub mod json;
pub mod junit;
pub mod latency;
pub mod markdown;
pub mod package;
pub mod rca;
pub mod score;
pub mod status;

use crate::check::{CheckResult, Outcome, read_run_dir};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of `report.json`'s schema (`docs/report-schema.md`); bumped on breaking changes.
pub const SCHEMA_VERSION: u32 = 2;

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed (skips aside).
    Healthy,
    /// Some checks failed, none of them blocks model registration.
    Degraded,
    /// Something blocks third parties from registering models.
    Failing,
    /// The run folder had no results.
    NoResults,
    /// The run was interrupted (SIGINT / SIGTERM): what ran passed, the rest did not run.
    Incomplete,
}

/// The file `verify` leaves in the run folder when it was interrupted (its text says how).
pub const INTERRUPTED_MARKER: &str = "interrupted";

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Healthy => "HEALTHY",
            Verdict::Degraded => "DEGRADED",
            Verdict::Failing => "FAILING",
            Verdict::NoResults => "NO RESULTS",
            Verdict::Incomplete => "INCOMPLETE",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
    /// Checks that cannot apply to this kind of target (never a failure).
    #[serde(default)]
    pub not_applicable: usize,
}

/// Everything a report says, in every format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub generated_at: chrono::DateTime<chrono::Utc>,
    pub target: String,
    pub profile: String,
    pub verdict: Verdict,
    pub counts: Counts,
    pub health: score::HealthScore,
    pub causes: Vec<rca::Finding>,
    pub unclassified: Vec<rca::Unclassified>,
    pub latency: Vec<latency::LatencyRow>,
    pub checks: Vec<CheckResult>,
    /// Catalogue checks of the areas that ran but with no result (crashed or filtered out).
    pub missing: Vec<String>,
    /// Set when not every area ran (`verify --area`, one test file):
    /// `partial: 1 of 6 areas (infra_health)`. Such a run never says "no action needed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
    /// Problems reading the run folder (half-written files, nextest failures).
    pub problems: Vec<String>,
    pub delta: Option<delta::Delta>,
    /// One row per original script (checklist 6h), when that area ran.
    #[serde(default)]
    pub scripts: Vec<ScriptRow>,
    /// Load results of the run (`perf/*.json`), when performance tests or `load` ran.
    #[serde(default)]
    pub performance: Vec<crate::load::LoadResult>,
    /// What the checks saw that is worth knowing but breaks no line of the contract.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
    /// How long the run took, and its longest check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<RunTiming>,
}

/// The run's wall time and its critical path: the longest single check. The difference is
/// what running checks beside each other could still win.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTiming {
    /// From the first check's start to the last one's end.
    pub wall_s: f64,
    /// `area/id` of the longest check.
    pub critical_path: String,
    pub critical_s: f64,
    /// Every check's duration added up (what one at a time would take).
    pub sum_s: f64,
}

impl RunTiming {
    /// From the checks' start times and durations; `None` without checks.
    pub fn of(checks: &[CheckResult]) -> Option<Self> {
        let start = checks.iter().map(|r| r.started_at).min()?;
        let end = checks
            .iter()
            .map(|r| r.started_at + chrono::Duration::milliseconds(r.duration_ms as i64))
            .max()?;
        let longest = checks
            .iter()
            .max_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms))?;
        Some(Self {
            wall_s: (end - start).num_milliseconds() as f64 / 1e3,
            critical_path: longest.key(),
            critical_s: longest.duration_ms / 1e3,
            sum_s: checks.iter().map(|r| r.duration_ms).sum::<f64>() / 1e3,
        })
    }

    /// `wall time 12.3 s; critical path registration_flow/x 9.8 s (the longest check), 2.5 s
    /// beyond it; one at a time: 40.1 s`.
    pub fn line(&self) -> String {
        format!(
            "wall time {:.1} s; critical path {} {:.1} s (the longest check), {:.1} s beyond it; one at a time: {:.1} s",
            self.wall_s,
            self.critical_path,
            self.critical_s,
            (self.wall_s - self.critical_s).max(0.0),
            self.sum_s
        )
    }
}

/// A security observation: not a failure (the contract allows it), worth a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub id: String,
    pub title: String,
    pub detail: String,
    /// `area/id` of the checks that saw it.
    pub checks: Vec<String>,
}

/// The observations of `checks`, from their typed symptoms.
fn observations(checks: &[CheckResult]) -> Vec<Observation> {
    let mut out: Vec<Observation> = Vec::new();
    for r in checks {
        for s in r
            .symptoms
            .iter()
            .chain(r.evidence.iter().flat_map(|e| &e.symptoms))
        {
            let crate::check::Symptom::KeysAtRestInPlainText { pattern } = s else {
                continue;
            };
            let check = format!("{}/{}", r.area, r.id);
            match out.iter_mut().find(|o| o.id == "keys-at-rest") {
                Some(o) if !o.checks.contains(&check) => o.checks.push(check),
                Some(_) => {}
                None => out.push(Observation {
                    id: "keys-at-rest".into(),
                    title: "API keys are stored in plain text in Redis key names".into(),
                    detail: format!(
                        "The auth cache names its entries `{pattern}`: anybody who can list the cache's keys (`SCAN`, a snapshot, a replica) reads every recently used API key. Consider naming entries by a hash of the key (for example `api_key:validation:sha256:<hash>`) and restricting who can reach Redis."
                    ),
                    checks: vec![check],
                }),
            }
        }
    }
    out
}

/// The result of one original script's check, as the old `test_execution_summary.json` had
/// it, but honest: it can fail, and it says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptRow {
    pub script: String,
    pub passed: bool,
    pub outcome: String,
    pub requests: usize,
    pub duration_ms: f64,
    pub message: String,
}

/// `(as expected, sent)`: one family's requests in one matrix column.
pub type Tally = (usize, usize);

/// The route matrix drawn compactly (checklist area 4): rows are endpoint families, columns
/// are the matrix checks (spelling and role), a cell is how many of the family's requests
/// answered as expected; every failing cell is listed in full below it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatrixView {
    /// The MLflow release the cells hold to.
    pub release: String,
    /// Column names (`proxy-api:no-key`), in the report's check order.
    pub columns: Vec<String>,
    /// Per family: one `(as expected, sent)` per column, or none where the column has no
    /// request of that family (the read-only key is only sent to writes) or did not run to
    /// its cells (blocked).
    pub rows: Vec<(String, Vec<Option<Tally>>)>,
    /// (column, cell) for every cell that answered otherwise.
    pub failing: Vec<(String, crate::check::MatrixCell)>,
}

impl Report {
    /// The route matrix of this run, when its checks ran.
    pub fn route_matrix(&self) -> Option<RouteMatrixView> {
        let columns: Vec<&crate::check::MatrixColumn> = self
            .checks
            .iter()
            .filter_map(|c| c.matrix.as_ref())
            .collect();
        let first = columns.first()?;
        let families: std::collections::BTreeSet<&String> =
            columns.iter().flat_map(|c| c.families.keys()).collect();
        Some(RouteMatrixView {
            release: first.release.clone(),
            columns: columns.iter().map(|c| c.column.clone()).collect(),
            rows: families
                .into_iter()
                .map(|f| {
                    (
                        f.clone(),
                        columns.iter().map(|c| c.families.get(f).copied()).collect(),
                    )
                })
                .collect(),
            failing: columns
                .iter()
                .flat_map(|c| {
                    c.failing
                        .iter()
                        .map(|cell| (c.column.clone(), cell.clone()))
                })
                .collect(),
        })
    }

    /// Builds the report from results (and what was wrong with reading them).
    pub fn build(mut checks: Vec<CheckResult>, mut problems: Vec<String>) -> Self {
        checks.sort_by_key(|r| (r.area, r.id.clone()));
        let count = |f: fn(&Outcome) -> bool| checks.iter().filter(|r| f(&r.outcome)).count();
        let counts = Counts {
            total: checks.len(),
            passed: count(|o| *o == Outcome::Passed),
            failed: count(|o| *o == Outcome::Failed),
            errors: count(|o| matches!(o, Outcome::Error { .. })),
            skipped: count(|o| matches!(o, Outcome::Skipped { .. })),
            not_applicable: count(|o| matches!(o, Outcome::NotApplicable { .. })),
        };
        let (causes, unclassified) = rca::analyse(&checks);
        let timing = RunTiming::of(&checks);
        let observations = observations(&checks);
        let verdict = if checks.is_empty() {
            Verdict::NoResults
        } else if count(Outcome::is_bad) == 0 && causes.is_empty() {
            // Blocked checks count: a run whose checks could not reach their assertions is
            // not a healthy one.
            Verdict::Healthy
        } else if causes.iter().any(|c| c.blocks_registration) || !unclassified.is_empty() {
            Verdict::Failing
        } else {
            Verdict::Degraded
        };
        let first = checks.first();
        let target = first.map_or("unknown".into(), |r| r.target.clone());
        let profile = first.map_or("unknown".into(), |r| r.profile.clone());
        let missing = Vec::new();
        if checks
            .iter()
            .any(|r| r.target != target || r.profile != profile)
        {
            problems.push("the run folder mixes results of different targets or profiles".into());
        }
        Report {
            schema_version: SCHEMA_VERSION,
            generated_at: chrono::Utc::now(),
            target,
            profile,
            verdict,
            counts,
            health: score::score(&checks, &causes),
            causes,
            unclassified,
            latency: latency::by_family(&checks),
            checks,
            missing,
            partial: None,
            problems,
            delta: None,
            scripts: Vec::new(),
            performance: Vec::new(),
            timing,
            observations,
        }
        .with_scripts()
        .with_scope(std::iter::empty())
    }

    /// Says whether the areas that ran (results, plus `planned` ones) are only some of them.
    fn with_scope(mut self, planned: impl Iterator<Item = crate::catalogue::Area>) -> Self {
        use crate::catalogue::Area;
        let ran: std::collections::BTreeSet<Area> =
            self.checks.iter().map(|r| r.area).chain(planned).collect();
        let total = Area::all().count();
        self.partial = (!ran.is_empty() && ran.len() < total).then(|| {
            format!(
                "partial: {} of {total} areas ({})",
                ran.len(),
                ran.iter().map(|a| a.id()).collect::<Vec<_>>().join(", ")
            )
        });
        self
    }

    /// Every planned check passed and every area ran: nothing left to look at.
    pub fn all_clear(&self) -> bool {
        self.verdict == Verdict::Healthy
            && self.partial.is_none()
            && self.missing.is_empty()
            && self.problems.is_empty()
    }

    fn with_scripts(mut self) -> Self {
        self.scripts = self
            .checks
            .iter()
            .filter(|r| r.area == crate::checks::script_parity::AREA)
            .map(|r| ScriptRow {
                script: format!("{}.py", r.id),
                passed: r.outcome == Outcome::Passed,
                outcome: r.outcome.label().to_owned(),
                requests: r.evidence.len(),
                duration_ms: r.duration_ms,
                message: r.message.clone().unwrap_or_default(),
            })
            .collect();
        self
    }

    /// Reads a run folder (and nextest's JUnit, when given) into a report.
    pub fn from_run_dir(run_dir: &Path, nextest_junit: Option<&Path>) -> Self {
        let (results, mut problems) = read_run_dir(run_dir);
        if let Some(j) = nextest_junit {
            problems.extend(nextest_failures(j));
        }
        let perf_files = crate::check::json_files_in(&run_dir.join("perf"));
        let (performance, unreadable) = crate::check::read_json_files(perf_files);
        problems.extend(unreadable);
        let interrupted = std::fs::read_to_string(run_dir.join(INTERRUPTED_MARKER)).ok();
        if let Some(how) = &interrupted {
            problems.push(format!(
                "the run was interrupted ({}): checks after that did not run",
                how.trim()
            ));
        }
        let (plans, unreadable) = crate::check::plan::read_plans(run_dir);
        problems.extend(unreadable);
        let mut report = Self::build(results, problems);
        report.missing = missing_checks(&report.checks, &plans);
        report = report.with_scope(plans.iter().map(|p| p.area));
        report.performance = performance;
        if interrupted.is_some() && report.verdict == Verdict::Healthy {
            report.verdict = Verdict::Incomplete;
        }
        report
    }

    /// Failures (failed or error).
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|r| r.outcome.is_bad())
    }
}

/// Checks the run folder's plan lists without a result (none without a plan).
fn missing_checks(checks: &[CheckResult], plans: &[crate::check::plan::Plan]) -> Vec<String> {
    let recorded: std::collections::BTreeSet<String> = checks.iter().map(|r| r.key()).collect();
    let mut missing: Vec<String> = plans
        .iter()
        .flat_map(|p| p.keys())
        .filter(|k| !recorded.contains(k))
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// Test cases nextest's JUnit reports as failed (suite defects or crashes the results do
/// not show).
fn nextest_failures(path: &Path) -> Vec<String> {
    let Ok(xml) = std::fs::read_to_string(path) else {
        return vec![format!("nextest JUnit {} not readable", path.display())];
    };
    let junit = match quick_junit::Report::deserialize_from_str(&xml) {
        Ok(r) => r,
        Err(e) => {
            return vec![format!(
                "nextest JUnit {} not readable: {e}",
                path.display()
            )];
        }
    };
    junit
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter().map(move |c| (s, c)))
        .filter(|(_, c)| matches!(c.status, quick_junit::TestCaseStatus::NonSuccess { .. }))
        .map(|(s, c)| {
            let class = c.classname.as_ref().unwrap_or(&s.name);
            format!("nextest: {} {} failed", class.as_str(), c.name.as_str())
        })
        .collect()
}

/// The files `write_all` produced.
#[derive(Debug, Clone)]
pub struct Written {
    pub files: Vec<PathBuf>,
}

/// Writes every format into `out_dir` (and computes the delta against a `report.json`
/// already there, which becomes `report.previous.json`). Every file is redacted.
pub fn write_all(report: &mut Report, out_dir: &Path) -> std::io::Result<Written> {
    std::fs::create_dir_all(out_dir)?;
    let current = out_dir.join("report.json");
    if let Ok(text) = std::fs::read_to_string(&current) {
        if let Ok(previous) = serde_json::from_str::<Report>(&text) {
            report.delta = Some(delta::compare(&previous, report));
        }
        std::fs::write(out_dir.join("report.previous.json"), text)?;
    }
    let outputs: [(&str, String); 5] = [
        ("report.md", markdown::report(report)),
        (
            "infrastructure-issues.md",
            markdown::infrastructure_issues(report),
        ),
        ("report.json", json::render(report)),
        ("junit.xml", junit::render(report)),
        ("report.html", html::render(report)),
    ];
    let mut files = Vec::new();
    for (name, body) in outputs {
        let path = out_dir.join(name);
        std::fs::write(&path, crate::secret::redact(&body))?;
        files.push(path);
    }
    Ok(Written { files })
}

#[cfg(test)]
mod tests {
    /// nextest's JUnit, as it writes it: failed and errored cases are listed, passed and
    /// skipped ones are not; an unreadable file says so instead of listing nothing.
    #[test]
    fn nextest_failures_are_read_from_junit() {
        let dir = std::env::temp_dir().join(format!("hv-junit-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("junit.xml");
        std::fs::write(
            &path,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="4" failures="1" errors="1">
  <testsuite name="hokusai-verify::authentication" tests="4" failures="1" errors="1">
    <testcase name="ok_case" classname="hokusai-verify::authentication" time="0.1"/>
    <testcase name="bad_case" classname="hokusai-verify::authentication" time="0.2">
      <failure type="test failure">assertion failed</failure>
    </testcase>
    <testcase name="crash" classname="hokusai-verify::authentication" time="0.3">
      <error type="crash">SIGSEGV</error>
    </testcase>
    <testcase name="skipped_case" classname="hokusai-verify::authentication" time="0">
      <skipped/>
    </testcase>
  </testsuite>
</testsuites>"#,
        )
        .unwrap();
        let found = super::nextest_failures(&path);
        assert_eq!(
            found,
            vec![
                "nextest: hokusai-verify::authentication bad_case failed",
                "nextest: hokusai-verify::authentication crash failed",
            ]
        );
        std::fs::write(&path, "not xml <").unwrap();
        let found = super::nextest_failures(&path);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("not readable"), "{found:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
