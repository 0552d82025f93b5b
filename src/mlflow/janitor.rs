//! Finds and removes what earlier runs left behind: registered models `hokusai-*` and
//! active experiments `hv-*` whose names carry the suite's `hv-<yyyymmddhhmmss>-` token
//! (the creation time), wherever it sits. Dry run unless told to delete.

use super::workflow::{NAME_PREFIX, delete_with_fallback};
use super::{MlflowClient, MlflowError};
use chrono::{DateTime, NaiveDateTime, Utc};
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

/// When a suite-made name says it was created: its `hv-<yyyymmddhhmmss>-` token, wherever
/// it sits (`hv-20261126065301-...`, `hokusai-hv-...`, and the script-parity names
/// `hokusai-test-model-registration-hv-...`). `None` for a name the suite did not make.
pub fn created_at(name: &str) -> Option<DateTime<Utc>> {
    name.match_indices(NAME_PREFIX)
        .filter(|(i, _)| *i == 0 || name.as_bytes()[i - 1] == b'-')
        .find_map(|(i, _)| {
            let stamp = name.get(i + NAME_PREFIX.len()..i + NAME_PREFIX.len() + 14)?;
            NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_creation_time() {
        assert!(
            created_at("hokusai-test-model-registration-hv-20261126065301-abcd-simple").is_some(),
            "the script-parity names"
        );
        assert!(created_at("hokusai-production-model").is_none());
        assert!(created_at("hokusai-archv-20261126065301-x").is_none());
        let t = created_at("hokusai-hv-20261126065301-abcd-flow").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-26T06:53:01+00:00");
        assert!(created_at("hv-20261126065301-abcd-exp").is_some());
        assert!(created_at("hokusai-customer-model").is_none());
        let fresh = crate::mlflow::workflow::unique_token("x");
        assert!(created_at(&fresh).is_some_and(|t| (Utc::now() - t).num_seconds() < 5));
    }
}
