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
    for e in client
        .search_experiments(Some(&format!("name LIKE '{NAME_PREFIX}%'")), 1000)
        .await?
    {
        if let Some(t) = created_at(&e.name).filter(|t| *t < cutoff) {
            out.push(Leftover {
                kind: "experiment",
                name: e.name,
                id: Some(e.experiment_id),
                created: t,
            });
        }
    }
    Ok(out)
}

/// Deletes leftovers; returns what could not be deleted.
pub async fn delete(client: &MlflowClient, leftovers: &[Leftover]) -> Vec<String> {
    let mut problems = Vec::new();
    for l in leftovers {
        let r = match (l.kind, &l.id) {
            ("experiment", Some(id)) => client.delete_experiment(id).await,
            _ => client.delete_registered_model(&l.name).await,
        };
        if let Err(e) = r {
            problems.push(format!("{} {}: {e}", l.kind, l.name));
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
