//! Clean-up owned by the runner: a check records what it creates in the registry
//! ([`Check::created`]); after the check body, whichever way it ended (an assertion, `?`, a
//! panic, the run budget), the runner deletes it all. What stays is reported once for the
//! run, under the `nothing-left-behind` line; it never changes the check's own verdict
//! ([`super::verdict`]).

use super::Check;
use super::verdict::Cleanup;
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

    /// Deletes what the check recorded, within [`CLEANUP_BOUND`]; returns what stayed.
    pub(super) async fn teardown(&mut self) -> Cleanup {
        if self.cleanups.is_empty() {
            return Cleanup::default();
        }
        // MLflow's own address, when configured: the fallback for deletes the proxy refuses.
        let direct = self
            .env
            .cleanup_clients()
            .1
            .map(|d| d.recording(self.sink()));
        let cleanups = std::mem::take(&mut self.cleanups);
        // What may remain if the bound cuts the clean-up short: everything recorded.
        let recorded: Vec<_> = cleanups
            .iter()
            .flat_map(|(_, c)| c.pending("clean-up did not finish within its bound"))
            .collect();
        let mut left = Vec::new();
        let work = async {
            for (client, created) in cleanups {
                left.extend(created.cleanup(&client, direct.as_ref()).await);
            }
        };
        let timed_out = tokio::time::timeout(CLEANUP_BOUND, work).await.is_err();
        if timed_out {
            left = recorded;
        }
        self.measure("cleanup_problems", left.len() as f64);
        Cleanup { left, timed_out }
    }
}
