//! The health score.
//!
//! Per component (ALB, auth service, API, MLflow, artifacts, Redis cache, rate limiter, ECS
//! services): `100 × passed / (passed + bad)` over its checks; skipped checks do not count.
//! A bad check (failed, error, blocked) is charged to the component of its root cause, not
//! to its nominal one: an MLflow outage lowers MLflow's score, not the rate limiter's. Overall: the mean of the component scores of the components that had at
//! least one check that ran, so every part weighs the same whatever its number of checks.

use crate::check::{CheckResult, Component, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentScore {
    pub component: Component,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// 0-100, `None` when no check of the component ran.
    pub score: Option<f64>,
    /// `up`, `degraded`, `down` or `not checked` (the availability matrix).
    pub availability: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthScore {
    /// 0-100; `None` when nothing ran.
    pub overall: Option<f64>,
    pub components: Vec<ComponentScore>,
}

pub fn score(results: &[CheckResult], causes: &[super::rca::Finding]) -> HealthScore {
    let charged: BTreeMap<String, Component> = causes
        .iter()
        .flat_map(|f| f.checks.iter().map(|k| (k.clone(), f.component)))
        .collect();
    let mut by: BTreeMap<Component, (usize, usize, usize)> = BTreeMap::new();
    for r in results {
        let component = match r.outcome.is_bad() {
            true => charged.get(&r.key()).copied().unwrap_or(r.component),
            false => r.component,
        };
        let e = by.entry(component).or_default();
        match r.outcome {
            Outcome::Passed => e.0 += 1,
            Outcome::Failed | Outcome::Error { .. } | Outcome::Blocked { .. } => e.1 += 1,
            Outcome::Skipped { .. } | Outcome::NotApplicable { .. } => e.2 += 1,
        }
    }
    let components: Vec<ComponentScore> = by
        .into_iter()
        .map(|(component, (passed, failed, skipped))| {
            let ran = passed + failed;
            let score = (ran > 0).then(|| 100.0 * passed as f64 / ran as f64);
            let availability = match score {
                None => "not checked",
                Some(s) if s >= 100.0 => "up",
                Some(s) if s <= 0.0 => "down",
                Some(_) => "degraded",
            }
            .to_owned();
            ComponentScore {
                component,
                passed,
                failed,
                skipped,
                score,
                availability,
            }
        })
        .collect();
    let scored: Vec<f64> = components.iter().filter_map(|c| c.score).collect();
    let overall = (!scored.is_empty()).then(|| scored.iter().sum::<f64>() / scored.len() as f64);
    HealthScore {
        overall,
        components,
    }
}
