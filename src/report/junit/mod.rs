//! `junit.xml`: one test suite per area, one test case per check, so CI systems show each
//! check with its message.

use super::Report;
use crate::check::Outcome;
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn render(r: &Report) -> String {
    let mut report = quick_junit::Report::new("hokusai-verify");
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for c in &r.checks {
        let status = match &c.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Skipped { reason } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(reason.as_str());
                s
            }
            Outcome::NotApplicable { reason } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("not applicable: {reason}"));
                s
            }
            Outcome::Failed | Outcome::Error { .. } | Outcome::Blocked { .. } => {
                let kind = if matches!(c.outcome, Outcome::Failed | Outcome::Blocked { .. }) {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_message(c.message.clone().unwrap_or_default());
                s.set_type(match &c.outcome {
                    Outcome::Error { class } => class.clone(),
                    Outcome::Blocked { .. } => "blocked".to_owned(),
                    _ => "contract".to_owned(),
                });
                s.set_description(c.explain());
                s
            }
        };
        let mut case = TestCase::new(c.id.as_str(), status);
        case.set_classname(format!("hokusai_verify.{}", c.area));
        case.set_time(Duration::from_secs_f64(c.duration_ms.max(0.0) / 1000.0));
        suites
            .entry(c.area.id())
            .or_insert_with(|| TestSuite::new(c.area.id()))
            .add_test_case(case);
    }
    report.add_test_suites(suites.into_values());
    report.to_string().expect("the JUnit report serialises")
}
