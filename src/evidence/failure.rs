//! Why a check did not pass ([`Failure`]), and the small helpers checks assert with.

use super::{Line, Symptom};
use crate::http::HttpError;
use std::fmt::Debug;

/// Why a check did not pass.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The platform answered against the contract; `symptom` is what the assertion found,
    /// typed, when it is more than the shape of the answers recorded as evidence.
    Failed {
        expected: String,
        actual: String,
        symptom: Option<Symptom>,
        /// The contract line this assertion verifies, when the check verifies several.
        line: Option<Line>,
    },
    /// A step before the check's own assertion failed (a precondition, an earlier call): the
    /// check's line was not verified; the step's own failure says why.
    Blocked {
        step: String,
        inner: Box<Failure>,
        /// The contract line the blocking step verifies, when it is another check's line
        /// (the report then names that line, not the blocked check's own).
        line: Option<Line>,
    },
    /// The check cannot run here; the reason is shown (and fails in strict mode).
    Skipped(String),
    /// The check cannot apply to this kind of target (never fails a gate).
    NotApplicable(String),
    /// No usable answer (unreachable, timeout, broken response).
    Transport(HttpError),
    /// Something else went wrong on the way (Redis, ECS API, an unparseable answer).
    Error { class: String, message: String },
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Self {
        Failure::Transport(e)
    }
}

impl Failure {
    pub fn failed(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Failure::Failed {
            expected: expected.into(),
            actual: actual.into(),
            symptom: None,
            line: None,
        }
    }
    /// The assertion that failed verifies `line` (for checks that verify several lines).
    pub fn on_line(self, l: Line) -> Self {
        match self {
            Failure::Failed {
                expected,
                actual,
                symptom,
                ..
            } => Failure::Failed {
                expected,
                actual,
                symptom,
                line: Some(l),
            },
            other => other,
        }
    }
    /// Names what the failing assertion found, as a typed symptom.
    pub fn symptom(self, s: Symptom) -> Self {
        match self {
            Failure::Failed {
                expected,
                actual,
                line,
                ..
            } => Failure::Failed {
                expected,
                actual,
                symptom: Some(s),
                line,
            },
            other => other,
        }
    }
    /// This failure happened at `step`, before the check's own assertion.
    pub fn blocked(self, step: impl Into<String>) -> Self {
        match self {
            Failure::Skipped(_) | Failure::NotApplicable(_) | Failure::Blocked { .. } => self,
            inner => Failure::Blocked {
                step: step.into(),
                inner: Box::new(inner),
                line: None,
            },
        }
    }
    /// Blocked at `step`, a step that verifies contract line `l` (for example the
    /// registration workflow, which checks of the registered model need first).
    pub fn blocked_on(self, step: impl Into<String>, l: Line) -> Self {
        match self.blocked(step) {
            Failure::Blocked { step, inner, .. } => Failure::Blocked {
                step,
                inner,
                line: Some(l),
            },
            other => other,
        }
    }
    /// The typed symptoms the failure itself carries (the blocking step's, for a block).
    pub fn symptoms(&self) -> Vec<Symptom> {
        match self {
            Failure::Failed {
                symptom: Some(s), ..
            } => vec![s.clone()],
            Failure::Blocked { inner, .. } => inner.symptoms(),
            _ => Vec::new(),
        }
    }
    pub fn skipped(reason: impl Into<String>) -> Self {
        Failure::Skipped(reason.into())
    }
    /// The check cannot apply to this kind of target (the reason says why).
    pub fn not_applicable(reason: impl Into<String>) -> Self {
        Failure::NotApplicable(reason.into())
    }
    pub fn error(class: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Failure::Error {
            class: class.into(),
            message: crate::secret::redact(&message.to_string()),
        }
    }
}

/// Marks a step of a check as a precondition: its failure blocks the check.
pub trait ResultExt<T> {
    /// `Err` becomes [`Failure::Blocked`] at `step`.
    fn pre(self, step: &str) -> Result<T, Failure>;
    /// `Err` becomes [`Failure::Blocked`] at `step`, a step that verifies contract line `l`
    /// (the report lists the check under that line's cause when no symptom names another).
    fn pre_on(self, step: &str, l: Line) -> Result<T, Failure>;
}

impl<T, E: Into<Failure>> ResultExt<T> for Result<T, E> {
    fn pre(self, step: &str) -> Result<T, Failure> {
        self.map_err(|e| e.into().blocked(step))
    }
    fn pre_on(self, step: &str, l: Line) -> Result<T, Failure> {
        self.map_err(|e| e.into().blocked_on(step, l))
    }
}

/// `Err(Failed)` unless `cond`.
pub fn ensure(
    cond: bool,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> Result<(), Failure> {
    if cond {
        Ok(())
    } else {
        Err(Failure::failed(expected, actual))
    }
}

/// `Err(Failed)` unless `actual == expected`, with both in the message.
pub fn ensure_eq<T: PartialEq + Debug>(what: &str, actual: T, expected: T) -> Result<(), Failure> {
    ensure(
        actual == expected,
        format!("{what} = {expected:?}"),
        format!("{what} = {actual:?}"),
    )
}
