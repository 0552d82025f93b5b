//! Finds and removes what earlier runs left behind: registered models `hokusai-*` and
//! active experiments `hv-*` whose names carry the suite's `hv-<yyyymmddhhmmss>-` token
//! (the creation time), wherever it sits. Dry run unless told to delete.

use super::workflow::{NAME_PREFIX, delete_with_fallback};
use super::{MlflowClient, MlflowError};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Something a run left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Leftover {
    pub kind: &'static str,
    pub name: String,
    /// Experiment id (experiments only).
    pub id: Option<String>,
    pub created: DateTime<Utc>,
}

pub use super::naming::created_at;

/// Lists leftovers older than `older_than`.
pub async fn find(
    client: &MlflowClient,
    older_than: Duration,
) -> Result<Vec<Leftover>, MlflowError> {
    let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
    let mut out = Vec::new();
    for m in client
        // Every model the suite registers starts `hokusai-`; its `hv-<stamp>` token (checked
        // below) tells it from the platform's own.
        .search_registered_models("name LIKE 'hokusai-%'", 1000)
        .await?
    {
        if let Some(t) = created_at(&m.name).filter(|t| *t < cutoff) {
            out.push(Leftover {
                kind: "registered model",
                name: m.name,
                id: None,
                created: t,
            });
        }
    }
    let filter = format!("name LIKE '{NAME_PREFIX}%'");
    for e in client.search_experiments(Some(&filter), 1000).await? {
        if let Some(t) = created_at(&e.name).filter(|t| *t < cutoff) {
            out.push(Leftover {
                kind: "experiment",
                name: e.name,
                id: Some(e.experiment_id),
                created: t,
            });
        }
    }
    // Deleted experiments stay in MLflow's store (their names reserved) until `mlflow gc`;
    // the REST API cannot remove them, so they are listed, not deleted.
    if let Ok(deleted) = client
        .search_experiments_in(Some(&filter), 1000, "DELETED_ONLY")
        .await
    {
        for e in deleted {
            if let Some(t) = created_at(&e.name).filter(|t| *t < cutoff) {
                out.push(Leftover {
                    kind: SOFT_DELETED,
                    name: e.name,
                    id: Some(e.experiment_id),
                    created: t,
                });
            }
        }
    }
    Ok(out)
}

/// The kind of a deleted experiment still in MLflow's store.
pub const SOFT_DELETED: &str = "deleted experiment";

/// Deletes leftovers, a refused delete again through `direct` (MLflow's own address) when
/// there is one; returns what could not be removed, and why. Deleted experiments are not
/// touched (see [`purge_command`]).
pub async fn delete(
    client: &MlflowClient,
    direct: Option<&MlflowClient>,
    leftovers: &[Leftover],
) -> Vec<String> {
    let mut problems = Vec::new();
    for l in leftovers {
        let r = match (l.kind, &l.id) {
            (SOFT_DELETED, _) => continue,
            ("experiment", Some(id)) => {
                delete_with_fallback(client, direct, |c| c.delete_experiment(id)).await
            }
            _ => delete_with_fallback(client, direct, |c| c.delete_registered_model(&l.name)).await,
        };
        if let Err(reason) = r {
            problems.push(format!("{} {}: {reason}", l.kind, l.name));
        }
    }
    problems
}

/// Deleted experiments stay in MLflow's store (their names reserved) until `mlflow gc`, which
/// the REST API cannot do: the command that purges those among `leftovers`, if any.
pub fn purge_command(leftovers: &[Leftover]) -> Option<String> {
    let ids: Vec<&str> = leftovers
        .iter()
        .filter(|l| l.kind == SOFT_DELETED)
        .filter_map(|l| l.id.as_deref())
        .collect();
    (!ids.is_empty()).then(|| {
        format!(
            "mlflow gc --backend-store-uri <MLflow's backend store> --experiment-ids {}",
            ids.join(",")
        )
    })
}
