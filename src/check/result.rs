use crate::evidence::{Component, Evidence, Line, Symptom};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Set when this result is of a second run, alone: the first, beside other checks, timed
    /// out (the runner then ran the rest one at a time and this check again at the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<Rerun>,
    /// A column of the route matrix (`mlflow_proxy/route_matrix[…]`): its cells by endpoint
    /// family, and the cells that answered otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixColumn>,
}

/// One column of the route matrix: a spelling and a role, over every endpoint of the
/// release (the report draws the columns side by side).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MatrixColumn {
    /// `proxy-api:no-key`.
    pub column: String,
    /// The MLflow release whose endpoints and answers the cells hold to.
    pub release: String,
    /// Per endpoint family (`experiments`, `registered-models`, `mlflow-artifacts`, …): the
    /// cells that answered as expected, and all of them.
    pub families: BTreeMap<String, (usize, usize)>,
    /// Every cell that answered otherwise.
    pub failing: Vec<MatrixCell>,
}

/// A cell that answered otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixCell {
    pub family: String,
    /// `POST /api/mlflow/api/2.0/mlflow/experiments/create`.
    pub request: String,
    pub status: u16,
    /// What the cell must get (`401`, `400 INVALID_PARAMETER_VALUE`, `403 FORBIDDEN`).
    pub want: String,
}

/// What the first run of a re-run check saw (see [`CheckResult::rerun`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rerun {
    /// The first run's outcome (`ERROR`, `BLOCKED`, ...).
    pub first_outcome: String,
    /// The routes that timed out in the first run (`registry GET /health`).
    pub timed_out: Vec<String>,
    /// How many other checks ran beside it then.
    pub beside: usize,
}

impl CheckResult {
    /// The routes this result saw time out on a host that answered other requests.
    pub fn timed_out_routes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let seen = self
            .evidence
            .iter()
            .filter(|e| !e.injected)
            .flat_map(|e| &e.symptoms)
            .chain(&self.symptoms);
        for s in seen {
            if let Symptom::RouteTimedOut { host, route } = s {
                let r = format!("{host} {route}");
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
    }
}

impl CheckResult {
    /// `area/id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.area, self.id)
    }

    /// A multi-line explanation for a test failure or the console, without secrets.
    pub fn explain(&self) -> String {
        let mut s = format!("[{}] {} — {}", self.outcome.label(), self.key(), self.title);
        // The message, without what only repeats expected and actual (shown below).
        let message = match (&self.message, &self.expected, &self.actual) {
            (Some(m), Some(e), Some(a)) => {
                let both = format!("expected {e}, got {a}");
                match m.strip_suffix(&both) {
                    Some("") => None,
                    Some(head) => Some(head.trim_end_matches([':', ' ']).to_owned()),
                    None => Some(m.replacen(&both, "(below)", 1)),
                }
            }
            (m, _, _) => m.clone(),
        };
        if let Some(m) = message.filter(|m| !m.is_empty()) {
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
