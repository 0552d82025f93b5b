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

    /// Records what clean-up could not remove (listed in the report with its command).
    pub fn left_behind(&mut self, left: Vec<crate::mlflow::workflow::LeftBehind>) {
        self.left.extend(left);
    }

    /// Deletes what the check recorded and folds a refused clean-up into `verdict`.
    pub(super) async fn teardown(&mut self, verdict: Result<(), Failure>) -> Result<(), Failure> {
        if self.cleanups.is_empty() {
            return verdict;
        }
        let mut problems = Vec::new();
        // MLflow's own address, when configured: the fallback for deletes the proxy refuses.
        let direct = self.env.config.mlflow_url.as_ref().map(|u| {
            MlflowClient::direct(
                self.env.http.clone(),
                u.clone(),
                crate::mlflow::ApiPrefix::Api,
            )
            .recording(self.sink())
        });
        let mut left = Vec::new();
        let work = async {
            for (client, created) in std::mem::take(&mut self.cleanups) {
                left.extend(created.cleanup(&client, direct.as_ref()).await);
            }
        };
        let timed_out = tokio::time::timeout(CLEANUP_BOUND, work).await.is_err();
        problems.extend(left.iter().map(ToString::to_string));
        self.left_behind(left);
        if timed_out {
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
