//! Finds and removes what earlier runs left behind: registered models `hokusai-*` and
//! active experiments `hv-*` whose names carry the suite's `hv-<yyyymmddhhmmss>-` token
//! (the creation time), wherever it sits. Dry run unless told to delete.

use super::workflow::NAME_PREFIX;
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

/// Deletes leftovers, a refused delete of a model again through `direct` (MLflow's own
/// address) when there is one; returns what could not be removed, and why.
pub async fn delete(
    client: &MlflowClient,
    direct: Option<&MlflowClient>,
    leftovers: &[Leftover],
) -> Vec<String> {
    let mut problems = Vec::new();
    for l in leftovers {
        let r = match (l.kind, &l.id) {
            (SOFT_DELETED, _) => {
                problems.push(format!(
                    "{} {}: MLflow's REST API cannot remove a deleted experiment; run `mlflow gc --experiment-ids {}` against its backend store",
                    l.kind,
                    l.name,
                    l.id.as_deref().unwrap_or("?")
                ));
                continue;
            }
            ("experiment", Some(id)) => client.delete_experiment(id).await,
            _ => match client.delete_registered_model(&l.name).await {
                Err(e) if !e.is("RESOURCE_DOES_NOT_EXIST") => match direct {
                    Some(d) => d
                        .delete_registered_model(&l.name)
                        .await
                        .map_err(|d| MlflowError {
                            message: format!("{}; through HOKUSAI_MLFLOW_URL: {d}", e.message),
                            ..e
                        }),
                    None => Err(MlflowError {
                        message: format!(
                            "{}; set HOKUSAI_MLFLOW_URL (MLflow's internal address) to delete past the proxy",
                            e.message
                        ),
                        ..e
                    }),
                },
                other => other,
            },
        };
        match r {
            Ok(()) => {}
            Err(e) if e.is("RESOURCE_DOES_NOT_EXIST") => {}
            Err(e) => problems.push(format!("{} {}: {e}", l.kind, l.name)),
        }
    }
    problems
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
