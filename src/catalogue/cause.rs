//! What a report can name as a root cause: a fault of the catalogue, a broken contract line,
//! or one of the few causes the rules name from a symptom of their own that no single fault
//! or line owns.

use super::{Fault, Line};
use std::fmt;

/// A cause the report can name. Its id is what reports, metrics and tests use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// A row of `faults.md`.
    Fault(Fault),
    /// A line of the contract, broken.
    Line(Line),
    /// A host of the platform gives no answer at all.
    Unreachable,
    /// One route of a host answers too slowly while the others answer.
    SlowRoute,
    /// The run's time budget ran out.
    RunBudget,
    /// The API answers nothing else while it serves a slow request.
    BlocksWhileServing,
    /// Failures on several contract lines share one answer (same host, status and body
    /// shape) that no catalogued fault explains: one unknown defect, not one per line.
    SharedSymptom,
}

impl Cause {
    /// `mlflow-down`, `contract:delete-bodies`, `unreachable`, ...
    pub fn id(self) -> String {
        match self {
            Cause::Fault(f) => f.id().to_owned(),
            Cause::Line(l) => l.id(),
            Cause::Unreachable => "unreachable".into(),
            Cause::SlowRoute => "slow-route".into(),
            Cause::RunBudget => "run-budget".into(),
            Cause::BlocksWhileServing => "api-blocks-while-serving".into(),
            Cause::SharedSymptom => "shared-symptom".into(),
        }
    }

    /// The cause with this id.
    pub fn parse(id: &str) -> Option<Cause> {
        if let Some(l) = id.strip_prefix("contract:") {
            return l.parse::<Line>().ok().map(Cause::Line);
        }
        if let Ok(f) = id.parse::<Fault>() {
            return Some(Cause::Fault(f));
        }
        [
            Cause::Unreachable,
            Cause::SlowRoute,
            Cause::RunBudget,
            Cause::BlocksWhileServing,
            Cause::SharedSymptom,
        ]
        .into_iter()
        .find(|c| c.id() == id)
    }

    /// A cause that is the consequence of another (the suite's own budget, a slow route that
    /// a slow dependency explains): never ranked above a cause named from a dependency's
    /// own symptom.
    pub fn is_consequence(self) -> bool {
        matches!(
            self,
            Cause::SlowRoute | Cause::RunBudget | Cause::BlocksWhileServing
        )
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_back() {
        let mut all: Vec<Cause> = Fault::all().into_iter().map(Cause::Fault).collect();
        all.extend(<Line as strum::IntoEnumIterator>::iter().map(Cause::Line));
        all.extend([
            Cause::Unreachable,
            Cause::SlowRoute,
            Cause::RunBudget,
            Cause::BlocksWhileServing,
            Cause::SharedSymptom,
        ]);
        for c in all {
            assert_eq!(Cause::parse(&c.id()), Some(c), "{c}");
        }
        assert_eq!(Cause::parse("contract:no-such-line"), None);
    }
}
