//! The difference to the previous report in the same folder: what broke, what got fixed.

use super::Report;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub previous_generated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub newly_failing: Vec<String>,
    pub fixed: Vec<String>,
    pub still_failing: Vec<String>,
}

pub fn compare(previous: &Report, current: &Report) -> Delta {
    let was_bad = |k: &str| {
        previous
            .checks
            .iter()
            .any(|r| r.key() == k && r.outcome.is_bad())
    };
    let is_bad = |k: &str| {
        current
            .checks
            .iter()
            .any(|r| r.key() == k && r.outcome.is_bad())
    };
    let mut d = Delta {
        previous_generated_at: Some(previous.generated_at),
        ..Default::default()
    };
    for r in &current.checks {
        let k = r.key();
        match (was_bad(&k), is_bad(&k)) {
            (false, true) => d.newly_failing.push(k),
            (true, true) => d.still_failing.push(k),
            (true, false) if r.outcome == crate::check::Outcome::Passed => d.fixed.push(k),
            _ => {}
        }
    }
    d
}
