//! Clean-up owned by the runner: a check records what it creates in the registry
//! ([`Check::created`]); after the check body, whichever way it ended (an assertion, `?`, a
//! panic, the run budget), the runner deletes it all and a refused clean-up becomes a
//! finding of its own.

use super::{Check, Failure, Symptom};
use crate::mlflow::MlflowClient;
use crate::mlflow::workflow::Created;
use std::time::Duration;

/// The longest the runner spends deleting one check's objects after its body (a dead
/// registry fails fast through the client's dead-host memory; this bounds a slow one).
pub const CLEANUP_BOUND: Duration = Duration::from_secs(30);

impl Check {
    /// A record of what the check creates through `client`; the runner deletes everything
    /// in it after the check body.
    pub fn created(&mut self, client: &MlflowClient) -> Created {
        let created = Created::default();
        self.cleanups.push((client.clone(), created.clone()));
        created
    }

    /// Deletes what the check recorded and folds a refused clean-up into `verdict`.
    pub(super) async fn teardown(&mut self, verdict: Result<(), Failure>) -> Result<(), Failure> {
        if self.cleanups.is_empty() {
            return verdict;
        }
        let mut problems = Vec::new();
        let work = async {
            for (client, created) in std::mem::take(&mut self.cleanups) {
                problems.extend(created.cleanup(&client).await);
            }
        };
        if tokio::time::timeout(CLEANUP_BOUND, work).await.is_err() {
            problems.push(format!(
                "clean-up did not finish within {}",
                humantime::format_duration(CLEANUP_BOUND)
            ));
        }
        self.measure("cleanup_problems", problems.len() as f64);
        combine(verdict, &problems)
    }
}

/// The check's verdict with the clean-up's problems: a clean-up failure is a finding of its
/// own when the check passed, and an echo of the check's own failure otherwise.
fn combine(verdict: Result<(), Failure>, problems: &[String]) -> Result<(), Failure> {
    let refused = Symptom::CleanupRefused {
        what: "objects the check created".into(),
        status: None,
    };
    match (verdict, problems.is_empty()) {
        (Ok(()), true) => Ok(()),
        (Ok(()), false) => Err(Failure::failed(
            "clean-up of everything the check created",
            format!("left behind: {}", problems.join("; ")),
        )
        .symptom(refused)),
        (Err(e), true) => Err(e),
        (
            Err(Failure::Failed {
                expected,
                actual,
                symptom,
                line,
            }),
            false,
        ) => Err(Failure::Failed {
            line,
            expected,
            actual: format!(
                "{actual} (and clean-up left behind: {})",
                problems.join("; ")
            ),
            // The check's own failure names the cause; the refused clean-up is its echo.
            symptom,
        }),
        (Err(e), false) => Err(e),
    }
}
